"""LeNet-5.

LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document Recognition" (Proc.
IEEE 1998). The first successful CNN: two convolution + subsampling stages learn local features
with shared weights (edges, then strokes), and three fully connected layers classify them; the
notes: "1998, sigmoid, subsampling". 5x5 convs with 6 and 16 filters, 2x2 average pooling,
tanh-like squashing, then 120, 84 and 10 units. The paper's 32x32 input is MNIST's 28x28 padded by
2, so conv1 pads by 2 when the input is smaller than 32.

    LeNet5()                                   tanh + average pooling (the 1998 net)
    LeNet5(activation="relu", pool="max")     the modern variant

Keys: features.0 (conv1), features.3 (conv2), classifier.0/2/4 (fc 120, 84, classes).
61,706 parameters for 1x28x28 input and 10 classes (the paper's 60K; its C3 layer connected
only some of the 6 maps to each of the 16, we connect all). The flattened size after the second pool
is computed from input_size, so any size of at least 28x28 works (3x32x32: 62,006 parameters).
"""
from __future__ import annotations

from ... import nn
from ..mlp import activation_layer
from .blocks import flat_features, image_shape

POOLS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


class LeNet5(nn.Module):
    """(N, C, H, W) -> (N, num_classes): conv5x5 (6) -> act -> pool 2x2 -> conv5x5 (16) -> act -> pool ->
    fc 120 -> act -> fc 84 -> act -> fc num_classes."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size=(28, 28), activation: str = "tanh",
                 pool: str = "avg", padding=None):
        super().__init__()
        shape = image_shape(in_channels, input_size, (28, 28))
        if padding is None:
            padding = 2 if min(shape[1:]) < 32 else 0
        self.features = nn.Sequential(
            nn.Conv2d(shape[0], 6, 5, padding=padding), activation_layer(activation), POOLS[pool](2, 2),
            nn.Conv2d(6, 16, 5), activation_layer(activation), POOLS[pool](2, 2),
            nn.Flatten())
        self.classifier = nn.Sequential(
            nn.Linear(flat_features(self.features, shape), 120), activation_layer(activation),
            nn.Linear(120, 84), activation_layer(activation),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet5(num_classes=10, in_channels=None, input_size=None, **kwargs):
    return LeNet5(num_classes, in_channels, input_size, **kwargs)
