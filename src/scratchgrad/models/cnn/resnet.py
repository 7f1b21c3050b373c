"""ResNet-18/34/50/101/152, ResNeXt and SE-ResNet (torchvision's layout and state_dict keys).

He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016).
Residual learning: a block learns the residual F(x) and outputs relu(F(x) + x), so stacking more
blocks can always fall back to the identity, and the gradient flows back through the "+ x"
shortcuts undiminished; deeper nets then train better instead of worse (the degradation problem).
Two blocks: BasicBlock (two 3x3 convs: ResNet-18/34) and Bottleneck (1x1 reduce, 3x3, 1x1 expand
by 4: ResNet-50+, cheaper per layer). When a stage halves the map and widens the channels, the
shortcut is a strided 1x1 conv + BN (option B of the paper, `downsample`).
Variants here: ResNeXt (Xie et al., 2017: the Bottleneck's 3x3 becomes a grouped conv with
`groups` x `width_per_group` channels: more, thinner paths for the same cost) and SE-ResNet
(Hu et al., 2018: a SqueezeExcitation block reweights each block's channels before the addition).

Stage maps at 224x224: 224 -> 112 (conv1) -> 56 (maxpool) -> 56, 28, 14, 7 (layer1-4) -> 1 (avgpool).
Parameters at ImageNet settings (1000 classes), equal to torchvision's:
    resnet18 11,689,512   resnet34 21,797,672   resnet50 25,557,032   resnet101 44,549,160
    resnet152 60,192,808  resnext50_32x4d 25,028,904   se_resnet50 28,088,024 (Hu et al.: 28.1M)
Small inputs (H or W < 64, e.g. CIFAR/MNIST) get the 3x3 stride-1 stem without max-pool; the
keys do not change (conv1.weight is (64, C, 3, 3) instead of (64, C, 7, 7)).
"""
from __future__ import annotations

from ... import nn
from .blocks import image_input, init_cnn_, stem_conv, stem_pool


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride, 1, groups=groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride, bias=False)


