"""Graph datasets: the Planetoid citation graphs (Cora, Citeseer, Pubmed) and Zachary's karate club.

    g = load_planetoid("cora")          # Graph: 2708 nodes, 10556 directed edges, x sparse (2708, 1433)
    g.train_mask.sum(), g.val_mask.sum(), g.test_mask.sum()     # 140, 500, 1000 (the standard split)

Files are looked up in `root`, else $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad, each directly or in
its `planetoid/` subfolder. They are the `ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}` files of
Yang et al. (2016), as used by Kipf & Welling's GCN code (https://github.com/kimiyoung/planetoid).
"""
from __future__ import annotations

import itertools
import os
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .data import Graph, coalesce, remove_self_loops, row_normalize, to_undirected

PLANETOID = ("cora", "citeseer", "pubmed")
_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph")


def data_dirs(root=None) -> list[Path]:
    """Folders searched for data files: root (or $SCRATCHGRAD_DATA, or ~/.cache/scratchgrad) and its planetoid/."""
    base = Path(root if root is not None else os.environ.get("SCRATCHGRAD_DATA") or
                Path.home() / ".cache" / "scratchgrad").expanduser()
    return [base, base / "planetoid"]


# The Planetoid files ARE Python 2 pickles of scipy.sparse / numpy objects: there is no way to read
# them without unpickling. Unpickling can run arbitrary code, so this Unpickler only lets through the
# few classes those files contain (numpy arrays and dtypes, scipy's CSR matrix, a defaultdict of
# lists) and refuses everything else.
_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("collections", "defaultdict"), ("__builtin__", "list"), ("builtins", "list"),
    ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"), ("__builtin__", "object"),
    ("builtins", "object"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith("scipy.sparse") and name == "csr_matrix":
            return sp.csr_matrix  # scipy.sparse.csr.csr_matrix in the file: a deprecated module path
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a Planetoid file "
                                     "(only numpy arrays, scipy CSR matrices and lists are allowed)")


def _unpickle(path: Path):
    with open(path, "rb") as f:
        return _RestrictedUnpickler(f, encoding="latin1").load()


def _find_files(name: str, root) -> dict[str, Path]:
    """Paths of the 8 files of dataset `name`; raises FileNotFoundError naming every missing file."""
    dirs = data_dirs(root)
    found, missing = {}, []
    for part in _PARTS + ("test.index",):
        fname = f"ind.{name}.{part}"
        path = next((d / fname for d in dirs if (d / fname).is_file()), None)
        if path is None:
            missing.append(fname)
        else:
            found[part] = path
    if missing:
        where = " or ".join(str(d) for d in dirs)
        hint = ("" if len(missing) < len(_PARTS) + 1 else
                f" (get them from https://github.com/kimiyoung/planetoid/tree/master/data)")
        raise FileNotFoundError(f"Planetoid dataset {name!r}: missing file(s) {', '.join(missing)} in {where}{hint}")
    return found


def _edges_from_dict_of_lists(adj: dict, num_nodes: int) -> np.ndarray:
    """{node: [neighbours]} -> symmetric, coalesced edge_index without self-loops (as PyG reads it)."""
    lengths = np.fromiter(map(len, adj.values()), dtype=np.int64, count=len(adj))
    src = np.repeat(np.fromiter(adj.keys(), dtype=np.int64, count=len(adj)), lengths)
    dst = np.fromiter(itertools.chain.from_iterable(adj.values()), dtype=np.int64, count=int(lengths.sum()))
    edge_index, _ = remove_self_loops(np.stack([src, dst]))
    return to_undirected(edge_index, num_nodes)


def load_planetoid(name: str, root=None, normalize_features: bool = False) -> Graph:
    """Cora, Citeseer or Pubmed with the public Planetoid split (Kipf & Welling's `load_data`).

    x: scipy CSR float32 (binary bag of words; TF-IDF for Pubmed), row-normalised if asked (as the
    GCN and GAT papers do); y: (N,) int64 class ids, -1 for Citeseer's 15 isolated test-range nodes
    that have no features or labels; masks: train = the first 20 labelled nodes per class,
    val = the next 500, test = the 1000 test ids."""
    name = name.lower()
    if name not in PLANETOID:
        raise ValueError(f"unknown Planetoid dataset {name!r}; choose from {', '.join(PLANETOID)}")
    files = _find_files(name, root)
    x, y, tx, ty, allx, ally, graph = (_unpickle(files[p]) for p in _PARTS)
    test_idx = np.loadtxt(files["test.index"], dtype=np.int64).reshape(-1)
    test_range = np.sort(test_idx)
    if name == "citeseer":  # isolated test nodes have no row in tx/ty: pad with zero rows
        full = np.arange(test_range.min(), test_range.max() + 1)
        tx_ext = sp.lil_matrix((full.size, tx.shape[1]), dtype=tx.dtype)
        tx_ext[test_range - full[0]] = tx
        ty_ext = np.zeros((full.size, ty.shape[1]), dtype=ty.dtype)
        ty_ext[test_range - full[0]] = ty
        tx, ty = tx_ext.tocsr(), ty_ext
    features = sp.vstack([allx, tx]).tocsr()
    onehot = np.vstack([ally, ty])
    perm = np.arange(features.shape[0])
    perm[test_idx] = test_range             # the test rows are stored in test.index's order
    features, onehot = features[perm], onehot[perm]
    features = sp.csr_matrix(features, dtype=np.float32)
    features.sort_indices()
    labels = np.where(onehot.any(axis=1), onehot.argmax(axis=1), -1).astype(np.int64)

    n = features.shape[0]
    masks = [np.zeros(n, dtype=bool) for _ in range(3)]
    masks[0][:y.shape[0]] = True
    masks[1][y.shape[0]:y.shape[0] + 500] = True
    masks[2][test_range] = True
    if normalize_features:
        features = row_normalize(features)
    return Graph(_edges_from_dict_of_lists(graph, n), n, x=features, y=labels, train_mask=masks[0],
                 val_mask=masks[1], test_mask=masks[2], name=name)


def karate_club() -> Graph:
    """Zachary's karate club (34 members, 78 friendships): y = the club each member joined
    (0 = Mr. Hi, 1 = Officer), x = one-hot node ids (sparse identity, as in Kipf's karate demo).
    train_mask: the two leaders (nodes 0 and 33); val_mask and test_mask: everyone else.
    Needs networkx (optional): pip install networkx."""
    from .data import _networkx
    nx = _networkx()
    G = nx.karate_club_graph()
    y = np.array([0 if G.nodes[v]["club"] == "Mr. Hi" else 1 for v in G.nodes()], dtype=np.int64)
    g = Graph.from_networkx(G, x=sp.identity(G.number_of_nodes(), dtype=np.float32, format="csr"), y=y,
                            name="karate")
    train = np.zeros(g.num_nodes, dtype=bool)
    train[[0, 33]] = True
    g.train_mask, g.val_mask, g.test_mask = train, ~train, ~train
    return g


DATASETS = PLANETOID + ("karate",)


def load_dataset(name: str, root=None, normalize_features: bool = False) -> Graph:
    """A node-classification graph by name: cora, citeseer, pubmed (Planetoid files) or karate (networkx)."""
    name = name.lower()
    if name == "karate":
        return karate_club()
    return load_planetoid(name, root, normalize_features)


__all__ = ["DATASETS", "PLANETOID", "coalesce", "data_dirs", "karate_club", "load_dataset", "load_planetoid"]
