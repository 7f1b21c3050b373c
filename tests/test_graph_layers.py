"""Graph layers against dense, plainly written references and PyTorch; float64 gradchecks.

References build the dense N x N matrices of each paper's formula (no sparse tricks), or loop over
nodes; the torch oracles compute the same formulas with torch ops and the same weights."""
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import assert_close, to_torch

import scratchgrad as sg
from scratchgrad.autograd import gradcheck
from scratchgrad.graph import Graph
from scratchgrad.graph.layers import (ChebConv, GATConv, GCNConv, LSTMCell, SAGEConv, l2_normalize, linear,
                                      neighbour_table)
from scratchgrad.graph.sampling import NeighborSampler, sample_neighbors
from scratchgrad.tensor import get_rng

RNG = np.random.default_rng(1)


def small_graph(n=7, undirected=True, seed=0):
    """A random graph with an isolated node (the last one)."""
    r = np.random.default_rng(seed)
    pairs = np.array([(i, j) for i in range(n - 1) for j in range(n - 1) if i != j and r.random() < 0.35]).T
    g = Graph(pairs, n)
    return g.to_undirected() if undirected else g


def dense_A(g):
    A = np.zeros((g.num_dst_nodes, g.num_nodes))
    for s, d in g.edge_index.T:
        A[d, s] += 1
    return A


def x64(*shape, requires_grad=True):
    return sg.tensor(RNG.standard_normal(shape), dtype=np.float64, requires_grad=requires_grad)


def params(layer):
    return [p for _, p in layer.named_parameters()]


def check_grads(layer, x, g):
    """gradcheck in float64 w.r.t. the input and every parameter (gradcheck perturbs the parameters'
    own .data, so the layer sees every perturbation)."""
    layer.double()
    ps = params(layer)
    assert all(p.dtype == np.float64 for p in ps)
    assert gradcheck(lambda x, *ps: layer(x, g), [x] + ps)


# ---- GCN ---------------------------------------------------------------------------------------------
def ref_gcn(g, x, W, b):
    A = dense_A(g) + np.eye(g.num_nodes)
    d = A.sum(1) ** -0.5
    return (d[:, None] * A * d[None, :]) @ x @ W.T + b


def test_gcnconv_dense_reference_and_gradcheck():
    g, x = small_graph(), x64(7, 4)
    conv = GCNConv(4, 3).double()
    conv.bias.data[:] = RNG.standard_normal(3)
    assert_close(conv(x, g), ref_gcn(g, x.data, conv.lin.weight.data, conv.bias.data), atol=1e-12)
    check_grads(conv, x, g)


def test_gcnconv_sparse_input_and_edge_index_input():
    g = small_graph()
    x = sp.random(7, 5, density=0.4, format="csr", dtype=np.float32, random_state=0)
    conv = GCNConv(5, 2)
    dense = conv(sg.tensor(x.toarray()), g)
    assert_close(conv(x, g), dense, atol=1e-6)
    assert_close(conv(x, g.edge_index), dense, atol=1e-6)   # a PyG-style edge_index works too
    assert conv(x, g).dtype == np.float32


def test_gcnconv_vs_torch(torch):
    g, x = small_graph(), sg.randn(7, 4, requires_grad=True)
    conv = GCNConv(4, 3)
    y = conv(x, g)
    gy = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(gy)
    A = g.gcn_norm().tocoo()
    At = torch.sparse_coo_tensor(np.stack([A.row, A.col]), A.data, A.shape, check_invariants=True)
    xt, Wt, bt = to_torch(torch, x), to_torch(torch, conv.lin.weight), to_torch(torch, conv.bias)
    yt = torch.sparse.mm(At, xt @ Wt.T) + bt
    yt.backward(torch.tensor(gy))
    assert_close(y, yt)
    for ours, theirs in [(x.grad, xt.grad), (conv.lin.weight.grad, Wt.grad), (conv.bias.grad, bt.grad)]:
        assert_close(ours, theirs, atol=1e-5)


# ---- ChebNet ---------------------------------------------------------------------------------------------
def ref_cheb(g, x, Ws, b):
    A = dense_A(g)
    deg = A.sum(1)
    d = np.where(deg > 0, deg, 1) ** -0.5 * (deg > 0)
    L = np.eye(len(A)) - d[:, None] * A * d[None, :]
    Lt = 2 * L / np.linalg.eigvalsh(L).max() - np.eye(len(A))
    T = [np.eye(len(A)), Lt]
    while len(T) < len(Ws):
        T.append(2 * Lt @ T[-1] - T[-2])
    return sum(Tk @ x @ W.T for Tk, W in zip(T, Ws)) + b


