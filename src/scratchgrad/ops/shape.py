"""Shape and indexing ops: reshape, permute, getitem, index_put, cat/stack/split, pad, gather.

Repeated indices accumulate in backward. The scatter-add behind getitem and gather uses
`np.bincount` on flat indices (an order of magnitude faster than `np.add.at`).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, as_tensor


def _scatter_add_flat(flat_idx: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """out[flat_idx[k]] += values[k] for a flat output of `size` elements."""
    out = np.bincount(flat_idx.ravel(), weights=values.ravel(), minlength=size)
    return out.astype(values.dtype, copy=False)


class Reshape(Function):
    """y = x viewed as `shape`    gx = gy viewed as x.shape"""
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Permute(Function):
    """y = x with axes permuted   gx = gy with the inverse permutation"""
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return np.transpose(x, self.axes)

    def backward(self, gy):
        return gy.permute(*np.argsort(self.axes))


class GetItem(Function):
    """y = x[key]                  gx = zeros(x.shape) with gx[key] += gy"""
    def __init__(self, key):
        self.key = key

    def forward(self, x):
        return x[self.key]

    def backward(self, gy):
        return GetItemGrad(self.key, self.inputs[0].shape)(gy)


def _is_basic(key):
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice)) for k in keys)


class GetItemGrad(Function):
    """y = scatter-add of g into zeros(shape) at key   gg = gy[key]   (backward of getitem)"""
    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, g):
        if _is_basic(self.key):
            out = np.zeros(self.shape, dtype=g.dtype)
            out[self.key] = g
            return out
        size = int(np.prod(self.shape))
        flat = np.arange(size).reshape(self.shape)[self.key]
        return _scatter_add_flat(flat, np.broadcast_to(g, flat.shape), size).reshape(self.shape)

    def backward(self, gy):
        return gy[self.key]


class IndexPut(Function):
    """y = x with y[key] = v       gx = gy with gy[key] = 0,  gv = gy[key]"""
    def __init__(self, key):
        self.key = key

    def forward(self, x, v):
        y = x.copy()
        y[self.key] = v
        return y

    def backward(self, gy):
        gx = index_put(gy, self.key, 0.0) if self.needs_input_grad[0] else None
        gv = gy[self.key] if self.needs_input_grad[1] else None
        return gx, gv


class Cat(Function):
    """y = concat(xs, axis)        gx_i = the i-th slab of gy"""
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        return split(gy, self.sizes, self.axis)


class Split(Function):
    """ys = pieces of x along axis  gx = concat(gys) (zeros for unused pieces)"""
    def __init__(self, sizes, axis):
        self.sizes, self.axis = sizes, axis

    def forward(self, x):
        self.dtype = x.dtype
        bounds = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(x, bounds, axis=self.axis))

    def backward(self, *gys):
        shape = list(self.inputs[0].shape)
        parts = []
        for n, g in zip(self.sizes, gys):
            if g is None:
                shape[self.axis] = n
                g = Tensor(np.zeros(shape, dtype=self.dtype))
            parts.append(g)
        return cat(parts, self.axis)


class Pad(Function):
    """y = x padded with a constant   gx = the centre slice of gy"""
    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return np.pad(x, self.widths, constant_values=self.value)

    def backward(self, gy):
        key = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return gy[key]


class Gather(Function):
    """y[i][j] = x[i][index[i][j]] (along dim)   gx = scatter-add of gy at index"""
    def __init__(self, axis, index):
        self.axis, self.index = axis, index

    def forward(self, x):
        return np.take_along_axis(x, self.index, self.axis)

    def backward(self, gy):
        return scatter_add_along(gy, self.index, self.axis, self.inputs[0].shape)


class ScatterAddAlong(Function):
    """y = zeros(shape); y[.., index, ..] += g along axis   gg = gather(gy, index)"""
    def __init__(self, index, axis, shape):
        self.index, self.axis, self.shape = index, axis, tuple(shape)

    def forward(self, g):
        size = int(np.prod(self.shape))
        flat = np.take_along_axis(np.arange(size).reshape(self.shape), self.index, self.axis)
        return _scatter_add_flat(flat, g, size).reshape(self.shape)

    def backward(self, gy):
        return Gather(self.axis, self.index)(gy)


# ---- functional API -----------------------------------------------------------
def reshape(x, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if shape == x.shape:
        return x
    return Reshape(shape)(x)


def permute(x, *axes):
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    axes = tuple(int(a) % x.ndim for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} dims of shape {x.shape}")
    return Permute(axes)(x)


def transpose(x, dim0=None, dim1=None):
    """Swap two dims (PyTorch); with no dims, reverse all (NumPy's `.T`)."""
    if dim0 is None:
        return Permute(tuple(reversed(range(x.ndim))))(x)
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute(tuple(axes))(x)


def squeeze(x, dim=None):
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = {d % x.ndim for d in ((dim,) if isinstance(dim, int) else dim)}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    dim = dim % (x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def flatten(x, start_dim=0, end_dim=-1):
    end = end_dim % x.ndim if x.ndim else 0
    shape = x.shape[:start_dim] + (-1,) + x.shape[end + 1:]
    return reshape(x, shape)


def _key(key):
    if isinstance(key, tuple):
        return tuple(k.data if isinstance(k, Tensor) else k for k in key)
    return key.data if isinstance(key, Tensor) else key


def getitem(x, key):
    return GetItem(_key(key))(x)


def index_put(x, key, value):
    """Out-of-place `x[key] = value` that gradients flow through (to x and to value)."""
    return IndexPut(_key(key))(x, as_tensor(value, like=x))


def cat(xs, dim=0):
    xs = [as_tensor(x) for x in xs]
    return Cat(dim % xs[0].ndim)(*xs)


concatenate = cat


def stack(xs, dim=0):
    xs = [as_tensor(x) for x in xs]
    d = dim % (xs[0].ndim + 1)
    return cat([unsqueeze(x, d) for x in xs], d)


def split(x, split_size_or_sections, dim=0):
    """PyTorch's split: an int is the size of each piece (last may be smaller); a list gives sizes."""
    dim = dim % x.ndim
    n = x.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        sizes = [s] * (n // s) + ([n % s] if n % s else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to dim {dim} of shape {x.shape}")
    out = Split(sizes, dim)(x)
    return out if isinstance(out, tuple) else (out,)


def chunk(x, chunks, dim=0):
    n = x.shape[dim]
    return split(x, -(-n // chunks), dim)


def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: `pad` lists (left, right) pairs starting from the LAST dim."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} (only 'constant')")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return Pad(tuple(widths), value)(x)


def gather(x, dim, index):
    """PyTorch's gather: out[i][j] = x[i][index[i][j]] for dim=1."""
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    return Gather(dim % x.ndim, idx.astype(np.int64))(x)


def scatter_add_along(g, index, axis, shape):
    """Differentiable `zeros(shape).scatter_add_(axis, index, g)`."""
    return ScatterAddAlong(index, axis, shape)(g)


def one_hot(indices, num_classes=-1, dtype=np.int64):
    """One-hot rows (no gradient); int64 as PyTorch, or pass the logits' dtype."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    n = int(idx.max()) + 1 if num_classes < 0 else num_classes
    out = np.zeros(idx.shape + (n,), dtype=dtype)
    np.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
    return Tensor(out)
