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
    saves_inputs = False

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        return gy.reshape(_keep_shape(x.shape, self.axis)).expand(x.shape)


class BroadcastTo(Function):
    """y = broadcast(x)     gx = sum_to(gy, x.shape)"""
    saves_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return np.broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """y = sum of x down to `shape` (undo broadcasting)   gx = broadcast(gy)"""
    saves_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return unbroadcast(x, self.shape)

    def backward(self, gy):
        return gy.expand(self.inputs[0].shape)


class MaxMin(Function):
    """y = max_axis x (or min)     gx = gy on the positions that attain y (ties share it equally)"""
    def __init__(self, axis, keepdims, fn):
        self.axis, self.keepdims, self.fn = axis, keepdims, fn

    def forward(self, x):
        return self.fn(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        keep = _keep_shape(x.shape, self.axis)
        mask = (x.data == self.fn(x.data, axis=self.axis, keepdims=True)).astype(gy.dtype)
        mask /= mask.sum(axis=self.axis, keepdims=True)
        return gy.reshape(keep) * Tensor(mask)


class MaxAlong(Function):
    """(values, indices) = max along one dim    gx = gy at the returned index, 0 elsewhere (PyTorch's max(dim))"""
    saves_inputs = False

    def __init__(self, axis, keepdims, argfn):
        self.axis, self.keepdims, self.argfn = axis, keepdims, argfn

    def forward(self, x):
        self.idx = np.expand_dims(self.argfn(x, axis=self.axis), self.axis)
        y = np.take_along_axis(x, self.idx, self.axis)
        return y if self.keepdims else np.squeeze(y, self.axis)

    def backward(self, gy):
        from .shape import scatter_add_along
        g = gy if self.keepdims else gy.unsqueeze(self.axis)
        return scatter_add_along(g, self.idx, self.axis, self.inputs[0].shape)


class LogSumExp(Function):
    """y = log sum exp x    gx = gy * exp(x - y)   (= gy * softmax(x))"""
    saves_output = True

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        m = np.max(x, axis=self.axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf rows: avoid inf - inf
        y = np.log(np.sum(np.exp(x - m), axis=self.axis, keepdims=True)) + m
        return y if self.keepdims else y.reshape(np.sum(y, axis=self.axis).shape)

    def backward(self, gy):
        x = self.inputs[0]
        keep = _keep_shape(x.shape, self.axis)
        y = self.saved_output()
        y = logsumexp(x, axis=self.axis, keepdims=True) if y is None else y.reshape(keep)
        return gy.reshape(keep) * (x - y).exp()


# ---- functional API -----------------------------------------------------------
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """Sum over `dim` (int, tuple or None for all); keepdim keeps reduced dims as size 1."""
    return Sum(_axes(dim, axis), _kd(keepdim, keepdims))(x)


def _count(shape, axis) -> int:
    """How many elements a reduction over `axis` combines."""
    n = 1
    for full, kept in zip(shape, _keep_shape(shape, axis)):
        n *= full if kept == 1 else 1
    return n


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    ax = _axes(dim, axis)
    n = _count(x.shape, ax)
    return Sum(ax, _kd(keepdim, keepdims))(x) * (1.0 / n if n else float("nan"))


def var(x, dim=None, keepdim=False, *, unbiased=None, correction=None, axis=None, keepdims=None, ddof=None):
    """Variance  sum((x - mean)^2) / (n - correction).

    PyTorch style (`dim`, or no dim at all) defaults to correction=1 (unbiased); NumPy style
    (`axis`) to ddof=0. `correction`, `unbiased` or `ddof` say it explicitly."""
    ax = _axes(dim, axis)
    if correction is None:
        correction = (ddof if ddof is not None else int(unbiased) if unbiased is not None
                      else 0 if axis is not None else 1)
    n = _count(x.shape, ax)
    d = x - mean(x, ax, keepdim=True)
    scale = 1.0 / (n - correction) if n > correction else float("nan")
    return sum(d * d, ax, _kd(keepdim, keepdims)) * scale


def std(x, dim=None, keepdim=False, **kw):
    return var(x, dim, keepdim, **kw).sqrt()


def _kd(keepdim, keepdims):
    return bool(keepdims if keepdims is not None else keepdim)


def _max_min(x, dim, keepdim, axis, keepdims, fn, argfn, pairwise):
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum(a, b)
        return pairwise(x, dim)
    if isinstance(dim, (int, np.integer)):  # PyTorch: (values, indices) along one dim
        f = MaxAlong(int(dim) % x.ndim if x.ndim else 0, bool(keepdim), argfn)
        values = f(x)
        idx = f.idx if keepdim else np.squeeze(f.idx, f.axis)
        return MaxResult(values, Tensor(idx.astype(np.int64, copy=False)))
    return MaxMin(_axes(dim, axis), _kd(keepdim, keepdims), fn)(x)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """x.max() -> value;  x.max(dim) -> (values, indices);  x.max(axis=...) -> values (NumPy)."""
    from .arithmetic import maximum
    return _max_min(x, dim, keepdim, axis, keepdims, np.max, np.argmax, maximum)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """x.min() -> value;  x.min(dim) -> (values, indices);  x.min(axis=...) -> values (NumPy)."""
    from .arithmetic import minimum
    return _max_min(x, dim, keepdim, axis, keepdims, np.min, np.argmin, minimum)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Max over one or several dims (values only; ties share the gradient)."""
    return MaxMin(_axes(dim, axis), _kd(keepdim, keepdims), np.max)(x)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return MaxMin(_axes(dim, axis), _kd(keepdim, keepdims), np.min)(x)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the max (int64, no gradient); over the flattened tensor when dim is None."""
    r = np.argmax(x.data, axis=_axes(dim, axis), keepdims=_kd(keepdim, keepdims))
    return Tensor(np.asarray(r, dtype=np.int64))


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    r = np.argmin(x.data, axis=_axes(dim, axis), keepdims=_kd(keepdim, keepdims))
    return Tensor(np.asarray(r, dtype=np.int64))


def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(x))) computed stably (the max is subtracted first)."""
    return LogSumExp(_axes(dim, axis), _kd(keepdim, keepdims))(x)


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