@pytest.mark.parametrize("K", [1, 2, 3, 4])
def test_chebconv_dense_reference(K):
    g, x = small_graph(), x64(7, 4)
    conv = ChebConv(4, 3, K).double()
    conv.bias.data[:] = RNG.standard_normal(3)
    ref = ref_cheb(g, x.data, [lin.weight.data for lin in conv.lins], conv.bias.data)
    assert_close(conv(x, g), ref, atol=1e-10)


def test_chebconv_gradcheck_and_keys():
    g, x = small_graph(), x64(7, 3)
    conv = ChebConv(3, 2, K=3)
    assert sorted(conv.state_dict()) == ["bias", "lins.0.weight", "lins.1.weight", "lins.2.weight"]
    check_grads(conv, x, g)


# ---- GAT -------------------------------------------------------------------------------------------------
def ref_gat(g, x, W, a_src, a_dst, b, heads, C, concat, xp=np):
    """Dense GAT: per head, e_ij over a dense N x N matrix, -inf off the edges, row softmax."""
    N = x.shape[0]
    A = dense_A(g) + np.eye(N) > 0
    z = (x @ W.T).reshape(N, heads, C)
    outs = []
    for h in range(heads):
        s = (z[:, h] * a_src[0, h]).sum(-1)
        d = (z[:, h] * a_dst[0, h]).sum(-1)
        e = d[:, None] + s[None, :]                     # e[i, j]: edge j -> i
        e = xp.where(e > 0, e, 0.2 * e)
        e = xp.where(xp.asarray(A) if xp is not np else A, e, -xp.inf * xp.ones_like(e) if xp is not np else -np.inf)
        alpha = xp.softmax(e, 1) if xp is not np else np.exp(e - e.max(1, keepdims=True)) / np.exp(
            e - e.max(1, keepdims=True)).sum(1, keepdims=True)
        outs.append(alpha @ z[:, h])
    out = xp.cat(outs, 1) if (concat and xp is not np) else np.concatenate(outs, 1) if concat else sum(outs) / heads
    return out + b


@pytest.mark.parametrize("heads,concat", [(1, True), (3, True), (2, False)])
def test_gatconv_dense_reference_and_gradcheck(heads, concat):
    g, x = small_graph(), x64(7, 4)
    conv = GATConv(4, 2, heads=heads, concat=concat).double()
    conv.bias.data[:] = RNG.standard_normal(conv.bias.shape)
    ref = ref_gat(g, x.data, conv.lin.weight.data, conv.att_src.data, conv.att_dst.data, conv.bias.data, heads, 2,
                  concat)
    assert_close(conv(x, g), ref, atol=1e-10)
    check_grads(conv, x, g)


def test_gatconv_vs_torch(torch):
    g, x = small_graph(), sg.randn(7, 4, requires_grad=True)
    conv = GATConv(4, 3, heads=2)
    y = conv(x, g)
    gy = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(gy)
    ps = [x, conv.lin.weight, conv.att_src, conv.att_dst, conv.bias]
    ts = [to_torch(torch, p, requires_grad=True) for p in ps]
    yt = ref_gat(g, *ts, heads=2, C=3, concat=True, xp=torch)
    yt.backward(torch.tensor(gy))
    assert_close(y, yt, atol=1e-5)
    for p, t in zip(ps, ts):
        assert_close(p.grad, t.grad, atol=1e-5)


def test_gatconv_attention_dropout_only_in_training():
    g, x = small_graph(), sg.randn(7, 4)
    conv = GATConv(4, 2, heads=2, dropout=0.5)
    conv.eval()
    a, b = conv(x, g).data, conv(x, g).data
    np.testing.assert_array_equal(a, b)
    conv.train()
    assert not np.allclose(conv(x, g).data, a)


# ---- GraphSAGE ----------------------------------------------------------------------------------------------
def ref_sage(g, x, conv):
    """Loop over nodes: h_N(i) = AGG of in-neighbours, out = W_l h_N + b + W_r x_i."""
    out = []
    for i in range(g.num_dst_nodes):
        nb = g.src[g.dst == i]
        if conv.aggr == "mean":
            h = x[nb].mean(0) if nb.size else np.zeros(x.shape[1])
        else:
            pooled = np.maximum(x[nb] @ conv.lin.weight.data.T + conv.lin.bias.data, 0)
            h = pooled.max(0) if nb.size else np.zeros(x.shape[1])
        out.append(conv.lin_l.weight.data @ h + conv.lin_l.bias.data + conv.lin_r.weight.data @ x[i])
    out = np.array(out)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12) if conv.normalize else out


@pytest.mark.parametrize("aggr", ["mean", "max"])
@pytest.mark.parametrize("normalize", [False, True])
def test_sageconv_loop_reference_and_gradcheck(aggr, normalize):
    g, x = small_graph(), x64(7, 4)
    conv = SAGEConv(4, 3, aggr=aggr, normalize=normalize).double()
    assert_close(conv(x, g), ref_sage(g, x.data, conv), atol=1e-10)
    check_grads(conv, x, g)


