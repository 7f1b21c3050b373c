"""Activation layers: thin Modules around the functional ops (see scratchgrad.ops.activation)."""
from __future__ import annotations

import numpy as np

from ...tensor import DEFAULT_DTYPE
from .. import functional as F
from ..module import Module
from ..parameter import Parameter


class _Elementwise(Module):
    """An activation with no parameters: y = fn(x)."""
    fn = None

    def forward(self, x):
        return type(self).fn(x)


class Sigmoid(_Elementwise):
    """y = 1 / (1 + e^-x)"""
    fn = F.sigmoid


class Tanh(_Elementwise):
    """y = tanh(x)"""
    fn = F.tanh


class SiLU(_Elementwise):
    """y = x * sigmoid(x)"""
    fn = F.silu


class ReLU(_Elementwise):
    """y = max(0, x). (`inplace` is accepted for PyTorch compatibility and ignored.)"""
    fn = F.relu

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Hardtanh(Module):
    """y = clamp(x, min_val, max_val)   (gradient 1 inside, 0 outside)"""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return x.clamp(self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """y = min(max(0, x), 6)   (MobileNet's activation: bounded for low-precision inference)."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x"""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """y = x if x > 0 else a * x with a learned slope a: one shared (num_parameters=1) or one per
    channel (dim 1). Initialised to `init` = 0.25 as in PyTorch."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(np.full(num_parameters, init, dtype or DEFAULT_DTYPE))

    def reset_parameters(self):
        self.weight.data[...] = self.init

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """y = x if x > 0 else alpha * (e^x - 1)"""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """y = x * Phi(x) (Phi: the standard normal CDF); approximate='tanh' for the tanh formula."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """y = log(1 + e^(beta x)) / beta (linear where beta x > threshold)"""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


def _implicit_dim(ndim: int) -> int:
    """PyTorch's legacy choice when Softmax(dim=None): 0 for 0-D, 1-D and 3-D input, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """y = e^x / sum(e^x) along `dim`."""
    fn = staticmethod(F.softmax)

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return self.fn(x, self.dim if self.dim is not None else _implicit_dim(x.ndim))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """y = x - logsumexp(x) along `dim` (log of Softmax, computed stably)."""
    fn = staticmethod(F.log_softmax)
