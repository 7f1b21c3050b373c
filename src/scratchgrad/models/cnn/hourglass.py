"""Stacked hourglass: an encoder-decoder block with skips, stacked (here as an image classifier).

Newell, Yang & Deng, "Stacked Hourglass Networks for Human Pose Estimation" (ECCV 2016).
An hourglass pools the map down level by level (the encoder), then upsamples it back (the decoder);
at every level a skip branch keeps the full-resolution features and is added to the upsampled ones,
so the output combines local detail with context from the whole image. Every box is a bottleneck
residual unit (preact_resnet.PreActBottleneck), which keeps gradients healthy through the depth
(the notes: "many conv layers + skip connections, a larger receptive field, less vanishing gradient").
Several hourglasses are stacked, each re-reading the previous one's output merged back into its input.

    Hourglass(depth, C): (N, C, H, W) -> (N, C, H, W)
        up  = res(x)                                   skip at this resolution
        low = res(maxpool(x)) -> Hourglass(depth - 1) (or res at the bottom) -> res
        out = up + upsample(low)                      nearest, back to up's size

The paper predicts heatmaps; for the zoo the last hourglass feeds global average pooling and a
Linear layer. hourglass(): 2 stacks, depth 3, 128 channels: 464,010 parameters for 3x32x32 input
and 10 classes. Any input size works (the upsampling matches the skip's size, odd sizes included).
"""
from __future__ import annotations

from ... import nn
from ...nn import functional as F
from .blocks import ConvBNAct, image_input, stem_pool
from .preact_resnet import PreActBottleneck


def residuals(channels: int, num_blocks: int) -> nn.Sequential:
    """num_blocks bottleneck residual units, C -> C/4 -> C/4 -> C channels each."""
    return nn.Sequential(*[PreActBottleneck(channels, channels // 4) for _ in range(num_blocks)])


class Hourglass(nn.Module):
    """(N, C, H, W) -> (N, C, H, W): `depth` levels of pool -> ... -> upsample, with a skip at each level."""

    def __init__(self, depth: int, channels: int, num_blocks: int = 1):
        super().__init__()
        self.up1 = residuals(channels, num_blocks)
        self.pool = nn.MaxPool2d(2, 2)
        self.low1 = residuals(channels, num_blocks)
        self.low2 = Hourglass(depth - 1, channels, num_blocks) if depth > 1 else residuals(channels, num_blocks)
        self.low3 = residuals(channels, num_blocks)

    def forward(self, x):
        up = self.up1(x)
        low = self.low3(self.low2(self.low1(self.pool(x))))
        return up + F.interpolate(low, size=up.shape[2:], mode="nearest")


class HourglassNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes): stem -> num_stacks x [hourglass -> residual -> 1x1
    conv-bn-relu], each stack's output merged (1x1 conv, added) into the next one's input ->
    global average pool -> fc."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, small_input: bool = True, num_stacks: int = 2,
                 depth: int = 3, channels: int = 128, num_blocks: int = 1):
        super().__init__()
        self.stem = nn.Sequential(ConvBNAct(in_channels, channels, 3 if small_input else 7, 1 if small_input else 2),
                                  stem_pool(small_input, padding=1), residuals(channels, num_blocks))
        self.hourglass = nn.ModuleList([Hourglass(depth, channels, num_blocks) for _ in range(num_stacks)])
        self.features = nn.ModuleList([nn.Sequential(residuals(channels, num_blocks), ConvBNAct(channels, channels, 1))
                                       for _ in range(num_stacks)])
        self.merge = nn.ModuleList([nn.Conv2d(channels, channels, 1) for _ in range(num_stacks - 1)])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for i, (hourglass, features) in enumerate(zip(self.hourglass, self.features)):
            y = features(hourglass(x))
            if i < len(self.merge):
                x = x + self.merge[i](y)
        return self.fc(self.avgpool(y).flatten(1))


def hourglass(num_classes=10, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input, default_small=True)
    return HourglassNet(num_classes, in_channels, small, **kwargs)
