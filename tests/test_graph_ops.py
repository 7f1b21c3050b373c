"""scratchgrad.graph.ops: sparse @ dense, gather, segment sum/mean/max/softmax, edge-valued spmm.

Each op: float64 gradcheck, a plainly written dense/loop reference, and PyTorch parity where torch
has the op (torch.sparse.mm, index_select, scatter_reduce)."""
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import assert_close, to_torch

import scratchgrad as sg
from scratchgrad.autograd import gradcheck, gradgradcheck
from scratchgrad.graph.ops import (Segments, edge_spmm, gather_rows, segment_max, segment_mean, segment_softmax,
                                   segment_sum, sparse_dropout, spmm)

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float64, requires_grad=True):
    return sg.tensor(RNG.standard_normal(shape), dtype=dtype, requires_grad=requires_grad)


def random_csr(m, n, density=0.3, dtype=np.float64, seed=0):
    return sp.random(m, n, density=density, format="csr", dtype=dtype, random_state=seed)


def index_with_empty(E=17, n=6):
    """Segment ids for E rows in n segments, unsorted, with segment 2 and the last one empty."""
    idx = RNG.choice([0, 1, 3, 4], size=E)
    idx[:4] = [0, 1, 3, 4]
    return idx, n


# ---- references written plainly (Python loops are fine in tests) ------------------------------------
def ref_segment(x, index, n, reduce):
    out = np.zeros((n,) + x.shape[1:], x.dtype)
    for i in range(n):
        rows = x[index == i]
        if len(rows):
            out[i] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[reduce]
    return out


def ref_segment_softmax(x, index):
    out = np.zeros_like(x)
    for i in np.unique(index):
        rows = x[index == i]
        e = np.exp(rows - rows.max(0))
        out[index == i] = e / e.sum(0)
    return out


# ---- spmm ---------------------------------------------------------------------------------------------
def test_spmm_forward_matches_dense():
    A = random_csr(5, 7)
    x = rand(7, 3)
    assert_close(spmm(A, x), A.toarray() @ x.data, atol=1e-12)
    x3 = rand(7, 2, 3)
    assert_close(spmm(A, x3), np.einsum("ij,jhc->ihc", A.toarray(), x3.data), atol=1e-12)


def test_spmm_gradcheck():
    A = random_csr(5, 7)
    assert gradcheck(lambda x: spmm(A, x), [rand(7, 3)])
    assert gradgradcheck(lambda x: spmm(A, x) ** 2, [rand(7, 3)])


def test_spmm_vs_torch_sparse(torch):
    A = random_csr(30, 20, density=0.1, dtype=np.float32)
    x = rand(20, 4, dtype=np.float32)
    y = spmm(A, x)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    coo = A.tocoo()
    At = torch.sparse_coo_tensor(np.stack([coo.row, coo.col]), coo.data, A.shape, check_invariants=True)
    xt = to_torch(torch, x)
    yt = torch.sparse.mm(At, xt)
    yt.backward(torch.tensor(g))
    assert y.dtype == np.float32
    assert_close(y, yt, atol=1e-5, what="forward")
    assert_close(x.grad, xt.grad, atol=1e-5, what="grad")


def test_spmm_shape_error():
    with pytest.raises(ValueError, match=r"\(5, 7\).*\(6, 3\)"):
        spmm(random_csr(5, 7), rand(6, 3))


def test_sparse_dropout_keeps_pattern_and_scales():
    sg.manual_seed(0)
    A = sp.csr_matrix(np.ones((200, 100), np.float32))
    D = sparse_dropout(A, 0.5, training=True)
    assert D.shape == A.shape and D.dtype == np.float32 and D.nnz == A.nnz
    assert set(np.unique(D.data)) <= {0.0, 2.0}
    assert abs((D.data > 0).mean() - 0.5) < 0.02
    assert sparse_dropout(A, 0.5, training=False) is A
    assert sparse_dropout(A, 0.0) is A


# ---- gather rows and segment reductions -----------------------------------------------------------------
def test_gather_rows_forward_grad_and_torch(torch):
    x = rand(6, 3)
    idx = np.array([5, 0, 0, 2, 5, 5])
    y = gather_rows(x, idx)
    assert_close(y, x.data[idx])
    assert gradcheck(lambda x: gather_rows(x, idx), [rand(6, 3)])
    y.backward(np.ones_like(y.data))
    xt = to_torch(torch, x)
    torch.index_select(xt, 0, torch.tensor(idx)).sum().backward()
    assert_close(x.grad, xt.grad, what="repeated rows accumulate")


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_segment_reductions_match_loop_reference(reduce):
    idx, n = index_with_empty()
    x = rand(idx.size, 2, 3)
    fn = {"sum": segment_sum, "mean": segment_mean, "max": segment_max}[reduce]
    assert_close(fn(x, idx, n), ref_segment(x.data, idx, n, reduce), atol=1e-12)
    assert gradcheck(lambda x: fn(x, idx, n), [rand(idx.size, 3)])


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax"])
def test_segment_reductions_vs_torch_scatter_reduce(torch, reduce):
    idx, n = index_with_empty(40, 7)
    x = rand(idx.size, 5, dtype=np.float32)
    fn = {"sum": segment_sum, "mean": segment_mean, "amax": segment_max}[reduce]
    y = fn(x, idx, n)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    xt = to_torch(torch, x)
    it = torch.tensor(idx)[:, None].expand(-1, 5)
    yt = torch.zeros(n, 5).scatter_reduce(0, it, xt, reduce=reduce, include_self=False)
    yt.backward(torch.tensor(g))
    assert y.dtype == np.float32
    assert_close(y, yt, atol=1e-5, what="forward")
    assert_close(x.grad, xt.grad, atol=1e-5, what="grad")


