"""A minimal LSTM cell from scratchgrad ops (for GraphSAGE's LSTM aggregator).

PyTorch's `nn.LSTMCell` layout and parameter names: weight_ih (4H, in), weight_hh (4H, H),
bias_ih (4H,), bias_hh (4H,), gates stacked in the order input, forget, cell (g), output:

    i = sigma(W_ii x + b_ii + W_hi h + b_hi)      f = sigma(W_if x + ... )
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)       o = sigma(W_io x + ... )
    c' = f * c + i * g                             h' = o * tanh(c')
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..nn import Module, Parameter, init
from ..nn import functional as F
from ..tensor import DEFAULT_DTYPE, Tensor


class LSTMCell(Module):
    """One LSTM step: (x (B, in), (h, c) each (B, H)) -> (h', c'). Init U(-1/sqrt(H), 1/sqrt(H)) as PyTorch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        dtype = dtype or DEFAULT_DTYPE
        self.weight_ih = Parameter(np.empty((4 * hidden_size, input_size), dtype))
        self.weight_hh = Parameter(np.empty((4 * hidden_size, hidden_size), dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(4 * hidden_size, dtype))
            self.bias_hh = Parameter(np.empty(4 * hidden_size, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def project_input(self, x) -> Tensor:
        """W_ih x + b_ih for a whole batch at once (x may be a scipy.sparse matrix): (B, 4H)."""
        from .layers import linear
        return linear(x, self.weight_ih, self.bias_ih)

    def step(self, xw: Tensor, state=None):
        """One step from the projected input xw = W_ih x + b_ih (B, 4H): returns (h', c')."""
        B, H = xw.shape[0], self.hidden_size
        if state is None:
            zeros = Tensor(np.zeros((B, H), xw.dtype))
            state = (zeros, zeros)
        h, c = state
        gates = xw + F.linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = ops.chunk(gates, 4, dim=1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, c

    def forward(self, x, state=None):
        return self.step(self.project_input(x), state)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"
