"""`Tensor`: a NumPy array that remembers how it was computed.

    x = sg.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    y = (x * x).sum()        # records Mul -> Sum
    y.backward()             # x.grad == 2 * x

float32 is the default floating dtype (float64 on request). Python scalars in
arithmetic take the tensor's dtype, so `x * 0.5` stays float32.
"""
from __future__ import annotations

import numpy as np

from .autograd import function as _function_module
from .autograd.function import is_grad_enabled

DEFAULT_DTYPE = np.float32
_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed scratchgrad's global random generator (randn, rand, dropout, init)."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    return _rng


def _to_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if isinstance(data, (np.ndarray, np.generic)):
        return arr  # NumPy data keeps its dtype
    if arr.dtype == np.float64:
        arr = arr.astype(DEFAULT_DTYPE)  # Python floats and lists -> float32
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    return arr


def as_tensor(x, like: "Tensor | None" = None) -> "Tensor":
    """Wrap `x`; a scalar (Python, NumPy or 0-d array) takes `like`'s floating dtype, so
    `x * 0.5` and `x * np.float64(0.5)` stay float32 (PyTorch's rule for scalars)."""
    if isinstance(x, Tensor):
        return x
    if (like is not None and like.data.dtype.kind == "f" and np.ndim(x) == 0
            and np.asarray(x).dtype.kind in "biuf"):
        return Tensor(np.asarray(x, dtype=like.data.dtype))
    return Tensor(_to_array(x))


class Tensor:
    """A node of the computational graph. Shape rules follow NumPy/PyTorch broadcasting."""

    __slots__ = ("data", "requires_grad", "grad", "creator", "output_nr", "_vc", "_hooks",
                 "_retains_grad", "name", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor -> Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = data if (isinstance(data, np.ndarray) and dtype is None) else _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating tensors can require gradients (got {self.data.dtype})")
        self.requires_grad = requires_grad
        self.grad = None
        self.creator = None
        self.output_nr = 0
        self._vc = [0]  # version counter, shared with views and detach()ed copies
        self._hooks = ()
        self._retains_grad = False
        self.name = name

    @classmethod
    def _wrap(cls, data) -> "Tensor":
        """A fresh graph-less Tensor around an op's result (the fast path of every op)."""
        t = object.__new__(cls)
        t.data = data if type(data) is np.ndarray else np.asarray(data)  # NumPy scalars keep their dtype
        t.requires_grad = False
        t.grad = t.creator = t.name = None
        t.output_nr = 0
        t._vc = [0]
        t._hooks = ()
        t._retains_grad = False
        return t

    # ---- basic properties -------------------------------------------------
    @property
    def _version(self) -> int:
        """Bumped by every in-place change; backward checks saved tensors against it."""
        return self._vc[0]

    @_version.setter
    def _version(self, value: int):
        self._vc[0] = value

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size_(self):
        return self.data.size

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    @property
    def is_leaf(self):
        return self.creator is None

    @property
    def grad_fn(self):
        return self.creator

    @property
    def T(self):
        return self.transpose() if self.ndim > 1 else self

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}" if self.dtype not in (np.float32, np.int64, np.bool_) else ""
        if self.creator is not None:
            extra += f", grad_fn=<{self.creator.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __hash__(self):
        return id(self)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __index__(self):
        return int(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # ---- conversion ---------------------------------------------------------
    def item(self):
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """Same data (no copy), cut from the graph; shares the version counter."""
        t = Tensor(self.data)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        self.creator, self.requires_grad = None, False
        return self

    def clone(self) -> "Tensor":
        from .ops.arithmetic import clone
        return clone(self)

    def astype(self, dtype) -> "Tensor":
        from .ops.arithmetic import cast
        return cast(self, dtype)

    to = astype

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return Tensor(self.data.astype(np.int64))

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if self.creator is not None and not flag:
            raise RuntimeError("requires_grad_(False) is only for leaf tensors; use detach()")
        if flag and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating tensors can require gradients (got {self.data.dtype})")
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retains_grad = True

    def register_hook(self, hook):
        """`hook(grad) -> Tensor or None` runs on this tensor's gradient during backward.

        On a non-leaf the hooks are kept by the Function that made the tensor, so they run
        even if the tensor object itself is gone by the time backward reaches it."""
        self._hooks = self._hooks + (hook,)
        if self.creator is not None:
            self.creator.__dict__.setdefault("output_hooks", {})[self.output_nr] = self._hooks
        return hook

    # ---- autograd -----------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`. Frees the graph unless retain_graph."""
        from .autograd.engine import run_backward
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (shape {self.shape}); "
                                   "pass backward(grad) with the same shape")
            grad = Tensor(np.ones_like(self.data))
        else:
            grad = as_tensor(grad, like=self)
            if grad.dtype != self.dtype:
                grad = Tensor(grad.data.astype(self.dtype))
            if grad.shape != self.shape:
                raise RuntimeError(f"backward: grad of shape {grad.shape} does not match tensor of shape {self.shape}")
        run_backward([self], [grad], retain_graph=retain_graph or create_graph, create_graph=create_graph)

    def zero_grad_(self):
        self.grad = None

    # ---- in-place updates (bump the version counter) -------------------------
    def _check_inplace(self):
        if not (self.requires_grad and is_grad_enabled()):
            return
        if self.creator is None:
            raise RuntimeError("a leaf Tensor that requires grad is being used in an in-place operation; "
                               "wrap it in `with sg.no_grad():`")
        raise RuntimeError(f"in-place operation on a tensor that is part of the graph (created by "
                           f"{self.creator.name}): the change would not be recorded; use the out-of-place op "
                           "(e.g. `x = x + y`, `sg.index_put`)")

    def _inplace(self, value):
        self._check_inplace()
        self.data[...] = value.data if isinstance(value, Tensor) else value
        self._vc[0] += 1
        return self

    def copy_(self, src):
        return self._inplace(src)

    def fill_(self, value):
        return self._inplace(value)

    def zero_(self):
        return self._inplace(0)

    def add_(self, other, alpha=1):
        self._check_inplace()
        o = other.data if isinstance(other, Tensor) else other
        np.add(self.data, o if alpha == 1 else o * alpha, out=self.data, casting="unsafe")
        self._vc[0] += 1
        return self

    def sub_(self, other, alpha=1):
        return self.add_(other, alpha=-alpha)

    def mul_(self, other):
        self._check_inplace()
        np.multiply(self.data, other.data if isinstance(other, Tensor) else other, out=self.data,
                    casting="unsafe")
        self._vc[0] += 1
        return self

    def uniform_(self, a=0.0, b=1.0):
        return self._inplace(_rng.uniform(a, b, self.shape))

    def normal_(self, mean=0.0, std=1.0):
        return self._inplace(_rng.normal(mean, std, self.shape))

    def __setitem__(self, key, value):
        """In-place assignment; on a tensor in a graph use `index_put` (out of place) instead."""
        if is_grad_enabled() and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            raise RuntimeError("in-place __setitem__ would not be recorded in the graph (the tensor or the value "
                               "requires grad); use `y = sg.index_put(x, index, value)`, a differentiable copy")
        if isinstance(key, tuple):
            key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
        key = key.data if isinstance(key, Tensor) else key
        self.data[key] = value.data if isinstance(value, Tensor) else value
        self._vc[0] += 1


