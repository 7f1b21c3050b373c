"""DeformConv2d (torchvision's layer) and DeformableConv2d (learns its own offsets), around
`ops/deform_conv.py`.

DeformConv2d.weight (C_out, C_in / groups, KH, KW), bias (C_out,), init as nn.Conv2d (and
torchvision): kaiming_uniform_(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
forward(input, offset, mask=None) takes torchvision's offset layout (N, 2*G_off*KH*KW, OH, OW).

DeformableConv2d adds `conv_offset`, a plain conv with the same kernel, stride, padding and
dilation that predicts the offsets from the input (the paper's offset field; mmcv's
DeformConv2dPack uses the same name). It is zero-initialised, so the layer starts out as a plain
convolution and learns where to look.
"""
from __future__ import annotations

from .. import functional as F
from .. import init
from .conv import Conv2d, _ConvNd


class DeformConv2d(_ConvNd):
    """(N, C_in, H, W), offset (N, 2*G_off*KH*KW, OH, OW)[, mask] -> (N, C_out, OH, OW)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True):
        if isinstance(padding, str):
            raise ValueError("DeformConv2d: padding must be an int or a pair")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)

    def forward(self, input, offset, mask=None):
        return F.deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation,
                               mask)


class DeformableConv2d(DeformConv2d):
    """Deformable conv v1 with learned offsets: offset = conv_offset(x), then DeformConv2d.

    conv_offset: Conv2d(in_channels, 2*offset_groups*KH*KW, kernel_size, stride, padding, dilation),
    weight and bias initialised to zero (so at init this layer equals nn.Conv2d with its weights).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, offset_groups=1):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        self.offset_groups = offset_groups
        kh, kw = self.kernel_size
        self.conv_offset = Conv2d(in_channels, 2 * offset_groups * kh * kw, self.kernel_size, self.stride,
                                  self.padding, self.dilation, bias=True)
        init.zeros_(self.conv_offset.weight)
        init.zeros_(self.conv_offset.bias)

    def forward(self, input):
        return super().forward(input, self.conv_offset(input))

