"""Deformable convolution v1 (Dai et al. 2017), with the optional v2 mask; torchvision's semantics.

The notes (可变卷积): add an offset to where each kernel tap reads, so the convolution no longer
samples a regular grid; positions that are not integers are read by bilinear interpolation.
Tap k = (i, j) of output pixel (oh, ow) reads the input at

    py = oh*sh - ph + i*dh + dy[k, oh, ow]          px = ow*sw - pw + j*dw + dx[k, oh, ow]

and it is still "im2col + ONE matrix product" (as ops/conv.py), only the im2col changes:

    cols = B(offset) X        y = cols @ W^T + b

X is the input as an (N*H*W, C) matrix, and B is a SPARSE (rows = sampled points, cols = pixels)
matrix with (at most) four entries per row, the bilinear weights of the four pixels around
(py, px), with ly = py - floor(py), lx = px - floor(px):

    corner:    (y0, x0)           (y0, x0+1)       (y0+1, x0)       (y0+1, x0+1)
    weight:    (1-ly)(1-lx)       (1-ly) lx        ly (1-lx)        ly lx
    d/d dy:    -(1-lx)            -lx              (1-lx)           lx
    d/d dx:    -(1-ly)            (1-ly)           -ly              ly

Pixels outside the image read as 0 (their weight is 0). The backward pass reuses the same
sparse pattern:  gX = B^T gcols  (a sparse product, no np.add.at),  g_dy = <gcols, B_dy X> row by
row (B_dy: the same pattern with the d/d dy weights), g_dx likewise; W and b get the usual GEMM
gradients through the matmul. v2's mask m (one per tap) scales each sampled value: cols = m * (B X).

Layouts (torchvision.ops.deform_conv2d): offset (N, 2*G_off*KH*KW, OH, OW), channel
g*2*KH*KW + 2*k + {0: dy, 1: dx}; mask (N, G_off*KH*KW, OH, OW), channel g*KH*KW + k. Input
channel c uses offset group c // (C / G_off). Any offset_groups and weight groups are supported.
The sampling Function has a fused NumPy backward: deform_conv2d is once differentiable.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from ..autograd.function import Function
from ..tensor import Tensor
from .im2col import conv_out_size, pair


class DeformIm2col(Function):
    """cols (N*OH*OW, KH*KW*C), columns ordered (k, c), from x (N, C, H, W) sampled at the
    deformed positions: cols = [mask *] B(offset) X.        Inputs: x, offset[, mask].

    gx = B^T (m gcols)      g_dy = m <gcols, B_dy X>      g_dx = m <gcols, B_dx X>      gm = <gcols, B X>
    """
    once_differentiable = True

    def __init__(self, khw, stride, padding, dilation, out_hw, offset_groups):
        self.khw, self.stride, self.padding, self.dilation = khw, stride, padding, dilation
        self.out_hw, self.G = out_hw, offset_groups

    # -- the sampling matrix ------------------------------------------------------------------
    def _positions(self, offset):
        """Sampling points (py, px), each (N, OH, OW, KK, G) flattened: row r = (n, oh, ow, k, g)."""
        (KH, KW), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = (self.khw, self.stride, self.padding, self.dilation,
                                                              self.out_hw)
        N = offset.shape[0]
        off = offset.reshape(N, self.G, KH * KW, 2, OH, OW).transpose(0, 4, 5, 2, 1, 3)  # (N, OH, OW, KK, G, 2)
        k = np.arange(KH * KW)
        base_y = (np.arange(OH) * sh - ph)[:, None] + (k // KW) * dh                    # (OH, KK)
        base_x = (np.arange(OW) * sw - pw)[:, None] + (k % KW) * dw                     # (OW, KK)
        py = off[..., 0] + base_y[None, :, None, :, None].astype(offset.dtype)
        px = off[..., 1] + base_x[None, None, :, :, None].astype(offset.dtype)
        return py.reshape(-1), px.reshape(-1)

    def _build(self, x_shape, offset):
        """The four corners of every sampling point, corner-major (4, R) (long rows are fast in NumPy):
        their rows in X (any row when the corner is outside the image), the weight factors hy, hx
        and the corners' validity fy, fx (1 inside, 0 outside), so that (see the table above)
        w = hy hx,   dw/d dy = sy fy hx,   dw/d dx = hy sx fx   with signs sy = (-1, -1, 1, 1), sx = (-1, 1, -1, 1)."""
        N, C, H, W = x_shape
        G, (OH, OW), KK = self.G, self.out_hw, self.khw[0] * self.khw[1]
        py, px = self._positions(offset)
        np.clip(py, -2, H + 1, out=py)          # far-away (even infinite) points stay outside, read as 0
        np.clip(px, -2, W + 1, out=px)
        y0, x0 = np.floor(py), np.floor(px)
        ly, lx = py - y0, px - x0
        y0, x0 = y0.astype(np.int32), x0.astype(np.int32)
        in_y = [(y0 >= 0) & (y0 < H), (y0 >= -1) & (y0 < H - 1)]         # rows y0 and y0 + 1 inside
        in_x = [(x0 >= 0) & (x0 < W), (x0 >= -1) & (x0 < W - 1)]
        vy = np.stack([in_y[0], in_y[0], in_y[1], in_y[1]])               # corner order (0,0) (0,1) (1,0) (1,1)
        vx = np.stack([in_x[0], in_x[1], in_x[0], in_x[1]])
        fy, fx = vy.astype(offset.dtype), vx.astype(offset.dtype)
        ky, kx = 1 - ly, 1 - lx
        self.hy, self.hx = np.stack([ky, ky, ly, ly]) * fy, np.stack([kx, lx, kx, lx]) * fx
        self.fy, self.fx = fy, fx
        itype = np.int32 if 4 * len(py) < 2 ** 31 and N * H * W * G < 2 ** 31 else np.int64   # scipy's index type
        pixel = (y0 * W + x0).astype(itype) + np.array([0, 1, W, W + 1], itype)[:, None]  # y*W + x per corner
        pixel *= vy & vx                                                   # outside -> pixel 0 (weight 0)
        first = np.arange(N, dtype=itype)[:, None] * (H * W * G) + np.arange(G, dtype=itype)   # row of (n, 0, g)
        first = np.broadcast_to(first[:, None, None, None, :], (N, OH, OW, KK, G)).reshape(-1)
        self.index = (pixel * G + first if G > 1 else pixel + first).T.ravel()
        self.indptr = np.arange(0, self.index.size + 1, 4, dtype=itype)
        self.n_rows = N * H * W * G

    def _matrix(self, data):
        """The (R, N*H*W*G) sparse matrix with the shared pattern and the values data (4, R)."""
        return sparse.csr_array((data.T.ravel(), self.index, self.indptr), shape=(len(self.indptr) - 1, self.n_rows))

    # -- forward and backward -----------------------------------------------------------------
    def forward(self, x, offset, mask=None):
        N, C = x.shape[:2]
        self._build(x.shape, offset)
        self.X = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, C // self.G)   # (N*H*W*G, C/G)
        self.B = self._matrix(self.hy * self.hx)
        samples = self.B @ self.X                                                         # (R, C/G)
        if mask is not None:
            self.samples, self.m = samples, self._rows(mask)
            samples = samples * self.m[:, None]
        OH, OW = self.out_hw
        return samples.reshape(N * OH * OW, -1)

    def _rows(self, mask):
        """mask (N, G*KK, OH, OW) -> (R,) in row order (n, oh, ow, k, g)."""
        N, (OH, OW) = mask.shape[0], self.out_hw
        return mask.reshape(N, self.G, -1, OH, OW).transpose(0, 3, 4, 2, 1).reshape(-1)

    def backward(self, gcols):
        x, offset = self.inputs[:2]
        need = self.needs_input_grad
        N, C, H, W = x.shape
        (OH, OW), KK, G = self.out_hw, self.khw[0] * self.khw[1], self.G
        gc = gcols.data.reshape(-1, C // G)                                                # (R, C/G)
        masked = len(need) > 2
        gcm = gc * self.m[:, None] if masked else gc
        gx = goff = gmask = None
        if need[0]:
            gX = self.B.T @ gcm                                                            # scatter by sparse GEMM
            gx = Tensor(gX.reshape(N, H, W, C).transpose(0, 3, 1, 2))
        if need[1]:
            sy = self.fy * np.array([-1, -1, 1, 1], self.fy.dtype)[:, None]     # d hy / d dy
            sx = self.fx * np.array([-1, 1, -1, 1], self.fx.dtype)[:, None]     # d hx / d dx
            g_dy = _rowdot(gcm, self._matrix(sy * self.hx) @ self.X)
            g_dx = _rowdot(gcm, self._matrix(self.hy * sx) @ self.X)
            g = np.stack([g_dy, g_dx], axis=1).reshape(N, OH, OW, KK, G, 2)
            goff = Tensor(np.ascontiguousarray(g.transpose(0, 4, 3, 5, 1, 2)).reshape(offset.shape))
        if masked and need[2]:
            g = _rowdot(gc, self.samples).reshape(N, OH, OW, KK, G)
            gmask = Tensor(np.ascontiguousarray(g.transpose(0, 4, 3, 1, 2)).reshape(N, G * KK, OH, OW))
        return gx, goff, gmask


def _rowdot(a, b):
    """<a[r], b[r]> for every row r."""
    return np.einsum("rc,rc->r", a, b)


def _weight_matrix(weight, groups):
    """(Co, C/G, KH, KW) -> (G, KH*KW*C/G, Co/G): the GEMM operand for columns ordered (k, c)."""
    Co, Cg, KH, KW = weight.shape
    w = weight.reshape(groups, Co // groups, Cg, KH * KW).permute(0, 3, 2, 1)
    return w.reshape(groups, KH * KW * Cg, Co // groups)


def deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None):
    """Deformable convolution, torchvision.ops.deform_conv2d's semantics and layouts.

    input (N, C, H, W); offset (N, 2*G_off*KH*KW, OH, OW) of (dy, dx) pairs per kernel tap;
    weight (C_out, C/groups, KH, KW); bias (C_out,); mask (N, G_off*KH*KW, OH, OW) or None (v1).
    -> (N, C_out, OH, OW), NHWC in memory as conv2d's output. Zero offsets give conv2d.
    offset_groups G_off = offset.shape[1] // (2*KH*KW), weight groups = C // weight.shape[1].
    Gradients for input, offset, weight, bias and mask (first order only).
    """
    N, C, H, W = input.shape
    Co, Cg, KH, KW = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    out_hw = (conv_out_size(H, KH, sh, ph, dh), conv_out_size(W, KW, sw, pw, dw))
    G_off, rest = divmod(offset.shape[1], 2 * KH * KW)
    if rest or G_off == 0 or C % G_off or offset.shape[2:] != out_hw or offset.shape[0] != N:
        raise ValueError(f"deform_conv2d: offset of shape {offset.shape} does not fit: expected "
                         f"(N={N}, 2*offset_groups*{KH}*{KW}, {out_hw[0]}, {out_hw[1]}) with offset_groups "
                         f"dividing C={C}")
    if C % Cg or Co % (C // Cg):
        raise ValueError(f"deform_conv2d: input with {C} channels does not fit weight {weight.shape}")
    if mask is not None and mask.shape != (N, G_off * KH * KW) + out_hw:
        raise ValueError(f"deform_conv2d: mask of shape {mask.shape}, expected {(N, G_off * KH * KW) + out_hw}")
    sample = DeformIm2col((KH, KW), (sh, sw), (ph, pw), (dh, dw), out_hw, G_off)
    cols = sample(input, offset) if mask is None else sample(input, offset, mask)     # (N*OH*OW, KK*C)
    G, M = C // Cg, cols.shape[0]
    wm = _weight_matrix(weight, G)
    if G == 1:
        y = cols @ wm[0]                                                              # the one GEMM
    else:  # columns (k, g, c) -> (g, rows, (k, c)): one GEMM per group
        y = cols.reshape(M, KH * KW, G, Cg).permute(2, 0, 1, 3).reshape(G, M, -1) @ wm
        y = y.permute(1, 0, 2).reshape(M, Co)
    if bias is not None:
        y = y + bias
    return y.reshape(N, *out_hw, Co).permute(0, 3, 1, 2)
