"""The toy seq2seq tasks (addition.txt, date.txt): loader, the CLI task module on small subsets, the lab.
The full runs of the book's experiments are marked slow."""
import argparse
import json

import numpy as np
import pytest
from conftest import shared_data_root

from scratchgrad.cli import CLIError
from scratchgrad.text import seq2seq_task as task


@pytest.fixture(scope="module")
def toy_root():
    root = shared_data_root()
    if not (root / "dlfs2-seq2seq" / "addition.txt").exists():
        pytest.skip(f"dlfs2-seq2seq data not found under {root}")
    return root


def test_loader_reproduces_the_books_split_and_vocabulary(toy_root):
    from scratchgrad.data.datasets.seq2seq_toy import load_seq2seq_toy
    d = load_seq2seq_toy("addition", toy_root)
    assert d.x_train.shape == (45000, 7) and d.t_train.shape == (45000, 5) and d.x_test.shape == (5000, 7)
    assert d.x_train.dtype == np.int64 and len(d.vocab) == 13
    # the book (ch. 7.1.2) prints x_train[0] = [3 0 2 0 0 11 5] -> "71+118", t_train[0] -> "_189"
    assert d.x_train[0].tolist() == [3, 0, 2, 0, 0, 11, 5]
    assert d.decode(d.x_train[:1]) == ["71+118 "] and d.decode(d.t_train[:1]) == ["_189 "]
    assert d.vocab.itos[d.start_id] == "_" and (d.t_train[:, 0] == d.start_id).all()
    date = load_seq2seq_toy("date", toy_root)
    assert date.x_train.shape == (45000, 29) and date.t_train.shape == (45000, 11) and len(date.vocab) == 59
    assert date.encode(["march 7, 2011"], 29).shape == (1, 29)
    with pytest.raises(ValueError, match="unknown"):
        load_seq2seq_toy("ptb", toy_root)


def test_add_arguments_does_not_collide():
    """Every option the other CLI families already declare, then ours: no argparse conflict."""
    p = argparse.ArgumentParser()
    for flag in ("--hidden --dropout --epochs --batch-size --lr --optimizer --weight-decay --seed --out --data-root "
                 "--hidden-channels --heads --K --aggr --embedding --latent-dim --beta --iterations --n-critic "
                 "--pcd-epochs --threads --n-train --time-limit --n --k --embed-dim --hidden-size").split():
        p.add_argument(flag)
    task.add_arguments(p.add_argument_group("seq2seq"))
    args = p.parse_args(["--no-reverse", "--beam-width", "5", "--clip", "1", "--attention-score", "additive"])
    assert args.reverse is False and args.beam_width == 5 and args.clip == 1.0 and args.num_layers is None
    fresh = argparse.ArgumentParser()
    task.add_arguments(fresh)                    # alone it declares the shared options itself
    assert fresh.parse_args(["--embed-dim", "8"]).embed_dim == 8


def _small(model, dataset, out, root, **kw):
    return argparse.Namespace(model=model, dataset=dataset, out=out, data_root=root, epochs=1, n_train=256,
                              n_test=50, hidden_size=16, batch_size=64, threads=1, no_progress=True, **kw)


@pytest.mark.parametrize("model,dataset", [("seq2seq", "addition"), ("seq2seq-peeky", "addition"),
                                           ("seq2seq-attn", "date")])
def test_train_evaluate_sample_on_a_subset(toy_root, tmp_path, capsys, model, dataset):
    out = tmp_path / model
    metrics = task.train(_small(model, dataset, out, toy_root))
    for name in ("config.json", "metrics.json", "model.safetensors", "vocab.json", "curves.png"):
        assert (out / name).is_file(), name
    assert (out / "attention.png").is_file() == (model == "seq2seq-attn")
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["history"][0]["epoch"] == 1 and 0.0 <= saved["test_accuracy"] <= 1.0
    assert metrics["epochs"] == 1 and np.isfinite(metrics["history"][0]["train_loss"])
    config = json.loads((out / "config.json").read_text())
    assert config["model_kwargs"]["reverse_input"] == (model != "seq2seq")
    result = task.evaluate(argparse.Namespace(run_dir=out, beam_width=2))
    assert result["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert 0.0 <= result["test_accuracy_beam2"] <= 1.0 and result["n_test"] == 50
    prompt = "16+75" if dataset == "addition" else "march 7, 2011"
    sample = task.sample(argparse.Namespace(run_dir=out, prompt=prompt, beam_width=2,
                                            out=tmp_path / "map.png"))
    assert len(sample["greedy"]) == (4 if dataset == "addition" else 10) and len(sample["beam"]) == 2
    assert (tmp_path / "map.png").is_file() == (model == "seq2seq-attn")
    assert prompt in capsys.readouterr().out
    with pytest.raises(CLIError, match="vocabulary"):
        task.sample(argparse.Namespace(run_dir=out, prompt="hello?!"))


def test_bad_model_or_dataset():
    with pytest.raises(CLIError, match="unknown seq2seq model"):
        task.train(argparse.Namespace(model="seq2seq-gru", dataset="date"))
    with pytest.raises(CLIError, match="trains on"):
        task.train(argparse.Namespace(model="seq2seq", dataset="mnist"))


def test_attention_lab_quick(tmp_path):
    from scratchgrad.labs import run_lab
    r = run_lab("attention", out=tmp_path, quick=True)
    assert r["claim_holds"], r["checks"]
    assert (tmp_path / "accuracy_vs_length.png").is_file() and (tmp_path / "attention_copy.png").is_file()


# ---- the book's experiments (minutes; run with -m slow) ----------------------------------------------------
@pytest.mark.slow
def test_date_attention_reaches_99_percent(toy_root, tmp_path):
    metrics = task.train(argparse.Namespace(model="seq2seq-attn", dataset="date", out=tmp_path, data_root=toy_root,
                                            epochs=4, threads=1, no_progress=True))
    assert metrics["best_test_accuracy"] >= 0.99


@pytest.mark.slow
def test_addition_ordering_baseline_reversed_peeky(toy_root, tmp_path):
    acc = {}
    for name, model, rev in (("base", "seq2seq", False), ("rev", "seq2seq", True), ("peeky", "seq2seq-peeky", True)):
        acc[name] = task.train(argparse.Namespace(model=model, dataset="addition", reverse=rev, out=tmp_path / name,
                                                  data_root=toy_root, threads=1, no_progress=True))["test_accuracy"]
    assert acc["base"] < acc["rev"] < acc["peeky"] and acc["peeky"] > 0.9
