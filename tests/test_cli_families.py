"""`scratchgrad train/eval/sample` dispatch to the model families (graph, generative) by --model."""
import json

import pytest

from scratchgrad.cli import build_parser, family_of, main


def test_family_of():
    assert family_of("gcn").__name__ == "scratchgrad.graph.cli"
    assert family_of("wgan-gp").__name__ == "scratchgrad.generative.cli"
    assert family_of("mlp") is None


def test_graph_train_then_eval(tmp_path, capsys):
    pytest.importorskip("networkx")
    out = tmp_path / "run"
    assert main(["train", "--model", "gcn", "--dataset", "karate", "--epochs", "15", "--embedding", "pca",
                 "--out", str(out), "--no-progress"]) == 0
    trained = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    assert f"test accuracy {trained:.2%}" in capsys.readouterr().out


def test_generative_train_sample_eval(data_root, tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["train", "--model", "vae", "--n-train", "300", "--epochs", "1", "--data-root", str(data_root),
                 "--out", str(out)]) == 0
    assert main(["sample", str(out), "--n", "9", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    assert main(["eval", str(out), "--skip-is-fid", "--n-eval", "20", "--k", "5"]) == 0
    assert "test_nll_is" in capsys.readouterr().out


def test_dataset_and_action_errors(tmp_path, capsys):
    assert main(["train", "--model", "gcn", "--dataset", "mnist"]) == 1
    assert "trains on cora" in capsys.readouterr().err
    assert main(["train", "--model", "mlp", "--dataset", "cora"]) == 1
    assert "trains on digits" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"model": "gcn"}))
    assert main(["sample", str(tmp_path)]) == 1
    assert "does not apply to a gcn run" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"model": "mlp"}))
    assert main(["sample", str(tmp_path)]) == 1
    assert "holds a classifier" in capsys.readouterr().err


def test_family_options_are_in_train_help():
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for option in ("--hidden-channels", "--latent-dim", "--n-critic"):
        assert option in help_text
