"""`nn.init`: fill a tensor in place with an initial distribution, as `torch.nn.init`.

All draws come from scratchgrad's global generator (`sg.manual_seed` makes them repeatable)
and are written straight into `tensor.data` (no graph is recorded).

    Xavier/Glorot (sigmoid, tanh):  std = gain * sqrt(2 / (fan_in + fan_out))
    Kaiming/He (ReLU):              std = gain / sqrt(fan),  gain = sqrt(2) for ReLU
    A uniform U(-b, b) has std b / sqrt(3), so the uniform versions use b = sqrt(3) * std.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..tensor import Tensor, get_rng

__all__ = ["calculate_gain", "constant_", "zeros_", "ones_", "eye_", "normal_", "uniform_", "trunc_normal_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]


def _fill(tensor: Tensor, values) -> Tensor:
    tensor.data[...] = values
    tensor._version += 1
    return tensor


def _float_dtype(tensor: Tensor):
    return tensor.dtype if tensor.dtype in (np.float32, np.float64) else np.float64


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The std multiplier that keeps activations' scale through a layer followed by `nonlinearity`."""
    linear_fns = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid")
    if nonlinearity in linear_fns:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"negative_slope {slope} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor):
    """fan_in = in_features * receptive field, fan_out = out_features * receptive field
    for a weight of shape (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor.shape))


def _draw_affine(tensor: Tensor, draw, scale: float, shift: float) -> Tensor:
    """tensor <- draw() * scale + shift; drawn straight into the tensor's memory when it is a contiguous
    float array (no temporaries: building VGG-16's 138M weights took ~3x longer with them)."""
    data = tensor.data
    if data.dtype in (np.float32, np.float64) and data.flags.c_contiguous and data.flags.writeable:
        draw(dtype=data.dtype, out=data)
        data *= scale
        data += shift
        tensor._version += 1
        return tensor
    v = draw(size=tensor.shape, dtype=_float_dtype(tensor))
    return _fill(tensor, v * scale + shift)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """U(a, b)"""
    return _draw_affine(tensor, get_rng().random, b - a, a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """N(mean, std^2)"""
    return _draw_affine(tensor, get_rng().standard_normal, std, mean)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Tensor:
    """N(mean, std^2) restricted to [a, b], by inverting the normal CDF of a uniform draw."""
    cdf = lambda v: 0.5 * (1.0 + math.erf((v - mean) / std / math.sqrt(2.0)))  # noqa: E731
    u = get_rng().uniform(2 * cdf(a) - 1, 2 * cdf(b) - 1, tensor.shape)
    return _fill(tensor, np.clip(special.erfinv(u) * std * math.sqrt(2.0) + mean, a, b))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio, 2010)"""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))"""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b), b = gain * sqrt(3 / fan)   (He et al., 2015); `a` is leaky_relu's negative slope."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2), std = gain / sqrt(fan)"""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix (Saxe et al., 2013): QR of a Gaussian matrix, with the signs of
    R's diagonal folded into Q so that Q is uniformly distributed. Trailing dims are flattened."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.data.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = get_rng().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
