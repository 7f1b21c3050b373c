"""The notes' pooling variants (NCHW): stochastic, median, combined max+avg, spatial pyramid (SPP),
bilinear and NetVLAD pooling.

Two of them pick ONE element per window (stochastic pooling in training, median pooling). They
share the window machinery of ops/pooling.py (`PoolGeometry`: padding and the K*K strided tap
slices `xp[key]`, each (N, C, OH, OW)): NumPy chooses a tap k per window, then

    PickTap:           y = tap k of each window             (a K*K loop of np.copyto ... where=(k == tap))
    PickTapTranspose:  gx = gy added back onto tap k        (K*K strided +=, PoolGeometry.scatter)

as a max pool whose winner is given. The pair closes under differentiation (each is the other's
backward), so second derivatives work. The others are compositions of existing differentiable
ops (pooling, matmul, softmax).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, get_rng
from .activation import softmax
from .arithmetic import abs, clamp, sqrt
from .im2col import is_channels_last
from .pooling import PoolGeometry, adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from .shape import cat


# ---- one element per window -----------------------------------------------------------------------
class PickTap(Function):
    """y[n, c, oh, ow] = tap k[n, c, oh, ow] of window (oh, ow) of the zero-padded input (0 where k = -1)

    gx = PickTapTranspose(gy): gy goes back to the picked element, nothing elsewhere.
    """
    saves_inputs = False

    def __init__(self, geo, k):
        self.geo, self.k = geo, k

    def forward(self, x):
        self.x_shape, self.channels_last = x.shape, is_channels_last(x)
        xp = self.geo.padded(x, 0.0)
        y = np.zeros(self.k.shape, x.dtype)
        for t, key in self.geo.offsets():
            np.copyto(y, xp[key], where=self.k == t)
        return y

    def backward(self, gy):
        return PickTapTranspose(self.geo, self.k, self.x_shape, self.channels_last)(gy)


class PickTapTranspose(Function):
    """gx = zeros(x_shape); gx[tap k of each window] += gy      its backward: ggy = PickTap(ggx)"""
    saves_inputs = False

    def __init__(self, geo, k, x_shape, channels_last):
        self.geo, self.k, self.x_shape, self.channels_last = geo, k, x_shape, channels_last

    def forward(self, gy):
        parts = (np.where(self.k == t, gy, 0) for t, _ in self.geo.offsets())
        return self.geo.scatter(parts, self.x_shape, gy.dtype, self.channels_last)

    def backward(self, ggx):
        return PickTap(self.geo, self.k)(ggx)


def _taps(x, geo):
    """The K*K tap views (N, C, OH, OW) of x zero-padded, in row-major order k = i*KW + j."""
    xp = geo.padded(x, 0.0)
    return [xp[key] for _, key in geo.offsets()]


def _geometry(x, kernel_size, stride, padding):
    return PoolGeometry(x.shape[2:], kernel_size, stride, padding, 1, False)


def _sample_taps(taps, rng):
    """Tap k of each window with probability a_k / sum(a) (inverse CDF, the K*K taps in a loop):
    u ~ U[0, sum a),  k = #{i < K*K-1 : a_0 + ... + a_i <= u};  k = -1 for all-zero windows."""
    total = taps[0].copy()
    for a in taps[1:]:
        total += a
    u = rng.random(total.shape, dtype=np.float32).astype(total.dtype, copy=False) * total
    k, running = np.zeros(total.shape, np.int32), np.zeros_like(total)
    for a in taps[:-1]:            # the running sum repeats total's additions: the last tap never exceeds u
        running += a
        k += running <= u
    k[total == 0] = -1
    return k


def _check_nonnegative(x, name):
    if (x.data < 0).any():
        raise ValueError(f"{name}: inputs must be non-negative (activations after a ReLU); the window's "
                         "values are used as sampling weights")


def stochastic_pool2d(input, kernel_size, stride=None, padding=0, training=True):
    """Stochastic pooling (Zeiler & Fergus 2013), (N, C, H, W) -> (N, C, OH, OW); inputs a >= 0.

    training: in each window sample ONE activation with probability p_i = a_i / sum_j a_j
              (a larger activation is more likely to be picked: 特征区域的大小越大,被选择的概率越高);
              y = a_k, gradient gy to the sampled element only. Uses sg's global generator
              (sg.manual_seed makes it reproducible).
    eval:     the expectation y = sum_i p_i a_i = sum_i a_i^2 / sum_i a_i, gradient
              dy/da_i = (2 a_i - y) / sum_j a_j.
    All-zero windows give 0 and, in training, pass no gradient. Padding adds zeros (never sampled).
    """
    _check_nonnegative(input, "stochastic_pool2d")
    geo = _geometry(input, kernel_size, stride, padding)
    if not training:
        total = avg_pool2d(input, kernel_size, stride, padding, divisor_override=1)        # sum_i a_i
        squares = avg_pool2d(input * input, kernel_size, stride, padding, divisor_override=1)
        empty = (total.data == 0).astype(input.dtype)
        return squares / (total + Tensor(empty))      # 0 / 1 in all-zero windows
    return PickTap(geo, _sample_taps(_taps(input.data, geo), get_rng()))(input)


def median_pool2d(input, kernel_size, stride=None, padding=0):
    """Median pooling (中值池化): y = the median of each window (the lower one of the two middle
    values for an even count, as torch.median); the gradient goes to the median element (the
    first one in the window on ties).

    input (N, C, H, W) -> (N, C, OH, OW); stride defaults to kernel_size; padding adds zeros.
    """
    geo = _geometry(input, kernel_size, stride, padding)
    taps = _taps(input.data, geo)
    mid = (len(taps) - 1) // 2
    median = np.partition(np.stack(taps, axis=-1), mid, axis=-1)[..., mid]   # 3x faster than argpartition
    k = np.full(median.shape, -1, np.int32)
    for t in reversed(range(len(taps))):      # the last write wins: the first tap holding the median
        np.copyto(k, t, where=taps[t] == median)
    return PickTap(geo, k)(input)


