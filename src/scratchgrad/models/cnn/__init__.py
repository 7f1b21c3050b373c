"""The classic CNN zoo, one file per family (each file's docstring states the paper, the idea and
the parameter counts):

    lenet.py          LeNet-5 (1998)                     book.py         SimpleConvNet, DeepConvNet
    alexnet.py        AlexNet (2012: ReLU, LRN, dropout, two-GPU grouped convs)
    vgg.py            VGG-11/13/16/19 (+ BN): stacked 3x3 convs
    googlenet.py      GoogLeNet / Inception v1: parallel branches, 1x1 bottlenecks, auxiliary heads
    inception.py      Inception-v3 modules: factorised 1 x n / n x 1 convs; a small Inception net
    resnet.py         ResNet-18..152, ResNeXt, SE-ResNet: residual learning (torchvision keys)
    preact_resnet.py  pre-activation ResNet (identity mappings)
    cifar_resnet.py   ResNet-20/32/44/56/110 and plain twins (option A shortcuts)
    densenet.py       DenseNet-121/161/169/201: dense concatenation
    mobilenet.py      MobileNet v1 (depthwise separable) and v2 (inverted residuals)
    shufflenet.py     ShuffleNet v2: channel split and shuffle
    squeezenet.py     SqueezeNet 1.0/1.1: Fire modules
    hourglass.py      stacked hourglass: encoder-decoder with skips
    blocks.py         shared conv-bn-act builders, stems, init

Build them by name through the registry (what the CLI does):

    from scratchgrad.models import get_model
    model = get_model("resnet18", num_classes=10, in_channels=3, input_size=(3, 32, 32))

Every builder takes num_classes, in_channels and input_size=(C, H, W); images smaller than 64
pixels get a CIFAR-style stem (3x3 stride 1, no max-pool) unless small_input=False.
"""
from .alexnet import AlexNet, alexnet
from .blocks import ConvBNAct, num_parameters
from .book import DeepConvNet, SimpleConvNet, deep_convnet, simple_convnet
from .cifar_resnet import CifarResNet
from .densenet import DenseNet, densenet121
from .googlenet import GoogLeNet, googlenet
from .hourglass import Hourglass, HourglassNet, hourglass
from .inception import Inception3, InceptionNet, inception_block, inception_v3
from .lenet import LeNet5, lenet5
from .mobilenet import MobileNetV1, MobileNetV2, mobilenet_v1, mobilenet_v2
from .preact_resnet import PreActResNet, preact_resnet18
from .resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, se_resnet50
from .shufflenet import ShuffleNetV2, shufflenet_v2_x1_0
from .squeezenet import SqueezeNet, squeezenet1_1
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
