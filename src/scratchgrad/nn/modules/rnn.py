"""Recurrent layers RNN, LSTM, GRU (multi-layer, bidirectional, variable length), as torch.nn.

    lstm = LSTM(input_size=64, hidden_size=256, num_layers=2, batch_first=True)
    output, (h_n, c_n) = lstm(x)             # x (N, T, 64) -> output (N, T, 256), h_n (2, N, 256)

Shapes (D = 2 if bidirectional else 1, L = num_layers):
    input   (T, N, I), or (N, T, I) with batch_first, or (T, I) unbatched, or a PackedSequence
    hx      (D*L, N, H) [LSTM: a pair (h_0, c_0)]; zeros when omitted
    output  (T, N, D*H) (the last layer's h_t, directions concatenated); h_n (D*L, N, H)
Parameters per layer l and direction (suffix "_reverse" for the backward direction), PyTorch's
names, layout and init U(-1/sqrt(H), 1/sqrt(H)):
    weight_ih_l{l} (G*H, I or D*H)   weight_hh_l{l} (G*H, H)   bias_ih_l{l}, bias_hh_l{l} (G*H,)
    with G = 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n).

Variable length: pass `lengths` (N,) to forward (or a PackedSequence from pack_padded_sequence):
steps t >= lengths[n] leave sample n's state unchanged and output zeros, so h_n is the state at
each sequence's own last step (the reverse direction starts there), as PyTorch's packed sequences.

Each layer-direction runs one fused kernel (rnn_kernels.py): one GEMM for the input projection of
all steps, one GEMM per step for the recurrence, hand-written BPTT. `fused=False` unrolls the
differentiable cells instead (slow; needed for create_graph / double backward).
`record_grad_norms=True` stores ||dL/dh_t|| (over the batch) in `module.grad_norms[l*D + d, t]`
after backward: the vanishing-gradient picture, per layer, direction and time step.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from ...ops import cat, stack
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from .rnn_cells import (GRUCell, LSTMCell, RNNCell, add_recurrent_weights, cell_step, num_gates, reset_uniform,
                        run_cells)
from .rnn_kernels import FusedGRU, FusedLSTM, FusedRNN

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "PackedSequence",
           "pack_padded_sequence", "pad_packed_sequence", "lengths_to_mask"]


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters, state handling, layers and directions."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, nonlinearity="tanh", peephole=False,
                 coupled=False, fused=True, record_grad_norms=False):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers=1")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be positive")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.nonlinearity = bidirectional, nonlinearity
        self.peephole, self.coupled, self.fused, self.record_grad_norms = peephole, coupled, fused, record_grad_norms
        self.grad_norms = None
        D = 2 if bidirectional else 1
        gates = num_gates(mode, coupled)
        peephole_rows = (2 if coupled else 3) if peephole else 0
        self._all_weights = []
        for layer in range(num_layers):
            for d in range(D):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                size = input_size if layer == 0 else hidden_size * D
                self._all_weights.append(add_recurrent_weights(self, suffix, size, hidden_size, gates, bias,
                                                               peephole_rows, dtype))
        self.reset_parameters()

    def reset_parameters(self):
        reset_uniform(self, self.hidden_size)

    def flatten_parameters(self):
        """PyTorch compatibility (cuDNN weight packing): nothing to do here."""

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    @property
    def _flat_weights_names(self):
        return [name for names in self._all_weights for name in names]

    # ---- forward ---------------------------------------------------------------------------
    def forward(self, input, hx=None, lengths=None):
        """input (T, N, I) / (N, T, I) batch_first / (T, I) / PackedSequence; lengths (N,) optional."""
        packed = input if isinstance(input, PackedSequence) else None
        unbatched = False
        if packed is not None:
            x, lengths = pad_packed_sequence(packed)
        else:
            if input.ndim not in (2, 3):
                raise ValueError(f"{self._get_name()}: expected input with 2 (unbatched) or 3 dims, got "
                                 f"{tuple(input.shape)}")
            unbatched = input.ndim == 2
            x = input.unsqueeze(1) if unbatched else input.transpose(0, 1) if self.batch_first else input
        if x.shape[2] != self.input_size:
            raise ValueError(f"{self._get_name()}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {x.shape[2]}")
        if x.dtype != self.weight_ih_l0.dtype:
            raise TypeError(f"{self._get_name()}: input must have the type {self.weight_ih_l0.dtype}, got type "
                            f"{x.dtype} (convert one of them, e.g. module.to(np.float64))")
        T, N = x.shape[:2]
        mask = None if lengths is None else lengths_to_mask(lengths, T, N)
        states = self._initial_states(hx, N, x.dtype, unbatched)
        D = 2 if self.bidirectional else 1
        if self.record_grad_norms:
            self.grad_norms = np.full((self.num_layers * D, T), np.nan)
        finals = []
        for layer in range(self.num_layers):
            ys = []
            for d in range(D):
                k = layer * D + d
                y, final = self._run_direction(x, states[k], k, mask, reverse=d == 1)
                ys.append(y)
                finals.append(final)
            x = ys[0] if D == 1 else cat(ys, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout)
        h_n = stack([f[0] for f in finals], 0)
        hidden = (h_n, stack([f[1] for f in finals], 0)) if self.mode == "LSTM" else h_n
        if packed is not None:
            return _pack(x, _as_lengths(lengths), packed.sorted_indices), hidden
        if unbatched:
            hidden = tuple(s.squeeze(1) for s in hidden) if self.mode == "LSTM" else hidden.squeeze(1)
            return x.squeeze(1), hidden
        return (x.transpose(0, 1) if self.batch_first else x), hidden

    def _initial_states(self, hx, N, dtype, unbatched):
        """[(h0,) or (h0, c0)] for each layer-direction k = layer * D + d."""
        n_states = 2 if self.mode == "LSTM" else 1
        LD = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            zero = Tensor(np.zeros((N, self.hidden_size), dtype))
            return [(zero,) * n_states] * LD
        hx = tuple(hx) if self.mode == "LSTM" else (hx,)
        if len(hx) != n_states:
            raise ValueError(f"{self._get_name()}: hx must be {'a pair (h_0, c_0)' if n_states == 2 else 'h_0'}")
        if unbatched:
            hx = tuple(s.unsqueeze(1) for s in hx)
        for s in hx:
            if tuple(s.shape) != (LD, N, self.hidden_size):
                raise ValueError(f"{self._get_name()}: expected hidden size {(LD, N, self.hidden_size)}, got "
                                 f"{tuple(s.shape)}")
        return [tuple(s[k] for s in hx) for k in range(LD)]

    def _run_direction(self, x, state, k, mask, reverse):
        """One layer in one direction over x (T, N, I): (y (T, N, H), final state tuple)."""
        weights = [getattr(self, name) for name in self._all_weights[k]]
        w_ih, w_hh, *rest = weights
        b_ih, b_hh = rest[:2] if self.bias else (None, None)
        peephole = rest[-1] if self.peephole else None
        norms = None if self.grad_norms is None else self.grad_norms[k]
        if not self.fused:
            step = cell_step(self.mode, [w_ih, w_hh, b_ih, b_hh], self.nonlinearity, peephole, self.coupled)
            return run_cells(step, x, state, mask, reverse, norms)
        if not self.bias:   # the kernel always takes biases: constant zeros here
            b_ih = b_hh = Tensor(np.zeros(w_ih.shape[0], w_ih.dtype))
        options = dict(mask=mask, reverse=reverse, grad_norms=norms)
        if self.mode == "LSTM":
            kernel = FusedLSTM(peephole=self.peephole, coupled=self.coupled, **options)
        elif self.mode == "GRU":
            kernel = FusedGRU(**options)
        else:
            kernel = FusedRNN(self.nonlinearity, **options)
        outs = kernel(x, *state, w_ih, w_hh, b_ih, b_hh, *([peephole] if self.peephole else []))
        return outs[0], outs[1:]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                        peephole=False, coupled=False, fused=True, record_grad_norms=False)
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s + "".join(f", {k}={getattr(self, k)}" for k, v in defaults.items() if getattr(self, k) != v)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (nonlinearity 'tanh' or 'relu').
    Returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, **options):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype=dtype, nonlinearity=nonlinearity,
                         **options)


class LSTM(RNNBase):
    """Long short-term memory, gates i, f, g, o: returns (output, (h_n, c_n)).

    Options beyond PyTorch (the notes' variants): peephole=True (parameters weight_peephole_l{l},
    rows i, f, o), coupled=True (forget gate f = 1 - i; 3 gate blocks i, g, o)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, **options):
        if proj_size:
            raise NotImplementedError("LSTM: proj_size is not supported")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, **options)


