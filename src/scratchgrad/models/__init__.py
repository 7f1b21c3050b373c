"""Model registry: build a model from its name and keyword arguments (what the CLI and config.json use).

    model = get_model("mlp", in_features=64, num_classes=10, hidden=[100])
    list_models()    # ["mlp", ...]

Another file adds a model with the decorator:

    @register_model("lenet")
    def lenet(in_channels=1, num_classes=10): ...
"""
from __future__ import annotations

import importlib

_BUILDERS: dict = {}          # name -> callable(**kw) -> Module
_LAZY = {"mlp": ".mlp:MLP"}   # built-ins, imported on first use
_LAZY["textcnn"] = "..text.textcnn:TextCNN"   # Kim 2014 (scratchgrad.text): vocab_size=...
# the CNN zoo (models/cnn/): every builder takes num_classes, in_channels and input_size=(C, H, W)
_LAZY.update({
    "lenet5": ".cnn.lenet:lenet5", "lenet": ".cnn.lenet:lenet5",
    "simple-convnet": ".cnn.book:simple_convnet", "deep-convnet": ".cnn.book:deep_convnet",
    "alexnet": ".cnn.alexnet:alexnet",
    **{f"vgg{d}{bn}": f".cnn.vgg:vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    "googlenet": ".cnn.googlenet:googlenet",
    "inception-block": ".cnn.inception:inception_block", "inception_v3": ".cnn.inception:inception_v3",
    **{f"resnet{d}": f".cnn.resnet:resnet{d}" for d in (18, 34, 50, 101, 152)},
    "resnext50_32x4d": ".cnn.resnet:resnext50_32x4d", "se-resnet50": ".cnn.resnet:se_resnet50",
    "se-resnet18": ".cnn.resnet:se_resnet18",
    "preact-resnet18": ".cnn.preact_resnet:preact_resnet18", "preact-resnet34": ".cnn.preact_resnet:preact_resnet34",
    "densenet121": ".cnn.densenet:densenet121",
    "mobilenet-v1": ".cnn.mobilenet:mobilenet_v1", "mobilenet_v2": ".cnn.mobilenet:mobilenet_v2",
    "shufflenet_v2_x0_5": ".cnn.shufflenet:shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0": ".cnn.shufflenet:shufflenet_v2_x1_0",
    "squeezenet1_0": ".cnn.squeezenet:squeezenet1_0", "squeezenet1_1": ".cnn.squeezenet:squeezenet1_1",
    "hourglass": ".cnn.hourglass:hourglass",
    **{f"{kind}{d}": f".cnn.cifar_resnet:{kind}{d}" for kind in ("resnet", "plain") for d in (20, 32, 44, 56)},
    "resnet110": ".cnn.cifar_resnet:resnet110",
})


def register_model(name: str):
    """Decorator: register a class or function that builds the model `name` from keyword arguments."""
    def deco(builder):
        _BUILDERS[name] = builder
        return builder
    return deco


def _builder(name: str):
    if name not in _BUILDERS and name in _LAZY:
        module, attr = _LAZY[name].split(":")
        _BUILDERS[name] = getattr(importlib.import_module(module, __name__), attr)
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _BUILDERS[name]


def get_model(name: str, **kwargs):
    """A new, freshly initialised model `name` (uses scratchgrad's global generator: seed it first)."""
    return _builder(name)(**kwargs)


def list_models() -> list[str]:
    return sorted(set(_BUILDERS) | set(_LAZY))


def __getattr__(name):
    if name == "MLP":
        return _builder("mlp")
    raise AttributeError(f"module 'scratchgrad.models' has no attribute {name!r}")
