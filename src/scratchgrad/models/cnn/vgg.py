"""VGG-11/13/16/19, with and without batch norm (torchvision's layout and state_dict keys).

Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition" (ICLR 2015).
Only 3x3 convolutions (pad 1) and 2x2 max-pools, stacked deep: two 3x3 convs see a 5x5 window and
three see 7x7, with fewer parameters (27 C^2 vs 49 C^2) and more ReLUs than one 7x7; LRN is dropped.
Five conv stages (64, 128, 256, 512, 512 channels), each ending in a pool, then three fully
connected layers (4096, 4096, classes) with dropout: the FC layers hold ~90% of the weights.

Keys: features.<i>.weight (conv; bn too with _bn) and classifier.0/3/6.weight.
Parameters at ImageNet settings (1000 classes):
    vgg11 132,863,336  vgg13 133,047,848  vgg16 138,357,544  vgg19 143,667,240
    vgg11_bn 132,868,840  vgg13_bn 133,053,736  vgg16_bn 138,365,992  vgg19_bn 143,678,248
Small inputs (H or W < 64): the pools round up (ceil_mode, so 28x28 still reaches 1x1), the map is
averaged to 1x1 instead of 7x7 and the hidden FC layers have 512 units (the usual CIFAR VGG), so the
net does not spend 100M parameters on a 1x1 map copied 49 times.
"""
from __future__ import annotations

from ... import nn
from .blocks import image_input, init_cnn_

#: channels per conv, "M" for a max-pool: configurations A, B, D, E of the paper
CFGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_features(cfg, in_channels: int = 3, batch_norm: bool = False, ceil_mode: bool = False) -> nn.Sequential:
    """conv3x3 (-> BatchNorm2d) -> ReLU for each number in cfg, MaxPool2d(2, 2) for each "M"."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=ceil_mode))
            continue
        layers.append(nn.Conv2d(in_channels, v, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU())
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes): features -> adaptive avg pool to pool_size^2 ->
    Linear(512 pool_size^2, hidden) -> ReLU -> Dropout -> Linear(hidden, hidden) -> ReLU -> Dropout ->
    Linear(hidden, num_classes)."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, pool_size: int = 7, hidden: int = 4096,
                 dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Linear(512 * pool_size * pool_size, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes))
        init_cnn_(self, linear_std=0.01)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def build_vgg(depth, batch_norm=False, num_classes=1000, in_channels=None, input_size=None, small_input=None,
              **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    if small:
        kwargs = {"pool_size": 1, "hidden": 512, **kwargs}
    return VGG(make_features(CFGS[depth], in_channels, batch_norm, ceil_mode=small), num_classes, **kwargs)


def vgg11(**kwargs):
    return build_vgg(11, **kwargs)


def vgg13(**kwargs):
    return build_vgg(13, **kwargs)


def vgg16(**kwargs):
    return build_vgg(16, **kwargs)


def vgg19(**kwargs):
    return build_vgg(19, **kwargs)


def vgg11_bn(**kwargs):
    return build_vgg(11, batch_norm=True, **kwargs)


def vgg13_bn(**kwargs):
    return build_vgg(13, batch_norm=True, **kwargs)


def vgg16_bn(**kwargs):
    return build_vgg(16, batch_norm=True, **kwargs)


def vgg19_bn(**kwargs):
    return build_vgg(19, batch_norm=True, **kwargs)
