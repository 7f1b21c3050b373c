"""Convolutions: conv2d, conv1d, conv_transpose2d (NCHW, PyTorch semantics).

Three NumPy kernels do all the work, and three Functions built on them close
under differentiation, so gradients of gradients (WGAN-GP, Hessian-vector
products) work through every convolution:

    y  = conv(x, w)             im2col(x) @ W                    Conv2d
    gx = conv_transpose(gy, w)  col2im(gy @ W^T)                 ConvTranspose2d
    gw = conv_weight(x, gy)     gy^T @ im2col(x)                 Conv2dWeight

    Conv2d          backward: gx = conv_transpose(gy, w),  gw = conv_weight(x, gy)
    ConvTranspose2d backward: gx = conv(gy, w),            gw = conv_weight(gy, x)
    Conv2dWeight    backward: gx = conv_transpose(gy, ggw), ggy = conv(x, ggw)

Outside create_graph, a stride-1 Conv2d's backward makes gx, gw and gb in one pass over the
blocks of gy's im2col instead (`conv_backward`: one im2col where the two kernels need two).

All three share one geometry: a convolution from an "image" space (H, W) to an
"output" space (OH, OW) with stride, padding (top, bottom, left, right),
dilation and groups; the transposed convolution runs the same geometry backwards.
Weights are (C_out, C_in/groups, KH, KW) for conv and (C_in, C_out/groups, KH, KW)
for conv_transpose, as in PyTorch. See ops/im2col.py for the memory layout (outputs
are NHWC in memory, NCHW in shape). Depthwise convolutions (groups == C_in) skip the
GEMM: each kernel tap is one multiply-add over strided slices (ops/depthwise.py).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, is_grad_enabled
from ..tensor import Tensor
from . import blas
from .activation import relu_array
from .blocks import constant_vector, deal, sample_blocks, scratch
from .depthwise import _is_depthwise, depthwise_forward, depthwise_transpose, depthwise_weight
from .im2col import (add_bias, channel_sum, col2im_nhwc, conv_out_size, copy_windows, crop_negative_pads,
                     is_channels_last, pads4, pair, windows)


class Geometry:
    """stride (sh, sw), pads (top, bottom, left, right; negative crops), dilation (dh, dw), groups."""
    __slots__ = ("stride", "pads", "dilation", "groups")

    def __init__(self, stride, pads, dilation, groups):
        self.stride, self.pads, self.dilation, self.groups = pair(stride), pads4(pads), pair(dilation), int(groups)

    def out_hw(self, hw, khw):
        """Output (OH, OW) of the convolution on an image of size hw."""
        return tuple(conv_out_size(n, k, s, p, d) for n, k, s, p, d in
                     zip(hw, khw, self.stride, (self.pads[:2], self.pads[2:]), self.dilation))

    def __repr__(self):
        return f"Geometry(stride={self.stride}, pads={self.pads}, dilation={self.dilation}, groups={self.groups})"


# ---- the three NumPy kernels ---------------------------------------------------------------
# im2col is done a block of samples at a time (ops/blocks.py), so the block's cols stay in the L2
# cache while the GEMM reads them. Each block is still one 2-D GEMM in the (rows = pixels,
# cols = C*K*K) layout, and the blocks are dealt to worker threads, each with its own buffers.
def im2col_blocks(x, khw, geo, out_hw, work, init=lambda: None, source=None):
    """For each block of samples, state = work(blk, cols, state, src) with cols (n*OH*OW, G, KH*KW*C/G)
    the block's im2col and src the block of x it unfolded; returns the workers' final states (starting
    from init()). source(blk), if given, makes the blocks instead of x[blk] (x then only gives shapes).

    Each worker pads its blocks into its own NHWC buffer (the padding, and the layout change of
    an NCHW input, become one small in-cache copy) and copies the windows of that buffer into its
    own cols buffer, which its next block overwrites: use the cols before returning."""
    x, (t, b, l, r) = crop_negative_pads(x, geo.pads)
    N, C, H, W = x.shape
    per_sample = out_hw[0] * out_hw[1] * khw[0] * khw[1] * C
    blocks = sample_blocks(N, per_sample * x.itemsize)
    nb = blocks[0].stop - blocks[0].start if blocks else 0

    def setup():
        Hp, Wp = H + t + b, W + l + r
        xp = scratch("im2col_x", nb * Hp * Wp * C, x.dtype).reshape(nb, Hp, Wp, C).transpose(0, 3, 1, 2)
        if t or b or l or r:
            xp.fill(0)
        v = windows(xp, khw[0], khw[1], geo.stride, geo.dilation, out_hw, geo.groups)
        return xp, v, is_channels_last(xp), scratch("im2col_cols", per_sample * nb, x.dtype), init()

    def step(blk, state):
        xp, v, channels_last, buf, acc = state
        n = blk.stop - blk.start
        src = x[blk] if source is None else crop_negative_pads(source(blk), geo.pads)[0]
        xp[:n, :, t:t + H, l:l + W] = src
        return xp, v, channels_last, buf, work(blk, copy_windows(v[:n], channels_last, buf), acc, src)

    return [state[-1] for state in deal(blocks, step, setup)]


def _w_mat(w, G):
    """Conv weight (C_out, C/G, KH, KW) -> per-group GEMM operands (G, KH*KW*C/G, C_out/G)."""
    Co, Cg, KH, KW = w.shape
    return w.reshape(G, Co // G, Cg, KH, KW).transpose(0, 3, 4, 2, 1).reshape(G, KH * KW * Cg, Co // G)


def _grouped_matmul(a, b, out):
    """out (M, G*P) = a (M, G, K) times b (G, K, P), group by group. One GEMM when G == 1."""
    if a.shape[1] == 1:
        blas.matmul(a[:, 0], b[0], out)
    else:
        out.reshape(len(out), b.shape[0], -1)[...] = np.matmul(a.transpose(1, 0, 2), b).transpose(1, 0, 2)


def _grouped_gram(a, b):
    """(G, Ka, Kb) = a (M, G, Ka)^T times b (M, G, Kb), group by group: the sum over M of outer products."""
    if a.shape[1] == 1:
        return blas.matmul(a[:, 0].T, b[:, 0])[None]
    return np.matmul(a.transpose(1, 2, 0), b.transpose(1, 0, 2))


def _rows(gy2d, blk, hw):
    """The rows of an (N*OH*OW, ...) matrix that belong to the samples in slice blk."""
    m = hw[0] * hw[1]
    return gy2d[blk.start * m:blk.stop * m]


def _gy_mat(gy, G):
    """(N, C, OH, OW) -> (N*OH*OW, G, C/G); free when gy is NHWC in memory (it is, coming from conv)."""
    N, C = gy.shape[:2]
    return gy.transpose(0, 2, 3, 1).reshape(-1, G, C // G)


def conv_forward(x, w, geo, bias=None, relu=False):
    """y = x (*) w + b: im2col + the GEMM cols @ W, (N*OH*OW, C*K*K) @ (C*K*K, C_out) per group;
    relu: y = max(x (*) w + b, 0). Returns (N, C_out, OH, OW), NHWC in memory."""
    N, Co = x.shape[0], w.shape[0]
    out_hw = geo.out_hw(x.shape[2:], w.shape[2:])
    if _is_depthwise(x.shape[1], geo.groups):
        y = depthwise_forward(x, w, geo, out_hw, bias)
        return relu_array(y, out=y) if relu else y
    wm = _w_mat(w, geo.groups)
    y = np.empty((N * out_hw[0] * out_hw[1], Co), dtype=np.result_type(x, w))
    tiled = None if bias is None else np.tile(bias.astype(y.dtype, copy=False), out_hw[0] * out_hw[1])

    def gemm(blk, cols, _, __):
        rows = _rows(y, blk, out_hw)
        _grouped_matmul(cols, wm, rows)
        if tiled is not None:        # + b while the rows are in cache: one row of OH*OW*Co per image
            rows.reshape(blk.stop - blk.start, -1)[...] += tiled
        if relu:                     # and the ReLU
            relu_array(rows, out=rows)
    im2col_blocks(x.astype(y.dtype, copy=False), w.shape[2:], geo, out_hw, gemm)
    return y.reshape(N, *out_hw, Co).transpose(0, 3, 1, 2)


def conv_weight(x, gy, khw, geo, bias=False, gy_blocks=None):
    """gw = d<gy, conv(x, w)>/dw = gy^T @ im2col(x): (C_out, N*OH*OW) @ (N*OH*OW, C*K*K) per group,
    both operands contiguous (gy is NHWC in memory). Returns (C_out, C/G, KH, KW); with bias=True,
    (gw, gb) where gb = the sum of gy over N, OH, OW, made from the same blocks of gy.
    gy_blocks(blk), if given, makes gy[blk] on demand (a fused ReLU's backward): gy only gives shapes."""
    G, out_hw = geo.groups, gy.shape[2:]
    if _is_depthwise(x.shape[1], G):
        gy = gy if gy_blocks is None else gy_blocks(slice(0, len(gy)))
        gw = depthwise_weight(x, gy, khw, geo)
        return (gw, channel_sum(gy)) if bias else gw
    g = _gy_mat(gy, G)                                   # (M, G, Co/G)

    # gw^T (G, K*K*C/G, Co/G) = cols^T @ gy rows: the (Co x M) @ (M x K*K*C) orientation ran 10x slower
    # with 2 OpenBLAS threads
    def gemm(blk, cols, sums, _):
        gb = _rows(g, blk, out_hw) if gy_blocks is None else _gy_mat(gy_blocks(blk), G)
        parts = (_grouped_gram(cols, gb), constant_vector(1, len(gb), gb.dtype) @ gb.reshape(len(gb), -1) if bias else None)
        if sums is not None:                             # this worker's earlier blocks
            parts = [p if s is None else np.add(s, p, out=s) for s, p in zip(sums, parts)]
        return parts

    sums = [p for p in im2col_blocks(x.astype(g.dtype, copy=False), khw, geo, out_hw, gemm) if p is not None]
    gw = np.reshape(sum(p[0] for p in sums), (G, khw[0], khw[1], -1, gy.shape[1] // G))  # (G, KH, KW, C/G, Co/G)
    gw = np.ascontiguousarray(gw.transpose(0, 4, 3, 1, 2).reshape(gy.shape[1], -1, *khw))
    return (gw, sum(p[1] for p in sums)) if bias else gw


def _flip_transpose(w, G):
    """Conv weight (Co, C/G, KH, KW) -> the weight (C, Co/G, KH, KW) of the conv that computes its
    transpose at stride 1: channels swapped within each group and the kernel rotated 180 degrees."""
    Co, Cg, KH, KW = w.shape
    wt = w.reshape(G, Co // G, Cg, KH, KW).transpose(0, 2, 1, 3, 4).reshape(G * Cg, Co // G, KH, KW)
    return np.ascontiguousarray(wt[:, :, ::-1, ::-1])


def _transpose_geometry(geo, khw, out_hw, in_hw):
    """The stride-1 geometry of conv_transpose as a convolution: gy (out_hw) padded by d*(K-1) - p
    on top/left, and on bottom/right by whatever makes the output in_hw."""
    (dh, dw), (t, _, l, _) = geo.dilation, geo.pads
    pads = (dh * (khw[0] - 1) - t, in_hw[0] - out_hw[0] + t, dw * (khw[1] - 1) - l, in_hw[1] - out_hw[1] + l)
    return Geometry(1, pads, geo.dilation, geo.groups)


def conv_transpose(gy, w, geo, in_hw, bias=None):
    """gx = the transpose (adjoint) of x -> conv(x, w) applied to gy; gx has spatial size in_hw.

    stride 1: a plain convolution of gy with the flipped, channel-swapped kernel and padding
      d*(K-1) - p (the notes' "边缘填充k-p-1个零"); the fastest here (DeepConvNet's 16->32 and
      32->64 layers: 7.1 and 6.5 ms against 13.4 and 8.6 ms for the col2im route).
    strided: gcols = gy @ W^T, then col2im (K x K strided +=), a block of samples at a time.
    """
    N, Co = gy.shape[:2]
    KH, KW = w.shape[2:]
    G, C = geo.groups, w.shape[1] * geo.groups
    if _is_depthwise(C, G):
        return depthwise_transpose(gy, w, geo, in_hw, bias)
    if geo.stride == (1, 1):
        return conv_forward(gy, _flip_transpose(w, G), _transpose_geometry(geo, (KH, KW), gy.shape[2:], in_hw), bias)
    wt = _w_mat(w, G).transpose(0, 2, 1)                  # (G, Co/G, KH*KW*C/G)
    g = _gy_mat(gy, G)
    t, b, l, r = geo.pads
    gxp = np.empty((N, in_hw[0] + t + max(b, 0), in_hw[1] + l + max(r, 0), C), dtype=np.result_type(gy, w))
    out_hw = gy.shape[2:]

    def gemm_col2im(blk, _):
        gb = _rows(g, blk, out_hw)
        gcols = scratch("col2im_cols", len(gb) * C * KH * KW, gxp.dtype).reshape(len(gb), -1)  # (g, ki, kj, c)
        _grouped_matmul(gb, wt, gcols)
        col2im_nhwc(gcols, gxp[blk].shape, KH, KW, geo.stride, geo.dilation, out_hw, G, out=gxp[blk])

    deal(sample_blocks(N, out_hw[0] * out_hw[1] * KH * KW * C * gxp.itemsize), gemm_col2im)
    gxp = gxp.transpose(0, 3, 1, 2)
    if bias is not None:
        add_bias(gxp, bias)  # before cropping: the padding is thrown away anyway
    return gxp[:, :, t:t + in_hw[0], l:l + in_hw[1]]


def conv_backward(x, gy, w, geo, bias=False, gy_blocks=None):
    """(gx, gw, gb) of y = conv(x, w) + b at stride 1 from ONE im2col, that of gy padded as
    conv_transpose pads it (gb = None unless bias). gy_blocks(blk), if given, makes gy[blk] on
    demand, in cache (a fused ReLU's backward): gy then only gives shapes.

    Its cols have a row per input pixel r, holding the gy window that pixel fed, so both gradients
    are products with the same cols, made while the block is in the L2 cache:
        gx = cols @ W_flip       (N*H*W, K*K*Co) @ (K*K*Co, C)    conv_transpose, as above
        gw = x^T @ cols          (C, N*H*W) @ (N*H*W, K*K*Co)     taps rotated 180 degrees
    instead of a second im2col (of x) for conv_weight. Per group when groups > 1. The workers also
    sum their blocks of gy for gb."""
    N, C, H, W = x.shape
    Co, G, khw = gy.shape[1], geo.groups, w.shape[2:]
    dtype = np.result_type(x, gy, w)
    wm = _w_mat(_flip_transpose(w, G), G)                 # (G, K*K*Co/G, C/G)
    gx = np.empty((N * H * W, C), dtype)

    geo_t = _transpose_geometry(geo, khw, gy.shape[2:], (H, W))
    sum_blocks = bias and min(geo_t.pads) >= 0            # else the im2col crops part of gy away

    def gemms(blk, cols, sums, gy_blk):                   # cols (n*H*W, G, K*K*Co/G)
        _grouped_matmul(cols, wm, _rows(gx, blk, (H, W)))
        xb = x[blk].transpose(0, 2, 3, 1).reshape(-1, G, C // G)     # free when x is NHWC in memory
        gwt, gb = _grouped_gram(xb, cols), (channel_sum(gy_blk) if sum_blocks else None)
        if sums is not None:                              # this worker's earlier blocks
            gwt += sums[0]
            if sum_blocks:
                gb += sums[1]
        return gwt, gb

    sums = [p for p in im2col_blocks(gy.astype(dtype, copy=False), khw, geo_t, (H, W), gemms, source=gy_blocks)
            if p is not None]
    gwt = sum(p[0] for p in sums)                          # over the workers
    gw = np.reshape(gwt, (G, C // G, *khw, Co // G))[:, :, ::-1, ::-1]          # [g, c, a, b, co]
    gw = np.ascontiguousarray(gw.transpose(0, 4, 1, 2, 3).reshape(Co, C // G, *khw))
    if not bias:
        gb = None
    elif sum_blocks:
        gb = sum(p[1] for p in sums)
    else:
        gb = channel_sum(gy if gy_blocks is None else gy_blocks(slice(0, N)))
    return gx.reshape(N, H, W, C).transpose(0, 3, 1, 2), gw, gb


# ---- the three Functions -------------------------------------------------------------------
def _bias_grad(gy):
    """gb = sum of gy over N, H, W (a differentiable sum under create_graph, else a GEMV)."""
    return gy.sum(axis=(0, 2, 3)) if is_grad_enabled() else Tensor(channel_sum(gy.data))


class Conv2d(Function):
    """y = conv(x, w) + b      (N, C, H, W) (*) (Co, C/G, KH, KW) -> (N, Co, OH, OW)

    gx = conv_transpose(gy, w)      gw = conv_weight(x, gy)      gb = sum of gy over N, OH, OW
    Double backward: the three are Functions too (create_graph works).

    relu=True: y = max(conv(x, w) + b, 0) as one op (what nn.Sequential runs for Conv2d, ReLU), whose
    backward first makes gy * [y > 0]. The ReLU runs on each block of y while it is in cache, and
    its backward on each block of gy as conv_backward unfolds it: no passes over memory of its own.
    """
    def __init__(self, geo, relu=False):
        self.geo, self.relu = geo, relu
        self.saves_output = relu          # the engine then checks y was not changed in place

    def forward(self, x, w, b=None):
        y = conv_forward(x, w, self.geo, b, self.relu)
        if self.relu:       # kept here: the next layer's backward often drops y's Tensor before this one runs
            self.y = y
        return y

    def backward(self, gy):
        x, w = self.inputs[:2]
        need = self.needs_input_grad
        bias = len(need) > 2 and need[2]
        if self.relu and is_grad_enabled():       # create_graph: the ReLU's backward as an op of its own
            return self._grads(x, w, gy * Tensor(self.y > 0), need, bias)
        blocks = (lambda blk: np.multiply(gy.data[blk], self.y[blk] > 0)) if self.relu else None
        if need[1] and not is_grad_enabled() and not _is_depthwise(x.shape[1], self.geo.groups):
            if need[0] and self.geo.stride == (1, 1):       # gx, gw, gb from one im2col (of gy)
                return conv_backward(x.data, gy.data, w.data, self.geo, bias, blocks)
            if not need[0]:                                 # gw, gb from one pass over gy's blocks
                gw = conv_weight(x.data, gy.data, w.shape[2:], self.geo, bias, blocks)
                return (None, *gw) if bias else (None, gw)
        return self._grads(x, w, gy if blocks is None else Tensor(blocks(slice(None))), need, bias)

    def _grads(self, x, w, gy, need, bias):
        gx = ConvTranspose2d(self.geo, x.shape[2:])(gy, w) if need[0] else None
        gw = Conv2dWeight(self.geo, w.shape[2:])(x, gy) if need[1] else None
        return gx, gw, _bias_grad(gy) if bias else None


class ConvTranspose2d(Function):
    """y = conv_transpose(x, w) + b: the adjoint of conv (same geometry), output size out_hw.

    gx = conv(gy, w)      gw = conv_weight(gy, x)      gb = sum of gy over N, H, W
    """
    def __init__(self, geo, out_hw):
        self.geo, self.out_hw = geo, tuple(out_hw)

    def forward(self, x, w, b=None):
        return conv_transpose(x, w, self.geo, self.out_hw, b)

    def backward(self, gy):
        x, w = self.inputs[:2]
        need = self.needs_input_grad
        gx = Conv2d(self.geo)(gy, w) if need[0] else None
        gw = Conv2dWeight(self.geo, w.shape[2:])(gy, x) if need[1] else None
        gb = _bias_grad(gy) if len(need) > 2 and need[2] else None
        return gx, gw, gb


class Conv2dWeight(Function):
    """gw = conv_weight(x, gy): the weight gradient of conv, as a Function of (x, gy).

    It is bilinear, so its backward is two convolutions:
    gx = conv_transpose(gy, ggw)      ggy = conv(x, ggw)
    """
    def __init__(self, geo, khw):
        self.geo, self.khw = geo, tuple(khw)

    def forward(self, x, gy):
        return conv_weight(x, gy, self.khw, self.geo)

    def backward(self, ggw):
        x, gy = self.inputs
        gx = ConvTranspose2d(self.geo, x.shape[2:])(gy, ggw) if self.needs_input_grad[0] else None
        ggy = Conv2d(self.geo)(x, ggw) if self.needs_input_grad[1] else None
        return gx, ggy


# ---- functional API (torch.nn.functional names) -----------------------------------------------
def _conv_pads(padding, khw, dilation, stride):
    """PyTorch padding (int, pair, 'valid', 'same') -> (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if pair(stride) != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(khw, pair(dilation)):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]  # the extra pixel goes right/bottom, as PyTorch
        return tuple(pads)
    return pads4(padding)


def _check(x, w, groups, transposed=False):
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"expected 4-D input and weight, got {x.shape} and {w.shape}")
    C = x.shape[1]
    cin = w.shape[0] if transposed else w.shape[1] * groups
    if C != cin or C % groups or w.shape[0] % groups:
        raise ValueError(f"input with {C} channels does not fit weight {w.shape} with groups={groups}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, relu=False):
    """2-D convolution (cross-correlation, as in every framework), PyTorch's F.conv2d.

    input (N, C, H, W), weight (C_out, C/groups, KH, KW), bias (C_out,) -> (N, C_out, OH, OW)
    padding: int, pair, 'valid' or 'same'. The output is NHWC in memory (see ops/im2col.py).
    relu=True (not in PyTorch): relu(conv2d(...)) as one op, faster; what nn.Sequential runs for
    a Conv2d followed by a ReLU.
    """
    _check(input, weight, groups)
    geo = Geometry(stride, _conv_pads(padding, weight.shape[2:], dilation, stride), dilation, groups)
    args = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d(geo, relu)(*args)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution ("deconvolution"), PyTorch's F.conv_transpose2d.

    input (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW) -> (N, C_out, OH, OW) with
    OH = (H - 1)*stride - 2*padding + dilation*(KH - 1) + output_padding + 1.
    It is the gradient of conv2d with respect to its input (the notes: insert s-1 zeros
    between pixels, pad k-p-1 zeros around, convolve with the flipped kernel).
    """
    _check(input, weight, groups, transposed=True)
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = pair(stride), pair(padding), pair(output_padding), pair(dilation)
    if oph >= max(sh, dh) or opw >= max(sw, dw):
        raise ValueError("output_padding must be smaller than either stride or dilation")
    KH, KW = weight.shape[2:]
    out_hw = ((input.shape[2] - 1) * sh - 2 * ph + dh * (KH - 1) + oph + 1,
              (input.shape[3] - 1) * sw - 2 * pw + dw * (KW - 1) + opw + 1)
    # the adjoint conv maps y back onto x: output_padding rows at the bottom/right are cropped
    geo = Geometry((sh, sw), (ph, ph - oph, pw, pw - opw), (dh, dw), groups)
    args = (input, weight) if bias is None else (input, weight, bias)
    return ConvTranspose2d(geo, out_hw)(*args)


def _one(v):
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def _as_2d(fn, input, weight, bias, stride, padding, dilation, groups, **extra):
    """Run a 1-D op through the 2-D one: (N, C, L) -> (N, C, 1, L), kernel (.., K) -> (.., 1, K)."""
    pad = padding if isinstance(padding, str) else (0, _one(padding))
    extra = {k: (0, _one(v)) for k, v in extra.items()}
    y = fn(input.unsqueeze(2), weight.unsqueeze(2), bias, stride=(1, _one(stride)), padding=pad,
           dilation=(1, _one(dilation)), groups=groups, **extra)
    return y.squeeze(2)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (PyTorch's F.conv1d): input (N, C, L), weight (C_out, C/groups, K)."""
    return _as_2d(conv2d, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution: input (N, C_in, L), weight (C_in, C_out/groups, K)."""
    return _as_2d(conv_transpose2d, input, weight, bias, stride, padding, dilation, groups,
                  output_padding=output_padding)
