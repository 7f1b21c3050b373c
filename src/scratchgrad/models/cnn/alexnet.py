"""AlexNet (torchvision's layout by default; the paper's LRN and two-GPU grouped convs as options).

Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks"
(NeurIPS 2012). Five conv layers and three fully connected ones, with what made deep CNNs work in
2012: ReLU instead of saturating sigmoids, overlapping 3x3 stride-2 max-pooling, dropout in the FC
layers, local response normalisation (LRN) after the first two convs, and the net split over two
GPUs: conv2, conv4 and conv5 only see the channels on their own GPU (a grouped conv, groups=2).

The default is torchvision's single-GPU variant ("One weird trick", Krizhevsky 2014: 64, 192, 384,
256, 256 channels, no LRN), 61,100,840 parameters at ImageNet settings; keys features.0.weight,
features.3.weight, ..., classifier.1/4/6.weight.
    alexnet(lrn=True, groups=2, widths=PAPER_WIDTHS)    the 2012 paper (96, 256, 384, 384, 256)
(LRN layers shift the indices of later layers in `features`.) Small inputs (H or W < 64) get a 3x3
stride-1 first conv and a 512-unit head on a 1x1 average (as vgg.py explains).
"""
from __future__ import annotations

from ... import nn
from .blocks import image_input, stem_conv

TORCHVISION_WIDTHS = (64, 192, 384, 256, 256)
PAPER_WIDTHS = (96, 256, 384, 384, 256)


class AlexNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes).

    lrn:    LocalResponseNorm(5, 1e-4, 0.75, k=2) after the ReLUs of conv1 and conv2 (the paper)
    groups: 2 splits conv2, conv4, conv5 into two halves, as on the paper's two GPUs
    widths: the five conv widths (TORCHVISION_WIDTHS or PAPER_WIDTHS)"""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, lrn: bool = False,
                 groups: int = 1, widths=TORCHVISION_WIDTHS, dropout: float = 0.5, pool_size: int = 6,
                 hidden: int = 4096):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        conv1 = stem_conv(in_channels, c1, small_input, kernel_size=11, stride=4, padding=2, bias=True)

        def norm():
            return [nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)] if lrn else []

        self.features = nn.Sequential(
            conv1, nn.ReLU(), *norm(), nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, padding=2, groups=groups), nn.ReLU(), *norm(), nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c4, 3, padding=1, groups=groups), nn.ReLU(),
            nn.Conv2d(c4, c5, 3, padding=1, groups=groups), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c5 * pool_size * pool_size, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def alexnet(num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input)
    if small:
        kwargs = {"pool_size": 1, "hidden": 512, **kwargs}
    return AlexNet(num_classes, in_channels, small, **kwargs)
