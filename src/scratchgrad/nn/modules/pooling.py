"""Pooling layers around `ops/pooling.py`, with PyTorch's names and arguments.

MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, MaxUnpool2d, and the 1-D
MaxPool1d/AvgPool1d/AdaptiveAvgPool1d/AdaptiveMaxPool1d (run through the 2-D op on (N, C, 1, L)).
Pooling has no parameters: these modules only hold their settings.
"""
from __future__ import annotations

from .. import functional as F
from ..module import Module


class MaxPool2d(Module):
    """(N, C, H, W) -> (N, C, OH, OW): max over each kernel window (stride defaults to kernel_size)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """(N, C, H, W) -> (N, C, OH, OW): mean over each kernel window."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """(N, C, H, W) -> (N, C, *output_size) for any H, W (torch's bin edges floor/ceil(i*H/out))."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """(N, C, H, W) -> (N, C, *output_size): max over adaptive bins."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class MaxUnpool2d(Module):
    """The notes' UnPooling: (values, indices from MaxPool2d(return_indices=True)) -> the larger map."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding

    def forward(self, x, indices, output_size=None):
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)


def _first(v):
    return v[0] if isinstance(v, (tuple, list)) else v


class _Pool1d(Module):
    """A 1-D pool is the 2-D pool on (N, C, 1, L) with a (1, k) window."""

    def forward(self, x):
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__}: expected (N, C, L), got shape {x.shape}")
        y = self._pool2d(x.unsqueeze(2))
        if isinstance(y, tuple):
            return y[0].squeeze(2), y[1].squeeze(2)
        return y.squeeze(2)


class MaxPool1d(_Pool1d):
    """(N, C, L) -> (N, C, L_out): max over each window of `kernel_size`."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        k = _first(kernel_size)
        self.kernel_size, self.stride = k, _first(stride) if stride is not None else k
        self.padding, self.dilation = _first(padding), _first(dilation)
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def _pool2d(self, x):
        return F.max_pool2d(x, (1, self.kernel_size), (1, self.stride), (0, self.padding), (1, self.dilation),
                            self.ceil_mode, self.return_indices)


class AvgPool1d(_Pool1d):
    """(N, C, L) -> (N, C, L_out): mean over each window of `kernel_size`."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        k = _first(kernel_size)
        self.kernel_size, self.stride = k, _first(stride) if stride is not None else k
        self.padding, self.ceil_mode, self.count_include_pad = _first(padding), ceil_mode, count_include_pad

    def _pool2d(self, x):
        return F.avg_pool2d(x, (1, self.kernel_size), (1, self.stride), (0, self.padding), self.ceil_mode,
                            self.count_include_pad)


class AdaptiveAvgPool1d(_Pool1d):
    """(N, C, L) -> (N, C, output_size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _first(output_size)

    def _pool2d(self, x):
        return F.adaptive_avg_pool2d(x, (1, self.output_size))


class AdaptiveMaxPool1d(_Pool1d):
    """(N, C, L) -> (N, C, output_size); the max over time of TextCNN is AdaptiveMaxPool1d(1)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = _first(output_size), return_indices

    def _pool2d(self, x):
        return F.adaptive_max_pool2d(x, (1, self.output_size), self.return_indices)
