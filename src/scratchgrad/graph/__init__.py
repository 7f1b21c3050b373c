"""`scratchgrad.graph`: graph neural networks from the notes' GNN section.

    from scratchgrad.graph import load_planetoid, GCN, fit_node_classifier
    g = load_planetoid("cora", normalize_features=True)       # Graph, sparse features, 140/500/1000 split
    model, result = fit_node_classifier("gcn", g, seed=0)      # the GCN paper's settings
    result["test_accuracy"]                                     # ~0.815

What lives where:
    data.py      Graph (edge_index, features, labels, masks; adjacency and normalisations, cached), networkx
    datasets.py  Planetoid (Cora, Citeseer, Pubmed) and karate-club loaders
    ops.py       autograd ops: spmm (sparse @ dense), gather_rows, segment_sum/mean/max/softmax, edge_spmm
    spectral.py  Laplacians, graph Fourier transform, spectral / polynomial / Chebyshev filters
    layers.py    GCNConv, ChebConv, GATConv, SAGEConv (mean, max-pool, LSTM); sampling.py: neighbour sampling
    models.py    GCN, ChebNet, GAT, GraphSAGE;  train.py: full-batch / sampled training, multi-seed runs
    pinsage.py   PinSage on MovieLens-100k (hit-rate@10);  lab.py: the graph-fourier lab;  cli.py: the CLI
"""
from __future__ import annotations

from .data import Graph, add_self_loops, coalesce, normalize_adjacency, remove_self_loops, row_normalize, to_undirected
from .datasets import karate_club, load_dataset, load_planetoid
from .layers import ChebConv, GATConv, GCNConv, SAGEConv
from .models import GAT, GCN, ChebNet, GraphSAGE, build_model
from .ops import (Segments, edge_spmm, gather_rows, scatter_add, segment_max, segment_mean, segment_softmax,
                  segment_sum, sparse_dropout, spmm)
from .sampling import NeighborSampler
from .train import fit_node_classifier, run_seeds, train_node_classifier
