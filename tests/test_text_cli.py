"""The "sequence" CLI family: char-lstm train -> eval -> sample through scratchgrad's main()."""
import argparse
import json

import pytest

from scratchgrad.cli import build_parser, family_of, main
from scratchgrad.text import cli as text_cli


def test_family_registered():
    for model in text_cli.MODELS:
        assert family_of(model) is text_cli
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for option in ("--embed-dim", "--hidden-size", "--num-layers", "--seq-len", "--clip"):
        assert option in help_text


def test_char_lstm_train_eval_sample(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "char-lstm", "--data-root", str(data_root), "--n-train", "6000",
                 "--epochs", "1", "--embed-dim", "8", "--hidden-size", "16", "--num-layers", "1",
                 "--batch-size", "8", "--seq-len", "16", "--out", str(out), "--no-progress"]) == 0
    for name in ("config.json", "metrics.json", "model.safetensors", "vocab.json", "curves.png", "sample.txt",
                 "grad_norms.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 47 and metrics["val_nats_per_char"] < 4.2     # ln(66) = 4.19
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    assert f"validation {metrics['val_nats_per_char']:.4f} nats/char" in capsys.readouterr().out
    assert main(["sample", str(out), "--prompt", "ROMEO:", "--temperature", "0.8", "--length", "40",
                 "--out", str(tmp_path / "s.txt")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) >= 46
    assert (tmp_path / "s.txt").read_text().startswith("ROMEO:")
    assert main(["sample", str(out), "--prompt", "ROMEO~"]) == 1
    assert "never saw" in capsys.readouterr().err


def test_dataset_defaults_and_errors(tmp_path, capsys):
    args = argparse.Namespace(model="seq2seq-attn", dataset="tinyshakespeare")
    text_cli._model_dataset(args)                     # the main CLI's family default -> the model's own
    assert args.dataset == "date"
    assert main(["train", "--model", "char-lstm", "--dataset", "mr"]) == 1
    assert "trains on tinyshakespeare" in capsys.readouterr().err
    assert main(["train", "--model", "char-lstm", "--data-root", str(tmp_path), "--epochs", "1"]) == 1
    assert "Tiny Shakespeare not found" in capsys.readouterr().err
    assert main(["train", "--model", "char-lstm", "--optimizer", "sgd", "--data-root", str(tmp_path)]) == 1
    assert "Adam" in capsys.readouterr().err


def test_missing_task_module_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(text_cli.TASKS, "textcnn", ("scratchgrad.text.no_such_task", ("mr",)))
    with pytest.raises(Exception, match="not available"):
        text_cli._task("textcnn")
