"""Normalisation (re-exported by `nn.functional`).

All but LRN are "normalise over some axes, then scale and shift"; they differ only in which
axes, so they share one fused Function, `Normalize`:

    batch norm     x: (N, C, *)   statistics over N and *             gamma, beta: (C,)  shared over N, *
    layer norm     x: (*, S)      statistics over S                   gamma, beta: S     shared over *
    instance norm  x: (N, C, *)   statistics over * (per n, c)        gamma, beta: (C,)  shared over N, *
    group norm     x: (N, C, *)   statistics over C/G channels and *  gamma, beta: (C,)  shared over N, *
                                  (per n and group of channels)
Switchable norm mixes the IN, LN and BN statistics with learned weights (plain Tensor ops).
Local response normalisation (AlexNet) divides by a sum of squares over neighbouring channels.
"""
from __future__ import annotations

import math
import string

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ..ops import softmax
from .functional_core import backward_inputs


def _sum(a, axes, b=None):
    """sum over `axes` (keepdims) of a, or of a * b. ndarrays: one np.einsum, which forms no
    product temporary and reduces 3-8x faster than (a * b).sum here; Tensors (create_graph): the
    differentiable ops."""
    if isinstance(a, Tensor):
        return (a if b is None else a * b).sum(axis=axes, keepdims=True)
    idx = string.ascii_letters[:a.ndim]
    operands = (a,) if b is None else (a, b)
    s = np.einsum(",".join([idx] * len(operands)) + "->" + "".join(c for i, c in enumerate(idx) if i not in axes),
                  *operands)
    return s.reshape([1 if i in axes else n for i, n in enumerate(a.shape)])


def _mean(a, axes, b=None):
    """mean over `axes` (keepdims) of a, or of a * b."""
    return _sum(a, axes, b) * (1.0 / math.prod(a.shape[i] for i in axes))


def _standardize(x, axes, eps):
    """xhat = (x - mean) / sqrt(var + eps) over `axes` (biased variance). Works on ndarrays and
    on Tensors alike (the Tensor version is the differentiable path for double backward)."""
    mu = _mean(x, axes)
    xc = x - mu
    var = _mean(xc, axes, xc)
    inv_std = (var + eps) ** -0.5
    return xc * inv_std, inv_std, mu, var


class Normalize(Function):
    """y = gamma * xhat + beta,  xhat = (x - mean_A x) / sqrt(var_A x + eps)

    The book's computational graph for batch norm, collapsed into one node:
        gbeta  = sum_B gy              ggamma = sum_B gy * xhat        gxhat = gy * gamma
        gx     = (gxhat - mean_A gxhat - xhat * mean_A(gxhat * xhat)) / sqrt(var + eps)
    A: the axes averaged over; B: the axes gamma and beta are shared over; pshape: the
    shape gamma and beta broadcast as."""

    def __init__(self, axes, param_axes, pshape, eps):
        self.axes, self.param_axes, self.pshape, self.eps = axes, param_axes, pshape, eps

    def forward(self, x, gamma, beta):
        xhat, inv_std, self.mean, self.var = _standardize(x, self.axes, self.eps)
        self.xhat, self.inv_std = xhat, inv_std
        y = xhat * gamma.reshape(self.pshape)
        y += beta.reshape(self.pshape)
        return y

    def backward(self, gy):
        (x, gamma, beta), gy = backward_inputs(self, gy)
        if isinstance(x, Tensor):   # create_graph: recompute xhat from x so that it is differentiable
            xhat, inv_std, _, _ = _standardize(x, self.axes, self.eps)
        else:
            xhat, inv_std = self.xhat, self.inv_std
        A, B = self.axes, self.param_axes
        need = self.needs_input_grad
        gx = ggamma = gbeta = None
        if need[0]:
            gxhat = gy * gamma.reshape(self.pshape)
            gx = (gxhat - _mean(gxhat, A) - xhat * _mean(gxhat, A, xhat)) * inv_std
        if need[1]:
            ggamma = _sum(gy, B, xhat).reshape(gamma.shape)
        if need[2]:
            gbeta = _sum(gy, B).reshape(beta.shape)
        return gx, ggamma, gbeta


