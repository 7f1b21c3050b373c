"""The RL labs (quick runs assert their claims) and `scratchgrad rl train|eval` end to end."""
import argparse
import json

import numpy as np
import pytest

pytest.importorskip("gymnasium")

from scratchgrad.rl.cli import ALGOS, add_rl_parser  # noqa: E402
from scratchgrad.rl.labs import LABS  # noqa: E402


_RESULTS = {}


def quick_lab(name, tmp_path_factory):
    """Each lab runs once (quick) per test session; returns (results, folder)."""
    if name not in _RESULTS:
        out = tmp_path_factory.mktemp(name)
        _RESULTS[name] = LABS[name].run(out, quick=True, seed=0), out
    return _RESULTS[name]


@pytest.mark.parametrize("name", list(LABS))
def test_lab_claim_holds(name, tmp_path_factory):
    r, out = quick_lab(name, tmp_path_factory)
    assert r["claim_holds"], r["checks"]
    saved = json.loads((out / "results.json").read_text())
    assert saved["claim_holds"] and saved["lab"] == name and saved["checks"] == r["checks"]
    for fig in r["figures"]:
        assert (out / fig).stat().st_size > 10_000


def test_cliff_walking_numbers(tmp_path_factory):
    r, _ = quick_lab("cliff-walking", tmp_path_factory)
    assert r["q_learning_path_steps"] == [13]
    assert r["sarsa_most_common_path_steps"] == 17
    assert r["online_return_after_episode_100"]["sarsa"] > r["online_return_after_episode_100"]["q-learning"] + 10


def _cli(argv):
    parser = argparse.ArgumentParser(prog="scratchgrad")
    add_rl_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def test_rl_train_and_eval_tabular(tmp_path, capsys):
    out = tmp_path / "q"
    metrics = _cli(["rl", "train", "--algo", "q-learning", "--env", "CliffWalking", "--episodes", "60",
                    "--out", str(out), "--no-progress"])
    for f in ("config.json", "metrics.json", "returns.png", "q_table.safetensors"):
        assert (out / f).is_file(), f
    config = json.loads((out / "config.json").read_text())
    assert config["env"] == "CliffWalking-v1" and config["hyperparameters"]["alpha"] == 0.5
    assert len(metrics["episode_returns"]) == 60
    result = _cli(["rl", "eval", str(out), "--episodes", "5"])
    assert result["mean"] == pytest.approx(metrics["eval_mean_return"]) or result["episodes"] == 5
    assert "mean return" in capsys.readouterr().out


@pytest.mark.parametrize("algo,extra", [("value-iteration", []), ("policy-iteration", []),
                                        ("mc", ["--episodes", "40", "--no-first-visit"]),
                                        ("sarsa-lambda", ["--episodes", "40", "--trace", "replacing"]),
                                        ("expected-sarsa", ["--episodes", "40"]), ("sarsa", ["--episodes", "40"])])
def test_rl_train_other_tabular_methods(tmp_path, algo, extra):
    out = tmp_path / algo
    metrics = _cli(["rl", "train", "--algo", algo, "--env", "FrozenLake-v1", "--out", str(out), "--no-progress",
                    *extra])
    assert 0.0 <= metrics["eval_mean_return"] <= 1.0
    if algo.endswith("iteration"):
        assert metrics["eval_mean_return"] > 0.6     # the optimal policy, gamma 0.99
    assert _cli(["rl", "eval", str(out), "--episodes", "3"])["episodes"] == 3


@pytest.mark.parametrize("algo", ["dqn", "double-dqn", "reinforce"])
def test_rl_train_and_eval_deep(tmp_path, algo):
    out = tmp_path / algo
    budget = ["--steps", "300"] if "dqn" in algo else ["--episodes", "8"]
    metrics = _cli(["rl", "train", "--algo", algo, "--env", "CartPole-v1", "--hidden", "16", "--out", str(out),
                    "--no-progress", *budget])
    assert (out / "model.safetensors").is_file() and (out / "returns.png").is_file()
    result = _cli(["rl", "eval", str(out), "--episodes", "100", "--seed", "10000"])
    assert result["mean"] == pytest.approx(metrics["eval_mean_return"])   # same weights, same seeds


def test_rl_train_errors(tmp_path):
    from scratchgrad.cli import CLIError
    with pytest.raises(CLIError, match="dqn"):
        _cli(["rl", "train", "--algo", "q-learning", "--env", "CartPole-v1", "--out", str(tmp_path / "a")])
    with pytest.raises(CLIError, match="tabular"):
        _cli(["rl", "train", "--algo", "dqn", "--env", "FrozenLake-v1", "--out", str(tmp_path / "b")])
    with pytest.raises(CLIError, match="Taxi-v4"):
        _cli(["rl", "train", "--algo", "sarsa", "--env", "Taxi-v3", "--out", str(tmp_path / "c")])
    with pytest.raises(CLIError, match="not found"):
        _cli(["rl", "eval", str(tmp_path / "nothing")])
    with pytest.raises(SystemExit):
        _cli(["rl", "train", "--algo", "nope", "--env", "CartPole-v1"])
    assert set(ALGOS) >= {"dqn", "double-dqn", "reinforce", "q-learning", "sarsa", "expected-sarsa", "sarsa-lambda",
                          "mc", "value-iteration", "policy-iteration"}
    assert np.isfinite(1.0)
