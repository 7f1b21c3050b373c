"""`scratchgrad.nn`: Modules, layers, losses, initialisers, as `torch.nn`.

    import scratchgrad.nn as nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    loss = nn.CrossEntropyLoss()(model(x), labels)

Every layer lives in `nn/modules/<topic>.py` and is listed in `nn/modules/__init__.py`;
`nn.functional` holds the stateless ops, `nn.init` the initialisers, `nn.utils` gradient clipping.
"""
from __future__ import annotations

from . import functional, init
from .module import Module
from .modules import *  # noqa: F401,F403  (the layers: Linear, Conv2d, LSTM, ...)
from .modules import __all__ as _layers
from .parameter import Parameter

__all__ = sorted(_layers) + ["Module", "Parameter", "functional", "init", "utils"]


from . import utils  # noqa: E402  (gradient clipping; imported last, it may use the classes above)
