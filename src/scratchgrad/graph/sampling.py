"""Neighbour sampling for mini-batch GraphSAGE (Hamilton et al., 2017, Algorithm 2).

    sampler = NeighborSampler(graph, fanouts=[25, 10])       # 25 neighbours in layer 1, 10 in layer 2
    input_nodes, blocks = sampler.sample(batch_nodes)
    h = x[input_nodes]
    for layer, block in zip(model.layers, blocks):          # blocks go from the input to the output
        h = layer(h, block)                                   # h now has block.num_dst_nodes rows

Going backwards from the batch (the last layer's targets), each layer samples at most `fanout`
in-neighbours of every current node; those neighbours become the next layer's extra nodes.
A block is a bipartite `Graph`: targets 0..num_dst_nodes-1 are also its first sources (DGL's
convention), so a layer reads its nodes' own features as h[:num_dst_nodes].
Everything is vectorised over nodes and edges.
"""
from __future__ import annotations

import numpy as np

from ..tensor import get_rng
from .data import Graph


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """concatenate(arange(s, s + c) for s, c in zip(starts, counts)), without a Python loop."""
    total = int(counts.sum())
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(total)


def sample_neighbors(graph: Graph, nodes: np.ndarray, fanout: int, replace: bool = False, rng=None):
    """Up to `fanout` random in-neighbours of each node: (src ids, position of the target in `nodes`).

    replace=False: all neighbours of a node with degree <= fanout, else a uniform subset of `fanout`.
    replace=True:  exactly `fanout` uniform draws (Hamilton's fixed-size sample) for nodes with
                   degree > 0. fanout < 0: every neighbour."""
    rng = get_rng() if rng is None else rng
    indptr, neighbours = graph.csr()
    starts, deg = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    if fanout < 0:
        return neighbours[_ranges(starts, deg)], np.repeat(np.arange(nodes.size), deg)
    if replace:
        has = deg > 0
        owner = np.repeat(np.nonzero(has)[0], fanout)
        pick = starts[owner] + (rng.random(owner.size) * deg[owner]).astype(np.int64)
        return neighbours[pick], owner
    owner = np.repeat(np.arange(nodes.size), deg)          # every candidate edge, grouped by target
    pos = _ranges(starts, deg)
    order = np.lexsort((rng.random(pos.size), owner))     # shuffle within each target's group
    rank = np.arange(pos.size) - np.repeat(np.concatenate([[0], np.cumsum(deg)[:-1]]), deg)
    keep = order[rank < fanout]                             # the first `fanout` of each shuffled group
    return neighbours[pos[keep]], owner[keep]


def to_block(dst_nodes: np.ndarray, src: np.ndarray, owner: np.ndarray, num_nodes: int):
    """(src_nodes, block): block edges src_local -> owner; src_nodes = dst_nodes then the new ids."""
    local = np.full(num_nodes, -1, dtype=np.int64)
    local[dst_nodes] = np.arange(dst_nodes.size)
    new = np.unique(src[local[src] < 0])
    local[new] = dst_nodes.size + np.arange(new.size)
    src_nodes = np.concatenate([dst_nodes, new])
    block = Graph(np.stack([local[src], owner]), num_nodes=src_nodes.size, num_dst_nodes=dst_nodes.size)
    return src_nodes, block


class NeighborSampler:
    """Sample the computation graph of a mini-batch, layer by layer (`fanouts[l]` for layer l)."""

    def __init__(self, graph: Graph, fanouts, replace: bool = False, seed=None):
        self.graph, self.fanouts, self.replace = graph, list(fanouts), replace
        self.rng = None if seed is None else np.random.default_rng(seed)  # None: scratchgrad's global one

    def sample(self, seeds):
        """(input_nodes, blocks): the global ids whose features the first layer reads, and one block
        per layer from the first to the last; the last block's targets are `seeds`."""
        nodes = np.asarray(seeds, dtype=np.int64)
        blocks = []
        for fanout in reversed(self.fanouts):
            src, owner = sample_neighbors(self.graph, nodes, fanout, self.replace, self.rng or get_rng())
            nodes, block = to_block(nodes, src, owner, self.graph.num_nodes)
            blocks.append(block)
        return nodes, blocks[::-1]
