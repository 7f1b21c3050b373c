"""The notes' pooling variants as layers (around `ops/pooling_variants.py`).

StochasticPool2d, MedianPool2d, AvgMaxPool2d, AdaptiveAvgMaxPool2d (combined max+avg, 'add' or
'cat'), SpatialPyramidPooling, BilinearPooling: no parameters, they only hold their settings.
NetVLAD has parameters: a 1x1 conv (`conv.weight`, `conv.bias`) and `centroids`.
"""
from __future__ import annotations

import numpy as np

from ...tensor import DEFAULT_DTYPE, get_rng
from .. import functional as F
from ..module import Module
from ..parameter import Parameter
from .conv import Conv2d


class _WindowPool(Module):
    """kernel_size, stride (defaults to kernel_size), padding."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding = padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class StochasticPool2d(_WindowPool):
    """Stochastic pooling (inputs >= 0): train() samples one activation per window with probability
    a_i / sum(a); eval() returns the expectation sum(a_i^2) / sum(a)."""

    def forward(self, x):
        return F.stochastic_pool2d(x, self.kernel_size, self.stride, self.padding, self.training)


class MedianPool2d(_WindowPool):
    """(N, C, H, W) -> (N, C, OH, OW): the (lower) median of each window."""

    def forward(self, x):
        return F.median_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgMaxPool2d(_WindowPool):
    """Combined max+avg pooling over windows: mode 'add' -> 0.5 * (avg + max), 'cat' -> [avg, max]."""

    def __init__(self, kernel_size, stride=None, padding=0, mode="add"):
        super().__init__(kernel_size, stride, padding)
        self.mode = mode

    def forward(self, x):
        return F.avgmax_pool2d(x, self.kernel_size, self.stride, self.padding, self.mode)

    def extra_repr(self):
        return super().extra_repr() + f", mode={self.mode!r}"


class AdaptiveAvgMaxPool2d(Module):
    """Combined adaptive pooling to output_size (the notes' add/cat_avgmax_pool2d, a classifier-head trick):
    mode 'add' -> 0.5 * (avg + max) (N, C, *output_size); 'cat' -> (N, 2C, *output_size)."""

    def __init__(self, output_size=1, mode="add"):
        super().__init__()
        self.output_size, self.mode = output_size, mode

    def forward(self, x):
        return F.adaptive_avgmax_pool2d(x, self.output_size, self.mode)

    def extra_repr(self):
        return f"output_size={self.output_size}, mode={self.mode!r}"


class SpatialPyramidPooling(Module):
    """SPP (He et al. 2014): (N, C, H, W) of ANY size -> (N, C * sum(l*l)), levels of l x l grids."""

    def __init__(self, levels=(1, 2, 4), mode="max"):
        super().__init__()
        self.levels, self.mode = tuple(levels), mode

    def forward(self, x):
        return F.spatial_pyramid_pool2d(x, self.levels, self.mode)

    def output_size(self, channels):
        """Length of the output vector for `channels` input channels."""
        return channels * sum(l * l for l in self.levels)

    def extra_repr(self):
        return f"levels={self.levels}, mode={self.mode!r}"


class BilinearPooling(Module):
    """Bilinear pooling: forward(x1, x2=None) -> (N, C1*C2): mean outer product over locations,
    signed square root, L2 normalisation. x2=None pools x1 with itself."""

    def __init__(self, eps=1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x1, x2=None):
        return F.bilinear_pool2d(x1, x2, self.eps)

    def extra_repr(self):
        return f"eps={self.eps}"


class NetVLAD(Module):
    """NetVLAD layer: (N, dim, H, W) -> (N, num_clusters * dim).

    Parameters: `centroids` (K, D) ~ U[0, 1), and the 1x1 soft-assignment conv `conv` (K, D, 1, 1)
    initialised from them as in the paper's analysis: w_k = 2 alpha c_k, b_k = -alpha ||c_k||
    (a_k(x) is then a softmax of -alpha ||x - c_k||^2 up to terms that cancel). Same names as the
    widely used PyTorch implementation (lyakaap/NetVLAD-pytorch).
    """

    def __init__(self, num_clusters=64, dim=128, alpha=100.0, normalize_input=True):
        super().__init__()
        self.num_clusters, self.dim, self.alpha, self.normalize_input = num_clusters, dim, float(alpha), normalize_input
        self.conv = Conv2d(dim, num_clusters, kernel_size=1, bias=True)
        self.centroids = Parameter(get_rng().random((num_clusters, dim)).astype(DEFAULT_DTYPE))
        self.reset_parameters()

    def reset_parameters(self):
        c = self.centroids.data
        self.conv.weight.data[...] = (2.0 * self.alpha * c)[:, :, None, None]
        self.conv.bias.data[...] = -self.alpha * np.linalg.norm(c, axis=1)

    def forward(self, x):
        return F.netvlad(x, self.centroids, self.conv.weight, self.conv.bias, self.normalize_input)

    def extra_repr(self):
        return f"num_clusters={self.num_clusters}, dim={self.dim}, alpha={self.alpha}"
