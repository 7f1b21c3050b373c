"""Labs: every lab runs (quick=True), writes results.json and a PNG, and its claim holds in the numbers."""
import json

import numpy as np
import pytest

from conftest import shared_data_root
from scratchgrad.labs import list_labs, run_lab

NAMES = ["xor", "gradient-check", "init-activations", "optimizers", "batchnorm", "overfitting",
         "hyperparameter-search"]


@pytest.fixture
def mnist_env(monkeypatch):
    """Point the labs at the shared MNIST files when they exist (else the labs fall back to digits)."""
    root = shared_data_root()
    if (root / "mnist").exists():
        monkeypatch.setenv("SCRATCHGRAD_DATA", str(root))
    return root


def run_quick(name, tmp_path, seed=0, default_out=False):
    """Run a lab with quick=True; check the files it must write; return its results."""
    out = tmp_path / name
    if default_out:  # run_lab's default: runs/lab-NAME under the working directory
        out = tmp_path / "runs" / f"lab-{name}"
    results = run_lab(name, out=None if default_out else out, quick=True, seed=seed)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == results
    assert results["lab"] == name and results["quick"] is True and isinstance(results["claim"], str)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs and set(results["figures"]) <= set(pngs)
    assert all((out / p).stat().st_size > 5000 for p in pngs)  # a real picture, not an empty canvas
    assert results["claim_holds"] is True, results["checks"]
    return results


def test_list_labs():
    labs = list_labs()
    assert [name for name, _ in labs][:len(NAMES)] == NAMES  # the book's labs first, then the other issues'
    assert {"cliff-walking", "mc-vs-td", "policy-vs-value-iteration"} <= {name for name, _ in labs}
    assert all(isinstance(claim, str) and len(claim) > 20 for _, claim in labs)


def test_unknown_lab_lists_the_labs(tmp_path):
    with pytest.raises(ValueError, match="unknown lab 'nope'.*xor.*hyperparameter-search"):
        run_lab("nope", out=tmp_path)


def test_xor(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run_quick("xor", tmp_path, default_out=True)
    assert all(acc == 1.0 for acc in r["gate_accuracy"].values())      # AND, NAND, OR, 2-layer XOR by hand
    assert r["logistic_regression_accuracy"] <= 0.75                    # one line gets at most 3 of 4 points
    assert r["best_of_random_linear_units"] == 0.75
    assert r["mlp_accuracy"] == 1.0
    assert abs(r["final_loss"]["logistic_regression"] - np.log(2)) < 1e-3  # the best a line can do: 50/50


def test_gradient_check(tmp_path, mnist_env):
    r = run_quick("gradient-check", tmp_path)
    d64, d32 = r["differences"]["float64"], r["differences"]["float32"]
    assert set(d64) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert max(v["max_abs_diff"] for v in d64.values()) < 1e-7
    assert max(v["mean_abs_diff"] for v in d64.values()) < 1e-8            # the book prints ~1e-10
    assert all(v["max_abs_grad"] > 0 for v in d64.values())                 # a real, non-zero gradient
    assert r["max_abs_diff_float32"] > 100 * r["max_abs_diff_float64"]


def test_gradient_check_falls_back_to_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHGRAD_DATA", str(tmp_path / "no-data-here"))
    r = run_quick("gradient-check", tmp_path)
    assert r["dataset"] == "digits" and "MNIST not found" in r["data_note"]
    assert r["network"].startswith("Linear(64,")


def test_init_activations(tmp_path):
    r = run_quick("init-activations", tmp_path)
    layers = r["per_layer"]
    assert all(len(v) == 5 for v in layers.values())
    assert min(s["saturated"] for s in layers["sigmoid, std=1"]) > 0.5          # piles up at 0 and 1
    assert layers["sigmoid, std=0.01"][-1]["std"] < 0.03                        # everything ~0.5
    assert abs(layers["sigmoid, std=0.01"][-1]["mean"] - 0.5) < 0.05
    assert max(s["saturated"] for s in layers["sigmoid, Xavier"]) < 0.05
    assert layers["sigmoid, Xavier"][-1]["std"] > 4 * layers["sigmoid, std=0.01"][-1]["std"]
    ratio = r["layer5_over_layer1_std"]
    assert ratio["ReLU, std=0.01"] < 1e-3                                        # dies out
    assert ratio["ReLU, Xavier"] < 0.5                                           # shrinks with depth
    assert 0.5 <= ratio["ReLU, He"] <= 2.0                                       # keeps its spread
    assert ratio["ReLU, std=0.01"] < ratio["ReLU, Xavier"] < ratio["ReLU, He"]


def test_optimizers(tmp_path, mnist_env):
    r = run_quick("optimizers", tmp_path)
    paths = r["paths"]
    assert all(np.allclose(p["xy"][0], [-7.0, 2.0]) and len(p["xy"]) == 31 for p in paths.values())
    y_sgd = np.array(paths["SGD"]["xy"])[:, 1]
    assert (np.sign(y_sgd[1:]) != np.sign(y_sgd[:-1])).sum() >= 25               # SGD zig-zags along y
    assert paths["AdaGrad"]["y_sign_changes"] == 0
    for name in ("Momentum", "AdaGrad", "Adam"):
        assert paths["SGD"]["path_length"] > 2 * paths[name]["path_length"]
    loss = r["final_loss_mean_last_10pct"]
    for name in ("Momentum", "AdaGrad", "Adam"):
        assert loss[name] < loss["SGD"], loss
    curves = r["loss_curves"]
    assert all(len(c) == r["steps"] for c in curves.values())


def test_batchnorm(tmp_path, mnist_env):
    r = run_quick("batchnorm", tmp_path)
    final = r["final_train_accuracy"]
    wins = sum(v["batchnorm"] > v["plain"] for v in final.values())
    assert wins == r["batchnorm_wins"] and wins > 2 * len(final) / 3, final
    # the smallest scale: without BN nothing flows through 5 layers, with BN the net still learns
    smallest = final[min(final, key=float)]
    assert smallest["plain"] < 0.3 < smallest["batchnorm"]


def test_overfitting(tmp_path, mnist_env):
    r = run_quick("overfitting", tmp_path)
    final = r["final (mean of last 20% of evaluations)"]
    gap = {name: v["train_acc"] - v["test_acc"] for name, v in final.items()}
    assert gap["plain"] > 0.1
    assert gap["plain"] > gap["weight decay 0.1"]
    assert gap["plain"] > gap["dropout 0.15"]
    assert r["train_samples"] == 300


def test_hyperparameter_search(tmp_path, mnist_env):
    r = run_quick("hyperparameter-search", tmp_path)
    trials = r["trials"]
    assert len(trials) == r["n_trials"]
    assert all(1e-6 <= t["lr"] <= 1e-2 and 1e-8 <= t["weight_decay"] <= 1e-4 for t in trials)
    assert [t["val_acc"] for t in trials] == sorted((t["val_acc"] for t in trials), reverse=True)
    assert 10 ** -3.5 <= r["best"]["lr"] <= 1e-2
    assert r["rerun_of_best_val_acc"] == r["best"]["val_acc"]                # same seed, same result
    largest = sorted((t["lr"] for t in trials), reverse=True)
    assert r["best"]["lr"] in largest[:max(1, len(trials) // 4)]              # larger lr is better here
    assert r["spearman_lr_vs_val_acc"] > 0                                    # (0.81 over 100 trials)
    assert (r["train_samples"], r["validation_samples"]) == (400, 100)      # the book's 500 images, 20% held out
