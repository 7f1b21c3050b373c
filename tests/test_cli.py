"""The `scratchgrad` command line end to end on the bundled digits (few epochs)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from scratchgrad import checkpoint, cli
from scratchgrad.cli import evaluate_run, main


def run_main(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--epochs", "3", "--out", str(out), "--no-progress", "--hidden", "32"]) == 0
    return out


def test_train_writes_the_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"metrics.json", "curves.png", "model.safetensors", "config.json", "train_state.safetensors"} <= names
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and len(metrics["history"]) == 3
    assert 0.8 < metrics["test_accuracy"] <= 1 and metrics["test_loss"] > 0 and metrics["wall_time_s"] > 0
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model_kwargs"] == {"hidden": [32], "activation": "relu", "dropout": 0.0, "batchnorm": False,
                                      "in_features": 64, "num_classes": 10}
    assert (trained_run / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_reproduces_the_test_accuracy(trained_run, capsys):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    code, out, _ = run_main(["eval", trained_run], capsys)
    assert code == 0 and f"test accuracy {metrics['test_accuracy']:.2%}" in out
    result = evaluate_run(trained_run)
    assert result["test_accuracy"] == metrics["test_accuracy"]
    assert result["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-6)


def test_resume_on_the_command_line(tmp_path, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = ["--no-progress", "--hidden", "16", "--dropout", "0.1", "--seed", "5"]
    assert main(["train", "--epochs", "3", "--out", str(straight), *common]) == 0
    assert main(["train", "--epochs", "2", "--out", str(split), *common]) == 0
    code, out, err = run_main(["train", "--epochs", "2", "--out", split, *common], capsys)
    assert code == 1 and "--resume" in err  # refuses to overwrite a run
    code, out, _ = run_main(["train", "--resume", "--epochs", "3", "--out", split, "--no-progress"], capsys)
    assert code == 0 and "resumed" in out
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (straight, split))
    assert a["test_accuracy"] == b["test_accuracy"] and a["test_loss"] == b["test_loss"]
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    wa, _ = checkpoint.load(straight / "model.safetensors")
    wb, _ = checkpoint.load(split / "model.safetensors")
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])


@pytest.mark.parametrize("argv", [[], ["train"], ["eval"], ["lab"], ["lab", "run"], ["lab", "list"]])
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: scratchgrad") and "--help" in out
    if argv != ["lab", "list"]:
        assert len(out.splitlines()) > 5


def test_train_help_mentions_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for opt in ("--model", "--dataset", "--epochs", "--batch-size", "--optimizer", "--lr", "--weight-decay",
                "--hidden", "--seed", "--out", "--resume", "--data-root", "--no-progress", "digits", "adamw"):
        assert opt in out


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "scratchgrad", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "train" in r.stdout and "eval" in r.stdout and "lab" in r.stdout


def test_clear_errors(tmp_path, capsys):
    code, _, err = run_main(["train", "--dataset", "mnist", "--data-root", tmp_path, "--out", tmp_path / "r"], capsys)
    assert code == 1 and "train-images-idx3-ubyte" in err and "--data-root" in err and "--download" in err
    code, _, err = run_main(["eval", tmp_path], capsys)
    assert code == 1 and "config.json" in err
    with pytest.raises(SystemExit):
        main(["train", "--hidden", "10,x"])
    assert "layer sizes" in capsys.readouterr().err


def test_lab_commands_call_the_labs_package(monkeypatch, tmp_path, capsys):
    import scratchgrad.labs as labs
    calls = []
    monkeypatch.setattr(labs, "list_labs", lambda: [("xor", "a perceptron cannot learn XOR"), ("gradient-check", "c")])

    def fake_run(name, out=None, quick=False, **kw):
        calls.append((name, out, quick))
        return {"claim": "a perceptron cannot learn XOR", "claim_holds": True, "checks": {"mlp_learns": True},
                "figures": ["xor.png"]}
    monkeypatch.setattr(labs, "run_lab", fake_run)
    code, out, _ = run_main(["lab", "list"], capsys)
    assert code == 0 and "xor" in out and "a perceptron cannot learn XOR" in out and "gradient-check" in out
    code, out, _ = run_main(["lab", "run", "xor", "--out", tmp_path, "--quick"], capsys)
    assert code == 0 and calls == [("xor", tmp_path, True)] and "claim holds: yes" in out
    code, _, err = run_main(["lab", "run", "nope"], capsys)
    assert code == 1 and "unknown lab" in err and "xor" in err


def test_optimizer_names_build():
    import scratchgrad as sg
    w = [sg.zeros(2, requires_grad=True)]
    for name in cli.OPTIMIZERS:
        opt = cli.make_optimizer(name, w)
        assert opt.param_groups[0]["lr"] == cli.OPTIMIZERS[name][2]
    assert cli.make_optimizer("momentum", w).param_groups[0]["momentum"] == 0.9
    assert cli.make_optimizer("sgd", w, lr=0.5, weight_decay=1e-4).param_groups[0]["weight_decay"] == 1e-4
