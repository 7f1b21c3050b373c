"""Pre-activation ResNet (ResNet v2).

He, Zhang, Ren & Sun, "Identity Mappings in Deep Residual Networks" (ECCV 2016).
Move BN and ReLU in front of each conv (BN-ReLU-conv) and leave the sum un-activated: the block
computes x + F(x) with nothing after the addition, so the shortcut path from any block to any later
one is a pure identity and the signal and its gradient pass through the whole net unchanged
("the block really fits the residual", as the notes put it). The stem is a bare conv; a final
BN-ReLU comes before the pooling.

Keys follow the ResNet naming (conv1, layer1.0.bn1, layer1.0.conv1, ..., downsample.0, bn, fc);
the projection shortcut is a lone strided 1x1 conv (no BN: it sees pre-activated input).
preact_resnet18 at ImageNet settings: 11,687,720 parameters (ResNet-18 without the stem and shortcut
BNs, plus the final BN; a stage's first bn1 sees the narrower input). hourglass.py reuses
PreActBottleneck.
"""
from __future__ import annotations

from ... import nn
from .blocks import image_input, init_cnn_, stem_conv, stem_pool
from .resnet import add_stages, conv1x1, conv3x3, run_stages


class PreActBlock(nn.Module):
    """bn-relu-conv3x3-bn-relu-conv3x3, plus the shortcut: x (identity) or downsample(relu(bn1(x)))."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample

    def convs(self):
        return [(self.bn1, self.conv1), (self.bn2, self.conv2)]

    def forward(self, x):
        pairs = self.convs()
        out = pairs[0][0](x).relu()
        shortcut = x if self.downsample is None else self.downsample(out)
        out = pairs[0][1](out)
        for bn, conv in pairs[1:]:
            out = conv(bn(out).relu())
        return out + shortcut


class PreActBottleneck(PreActBlock):
    """bn-relu-conv1x1 (planes), bn-relu-conv3x3 (stride), bn-relu-conv1x1 (4 planes), plus the shortcut."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        nn.Module.__init__(self)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.downsample = downsample

    def convs(self):
        return [(self.bn1, self.conv1), (self.bn2, self.conv2), (self.bn3, self.conv3)]


def conv_shortcut(inplanes: int, out_channels: int, stride: int) -> nn.Sequential:
    """The pre-activation projection: a strided 1x1 conv alone (key downsample.0.weight)."""
    return nn.Sequential(conv1x1(inplanes, out_channels, stride))


class PreActResNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes): conv1 (-> maxpool) -> pre-activation stages ->
    bn -> relu -> global average pool -> fc."""

    def __init__(self, block, layers, num_classes: int = 1000, in_channels: int = 3, small_input: bool = False,
                 widths=(64, 128, 256, 512)):
        super().__init__()
        self.conv1 = stem_conv(in_channels, 64, small_input)
        self.maxpool = stem_pool(small_input, padding=1)
        out = add_stages(self, block, layers, widths, 64, shortcut=conv_shortcut)
        self.bn = nn.BatchNorm2d(out)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out, num_classes)
        init_cnn_(self)

    def forward(self, x):
        x = run_stages(self, self.maxpool(self.conv1(x)))
        return self.fc(self.avgpool(self.bn(x).relu()).flatten(1))


def build_preact(block, layers, num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    return PreActResNet(block, layers, num_classes, in_channels, small, **kwargs)


def preact_resnet18(**kwargs):
    return build_preact(PreActBlock, [2, 2, 2, 2], **kwargs)


def preact_resnet34(**kwargs):
    return build_preact(PreActBlock, [3, 4, 6, 3], **kwargs)


def preact_resnet50(**kwargs):
    return build_preact(PreActBottleneck, [3, 4, 6, 3], **kwargs)
