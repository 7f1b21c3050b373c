"""A configurable multi-layer perceptron (the book's `MultiLayerNet`, chapters 5-6).

    model = MLP(64, 10, hidden=(100, 100), activation="relu", dropout=0.1, batchnorm=True)

Layers: Flatten -> [Linear -> (BatchNorm1d) -> activation -> (Dropout)] per hidden size -> Linear.
It is an `nn.Sequential`, so its state_dict keys are PyTorch's ("1.weight", "2.running_mean", ...).
"""
from __future__ import annotations

from .. import nn

ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU", "elu": "ELU",
               "leaky_relu": "LeakyReLU", "identity": "Identity"}


def activation_layer(name: str) -> nn.Module:
    """A fresh activation module from its name ("relu", "tanh", ...)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    return getattr(nn, ACTIVATIONS[name])()


class MLP(nn.Sequential):
    """Flattened input (N, in_features) -> logits (N, num_classes).

    hidden:     sizes of the hidden layers, e.g. (100, 100); () gives a linear classifier
    activation: "relu", "sigmoid", "tanh", "gelu", "elu", "leaky_relu" or "identity"
    dropout:    drop probability after each hidden activation (0 = no Dropout layer)
    batchnorm:  BatchNorm1d between each hidden Linear and its activation
    """

    def __init__(self, in_features: int, num_classes: int, hidden=(100,), activation: str = "relu",
                 dropout: float = 0.0, batchnorm: bool = False):
        layers = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)
