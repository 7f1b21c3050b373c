"""Activation functions, softmax, log_softmax and dropout.

Backward formulas are written with Tensor ops, so every activation is twice
differentiable (needed for gradient penalties and Hessian-vector products).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..autograd.function import Function, is_grad_enabled
from ..tensor import Tensor, get_rng
from .arithmetic import exp, where
from .blocks import constant_vector
from .reduce import sum as _sum


class Sigmoid(Function):
    """y = 1 / (1 + e^-x)        gx = gy * y * (1 - y)"""
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return special.expit(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        y = self.saved_output()
        y = sigmoid(self.inputs[0]) if y is None else y
        return gy * y * (1.0 - y)


class Tanh(Function):
    """y = tanh x                gx = gy * (1 - y^2)"""
    saves_inputs = False
    saves_output = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, gy):
        y = self.saved_output()
        y = tanh(self.inputs[0]) if y is None else y
        return gy * (1.0 - y * y)


class ReLU(Function):
    """y = max(0, x)             gx = gy * [x > 0]"""
    def forward(self, x):
        return relu_array(x)

    def backward(self, gy):
        mask = self.inputs[0].data > 0
        if is_grad_enabled():                 # create_graph: a differentiable product
            return gy * Tensor(mask)          # float * bool stays float
        return np.multiply(gy.data, mask)     # the fast path: plain NumPy, no graph machinery


#: relu_array compares x with a row of this many zeros at a time
ZERO_ROW = 4096


def relu_array(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """max(x, 0) of an ndarray, in x's memory layout (into `out`, laid out like x, if given: out=x is in place).

    NumPy (2.4) has no vectorised loop for np.maximum with a scalar operand: 464 us for 1.25M
    float32 here, against 176 us for the same numbers taken as rows of ZERO_ROW against one row
    of zeros (both operands contiguous: the SIMD loop), so that is how it is done when x's memory
    is one block (C-contiguous, or NHWC conv activations)."""
    xf = _memory_order_flat(x)
    if xf is None or x.dtype.kind != "f":
        return np.maximum(x, 0, out=out)
    out = np.empty_like(x) if out is None else out  # same strides as x: flat views line up
    of = _memory_order_flat(out)
    zeros = constant_vector(0, ZERO_ROW, x.dtype)
    row = min(ZERO_ROW, xf.size & -xf.size)         # the largest power of two that divides the size
    row = row if row >= 512 else ZERO_ROW             # (one call for a conv's rows; else a remainder)
    whole = xf.size - xf.size % row
    np.maximum(xf[:whole].reshape(-1, row), zeros[:row], out=of[:whole].reshape(-1, row))
    if whole < xf.size:
        np.maximum(xf[whole:], zeros[:xf.size - whole], out=of[whole:])
    return out


def _memory_order_flat(a):
    """a as a 1-D view in memory order when its memory is one C-ordered or NHWC block, else None."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.ndim == 4 and a.transpose(0, 2, 3, 1).flags.c_contiguous:
        return a.transpose(0, 2, 3, 1).reshape(-1)
    return None


class LeakyReLU(Function):
    """y = x if x > 0 else a x   gx = gy * (1 if x > 0 else a)"""
    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        return np.where(x > 0, x, x * x.dtype.type(self.slope))

    def backward(self, gy):
        x = self.inputs[0].data
        one, slope = x.dtype.type(1), x.dtype.type(self.slope)
        return gy * Tensor(np.where(x > 0, one, slope))


class ELU(Function):
    """y = x if x > 0 else a (e^x - 1)   gx = gy * (1 if x > 0 else a e^x)"""
    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        neg = exp(where(x.data > 0, 0.0, x)) * self.alpha  # a e^x, evaluated only where x <= 0
        return gy * where(x.data > 0, 1.0, neg)


class Erf(Function):
    """y = erf x                 gx = gy * 2/sqrt(pi) * e^(-x^2)"""
    def forward(self, x):
        return special.erf(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (2.0 / math.sqrt(math.pi)) * exp(-(x * x))


class GELU(Function):
    """y = x Phi(x)              gx = gy * (Phi(x) + x phi(x))     (exact, erf form)"""
    def forward(self, x):
        return (0.5 * x * (1.0 + special.erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        cdf = 0.5 * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))
        pdf = exp(-0.5 * (x * x)) * (1.0 / math.sqrt(2.0 * math.pi))
        return gy * (cdf + x * pdf)


class Softplus(Function):
    """y = log(1 + e^(b x)) / b  (linear above threshold)   gx = gy * sigmoid(b x)"""
    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        bx = x * self.beta
        return np.where(bx > self.threshold, x, np.logaddexp(0, bx) / self.beta).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        s = sigmoid(x * self.beta)
        return gy * where(x.data * self.beta > self.threshold, 1.0, s)


class Softmax(Function):
    """y = e^x / sum e^x         gx = y * (gy - sum(gy * y))"""
    saves_inputs = False
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        z = x - x.max(axis=self.axis, keepdims=True)
        # e^-80 ~ 2e-35 is still a normal float32: below it e^z would be denormal, and every later
        # product with such a matrix (attention, NetVLAD) runs ~200x slower. The clamp changes no
        # probability by more than 2e-35.
        e = np.exp(np.maximum(z, -80.0, out=z), out=z)
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, gy):
        y = self.saved_output()
        y = softmax(self.inputs[0], self.axis) if y is None else y
        return y * (gy - _sum(gy * y, self.axis, keepdim=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x)      gx = gy - softmax(x) * sum(gy)"""
    saves_inputs = False
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        z = x - x.max(axis=self.axis, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=self.axis, keepdims=True))

    def backward(self, gy):
        y = self.saved_output()
        y = log_softmax(self.inputs[0], self.axis) if y is None else y
        return gy - exp(y) * _sum(gy, self.axis, keepdim=True)


class Dropout(Function):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p)    gx = gy * m / (1 - p)   (inverted dropout)"""
    saves_inputs = False

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        keep = get_rng().random(x.shape, dtype=np.float32) >= self.p
        self.scale = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self.scale

    def backward(self, gy):
        return gy * Tensor(self.scale)


# ---- functional API -----------------------------------------------------------
def sigmoid(x):
    return Sigmoid()(x)


def tanh(x):
    return Tanh()(x)


def relu(x):
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(negative_slope)(x)


def elu(x, alpha=1.0):
    return ELU(alpha)(x)


def erf(x):
    return Erf()(x)


def gelu(x, approximate="none"):
    """GELU; approximate='tanh' uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate == "tanh":
        return 0.5 * x * (1.0 + tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
    return GELU()(x)


def softplus(x, beta=1.0, threshold=20.0):
    return Softplus(beta, threshold)(x)


def softmax(x, dim=-1, *, axis=None):
    return Softmax(dim if axis is None else axis)(x)


def log_softmax(x, dim=-1, *, axis=None):
    return LogSoftmax(dim if axis is None else axis)(x)


def dropout(x, p=0.5, training=True):
    """Inverted dropout: identity at test time, so no rescaling is needed then."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return Dropout(p)(x)
