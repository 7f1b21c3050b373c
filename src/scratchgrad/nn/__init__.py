"""`scratchgrad.nn`: Modules, layers, losses, initialisers, as `torch.nn`.

    import scratchgrad.nn as nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    loss = nn.CrossEntropyLoss()(model(x), labels)

`nn.functional` holds the stateless ops, `nn.init` the initialisers, `nn.utils` gradient clipping.
"""
from __future__ import annotations

from . import functional, init
from .module import Module
from .modules import (ELU, GELU, BatchNorm1d, BatchNorm2d, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout,
                      Embedding, Flatten, HuberLoss, Identity, KLDivLoss, L1Loss, LayerNorm, LeakyReLU, Linear,
                      LogSoftmax, Maxout, ModuleDict, ModuleList, MSELoss, NLLLoss, PReLU, ReLU, Sequential, Sigmoid,
                      SiLU, SmoothL1Loss, Softmax, Softplus, Tanh)
from .parameter import Parameter
from .modules.rnn import GRU, LSTM, RNN, PackedSequence, pack_padded_sequence, pad_packed_sequence
from .modules.rnn_cells import GRUCell, LSTMCell, RNNCell

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "PackedSequence", "RNN", "RNNCell", "pack_padded_sequence",
           "pad_packed_sequence", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "CrossEntropyLoss", "Dropout", "ELU",
           "Embedding", "Flatten", "GELU", "HuberLoss", "Identity", "KLDivLoss", "L1Loss", "LayerNorm", "LeakyReLU",
           "Linear", "LogSoftmax", "MSELoss", "Maxout", "Module", "ModuleDict", "ModuleList", "NLLLoss", "PReLU",
           "Parameter", "ReLU", "SiLU", "Sequential", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Tanh",
           "functional", "init", "utils"]


from . import utils  # noqa: E402  (gradient clipping; imported last, it may use the classes above)
