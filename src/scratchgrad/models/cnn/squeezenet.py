"""SqueezeNet 1.0 and 1.1 (torchvision's layout and state_dict keys).

Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size"
(2016). The Fire module: a 1x1 "squeeze" conv cuts the channels (s), then an "expand" layer runs 1x1
and 3x3 convs side by side (e1 + e3 channels) and concatenates them. Few input channels to the 3x3
filters and many 1x1 filters keep the weights tiny; the head is a 1x1 conv to the classes plus
global average pooling, with no fully connected layer. Version 1.1 starts with a 3x3 conv and pools
earlier: 2.4x less computation than 1.0 for the same accuracy.

Parameters at ImageNet settings: squeezenet1_1 1,235,496, squeezenet1_0 1,248,424.
Keys: features.0.weight, features.3.squeeze.weight, features.3.expand1x1.weight, classifier.1.weight.
Small inputs (H or W < 64) get a 3x3 stride-1 first conv and no first max-pool.
"""
from __future__ import annotations

from ... import nn
from ...ops import cat
from .blocks import image_input, stem_conv, stem_pool


class Fire(nn.Module):
    """(N, C, H, W) -> (N, e1 + e3, H, W): squeeze 1x1 (s) -> ReLU -> [expand 1x1 (e1), expand 3x3 (e3)] -> ReLU."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, 1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, 1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return cat([self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1)


#: the layers after the first conv + ReLU: (s, e1, e3) per Fire module (expand e1 = e3), "M" a max-pool
FIRES = {
    "1_0": ["M", (16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192), (64, 256), "M", (64, 256)],
    "1_1": ["M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192), (48, 192), (64, 256), (64, 256)],
}


class SqueezeNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes): conv -> Fire modules with 3 max-pools -> dropout ->
    1x1 conv to num_classes -> ReLU -> global average pool."""

    def __init__(self, version: str = "1_1", num_classes: int = 1000, in_channels: int = 3,
                 small_input: bool = False, dropout: float = 0.5):
        super().__init__()
        c, k = (96, 7) if version == "1_0" else (64, 3)
        layers = [stem_conv(in_channels, c, small_input, kernel_size=k, stride=2, padding=0, bias=True), nn.ReLU()]
        for i, v in enumerate(FIRES[version]):
            if v == "M":
                layers.append(stem_pool(small_input, ceil_mode=True) if i == 0 else nn.MaxPool2d(3, 2, ceil_mode=True))
                continue
            s, e = v
            layers.append(Fire(c, s, e, e))
            c = 2 * e
        self.features = nn.Sequential(*layers)
        final_conv = nn.Conv2d(c, num_classes, 1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), final_conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        for m in self.modules():   # torchvision: He uniform for the convs, N(0, 0.01^2) for the last; biases 0
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


def build_squeezenet(version, num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    return SqueezeNet(version, num_classes, in_channels, small, **kwargs)


def squeezenet1_0(**kwargs):
    return build_squeezenet("1_0", **kwargs)


def squeezenet1_1(**kwargs):
    return build_squeezenet("1_1", **kwargs)
