"""Inception-v3 modules (factorised n x 1 / 1 x n convolutions), Inception-v3 and a small Inception net.

Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, "Rethinking the Inception Architecture for Computer
Vision" (CVPR 2016). Factorise big convolutions: a 5x5 becomes two stacked 3x3 (18 vs 25 weights per
channel pair, same 5x5 view), and an n x n becomes a 1 x n followed by an n x 1 (2n vs n^2: for n = 7,
14 instead of 49). Grid reductions (InceptionB, InceptionD) run strided convs and a pool in parallel
and concatenate them, so the map shrinks without the representational bottleneck of pooling first.
Every conv is BasicConv2d (conv, BN eps 1e-3, ReLU).

    InceptionA  35x35 grid: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1
    InceptionB  35 -> 17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2
    InceptionC  17x17 grid, factorised n x n (n = 7): 1x1 | 1x1-1xn-nx1 | 1x1-nx1-1xn-nx1-1xn | avgpool-1x1
    InceptionD  17 -> 8 reduction;  InceptionE  8x8 grid with split 1x3 / 3x1 outputs

Modules, names and keys are torchvision's (Mixed_6b.branch7x7_2.conv.weight is (128, 128, 1, 7)).
inception_v3: 23,834,568 parameters at ImageNet settings, 27,161,264 with aux_logits=True (input at
least 75x75, 299x299 in the paper). "inception-block" (InceptionNet) is a small net for 28x28 or 32x32
images: a two-conv stem, InceptionA, the InceptionB reduction and one factorised InceptionC (n = 3),
then global average pooling (1,799,114 parameters for 3x32x32 input and 10 classes).
"""
from __future__ import annotations

from ... import nn
from ...nn import functional as F
from ...ops import cat
from .blocks import BasicConv2d, image_input, stem_pool


class InceptionModule(nn.Module):
    """Parallel branches, concatenated along the channels. A subclass adds its BasicConv2d layers with
    conv(name, ...) and lists `paths`: each path is a list of steps run in order, a step being a layer
    name, "avgpool" (3x3 stride 1 pad 1), "maxpool" (3x3 stride 2) or a tuple of layer names run side
    by side on the same input and concatenated (InceptionE's split 1x3 / 3x1)."""

    paths: list = []

    def conv(self, name, in_channels, out_channels, kernel_size, stride=1, padding=0):
        setattr(self, name, BasicConv2d(in_channels, out_channels, kernel_size, stride, padding))

    def _run(self, x, path):
        for step in path:
            if step == "avgpool":
                x = F.avg_pool2d(x, 3, 1, 1)
            elif step == "maxpool":
                x = F.max_pool2d(x, 3, 2)
            elif isinstance(step, tuple):
                x = cat([getattr(self, s)(x) for s in step], 1)
            else:
                x = getattr(self, step)(x)
        return x

    def forward(self, x):
        return cat([self._run(x, path) for path in self.paths], 1)


class InceptionA(InceptionModule):
    """(N, C, H, W) -> (N, 224 + pool_features, H, W); the 5x5 kept, plus its factorised 3x3-3x3 twin."""

    paths = [["branch1x1"], ["branch5x5_1", "branch5x5_2"], ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
             ["avgpool", "branch_pool"]]

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.conv("branch1x1", in_channels, 64, 1)
        self.conv("branch5x5_1", in_channels, 48, 1)
        self.conv("branch5x5_2", 48, 64, 5, padding=2)
        self.conv("branch3x3dbl_1", in_channels, 64, 1)
        self.conv("branch3x3dbl_2", 64, 96, 3, padding=1)
        self.conv("branch3x3dbl_3", 96, 96, 3, padding=1)
        self.conv("branch_pool", in_channels, pool_features, 1)


