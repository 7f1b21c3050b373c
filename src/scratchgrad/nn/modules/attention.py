"""Attention over a source sequence for encoder-decoder models: dot and general (Luong), additive (Bahdanau).

    attn = AdditiveAttention(query_size=256, key_size=256, hidden_size=128)
    context, weights = attn(dec_h, enc_hs, key_padding_mask=pad)   # (N, Tq, 256), (N, Tq, Tk)

Every variant is the same three steps; only the score differs:

    scores   e_ts = score(q_t, k_s)                      (N, Tq, Tk)
    weights  a_ts = softmax_s(e_ts)  over the source; padded positions s get a_ts = 0
    context  c_t  = sum_s a_ts v_s                        (N, Tq, Dv)   (values v default to the keys)

    dot        score(q, k) = q . k                        (Luong et al. 2015; needs Dq == Dk)
    general    score(q, k) = q^T W k                      (Luong; W: (Dq, Dk))
    additive   score(q, k) = w^T tanh(W_q q + W_k k + b)  (Bahdanau et al. 2015, "concat" in Luong)

Shapes: query (N, Tq, Dq) or (N, Dq) for one decoder step (then context (N, Dv), weights (N, Tk));
keys (N, Tk, Dk); values (N, Tk, Dv); key_padding_mask (N, Tk) bool, True where the source is padding
(PyTorch's MultiheadAttention convention). The weights are returned for heat maps.
All three are compositions of differentiable ops, so double backward works.
"""
from __future__ import annotations

import math

import numpy as np

from ...ops import softmax, tanh, where
from ...tensor import DEFAULT_DTYPE, Tensor
from .. import init
from ..module import Module
from ..parameter import Parameter
from .linear import Linear

__all__ = ["masked_softmax", "DotAttention", "GeneralAttention", "AdditiveAttention", "BahdanauAttention",
           "LuongAttention"]


def masked_softmax(scores: Tensor, key_padding_mask=None) -> Tensor:
    """softmax over the last axis of scores (N, Tq, Tk), ignoring the positions where
    key_padding_mask (N, Tk) is True: they get weight exactly 0 (a fully padded row gets all zeros,
    as torch's "safe softmax")."""
    if key_padding_mask is None:
        return softmax(scores, -1)
    mask = key_padding_mask.data if isinstance(key_padding_mask, Tensor) else np.asarray(key_padding_mask)
    if mask.shape != (scores.shape[0], scores.shape[-1]):
        raise ValueError(f"key_padding_mask must have shape (N, Tk) = {(scores.shape[0], scores.shape[-1])}, "
                         f"got {mask.shape}")
    mask = mask[:, None, :].astype(bool)
    lowest = float(np.finfo(scores.dtype).min)          # e^(lowest - max) underflows: never inf - inf = NaN
    return where(mask, 0.0, softmax(where(mask, lowest, scores), -1))


class _Attention(Module):
    """score -> masked softmax -> weighted sum of the values. Subclasses define score(q (N,Tq,Dq), k (N,Tk,Dk))."""

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, query, keys, values=None, key_padding_mask=None):
        """-> (context (N, Tq, Dv), weights (N, Tq, Tk)); a 2-D query (N, Dq) gives (N, Dv), (N, Tk)."""
        one_step = query.ndim == 2
        q = query.unsqueeze(1) if one_step else query
        if keys.ndim != 3 or q.ndim != 3 or keys.shape[0] != q.shape[0]:
            raise ValueError(f"{self._get_name()}: expected query (N, [Tq,] Dq) and keys (N, Tk, Dk), got "
                             f"{tuple(query.shape)} and {tuple(keys.shape)}")
        weights = masked_softmax(self.score(q, keys), key_padding_mask)
        context = weights @ (keys if values is None else values)
        if one_step:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights


class DotAttention(_Attention):
    """Luong's dot score e_ts = q_t . k_s (query and key sizes must match); no parameters."""

    def score(self, query, keys):
        if query.shape[-1] != keys.shape[-1]:
            raise ValueError(f"DotAttention: query size {query.shape[-1]} != key size {keys.shape[-1]}")
        return query @ keys.mT


class GeneralAttention(_Attention):
    """Luong's general score e_ts = q_t^T W k_s; weight W: (query_size, key_size), init U(-1/sqrt(Dk), 1/sqrt(Dk)).

    The query is projected (q W), not the keys: a decoding step then costs one (N, Dq) x (Dq, Dk) GEMM."""

    def __init__(self, query_size: int, key_size: int | None = None, dtype=None):
        super().__init__()
        self.query_size, self.key_size = query_size, key_size or query_size
        self.weight = Parameter(np.empty((self.query_size, self.key_size), dtype or DEFAULT_DTYPE))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.key_size)
        init.uniform_(self.weight, -bound, bound)

    def score(self, query, keys):
        return (query @ self.weight) @ keys.mT

    def extra_repr(self):
        return f"query_size={self.query_size}, key_size={self.key_size}"


class AdditiveAttention(_Attention):
    """Bahdanau's score e_ts = w^T tanh(W_q q_t + W_k k_s + b).

    query_proj: Linear(query_size, hidden_size, bias=False); key_proj: Linear(key_size, hidden_size) (holds b);
    v: Linear(hidden_size, 1, bias=False) (w). The tanh sees (N, Tq, Tk, hidden_size) values."""

    def __init__(self, query_size: int, key_size: int | None = None, hidden_size: int | None = None, dtype=None):
        super().__init__()
        key_size, hidden_size = key_size or query_size, hidden_size or query_size
        self.query_proj = Linear(query_size, hidden_size, bias=False, dtype=dtype)
        self.key_proj = Linear(key_size, hidden_size, dtype=dtype)
        self.v = Linear(hidden_size, 1, bias=False, dtype=dtype)

    def score(self, query, keys):
        q = self.query_proj(query).unsqueeze(2)      # (N, Tq, 1, A)
        k = self.key_proj(keys).unsqueeze(1)         # (N, 1, Tk, A)
        return self.v(tanh(q + k)).squeeze(-1)       # (N, Tq, Tk)


BahdanauAttention = AdditiveAttention


def LuongAttention(query_size: int, key_size: int | None = None, score: str = "dot", hidden_size: int | None = None,
                   dtype=None) -> _Attention:
    """Luong et al.'s three scores by name: "dot", "general", "concat" (= additive)."""
    if score == "dot":
        return DotAttention()
    if score == "general":
        return GeneralAttention(query_size, key_size, dtype=dtype)
    if score in ("concat", "additive"):
        return AdditiveAttention(query_size, key_size, hidden_size, dtype=dtype)
    raise ValueError(f"unknown attention score {score!r}; choose dot, general or additive")
