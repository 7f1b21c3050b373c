"""Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d: the layers around `ops/conv.py`.

Weight layouts, defaults, init and state_dict keys are PyTorch's:
    Conv{1,2}d.weight           (C_out, C_in / groups, *kernel)
    ConvTranspose{1,2}d.weight  (C_in, C_out / groups, *kernel)
    bias                        (C_out,)
Init: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the
bias from the same bound (fan_in = weight.shape[1] * prod(kernel)).
"""
from __future__ import annotations

import math

import numpy as np

from ...tensor import DEFAULT_DTYPE
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


def _ntuple(v, n, name):
    t = tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * n
    if len(t) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


class _ConvNd(Module):
    """What every conv layer shares: parameters, init, extra_repr."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
        super().__init__()
        n = self._dims
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels={in_channels} and out_channels={out_channels} "
                             f"must both be divisible by groups={groups}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"padding_mode={padding_mode!r}: only 'zeros' is supported")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if self._transposed:
                raise ValueError(f"padding={padding!r} is not supported for transposed convolutions")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size")
        self.stride = _ntuple(stride, n, "stride")
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n, "padding")
        self.dilation = _ntuple(dilation, n, "dilation")
        self.output_padding = _ntuple(output_padding, n, "output_padding")
        self.padding_mode = padding_mode
        dtype = dtype or DEFAULT_DTYPE
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def _check_input(self, x):
        if x.ndim != self._dims + 2:
            raise ValueError(f"{type(self).__name__}: expected a {self._dims + 2}-D input (N, C, ...), "
                             f"got shape {x.shape}")


class Conv1d(_ConvNd):
    """(N, C_in, L) -> (N, C_out, L_out),  L_out = floor((L + 2p - d(k-1) - 1) / s) + 1."""

    _dims = 1

    def forward(self, x):
        self._check_input(x)
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """(N, C_in, H, W) -> (N, C_out, OH, OW),  OH = floor((H + 2p - d(k-1) - 1) / s) + 1."""

    def forward(self, x, relu=False):
        """relu=True: relu(self(x)) as one op (nn.Sequential uses it for a Conv2d followed by a ReLU)."""
        self._check_input(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, relu=relu)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding=output_padding)


class ConvTranspose1d(_ConvTransposeNd):
    """(N, C_in, L) -> (N, C_out, L_out),  L_out = (L - 1)s - 2p + d(k-1) + output_padding + 1."""

    _dims = 1

    def forward(self, x):
        self._check_input(x)
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """(N, C_in, H, W) -> (N, C_out, OH, OW),  OH = (H - 1)s - 2p + d(k-1) + output_padding + 1."""

    def forward(self, x):
        self._check_input(x)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)
