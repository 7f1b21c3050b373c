"""Graph layers: GCNConv, ChebConv, GATConv, SAGEConv (mean, max-pool and LSTM aggregators).

Every layer is called as `layer(x, graph)`:
    x:     node features (N, F): a Tensor, or a scipy.sparse matrix (e.g. Cora's bag of words; the
           layer then multiplies it with `spmm` and never makes it dense)
    graph: a `Graph` (its normalised matrices are computed once and cached on it), a sampled
           block (a bipartite Graph: the output has graph.num_dst_nodes rows), or a PyG-style
           edge_index array (2, E)
Parameter names follow PyTorch Geometric, so state_dicts read the same (`lin.weight`, `bias`, ...).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .. import ops
from ..nn import Linear, Module, ModuleList, Parameter, init
from ..nn import functional as F
from ..tensor import DEFAULT_DTYPE, Tensor, get_rng
from .data import Graph, as_graph
from .lstm import LSTMCell
from .ops import edge_spmm, gather_rows, segment_max, segment_softmax, sparse_dropout, spmm
from .spectral import lambda_max, laplacian, scaled_laplacian


# ---- helpers shared by the layers ---------------------------------------------------------------
def linear(x, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x W^T + b for a dense Tensor or a scipy.sparse x (then one sparse product, gradient to W and b)."""
    if sp.issparse(x):
        y = spmm(x, weight.T)
        return y if bias is None else y + bias
    return F.linear(x, weight, bias)


def dropout(x, p: float, training: bool):
    """Inverted dropout; on a sparse matrix only its stored entries are dropped (`sparse_dropout`)."""
    if sp.issparse(x):
        return sparse_dropout(x, p, training)
    return F.dropout(x, p, training)


def glorot_(param: Tensor, fan_in: int | None = None, fan_out: int | None = None) -> Tensor:
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio; the init of the GCN and GAT code)."""
    fan_out, fan_in = (param.shape[0], param.shape[1]) if fan_in is None else (fan_out, fan_in)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return init.uniform_(param, -a, a)


def l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_2, eps) row by row (F.normalize); a zero row stays zero with a finite gradient."""
    return x / ops.sqrt(ops.maximum(ops.sum(x * x, dim=-1, keepdim=True), eps * eps))


def _rows(x, n: int):
    """The first n rows of a Tensor or sparse matrix (a block's targets among its sources)."""
    return x if x.shape[0] == n else x[:n]


def _new_param(*shape) -> Parameter:
    return Parameter(np.zeros(shape, DEFAULT_DTYPE))


