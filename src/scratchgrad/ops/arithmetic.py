"""Elementwise arithmetic and matmul. Each op: forward (NumPy) beside backward (Tensor ops).

Notation: y = f(x), gy = dL/dy, gx = dL/dx. Broadcasting is undone by the engine.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, as_tensor


class Add(Function):
    """y = a + b            ga = gy,  gb = gy"""
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    """y = a - b            ga = gy,  gb = -gy"""
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
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a ** b           ga = gy * b * a^(b-1),  gb = gy * y * log(a)"""
    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy * b * a ** (b - 1) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            safe_a = where(a.data > 0, a, 1.0)  # d/db a^b = a^b log a, defined for a > 0
            gb = gy * a ** b * log(safe_a)
        return ga, gb


class MatMul(Function):
    """y = a @ b (batched)  ga = gy @ b^T,  gb = a^T @ gy"""
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != (b.shape[0] if b.ndim == 1 else b.shape[-2]):
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                             f"({a.shape[-1] if a.ndim else '?'} != {b.shape[0] if b.ndim == 1 else b.shape[-2] if b.ndim else '?'})")
        return np.matmul(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:               # dot product
            return (gy * b if self.needs_input_grad[0] else None,
                    gy * a if self.needs_input_grad[1] else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = gy
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        if self.needs_input_grad[0]:
            ga = g2 @ b2.mT
            ga = ga.squeeze(-2) if a.ndim == 1 else ga
            if a.ndim == 1 and ga.ndim > 1:
                ga = ga.sum_to(a.shape)
        if self.needs_input_grad[1]:
            gb = a2.mT @ g2
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
            if b.ndim == 1 and gb.ndim > 1:
                gb = gb.sum_to(b.shape)
        return ga, gb


class Exp(Function):
    """y = e^x              gx = gy * y"""
    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]() if self.outputs[0]() is not None else gy * exp(self.inputs[0])


class Log(Function):
    """y = ln x             gx = gy / x"""
    def forward(self, x):
        return np.log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    """y = sqrt(x)          gx = gy / (2 y)"""
    def forward(self, x):
        return np.sqrt(x)

    def backward(self, gy):
        return gy / (2.0 * sqrt(self.inputs[0]))


class Abs(Function):
    """y = |x|              gx = gy * sign(x)   (0 at x = 0, as PyTorch)"""
    def forward(self, x):
        return np.abs(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * Tensor(np.sign(x.data))


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


class Maximum(Function):
    """y = max(a, b)        ga = gy * [a > b] (ties split 1/2, as PyTorch)"""
    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        wa = (a.data > b.data) + 0.5 * (a.data == b.data)
        wa = Tensor(np.asarray(wa, dtype=gy.dtype))
        return (gy * wa if self.needs_input_grad[0] else None,
                gy * (1.0 - wa) if self.needs_input_grad[1] else None)


class Minimum(Function):
    """y = min(a, b)        ga = gy * [a < b] (ties split 1/2, as PyTorch)"""
    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        wa = (a.data < b.data) + 0.5 * (a.data == b.data)
        wa = Tensor(np.asarray(wa, dtype=gy.dtype))
        return (gy * wa if self.needs_input_grad[0] else None,
                gy * (1.0 - wa) if self.needs_input_grad[1] else None)


class Where(Function):
    """y = cond ? a : b     ga = cond ? gy : 0,  gb = cond ? 0 : gy"""
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
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def forward(self, x):
        self.src = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.src)


class Clone(Function):
    """y = copy of x        gx = gy"""
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


# ---- functional API -----------------------------------------------------------
def _pair(a, b):
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    return as_tensor(a, like), as_tensor(b, like)


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
    return Clamp(min, max)(x)


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
