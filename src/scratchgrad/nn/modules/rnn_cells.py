"""Recurrent cells (one time step), written with differentiable Tensor ops.

    RNN   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)                    (or relu)
    LSTM  i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh)           gate order i, f, g, o
          i, f, o = sigmoid(.)   g = tanh(.)
          c' = f * c + i * g     h' = o * tanh(c')
    GRU   r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})
          n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
          h' = (1 - z) * n + z * h

All gates of a step come from ONE GEMM of the input and one of the hidden state (weights are
stacked gate after gate: weight_ih is (gates * H, I), as in PyTorch). Being plain Tensor ops,
the cells support create_graph (double backward). The multi-layer RNN/LSTM/GRU modules run a
fused NumPy kernel instead (rnn_kernels.py) and fall back on these cells with `fused=False`.

LSTM variants from the notes (options of LSTMCell and LSTM):
    peephole   the gates also look at the cell:  i, f += p_i * c, p_f * c   and   o += p_o * c'
               (diagonal weights, parameter `weight_peephole` of shape (3, H), rows i, f, o)
    coupled    one gate decides what to forget and what to write:  f = 1 - i
               c' = (1 - i) * c + i * g   (3 gate blocks i, g, o; `weight_peephole` rows i, o)
"""
from __future__ import annotations

import math

import numpy as np

from ...autograd.function import Function
from ...ops import relu, sigmoid, stack, tanh, where
from ...tensor import DEFAULT_DTYPE, Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "rnn_cell", "lstm_cell", "gru_cell", "num_gates", "run_cells"]


def num_gates(mode: str, coupled: bool = False) -> int:
    """Gate blocks stacked in weight_ih / weight_hh for a mode ('RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU')."""
    return {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 3 if coupled else 4, "GRU": 3}[mode]


# ---- one step, as Tensor ops ----------------------------------------------------------------
def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh).   x (N, I), h (N, H) -> (N, H)"""
    a = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return tanh(a) if nonlinearity == "tanh" else relu(a)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, peephole=None, coupled=False):
    """(h', c') of one LSTM step.   x (N, I), h and c (N, H); peephole (3, H) or (2, H) if coupled."""
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    if coupled:
        a_i, a_g, a_o = gates.chunk(3, 1)
    else:
        a_i, a_f, a_g, a_o = gates.chunk(4, 1)
    if peephole is not None:                       # gates i and f look at the old cell c
        a_i = a_i + peephole[0] * c
        if not coupled:
            a_f = a_f + peephole[1] * c
    i, g = sigmoid(a_i), tanh(a_g)
    c_new = c + i * (g - c) if coupled else sigmoid(a_f) * c + i * g
    if peephole is not None:                       # gate o looks at the new cell c'
        a_o = a_o + peephole[-1] * c_new
    return sigmoid(a_o) * tanh(c_new), c_new


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' of one GRU step (PyTorch's form: r gates the hidden projection W_hn h + b_hn).
    x (N, I), h (N, H) -> (N, H)"""
    x_r, x_z, x_n = F.linear(x, w_ih, b_ih).chunk(3, 1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, 1)
    r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
    n = tanh(x_n + r * h_n)
    return n + z * (h - n)


def cell_step(mode, weights, nonlinearity="tanh", peephole=None, coupled=False):
    """`step(x_t, state) -> state` for one layer-direction; state is (h,) or (h, c).
    weights: [w_ih, w_hh, b_ih, b_hh] (biases may be None)."""
    if mode == "LSTM":
        return lambda x, s: lstm_cell(x, s[0], s[1], *weights, peephole=peephole, coupled=coupled)
    if mode == "GRU":
        return lambda x, s: (gru_cell(x, s[0], *weights),)
    return lambda x, s: (rnn_cell(x, s[0], *weights, nonlinearity=nonlinearity),)


def run_cells(step, x, state, mask=None, reverse=False, grad_norms=None):
    """Unroll `step` over x (T, N, I), one cell per time step (the slow, twice-differentiable path).

    mask: (T, N, 1) bool or None; where False the state is carried unchanged and the output is 0.
    grad_norms: optional float array (T,), filled during backward with ||dL/dh_t||.
    Returns (y (T, N, H), final state tuple)."""
    T = x.shape[0]
    ys = [None] * T
    state = tuple(state)
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        new = step(x[t], state)
        if grad_norms is not None:
            new = (_RecordGradNorm(grad_norms, t)(new[0]),) + new[1:]
        if mask is None:
            ys[t], state = new[0], new
        else:
            m = mask[t]
            ys[t] = new[0] * Tensor(m.astype(x.dtype))
            state = tuple(where(m, n, s) for n, s in zip(new, state))
    return stack(ys, 0), state


