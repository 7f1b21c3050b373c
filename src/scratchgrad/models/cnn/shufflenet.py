"""ShuffleNet v2 x0.5 / x1.0 / x1.5 / x2.0 (torchvision's layout and state_dict keys).

Ma, Zhang, Zheng & Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design"
(ECCV 2018). Channel split and channel shuffle: a unit splits its channels in two halves, leaves one
half untouched (a free identity, like a residual) and runs the other through 1x1 conv -> 3x3
depthwise conv -> 1x1 conv, then concatenates the halves and SHUFFLES the channels (reshape to
(2, C/2), transpose, flatten) so that the next unit's split mixes information from both branches.
The downsampling unit feeds the whole input to both branches (each strided) and doubles the width.
The v2 guidelines: equal input/output widths, few groups, little fragmentation, few element-wise ops.

Parameters at ImageNet settings: shufflenet_v2_x1_0 2,278,604, x0_5 1,366,792, x1_5 3,503,624,
x2_0 7,393,996. Keys: conv1.0.weight, stage2.0.branch1.0.weight (depthwise), stage2.0.branch2.0.weight,
conv5.0.weight, fc.weight. Small inputs (H or W < 64) get a stride-1 conv1 and no max-pool.
"""
from __future__ import annotations

from ... import nn
from ...nn import functional as F
from ...ops import cat
from .blocks import conv_bn, image_input, stem_pool

#: output channels of conv1, stage2, stage3, stage4, conv5 for each width multiplier
WIDTHS = {"0.5": [24, 48, 96, 192, 1024], "1.0": [24, 116, 232, 464, 1024],
          "1.5": [24, 176, 352, 704, 1024], "2.0": [24, 244, 488, 976, 2048]}


class InvertedResidual(nn.Module):
    """(N, inp, H, W) -> (N, oup, H/stride, W/stride): split (or copy, if strided) -> branches -> concat -> shuffle."""

    def __init__(self, inp: int, oup: int, stride: int):
        super().__init__()
        if stride not in (1, 2) or (stride == 1 and inp != oup):
            raise ValueError(f"ShuffleNetV2 unit: stride 1 needs inp == oup, stride must be 1 or 2 (got {inp}, "
                             f"{oup}, {stride})")
        self.stride = stride
        half = oup // 2
        if stride > 1:   # depthwise 3x3 (strided, linear) -> 1x1 conv-bn-relu
            self.branch1 = nn.Sequential(*conv_bn(inp, inp, 3, stride, groups=inp, act=None),
                                         *conv_bn(inp, half, 1))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(*conv_bn(inp if stride > 1 else half, half, 1),
                                     *conv_bn(half, half, 3, stride, groups=half, act=None),
                                     *conv_bn(half, half, 1))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = cat([x1, self.branch2(x2)], 1)
        else:
            out = cat([self.branch1(x), self.branch2(x)], 1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes): conv1 3x3/2 -> maxpool -> stages 2-4 (4, 8, 4 units) ->
    conv5 1x1 -> global average -> fc."""

    def __init__(self, stages_repeats=(4, 8, 4), stages_out_channels=WIDTHS["1.0"], num_classes: int = 1000,
                 in_channels: int = 3, small_input: bool = False):
        super().__init__()
        c = stages_out_channels[0]
        self.conv1 = nn.Sequential(*conv_bn(in_channels, c, 3, 1 if small_input else 2))
        self.maxpool = stem_pool(small_input, padding=1)
        for i, (repeats, out) in enumerate(zip(stages_repeats, stages_out_channels[1:4])):
            units = [InvertedResidual(c, out, 2)] + [InvertedResidual(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            c = out
        self.conv5 = nn.Sequential(*conv_bn(c, stages_out_channels[-1], 1))
        self.fc = nn.Linear(stages_out_channels[-1], num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean((2, 3)))


def build_shufflenet(width, num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    return ShuffleNetV2((4, 8, 4), WIDTHS[width], num_classes, in_channels, small, **kwargs)


def shufflenet_v2_x0_5(**kwargs):
    return build_shufflenet("0.5", **kwargs)


def shufflenet_v2_x1_0(**kwargs):
    return build_shufflenet("1.0", **kwargs)


def shufflenet_v2_x1_5(**kwargs):
    return build_shufflenet("1.5", **kwargs)


def shufflenet_v2_x2_0(**kwargs):
    return build_shufflenet("2.0", **kwargs)
