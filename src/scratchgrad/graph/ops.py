"""Autograd ops for message passing: sparse @ dense, gather rows, segment reductions over edges.

A graph layer moves information along edges j -> i in three steps:

    messages  m_e = phi(x[src[e]], ...)          gather_rows(x, src)           (E, F)
    reduce    a_i = sum/mean/max_{e: dst[e]=i} m_e  segment_sum/mean/max(m, dst) (N, F)
    (or both at once as one sparse matrix product  a = A @ x            spmm(A, x))

Each op is a `Function`: forward in NumPy, backward written with these same ops, so
gradients of gradients work (gather and segment_sum are each other's backward).
Nothing loops over nodes or edges in Python:

* a segment sum is one CSR matrix product S @ m, with S (num_segments x E) holding a 1 at
  (index[e], e): scipy runs it in C, row by row (no np.add.at);
* max and softmax sort the edges by segment once (`Segments`, cached by the graph) and use
  `np.maximum.reduceat` over the contiguous runs.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..autograd.function import Function, is_grad_enabled
from ..ops import sum as ops_sum
from ..tensor import Tensor


# ---- the grouping of E rows into segments -----------------------------------------------------
class Segments:
    """Rows 0..E-1 grouped by `index` (E,) into `num_segments` groups; built once, reused by every op.

    order:  a permutation that sorts the rows by segment (None when `index` is already sorted)
    indptr: (num_segments + 1,) run boundaries in sorted order; counts = np.diff(indptr)
    """

    def __init__(self, index, num_segments: int):
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= num_segments):
            raise IndexError(f"segment index out of range [0, {num_segments}) (min {index.min()}, max {index.max()})")
        self.index, self.num_segments = index, int(num_segments)
        is_sorted = index.size < 2 or bool((index[1:] >= index[:-1]).all())
        self.order = None if is_sorted else np.argsort(index, kind="stable")
        self.counts = np.bincount(index, minlength=num_segments)
        self.indptr = np.concatenate([[0], np.cumsum(self.counts)])
        nonempty = self.counts > 0
        self.nonempty = None if nonempty.all() else nonempty
        self.starts = self.indptr[:-1][nonempty]  # reduceat needs the starts of non-empty runs only
        self._sum_matrix, self._edge_matrix = {}, {}

    def __len__(self):
        return self.index.size

    def sum_matrix(self, dtype) -> sp.csr_matrix:
        """S (num_segments x E) with S[index[e], e] = 1, so S @ m sums the rows of m by segment."""
        dtype = np.dtype(dtype)
        if dtype not in self._sum_matrix:
            cols = np.arange(self.index.size) if self.order is None else self.order
            self._sum_matrix[dtype] = sp.csr_matrix((np.ones(self.index.size, dtype), cols, self.indptr),
                                                    shape=(self.num_segments, self.index.size))
        return self._sum_matrix[dtype]

    def sorted(self, x: np.ndarray) -> np.ndarray:
        return x if self.order is None else x[self.order]

    def reduceat(self, ufunc, x: np.ndarray, fill=0.0) -> np.ndarray:
        """ufunc over each segment's rows: (E, ...) -> (num_segments, ...); empty segments get `fill`."""
        xs = self.sorted(x)
        if self.nonempty is None:
            return ufunc.reduceat(xs, self.starts, axis=0) if xs.shape[0] else xs
        out = np.full((self.num_segments,) + x.shape[1:], fill, dtype=x.dtype)
        if self.starts.size:
            out[self.nonempty] = ufunc.reduceat(xs, self.starts, axis=0)
        return out


def as_segments(index, num_segments: int | None = None) -> Segments:
    """`index` if it already is a `Segments`, else Segments(index, num_segments or max + 1)."""
    if isinstance(index, Segments):
        return index
    index = np.asarray(index.data if isinstance(index, Tensor) else index, dtype=np.int64)
    return Segments(index, int(index.max()) + 1 if num_segments is None else num_segments)


def _flat(x: np.ndarray) -> np.ndarray:
    """(E, d1, d2, ...) -> (E, d1*d2*...) for the 2-D sparse kernels."""
    return x.reshape(x.shape[0], -1)


# ---- sparse (constant) matrix @ dense -------------------------------------------------------------
def _cast(A, dtype):
    return A if A.dtype == dtype else A.astype(dtype)


class SpMM(Function):
    """y = A @ x,   A: scipy sparse (M, N), constant;  x: (N, ...) -> y: (M, ...)

    gx = A^T @ gy   (A gets no gradient: it is data, e.g. the normalised adjacency or the features).
    """
    saves_inputs = False

    def __init__(self, A, At=None):
        self.A, self.At = A, At

    def forward(self, x):
        y = _cast(self.A, x.dtype) @ _flat(x)
        return np.asarray(y).reshape((self.A.shape[0],) + x.shape[1:])

    def backward(self, gy):
        At = self.A.T if self.At is None else self.At
        return SpMM(At, self.A)(gy)


