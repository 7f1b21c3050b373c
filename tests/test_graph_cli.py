"""train_graph_cli: the run folder of `scratchgrad train --model gcn|cheb|gat|sage --dataset ...`."""
import argparse
import json

import numpy as np
import pytest

from scratchgrad.checkpoint import load
from scratchgrad.graph.cli import add_graph_arguments, project_2d, train_graph_cli


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        yield


def args(**kw):
    base = dict(model="gcn", dataset="cora", epochs=None, lr=None, weight_decay=None, patience=None, seed=0,
                dropout=0.0, no_progress=True, embedding="pca")
    return argparse.Namespace(**{**base, **kw})


def test_gcn_cora_run_folder(data_root, tmp_path):
    m = train_graph_cli(args(data_root=data_root, out=tmp_path, epochs=40))
    for f in ("metrics.json", "config.json", "model.safetensors", "embeddings.png", "embedding_over_training.png"):
        assert (tmp_path / f).is_file(), f
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] == m["test_accuracy"] > 0.7 and len(metrics["history"]) == metrics["epochs"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_kwargs"]["hidden_channels"] == 16 and config["train_kwargs"]["epochs"] == 40
    weights, meta = load(tmp_path / "model.safetensors")
    assert sorted(weights) == ["conv1.lin.weight", "conv2.lin.weight"] and meta["model"] == "gcn"


def test_karate_and_options(tmp_path):
    pytest.importorskip("networkx")
    m = train_graph_cli(args(model="gat", dataset="karate", out=tmp_path, epochs=30, heads=2, hidden_channels=4))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_kwargs"]["heads"] == 2 and config["train_kwargs"]["stopping"] is None
    assert m["epochs"] == 30 and 0 <= m["test_accuracy"] <= 1


def test_unknown_model_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match="unknown graph model"):
        train_graph_cli(args(model="mlp", out=tmp_path))
    with pytest.raises(FileNotFoundError, match="ind.citeseer"):
        train_graph_cli(args(dataset="citeseer", data_root=tmp_path, out=tmp_path))


def test_graph_arguments_parse():
    p = argparse.ArgumentParser()
    add_graph_arguments(p)
    a = p.parse_args(["--hidden-channels", "32", "--K", "2", "--aggr", "lstm", "--embedding", "pca"])
    assert (a.hidden_channels, a.K, a.aggr, a.heads, a.embedding) == (32, 2, "lstm", None, "pca")


def test_project_2d_pca():
    h = np.random.default_rng(0).standard_normal((40, 5))
    xy = project_2d(h, "pca")
    assert xy.shape == (40, 2)
    assert np.var(xy[:, 0]) >= np.var(xy[:, 1]) >= np.var(h - h.mean(0), axis=0).min()   # the top 2 directions
    assert project_2d(h[:, :1], "pca").shape == (40, 2)


@pytest.mark.slow
def test_project_2d_tsne_and_default_cli_figure(data_root, tmp_path):
    assert project_2d(np.random.default_rng(0).standard_normal((40, 5)), "tsne").shape == (40, 2)
    train_graph_cli(args(data_root=data_root, out=tmp_path, epochs=10, embedding=None))
    assert json.loads((tmp_path / "config.json").read_text())["embedding"] == "tsne"
