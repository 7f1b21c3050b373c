"""The Transformer encoder (Vaswani et al. 2017) and its sinusoidal positional encoding.

    layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
    encoder = nn.TransformerEncoder(layer, num_layers=2)      # deep copies of `layer`
    h = encoder(nn.PositionalEncoding(64, batch_first=True)(x), src_key_padding_mask=pad)

One layer is self-attention then a position-wise feed-forward net, each wrapped in a
residual connection and a LayerNorm:
    post-norm (norm_first=False, the paper):   x = norm1(x + SA(x));      x = norm2(x + FF(x))
    pre-norm  (norm_first=True, GPT-2 style):  x = x + SA(norm1(x));      x = x + FF(norm2(x))
    SA(x) = dropout1(self_attn(x, x, x)),  FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))
Submodule names and state_dict keys are torch's (self_attn.in_proj_weight, linear1.weight, norm1.weight, ...).
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ...tensor import DEFAULT_DTYPE, Tensor
from .. import functional as F
from ..functional_attention import causal_mask
from ..module import Module
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .multihead import MultiheadAttention
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def generate_square_subsequent_mask(sz: int, dtype=np.float32) -> Tensor:
    """(sz, sz) float mask for causal self-attention: -inf above the diagonal, 0 elsewhere
    (torch's nn.Transformer.generate_square_subsequent_mask)."""
    return causal_mask(sz, sz, dtype)


class TransformerEncoderLayer(Module):
    """forward(src (S, N, E) or (N, S, E) with batch_first, src_mask, src_key_padding_mask) -> same shape.

    src_mask (S, S) or (N * nhead, S, S) and src_key_padding_mask (N, S) follow MultiheadAttention
    (bool True = blocked / padding). activation: "relu", "gelu" or a callable."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"activation should be relu/gelu, not {activation}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of `num_layers` deep copies of `encoder_layer` (keys layers.0.*, layers.1.*, ...),
    then the optional final `norm` (use one with norm_first=True layers)."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool | None = None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


def sinusoidal_encoding(max_len: int, d_model: int, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """(max_len, d_model) table of "Attention is all you need", section 3.5:

        PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
        PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))
    """
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    inv_freq = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    angles = pos * inv_freq                                 # (max_len, ceil(d_model / 2))
    pe = np.zeros((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, :d_model // 2])
    return pe.astype(dtype)


class PositionalEncoding(Module):
    """x + PE[:seq_len], then dropout (the paper uses p = 0.1). x: (S, N, E), or (N, S, E) with
    batch_first. The table is a non-persistent buffer `pe` (max_len, d_model): not in state_dict."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000, batch_first: bool = False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", Tensor(sinusoidal_encoding(max_len, d_model)), persistent=False)

    def forward(self, x):
        seq_len = x.shape[1] if self.batch_first else x.shape[0]
        if seq_len > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence length {seq_len} > max_len {self.max_len}")
        pe = self.pe.data[:seq_len]
        pe = pe[None] if self.batch_first else pe[:, None]     # broadcast over the batch
        return self.dropout(x + Tensor(pe.astype(x.dtype, copy=False)))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