class ResidualBlock(nn.Module):
    """What the residual blocks share: out = relu(SE(branch(x)) + shortcut(x)).

    A subclass builds its layers and defines branch(x). downsample: the shortcut's projection (None:
    identity); se_reduction r: add SqueezeExcitation(C, C // r) (SE-ResNet); residual=False: no
    shortcut at all (the "plain" nets of the degradation experiment)."""

    expansion = 1

    def _finish(self, out_channels, downsample, se_reduction, residual):
        self.relu = nn.ReLU()
        self.se = nn.SqueezeExcitation(out_channels, out_channels // se_reduction) if se_reduction else None
        self.downsample = downsample
        self.residual = residual

    def branch(self, x):
        raise NotImplementedError

    def forward(self, x):
        out = self.branch(x)
        if self.se is not None:
            out = self.se(out)
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class BasicBlock(ResidualBlock):
    """(N, inplanes, H, W) -> (N, planes, H/stride, W/stride): conv3x3-bn-relu-conv3x3-bn, + x, relu."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, se_reduction=None,
                 residual=True):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64 (use Bottleneck for ResNeXt)")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self._finish(planes, downsample, se_reduction, residual)

    def branch(self, x):
        return self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))


class Bottleneck(ResidualBlock):
    """(N, inplanes, H, W) -> (N, 4 planes, H/stride, W/stride): 1x1 reduce to `width`, 3x3 (stride,
    groups), 1x1 expand to 4 planes; width = planes * base_width / 64 * groups (planes for ResNet-50,
    2 planes for ResNeXt-50 32x4d). The stride sits on the 3x3 (torchvision's "ResNet v1.5")."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, se_reduction=None,
                 residual=True):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self._finish(planes * self.expansion, downsample, se_reduction, residual)

    def branch(self, x):
        out = self.bn1(self.conv1(x)).relu()
        out = self.bn2(self.conv2(out)).relu()
        return self.bn3(self.conv3(out))


def projection_shortcut(inplanes: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B: a strided 1x1 conv + BN matching the block's output shape (keys downsample.0/1)."""
    return nn.Sequential(conv1x1(inplanes, out_channels, stride), nn.BatchNorm2d(out_channels))


def make_layer(block, inplanes: int, planes: int, blocks: int, stride: int = 1, shortcut=projection_shortcut,
               **block_kwargs):
    """One stage: `blocks` blocks, the first strided. The first gets shortcut(inplanes, out, stride) as
    its downsample when the shape changes (shortcut None: identity everywhere).
    Returns (Sequential of blocks, output channels)."""
    out = planes * block.expansion
    downsample = shortcut(inplanes, out, stride) if shortcut is not None and (stride != 1 or inplanes != out) \
        else None
    layers = [block(inplanes, planes, stride, downsample, **block_kwargs)]
    layers += [block(out, planes, **block_kwargs) for _ in range(1, blocks)]
    return nn.Sequential(*layers), out


def add_stages(model: nn.Module, block, layers, widths, inplanes: int, shortcut=projection_shortcut,
               **block_kwargs) -> int:
    """Give `model` the stages layer1, layer2, ... (widths[i] planes, layers[i] blocks; every stage after
    the first halves the map). Returns the channels of the last stage."""
    for i, (planes, n) in enumerate(zip(widths, layers)):
        stage, inplanes = make_layer(block, inplanes, planes, n, 1 if i == 0 else 2, shortcut, **block_kwargs)
        setattr(model, f"layer{i + 1}", stage)
    model.num_stages = len(layers)
    return inplanes


def run_stages(model: nn.Module, x):
    for i in range(model.num_stages):
        x = getattr(model, f"layer{i + 1}")(x)
    return x


class ResNet(nn.Module):
    """(N, in_channels, H, W) -> (N, num_classes) logits.

    block:  BasicBlock or Bottleneck;  layers: blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18
    groups, width_per_group: ResNeXt's cardinality and width (Bottleneck only)
    se_reduction: r of the SE blocks (16 for SE-ResNet), None for none
    small_input: 3x3 stride-1 stem and no max-pool (CIFAR / MNIST sizes)
    zero_init_residual: start each block's last BN at 0, so every block begins as the identity"""

    def __init__(self, block, layers, num_classes: int = 1000, in_channels: int = 3, small_input: bool = False,
                 groups: int = 1, width_per_group: int = 64, se_reduction=None, zero_init_residual: bool = False,
                 widths=(64, 128, 256, 512)):
        super().__init__()
        self.conv1 = stem_conv(in_channels, 64, small_input)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = stem_pool(small_input, padding=1)
        out = add_stages(self, block, layers, widths, 64, groups=groups, base_width=width_per_group,
                         se_reduction=se_reduction)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(out, num_classes)
        init_cnn_(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, ResidualBlock):
                    nn.init.zeros_(m.bn3.weight if isinstance(m, Bottleneck) else m.bn2.weight)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = run_stages(self, x)
        return self.fc(self.avgpool(x).flatten(1))


def build_resnet(block, layers, num_classes=1000, in_channels=None, input_size=None, small_input=None, **kwargs):
    """A ResNet from the CLI's keywords (input_size=(C, H, W) picks the stem; see blocks.image_input)."""
    in_channels, small = image_input(in_channels, input_size, small_input)
    return ResNet(block, layers, num_classes, in_channels, small, **kwargs)


def resnet18(**kwargs):
    return build_resnet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs):
    return build_resnet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs):
    return build_resnet(Bottleneck, [3, 4, 6, 3], **kwargs)


def resnet101(**kwargs):
    return build_resnet(Bottleneck, [3, 4, 23, 3], **kwargs)


def resnet152(**kwargs):
    return build_resnet(Bottleneck, [3, 8, 36, 3], **kwargs)


def resnext50_32x4d(**kwargs):
    """ResNeXt-50 with 32 groups of width 4 (25,028,904 parameters)."""
    return build_resnet(Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4, **kwargs)


def resnext101_32x8d(**kwargs):
    """ResNeXt-101 with 32 groups of width 8 (88,791,336 parameters)."""
    return build_resnet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=8, **kwargs)


def wide_resnet50_2(**kwargs):
    """Wide ResNet-50-2: every bottleneck twice as wide (68,883,240 parameters)."""
    return build_resnet(Bottleneck, [3, 4, 6, 3], width_per_group=128, **kwargs)


def se_resnet18(**kwargs):
    return build_resnet(BasicBlock, [2, 2, 2, 2], se_reduction=16, **kwargs)


def se_resnet50(**kwargs):
    """ResNet-50 with an SE block (r = 16) in every bottleneck (28,088,024 parameters)."""
    return build_resnet(Bottleneck, [3, 4, 6, 3], se_reduction=16, **kwargs)