def _affine_params(weight, bias, shape, dtype):
    """gamma and beta as Tensors; constants 1 and 0 when the layer has no affine parameters."""
    gamma = weight if weight is not None else Tensor(np.ones(shape, dtype))
    beta = bias if bias is not None else Tensor(np.zeros(shape, dtype))
    return gamma, beta


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of input (N, C, *) per channel C (PyTorch's F.batch_norm).

    training=True: normalise with the batch mean and the BIASED batch variance, and update
    the running statistics in place (if given) with the UNBIASED variance:
        running = (1 - momentum) * running + momentum * batch_statistic
    training=False: normalise with running_mean and running_var."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *), got {input.shape}")
    C = input.shape[1]
    pshape = (1, C) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: training=False needs running_mean and running_var")
        # an affine map y = x * scale + shift: two ops, differentiable to any order
        inv_std = Tensor((running_var.data + eps) ** -0.5)
        scale = inv_std if weight is None else weight * inv_std
        shift = -(Tensor(running_mean.data) * scale)
        shift = shift if bias is None else shift + bias
        return input * scale.reshape(pshape) + shift.reshape(pshape)
    m = input.data.size // C
    if m <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    gamma, beta = _affine_params(weight, bias, (C,), input.dtype)
    norm = Normalize(axes, axes, pshape, eps)
    y = norm(input, gamma, beta)
    _update_running(running_mean, running_var, norm.mean.reshape(C), norm.var.reshape(C), m, momentum)
    return y


