"""Elementwise arithmetic and matmul. Each op: forward (NumPy) beside backward (Tensor ops).

Notation: y = f(x), gy = dL/dy, gx = dL/dx. Broadcasting is undone by the engine.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, as_tensor


class Add(Function):
    """y = a + b            ga = gy,  gb = gy"""
    saves_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    """y = a - b            ga = gy,  gb = -gy"""
    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b            ga = gy * b,  gb = gy * a"""
    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return (gy * b if self.needs_input_grad[0] else None,
                gy * a if self.needs_input_grad[1] else None)


class Div(Function):
    """y = a / b            ga = gy / b,  gb = -gy * a / b^2"""
    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b
        gb = -ga * a / b if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = -x               gx = -gy"""
    saves_inputs = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a ** b           ga = gy * b * a^(b-1),  gb = gy * y * log(a)   (gb = 0 where a <= 0)"""
    def forward(self, a, b):
        # a Python-float exponent hits NumPy's fast paths (x**2 -> square, x**0.5 -> sqrt)
        return a ** float(b) if b.ndim == 0 and a.dtype.kind == "f" else a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy * b * a ** (b - 1.0) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            y = a ** b
            safe_a = where(a.data > 0, a, 1.0)  # d/db a^b = a^b log a, defined for a > 0
            gb = gy * y * log(safe_a)
        return ga, gb


class ShapeError(ValueError, RuntimeError):
    """Operand shapes do not fit (a ValueError for NumPy users, a RuntimeError as in PyTorch)."""


def _check_matmul_shapes(a_shape, b_shape):
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ShapeError(f"matmul: both arguments need at least 1 dimension (got shapes {a_shape} and {b_shape})")
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if a_shape[-1] != k_b:
        raise ShapeError(f"matmul: shapes {a_shape} and {b_shape} cannot be multiplied "
                         f"(inner dimensions {a_shape[-1]} != {k_b})")
    try:
        np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ShapeError(f"matmul: shapes {a_shape} and {b_shape} have batch dimensions "
                         f"{a_shape[:-2]} and {b_shape[:-2]} that do not broadcast") from None


class MatMul(Function):
    """y = a @ b (batched; 1-D a is a row, 1-D b a column)     ga = gy @ b^T,  gb = a^T @ gy"""
    def forward(self, a, b):
        try:
            return np.matmul(a, b)
        except ValueError:
            _check_matmul_shapes(a.shape, b.shape)  # raises a message naming both shapes
            raise

    def backward(self, gy):
        a, b = self.inputs
        a2 = a.unsqueeze(0) if a.ndim == 1 else a      # (k,) -> (1, k)
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b     # (k,) -> (k, 1)
        g2 = gy.unsqueeze(-2) if a.ndim == 1 else gy
        g2 = g2.unsqueeze(-1) if b.ndim == 1 else g2
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g2 @ b2.mT
            ga = ga.squeeze(-2) if a.ndim == 1 else ga   # the engine sums any batch dims away
        if self.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:  # one weight shared by a batch: a single 2-D GEMM
                gb = a2.reshape(-1, a2.shape[-1]).mT @ g2.reshape(-1, g2.shape[-1])
            else:
                gb = a2.mT @ g2
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
        return ga, gb


class Exp(Function):
    """y = e^x              gx = gy * y"""
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        y = self.saved_output()
        return gy * (exp(self.inputs[0]) if y is None else y)


class Log(Function):
    """y = ln x             gx = gy / x"""
    def forward(self, x):
        return np.log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    """y = sqrt(x)          gx = gy / (2 y)"""
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, gy):
        y = self.saved_output()
        return gy / (2.0 * (sqrt(self.inputs[0]) if y is None else y))


class Abs(Function):
    """y = |x|              gx = gy * sign(x)   (0 at x = 0, as PyTorch)"""
    def forward(self, x):
        return np.abs(x)

    def backward(self, gy):
        return gy * Tensor(np.sign(self.inputs[0].data))


class Clamp(Function):
    """y = min(max(x, lo), hi)   gx = gy where lo <= x <= hi else 0"""
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return np.clip(x, self.lo, self.hi)

    def backward(self, gy):
        x = self.inputs[0].data
        mask = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        return gy * Tensor(mask.astype(gy.dtype))


