"""CIFAR ResNet-20/32/44/56/110 and their plain twins (the degradation experiment).

He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016), section 4.2.
A 3x3 conv with 16 filters, then three stages of n BasicBlocks with 16, 32, 64 filters on 32x32,
16x16, 8x8 maps, global average pooling and a linear layer: 6n + 2 weighted layers (n = 3: ResNet-20).
Shortcuts are option A: parameter-free identities; where a stage halves the map and doubles the
channels, the shortcut subsamples x[:, :, ::2, ::2] and pads the new channels with zeros, so the
residual and plain nets have exactly the same parameters. The plain twins drop the shortcuts: the
paper's point is that plain-56 trains to a HIGHER training error than plain-20, residual-56 lower.

Parameters (10 classes): resnet20 269,722 (the paper's 0.27M), resnet32 464,154, resnet44 658,586,
resnet56 853,018 (0.85M), resnet110 1,727,962 (1.7M). Keys: conv1, bn1, layer1.0.conv1, ..., fc.
"""
from __future__ import annotations

from ... import nn
from ...nn import functional as F
from .blocks import image_input, init_cnn_
from .resnet import BasicBlock, add_stages, conv3x3, run_stages


class ShortcutA(nn.Module):
    """Option A: (N, C, H, W) -> (N, out_channels, H/stride, W/stride) by subsampling and zero channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, out_channels - in_channels

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half)) if self.extra else x


class CifarResNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes) with 3 stages of `depth // 6` blocks each (depth = 6n + 2).

    residual=False gives the plain net of the same depth and parameters."""

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, residual: bool = True,
                 widths=(16, 32, 64)):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got {depth}")
        n = (depth - 2) // 6
        self.depth, self.residual = depth, residual
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        out = add_stages(self, BasicBlock, [n] * len(widths), widths, widths[0],
                         shortcut=ShortcutA if residual else None, residual=residual)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out, num_classes)
        init_cnn_(self)

    def forward(self, x):
        x = run_stages(self, self.bn1(self.conv1(x)).relu())
        return self.fc(self.avgpool(x).flatten(1))


def cifar_resnet(depth, residual=True, num_classes=10, in_channels=None, input_size=None, **kwargs):
    """Any input size works (the net is fully convolutional up to the pooling)."""
    in_channels, _ = image_input(in_channels, input_size)
    return CifarResNet(depth, num_classes, in_channels, residual, **kwargs)


def resnet20(**kwargs):
    return cifar_resnet(20, **kwargs)


def resnet32(**kwargs):
    return cifar_resnet(32, **kwargs)


def resnet44(**kwargs):
    return cifar_resnet(44, **kwargs)


def resnet56(**kwargs):
    return cifar_resnet(56, **kwargs)


def resnet110(**kwargs):
    return cifar_resnet(110, **kwargs)


def plain20(**kwargs):
    return cifar_resnet(20, residual=False, **kwargs)


def plain32(**kwargs):
    return cifar_resnet(32, residual=False, **kwargs)


def plain44(**kwargs):
    return cifar_resnet(44, residual=False, **kwargs)


def plain56(**kwargs):
    return cifar_resnet(56, residual=False, **kwargs)
