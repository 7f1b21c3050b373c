"""BatchNorm1d/2d, LayerNorm, LocalResponseNorm, InstanceNorm1d/2d/3d, GroupNorm, SwitchableNorm2d."""
from __future__ import annotations

import numpy as np

from ...tensor import DEFAULT_DTYPE, Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class _BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy, 2015) per channel (dim 1).

    train(): normalise with the batch's mean and biased variance; update the buffers
        running_mean/running_var (momentum 0.1; running_var gets the UNBIASED variance)
        and count num_batches_tracked. momentum=None: cumulative average instead.
    eval():  normalise with the running statistics.
    Parameters weight (gamma, init 1) and bias (beta, init 0) if affine (bias=False: no beta)."""

    expected_ndims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        dtype = dtype or DEFAULT_DTYPE
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x):
        if x.ndim not in self.expected_ndims:
            raise ValueError(f"{self._get_name()}: expected {' or '.join(f'{n}D' for n in self.expected_ndims)} "
                             f"input (got {x.ndim}D input of shape {x.shape})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self._get_name()}: expected {self.num_features} channels (dim 1), got input "
                             f"of shape {x.shape}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return self._normalize(x, self.running_mean if track else None, self.running_var if track else None,
                               use_batch_stats, momentum)

    def _normalize(self, x, running_mean, running_var, use_batch_stats, momentum):
        return F.batch_norm(x, running_mean, running_var, self.weight, self.bias, use_batch_stats, momentum,
                            self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm for (N, C) or (N, C, L) input: statistics over N (and L) per channel C."""
    expected_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm for (N, C, H, W) input: statistics over N, H, W per channel C."""
    expected_ndims = (4,)


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016): each sample normalised over its last dims
    `normalized_shape`, then scaled by weight (init 1) and shifted by bias (init 0)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        dtype = dtype or DEFAULT_DTYPE
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(shape, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalisation across channels (AlexNet): see F.local_response_norm."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class _InstanceNorm(_BatchNorm):
    """Instance normalisation (Ulyanov et al., 2016): each sample's channel normalised over its
    spatial dims. Defaults as PyTorch: affine=False, track_running_stats=False (then train and
    eval both use the instance statistics). With track_running_stats, eval() uses the running
    statistics, which train() moves towards the batch average of the instance statistics.
    Unbatched input (C, *) is accepted too."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x):
        batched = self.expected_ndims[1]
        if x.ndim not in self.expected_ndims:
            raise ValueError(f"{self._get_name()}: expected {batched - 1}D (unbatched) or {batched}D (batched) "
                             f"input, got {x.ndim}D input of shape {x.shape}")
        if x.ndim < batched:
            return self.forward(x.unsqueeze(0)).squeeze(0)
        if self.affine and x.shape[1] != self.num_features:
            raise ValueError(f"{self._get_name()}: expected {self.num_features} channels (dim 1), got input "
                             f"of shape {x.shape}")
        momentum = 0.0 if self.momentum is None else self.momentum
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats, momentum, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm for (N, C, L) or (C, L) input: statistics over L per sample and channel."""
    expected_ndims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance norm for (N, C, H, W) or (C, H, W) input: statistics over H, W per sample and channel."""
    expected_ndims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance norm for (N, C, D, H, W) or (C, D, H, W) input."""
    expected_ndims = (4, 5)


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): see F.group_norm. weight (init 1) and bias (init 0)
    of shape (num_channels,) if affine. Independent of the batch size: no running statistics."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        dtype = dtype or DEFAULT_DTYPE
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.register_parameter("weight", Parameter(np.ones(num_channels, dtype)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_channels, dtype)) if affine and bias else None)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input (N, {self.num_channels}, *), got {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class SwitchableNorm2d(_BatchNorm):
    """Switchable normalisation (Luo et al., 2018) of (N, C, H, W) input: see F.switchable_norm.

    Parameters as BatchNorm2d (weight, bias) plus mean_weight and var_weight (3,), init 1: the
    logits of the softmax mixes of the (IN, LN, BN) means and variances. Buffers as BatchNorm2d:
    train() updates the running BN statistics, eval() uses them in the BN term."""
    expected_ndims = (4,)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        dtype = dtype or DEFAULT_DTYPE
        self.mean_weight = Parameter(np.ones(3, dtype))
        self.var_weight = Parameter(np.ones(3, dtype))

    def reset_parameters(self):
        super().reset_parameters()
        init.ones_(self.mean_weight)
        init.ones_(self.var_weight)

    def _normalize(self, x, running_mean, running_var, use_batch_stats, momentum):
        return F.switchable_norm(x, self.mean_weight, self.var_weight, running_mean, running_var, self.weight,
                                 self.bias, use_batch_stats, momentum, self.eps)