def spmm(A, x: Tensor, At=None) -> Tensor:
    """Sparse constant matrix times dense tensor, differentiable in x.

    A: scipy.sparse (M, N) (CSR is fastest); x: Tensor (N, ...). `At` may pass A's transpose
    when it is at hand (A itself for a symmetric matrix), else A.T is used in backward."""
    if A.shape[1] != x.shape[0]:
        raise ValueError(f"spmm: sparse matrix of shape {A.shape} and dense tensor of shape {x.shape} "
                         f"cannot be multiplied ({A.shape[1]} != {x.shape[0]})")
    return SpMM(A, At)(x)


def sparse_dropout(A, p: float = 0.5, training: bool = True, rng=None):
    """Inverted dropout on the stored entries of a sparse matrix (Kipf & Welling's `sparse_dropout`).

    Each nonzero is kept with probability 1 - p and scaled by 1 / (1 - p); zeros stay zero, so a
    2708 x 1433 binary feature matrix with 49k nonzeros costs 49k random numbers, not 3.9M.
    Returns a new CSR matrix with the same sparsity pattern (dropped entries are stored zeros)."""
    if not training or p == 0.0:
        return A
    from ..tensor import get_rng
    A = A.tocsr()
    rng = get_rng() if rng is None else rng
    keep = rng.random(A.data.size, dtype=np.float32) >= p
    data = A.data * (keep.astype(A.dtype) * A.dtype.type(1.0 / (1.0 - p)))
    return sp.csr_matrix((data, A.indices, A.indptr), shape=A.shape)


# ---- gather rows and segment sum: each other's backward -----------------------------------------
class GatherRows(Function):
    """y[e] = x[index[e]],   x: (N, ...) -> y: (E, ...)

    gx = segment_sum(gy, index, N)   (rows picked several times accumulate)."""
    saves_inputs = False

    def __init__(self, segments: Segments):
        self.seg = segments

    def forward(self, x):
        return np.take(x, self.seg.index, axis=0)

    def backward(self, gy):
        return SegmentSum(self.seg)(gy)


class SegmentSum(Function):
    """y[i] = sum_{e: index[e] = i} x[e],   x: (E, ...) -> y: (num_segments, ...)

    gx[e] = gy[index[e]]   (a gather)."""
    saves_inputs = False

    def __init__(self, segments: Segments):
        self.seg = segments

    def forward(self, x):
        y = self.seg.sum_matrix(x.dtype) @ _flat(x)
        return np.asarray(y).reshape((self.seg.num_segments,) + x.shape[1:])

    def backward(self, gy):
        return GatherRows(self.seg)(gy)


class SegmentMax(Function):
    """y[i] = max_{e: index[e] = i} x[e]  (0 for an empty segment),   x: (E, ...) -> (num_segments, ...)

    gx[e] = gy[index[e]] * [x[e] == y[index[e]]] / (number of ties)   (ties share, as torch's amax)."""

    def __init__(self, segments: Segments):
        self.seg = segments

    def forward(self, x):
        self.y = self.seg.reduceat(np.maximum, x)
        return self.y

    def backward(self, gy):
        x, idx = self.inputs[0].data, self.seg.index
        is_max = (x == np.take(self.y, idx, axis=0)).astype(x.dtype)
        ties = (self.seg.sum_matrix(x.dtype) @ _flat(is_max)).reshape(self.y.shape)
        share = is_max / np.take(np.maximum(ties, 1), idx, axis=0)  # (E, ...): 1/ties at a max, else 0
        return GatherRows(self.seg)(gy) * Tensor(share)


class SegmentSoftmax(Function):
    """Softmax over the rows of each segment (attention over a node's incoming edges):

        y[e] = exp(x[e]) / sum_{f: index[f] = index[e]} exp(x[f])          x: (E, ...) -> (E, ...)

    gx = y * (gy - s[index]),  s = segment_sum(gy * y)   (the softmax Jacobian, segment by segment).
    The segment max is subtracted first, so logits of 1e4 are safe."""
    saves_inputs = False
    saves_output = True

    def __init__(self, segments: Segments):
        self.seg = segments

    def forward(self, x):
        idx = self.seg.index
        e = np.exp(x - np.take(self.seg.reduceat(np.maximum, x), idx, axis=0))
        s = self.seg.sum_matrix(x.dtype) @ _flat(e)
        e /= np.take(s.reshape((-1,) + x.shape[1:]), idx, axis=0)
        return e

    def backward(self, gy):
        y = self.saved_output()
        if y is None:  # the output was freed: recompute it
            y = SegmentSoftmax(self.seg)(self.inputs[0]) if self.inputs else None
        if not is_grad_enabled():  # fast path: NumPy only
            y, g = y.data, gy.data
            s = self.seg.sum_matrix(g.dtype) @ _flat(g * y)
            return Tensor(y * (g - np.take(s.reshape((-1,) + g.shape[1:]), self.seg.index, axis=0)))
        return y * (gy - GatherRows(self.seg)(SegmentSum(self.seg)(gy * y)))