class InceptionB(InceptionModule):
    """(N, C, H, W) -> (N, C + 480, (H-3)/2+1, (W-3)/2+1): grid reduction."""

    paths = [["branch3x3"], ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"], ["maxpool"]]

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv("branch3x3", in_channels, 384, 3, stride=2)
        self.conv("branch3x3dbl_1", in_channels, 64, 1)
        self.conv("branch3x3dbl_2", 64, 96, 3, padding=1)
        self.conv("branch3x3dbl_3", 96, 96, 3, stride=2)


class InceptionC(InceptionModule):
    """(N, C, H, W) -> (N, 768, H, W): n x n convs factorised into 1 x n and n x 1 (n = 7 in Inception-v3)."""

    paths = [["branch1x1"], ["branch7x7_1", "branch7x7_2", "branch7x7_3"],
             ["branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5"],
             ["avgpool", "branch_pool"]]

    def __init__(self, in_channels: int, channels_7x7: int, n: int = 7):
        super().__init__()
        c7, row, col = channels_7x7, ((1, n), (0, n // 2)), ((n, 1), (n // 2, 0))   # (kernel, padding)
        self.conv("branch1x1", in_channels, 192, 1)
        self.conv("branch7x7_1", in_channels, c7, 1)
        self.conv("branch7x7_2", c7, c7, row[0], padding=row[1])
        self.conv("branch7x7_3", c7, 192, col[0], padding=col[1])
        self.conv("branch7x7dbl_1", in_channels, c7, 1)
        for i, (cin, cout, (k, p)) in enumerate([(c7, c7, col), (c7, c7, row), (c7, c7, col), (c7, 192, row)]):
            self.conv(f"branch7x7dbl_{i + 2}", cin, cout, k, padding=p)
        self.conv("branch_pool", in_channels, 192, 1)


class InceptionD(InceptionModule):
    """(N, C, H, W) -> (N, C + 512, (H-3)/2+1, (W-3)/2+1): grid reduction with a factorised 7x7 path."""

    paths = [["branch3x3_1", "branch3x3_2"], ["branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"],
             ["maxpool"]]

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv("branch3x3_1", in_channels, 192, 1)
        self.conv("branch3x3_2", 192, 320, 3, stride=2)
        self.conv("branch7x7x3_1", in_channels, 192, 1)
        self.conv("branch7x7x3_2", 192, 192, (1, 7), padding=(0, 3))
        self.conv("branch7x7x3_3", 192, 192, (7, 1), padding=(3, 0))
        self.conv("branch7x7x3_4", 192, 192, 3, stride=2)


class InceptionE(InceptionModule):
    """(N, C, H, W) -> (N, 2048, H, W): the 3x3 outputs split into parallel 1x3 and 3x1 (wider, not deeper)."""

    paths = [["branch1x1"], ["branch3x3_1", ("branch3x3_2a", "branch3x3_2b")],
             ["branch3x3dbl_1", "branch3x3dbl_2", ("branch3x3dbl_3a", "branch3x3dbl_3b")], ["avgpool", "branch_pool"]]

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv("branch1x1", in_channels, 320, 1)
        self.conv("branch3x3_1", in_channels, 384, 1)
        self.conv("branch3x3_2a", 384, 384, (1, 3), padding=(0, 1))
        self.conv("branch3x3_2b", 384, 384, (3, 1), padding=(1, 0))
        self.conv("branch3x3dbl_1", in_channels, 448, 1)
        self.conv("branch3x3dbl_2", 448, 384, 3, padding=1)
        self.conv("branch3x3dbl_3a", 384, 384, (1, 3), padding=(0, 1))
        self.conv("branch3x3dbl_3b", 384, 384, (3, 1), padding=(1, 0))
        self.conv("branch_pool", in_channels, 192, 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on the 17x17 grid: avg-pool 5x5/3 -> 1x1 conv (128) -> 5x5 conv (768) -> fc."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv0 = BasicConv2d(in_channels, 128, 1)
        self.conv1 = BasicConv2d(128, 768, 5)
        self.conv1.conv.stddev = 0.01
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001

    def forward(self, x):
        x = self.conv1(self.conv0(F.avg_pool2d(x, 5, 3)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _init_inception_(model):
    """torchvision: conv and Linear weights ~ N(0, stddev^2) (0.1 unless a layer sets .stddev), truncated
    at +-2, i.e. at 20 or more standard deviations: a plain normal draw is the same distribution."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, float(getattr(m, "stddev", 0.1)))


class Inception3(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes); in training with aux_logits, (logits, aux_logits)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False,
                 dropout: float = 0.5):
        super().__init__()
        self.aux_logits = aux_logits
        self.Conv2d_1a_3x3 = BasicConv2d(in_channels, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, 2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, 2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, num_classes)
        _init_inception_(self)

    def forward(self, x):
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                     "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b",
                     "Mixed_6c", "Mixed_6d", "Mixed_6e"):
            x = getattr(self, name)(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        logits = self.fc(self.dropout(self.avgpool(x)).flatten(1))
        return (logits, aux) if aux is not None else logits


class InceptionNet(nn.Module):
    """A small Inception-v3-style classifier: stem (2 convs) -> InceptionA -> InceptionB (reduction) ->
    InceptionC (factorised 1xn / nx1) -> global average pool -> dropout -> fc. Small inputs keep the
    full resolution in the stem; larger ones get a stride-2 first conv and a max-pool."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, small_input: bool = True, n: int = 3,
                 channels_nxn: int = 64, dropout: float = 0.2):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(in_channels, 32, 3, stride=1 if small_input else 2, padding=1)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool1 = stem_pool(small_input)
        self.Mixed_5b = InceptionA(64, pool_features=32)                  # -> 256 channels
        self.Mixed_6a = InceptionB(256)                                   # -> 736 channels, map / 2
        self.Mixed_6b = InceptionC(736, channels_7x7=channels_nxn, n=n)   # -> 768 channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Mixed_6b(self.Mixed_6a(self.Mixed_5b(x)))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def inception_v3(num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    """Inception-v3 (input at least 75x75: use inception_block for small images)."""
    if input_size is not None and min(input_size[-2:]) < 75:
        raise ValueError(f"inception_v3 needs inputs of at least 75x75 (got {tuple(input_size)}); "
                         "use 'inception-block' for small images")
    in_channels, _ = image_input(in_channels, input_size)
    return Inception3(num_classes, in_channels, **kwargs)


def inception_block(num_classes=10, in_channels=None, input_size=None, small_input=None, **kwargs):
    in_channels, small = image_input(in_channels, input_size, small_input, default_small=True)
    return InceptionNet(num_classes, in_channels, small, **kwargs)
