"""Reductions and broadcasting: sum, mean, var, std, max, min, logsumexp, expand, sum_to.

Reductions take PyTorch's `dim`/`keepdim` or NumPy's `axis`/`keepdims`.
`x.max(dim=1)` returns (values, indices) as in PyTorch; `x.max(axis=1)` values as in NumPy.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function, unbroadcast
from ..tensor import Tensor

MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _axes(dim, axis):
    d = dim if dim is not None else axis
    if isinstance(d, list):
        d = tuple(d)
    return d


def _keep_shape(shape, axis):
    """Shape of the reduced result with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    axes = {a % len(shape) for a in axes} if len(shape) else set()
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum_axis x       gx = broadcast(gy)"""
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        return gy.reshape(_keep_shape(x.shape, self.axis)).expand(x.shape)


class BroadcastTo(Function):
    """y = broadcast(x)     gx = sum_to(gy, x.shape)"""
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """y = sum of x down to `shape` (undo broadcasting)   gx = broadcast(gy)"""
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return unbroadcast(x, self.shape)

    def backward(self, gy):
        return gy.expand(self.inputs[0].shape)


class MaxMin(Function):
    """y = max_axis x       gx = gy on the arg-max positions (ties share it equally)"""
    def __init__(self, axis, keepdims, fn):
        self.axis, self.keepdims, self.fn = axis, keepdims, fn

    def forward(self, x):
        return self.fn(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        keep = _keep_shape(x.shape, self.axis)
        y = self.fn(x.data, axis=self.axis, keepdims=True)
        mask = (x.data == y)
        mask = mask / mask.sum(axis=self.axis, keepdims=True)
        return gy.reshape(keep).expand(x.shape) * Tensor(mask.astype(gy.dtype))


class MaxAlong(Function):
    """(values, indices) = max along one dim; gradient goes to the returned index (PyTorch's max(dim))."""
    def __init__(self, axis, keepdims, argfn):
        self.axis, self.keepdims, self.argfn = axis, keepdims, argfn

    def forward(self, x):
        idx = np.expand_dims(self.argfn(x, axis=self.axis), self.axis)
        self.idx = idx
        y = np.take_along_axis(x, idx, self.axis)
        return y if self.keepdims else np.squeeze(y, self.axis)

    def backward(self, gy):
        from .shape import scatter_add_along
        x = self.inputs[0]
        g = gy if self.keepdims else gy.unsqueeze(self.axis)
        return scatter_add_along(g, self.idx, self.axis, x.shape)


class LogSumExp(Function):
    """y = log sum exp x    gx = gy * exp(x - y)   (= gy * softmax(x))"""
    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        m = np.max(x, axis=self.axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        y = np.log(np.sum(np.exp(x - m), axis=self.axis, keepdims=True)) + m
        return y if self.keepdims else np.squeeze(y, self.axis) if self.axis is not None else y.reshape(())

    def backward(self, gy):
        x = self.inputs[0]
        keep = _keep_shape(x.shape, self.axis)
        y = logsumexp(x, axis=self.axis, keepdims=True) if self.outputs[0]() is None else \
            self.outputs[0]().reshape(keep)
        return gy.reshape(keep) * (x - y).exp()


# ---- functional API -----------------------------------------------------------
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    return Sum(_axes(dim, axis), bool(keepdims if keepdims is not None else keepdim))(x)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    ax = _axes(dim, axis)
    kd = bool(keepdims if keepdims is not None else keepdim)
    n = x.data.size // max(int(np.prod(_keep_shape(x.shape, ax))), 1) if x.ndim else 1
    return Sum(ax, kd)(x) * (1.0 / n)


def var(x, dim=None, keepdim=False, *, unbiased=None, correction=None, axis=None, keepdims=None, ddof=None):
    """Variance. PyTorch style (`dim`) defaults to correction=1 (unbiased); NumPy style
    (`axis`) to ddof=0. `correction`, `unbiased` or `ddof` say it explicitly."""
    ax = _axes(dim, axis)
    kd = bool(keepdims if keepdims is not None else keepdim)
    if correction is None:
        correction = (ddof if ddof is not None else int(unbiased) if unbiased is not None
                      else 0 if axis is not None else 1)
    n = x.data.size // max(int(np.prod(_keep_shape(x.shape, ax))), 1)
    d = x - mean(x, ax, keepdim=True)
    scale = 1.0 / (n - correction) if n > correction else float("nan")
    return sum(d * d, ax, kd) * scale


def std(x, dim=None, keepdim=False, **kw):
    return var(x, dim, keepdim, **kw).sqrt()


def _max_min(x, dim, keepdim, axis, keepdims, fn, argfn):
    if dim is not None and isinstance(dim, int):
        kd = bool(keepdim)
        values = MaxAlong(dim, kd, argfn)(x)
        idx = argfn(x.data, axis=dim)
        return MaxResult(values, Tensor(np.expand_dims(idx, dim) if kd else idx))
    return MaxMin(_axes(dim, axis), bool(keepdims if keepdims is not None else keepdim), fn)(x)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    return _max_min(x, dim, keepdim, axis, keepdims, np.max, np.argmax)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    return _max_min(x, dim, keepdim, axis, keepdims, np.min, np.argmin)


def amax(x, dim=None, keepdim=False):
    return MaxMin(_axes(dim, None), keepdim, np.max)(x)


def amin(x, dim=None, keepdim=False):
    return MaxMin(_axes(dim, None), keepdim, np.min)(x)


def argmax(x, dim=None, keepdim=False, *, axis=None):
    d = _axes(dim, axis)
    r = np.argmax(x.data, axis=d, keepdims=keepdim)
    return Tensor(np.asarray(r, dtype=np.int64))


def argmin(x, dim=None, keepdim=False, *, axis=None):
    d = _axes(dim, axis)
    return Tensor(np.asarray(np.argmin(x.data, axis=d, keepdims=keepdim), dtype=np.int64))


def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return LogSumExp(_axes(dim, axis), bool(keepdims if keepdims is not None else keepdim))(x)


def expand(x, *shape):
    """Broadcast to `shape` (-1 keeps a dimension), without copying."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    if shape == x.shape:
        return x
    return BroadcastTo(shape)(x)


broadcast_to = expand


def sum_to(x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo(shape)(x)
