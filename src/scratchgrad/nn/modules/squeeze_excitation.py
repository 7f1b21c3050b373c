"""SqueezeExcitation: channel attention (Hu et al., 2018, "Squeeze-and-Excitation Networks").

    s = sigmoid(W2 relu(W1 avgpool(x) + b1) + b2)      (N, C, 1, 1): one weight per channel
    y = s * x                                          (N, C, H, W)

"Squeeze" is the global average pool (one number per channel), "excitation" a two-layer bottleneck
(C -> C/r -> C) that learns how much each channel matters for this image; the block rescales the
channels by it. Names, layout and keys are torchvision.ops.SqueezeExcitation's: fc1 and fc2 are 1x1
Conv2d layers with bias (fc1.weight (C/r, C, 1, 1), fc2.weight (C, C/r, 1, 1)).
"""
from __future__ import annotations

from .activation import ReLU, Sigmoid
from .conv import Conv2d
from .pooling import AdaptiveAvgPool2d
from ..module import Module


class SqueezeExcitation(Module):
    """(N, C, H, W) -> (N, C, H, W) with C = input_channels; squeeze_channels is C / r (r = 16 in SENet)."""

    def __init__(self, input_channels: int, squeeze_channels: int, activation=ReLU, scale_activation=Sigmoid):
        super().__init__()
        self.avgpool = AdaptiveAvgPool2d(1)
        self.fc1 = Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, x):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    def forward(self, x):
        return self._scale(x) * x
