"""Pooling (NCHW, PyTorch semantics): max, average, adaptive, global, and max-unpooling.

Pooling slides a K x K window like a convolution but reduces each window with
max or mean, channel by channel (the notes: 非线性,降维,平移不变性 — non-linear,
reduces resolution, translation invariant). Like im2col, the work is a Python
loop over the K*K window offsets only; each step touches the whole batch through
one strided slice:

    window (i, j) of every output pixel = xp[:, :, i*d :: s, j*d :: s]   (OH x OW of them)

max:  y = running max over the K*K slices (the first maximum wins ties, as PyTorch),
      argmax k kept in a small int array;  gx = K x K strided `+=` of gy where argmax == k.
mean: y = (sum of the K*K slices) / divisor; gx = K x K strided `+=` of gy / divisor.

Both backward passes are linear in gy, so they are written as Functions whose own
backward is again a pooling-shaped op: second derivatives work (gradient penalties).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd.function import Function, is_grad_enabled
from ..tensor import Tensor
from .blocks import deal, sample_blocks, scratch
from .im2col import conv_out_size, empty_image, is_channels_last, pad_image, pair, taps
from .shape import gather, scatter_add_along


class PoolGeometry:
    """Kernel, stride, padding, dilation, ceil_mode of a pooling window on an (H, W) input."""

    def __init__(self, hw, kernel_size, stride, padding, dilation, ceil_mode):
        self.k = pair(kernel_size, "kernel_size")
        self.s = pair(stride if stride is not None and stride != [] else kernel_size, "stride")
        self.p, self.d, self.hw = pair(padding, "padding"), pair(dilation, "dilation"), tuple(hw)
        if any(p > k // 2 for p, k in zip(self.p, self.k)):
            raise ValueError(f"pad should be at most half of effective kernel size, got padding={self.p}, "
                             f"kernel_size={self.k}")
        self.out = tuple(conv_out_size(n, k, s, p, d, ceil_mode)
                         for n, k, s, p, d in zip(hw, self.k, self.s, self.p, self.d))
        # ceil_mode windows may run past the padded input: pad a little more at the bottom/right
        self.extra = tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - (n + 2 * p))
                           for o, s, d, k, n, p in zip(self.out, self.s, self.d, self.k, hw, self.p))

    def padded(self, x, value):
        """x with the pooling padding (and ceil_mode extra), in x's memory layout; x itself if none."""
        (ph, pw), (eh, ew) = self.p, self.extra
        return pad_image(x, (ph, ph, pw, pw), value, (eh, ew))

    def offsets(self):
        """(k, window slice) for the K*K offsets, in row-major order (the order of argmax ties)."""
        return taps(*self.k, self.s, self.d, self.out)

    def overlapping(self):
        return any(s < d * (k - 1) + 1 for s, d, k in zip(self.s, self.d, self.k))

    def padded_shape(self, shape):
        (ph, pw), (eh, ew) = self.p, self.extra
        return shape[:2] + (shape[2] + 2 * ph + eh, shape[3] + 2 * pw + ew)

    def tiles(self):
        """True when the windows tile the padded input exactly (stride == kernel, no dilation, no
        remainder): every input pixel is in exactly one window."""
        return all(s == k and d == 1 and o * s == n for s, k, d, o, n in
                   zip(self.s, self.k, self.d, self.out, self.padded_shape((0, 0) + self.hw)[2:]))

    def scatter(self, parts, x_shape, dtype, channels_last):
        """Adjoint of taking the window slices: add the K*K arrays `parts` (N, C, OH, OW), in tap
        order, onto a zero padded input, then crop the padding -> x_shape."""
        gxp = self.zero_grad_image(x_shape, dtype, channels_last)
        self.scatter_into(gxp, parts)
        return self.crop(gxp)

    def zero_grad_image(self, x_shape, dtype, channels_last):
        """A padded input-shaped array for scatter_into: zeros, or uninitialised when the windows
        tile the input (every pixel is then written exactly once)."""
        gxp = empty_image(self.padded_shape(x_shape), dtype, channels_last)
        if self.overlapping() or not self.tiles():
            gxp.fill(0)
        return gxp

    def scatter_into(self, gxp, parts):
        """gxp[window slice k] += parts[k], K x K strided `+=`. A part may also be a pair (g, mask),
        meaning g * mask. When windows do not overlap, each part is written straight into its slice
        (a product with no temporary)."""
        store = not self.overlapping()
        for (k, key), part in zip(self.offsets(), parts):
            if isinstance(part, tuple) and store:
                np.multiply(*part, out=gxp[key])
            elif isinstance(part, tuple):
                gxp[key] += np.multiply(*part)
            elif store:
                gxp[key] = part
            else:
                gxp[key] += part

    def crop(self, gxp):
        (ph, pw), (H, W) = self.p, self.hw
        return gxp[:, :, ph:ph + H, pw:pw + W]

    def flat_index(self, arg):
        """Window position k -> PyTorch's index into the flattened (H*W) input plane (int64)."""
        (kh, kw), (sh, sw), (dh, dw), (ph, pw), (OH, OW) = self.k, self.s, self.d, self.p, self.out
        rows = (np.arange(OH) * sh - ph)[:, None] + (arg // kw) * dh
        cols = (np.arange(OW) * sw - pw) + (arg % kw) * dw
        return (rows * self.hw[1] + cols).astype(np.int64)


def _scratch_like(name, a, dtype):
    """This thread's reusable buffer (blocks.scratch) shaped like image a, in a's memory layout."""
    buf = scratch(name, a.size, dtype)
    if not is_channels_last(a):
        return buf.reshape(a.shape)
    N, C, H, W = a.shape
    return buf.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def _copy_like(name, like, a):
    """a copied into this thread's reusable buffer shaped like image `like`, in like's memory layout."""
    buf = _scratch_like(name, like, a.dtype)
    np.copyto(buf, a)
    return buf


# ---- max pooling ------------------------------------------------------------------------------
class MaxPool2d(Function):
    """y = max over each window          gx = gy at the (first) argmax of its window, 0 elsewhere

    forward is only a running np.maximum over the K*K taps; the argmax is recovered when it
    is needed (backward, return_indices): tap k wins where it equals y and no earlier tap did,
    which is PyTorch's rule for ties (after a ReLU, whole windows of zeros are common).
    """
    def __init__(self, geo):
        self.geo = geo

    def forward(self, x):
        xp = self.geo.padded(x, -np.inf)
        self.x, self.channels_last = x, is_channels_last(x)
        self.y = empty_image(x.shape[:2] + self.geo.out, x.dtype, self.channels_last)
        deal(self._blocks(), lambda blk, _: self.running_max(xp[blk], self.y[blk]))
        return self.y

    def running_max(self, xp, y):
        """y = max over the K*K taps of padded xp (a block of samples), in place."""
        for k, key in self.geo.offsets():
            if k == 0:
                np.copyto(y, xp[key])
            else:
                np.maximum(y, xp[key], out=y)

    def _blocks(self):
        """Sample blocks whose K*K passes stay in cache (ops/blocks.py)."""
        return sample_blocks(len(self.x), self.x[:1].size * self.x.itemsize)

    def winners(self, blk=slice(None)):
        """Yield, tap by tap, the boolean mask of the windows (of samples blk) whose first maximum
        is that tap."""
        xp, y = self.geo.padded(self.x[blk], -np.inf), self.y[blk]
        taken = _scratch_like("pool_taken", y, bool)     # reused buffers (blocks.scratch)
        taken.fill(False)
        mask = _scratch_like("pool_mask", y, bool)       # each mask is used before the next is made
        last = self.geo.k[0] * self.geo.k[1] - 1
        for k, key in self.geo.offsets():
            m = np.equal(xp[key], y, out=mask)
            if k:
                np.greater(m, taken, out=m)  # m and not taken
            if k < last:
                taken |= m
            yield m

    def indices(self):
        """Flat argmax index into each H*W input plane, int64 (PyTorch's return_indices)."""
        arg = np.zeros_like(self.y, dtype=np.int32)
        for k, m in enumerate(self.winners()):
            if k:
                np.copyto(arg, k, where=m)
        return self.geo.flat_index(arg)

    def backward(self, gy):
        if is_grad_enabled():  # differentiable: a scatter of gy at the argmax (its backward is a gather)
            N, C, H, W = self.x.shape
            idx = self.indices().reshape(N, C, -1)
            return scatter_add_along(gy.reshape(N, C, -1), idx, 2, (N, C, H * W)).reshape(N, C, H, W)
        g = gy.data
        gxp = self.geo.zero_grad_image(self.x.shape, g.dtype, self.channels_last)

        deal(self._blocks(), lambda blk, _: self.scatter_block(g[blk], blk, gxp[blk]))
        return Tensor(self.geo.crop(gxp))

    def scatter_block(self, gy, blk, gxp):
        """gxp (padded, zero where no window reaches) = gy at each window's first argmax, for samples blk."""
        if is_channels_last(gy) != self.channels_last:  # e.g. gy from a Linear after a flatten: NCHW
            gy = _copy_like("pool_gy", self.y[blk], gy)  # mixed layouts made every product 8x slower
        self.geo.scatter_into(gxp, ((gy, m) for m in self.winners(blk)))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max pooling, PyTorch's F.max_pool2d: (N, C, H, W) -> (N, C, OH, OW).

    return_indices=True also returns the argmax as flat indices into each H*W plane
    (int64 Tensor, for max_unpool2d). Padding is -inf, at most half the kernel.
    """
    f = MaxPool2d(PoolGeometry(input.shape[2:], kernel_size, stride, padding, dilation, ceil_mode))
    y = f(input)
    return (y, Tensor(f.indices())) if return_indices else y


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The notes' UnPooling: put each value back at the position its max came from, zeros elsewhere.

    input, indices (N, C, OH, OW) -> (N, C, H, W); H = (OH-1)*stride - 2*padding + kernel by default.
    """
    N, C, OH, OW = input.shape
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(stride if stride is not None else kernel_size)
    if output_size is None:
        H, W = (OH - 1) * sh - 2 * ph + kh, (OW - 1) * sw - 2 * pw + kw
    else:
        H, W = tuple(output_size)[-2:]
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.size and (idx.min() < 0 or idx.max() >= H * W):
        raise ValueError(f"max_unpool2d: an index is outside the output plane of {H}x{W}")
    return MaxUnpool2d(idx.reshape(N, C, -1).astype(np.int64, copy=False), (N, C, H, W))(input)


class MaxUnpool2d(Function):
    """y = zeros; y.flat[idx] = x  (per N, C plane)          gx = gy.flat[idx]  (a gather)"""
    saves_inputs = False

    def __init__(self, idx, shape):
        self.idx, self.shape = idx, shape

    def forward(self, x):
        N, C, H, W = self.shape
        out = np.zeros((N, C, H * W), dtype=x.dtype)
        np.put_along_axis(out, self.idx, x.reshape(N, C, -1), axis=2)
        return out.reshape(self.shape)

    def backward(self, gy):
        N, C = self.shape[:2]
        return gather(gy.reshape(N, C, -1), 2, self.idx).reshape(self.inputs[0].shape)


# ---- average pooling --------------------------------------------------------------------------
def _counts(n, k, s, p, out):
    """Per output position along one axis: window length clipped to the padded input
    (count_include_pad) and to the real input (not count_include_pad), as PyTorch."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    with_pad = end - start
    real = np.minimum(end, n) - np.maximum(start, 0)
    return with_pad, real


def _divisor(geo, count_include_pad, divisor_override):
    """The number each window sum is divided by: a scalar, or an (OH, OW) array at the edges."""
    if divisor_override:
        return float(divisor_override)
    (h_pad, h_real), (w_pad, w_real) = (_counts(n, k, s, p, o) for n, k, s, p, o in
                                       zip(geo.hw, geo.k, geo.s, geo.p, geo.out))
    h, w = (h_pad, w_pad) if count_include_pad else (h_real, w_real)
    div = np.outer(h, w)
    return float(div.flat[0]) if (div == div.flat[0]).all() else div


class AvgPool2d(Function):
    """y = (sum over each window) / divisor          gx = avg_pool2d's transpose applied to gy"""
    saves_inputs = False

    def __init__(self, geo, divisor):
        self.geo, self.divisor = geo, divisor

    def forward(self, x):
        xp = self.geo.padded(x, 0.0)
        self.x_shape, self.channels_last = x.shape, is_channels_last(x)
        total = None
        for _, key in self.geo.offsets():
            total = xp[key].copy(order="K") if total is None else np.add(total, xp[key], out=total)
        return total / np.asarray(self.divisor, dtype=x.dtype)

    def backward(self, gy):
        return AvgPool2dTranspose(self)(gy)


class AvgPool2dTranspose(Function):
    """gx = A^T gy for the linear map A = avg_pool2d      its backward: ggy = A ggx (avg_pool2d again)"""
    saves_inputs = False

    def __init__(self, pool):
        self.geo, self.divisor, self.x_shape, self.channels_last = (pool.geo, pool.divisor, pool.x_shape,
                                                                    pool.channels_last)

    def forward(self, gy):
        g = gy / np.asarray(self.divisor, dtype=gy.dtype)
        return self.geo.scatter(itertools.repeat(g), self.x_shape, gy.dtype, self.channels_last)

    def backward(self, ggx):
        return AvgPool2d(self.geo, self.divisor)(ggx)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling, PyTorch's F.avg_pool2d: (N, C, H, W) -> (N, C, OH, OW).

    count_include_pad: padded zeros count in the divisor (default, as PyTorch); windows that
    ceil_mode lets run past the padding never count the overhang.
    """
    geo = PoolGeometry(input.shape[2:], kernel_size, stride, padding, 1, ceil_mode)
    return AvgPool2d(geo, _divisor(geo, count_include_pad, divisor_override))(input)


# ---- adaptive and global pooling --------------------------------------------------------------
def _adaptive_bounds(n, out):
    """PyTorch's adaptive windows along one axis: [floor(i*n/out), ceil((i+1)*n/out))."""
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _out_size(output_size, hw):
    oh, ow = pair(output_size) if not isinstance(output_size, (tuple, list)) else output_size
    return (hw[0] if oh is None else int(oh)), (hw[1] if ow is None else int(ow))


def _averaging_matrix(n, out, dtype):
    """(out, n) matrix whose row i averages the i-th adaptive window."""
    start, end = _adaptive_bounds(n, out)
    j = np.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return Tensor((inside / (end - start)[:, None]).astype(dtype))


#: adaptive pools with windows up to this many pixels run as the K x K loop of plain pooling
_SMALL_WINDOW = 25


def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive windows so the output is exactly output_size (OH, OW).

    Divisible sizes with small windows are plain avg_pool2d; otherwise pooling is separable and linear:
    y = A_h @ x @ A_w^T with (OH, H) and (OW, W) averaging matrices (gradients by matmul).
    """
    H, W = input.shape[2:]
    OH, OW = _out_size(output_size, (H, W))
    if (OH, OW) == (1, 1):
        return global_avg_pool2d(input)
    if H % OH == 0 and W % OW == 0 and (H // OH) * (W // OW) <= _SMALL_WINDOW:
        return avg_pool2d(input, (H // OH, W // OW))
    a_h, a_w = _averaging_matrix(H, OH, input.dtype), _averaging_matrix(W, OW, input.dtype)
    return a_h @ (input @ a_w.T)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive windows; return_indices gives flat H*W indices (int64).

    Divisible sizes with small windows are plain max_pool2d; otherwise windows of unequal length are padded to
    the longest by repeating their last index (a repeat never changes a max or its first argmax),
    the argmax is found in NumPy, and y = gather(x, argmax) (its gradient is a scatter).
    """
    N, C, H, W = input.shape
    OH, OW = _out_size(output_size, (H, W))
    if (OH, OW) == (1, 1):
        return global_max_pool2d(input, return_indices)
    if H % OH == 0 and W % OW == 0 and (H // OH) * (W // OW) <= _SMALL_WINDOW:
        return max_pool2d(input, (H // OH, W // OW), return_indices=return_indices)
    rows, cols = (_padded_windows(n, o) for n, o in ((H, OH), (W, OW)))
    x = input.data
    patches = x[:, :, rows[:, :, None, None], cols[None, None, :, :]]   # (N, C, OH, KH, OW, KW)
    patches = patches.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, OH, OW, -1)
    k = patches.argmax(axis=-1)
    kw = cols.shape[1]
    flat = rows[np.arange(OH)[:, None], k // kw] * W + cols[np.arange(OW), k % kw]
    flat = flat.reshape(N, C, OH * OW)
    y = gather(input.reshape(N, C, H * W), 2, flat).reshape(N, C, OH, OW)
    return (y, Tensor(flat.reshape(N, C, OH, OW))) if return_indices else y


def _padded_windows(n, out):
    """(out, longest window) index array; shorter windows repeat their last index."""
    start, end = _adaptive_bounds(n, out)
    k = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(k), end[:, None] - 1)


def global_avg_pool2d(input):
    """(N, C, H, W) -> (N, C, 1, 1): the mean of each feature map (GoogLeNet/ResNet heads)."""
    return input.mean(axis=(2, 3), keepdims=True)


def global_max_pool2d(input, return_indices=False):
    """(N, C, H, W) -> (N, C, 1, 1): the max of each feature map (first maximum on ties)."""
    N, C, H, W = input.shape
    flat = input.data.reshape(N, C, H * W).argmax(axis=2)[:, :, None]
    y = gather(input.reshape(N, C, H * W), 2, flat).reshape(N, C, 1, 1)
    return (y, Tensor(flat.reshape(N, C, 1, 1))) if return_indices else y