def test_segment_max_ties_share_the_gradient_as_torch(torch):
    x = sg.tensor(np.array([[1.0], [3.0], [3.0], [2.0], [5.0]], np.float32), requires_grad=True)
    idx = np.array([0, 0, 0, 1, 1])
    segment_max(x, idx, 2).sum().backward()
    xt = to_torch(torch, x)
    torch.zeros(2, 1).scatter_reduce(0, torch.tensor(idx)[:, None], xt, "amax", include_self=False).sum().backward()
    assert_close(x.grad, xt.grad)
    assert_close(x.grad, [[0.0], [0.5], [0.5], [0.0], [1.0]])


def test_segment_softmax_reference_gradcheck_and_stability():
    idx, n = index_with_empty(20, 6)
    x = rand(idx.size, 3)
    y = segment_softmax(x, idx, n)
    assert_close(y, ref_segment_softmax(x.data, idx), atol=1e-12)
    sums = segment_sum(y, idx, n).data[np.bincount(idx, minlength=n) > 0]
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    assert gradcheck(lambda x: segment_softmax(x, idx, n), [rand(idx.size, 3)])
    assert gradgradcheck(lambda x: segment_softmax(x, idx, n), [rand(idx.size, 2)])
    big = sg.tensor(np.array([1e4, 1e4 - 1.0, -1e4], np.float32))
    out = segment_softmax(big, np.array([0, 0, 1]), 2).data
    assert np.isfinite(out).all()
    assert_close(out, [1 / (1 + np.exp(-1.0)), 1 - 1 / (1 + np.exp(-1.0)), 1.0], atol=1e-6)


def test_segment_softmax_vs_torch(torch):
    idx = np.repeat(np.arange(6), [1, 4, 2, 5, 3, 1])
    perm = RNG.permutation(idx.size)
    idx = idx[perm]
    x = rand(idx.size, 4, dtype=np.float32)
    y = segment_softmax(x, idx, 6)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    xt = to_torch(torch, x)
    # torch reference: softmax over each segment, padded into a dense (segments, max count, 4) tensor
    segs = [np.nonzero(idx == i)[0] for i in range(6)]
    yt = torch.zeros(idx.size, 4)
    for rows in segs:
        yt = yt.index_put((torch.tensor(rows),), torch.softmax(xt[torch.tensor(rows)], dim=0))
    yt.backward(torch.tensor(g))
    assert_close(y, yt, atol=1e-6)
    assert_close(x.grad, xt.grad, atol=1e-5)


def test_gather_and_segment_sum_double_backward():
    idx, n = index_with_empty(12, 6)
    assert gradgradcheck(lambda x: segment_sum(gather_rows(x, idx, n) ** 2, idx, n), [rand(n, 2)])
    assert gradgradcheck(lambda x: segment_max(x ** 3, idx, n), [rand(idx.size, 2)])


def test_segments_sorted_and_cached_sum_matrix():
    seg = Segments(np.array([0, 0, 2, 2, 2]), 4)
    assert seg.order is None and seg.counts.tolist() == [2, 0, 3, 0]
    assert seg.sum_matrix(np.float32) is seg.sum_matrix(np.float32)
    with pytest.raises(IndexError, match="out of range"):
        Segments(np.array([0, 4]), 4)


# ---- edge-valued spmm (GAT's aggregation) ---------------------------------------------------------------
def ref_edge_spmm(w, x, dst, src, n_dst):
    out = np.zeros((n_dst,) + x.shape[1:])
    for e in range(dst.size):
        out[dst[e]] += (w[e][..., None] if w.ndim > 1 else w[e]) * x[src[e]]
    return out


@pytest.mark.parametrize("heads", [None, 3])
def test_edge_spmm_reference_and_gradcheck(heads):
    E, N = 15, 6
    src, dst = RNG.integers(0, N, E), RNG.integers(0, 4, E)
    w = rand(E) if heads is None else rand(E, heads)
    x = rand(N, 2) if heads is None else rand(N, heads, 2)
    assert_close(edge_spmm(w, x, dst, src, 4), ref_edge_spmm(w.data, x.data, dst, src, 4), atol=1e-12)
    assert gradcheck(lambda w, x: edge_spmm(w, x, dst, src, 4), [w, x])
    assert gradgradcheck(lambda w, x: edge_spmm(w, x, dst, src, 4) ** 2, [w, x])


def test_edge_spmm_vs_torch_sparse(torch):
    E, N, H, C = 40, 12, 2, 3
    src, dst = RNG.integers(0, N, E), RNG.integers(0, N, E)
    w, x = rand(E, H, dtype=np.float32), rand(N, H, C, dtype=np.float32)
    y = edge_spmm(w, x, dst, src, N)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    wt, xt = to_torch(torch, w), to_torch(torch, x)
    ii = torch.tensor(np.stack([dst, src]))
    mats = [torch.sparse_coo_tensor(ii, wt[:, h], (N, N), check_invariants=True) for h in range(H)]
    yt = torch.stack([torch.sparse.mm(m, xt[:, h]) for h, m in enumerate(mats)], 1)
    yt.backward(torch.tensor(g))
    assert_close(y, yt, atol=1e-5)
    assert_close(w.grad, wt.grad, atol=1e-4)
    assert_close(x.grad, xt.grad, atol=1e-5)