class GRU(RNNBase):
    """Gated recurrent unit, gates r, z, n (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))): returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, **options):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, **options)


# ---- variable-length batches ------------------------------------------------------------------
def _as_lengths(lengths) -> np.ndarray:
    arr = lengths.data if isinstance(lengths, Tensor) else np.asarray(lengths)
    return arr.astype(np.int64).reshape(-1)


def lengths_to_mask(lengths, T: int, N: int) -> np.ndarray | None:
    """(T, N, 1) bool, True where step t < lengths[n]; None when every sequence is full length."""
    lengths = _as_lengths(lengths)
    if lengths.shape != (N,):
        raise ValueError(f"lengths must have one entry per sequence ({N}), got shape {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"lengths must be in [1, {T}] (the padded length), got {lengths.tolist()}")
    if (lengths == T).all():
        return None
    return (np.arange(T)[:, None] < lengths[None, :])[:, :, None]


class PackedSequence(NamedTuple):
    """Sequences of different lengths packed time step by time step (PyTorch's layout):
    data (sum(lengths), *) holds step 0 of every sequence, then step 1 of those still running, ...
    with the batch sorted by decreasing length; batch_sizes[t] = how many sequences reach step t."""
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _pack(x, lengths: np.ndarray, sorted_indices) -> PackedSequence:
    """Pack time-major x (T, N, *) whose sequence n has lengths[n] steps (original batch order)."""
    order = None if sorted_indices is None else _as_lengths(sorted_indices)
    lens = lengths if order is None else lengths[order]
    T = int(lens.max())
    keep = np.arange(T)[:, None] < lens[None, :]                    # (T, N) in sorted order
    xs = x[:T] if order is None else x[:T, order]
    unsorted = None if order is None else Tensor(np.argsort(order))
    return PackedSequence(xs[keep], Tensor(keep.sum(1)), None if order is None else Tensor(order), unsorted)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True) -> PackedSequence:
    """Pack a padded batch (T, N, *) [(N, T, *) if batch_first] of sequences with `lengths`.
    enforce_sorted=False sorts by decreasing length itself (and remembers how to undo it)."""
    lengths = _as_lengths(lengths)
    x = input.transpose(0, 1) if batch_first else input
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence.")
        return _pack(x, lengths, None)
    return _pack(x, lengths, np.argsort(-lengths, kind="stable"))


def pad_packed_sequence(sequence: PackedSequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: (padded (T, N, *) [(N, T, *) if batch_first], lengths (N,))
    in the original batch order."""
    data, batch_sizes = sequence.data, _as_lengths(sequence.batch_sizes)
    T, N, M = len(batch_sizes), int(batch_sizes[0]), data.shape[0]
    lens = (batch_sizes[None, :] > np.arange(N)[:, None]).sum(1)    # sorted order
    T_out = T if total_length is None else int(total_length)
    if T_out < T:
        raise ValueError(f"total_length={T_out} is smaller than the longest sequence ({T})")
    rows = np.full((T_out, N), M)                                   # row M of `ext` is padding
    rows[:T][np.arange(T)[:, None] < lens[None, :]] = np.arange(M)
    if sequence.unsorted_indices is not None:
        unsorted = _as_lengths(sequence.unsorted_indices)
        rows, lens = rows[:, unsorted], lens[unsorted]
    pad = Tensor(np.full((1,) + tuple(data.shape[1:]), padding_value, data.dtype))
    padded = cat([data, pad], 0)[rows]
    return (padded.transpose(0, 1) if batch_first else padded), Tensor(lens.astype(np.int64))
