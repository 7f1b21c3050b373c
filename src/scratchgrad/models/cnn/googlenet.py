"""GoogLeNet (Inception v1), torchvision's layout and state_dict keys.

Szegedy et al., "Going Deeper with Convolutions" (CVPR 2015).
An Inception module runs 1x1, 3x3, 5x5 convolutions and a 3x3 max-pool side by side on the same
input and concatenates their outputs along the channels: the net grows wide as well as deep. The
1x1 convolutions in front of the 3x3 and 5x5 (and after the pool) are bottlenecks that compress the
channels first, which is what keeps the cost down (the notes' "1x1 conv compresses, then restores").
No big FC layers: global average pooling feeds one Linear. Two auxiliary classifiers on inception4a
and inception4d add gradient to the middle of the net during training (weighted 0.3 in the loss).

Like torchvision, the "5x5" branch uses a 3x3 conv (torchvision issue #906; kernel5=True gives the
paper's 5x5), and every conv is followed by BatchNorm (BasicConv2d: conv, bn eps 1e-3, relu).
Parameters at ImageNet settings: 6,624,904 (aux_logits=False, the default here), 13,004,888 with the
two auxiliary heads (torchvision's default). With aux_logits, training-mode forward returns
GoogLeNetOutputs(logits, aux_logits2, aux_logits1); eval mode returns the logits.
Keys: conv1.conv.weight, inception3a.branch2.1.bn.weight, aux1.fc1.weight, fc.weight, ...
"""
from __future__ import annotations

from collections import namedtuple

from ... import nn
from ...nn import functional as F
from ...ops import cat
from .blocks import BasicConv2d, image_input, stem_pool

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

#: (in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) of each module (Table 1 of the paper)
INCEPTION_CFG = {
    "3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128), "5b": (832, 384, 192, 384, 48, 128, 128),
}


class Inception(nn.Module):
    """(N, in, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W): four parallel branches, concatenated."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, kernel5: bool = False):
        super().__init__()
        k = 5 if kernel5 else 3
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1), BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1),
                                     BasicConv2d(ch5x5red, ch5x5, k, padding=k // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, 1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: avg-pool to 4x4 -> 1x1 conv (128) -> fc1 (1024) -> ReLU -> dropout 0.7 -> fc2."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(self.fc1(x).relu()))


class GoogLeNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes) (or GoogLeNetOutputs in training with aux_logits)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, small_input: bool = False,
                 aux_logits: bool = False, dropout: float = 0.2, dropout_aux: float = 0.7, kernel5: bool = False):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = (BasicConv2d(in_channels, 64, 3, padding=1) if small_input
                      else BasicConv2d(in_channels, 64, 7, stride=2, padding=3))
        self.maxpool1 = stem_pool(small_input, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
            setattr(self, f"inception{name}", Inception(*INCEPTION_CFG[name], kernel5=kernel5))
            if name == "3b":
                self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
            if name == "4e":
                self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.aux1 = InceptionAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        for m in self.modules():   # torchvision: N(0, 0.01^2) truncated at 2 std for conv and Linear
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.01, a=-0.02, b=0.02)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def googlenet(num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    return GoogLeNet(num_classes, in_channels, small, **kwargs)
