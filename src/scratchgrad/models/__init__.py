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
