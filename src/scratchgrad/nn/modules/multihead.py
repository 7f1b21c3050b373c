"""MultiheadAttention: h scaled dot-product attentions over learned projections, as torch.nn.

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O^T + b_O,
    head_i = Attention(Q W_Q,i^T, K W_K,i^T, V W_V,i^T)     (each head sees E / h dimensions)

Parameters and state_dict keys are torch's:
    in_proj_weight (3E, E), in_proj_bias (3E,)     rows [W_Q; W_K; W_V] when kdim == vdim == E
    q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim)   otherwise
    out_proj.weight (E, E), out_proj.bias (E,)
so `load_state_dict(torch_mha.state_dict())` (converted to NumPy) gives the same layer.

Mask conventions (torch's, and the opposite of F.scaled_dot_product_attention's bool masks):
    attn_mask         (L, S) or (N * num_heads, L, S); bool True = NOT allowed to attend; float: added
    key_padding_mask  (N, S); bool True = this key is padding (ignored); float: added
"""
from __future__ import annotations

import numpy as np

from ...tensor import DEFAULT_DTYPE
from .. import functional as F
from .. import init
from ..functional_attention import additive_mask, causal_mask, scaled_dot_product_attention_with_weights
from ..module import Module
from ..parameter import Parameter
from .linear import Linear


class MultiheadAttention(Module):
    """forward(query (L, N, E), key (S, N, kdim), value (S, N, vdim)) -> (output (L, N, E), weights).

    batch_first=True takes and returns (N, L, E). Unbatched (L, E) inputs work too.
    weights: (N, L, S) averaged over heads, or (N, num_heads, L, S) with average_attn_weights=False;
    None when need_weights=False. Dropout acts on the attention weights in training mode."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, kdim: int | None = None, vdim: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        dtype = dtype or DEFAULT_DTYPE
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        """torch's init: Xavier-uniform projections, zero biases (out_proj.weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _in_projection(self, query, key, value):
        """q, k, v = query W_Q^T + b_Q, key W_K^T + b_K, value W_V^T + b_V (one GEMM for self-attention)."""
        E, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            if query is key and key is value:
                return F.linear(query, self.in_proj_weight, b).chunk(3, dim=-1)
            W = self.in_proj_weight
            wq, wk, wv = W[:E], W[E:2 * E], W[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def _merged_mask(self, attn_mask, key_padding_mask, N, L, S, dtype):
        """attn_mask and key_padding_mask as one float mask broadcastable to (N, heads, L, S), or None."""
        mask = additive_mask(attn_mask, dtype, true_means_attend=False)
        if mask is not None and mask.ndim == 3:               # (N * heads, L, S) -> (N, heads, L, S)
            mask = mask.reshape(N, self.num_heads, L, S)
        pad = additive_mask(key_padding_mask, dtype, true_means_attend=False)
        if pad is not None:
            pad = pad.reshape(N, 1, 1, S)
            mask = pad if mask is None else mask + pad
        return mask

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        """is_causal=True with no attn_mask builds the causal (L, S) mask (torch only takes it as a hint)."""
        batched = query.ndim == 3
        if not batched:                                        # (L, E) -> (L, 1, E)
            query, key, value = (x.unsqueeze(1) for x in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(getattr(key_padding_mask, "data", key_padding_mask))[None]
        elif self.batch_first:                                 # (N, L, E) -> (L, N, E), keeping q is k is v
            same = query is key and key is value
            query = query.transpose(0, 1)
            key, value = (query, query) if same else (key.transpose(0, 1), value.transpose(0, 1))
        L, N, E = query.shape
        S, H, D = key.shape[0], self.num_heads, self.head_dim
        if is_causal and attn_mask is None:
            attn_mask = causal_mask(L, S, query.dtype)

        q, k, v = self._in_projection(query, key, value)
        # (L, N, E) -> (N, H, L, D): head h owns features h*D .. (h+1)*D - 1, as in torch
        q, k, v = (x.reshape(x.shape[0], N, H, D).permute(1, 2, 0, 3) for x in (q, k, v))
        mask = self._merged_mask(attn_mask, key_padding_mask, N, L, S, q.dtype)
        out, weights = scaled_dot_product_attention_with_weights(
            q, k, v, mask, dropout_p=self.dropout if self.training else 0.0)
        out = self.out_proj(out.permute(2, 0, 1, 3).reshape(L, N, E))   # concat the heads, project

        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, weights.mean(-3) if average_attn_weights else weights

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        return s + f", batch_first={self.batch_first}"
