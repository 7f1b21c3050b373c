"""GCN, ChebNet, GAT, GraphSAGE on Cora: fast smoke runs by default, the papers' 10-seed targets with -m slow."""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad.graph import load_planetoid
from scratchgrad.graph.models import GAT, GCN, build_model
from scratchgrad.graph.train import _Stopper, fit_node_classifier, param_groups, run_seeds


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small GEMMs and Adam's axpy on a shared 2-core machine run faster on one BLAS thread."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def cora(data_root):
    return load_planetoid("cora", data_root, normalize_features=True)


@pytest.fixture(scope="module")
def citeseer(data_root):
    return load_planetoid("citeseer", data_root, normalize_features=True)


def test_kipf_window_rule_stops_when_loss_exceeds_the_recent_mean():
    s = _Stopper("window", 3)
    losses = [5, 4, 3, 2, 1.9, 1.8]                 # decreasing: never stops
    assert not any(s.update(i + 1, v, 0)[0] for i, v in enumerate(losses))
    assert s.update(7, 2.0, 0)[0]                    # 2.0 > mean(1.9, 1.8, ...) -> stop


def test_gat_patience_rule_saves_only_when_both_improve():
    s = _Stopper("patience", 2)
    assert s.update(1, 1.0, 0.5) == (False, True)
    assert s.update(2, 0.9, 0.4) == (False, False)  # loss better, acc worse: keep going, do not save
    assert s.update(3, 1.1, 0.3) == (False, False)
    assert s.update(4, 1.2, 0.3) == (True, False)   # 2 epochs without any improvement


def test_param_groups_first_layer_decay():
    model = GCN(10, 3)
    first, rest = param_groups(model, 5e-4, "first")
    assert first["weight_decay"] == 5e-4 and rest["weight_decay"] == 0.0
    assert [p.shape for p in first["params"]] == [(16, 10)] and [p.shape for p in rest["params"]] == [(3, 16)]


def test_state_dict_keys_follow_pyg():
    assert list(GCN(5, 2).state_dict()) == ["conv1.lin.weight", "conv2.lin.weight"]
    keys = list(GAT(5, 2).state_dict())
    assert keys[:4] == ["conv1.att_src", "conv1.att_dst", "conv1.bias", "conv1.lin.weight"]


def test_gcn_learns_cora_quickly(cora):
    model, r = fit_node_classifier("gcn", cora, seed=0, train_options={"epochs": 60, "stopping": None})
    assert r["epochs"] == 60 and r["test_accuracy"] > 0.77, r["test_accuracy"]
    assert model(cora.x, cora).dtype == np.float32
    # a model reloaded from its state_dict predicts the same
    clone = build_model("gcn", cora.num_features, cora.num_classes)
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    with sg.no_grad():
        np.testing.assert_array_equal(model(cora.x, cora).data, clone(cora.x, cora).data)


def test_same_seed_same_result(cora):
    a = fit_node_classifier("gcn", cora, seed=3, train_options={"epochs": 15, "stopping": None})[1]
    b = fit_node_classifier("gcn", cora, seed=3, train_options={"epochs": 15, "stopping": None})[1]
    assert a["test_accuracy"] == b["test_accuracy"] and a["history"][-1]["loss"] == b["history"][-1]["loss"]


@pytest.mark.parametrize("name,options", [("cheb", {}), ("gat", {}), ("sage", {"aggr": "max"})])
def test_other_models_train_on_cora(cora, name, options):
    _, r = fit_node_classifier(name, cora, seed=0, model_options=options,
                               train_options={"epochs": 12, "stopping": None})
    first, last = r["history"][0]["loss"], r["history"][-1]["loss"]
    assert last < first and r["test_accuracy"] > 0.4, (first, last, r["test_accuracy"])


def test_sage_minibatch_lstm_smoke(cora):
    _, r = fit_node_classifier("sage", cora, seed=0, model_options={"aggr": "lstm", "hidden_channels": 16},
                               train_options={"epochs": 2, "stopping": None, "fanouts": [5, 5]})
    assert np.isfinite(r["history"][-1]["loss"])


# ---- the papers' numbers: 10 seeds each (minutes) -------------------------------------------------------
@pytest.mark.slow
def test_gcn_cora_target(cora):
    r = run_seeds("gcn", cora, range(10))
    assert r["mean"] >= 0.810, r


@pytest.mark.slow
def test_gcn_citeseer_target(citeseer):
    r = run_seeds("gcn", citeseer, range(10))
    assert r["mean"] >= 0.700, r


@pytest.mark.slow
@pytest.mark.parametrize("K,paper", [(3, 0.812), (4, 0.795)])   # the paper's "K = 2" and "K = 3"
def test_chebnet_cora_near_paper(cora, K, paper):
    r = run_seeds("cheb", cora, range(10), model_options={"K": K})
    assert abs(r["mean"] - paper) < 0.015, r


@pytest.mark.slow
def test_gat_cora_target(cora):
    r = run_seeds("gat", cora, range(10))
    assert r["mean"] >= 0.825, r