# ---- combined, pyramid -------------------------------------------------------------------------------
def _combine(avg, mx, mode):
    """The notes' 组合池化: 'add' -> 0.5 * (avg + max), 'cat' -> [avg, max] along channels."""
    if mode == "add":
        return (avg + mx) * 0.5
    if mode == "cat":
        return cat([avg, mx], 1)
    raise ValueError(f"mode must be 'add' or 'cat', got {mode!r}")


def avgmax_pool2d(input, kernel_size, stride=None, padding=0, mode="add"):
    """Combined max+avg pooling over k x k windows: mode='add' gives 0.5 * (max + avg) (the notes'
    add_avgmax_pool2d), mode='cat' concatenates [avg, max] -> (N, 2C, OH, OW)."""
    return _combine(avg_pool2d(input, kernel_size, stride, padding), max_pool2d(input, kernel_size, stride, padding),
                    mode)


def adaptive_avgmax_pool2d(input, output_size=1, mode="add"):
    """The notes' add_avgmax_pool2d / cat_avgmax_pool2d: adaptive avg and max pooling to
    output_size, combined as 0.5 * (avg + max) ('add') or [avg, max] on channels ('cat')."""
    return _combine(adaptive_avg_pool2d(input, output_size), adaptive_max_pool2d(input, output_size), mode)


def spatial_pyramid_pool2d(input, levels=(1, 2, 4), mode="max"):
    """Spatial pyramid pooling (He et al. 2014): (N, C, H, W) -> (N, C * sum(l*l)) for ANY H, W.

    Level l pools the map into an l x l grid with adaptive pooling (PyTorch's bins
    [floor(i*H/l), ceil((i+1)*H/l))); the grids are flattened (C, l, l) and concatenated level
    after level. mode: 'max' (the paper) or 'avg'.
    """
    pools = {"max": adaptive_max_pool2d, "avg": adaptive_avg_pool2d}
    if mode not in pools:
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    N = input.shape[0]
    return cat([pools[mode](input, (l, l)).reshape(N, -1) for l in levels], 1)


# ---- second-order and VLAD pooling --------------------------------------------------------------------
def l2_normalize(x, dim, eps=1e-12):
    """x / max(||x||_2, eps) along dim (PyTorch's F.normalize); no NaN gradient at x = 0."""
    norm = sqrt(clamp((x * x).sum(axis=dim, keepdims=True), min=eps * eps))
    return x / norm


def bilinear_pool2d(input1, input2=None, eps=1e-5):
    """Bilinear pooling (Lin et al. 2015): (N, C1, H, W), (N, C2, H, W) -> (N, C1*C2).

    z = (1/HW) sum over locations of the outer product x1 x2^T  (one batched matmul),
    z <- sign(z) sqrt(|z| + eps)   (signed square root),   z <- z / ||z||_2.
    input2=None pools input1 with itself (homogeneous / second-order pooling). Same formula
    and eps as the notes' code.
    """
    x2 = input1 if input2 is None else input2
    (N, C1, H, W), C2 = input1.shape, x2.shape[1]
    if x2.shape[0] != N or x2.shape[2:] != (H, W):
        raise ValueError(f"bilinear_pool2d: inputs of shapes {input1.shape} and {x2.shape} differ in N, H or W")
    a, b = input1.reshape(N, C1, H * W), x2.reshape(N, C2, H * W)
    z = (a @ b.transpose(1, 2)).reshape(N, C1 * C2) * (1.0 / (H * W))
    z = Tensor(np.sign(z.data)) * sqrt(abs(z) + eps)
    return l2_normalize(z, 1)


def netvlad(input, centroids, weight, bias=None, normalize_input=True):
    """NetVLAD (Arandjelovic et al. 2016): local descriptors -> one (N, K*D) vector.

    input (N, D, H, W): H*W descriptors x_i of size D; centroids c (K, D); weight (K, D, 1, 1) or
    (K, D) and bias (K,) of the 1x1 conv that soft-assigns descriptors to clusters:
        a_k(x_i) = softmax_k(w_k . x_i + b_k)
        V[k]     = sum_i a_k(x_i) (x_i - c_k) = (A X^T)[k] - c_k sum_i a_k(x_i)     (one matmul)
    then intra-normalisation (each V[k] to unit L2 norm) and L2 normalisation of the flattened V.
    normalize_input: scale each descriptor to unit norm first (as the reference implementation).
    """
    N, D = input.shape[:2]
    K = centroids.shape[0]
    x = input.reshape(N, D, -1)                                      # (N, D, P)
    if normalize_input:
        x = l2_normalize(x, 1)
    logits = weight.reshape(K, D) @ x                                # (N, K, P)
    if bias is not None:
        logits = logits + bias.reshape(K, 1)
    # softmax is shift invariant; logits more than 40 below the best cluster are raised to -40 (a change of
    # < 1e-17 in a): with alpha = 100 their e^z would be denormal floats, which made each matmul ~200x slower
    logits = clamp(logits - Tensor(logits.data.max(axis=1, keepdims=True)), min=-40.0)
    a = softmax(logits, dim=1)
    vlad = a @ x.transpose(1, 2) - centroids * a.sum(axis=2, keepdims=True)     # (N, K, D)
    vlad = l2_normalize(vlad, 2)
    return l2_normalize(vlad.reshape(N, K * D), 1)
