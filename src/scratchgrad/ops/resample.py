"""Resampling (PyTorch semantics): channel shuffle, pixel shuffle/unshuffle, interpolate.

The shuffles only move values around, so they are built from reshape and permute: their
gradients (and gradients of gradients) come from those two ops for free.

`interpolate` is separable: resizing (N, C, H, W) to (N, C, OH, OW) is a linear map along H,
then one along W (and along D for 5-D input). Each one-axis map is
    nearest, nearest-exact   an index array: y[o] = x[idx[o]]          (a gather)
    linear, cubic, area      a small matrix: y[o] = sum_i A[o, i] x[i]  (A: (out, in), ~2-4 nonzeros a row)
so the whole op is y = x  x_H A_H  x_W A_W, applied with one GEMM per axis, and its gradient is
the transposed map: gx = gy  x_H A_H^T  x_W A_W^T (the gather's transpose is a scatter-add).
The transpose of a transpose is the map itself, so gradients of any order come for free.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor


# ---- shuffles -----------------------------------------------------------------------------------
def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle (PyTorch's F.channel_shuffle): (N, C, *) -> (N, C, *).

    View the C = g * k channels as a (g, k) grid, transpose it to (k, g), flatten again: channel
    i * k + j moves to j * g + i, so every group of the next grouped conv sees every group."""
    if input.ndim < 3:
        raise ValueError(f"channel_shuffle: expected input of shape (N, C, *) with 3 or more dims, "
                         f"got {input.shape}")
    N, C, *rest = input.shape
    if groups < 1 or C % groups:
        raise ValueError(f"channel_shuffle: number of channels {C} (input {input.shape}) must be divisible "
                         f"by groups={groups}")
    grid = input.reshape(N, groups, C // groups, *rest)
    return grid.transpose(1, 2).reshape(input.shape)


def _check_factor(name: str, input: Tensor, r: int):
    if input.ndim < 3:
        raise ValueError(f"{name}: expected input of shape (*, C, H, W) with 3 or more dims, got {input.shape}")
    if r < 1:
        raise ValueError(f"{name}: factor must be >= 1, got {r}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Sub-pixel upsampling (Shi et al., 2016; PyTorch's F.pixel_shuffle):

        (*, C*r*r, H, W) -> (*, C, H*r, W*r),    y[c, h*r + i, w*r + j] = x[c*r*r + i*r + j, h, w]"""
    r = upscale_factor
    _check_factor("pixel_shuffle", input, r)
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise ValueError(f"pixel_shuffle: channels {C} (input {input.shape}) must be divisible by "
                         f"upscale_factor**2 = {r * r}")
    n = len(lead)
    blocks = input.reshape(*lead, C // (r * r), r, r, H, W)                  # (*, C, i, j, H, W)
    return blocks.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2).reshape(*lead, C // (r * r), H * r, W * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of pixel_shuffle (PyTorch's F.pixel_unshuffle):

        (*, C, H*r, W*r) -> (*, C*r*r, H, W),    y[c*r*r + i*r + j, h, w] = x[c, h*r + i, w*r + j]"""
    r = downscale_factor
    _check_factor("pixel_unshuffle", input, r)
    *lead, C, H, W = input.shape
    if H % r or W % r:
        raise ValueError(f"pixel_unshuffle: height {H} and width {W} (input {input.shape}) must be divisible "
                         f"by downscale_factor={r}")
    n = len(lead)
    blocks = input.reshape(*lead, C, H // r, r, W // r, r)                   # (*, C, H, i, W, j)
    return blocks.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3).reshape(*lead, C * r * r, H // r, W // r)


# ---- one-axis linear maps -----------------------------------------------------------------------
def _along(axis: int, index) -> tuple:
    """The index that applies `index` (a slice or an index array) to `axis`."""
    return (slice(None),) * axis + (index,)


class _Gather:
    """y[o] = x[idx[o]] along an axis (nearest neighbour). Its transpose is _ScatterAdd."""

    def __init__(self, idx: np.ndarray, in_size: int):
        self.idx, self.in_size = idx, in_size

    def apply(self, x, axis):
        return np.take(x, self.idx, axis=axis)

    @property
    def T(self):
        return _ScatterAdd(self.idx, self.in_size)


class _ScatterAdd:
    """gx[i] = sum of g[o] over the o with idx[o] == i, along an axis (idx non-decreasing, so the
    o of one i form a run). No np.add.at: a loop over the offsets k inside a run (2-3 for usual
    scales), each a strided slice or one gather of the runs longer than k.

    Upsampling by an integer s (idx = o // s): runs of s, gx = sum over k < s of g[k::s]."""

    def __init__(self, idx: np.ndarray, in_size: int):
        self.idx, self.in_size = idx, in_size
        self.starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])      # first o of each run
        self.lengths = np.diff(np.r_[self.starts, len(idx)])
        s = len(idx) // in_size
        self.factor = s if s * in_size == len(idx) and np.array_equal(idx, np.arange(len(idx)) // s) else None

    def apply(self, g, axis):
        if self.factor is not None:
            s = self.factor
            gx = g[_along(axis, slice(0, None, s))].copy()
            for k in range(1, s):
                gx += g[_along(axis, slice(k, None, s))]
            return gx
        sums = np.take(g, self.starts, axis=axis)
        for k in range(1, self.lengths.max()):
            longer = np.flatnonzero(self.lengths > k)
            sums[_along(axis, longer)] += np.take(g, self.starts[longer] + k, axis=axis)
        if len(self.starts) == self.in_size:       # every input index was used: sums is gx
            return sums
        gx = np.zeros(g.shape[:axis] + (self.in_size,) + g.shape[axis + 1:], g.dtype)
        gx[_along(axis, self.idx[self.starts])] = sums
        return gx

    @property
    def T(self):
        return _Gather(self.idx, self.in_size)


class _Matrix:
    """y[o] = sum_i A[o, i] x[i] along an axis. A: (out, in), in x's dtype. Its transpose is A^T."""

    def __init__(self, A: np.ndarray):
        self.A = A

    def apply(self, x, axis):
        A, n = self.A, x.shape[axis]
        if axis == x.ndim - 1:                      # one GEMM: (rows, in) @ (in, out)
            return (x.reshape(-1, n) @ A.T).reshape(x.shape[:-1] + (A.shape[0],))
        lead, rest = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
        y = A @ x.reshape(lead, n, rest)           # a GEMM per leading index, A shared
        return y.reshape(x.shape[:axis] + (A.shape[0],) + x.shape[axis + 1:])

    @property
    def T(self):
        return _Matrix(np.ascontiguousarray(self.A.T))


class Resample(Function):
    """y = x with one linear map applied along each of its last len(maps) axes

        y  = x   x_1 M_1  x_2 M_2 ...        (M_k: a gather or a matrix along axis k)
        gx = gy  x_1 M_1^T x_2 M_2^T ...     = Resample(transposed maps)(gy)"""
    saves_inputs = False

    def __init__(self, maps):
        self.maps = maps

    def forward(self, x):
        first = x.ndim - len(self.maps)
        for k, m in enumerate(self.maps):
            x = m.apply(x, first + k)
        return x

    def backward(self, gy):
        return Resample([m.T for m in self.maps])(gy)


# ---- where each output sample comes from (PyTorch's formulas, in the input's dtype as PyTorch) ------
def _scale(in_size, out_size, align_corners, scale_factor, dt):
    """Input pixels per output pixel. align_corners: the corner pixel centres coincide; else the
    1 / scale_factor the user gave, or in / out."""
    if align_corners:
        return dt(in_size - 1) / dt(out_size - 1) if out_size > 1 else dt(0)
    if scale_factor is not None and scale_factor > 0:
        return dt(1.0 / scale_factor)
    return dt(in_size) / dt(out_size)


def _source(in_size, out_size, align_corners, scale_factor, dt, cubic=False):
    """The input coordinate of each output sample (pixel centres at integers):
        align_corners:  o * scale          else  (o + 0.5) * scale - 0.5  (clipped at 0 unless cubic)"""
    scale, o = _scale(in_size, out_size, align_corners, scale_factor, dt), np.arange(out_size, dtype=dt)
    if align_corners:
        return scale * o
    src = scale * (o + dt(0.5)) - dt(0.5)
    return src if cubic else np.maximum(src, dt(0))


def _nearest(in_size, out_size, scale_factor, align_corners, dt, exact=False):
    """nearest: idx = floor(o * scale);  nearest-exact: idx = floor((o + 0.5) * scale), clipped to in - 1."""
    if exact:
        idx = np.floor(_source(in_size, out_size, False, scale_factor, dt) + dt(0.5))
    else:
        idx = np.floor(_scale(in_size, out_size, False, scale_factor, dt) * np.arange(out_size, dtype=dt))
    return _Gather(np.minimum(idx.astype(np.int64), in_size - 1), in_size)


def _weights_matrix(out_size, in_size, idx, w, dt):
    """A (out, in) with A[o, clip(idx[o, t])] += w[o, t] (clipped taps repeat the edge pixel)."""
    flat = np.arange(out_size)[:, None] * in_size + np.clip(idx, 0, in_size - 1)
    return np.bincount(flat.ravel(), w.ravel(), out_size * in_size).reshape(out_size, in_size).astype(dt)


def _linear(in_size, out_size, scale_factor, align_corners, dt):
    """y[o] = (1 - l) x[i0] + l x[i0 + 1],  i0 = floor(src),  l = src - i0 (the last pixel repeats)."""
    src = _source(in_size, out_size, align_corners, scale_factor, dt)
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    lam = np.clip(src - i0.astype(dt), 0, 1)
    return _Matrix(_weights_matrix(out_size, in_size, np.stack([i0, i0 + 1], 1), np.stack([1 - lam, lam], 1), dt))


def _cubic(in_size, out_size, scale_factor, align_corners, dt, a=-0.75):
    """Keys' cubic convolution (a = -0.75, as PyTorch) over taps i0 - 1 .. i0 + 2, edges repeated."""
    src = _source(in_size, out_size, align_corners, scale_factor, dt, cubic=True)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - i0.astype(dt), 0, 1)
    near = lambda d: ((a + 2) * d - (a + 3)) * d * d + 1                    # |d| <= 1  # noqa: E731
    far = lambda d: ((a * d - 5 * a) * d + 8 * a) * d - 4 * a               # 1 < |d| < 2  # noqa: E731
    w = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], 1).astype(dt)
    return _Matrix(_weights_matrix(out_size, in_size, i0[:, None] + np.arange(-1, 3), w, dt))


