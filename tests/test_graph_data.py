"""Graph data: the Graph class, normalisations, networkx conversion, the Planetoid and karate loaders."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from scratchgrad.graph import Graph, coalesce, load_planetoid, normalize_adjacency, row_normalize
from scratchgrad.graph.datasets import _RestrictedUnpickler, karate_club, load_dataset


def path_graph(n=4):
    src = np.arange(n - 1)
    return Graph(np.stack([src, src + 1]), n).to_undirected()


def test_graph_basics_and_self_loops():
    g = path_graph()
    assert g.num_nodes == 4 and g.num_edges == 6 and g.is_undirected() and not g.has_self_loops()
    assert g.degree().tolist() == [1, 2, 2, 1]
    h = g.add_self_loops()
    assert h.num_edges == 10 and h.has_self_loops()
    assert (h.dst[1:] >= h.dst[:-1]).all()               # coalesced: sorted by target
    assert h.add_self_loops().num_edges == 10            # loops are not doubled
    assert h.remove_self_loops().num_edges == 6
    np.testing.assert_array_equal(g.adjacency().toarray(), [[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]])


def test_adjacency_is_target_by_source_and_csr_neighbours():
    g = Graph(np.array([[0, 0, 2], [1, 2, 1]]), 3)       # edges 0->1, 0->2, 2->1
    assert g.adjacency().toarray().tolist() == [[0, 0, 0], [1, 0, 1], [1, 0, 0]]
    indptr, nb = g.csr()
    assert sorted(nb[indptr[1]:indptr[2]].tolist()) == [0, 2]
    assert g.degree("in").tolist() == [0, 2, 1] and g.degree("out").tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="3 nodes"):
        Graph(np.array([[0], [3]]), 3)


def test_coalesce_merges_duplicates():
    ei, w = coalesce(np.array([[1, 0, 1], [2, 2, 2]]), 3, np.array([1.0, 2.0, 3.0]))
    assert ei.tolist() == [[0, 1], [2, 2]] and w.tolist() == [2.0, 4.0]


def test_gcn_normalisation_matches_formula():
    g = path_graph()
    A = g.adjacency().toarray() + np.eye(4)
    d = A.sum(1) ** -0.5
    np.testing.assert_allclose(g.gcn_norm().toarray(), d[:, None] * A * d[None], rtol=1e-6)
    assert g.gcn_norm().dtype == np.float32 and g.gcn_norm() is g.gcn_norm()   # cached
    rw = normalize_adjacency(g.adjacency(), "rw", add_self_loops=False).toarray()
    np.testing.assert_allclose(rw.sum(1), 1.0, rtol=1e-6)
    isolated = Graph(np.zeros((2, 0), np.int64), 2)
    assert np.isfinite(normalize_adjacency(isolated.adjacency(), "sym", add_self_loops=False).toarray()).all()


def test_row_normalize_keeps_sparsity_and_zero_rows():
    x = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0], [0, 2, 2]], np.float32))
    r = row_normalize(x)
    assert sp.issparse(r) and r.dtype == np.float32
    np.testing.assert_allclose(r.toarray(), [[0.5, 0.5, 0], [0, 0, 0], [0, 0.5, 0.5]])


def test_networkx_round_trip():
    nx = pytest.importorskip("networkx")
    G = nx.cycle_graph(5)
    g = Graph.from_networkx(G)
    assert g.num_nodes == 5 and g.num_edges == 10 and g.is_undirected()
    H = g.to_networkx()
    assert isinstance(H, nx.Graph) and sorted(map(sorted, H.edges())) == sorted(map(sorted, G.edges()))
    D = Graph(np.array([[0], [1]]), 2).to_networkx()
    assert D.is_directed() and list(D.edges()) == [(0, 1)]


def test_karate_club():
    pytest.importorskip("networkx")
    g = karate_club()
    assert (g.num_nodes, g.num_edges, g.num_classes) == (34, 156, 2)
    assert g.train_mask.sum() == 2 and g.y[0] != g.y[33]


# ---- Planetoid ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,nodes,edges,feats,classes,nnz", [
    ("cora", 2708, 10556, 1433, 7, 49216), ("citeseer", 3327, 9104, 3703, 6, 105165)])
def test_planetoid_counts_and_split(data_root, name, nodes, edges, feats, classes, nnz):
    g = load_planetoid(name, data_root)
    assert (g.num_nodes, g.num_edges, g.num_features, g.num_classes) == (nodes, edges, feats, classes)
    assert sp.issparse(g.x) and g.x.dtype == np.float32 and g.x.nnz == nnz
    assert g.is_undirected() and not g.has_self_loops()
    assert g.val_mask.sum() == 500 and g.test_mask.sum() == 1000
    assert (np.bincount(g.y[g.train_mask]) == 20).all()   # 20 labelled nodes per class
    assert not (g.train_mask & g.val_mask).any() and not (g.val_mask & g.test_mask).any()
    assert (g.y[g.test_mask] >= 0).all()
    if name == "citeseer":
        assert (g.y == -1).sum() == 15                    # the isolated test-range nodes
    normalized = load_planetoid(name, data_root, normalize_features=True).x
    np.testing.assert_allclose(np.asarray(normalized.sum(1)).ravel()[g.y >= 0], 1.0, rtol=1e-5)


def test_planetoid_cora_known_labels(data_root):
    g = load_planetoid("cora", data_root)
    # the first training labels and the label histogram of Kipf & Welling's loader
    assert g.y[:10].tolist() == [3, 4, 4, 0, 3, 2, 0, 3, 3, 2]
    assert np.bincount(g.y).tolist() == [351, 217, 418, 818, 426, 298, 180]


def test_pubmed_names_the_missing_file(data_root):
    with pytest.raises(FileNotFoundError, match=r"ind\.pubmed\.allx") as e:
        load_planetoid("pubmed", data_root)
    assert "ind.pubmed.x" not in str(e.value)             # only what is missing is named


def test_missing_dataset_lists_every_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ind\.cora\.x.*ind\.cora\.test\.index.*planetoid"):
        load_dataset("cora", tmp_path)
    with pytest.raises(ValueError, match="unknown Planetoid"):
        load_planetoid("reddit", tmp_path)


def test_data_root_from_environment(data_root, monkeypatch):
    monkeypatch.setenv("SCRATCHGRAD_DATA", str(data_root))
    assert load_planetoid("cora").num_nodes == 2708       # found in $SCRATCHGRAD_DATA/planetoid


class _Evil:
    def __reduce__(self):
        return (print, ("this must not run",))


def test_restricted_unpickler_refuses_other_classes(tmp_path):
    path = tmp_path / "ind.evil.x"
    path.write_bytes(pickle.dumps(_Evil(), protocol=2))
    refused = r"refusing to load (__builtin__|builtins)\.print"
    with open(path, "rb") as f, pytest.raises(pickle.UnpicklingError, match=refused):
        _RestrictedUnpickler(f, encoding="latin1").load()