def test_sageconv_lstm_vs_torch_lstm(torch):
    g, x = small_graph(), sg.randn(7, 4, requires_grad=True)
    conv = SAGEConv(4, 3, aggr="lstm", aggr_channels=5)
    sg.manual_seed(3)
    y = conv(x, g)
    y.sum().backward()
    sg.manual_seed(3)
    table, mask = neighbour_table(g, get_rng())       # the same random neighbour order
    lstm = torch.nn.LSTM(4, 5, batch_first=True)
    cell = conv.lstm
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, name + "_l0").copy_(torch.tensor(getattr(cell, name).data))
    xt = to_torch(torch, x, requires_grad=True)
    hs = []
    for i in range(g.num_nodes):
        nb = table[i][mask[i]]
        hs.append(lstm(xt[torch.tensor(nb)][None])[1][0][0, 0] if nb.size else torch.zeros(5))
    Wl, bl, Wr = (torch.tensor(p.data) for p in (conv.lin_l.weight, conv.lin_l.bias, conv.lin_r.weight))
    yt = torch.stack(hs) @ Wl.T + bl + xt @ Wr.T
    yt.sum().backward()
    assert_close(y, yt, atol=1e-5)
    assert_close(x.grad, xt.grad, atol=1e-5)


def test_sageconv_lstm_gradcheck():
    g, x = small_graph(5), x64(5, 2)
    conv = SAGEConv(2, 2, aggr="lstm", aggr_channels=2)

    def f(x):
        sg.manual_seed(0)   # the same neighbour order on every call
        return conv(x, g)
    conv.double()
    assert gradcheck(f, [x])


def test_lstmcell_vs_torch(torch):
    cell = LSTMCell(3, 4)
    x, h, c = sg.randn(5, 3, requires_grad=True), sg.randn(5, 4, requires_grad=True), sg.randn(5, 4)
    h1, c1 = cell(x, (h, c))
    (h1.sum() + (c1 * c1).sum()).backward()
    tcell = torch.nn.LSTMCell(3, 4)
    tcell.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in cell.state_dict().items()})
    xt, ht = to_torch(torch, x), to_torch(torch, h)
    h1t, c1t = tcell(xt, (ht, to_torch(torch, c)))
    (h1t.sum() + (c1t * c1t).sum()).backward()
    assert_close(h1, h1t)
    assert_close(c1, c1t)
    assert_close(x.grad, xt.grad)
    assert_close(h.grad, ht.grad)
    assert_close(cell.weight_hh.grad, tcell.weight_hh.grad)
    cell.double()
    assert gradcheck(lambda x: cell(x)[0], [x64(2, 3)])


def test_l2_normalize_vs_torch_and_zero_rows(torch):
    x = sg.tensor(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32), requires_grad=True)
    y = l2_normalize(x)
    (y * sg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    xt = to_torch(torch, x)
    (torch.nn.functional.normalize(xt, dim=-1) * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert_close(y, [[0.6, 0.8], [0.0, 0.0]])
    assert_close(x.grad, xt.grad)


def test_linear_sparse_and_dense_agree():
    x = sp.random(6, 5, density=0.5, format="csr", dtype=np.float64, random_state=1)
    W, b = x64(3, 5), x64(3)
    assert_close(linear(x, W, b), x.toarray() @ W.data.T + b.data, atol=1e-12)
    assert gradcheck(lambda W, b: linear(x, W, b), [W, b])


# ---- neighbour sampling ---------------------------------------------------------------------------------------
def test_sample_neighbors_fanout_and_existing_edges():
    g = small_graph(30, seed=3)
    nodes = np.arange(0, 30, 2)
    edges = set(map(tuple, g.edge_index.T.tolist()))
    for replace in (False, True):
        src, owner = sample_neighbors(g, nodes, 3, replace=replace, rng=np.random.default_rng(0))
        counts = np.bincount(owner, minlength=nodes.size)
        deg = g.degree()[nodes]
        assert (counts == (np.where(deg > 0, 3, 0) if replace else np.minimum(deg, 3))).all()
        assert all((s, nodes[o]) in edges for s, o in zip(src, owner))
        if not replace:
            assert len(set(zip(src, owner))) == src.size   # no repeats without replacement


def test_full_fanout_blocks_reproduce_full_graph_forward():
    g = small_graph(25, seed=4)
    x = sg.randn(25, 4)
    convs = [SAGEConv(4, 6, "max"), SAGEConv(6, 3, "mean")]
    full = convs[1](convs[0](x, g), g).data
    seeds = np.array([3, 7, 11])
    input_nodes, blocks = NeighborSampler(g, [-1, -1]).sample(seeds)
    h = x[input_nodes]
    for conv, block in zip(convs, blocks):
        h = conv(h, block)
    assert h.shape == (3, 3) and (input_nodes[:3] == seeds).all()
    assert_close(h, full[seeds], atol=1e-5)
