"""Building blocks shared by the CNN zoo: conv-bn-act stacks, the image-size keywords, init rules.

    conv_bn(16, 32, 3, stride=2)            -> [Conv2d(bias=False), BatchNorm2d(32), ReLU()]
    ConvBNAct(16, 32, 3, stride=2)          a Sequential of those: keys "0.weight", "1.weight", ...
                                            (torchvision's Conv2dNormActivation)
    BasicConv2d(16, 32, kernel_size=3)      keys "conv.weight", "bn.weight" (GoogLeNet / Inception)

The zoo builds every model for 1x28x28, 3x32x32 or 3x224x224 input. `image_input` reads the keywords
the CLI passes (in_channels, input_size=(C, H, W)) and decides whether the image is small: an
ImageNet stem (strided 7x7 conv + max-pool) would shrink a 28x28 MNIST digit to 7x7 before the first
block, so small inputs get the CIFAR stem of He et al. (2016) instead: a 3x3 stride-1 conv, no
max-pool. The rule changes no parameter names.
"""
from __future__ import annotations

from ... import nn
from ...autograd import no_grad
from ...tensor import zeros

#: images smaller than this (in H or W) get the small-input stem unless the caller says otherwise
SMALL_INPUT = 64


def image_input(in_channels=None, input_size=None, small_input=None, default_small: bool = False):
    """The CLI's image keywords -> (in_channels, small).

    in_channels: wins over input_size[0] when both are given (default 3)
    input_size:  (C, H, W) or (H, W) of one sample, or None (unknown size: small = default_small)
    small_input: True/False forces the stem; None picks it from the size (H or W < SMALL_INPUT)"""
    if in_channels is None:
        in_channels = input_size[0] if input_size is not None and len(input_size) == 3 else 3
    if small_input is None:
        small_input = min(input_size[-2:]) < SMALL_INPUT if input_size is not None else default_small
    return int(in_channels), bool(small_input)


def image_shape(in_channels, input_size, default_hw):
    """(C, H, W) of one input sample: H, W from input_size (else default_hw), C from in_channels."""
    hw = tuple(input_size[-2:]) if input_size is not None else tuple(default_hw)
    c = in_channels if in_channels is not None else (input_size[0] if input_size is not None
                                                     and len(input_size) == 3 else 1)
    return (int(c),) + hw


def flat_features(module: nn.Module, shape) -> int:
    """Number of features `module` outputs per sample for an input of shape (C, H, W): one dry run
    on a zero image (the book computes this by hand as C * OH * OW; running it cannot get it wrong)."""
    with no_grad():
        return int(module(zeros(1, *shape)).numel())


def conv_bn(in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=None, groups: int = 1,
            act=nn.ReLU, eps: float = 1e-5, bias: bool = False) -> list:
    """[Conv2d, BatchNorm2d, act()]: the conv-bn-act unit of nearly every modern CNN.

    padding None means "same" for odd kernels ((k - 1) // 2 per side); act None leaves the activation
    out (a linear bottleneck); groups = in_channels gives a depthwise convolution."""
    k = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    if padding is None:
        padding = ((k[0] - 1) // 2, (k[1] - 1) // 2)
    layers = [nn.Conv2d(in_channels, out_channels, k, stride, padding, groups=groups, bias=bias),
              nn.BatchNorm2d(out_channels, eps=eps)]
    return layers + ([act()] if act is not None else [])


class ConvBNAct(nn.Sequential):
    """Sequential(Conv2d, BatchNorm2d, act): torchvision's Conv2dNormActivation (keys 0.*, 1.*)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1, act=nn.ReLU,
                 eps=1e-5):
        super().__init__(*conv_bn(in_channels, out_channels, kernel_size, stride, padding, groups, act, eps))


class BasicConv2d(nn.Module):
    """conv (no bias) -> bn (eps 1e-3) -> ReLU with named children conv/bn (GoogLeNet, Inception-v3)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return self.bn(self.conv(x)).relu()


def stem_conv(in_channels: int, out_channels: int, small: bool, kernel_size: int = 7, stride: int = 2,
              padding=None, bias: bool = False) -> nn.Conv2d:
    """The first conv: the ImageNet one (e.g. 7x7 stride 2), or the CIFAR 3x3 stride 1 if small."""
    if small:
        return nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=bias)
    padding = (kernel_size - 1) // 2 if padding is None else padding
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)


def stem_pool(small: bool, **pool_kwargs) -> nn.Module:
    """The stem's max-pool (3x3 stride 2 unless told), or Identity for small inputs."""
    if small:
        return nn.Identity()
    return nn.MaxPool2d(**{"kernel_size": 3, "stride": 2, **pool_kwargs})


def init_cnn_(model: nn.Module, conv_mode: str | None = "fan_out", linear_std: float | None = None,
              linear_zero_bias: bool = False) -> nn.Module:
    """torchvision's initialisation of conv nets, in place:

    conv weights ~ He normal N(0, 2 / fan) with fan = fan_out (conv_mode "fan_out", ResNet, VGG,
        MobileNet) or fan_in ("fan_in", DenseNet); conv biases 0; conv_mode None leaves convs alone
    BatchNorm weight 1, bias 0 (already so at construction)
    Linear weights ~ N(0, linear_std^2) and biases 0 when linear_std is given (VGG, MobileNet: 0.01),
        else PyTorch's default U(-1/sqrt(in), 1/sqrt(in)) (ResNet); linear_zero_bias zeroes the
        bias only (DenseNet)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and conv_mode is not None:
            nn.init.kaiming_normal_(m.weight, mode=conv_mode, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_std is not None:
                nn.init.normal_(m.weight, 0.0, linear_std)
            if (linear_std is not None or linear_zero_bias) and m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def num_parameters(model: nn.Module) -> int:
    """Total number of learnable values (what torchvision's model cards list as num_params)."""
    return sum(p.numel() for p in model.parameters())