class _RecordGradNorm(Function):
    """y = x (a view); backward stores ||gy|| in out[t] and passes gy through unchanged."""
    saves_inputs = False
    is_view = True

    def __init__(self, out, t):
        self.out, self.t = out, t

    def forward(self, x):
        return x.view()

    def backward(self, gy):
        self.out[self.t] = np.sqrt(np.sum(np.square(gy.data, dtype=np.float64)))
        return gy


# ---- parameters shared by the cells and the multi-layer modules -----------------------------
def add_recurrent_weights(module: Module, suffix: str, input_size: int, hidden_size: int, gates: int,
                          bias: bool, peephole_rows: int, dtype) -> list[str]:
    """Register weight_ih{suffix} (gates*H, I), weight_hh{suffix} (gates*H, H), bias_ih{suffix},
    bias_hh{suffix} (gates*H,) [and weight_peephole{suffix} (rows, H)], PyTorch's names and order.
    Returns the names registered (the values are set by reset_parameters)."""
    shapes = {"weight_ih": (gates * hidden_size, input_size), "weight_hh": (gates * hidden_size, hidden_size)}
    if bias:
        shapes.update(bias_ih=(gates * hidden_size,), bias_hh=(gates * hidden_size,))
    if peephole_rows:
        shapes["weight_peephole"] = (peephole_rows, hidden_size)
    names = []
    for name, shape in shapes.items():
        module.register_parameter(name + suffix, Parameter(np.zeros(shape, dtype or DEFAULT_DTYPE)))
        names.append(name + suffix)
    return names


def reset_uniform(module: Module, hidden_size: int) -> None:
    """PyTorch's recurrent init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class RNNCellBase(Module):
    """Holds weight_ih (gates*H, I), weight_hh (gates*H, H), bias_ih, bias_hh for one step."""
    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias=True, peephole_rows=0, coupled=False, device=None,
                 dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        add_recurrent_weights(self, "", input_size, hidden_size, num_gates(self.mode, coupled), bias,
                              peephole_rows, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        reset_uniform(self, self.hidden_size)

    def _weights(self):
        return [self.weight_ih, self.weight_hh, getattr(self, "bias_ih", None), getattr(self, "bias_hh", None)]

    def _prepare(self, input, hx, n_states):
        """Batch an unbatched (I,) input; default states are zeros. Returns (x, states, unbatched)."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{self._get_name()}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(input.shape)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            zero = Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
            return x, (zero,) * n_states, unbatched
        states = hx if isinstance(hx, (tuple, list)) else (hx,)
        return x, tuple(s.unsqueeze(0) if unbatched else s for s in states), unbatched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    """Elman cell: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (nonlinearity 'tanh' or 'relu').
    input (N, I) or (I,), hx (N, H) -> h' (N, H)"""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h = rnn_cell(x, h, *self._weights(), nonlinearity=self.nonlinearity)
        return h.squeeze(0) if unbatched else h

    def extra_repr(self):
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTMCell(RNNCellBase):
    """LSTM cell, gate order i, f, g, o.  input (N, I), hx = (h, c) each (N, H) -> (h', c').

    peephole=True adds weight_peephole (3, H): i, f see c and o sees c'.  coupled=True ties the
    forget gate to the input gate (f = 1 - i; weights hold 3 blocks i, g, o)."""
    mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, peephole=False,
                 coupled=False):
        super().__init__(input_size, hidden_size, bias, peephole_rows=(2 if coupled else 3) if peephole else 0,
                         coupled=coupled, dtype=dtype)
        self.peephole, self.coupled = peephole, coupled

    def forward(self, input, hx=None):
        x, (h, c), unbatched = self._prepare(input, hx, 2)
        h, c = lstm_cell(x, h, c, *self._weights(), peephole=self.weight_peephole if self.peephole else None,
                         coupled=self.coupled)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self):
        return super().extra_repr() + "".join(f", {k}=True" for k in ("peephole", "coupled") if getattr(self, k))


class GRUCell(RNNCellBase):
    """GRU cell, gate order r, z, n (PyTorch's):  input (N, I), hx (N, H) -> h' (N, H)."""
    mode = "GRU"

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h = gru_cell(x, h, *self._weights())
        return h.squeeze(0) if unbatched else h
