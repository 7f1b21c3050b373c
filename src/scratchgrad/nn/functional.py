"""`scratchgrad.nn.functional`: stateless layer ops and losses, as `torch.nn.functional`.

    import scratchgrad.nn.functional as F
    h = F.relu(F.linear(x, W1, b1))
    loss = F.cross_entropy(F.linear(h, W2, b2), labels)

Where the code lives:
    functional_core.py  linear, embedding, prelu             (fused Functions)
    functional_norm.py  batch_norm, layer_norm               (fused Functions)
    functional_loss.py  cross_entropy, nll_loss, binary_cross_entropy(_with_logits), mse_loss,
                        l1_loss, smooth_l1_loss, huber_loss, kl_div
    scratchgrad.ops     the activations: relu, sigmoid, tanh, softmax, log_softmax, dropout, ...;
                        conv1d/conv2d/conv_transpose (ops/conv.py), pooling (ops/pooling.py)
"""
from __future__ import annotations

from ..ops import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, conv1d, conv2d, conv_transpose1d,
                   conv_transpose2d, dropout, elu, gelu, leaky_relu, log_softmax, max_pool2d, max_unpool2d, one_hot,
                   pad, relu, sigmoid, softmax, softplus, tanh)
from .functional_attention import scaled_dot_product_attention, scaled_dot_product_attention_with_weights
from .functional_core import embedding, linear, prelu
from .functional_loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss,
                              kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .functional_norm import (batch_norm, group_norm, instance_norm, layer_norm, local_response_norm,
                              switchable_norm)
from ..ops.resample import channel_shuffle, interpolate, pixel_shuffle, pixel_unshuffle
from ..ops.pooling_variants import (adaptive_avgmax_pool2d, avgmax_pool2d, bilinear_pool2d, median_pool2d, netvlad,
                                   spatial_pyramid_pool2d, stochastic_pool2d)
from ..ops.deform_conv import deform_conv2d


def silu(x):
    """y = x * sigmoid(x) (a.k.a. swish)."""
    return x * sigmoid(x)


def maxout(x, pieces: int):
    """Max over groups of `pieces` consecutive features: (..., out * pieces) -> (..., out)."""
    if x.shape[-1] % pieces:
        raise ValueError(f"maxout: last dim {x.shape[-1]} is not a multiple of pieces={pieces}")
    return x.reshape(x.shape[:-1] + (x.shape[-1] // pieces, pieces)).amax(-1)


__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d", "avg_pool2d", "conv1d", "conv2d", "conv_transpose1d",
           "conv_transpose2d", "max_pool2d", "max_unpool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
           "elu", "embedding", "gelu", "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear",
           "log_softmax", "maxout", "mse_loss", "nll_loss", "one_hot", "pad", "prelu", "relu", "sigmoid", "silu",
           "smooth_l1_loss", "softmax", "softplus", "tanh"]
__all__ += ["local_response_norm", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "instance_norm",
            "group_norm", "switchable_norm", "interpolate"]
__all__ += ["scaled_dot_product_attention", "scaled_dot_product_attention_with_weights"]
__all__ += ["stochastic_pool2d", "median_pool2d", "avgmax_pool2d", "adaptive_avgmax_pool2d",
            "spatial_pyramid_pool2d", "bilinear_pool2d", "netvlad", "deform_conv2d"]
