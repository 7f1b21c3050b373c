"""Fused layer ops: linear, embedding, prelu (re-exported by `nn.functional`).

Each fused op writes its backward ONCE, in operations that ndarrays and Tensors share
(`@`, `.T`, `.sum(axis=...)`, `.reshape`, `*`). `backward_inputs` hands it
- Tensors when grad mode is on, i.e. during `backward(create_graph=True)`: the backward
  pass is then recorded like any other computation, so second derivatives are exact;
- raw NumPy arrays otherwise: the fast path, with no graph bookkeeping at all.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sparse

from ..autograd.function import Function, is_grad_enabled
from ..ops import where
from ..tensor import Tensor


def backward_inputs(fn: Function, gy: Tensor):
    """(inputs, gy) as Tensors under create_graph (differentiable), else as NumPy arrays (fast)."""
    if is_grad_enabled():
        return list(fn.inputs), gy
    return [x.data for x in fn.inputs], gy.data


def as_array(x, dtype=None):
    """The ndarray behind a Tensor / array / list (for constants such as class weights)."""
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    return a if dtype is None else a.astype(dtype, copy=False)


# ---- linear ------------------------------------------------------------------------------
class Linear(Function):
    """y = x W^T + b              x: (..., in), W: (out, in), b: (out,) -> y: (..., out)

    gx = gy W,   gW = gy^T x,   gb = sum of gy over all rows
    (gx is skipped when x needs no gradient, e.g. the first layer's data input)."""

    def forward(self, x, W, b=None):
        y = x.reshape(-1, x.shape[-1]) @ W.T   # W.T is a view: BLAS reads it transposed, no copy
        if b is not None:
            y += b                             # in place: no second (N, out) array
        return y.reshape(x.shape[:-1] + (W.shape[0],))

    def backward(self, gy):
        (x, W, *_), gy = backward_inputs(self, gy)
        need = self.needs_input_grad
        g2 = gy.reshape(-1, gy.shape[-1])
        gx = gy @ W if need[0] else None
        gW = g2.T @ x.reshape(-1, x.shape[-1]) if need[1] else None
        gb = g2.sum(axis=0) if len(need) > 2 and need[2] else None
        return gx, gW, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias (PyTorch's F.linear). input (..., in), weight (out, in)."""
    if input.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {input.shape} does not match weight of shape {weight.shape} "
                         f"({input.shape[-1]} != {weight.shape[-1]} in_features)")
    return Linear()(input, weight) if bias is None else Linear()(input, weight, bias)


# ---- embedding -----------------------------------------------------------------------------
def _scatter_rows(idx: np.ndarray, g: np.ndarray, num_rows: int) -> np.ndarray:
    """out[idx[k]] += g[k] for every k: repeated indices accumulate.

    Done as one sparse matrix product out = S @ g with S (num_rows, n) holding a single 1 per
    column. Measured here (float32, 2 cores): V=10000, D=200, n=2240: 0.94 ms vs 6.8 ms with
    np.bincount on flat indices, 6.7 ms with sort + np.add.reduceat, 9.1 ms with np.add.at;
    V=100, D=32, n=20000: 0.41 / 3.2 / 5.8 / 7.7 ms."""
    n = idx.size
    S_T = sparse.csr_array((np.ones(n, g.dtype), idx, np.arange(n + 1)), shape=(n, num_rows))
    return np.asarray(S_T.T @ g)


class Embedding(Function):
    """y = W[idx]                 W: (V, D), idx: any int shape -> y: idx.shape + (D,)

    gW = zeros(V, D) with gW[idx[k]] += gy[k]   (padding_idx's row gets no gradient)."""

    def __init__(self, idx: np.ndarray, padding_idx: int | None):
        self.idx, self.padding_idx = idx, padding_idx

    def forward(self, W):
        return np.take(W, self.idx, axis=0)

    def backward(self, gy):
        return EmbeddingBackward(self.idx, self.inputs[0].shape[0], self.padding_idx)(gy)


class EmbeddingBackward(Function):
    """gW = scatter-add of gy's rows into rows idx     (the backward of Embedding, as a Function)

    Its own backward is a gather: ggy = ggW[idx] (0 where idx == padding_idx)."""

    def __init__(self, idx, num_rows, padding_idx):
        self.idx, self.num_rows, self.padding_idx = idx, num_rows, padding_idx

    def forward(self, gy):
        gW = _scatter_rows(self.idx.reshape(-1), gy.reshape(-1, gy.shape[-1]), self.num_rows)
        if self.padding_idx is not None:
            gW[self.padding_idx] = 0
        return gW

    def backward(self, ggW):
        ggy = Embedding(self.idx, None)(ggW)
        if self.padding_idx is not None:
            ggy = ggy * Tensor((self.idx != self.padding_idx)[..., None].astype(ggW.dtype))
        return ggy


def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` (V, D) picked by integer `input` (any shape) -> input.shape + (D,)."""
    idx = as_array(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    V = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        raise IndexError(f"embedding: index out of range [0, {V}) (min {idx.min()}, max {idx.max()})")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += V
    return Embedding(idx.astype(np.intp, copy=False), padding_idx)(weight)


# ---- prelu ----------------------------------------------------------------------------
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """y = x if x > 0 else a x, with one learned slope a per channel (dim 1) or one shared."""
    a = weight
    if weight.data.size > 1:
        if input.ndim < 2 or input.shape[1] != weight.data.size:
            raise ValueError(f"prelu: {weight.data.size} slopes for input of shape {input.shape} "
                             "(need one per channel, dim 1)")
        a = weight.reshape((1, -1) + (1,) * (input.ndim - 2))
    elif weight.ndim:
        a = weight.reshape(())
    return where(input.data > 0, input, a * input)
