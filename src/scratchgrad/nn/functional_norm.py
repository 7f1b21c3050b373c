"""Fused normalisation: batch_norm and layer_norm (re-exported by `nn.functional`).

Both are "normalise over some axes, then scale and shift"; they differ only in which axes:

    batch norm  x: (N, C, *)   statistics over N and *   gamma, beta: (C,)   shared over N and *
    layer norm  x: (*, S)      statistics over S         gamma, beta: S      shared over *
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from .functional_core import backward_inputs


def _standardize(x, axes, eps):
    """xhat = (x - mean) / sqrt(var + eps) over `axes` (biased variance). Works on ndarrays and
    on Tensors alike (the Tensor version is the differentiable path for double backward)."""
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=axes, keepdims=True)
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
        return xhat * gamma.reshape(self.pshape) + beta.reshape(self.pshape)

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
            gx = (gxhat - gxhat.mean(axis=A, keepdims=True)
                  - xhat * (gxhat * xhat).mean(axis=A, keepdims=True)) * inv_std
        if need[1]:
            ggamma = (gy * xhat).sum(axis=B).reshape(gamma.shape)
        if need[2]:
            gbeta = gy.sum(axis=B).reshape(beta.shape)
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
    for running, batch, correction in ((running_mean, norm.mean, 1.0), (running_var, norm.var, m / (m - 1))):
        if running is not None:
            running.data *= 1.0 - momentum
            running.data += (momentum * correction) * batch.reshape(C)
            running._version += 1
    return y


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