# ---- GCN --------------------------------------------------------------------------------------------
class GCNConv(Module):
    """Graph convolution of Kipf & Welling (2017):  H' = A_hat H W^T + b,

        A_hat = D~^-1/2 (A + I) D~^-1/2     (the renormalisation trick: self-loops, then symmetric
                                              normalisation, keeps the spectrum in (-1, 1])
    H W^T is computed first (it has fewer columns), then one sparse product with A_hat.
    Parameters: lin.weight (out, in) Glorot-initialised, bias (out,) zeros."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, normalize: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.normalize = in_channels, out_channels, normalize
        self.lin = Linear(in_channels, out_channels, bias=False)
        glorot_(self.lin.weight)
        self.bias = _new_param(out_channels) if bias else None

    def propagation_matrix(self, graph: Graph):
        return graph.gcn_norm() if self.normalize else graph.adjacency()

    def forward(self, x, graph) -> Tensor:
        graph = as_graph(graph, x.shape[0])
        out = spmm(self.propagation_matrix(graph), linear(x, self.lin.weight))
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}"


# ---- ChebNet -----------------------------------------------------------------------------------------
def cheb_matrix(graph: Graph, lam_max: float | None = None):
    """L~ = 2 L / lam_max - I with L = I - D^-1/2 A D^-1/2 (no self-loops); lam_max=None computes the
    largest eigenvalue (as Kipf's `chebyshev_polynomials`). Cached on the graph."""
    def make():
        L = laplacian(graph.adjacency(np.float64), "sym")
        return scaled_laplacian(L, lambda_max(L) if lam_max is None else lam_max).astype(np.float32)
    return graph.cached(("cheb", lam_max), make)


class ChebConv(Module):
    """Chebyshev spectral convolution (Defferrard et al., 2016):

        H' = sum_{k=0}^{K-1} T_k(L~) H W_k^T + b,    T_0 = I, T_1 = L~, T_k = 2 L~ T_{k-1} - T_{k-2}

    K is the number of terms, as in the ChebNet paper and PyG: K=1 is a plain linear layer, and the
    GCN paper's "Chebyshev K=2" (polynomial degree 2) is ChebConv(K=3). The filter is (K-1)-hop local.
    All K products H W_k^T come from one matrix product with the stacked weights, then the
    recurrence runs on that (N, K*out) result and term k keeps its own column block.
    Parameters: lins.k.weight (out, in) Glorot-initialised, bias (out,) zeros."""

    def __init__(self, in_channels: int, out_channels: int, K: int, bias: bool = True,
                 lambda_max: float | None = None):
        super().__init__()
        if K < 1:
            raise ValueError(f"ChebConv: K must be >= 1, got {K}")
        self.in_channels, self.out_channels, self.K, self.lambda_max = in_channels, out_channels, K, lambda_max
        self.lins = ModuleList([Linear(in_channels, out_channels, bias=False) for _ in range(K)])
        for lin in self.lins:
            glorot_(lin.weight)
        self.bias = _new_param(out_channels) if bias else None

    def forward(self, x, graph) -> Tensor:
        from .spectral import chebyshev_basis
        graph = as_graph(graph, x.shape[0])
        Lt = cheb_matrix(graph, self.lambda_max)
        weight = ops.cat([lin.weight for lin in self.lins], dim=0)           # (K*out, in)
        z = linear(x, weight).reshape(x.shape[0], self.K, self.out_channels)  # z[:, k] = H W_k^T
        terms = chebyshev_basis(lambda v: spmm(Lt, v), z, self.K)              # T_k(L~) z
        out = terms[0][:, 0]
        for k in range(1, self.K):
            out = out + terms[k][:, k]
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, K={self.K}"


# ---- GAT ------------------------------------------------------------------------------------------------
class GATConv(Module):
    """Graph attention (Velickovic et al., 2018), for every head m and edge j -> i (self-loops added):

        z_j = W^m h_j                                          (heads x out_channels features)
        e_ij = LeakyReLU_0.2(a_src^m . z_j + a_dst^m . z_i)     (a^T [W h_i || W h_j], split in two)
        alpha_ij = softmax over the incoming edges of i of e_ij  (segment_softmax), then dropout
        h_i' = sum_j alpha_ij z_j  (+ bias),  heads concatenated (H*C) or averaged (C, the notes'
               y_i = sigma(1/M sum_m sum_j alpha_ij^(m) x_j W^(m)), the output layer)

    dropout: on the attention coefficients; feat_dropout: on z_j before aggregation (the original
    code does both, with the same p). Parameters: lin.weight (H*C, in), att_src and att_dst (1, H, C),
    bias (H*C or C)."""

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, feat_dropout: float = 0.0,
                 add_self_loops: bool = True, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout, self.feat_dropout = negative_slope, dropout, feat_dropout
        self.add_self_loops = add_self_loops
        self.lin = Linear(in_channels, heads * out_channels, bias=False)
        glorot_(self.lin.weight)
        self.att_src = _new_param(1, heads, out_channels)
        self.att_dst = _new_param(1, heads, out_channels)
        for att in (self.att_src, self.att_dst):   # each head's a is a (C -> 1) map: Glorot over C + 1
            glorot_(att, fan_in=out_channels, fan_out=1)
        self.bias = _new_param(heads * out_channels if concat else out_channels) if bias else None

    def attention(self, x, graph):
        """(z (N, H, C), alpha (E, H), graph with self-loops): the features and attention coefficients."""
        graph = as_graph(graph, x.shape[0])
        if self.add_self_loops:
            graph = graph.cached("gat_self_loops", graph.add_self_loops)
        N = x.shape[0]
        z = linear(x, self.lin.weight).reshape(N, self.heads, self.out_channels)
        score_src = ops.sum(z * self.att_src, dim=-1)                      # (N, H)
        score_dst = ops.sum(z * self.att_dst, dim=-1)
        src, dst = graph.segments("src"), graph.segments("dst")
        e = F.leaky_relu(gather_rows(score_src, src) + gather_rows(_rows(score_dst, graph.num_dst_nodes), dst),
                         self.negative_slope)                              # (E, H)
        return z, segment_softmax(e, dst), graph

    def forward(self, x, graph) -> Tensor:
        z, alpha, graph = self.attention(x, graph)
        alpha = F.dropout(alpha, self.dropout, self.training)
        z = F.dropout(z, self.feat_dropout, self.training)
        out = edge_spmm(alpha, z, graph.segments("dst"), graph.segments("src"))  # sum_j alpha_ij z_j: (N_dst, H, C)
        out = out.reshape(out.shape[0], -1) if self.concat else ops.mean(out, dim=1)
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}"


