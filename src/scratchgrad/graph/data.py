"""`Graph`: nodes, edges and node data, plus the matrices graph layers need.

    g = Graph(edge_index, num_nodes=4, x=features, y=labels)
    g = g.to_undirected().add_self_loops()
    A_hat = g.gcn_norm()            # D^-1/2 (A + I) D^-1/2 as scipy CSR (cached)

Conventions (PyTorch Geometric's): `edge_index` is an int64 array (2, E); column e is an
edge from `src = edge_index[0, e]` to `dst = edge_index[1, e]`, and messages flow src -> dst.
The adjacency matrix has A[dst, src] = 1 (or the edge weight), so `A @ X` sums, for every
node, the features of the nodes with an edge into it. An undirected graph stores both directions.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .ops import Segments


def coalesce(edge_index, num_nodes: int, edge_weight=None):
    """Edges sorted by (dst, src) with duplicates merged (weights summed). Returns (edge_index, edge_weight)."""
    src, dst = np.asarray(edge_index, dtype=np.int64)
    key = dst * num_nodes + src
    uniq, inverse = np.unique(key, return_inverse=True)
    out = np.stack([uniq % num_nodes, uniq // num_nodes])
    if edge_weight is None:
        return out, None
    return out, np.bincount(inverse, weights=edge_weight, minlength=uniq.size).astype(np.asarray(edge_weight).dtype)


def add_self_loops(edge_index, num_nodes: int, edge_weight=None, fill_value=1.0):
    """Append the edges i -> i for every node (after removing any existing ones)."""
    edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
    loops = np.arange(num_nodes, dtype=np.int64)
    edge_index = np.concatenate([edge_index, np.stack([loops, loops])], axis=1)
    if edge_weight is not None:
        edge_weight = np.concatenate([edge_weight, np.full(num_nodes, fill_value, edge_weight.dtype)])
    return edge_index, edge_weight


def remove_self_loops(edge_index, edge_weight=None):
    keep = edge_index[0] != edge_index[1]
    return edge_index[:, keep], (None if edge_weight is None else edge_weight[keep])


def to_undirected(edge_index, num_nodes: int):
    """Add every reverse edge, then coalesce (each undirected edge appears once per direction)."""
    both = np.concatenate([edge_index, edge_index[::-1]], axis=1)
    return coalesce(both, num_nodes)[0]


def normalize_adjacency(A, kind: str = "sym", add_self_loops: bool = True, dtype=np.float32):
    """A normalised adjacency matrix (scipy CSR), from A with A[dst, src] = weight.

    kind="sym":  D^-1/2 A D^-1/2   (GCN; with add_self_loops this is the renormalisation trick
                                    D~^-1/2 (A + I) D~^-1/2 of Kipf & Welling)
    kind="rw":   D^-1 A            (random walk: each row averages the node's in-neighbours)
    D is the diagonal of row sums (in-degrees). Rows of isolated nodes stay 0 (no division by 0)."""
    A = sp.csr_matrix(A, dtype=np.float64)
    if add_self_loops:
        A = (A + sp.eye(A.shape[0], A.shape[1], format="csr")).tocsr()
    deg = np.asarray(A.sum(axis=1)).ravel()
    if kind == "sym":
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"normalize_adjacency: kind='sym' needs a square matrix, got {A.shape}")
        d = np.zeros_like(deg)
        np.power(deg, -0.5, out=d, where=deg > 0)
        out = sp.diags(d) @ A @ sp.diags(d)
    elif kind == "rw":
        d = np.zeros_like(deg)
        np.divide(1.0, deg, out=d, where=deg > 0)
        out = sp.diags(d) @ A
    else:
        raise ValueError(f"normalize_adjacency: kind must be 'sym' or 'rw', got {kind!r}")
    out = out.tocsr().astype(dtype)
    out.sort_indices()
    return out


class Graph:
    """A (directed or undirected) graph with optional node data.

    edge_index: (2, E) ints, row 0 = source, row 1 = target
    num_nodes:  N (default: 1 + the largest node id, or x's row count)
    x:          node features, (N, F) ndarray or scipy.sparse matrix (kept sparse: graph layers
                multiply it with `spmm`)
    y:          (N,) int labels (-1 = unknown);  train_mask / val_mask / test_mask: (N,) bool
    edge_weight: optional (E,) weights (used by `adjacency`)
    num_dst_nodes: for a sampled bipartite "block" (DGL's convention): edges go from any of the
                num_nodes sources into targets 0..num_dst_nodes-1, which are also the first sources,
                so a layer's output has num_dst_nodes rows (default: num_nodes, an ordinary graph)

    Derived matrices (adjacency, normalisations, segment groupings) are computed once and cached;
    a Graph is treated as immutable: methods that change the structure return a new Graph."""

    def __init__(self, edge_index, num_nodes: int | None = None, x=None, y=None, train_mask=None, val_mask=None,
                 test_mask=None, edge_weight=None, name: str = "", num_dst_nodes: int | None = None):
        ei = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
        if num_nodes is None:
            num_nodes = x.shape[0] if x is not None else (int(ei.max()) + 1 if ei.size else 0)
        if ei.size and (ei.min() < 0 or ei.max() >= num_nodes):
            raise ValueError(f"edge_index refers to node {ei.max()} but the graph has {num_nodes} nodes")
        self.edge_index, self.num_nodes = ei, int(num_nodes)
        self.num_dst_nodes = self.num_nodes if num_dst_nodes is None else int(num_dst_nodes)
        if ei.size and ei[1].max() >= self.num_dst_nodes:
            raise ValueError(f"edge_index has a target {ei[1].max()} >= num_dst_nodes={self.num_dst_nodes}")
        self.edge_weight = None if edge_weight is None else np.asarray(edge_weight)
        self.x, self.y, self.name = x, (None if y is None else np.asarray(y)), name
        self.train_mask, self.val_mask, self.test_mask = train_mask, val_mask, test_mask
        self._cache: dict = {}

    def cached(self, key, make):
        """self's value for `key`, computed by make() on first use (layers cache their matrices here)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _with_edges(self, edge_index, edge_weight=None) -> "Graph":
        return Graph(edge_index, self.num_nodes, self.x, self.y, self.train_mask, self.val_mask, self.test_mask,
                     edge_weight, self.name, self.num_dst_nodes)

    # ---- sizes and structure --------------------------------------------------------------------
    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    @property
    def src(self) -> np.ndarray:
        return self.edge_index[0]

    @property
    def dst(self) -> np.ndarray:
        return self.edge_index[1]

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else self.x.shape[1]

    @property
    def num_classes(self) -> int:
        return 0 if self.y is None else int(self.y.max()) + 1

    def degree(self, direction: str = "in") -> np.ndarray:
        """Number of edges into ("in") or out of ("out") each node: (N,) int64."""
        return np.bincount(self.dst if direction == "in" else self.src, minlength=self.num_nodes)

    def has_self_loops(self) -> bool:
        return bool((self.src == self.dst).any())

    def is_undirected(self) -> bool:
        return bool((self.adjacency() != self.adjacency().T).nnz == 0)

    def add_self_loops(self) -> "Graph":
        """Every node gets exactly one edge i -> i (weight 1); edges stay sorted by (dst, src)."""
        edge_index, edge_weight = add_self_loops(self.edge_index, self.num_nodes, self.edge_weight)
        return self._with_edges(*coalesce(edge_index, self.num_nodes, edge_weight))

    def remove_self_loops(self) -> "Graph":
        return self._with_edges(*remove_self_loops(self.edge_index, self.edge_weight))

    def to_undirected(self) -> "Graph":
        return self._with_edges(to_undirected(self.edge_index, self.num_nodes))

    # ---- matrices (cached) ------------------------------------------------------------------------
    def adjacency(self, dtype=np.float32) -> sp.csr_matrix:
        """A (num_dst_nodes, N) CSR with A[dst, src] = edge weight (1 without weights); duplicates add up."""
        def make():
            w = np.ones(self.num_edges, dtype) if self.edge_weight is None else self.edge_weight.astype(dtype)
            A = sp.csr_matrix((w, (self.dst, self.src)), shape=(self.num_dst_nodes, self.num_nodes))
            A.sum_duplicates()
            return A
        return self.cached(("adjacency", np.dtype(dtype)), make)

    def normalized_adjacency(self, kind: str = "sym", add_self_loops: bool = True, dtype=np.float32):
        """See `normalize_adjacency`; cached per (kind, add_self_loops, dtype)."""
        return self.cached(("norm", kind, add_self_loops, np.dtype(dtype)),
                            lambda: normalize_adjacency(self.adjacency(np.float64), kind, add_self_loops, dtype))

    def gcn_norm(self, dtype=np.float32) -> sp.csr_matrix:
        """The GCN propagation matrix D~^-1/2 (A + I) D~^-1/2 (Kipf & Welling's renormalisation trick)."""
        return self.normalized_adjacency("sym", True, dtype)

    def segments(self, by: str = "dst") -> Segments:
        """The edges grouped by target ("dst": a node's incoming edges) or by source ("src"), cached."""
        return self.cached(("segments", by), lambda: Segments(self.dst, self.num_dst_nodes) if by == "dst"
                           else Segments(self.src, self.num_nodes))

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, neighbours): the in-neighbours of node i are neighbours[indptr[i]:indptr[i + 1]]."""
        def make():
            seg = self.segments("dst")
            return seg.indptr, seg.sorted(self.src)
        return self.cached("csr", make)

    # ---- networkx -------------------------------------------------------------------------------
    def to_networkx(self):
        """A networkx.Graph (undirected graphs) or DiGraph, with node attribute `y` when labels exist.
        Needs networkx (optional): `pip install networkx`."""
        nx = _networkx()
        G = nx.Graph() if self.is_undirected() else nx.DiGraph()
        G.add_nodes_from(range(self.num_nodes))
        if self.y is not None:
            nx.set_node_attributes(G, dict(enumerate(self.y.tolist())), "y")
        G.add_edges_from(self.edge_index.T.tolist())
        return G

    @classmethod
    def from_networkx(cls, G, x=None, y=None, name: str = "") -> "Graph":
        """From a networkx (Di)Graph whose nodes are any hashables (relabelled 0..N-1 in G's order);
        an undirected graph gives both directions of every edge."""
        nodes = list(G.nodes())
        pos = {v: i for i, v in enumerate(nodes)}
        pairs = np.array([(pos[u], pos[v]) for u, v in G.edges()], dtype=np.int64).reshape(-1, 2).T
        n = len(nodes)
        ei = coalesce(pairs, n)[0] if G.is_directed() else to_undirected(pairs, n)
        return cls(ei, n, x=x, y=y, name=name)

    def __repr__(self):
        x = "" if self.x is None else f", x={'sparse ' if sp.issparse(self.x) else ''}{self.x.shape}"
        masks = "".join(f", {m}={int(getattr(self, m).sum())}" for m in ("train_mask", "val_mask", "test_mask")
                        if getattr(self, m) is not None)
        name = f"{self.name}: " if self.name else ""
        return f"Graph({name}num_nodes={self.num_nodes}, num_edges={self.num_edges}{x}{masks})"


def _networkx():
    try:
        import networkx
    except ImportError:
        raise ImportError("this function needs networkx, an optional dependency of scratchgrad.graph: "
                          "pip install networkx") from None
    return networkx


def as_graph(g, num_nodes: int | None = None) -> Graph:
    """A Graph from a Graph or from a PyG-style edge_index array (2, E)."""
    return g if isinstance(g, Graph) else Graph(g, num_nodes)


def row_normalize(x):
    """Divide each row by its sum (Kipf's `preprocess_features`); rows summing to 0 stay 0. Keeps sparsity."""
    s = np.asarray(x.sum(axis=1)).ravel().astype(np.float64)
    inv = np.zeros_like(s)
    np.divide(1.0, s, out=inv, where=s != 0)
    if sp.issparse(x):
        out = (sp.diags(inv) @ x).tocsr().astype(x.dtype)
        out.sort_indices()
        return out
    return (x * inv[:, None]).astype(x.dtype)
