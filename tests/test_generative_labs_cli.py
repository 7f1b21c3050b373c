"""Generative labs (each claim asserted from its quick-mode numbers) and the train/sample/evaluate CLI functions."""
import json
from argparse import Namespace

import numpy as np
import pytest

from scratchgrad.generative import cli
from scratchgrad.generative.labs import LABS, run_lab


@pytest.fixture
def mnist_env(monkeypatch, data_root):
    monkeypatch.setenv("SCRATCHGRAD_DATA", str(data_root))
    return data_root


def run_quick(name, tmp_path):
    out = tmp_path / name
    r = run_lab(name, out, quick=True)
    assert json.loads((out / "results.json").read_text()) == r
    assert r["quick"] is True and r["lab"] == name and r["claim"] == LABS[name].CLAIM
    for f in r["figures"]:
        assert (out / f).stat().st_size > 3000
    assert r["claim_holds"] is True, r["checks"]
    return r


def test_gan_vanishing_gradient(tmp_path):
    r = run_quick("gan-vanishing-gradient", tmp_path)
    assert r["gradient_ratio_ns_over_minimax"] > 100
    assert abs(r["final"]["js_estimate"] - np.log(2)) < 0.05
    assert r["final"]["d_fake"] < 0.01


def test_mode_statistics():
    from scratchgrad.generative.labs import mode_statistics, ring_centers
    rng = np.random.default_rng(0)
    c = ring_centers()
    spread = c[rng.integers(0, 8, 1000)] + 0.05 * rng.standard_normal((1000, 2))
    collapsed = c[[0]] + 0.05 * rng.standard_normal((1000, 2))
    blob = 0.3 * rng.standard_normal((1000, 2))          # between the modes: near none of them
    s, k, b = mode_statistics(spread), mode_statistics(collapsed), mode_statistics(blob)
    assert s["modes_hit"] == 8 and s["modes_covered_high_quality"] == 8 and s["high_quality_fraction"] > 0.95
    assert abs(s["mode_entropy_bits"] - 3) < 0.05
    assert k["modes_hit"] == 1 and k["mode_entropy_bits"] == 0
    assert b["modes_hit"] == 0 and b["near_mode_fraction"] == 0


@pytest.mark.slow   # 500 WGAN-GP iterations of 5 critic steps: ~30 s on a quiet machine
def test_mode_collapse(tmp_path):
    r = run_quick("mode-collapse", tmp_path)
    assert r["runs"]["ns"]["final"]["modes_hit"] < r["runs"]["wgan-gp"]["final"]["modes_hit"]


def test_vae_vs_ae(tmp_path, mnist_env):
    r = run_quick("vae-vs-ae", tmp_path)
    assert r["vae"]["code_std"] < r["ae"]["code_std"] or r["vae"]["code_mean_abs"] < r["ae"]["code_mean_abs"]


def test_rbm_cd(tmp_path, mnist_env):
    r = run_quick("rbm-cd", tmp_path)
    res = r["results"]
    assert res["CD-10"]["test_log_likelihood_exact"] > res["CD-1"]["test_log_likelihood_exact"]
    assert all(len(v["test_log_likelihood_per_epoch"]) == 2 for v in res.values())
    assert len(r["pcd_minus_cd1_per_epoch"]) == 2


SLOW_MODELS = ["cvae", "beta-vae", "ae", "dae", "made", "gmmn", "vaegan", "gan", "cgan", "wgan", "dcgan"]


@pytest.mark.parametrize("model", ["vae", "rbm", "wgan-gp"] +
                         [pytest.param(m, marks=pytest.mark.slow) for m in SLOW_MODELS])
def test_train_sample_evaluate(tmp_path, data_root, model):
    assert set(SLOW_MODELS) | {"vae", "rbm", "wgan-gp"} == set(cli.GENERATIVE_MODELS)
    out = tmp_path / model
    gan_like = model in cli.GAN_MODELS or model == "gmmn"
    args = Namespace(model=model, dataset="mnist", data_root=data_root, epochs=1, batch_size=None, lr=None,
                     hidden=[32, 64] if gan_like else [32], latent_dim=4, seed=0,
                     out=out, n_train=500, iterations=3 if model in cli.GAN_MODELS else None, n_critic=2,
                     pcd_epochs=1, threads=1, quiet=True)
    metrics = cli.train_generative(args)
    for f in ("config.json", "metrics.json", "model.safetensors", "samples.png"):
        assert (out / f).is_file(), f
    assert json.loads((out / "metrics.json").read_text())["wall_time_s"] == metrics["wall_time_s"]
    path = cli.sample(Namespace(run_dir=out, n=9, out=tmp_path / "grid.png", seed=0))
    assert path.stat().st_size > 200
    ev = cli.evaluate_generative(Namespace(run_dir=out, data_root=data_root, k=10, n_eval=20, n_betas=50,
                                           skip_is_fid=True))
    key = {"vae": "test_nll_is", "cvae": "test_nll_is", "made": "test_nll_exact",
           "rbm": "test_log_likelihood_ais"}.get(model)
    if key:
        assert np.isfinite(ev[key])
    if model in ("vae", "cvae"):
        assert ev["test_nll_is"] <= ev["test_neg_elbo"] + 1.0   # the IS bound is tighter than the ELBO


def test_cli_errors(tmp_path):
    from scratchgrad.cli import CLIError
    with pytest.raises(CLIError, match="unknown generative model"):
        cli.train_generative(Namespace(model="nope", out=tmp_path))
    with pytest.raises(CLIError, match="mnist only"):
        cli.train_generative(Namespace(model="vae", dataset="digits", out=tmp_path))
    with pytest.raises(CLIError, match="not a finished generative run"):
        cli.sample(Namespace(run_dir=tmp_path, n=4, out=None))


def test_parsers():
    """The generative options as the main CLI wires them (train, eval, sample dispatch on the model)."""
    from scratchgrad.cli import build_parser
    p = build_parser()
    a = p.parse_args(["sample", "runs/x", "--n", "16", "--out", "g.png"])
    assert a.n == 16 and str(a.out) == "g.png"
    a = p.parse_args(["eval", "runs/x", "--k", "5000", "--skip-is-fid"])
    assert a.k == 5000 and a.skip_is_fid
    a = p.parse_args(["train", "--model", "wgan-gp", "--latent-dim", "2", "--n-critic", "3"])
    assert a.latent_dim == 2 and a.n_critic == 3 and a.beta is None