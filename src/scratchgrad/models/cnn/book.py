"""The two CNNs of "Deep Learning from Scratch" (Saito, 2016): SimpleConvNet (ch. 7) and DeepConvNet (ch. 8).

SimpleConvNet (benchmark W2): the smallest CNN that shows the idea: conv 30 filters 5x5 (stride 1,
pad 0) -> ReLU -> max-pool 2x2/2 -> affine 100 -> ReLU -> affine 10. A conv layer keeps the image's
spatial shape and shares its weights across positions; pooling makes it tolerant to small shifts.
About 98.9% on MNIST. Weights ~ N(0, 0.01^2) as in the book (weight_init_std), biases 0.
433,890 parameters for 1x28x28 (4,320 flattened features after the pool).

DeepConvNet (benchmark W3): deeper with small 3x3 filters, VGG-style:
    conv3x3(16)-relu-conv3x3(16)-relu-pool-conv3x3(32)-relu-conv3x3(32, pad 2)-relu-pool-
    conv3x3(64)-relu-conv3x3(64)-relu-pool-affine(50)-relu-dropout(0.5)-affine(10)-dropout(0.5)
pad 1 except where noted (28 -> 14 -> 16 -> 8 -> 4: 1,024 features). He initialisation
(N(0, 2 / fan_in)), biases 0. The book reports 99.38% on MNIST. 123,552 parameters for 1x28x28.

Both are nn.Module trees with named layers (conv1, relu1, pool1, ..., fc1, fc2): state_dict keys
conv1.weight, fc1.weight, ... so an equal torch.nn.Sequential(OrderedDict(...)) loads them as is.
The softmax-with-loss layer of the book is F.cross_entropy on the logits these return.
"""
from __future__ import annotations

from collections import OrderedDict

from ... import nn
from .blocks import flat_features, image_shape


def book_init_(model: nn.Module, weight_init_std) -> nn.Module:
    """The book's initialisation: weights ~ N(0, std^2) with std = weight_init_std (a number), or He's
    sqrt(2 / fan_in) for "he"/"relu" ("xavier"/"sigmoid": sqrt(1 / fan_in)); biases 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if isinstance(weight_init_std, str):
                fan_in = m.weight.numel() // m.weight.shape[0]
                scale = 2.0 if weight_init_std.lower() in ("he", "relu") else 1.0
                nn.init.normal_(m.weight, 0.0, (scale / fan_in) ** 0.5)
            else:
                nn.init.normal_(m.weight, 0.0, float(weight_init_std))
            nn.init.zeros_(m.bias)
    return model


class _BookNet(nn.Sequential):
    """Named conv layers, flatten, then make_head(n) for the n flattened features of an input of `shape`."""

    def __init__(self, conv_layers: list, make_head, shape, weight_init_std):
        super().__init__(OrderedDict(conv_layers + [("flatten", nn.Flatten())]))
        for name, layer in make_head(flat_features(self, shape)):
            self.add_module(name, layer)
        book_init_(self, weight_init_std)


class SimpleConvNet(_BookNet):
    """(N, C, H, W) -> (N, output_size): conv1 -> relu1 -> pool1 -> flatten -> fc1 -> relu2 -> fc2."""

    def __init__(self, input_dim=(1, 28, 28), filter_num: int = 30, filter_size: int = 5, pad: int = 0,
                 stride: int = 1, hidden_size: int = 100, output_size: int = 10, weight_init_std=0.01):
        conv = [("conv1", nn.Conv2d(input_dim[0], filter_num, filter_size, stride, pad)), ("relu1", nn.ReLU()),
                ("pool1", nn.MaxPool2d(2, 2))]
        def head(n):
            return [("fc1", nn.Linear(n, hidden_size)), ("relu2", nn.ReLU()),
                    ("fc2", nn.Linear(hidden_size, output_size))]
        super().__init__(conv, head, tuple(input_dim), weight_init_std)


class DeepConvNet(_BookNet):
    """(N, C, H, W) -> (N, output_size): six 3x3 conv-relu layers (16, 16, 32, 32, 64, 64 filters) with a
    max-pool after every second one -> fc1 (50) -> relu -> dropout -> fc2 -> dropout.
    The book's dropout on the class scores zeroes half the logits while training, so the training accuracy
    a trainer prints stays near 60% while the test accuracy (eval mode) reaches 99.4%."""

    def __init__(self, input_dim=(1, 28, 28), hidden_size: int = 50, output_size: int = 10,
                 dropout: float = 0.5, weight_init_std="he"):
        conv, c = [], input_dim[0]
        for i, (filters, pad) in enumerate([(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]):
            conv += [(f"conv{i + 1}", nn.Conv2d(c, filters, 3, 1, pad)), (f"relu{i + 1}", nn.ReLU())]
            if i % 2:
                conv.append((f"pool{i // 2 + 1}", nn.MaxPool2d(2, 2)))
            c = filters
        def head(n):
            return [("fc1", nn.Linear(n, hidden_size)), ("relu7", nn.ReLU()), ("dropout1", nn.Dropout(dropout)),
                    ("fc2", nn.Linear(hidden_size, output_size)), ("dropout2", nn.Dropout(dropout))]
        super().__init__(conv, head, tuple(input_dim), weight_init_std)


def simple_convnet(num_classes=10, in_channels=None, input_size=None, **kwargs):
    return SimpleConvNet(image_shape(in_channels, input_size, (28, 28)), output_size=num_classes, **kwargs)


def deep_convnet(num_classes=10, in_channels=None, input_size=None, **kwargs):
    return DeepConvNet(image_shape(in_channels, input_size, (28, 28)), output_size=num_classes, **kwargs)
