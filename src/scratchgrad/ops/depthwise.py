"""Depthwise convolution (groups == C_in: MobileNet, ShuffleNet), the three kernels of ops/conv.py.

One filter per input channel: a GEMM per group would be C tiny GEMMs, so depthwise convolution
is written directly as K*K multiply-adds of strided slices (the taps), a block of samples at a
time so the K*K passes stay in cache. The Functions of ops/conv.py call these for groups == C_in
(same double backward).
"""
from __future__ import annotations

import numpy as np

from .blocks import sample_blocks
from .im2col import add_bias, channel_sum, empty_image, is_channels_last, pad_image, taps


def _is_depthwise(C_in, groups):
    return groups > 1 and groups == C_in


def _split_mult(a, C):
    """(N, C*m, H, W) -> view (N, C, m, H, W): output channel c*m + j belongs to input channel c."""
    N, Cm, H, W = a.shape
    return a.reshape(N, C, Cm // C, H, W)


def _depthwise_blocks(N, C, taps_out, itemsize):
    """Sample blocks for the tap loops: all K*K passes over a block then run in the L2 cache."""
    return sample_blocks(N, C * taps_out[0] * taps_out[1] * itemsize, workers=1)   # one thread runs them


def depthwise_forward(x, w, geo, out_hw, bias=None):
    """y[n, c*m+j] = sum over taps (i, j') of w[c*m+j, 0, i, j'] * x_pad[n, c, tap window]."""
    N, C = x.shape[:2]
    xp = pad_image(x, geo.pads)
    y = empty_image((N, w.shape[0], *out_hw), np.result_type(x, w), is_channels_last(x))
    y5, w3 = _split_mult(y, C), w.reshape(C, -1, w.shape[2] * w.shape[3])
    for blk in _depthwise_blocks(N, w.shape[0], out_hw, y.itemsize):
        yb, xb = y5[blk], xp[blk]
        tmp = np.empty_like(yb)
        for k, key in taps(*w.shape[2:], geo.stride, geo.dilation, out_hw):
            term = np.multiply(xb[key][:, :, None], w3[:, :, k, None, None], out=yb if k == 0 else tmp)
            if k:
                yb += term
    if bias is not None:
        add_bias(y, bias)
    return y


def depthwise_weight(x, gy, khw, geo):
    """gw[c*m+j, 0, tap] = sum over n, oh, ow of gy[n, c*m+j] * x_pad[n, c, tap window]."""
    N, C = x.shape[:2]
    xp = pad_image(x, geo.pads)
    g5 = _split_mult(gy, C)
    gw = np.zeros((gy.shape[1], khw[0] * khw[1]), dtype=np.result_type(x, gy))
    for blk in _depthwise_blocks(N, gy.shape[1], gy.shape[2:], gw.itemsize):
        gb, xb = g5[blk], xp[blk]
        tmp = np.empty_like(gb)
        for k, key in taps(*khw, geo.stride, geo.dilation, gy.shape[2:]):
            np.multiply(gb, xb[key][:, :, None], out=tmp)
            gw[:, k] += channel_sum(tmp.reshape(len(tmp), *gy.shape[1:]))
    return gw.reshape(gy.shape[1], 1, *khw)


def depthwise_transpose(gy, w, geo, in_hw, bias=None):
    """gx_pad[n, c, tap window] += sum over j of gy[n, c*m+j] * w[c*m+j, 0, tap]: K*K strided +=."""
    N, C = gy.shape[0], geo.groups
    t, b, l, r = geo.pads
    shape = (N, C, in_hw[0] + t + max(b, 0), in_hw[1] + l + max(r, 0))
    gxp = empty_image(shape, np.result_type(gy, w), is_channels_last(gy))
    gxp.fill(0)
    g5, w3 = _split_mult(gy, C), w.reshape(C, -1, w.shape[2] * w.shape[3])
    for blk in _depthwise_blocks(N, gy.shape[1], gy.shape[2:], gxp.itemsize):
        gb, gxb = g5[blk], gxp[blk]
        tmp = np.empty_like(gb)
        for k, key in taps(*w.shape[2:], geo.stride, geo.dilation, gy.shape[2:]):
            term = np.multiply(gb, w3[:, :, k, None, None], out=tmp)
            gxb[key] += term[:, :, 0] if term.shape[2] == 1 else term.sum(axis=2)
    if bias is not None:
        add_bias(gxp, bias)  # before cropping: the padding is thrown away anyway
    return gxp[:, :, t:t + in_hw[0], l:l + in_hw[1]]