def _update_running(running_mean, running_var, mean, var, m, momentum):
    """running = (1 - momentum) * running + momentum * statistic, in place; the variance made
    unbiased (times m / (m - 1), m values per statistic) as PyTorch stores it."""
    for running, stat, correction in ((running_mean, mean, 1.0), (running_var, var, m / (m - 1))):
        if running is not None:
            running.data *= 1.0 - momentum
            running.data += (momentum * correction) * stat
            running._version += 1


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) dims of each sample (PyTorch's F.layer_norm)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if input.shape[input.ndim - k:] != shape:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end with normalized_shape {shape}")
    axes = tuple(range(input.ndim - k, input.ndim))
    gamma, beta = _affine_params(weight, bias, shape, input.dtype)
    if math.prod(shape) == 0:
        return input
    return Normalize(axes, tuple(range(input.ndim - k)), shape, eps)(input, gamma, beta)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalisation (Ulyanov et al., 2016; PyTorch's F.instance_norm): each sample's
    channel of input (N, C, *) normalised over its own spatial dims *, then weight/bias per channel.

    use_input_stats=True: the instance statistics; running_mean/var (if given) move towards their
    mean over the batch (the variance unbiased). False: normalise with the running statistics."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, *) with 3 or more dims, got {input.shape}")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, training=False, eps=eps)
    N, C, *rest = input.shape
    m = math.prod(rest)
    if m <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    spatial = tuple(range(2, input.ndim))
    gamma, beta = _affine_params(weight, bias, (C,), input.dtype)
    norm = Normalize(spatial, (0,) + spatial, (1, C) + (1,) * len(rest), eps)
    y = norm(input, gamma, beta)
    _update_running(running_mean, running_var, norm.mean.reshape(N, C).mean(0), norm.var.reshape(N, C).mean(0),
                    m, momentum)
    return y


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalisation (Wu & He, 2018; PyTorch's F.group_norm): the C channels of input (N, C, *)
    form num_groups groups of C/G consecutive channels; each sample's group is normalised over its
    channels and spatial dims, then weight/bias (C,) per channel. G=1: layer norm over (C, *);
    G=C: instance norm. Done as Normalize on the view (N, G, C/G, *)."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got {input.shape}")
    N, C, *rest = input.shape
    if num_groups < 1 or C % num_groups:
        raise ValueError(f"group_norm: number of channels {C} (input {input.shape}) must be divisible by "
                         f"num_groups={num_groups}")
    G = num_groups
    x = input.reshape(N, G, C // G, *rest)
    gamma, beta = _affine_params(weight, bias, (C,), input.dtype)
    norm = Normalize(tuple(range(2, x.ndim)), (0,) + tuple(range(3, x.ndim)), (1, G, C // G) + (1,) * len(rest),
                     eps)
    return norm(x, gamma, beta).reshape(input.shape)


def switchable_norm(input: Tensor, mean_weight: Tensor, var_weight: Tensor, running_mean: Tensor | None = None,
                    running_var: Tensor | None = None, weight: Tensor | None = None, bias: Tensor | None = None,
                    training: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Switchable normalisation (Luo et al., 2018) of input (N, C, *): normalise with a learned mix
    of the instance (IN), layer (LN) and batch (BN) statistics,

        mu  = sum_k softmax(mean_weight)_k mu_k      k in (IN, LN, BN); mean_weight, var_weight: (3,)
        var = sum_k softmax(var_weight)_k var_k      y = (x - mu) / sqrt(var + eps) * weight + bias

    IN statistics over * per (n, c); LN and BN ones derived from them (all variances biased):
        mu_ln = mean_c mu_in    var_ln = mean_c (var_in + mu_in^2) - mu_ln^2    (and over n for BN).
    training=True: BN statistics of the batch; running_mean/var (if given) updated as in batch_norm.
    training=False: BN statistics from running_mean/var. Written in Tensor ops: any-order gradients."""
    if input.ndim < 3:
        raise ValueError(f"switchable_norm: expected input of shape (N, C, *) with 3 or more dims, got {input.shape}")
    if mean_weight.shape != (3,) or var_weight.shape != (3,):
        raise ValueError(f"switchable_norm: mean_weight and var_weight must have shape (3,), got "
                         f"{mean_weight.shape} and {var_weight.shape}")
    N, C, *rest = input.shape
    if training and N * math.prod(rest) <= 1:
        raise ValueError(f"switchable_norm: expected more than 1 value per channel when training, got input size "
                         f"{input.shape}")
    pshape = (1, C) + (1,) * len(rest)
    spatial = tuple(range(2, input.ndim))
    mu_in = input.mean(axis=spatial, keepdims=True)                         # (N, C, 1, ..)
    xc = input - mu_in
    var_in = (xc * xc).mean(axis=spatial, keepdims=True)
    sq_in = var_in + mu_in * mu_in                                          # E[x^2] per (n, c)
    mu_ln = mu_in.mean(axis=1, keepdims=True)                               # (N, 1, 1, ..)
    var_ln = sq_in.mean(axis=1, keepdims=True) - mu_ln * mu_ln
    if training:
        mu_bn = mu_in.mean(axis=0, keepdims=True)                           # (1, C, 1, ..)
        var_bn = sq_in.mean(axis=0, keepdims=True) - mu_bn * mu_bn
        _update_running(running_mean, running_var, mu_bn.data.reshape(C), var_bn.data.reshape(C),
                        N * math.prod(rest), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("switchable_norm: training=False needs running_mean and running_var")
        mu_bn, var_bn = Tensor(running_mean.data.reshape(pshape)), Tensor(running_var.data.reshape(pshape))
    wm, wv = softmax(mean_weight, 0), softmax(var_weight, 0)
    mu = wm[0] * mu_in + wm[1] * mu_ln + wm[2] * mu_bn
    var = wv[0] * var_in + wv[1] * var_ln + wv[2] * var_bn
    y = (input - mu) * (var + eps) ** -0.5
    if weight is not None:
        y = y * weight.reshape(pshape)
    if bias is not None:
        y = y + bias.reshape(pshape)
    return y


# ---- local response normalisation (AlexNet) ---------------------------------------------------
def _along(axis, lo, hi):
    """The index selecting lo:hi along `axis` (all of every dim before it)."""
    return (slice(None),) * axis + (slice(lo, hi),)


class WindowSum(Function):
    """y[j] = sum of x[i] for i in [j - before, j + after] along `axis` (zero outside the array)

    A linear map; its transpose sums the mirrored window, so
        gx[i] = sum of gy[j] for j in [i - after, i + before] = WindowSum(axis, after, before)(gy)
    and the op is differentiable to any order. The loop runs over the before + after + 1 window
    offsets (5 for AlexNet), each one strided add over the whole array."""
    saves_inputs = False

    def __init__(self, axis: int, before: int, after: int):
        self.axis, self.before, self.after = axis, before, after

    def forward(self, x):
        n, y = x.shape[self.axis], x.copy()            # offset 0
        for off in range(-self.before, self.after + 1):
            if off != 0 and abs(off) < n:                 # y[j] += x[j + off] where both exist
                lo, hi = max(0, -off), min(n, n - off)
                y[_along(self.axis, lo, hi)] += x[_along(self.axis, lo + off, hi + off)]
        return y

    def backward(self, gy):
        return WindowSum(self.axis, self.after, self.before)(gy)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Local response normalisation across channels (Krizhevsky et al., 2012; PyTorch's F.local_response_norm).

        y_c = x_c / (k + alpha / size * sum_{c' in window(c)} x_c'^2) ** beta
        window(c) = channels c - size//2 ... c + (size-1)//2 that exist      input (N, C, *) -> same shape"""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected input of shape (N, C, *) with 3 or more dims, "
                         f"got {input.shape}")
    if size < 1:
        raise ValueError(f"local_response_norm: size must be >= 1, got {size}")
    sq_sum = WindowSum(1, size // 2, (size - 1) // 2)(input * input)
    return input * (sq_sum * (alpha / size) + k) ** -beta
