"""DenseNet-121/161/169/201 (torchvision's layout and state_dict keys).

Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional Networks" (CVPR 2017).
Dense concatenation: inside a dense block, every layer receives the concatenation of ALL earlier
feature maps of the block and adds only `growth_rate` (k = 32) new channels; features are reused
instead of recomputed, and every layer has a short path to the loss. Each layer is BN-ReLU-conv1x1
(to bn_size * k channels, a bottleneck) then BN-ReLU-conv3x3 (k channels); transitions between blocks
halve the channels (1x1 conv, "compression" 0.5) and the map (2x2 average pool). Where ResNet adds
(x + F(x)), DenseNet concatenates ([x, F(x)]).

Keys: features.conv0.weight, features.denseblock1.denselayer1.norm1.weight, features.transition1.conv.weight,
features.norm5.weight, classifier.weight. Parameters at ImageNet settings: densenet121 7,978,856,
densenet169 14,149,480, densenet201 20,013,928, densenet161 28,681,000.
Small inputs (H or W < 64) get a 3x3 stride-1 conv0 and no pool0.
"""
from __future__ import annotations

from collections import OrderedDict

from ... import nn
from ...nn import functional as F
from ...ops import cat
from .blocks import image_input, init_cnn_, stem_conv, stem_pool


class DenseLayer(nn.Module):
    """(N, C_in, H, W) -> (N, growth_rate, H, W): norm1-relu1-conv1 (1x1) -> norm2-relu2-conv2 (3x3)."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float = 0.0):
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(num_input_features, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = drop_rate

    def forward(self, features):
        """features: the list of all earlier maps of the block (concatenated here, along channels)."""
        x = cat(features, 1) if len(features) > 1 else features[0]
        out = self.conv1(self.relu1(self.norm1(x)))
        out = self.conv2(self.relu2(self.norm2(out)))
        return F.dropout(out, self.drop_rate, self.training) if self.drop_rate > 0 else out


class DenseBlock(nn.ModuleDict):
    """(N, C, H, W) -> (N, C + num_layers * growth_rate, H, W); children denselayer1, denselayer2, ..."""

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int,
                 drop_rate: float = 0.0):
        super().__init__()
        for i in range(num_layers):
            self[f"denselayer{i + 1}"] = DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size,
                                                    drop_rate)

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return cat(features, 1)


class Transition(nn.Sequential):
    """(N, C_in, H, W) -> (N, C_out, H/2, W/2): norm -> relu -> conv 1x1 -> avg-pool 2x2."""

    def __init__(self, num_input_features: int, num_output_features: int):
        super().__init__(OrderedDict(norm=nn.BatchNorm2d(num_input_features), relu=nn.ReLU(),
                                     conv=nn.Conv2d(num_input_features, num_output_features, 1, bias=False),
                                     pool=nn.AvgPool2d(2, 2)))


class DenseNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes).

    growth_rate k, block_config (layers per dense block), num_init_features (stem width), bn_size
    (bottleneck width = bn_size * k), drop_rate (dropout after each layer)."""

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16), num_init_features: int = 64,
                 bn_size: int = 4, drop_rate: float = 0.0, num_classes: int = 1000, in_channels: int = 3,
                 small_input: bool = False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict(
            conv0=stem_conv(in_channels, num_init_features, small_input),
            norm0=nn.BatchNorm2d(num_init_features), relu0=nn.ReLU(),
            pool0=stem_pool(small_input, padding=1)))
        c = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(num_layers, c, bn_size, growth_rate, drop_rate))
            c += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)
        init_cnn_(self, conv_mode="fan_in", linear_zero_bias=True)

    def forward(self, x):
        x = self.features(x).relu()
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


def build_densenet(growth_rate, block_config, num_init_features, num_classes=1000, in_channels=None,
                   input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes, in_channels=in_channels,
                    small_input=small, **kwargs)


def densenet121(**kwargs):
    return build_densenet(32, (6, 12, 24, 16), 64, **kwargs)


def densenet161(**kwargs):
    return build_densenet(48, (6, 12, 36, 24), 96, **kwargs)


def densenet169(**kwargs):
    return build_densenet(32, (6, 12, 32, 32), 64, **kwargs)


def densenet201(**kwargs):
    return build_densenet(32, (6, 12, 48, 32), 64, **kwargs)