def _area(in_size, out_size, scale_factor, align_corners, dt):
    """Adaptive average pooling: y[o] = mean of x[floor(o * in / out) : ceil((o + 1) * in / out)]."""
    o = np.arange(out_size)
    start, end = o * in_size // out_size, -(-(o + 1) * in_size // out_size)
    i = np.arange(in_size)
    inside = (i >= start[:, None]) & (i < end[:, None])
    return _Matrix((inside / (end - start)[:, None]).astype(dt))


# ---- interpolate ------------------------------------------------------------------------------------
_MAPS = {"nearest": _nearest, "nearest-exact": functools.partial(_nearest, exact=True), "linear": _linear,
         "bilinear": _linear, "trilinear": _linear, "bicubic": _cubic, "area": _area}
_SPATIAL_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}   # other modes: 1, 2 or 3


def _per_dim(value, dim, what, shape):
    values = list(value) if isinstance(value, (tuple, list)) else [value] * dim
    if len(values) != dim:
        raise ValueError(f"interpolate: {what}={value} must have one entry per spatial dim of input {shape}")
    return values


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None) -> Tensor:
    """Resize the spatial dims of input (N, C, *spatial) to `size` or by `scale_factor` (PyTorch's
    F.interpolate; 1 to 3 spatial dims). Modes, per spatial axis (o: output index):

        nearest        x[floor(o * scale)]        scale = 1 / scale_factor if given, else in / out
        nearest-exact  x[floor((o + 0.5) * scale)]
        linear, bilinear, trilinear   linear between the two neighbours of src, where
                       src = o * (in - 1) / (out - 1)          if align_corners
                       src = (o + 0.5) * scale - 0.5 (>= 0)    otherwise (pixel centres aligned)
        bicubic        cubic convolution (a = -0.75) over the 4 neighbours of src
        area           adaptive average pooling

    With scale_factor the output size is floor(in * scale_factor); recompute_scale_factor=True then
    uses in / out instead of 1 / scale_factor in the formulas."""
    if mode not in _MAPS:
        raise ValueError(f"interpolate: unknown mode {mode!r} (expected one of {', '.join(_MAPS)})")
    dim = input.ndim - 2
    if dim not in (1, 2, 3) or _SPATIAL_DIMS.get(mode, dim) != dim:
        need = f"{_SPATIAL_DIMS[mode] + 2}-D" if mode in _SPATIAL_DIMS else "3-D, 4-D or 5-D"
        raise ValueError(f"interpolate: mode {mode!r} needs {need} input (N, C, *spatial), got shape {input.shape}")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError(f"interpolate: align_corners can only be set with the modes linear, bilinear, bicubic "
                         f"and trilinear (got mode {mode!r})")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    in_sizes = input.shape[2:]
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        out_sizes, scales = [int(n) for n in _per_dim(size, dim, "size", input.shape)], [None] * dim
    else:
        scales = [float(s) for s in _per_dim(scale_factor, dim, "scale_factor", input.shape)]
        out_sizes = [math.floor(n * s) for n, s in zip(in_sizes, scales)]
        if recompute_scale_factor or mode == "area":
            scales = [None] * dim
    if min(out_sizes) <= 0 or min(in_sizes) <= 0:
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, got input {input.shape} "
                         f"and output size {tuple(out_sizes)}")
    maps = [_axis_map(mode, dim, n, o, s, bool(align_corners), input.dtype.type)
            for n, o, s in zip(in_sizes, out_sizes, scales)]
    return Resample(maps)(input)


def _axis_map(mode, dim, in_size, out_size, scale_factor, align_corners, dt):
    """The map of one axis. Two PyTorch quirks are kept for parity; they matter only when a
    scale_factor such as 1.3 disagrees with the sizes it produced: the linear modes leave an axis
    whose size does not change as it is, and 2-D 'nearest' copies (out = in) and doubles
    (out = 2 in) exactly, whatever the scale_factor."""
    if (mode in ("linear", "bilinear", "trilinear") and out_size == in_size or
            mode == "nearest" and dim == 2 and out_size in (in_size, 2 * in_size)):
        return _Gather(np.arange(out_size) * in_size // out_size, in_size)
    return _MAPS[mode](in_size, out_size, scale_factor, align_corners, dt)