_function_module.Tensor, _function_module.as_tensor = Tensor, as_tensor


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from a list, scalar or array (a copy). Floats become float32 by default."""
    arr = _to_array(data, dtype)
    if isinstance(data, (np.ndarray, np.generic)) and dtype is None and arr.dtype == np.float64:
        arr = arr.astype(DEFAULT_DTYPE)
    return Tensor(np.array(arr, copy=True), requires_grad=requires_grad)


def _shape(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _factory(make):
    def f(*size, dtype=None, requires_grad=False):
        return Tensor(make(_shape(size), dtype or DEFAULT_DTYPE), requires_grad=requires_grad)
    return f


zeros = _factory(lambda s, d: np.zeros(s, d))
ones = _factory(lambda s, d: np.ones(s, d))
empty = _factory(lambda s, d: np.empty(s, d))
randn = _factory(lambda s, d: _rng.standard_normal(s, dtype=np.float64).astype(d))
rand = _factory(lambda s, d: _rng.random(s, dtype=np.float64).astype(d))
zeros.__doc__ = "Tensor of zeros, e.g. `sg.zeros(2, 3)`."
ones.__doc__ = "Tensor of ones."
randn.__doc__ = "Standard normal samples from the seeded global generator."
rand.__doc__ = "Uniform [0, 1) samples from the seeded global generator."


def full(size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return Tensor(np.full(_shape((size,)) if isinstance(size, int) else tuple(size), fill_value,
                          dtype or DEFAULT_DTYPE), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None) -> Tensor:
    if end is None:
        start, end = 0, start
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    return Tensor(np.arange(start, end, step, dtype=dtype or (np.int64 if is_int else DEFAULT_DTYPE)))


def eye(n, m=None, dtype=None) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype or DEFAULT_DTYPE))


def randint(low, high=None, size=(), dtype=np.int64) -> Tensor:
    if high is None:
        low, high = 0, low
    return Tensor(_rng.integers(low, high, size=size).astype(dtype))


def zeros_like(x, dtype=None, requires_grad=False):
    return Tensor(np.zeros_like(_to_array(x), dtype=dtype), requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    return Tensor(np.ones_like(_to_array(x), dtype=dtype), requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False):
    return Tensor(np.full_like(_to_array(x), fill_value, dtype=dtype), requires_grad=requires_grad)


def randn_like(x, dtype=None):
    a = _to_array(x)
    return randn(*a.shape, dtype=dtype or a.dtype)


def rand_like(x, dtype=None):
    a = _to_array(x)
    return rand(*a.shape, dtype=dtype or a.dtype)