# ---- a sparse matrix whose values are learned (attention) @ dense ----------------------------------
class EdgeSpMM(Function):
    """y[i] = sum_{e: dst[e] = i} w[e] x[src[e]]: the sparse matrix A[dst[e], src[e]] = w[e] times x.

        w: (E,) or (E, H) edge values (one matrix per head);  x: (N, C) or (N, H, C) -> y: (N_dst, [H,] C)
        gx = A^T gy  (the same op with src and dst swapped),   gw[e] = <gy[dst[e]], x[src[e]]> (per head)

    GAT's aggregation sum_j alpha_ij W h_j in one sparse product per head, without the (E, H, C)
    message tensor that gather -> multiply -> segment_sum would build."""

    def __init__(self, dst: Segments, src: Segments):
        self.dst, self.src = dst, src

    def _matrix(self, w_col: np.ndarray) -> sp.csr_matrix:
        """A as CSR with values w_col; the structure is built once per (dst, src) pair and reused
        (only `.data` changes: scipy's constructor would re-validate the indices on every call)."""
        d, s = self.dst, self.src
        cached = d._edge_matrix.get(id(s))
        if cached is None or cached[0] is not s:
            cols = s.index if d.order is None else s.index[d.order]
            A = sp.csr_matrix((np.zeros(cols.size, w_col.dtype), cols, d.indptr),
                              shape=(d.num_segments, s.num_segments))
            cached = d._edge_matrix[id(s)] = (s, A)
        A = cached[1]
        A.data = d.sorted(w_col).astype(w_col.dtype, copy=False)
        return A

    def forward(self, w, x):
        if w.ndim == 1:
            return np.asarray(self._matrix(w) @ x)
        return np.stack([self._matrix(w[:, h]) @ x[:, h] for h in range(w.shape[1])], axis=1)

    def backward(self, gy):
        w, x = self.inputs
        gw = gx = None
        if self.needs_input_grad[1]:
            gx = EdgeSpMM(self.src, self.dst)(w, gy)
        if self.needs_input_grad[0]:
            if is_grad_enabled():
                gw = ops_sum(GatherRows(self.dst)(gy) * GatherRows(self.src)(x), dim=-1)
            else:  # fast path: one pass, no (E, H, C) temporaries kept
                gw = Tensor(np.einsum("e...c,e...c->e...", np.take(gy.data, self.dst.index, axis=0),
                                      np.take(x.data, self.src.index, axis=0), optimize=True))
        return gw, gx


# ---- functional API ------------------------------------------------------------------------------
def edge_spmm(w: Tensor, x: Tensor, dst, src, num_dst: int | None = None) -> Tensor:
    """y[i] = sum over edges e into i of w[e] * x[src[e]] (per head when w is (E, H) and x (N, H, C)).
    dst, src: (E,) index arrays or `Segments` (a Graph's `segments("dst")`, `segments("src")`)."""
    return EdgeSpMM(as_segments(dst, num_dst), as_segments(src, x.shape[0]))(w, x)


def gather_rows(x: Tensor, index, num_rows: int | None = None) -> Tensor:
    """x[index] along dim 0 (x: (N, ...), index: (E,) ints or a `Segments`) -> (E, ...)."""
    return GatherRows(as_segments(index, x.shape[0] if num_rows is None else num_rows))(x)


def segment_sum(x: Tensor, index, num_segments: int | None = None) -> Tensor:
    """Sum the rows of x (E, ...) that share index[e]: -> (num_segments, ...). Also `scatter_add`."""
    return SegmentSum(as_segments(index, num_segments))(x)


scatter_add = segment_sum


def segment_mean(x: Tensor, index, num_segments: int | None = None) -> Tensor:
    """Mean of the rows of each segment (0 for an empty one): segment_sum / max(count, 1)."""
    seg = as_segments(index, num_segments)
    inv = (1.0 / np.maximum(seg.counts, 1)).astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    return SegmentSum(seg)(x) * Tensor(inv)


def segment_max(x: Tensor, index, num_segments: int | None = None) -> Tensor:
    """Elementwise max over the rows of each segment (0 for an empty one)."""
    return SegmentMax(as_segments(index, num_segments))(x)


def segment_softmax(x: Tensor, index, num_segments: int | None = None) -> Tensor:
    """Softmax of x (E, ...) within each segment of `index` (e.g. over the edges into each node)."""
    return SegmentSoftmax(as_segments(index, num_segments))(x)


__all__ = ["EdgeSpMM", "Segments", "as_segments", "edge_spmm", "gather_rows", "scatter_add", "segment_max",
           "segment_mean", "segment_softmax", "segment_sum", "sparse_dropout", "spmm"]
