"""MobileNet v1 and v2 (v2 with torchvision's layout and state_dict keys).

v1: Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications" (2017). Depthwise separable convolution: a 3x3 depthwise conv (groups = channels: one
filter per channel, spatial mixing only) followed by a 1x1 pointwise conv (channel mixing only).
For C_in -> C_out channels this costs 9 C_in + C_in C_out weights instead of 9 C_in C_out, about
1/C_out + 1/9 of a full 3x3 conv (8-9x fewer multiply-adds).
v2: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (CVPR 2018). The
inverted residual: expand the thin input by t = 6 with a 1x1 conv, filter with a 3x3 depthwise conv,
project back with a linear 1x1 conv (no ReLU on the thin output: ReLU would destroy information in
a low-dimensional space), and add the input when the shape allows. ReLU6 everywhere else.

Parameters at ImageNet settings: mobilenet_v2 3,504,872 (torchvision), mobilenet_v1 4,231,976
(the paper's 4.2M). Keys v2: features.0.0.weight, features.1.conv.0.0.weight (depthwise),
features.2.conv.0.0.weight (expansion), features.18.0.weight, classifier.1.weight.
Small inputs (H or W < 64) get a stride-1 stem conv.
"""
from __future__ import annotations

from ... import nn
from .blocks import ConvBNAct, conv_bn, image_input, init_cnn_

#: (output channels, stride) of the 13 depthwise separable layers of MobileNet v1
V1_CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
#: (expansion t, output channels c, repeats n, first stride s) of MobileNet v2 (Table 2 of the paper)
V2_CFG = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round a width to a multiple of `divisor` (never down by more than 10%), as the TF reference does."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class DepthwiseSeparable(nn.Sequential):
    """(N, C_in, H, W) -> (N, C_out, H/s, W/s): 3x3 depthwise conv-bn-relu, then 1x1 pointwise conv-bn-relu."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, act=nn.ReLU):
        super().__init__(*conv_bn(in_channels, in_channels, 3, stride, groups=in_channels, act=act),
                         *conv_bn(in_channels, out_channels, 1, act=act))


class MobileNetV1(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes): conv 3x3/2 (32) -> 13 depthwise separable layers ->
    global average pool -> Linear. width_mult thins every layer (the paper's alpha)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, small_input: bool = False,
                 width_mult: float = 1.0):
        super().__init__()
        c = make_divisible(32 * width_mult)
        layers = [ConvBNAct(in_channels, c, 3, 1 if small_input else 2)]
        for out, stride in V1_CFG:
            out = make_divisible(out * width_mult)
            layers.append(DepthwiseSeparable(c, out, stride))
            c = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        init_cnn_(self, linear_std=0.01)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class InvertedResidual(nn.Module):
    """(N, inp, H, W) -> (N, oup, H/stride, W/stride): [1x1 expand to t*inp, ReLU6] -> 3x3 depthwise,
    ReLU6 -> 1x1 linear projection -> BN, plus the input when stride is 1 and inp == oup."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [ConvBNAct(inp, hidden, 1, act=nn.ReLU6)] if expand_ratio != 1 else []
        layers += [ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   *conv_bn(hidden, oup, 1, act=None)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes): conv 3x3/2 (32) -> 17 inverted residuals ->
    conv 1x1 (1280) -> global average pool -> Dropout(0.2) -> Linear."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, small_input: bool = False,
                 width_mult: float = 1.0, dropout: float = 0.2, round_nearest: int = 8):
        super().__init__()
        c = make_divisible(32 * width_mult, round_nearest)
        last = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        layers = [ConvBNAct(in_channels, c, 3, 1 if small_input else 2, act=nn.ReLU6)]
        for t, out, n, s in V2_CFG:
            out = make_divisible(out * width_mult, round_nearest)
            for i in range(n):
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        layers.append(ConvBNAct(c, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        init_cnn_(self, linear_std=0.01)

    def forward(self, x):
        x = self.features(x).mean((2, 3))
        return self.classifier(x)


def mobilenet_v1(num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    return MobileNetV1(num_classes, in_channels, small, **kwargs)


def mobilenet_v2(num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    return MobileNetV2(num_classes, in_channels, small, **kwargs)
