"""Scaled dot-product attention (Vaswani et al. 2017), as `torch.nn.functional`.

    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=False)
    out, w = F.scaled_dot_product_attention_with_weights(q, k, v)     # w: the attention map

    Attention(Q, K, V) = softmax(Q K^T * scale + M) V,      scale = 1 / sqrt(E) by default

Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> output (..., L, Ev);
weights (..., L, S). The leading dims (batch, heads) broadcast.

Masks follow torch's F.scaled_dot_product_attention:
    bool mask   True = this query may attend to this key  (False -> -inf before the softmax)
    float mask  added to the scores (0 keeps, -inf blocks; any other value biases)
    is_causal   query i sees keys j <= i (a lower-triangular mask, top-left aligned)
A query row whose keys are ALL blocked gets zero weights and a zero output (torch's
"safe softmax"; a plain softmax would give NaN there). A blocked key otherwise gets a weight
of at most e^-80 ~ 2e-35, not exactly 0: scratchgrad's softmax floors the shifted logits at -80
(so no float32 denormals reach later GEMMs).

Beware: nn.MultiheadAttention's bool masks use the OPPOSITE convention (True = blocked);
`additive_mask(mask, true_means_attend=...)` converts either kind to the float form.

Everything is composed of differentiable ops (batched matmul, a max-shifted softmax,
dropout), so gradients of gradients work too.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import dropout, softmax, where
from ..tensor import Tensor


def additive_mask(mask, dtype, true_means_attend: bool = True):
    """A bool or float mask as a float Tensor to add to the attention scores (None stays None).

    bool: blocked entries -> -inf, the others -> 0; which value means "blocked" is set by
    `true_means_attend` (True for F.scaled_dot_product_attention, False for MultiheadAttention).
    float: returned as is (cast to `dtype`), so a learned bias keeps its gradient."""
    if mask is None:
        return None
    dtype = np.dtype(dtype)
    data = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype == np.bool_:
        blocked = ~data if true_means_attend else data
        return Tensor(np.where(blocked, dtype.type(-np.inf), dtype.type(0)))
    if data.dtype.kind != "f":
        raise TypeError(f"attention mask must be bool or float, got {data.dtype}")
    if isinstance(mask, Tensor):
        return mask if mask.dtype == dtype else mask.astype(dtype)
    return Tensor(data.astype(dtype, copy=False))


def causal_mask(L: int, S: int, dtype=np.float32) -> Tensor:
    """(L, S) float mask: 0 where key j <= query i, -inf above the diagonal (top-left aligned)."""
    return additive_mask(np.tril(np.ones((L, S), dtype=bool)), dtype)


def scaled_dot_product_attention_with_weights(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                              is_causal: bool = False, scale: float | None = None):
    """(output (..., L, Ev), weights (..., L, S)): torch's SDPA that also returns the attention map.

    weights are the softmax probabilities after dropout (what multiplies V), as nn.MultiheadAttention
    returns them; in eval (dropout_p=0) each row sums to 1 (or is all 0 if every key is blocked)."""
    L, S = query.shape[-2], key.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
        mask = causal_mask(L, S, query.dtype)
    else:
        mask = additive_mask(attn_mask, query.dtype)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale

    scores = (query * scale) @ key.mT                  # (..., L, S): scaling Q costs L*E, not L*S
    if mask is None:
        weights = softmax(scores, -1)                  # softmax subtracts the row max: no overflow
    else:
        scores = scores + mask
        dead = np.isneginf(mask.data).all(axis=-1, keepdims=True)  # rows with every key blocked
        if dead.any():
            weights = where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))
        else:
            weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value, weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> Tensor:
    """softmax(Q K^T * scale + mask) V: query (..., L, E), key (..., S, E), value (..., S, Ev)
    -> (..., L, Ev). Same arguments and mask conventions as torch (see the module docstring);
    dropout_p is applied whenever it is > 0 (pass 0.0 in eval, as with torch)."""
    return scaled_dot_product_attention_with_weights(query, key, value, attn_mask, dropout_p, is_causal,
                                                     scale)[0]