# ---- GraphSAGE --------------------------------------------------------------------------------------
def neighbour_table(graph: Graph, rng=None):
    """(table (N_dst, T) of source ids, mask (N_dst, T)) with each node's in-neighbours in a random
    order (from scratchgrad's seeded generator unless `rng` is given), padded to the largest degree T
    (for the LSTM aggregator)."""
    rng = get_rng() if rng is None else rng
    order = np.lexsort((rng.random(graph.num_edges), graph.dst))
    dst, src = graph.dst[order], graph.src[order]
    seg = graph.segments("dst")
    T = int(seg.counts.max()) if graph.num_edges else 0
    pos = np.arange(dst.size) - seg.indptr[dst]
    table = np.zeros((graph.num_dst_nodes, T), dtype=np.int64)
    mask = np.zeros((graph.num_dst_nodes, T), dtype=bool)
    table[dst, pos], mask[dst, pos] = src, True
    return table, mask


class SAGEConv(Module):
    """GraphSAGE layer (Hamilton et al., 2017), the notes' y_i = sigma(concat(h_i, h_N(i)) W):

        h_N(i) = AGG({h_j : j -> i})
        h_i'   = W_r h_i + W_l h_N(i) + b            (= W [h_i || h_N(i)] with W = [W_r  W_l])
        h_i'   = h_i' / ||h_i'||_2                   (normalize=True)

    aggr="mean": the neighbours' mean (a sparse product with D^-1 A; W_l is applied first, which is
                 the same by linearity and cheaper);
    aggr="max":  the pooling aggregator max_j ReLU(W_pool h_j + b_pool) (elementwise max);
    aggr="lstm": an LSTM run over the neighbours in a random order; its last hidden state.
    aggr_channels: the width of W_pool's output or of the LSTM state (default in_channels, as PyG;
    choose less for wide inputs such as 1433 bag-of-words features).
    Parameters: lin_l (W_l, with the bias), lin_r (W_r), lin (W_pool, max only), lstm (lstm only)."""

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean", normalize: bool = False,
                 root_weight: bool = True, bias: bool = True, aggr_channels: int | None = None):
        super().__init__()
        if aggr not in ("mean", "max", "lstm"):
            raise ValueError(f"SAGEConv: aggr must be 'mean', 'max' or 'lstm', got {aggr!r}")
        self.in_channels, self.out_channels, self.aggr = in_channels, out_channels, aggr
        self.normalize, self.root_weight = normalize, root_weight
        agg_channels = in_channels if aggr == "mean" else (aggr_channels or in_channels)
        if aggr == "max":
            self.lin = Linear(in_channels, agg_channels)
        elif aggr == "lstm":
            self.lstm = LSTMCell(in_channels, agg_channels)
        self.lin_l = Linear(agg_channels, out_channels, bias=bias)
        self.lin_r = Linear(in_channels, out_channels, bias=False) if root_weight else None

    def aggregate(self, x, graph: Graph) -> Tensor:
        """h_N(i) for the graph's targets (after W_l for "mean", before it otherwise)."""
        if self.aggr == "mean":
            return spmm(graph.normalized_adjacency("rw", add_self_loops=False), linear(x, self.lin_l.weight))
        if self.aggr == "max":
            pooled = F.relu(linear(x, self.lin.weight, self.lin.bias))
            return segment_max(gather_rows(pooled, graph.segments("src")), graph.segments("dst"))
        table, mask = neighbour_table(graph)
        xw = self.lstm.project_input(x)               # W_ih x_j + b_ih for every source, once
        h = c = Tensor(np.zeros((graph.num_dst_nodes, self.lstm.hidden_size), xw.dtype))
        for t in range(table.shape[1]):               # a loop over neighbour positions, not nodes
            h_new, c_new = self.lstm.step(gather_rows(xw, table[:, t]), (h, c))
            keep = Tensor(mask[:, t:t + 1].astype(xw.dtype))   # nodes with fewer neighbours keep their state
            h, c = h + keep * (h_new - h), c + keep * (c_new - c)
        return h

    def forward(self, x, graph) -> Tensor:
        graph = as_graph(graph, x.shape[0])
        agg = self.aggregate(x, graph)
        out = agg if self.aggr == "mean" else F.linear(agg, self.lin_l.weight)
        if self.lin_l.bias is not None:
            out = out + self.lin_l.bias
        if self.root_weight:
            out = out + linear(_rows(x, graph.num_dst_nodes), self.lin_r.weight)
        return l2_normalize(out) if self.normalize else out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, aggr={self.aggr!r}, normalize={self.normalize}"


__all__ = ["ChebConv", "GATConv", "GCNConv", "LSTMCell", "SAGEConv", "cheb_matrix", "dropout", "glorot_",
           "l2_normalize", "linear", "neighbour_table"]