class _PickOne(Function):
    """y = pick(a, b) elementwise     ga = gy * w,  gb = gy * (1 - w),
    w = 1 where a is picked, 0 where b is, 1/2 on ties (as PyTorch)."""
    pick = wins = None  # set by subclasses: np.maximum/np.greater, np.minimum/np.less

    def forward(self, a, b):
        return type(self).pick(a, b)

    def backward(self, gy):
        a, b = self.inputs[0].data, self.inputs[1].data
        w = np.array(type(self).wins(a, b), dtype=gy.dtype)  # an array even for 0-d inputs
        w[a == b] = 0.5
        w = Tensor(w)
        return (gy * w if self.needs_input_grad[0] else None,
                gy * (1.0 - w) if self.needs_input_grad[1] else None)


class Maximum(_PickOne):
    """y = max(a, b)        ga = gy * [a > b],  gb = gy * [b > a]   (ties split 1/2)"""
    pick, wins = np.maximum, np.greater


class Minimum(_PickOne):
    """y = min(a, b)        ga = gy * [a < b],  gb = gy * [b < a]   (ties split 1/2)"""
    pick, wins = np.minimum, np.less


class Where(Function):
    """y = cond ? a : b     ga = cond ? gy : 0,  gb = cond ? 0 : gy"""
    saves_inputs = False

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return np.where(self.cond, a, b)

    def backward(self, gy):
        zero = Tensor(np.zeros((), dtype=gy.dtype))
        return (where(self.cond, gy, zero) if self.needs_input_grad[0] else None,
                where(self.cond, zero, gy) if self.needs_input_grad[1] else None)


class Cast(Function):
    """y = x.astype(dtype)  gx = gy.astype(x.dtype)"""
    saves_inputs = False

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.src = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.src)


class Clone(Function):
    """y = copy of x        gx = gy"""
    saves_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


# ---- functional API -----------------------------------------------------------
def _pair(a, b):
    """Both operands as Tensors. Scalars take the tensor's dtype; an integer tensor meets a float
    one as that float dtype (int64 * float32 is float32, as in PyTorch, not NumPy's float64).
    Booleans need no cast: NumPy already gives float32 * bool -> float32."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.dtype == b.data.dtype:
        return a, b  # the common case
    like = a if isinstance(a, Tensor) and a.dtype.kind == "f" else b if isinstance(b, Tensor) else a
    like = like if isinstance(like, Tensor) else None
    a, b = as_tensor(a, like), as_tensor(b, like)
    ka, kb = a.dtype.kind, b.dtype.kind
    if ka != kb and "f" in (ka, kb) and ka in "iuf" and kb in "iuf":
        if ka != "f":
            a = Tensor(a.data.astype(b.dtype))
        else:
            b = Tensor(b.data.astype(a.dtype))
    elif ka == kb == "f" and a.dtype != b.dtype and (a.ndim == 0) != (b.ndim == 0):
        # PyTorch: a 0-d tensor does not promote a dimensioned one (float32 * 0-d float64 -> float32)
        if a.ndim == 0:
            a = cast(a, b.dtype)
        else:
            b = cast(b, a.dtype)
    return a, b


def add(a, b):
    return Add()(*_pair(a, b))


def sub(a, b):
    return Sub()(*_pair(a, b))


def mul(a, b):
    return Mul()(*_pair(a, b))


def div(a, b):
    return Div()(*_pair(a, b))


def neg(x):
    return Neg()(x)


def pow(a, b):  # noqa: A001 - PyTorch's name
    return Pow()(*_pair(a, b))


def matmul(a, b):
    return MatMul()(*_pair(a, b))


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def abs(x):  # noqa: A001 - PyTorch's name
    return Abs()(x)


def clamp(x, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Clip to [min, max] (either may be None). Tensor bounds go through maximum/minimum."""
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        y = x if min is None else maximum(x, min)
        return y if max is None else minimum(y, max)
    return Clamp(None if min is None else float(min), None if max is None else float(max))(x)


def maximum(a, b):
    return Maximum()(*_pair(a, b))


def minimum(a, b):
    return Minimum()(*_pair(a, b))


def where(cond, a, b):
    """Elementwise `cond ? a : b`; `cond` is a boolean array or tensor (no gradient)."""
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    return Where(cond.astype(bool))(*_pair(a, b))


def cast(x, dtype):
    if x.dtype == np.dtype(dtype):
        return x
    if np.dtype(dtype).kind not in "fc":
        return Tensor(x.data.astype(dtype))
    return Cast(dtype)(x)


def clone(x):
    return Clone()(x)
