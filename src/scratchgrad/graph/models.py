"""The node classifiers of the GCN, ChebNet, GAT and GraphSAGE papers, as their authors built them.

    model = GCN(in_channels=1433, hidden_channels=16, out_channels=7)
    logits = model(graph.x, graph)            # (N, 7); graph.x may stay scipy.sparse

`embed(x, graph)` returns the hidden representation the last layer classifies (for pictures).
`build_model(name, in_channels, out_channels, **options)` builds one by its CLI name.
"""
from __future__ import annotations

from ..nn import Module, ModuleList
from ..nn import functional as F
from .layers import ChebConv, GATConv, GCNConv, SAGEConv, dropout, l2_normalize


class _TwoLayer(Module):
    """dropout -> conv1 -> activation -> dropout -> conv2: the shape shared by GCN, ChebNet and GAT."""
    activation = staticmethod(F.relu)

    def embed(self, x, graph):
        h = dropout(x, self.dropout, self.training)
        return self.activation(self.conv1(h, graph))

    def forward(self, x, graph):
        h = dropout(self.embed(x, graph), self.dropout, self.training)
        return self.conv2(h, graph)

    def first_layer_parameters(self):
        """The parameters Kipf & Welling's code puts L2 weight decay on (the first layer's)."""
        return list(self.conv1.parameters())


class GCN(_TwoLayer):
    """Kipf & Welling (2017): 2 GCNConv layers, ReLU, dropout 0.5 before each (16 hidden units);
    no bias, as in their code (a bias costs about half a point on Cora with their settings)."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 16, dropout: float = 0.5,
                 bias: bool = False):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GCNConv(in_channels, hidden_channels, bias=bias)
        self.conv2 = GCNConv(hidden_channels, out_channels, bias=bias)


class ChebNet(_TwoLayer):
    """The GCN paper's Chebyshev baseline: the GCN network with ChebConv(K) layers (K terms, degree K-1;
    the paper's "K = 2" is K=3 here), no bias as in Kipf & Welling's code."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 16, K: int = 3,
                 dropout: float = 0.5, bias: bool = False):
        super().__init__()
        self.dropout = dropout
        self.conv1 = ChebConv(in_channels, hidden_channels, K, bias=bias)
        self.conv2 = ChebConv(hidden_channels, out_channels, K, bias=bias)


class GAT(_TwoLayer):
    """Velickovic et al. (2018), the Cora model: 8 heads x 8 features (ELU, concatenated), then
    `out_heads` output heads averaged; dropout p on both layers' inputs, attention and features."""
    activation = staticmethod(F.elu)

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 8, heads: int = 8,
                 out_heads: int = 1, dropout: float = 0.6, feat_dropout: float | None = None):
        super().__init__()
        self.dropout = dropout
        fd = dropout if feat_dropout is None else feat_dropout
        self.conv1 = GATConv(in_channels, hidden_channels, heads, concat=True, dropout=dropout, feat_dropout=fd)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, out_heads, concat=False, dropout=dropout,
                             feat_dropout=fd)


class GraphSAGE(Module):
    """Hamilton et al. (2017): `num_layers` SAGEConv layers (hidden ones ReLU + L2-normalised),
    trained on sampled blocks or on the full graph.

    forward(x, graph) runs every layer on the same graph; forward(x, blocks) runs layer l on
    blocks[l] (from a `NeighborSampler`), so x holds the features of the sampler's input nodes."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 aggr: str = "mean", dropout: float = 0.5, aggr_channels: int | None = None):
        super().__init__()
        self.dropout = dropout
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        width = aggr_channels or hidden_channels   # pooling / LSTM width (Hamilton: a hidden size)
        self.convs = ModuleList([SAGEConv(a, b, aggr, aggr_channels=width) for a, b in zip(sizes[:-1], sizes[1:])])

    def embed(self, x, graph):
        graphs = graph if isinstance(graph, (list, tuple)) else [graph] * len(self.convs)
        h = x
        for conv, g in zip(self.convs[:-1], graphs):
            h = l2_normalize(F.relu(conv(dropout(h, self.dropout, self.training), g)))  # Algorithm 1, lines 5-7
        return h

    def forward(self, x, graph):
        graphs = graph if isinstance(graph, (list, tuple)) else [graph] * len(self.convs)
        h = self.embed(x, graphs)
        return self.convs[-1](dropout(h, self.dropout, self.training), graphs[-1])

    def first_layer_parameters(self):
        return list(self.convs[0].parameters())


MODELS = {"gcn": GCN, "cheb": ChebNet, "gat": GAT, "sage": GraphSAGE}


def build_model(name: str, in_channels: int, out_channels: int, **options) -> Module:
    """A model by name (gcn, cheb, gat, sage) with its paper's defaults, overridden by `options`."""
    if name not in MODELS:
        raise ValueError(f"unknown graph model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](in_channels, out_channels, **options)


__all__ = ["GAT", "GCN", "ChebNet", "GraphSAGE", "MODELS", "build_model"]
