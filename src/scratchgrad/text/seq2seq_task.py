"""The toy seq2seq tasks of "Deep Learning from Scratch 2" on the command line (the "sequence" CLI family).

    scratchgrad train --model seq2seq --dataset addition                    # the book's baseline
    scratchgrad train --model seq2seq --dataset addition --reverse          # + input reversal
    scratchgrad train --model seq2seq-peeky --dataset addition              # + peeky (reversed by default)
    scratchgrad train --model seq2seq-attn --dataset date                   # attention, reversed by default
    scratchgrad eval runs/seq2seq-attn-date-...  --beam-width 3             # greedy and beam exact match
    scratchgrad sample runs/seq2seq-attn-date-... --prompt "march 7, 2011"  # the answer and its attention map

Defaults are the book's (ch7/train_seq2seq.py, ch8/train.py): Adam lr 1e-3, batch 128, gradient norm
clipped at 5, embedding 16, hidden 128 (addition, 25 epochs) or 256 (date, 10 epochs); the held-out
split is the book's 5,000 examples (seeded shuffle, 90/10). The score is the book's: exact match of the
whole greedily decoded answer, measured after every epoch.

The module protocol (called by scratchgrad.text.cli): add_arguments(group), add_eval_arguments(group),
add_sample_arguments(group), train(args) -> metrics, evaluate(args) -> dict, sample(args) -> dict.
Arguments are read with getattr defaults, so an argparse.Namespace with only model and dataset set works. The run folder holds config.json,
metrics.json (the accuracy curve), model.safetensors, vocab.json, curves.png and, for attention models,
attention.png.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from ..cli import CLIError
from .seq2seq import MODELS, build_seq2seq

DATASETS = ("addition", "date")
BOOK = {  # the book's settings
    "addition": dict(embed_dim=16, hidden_size=128, batch_size=128, epochs=25, clip=5.0),
    "date": dict(embed_dim=16, hidden_size=256, batch_size=128, epochs=10, clip=5.0),
}
REVERSE = {"seq2seq": False, "seq2seq-peeky": True, "seq2seq-attn": True}   # the book's experiments
SHARED_OPTIONS = {  # options also declared by the other sequence models (added here only if still missing)
    "--embed-dim": dict(type=int, help="embedding size (default: seq2seq 16)"),
    "--hidden-size": dict(type=int, help="LSTM hidden size (default: seq2seq 128 addition, 256 date)"),
    "--num-layers": dict(type=int, help="LSTM layers (default: 1)"),
    "--clip": dict(type=float, help="clip the gradient norm at this value; 0 = off (default: seq2seq 5)"),
}
OPTIONS = {
    "--reverse": dict(action=argparse.BooleanOptionalAction, help="seq2seq: feed the question backwards "
                      "(default: off for seq2seq, on for seq2seq-peeky and seq2seq-attn, as in the book)"),
    "--attention-score": dict(choices=["dot", "general", "additive"], help="seq2seq-attn: score function "
                              "(default: dot, the book's; additive = Bahdanau's)"),
}
DECODE_OPTIONS = {
    "--beam-width": dict(type=int, help="seq2seq: beam width of the beam-search scores of train/eval and of "
                         "sample (default 3; 1 = greedy only)"),
}


def _add_options(group, options: dict) -> None:
    for flag, kw in options.items():
        if flag not in group._option_string_actions:     # argparse's registry, shared by all groups
            group.add_argument(flag, default=None, **kw)


def add_arguments(group) -> None:
    """`train` options: --reverse/--no-reverse, --attention-score, --beam-width (and the shared
    --embed-dim, --hidden-size, --num-layers, --clip when nobody has declared them yet)."""
    _add_options(group, {**SHARED_OPTIONS, **OPTIONS, **DECODE_OPTIONS})


def add_eval_arguments(group) -> None:
    """`eval` and `sample` options: --beam-width."""
    _add_options(group, DECODE_OPTIONS)


add_sample_arguments = add_eval_arguments


def _get(args, name, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


# ---- data, model, metrics ---------------------------------------------------------------------------------
def load_task(dataset: str, data_root=None):
    from ..data.datasets.seq2seq_toy import load_seq2seq_toy
    root = data_root
    if root is None:
        from ..labs._common import data_root as shared_root
        root = shared_root()
    return load_seq2seq_toy(dataset, root)


def exact_match(model, x, t, start_id: int, batch_size: int = 1000, beam_width: int = 1) -> float:
    """Fraction of questions x (N, Tx) whose whole decoded answer equals t[:, 1:] (t[:, 0] is the start id)."""
    target = t[:, 1:]
    hits = 0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        if beam_width > 1:
            tokens = model.beam_search(xb, start_id, target.shape[1], beam_width)[0][:, 0]
        else:
            tokens = model.greedy(xb, start_id, target.shape[1])[0]
        hits += int((tokens == target[i:i + batch_size]).all(1).sum())
    return hits / max(len(x), 1)


def fit_seq2seq(model, x, t, epochs: int, batch_size: int = 128, optimizer=None, clip: float = 5.0,
                seed: int = 0, time_limit: float | None = None, on_epoch=None, verbose: bool = False,
                lengths=None, ignore_index: int = -100) -> list[dict]:
    """The book's Trainer: each epoch a seeded permutation, len(x) // batch_size mini-batches, loss ->
    backward -> clip the global gradient norm -> step. on_epoch(epoch) -> dict of extra numbers (e.g.
    test accuracy) for the history. Stops early once `time_limit` seconds have passed. Padded sources:
    pass their `lengths` (N,); padded targets: `ignore_index` (their pad id)."""
    from .. import optim
    from ..nn.utils import clip_grad_norm_
    opt = optimizer or optim.Adam(model.parameters(), lr=1e-3)
    params = [p for p in model.parameters() if p.requires_grad]
    rng = np.random.default_rng(seed)
    start, history = time.perf_counter(), []
    iters = max(len(x) // batch_size, 1)
    for epoch in range(1, epochs + 1):
        model.train()
        order, losses, t0 = rng.permutation(len(x)), [], time.perf_counter()
        for i in range(iters):
            idx = order[i * batch_size:(i + 1) * batch_size]
            opt.zero_grad()
            loss = model.loss(x[idx], t[idx], None if lengths is None else lengths[idx], ignore_index)
            loss.backward()
            if clip:
                clip_grad_norm_(params, clip)
            opt.step()
            losses.append(float(loss.item()))
            if time_limit and time.perf_counter() - start > time_limit:
                break
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "steps": len(losses),
               "epoch_time_s": round(time.perf_counter() - t0, 3)}
        row.update(on_epoch(epoch) if on_epoch else {})
        history.append(row)
        if verbose:
            print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                  flush=True)
        if time_limit and time.perf_counter() - start > time_limit:
            break
    return history


# ---- figures -----------------------------------------------------------------------------------------------
def plot_curves(histories: dict, path, title: str = "") -> Path:
    """Training loss and held-out exact match per epoch, one line per run ({label: history})."""
    from matplotlib.ticker import MaxNLocator

    from ..plot import figure, savefig
    fig, (ax_loss, ax_acc) = figure(1, 2)
    for label, history in histories.items():
        epochs = [h["epoch"] for h in history]
        ax_loss.plot(epochs, [h["train_loss"] for h in history], "-o", ms=3, label=label)
        ax_acc.plot(epochs, [100 * h["test_accuracy"] for h in history], "-o", ms=3, label=label)
    for ax, name in ((ax_loss, "training loss (nats/char)"), (ax_acc, "held-out exact match (%)")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_acc.set_ylim(-2, 102)
    if title:
        fig.suptitle(title)
    return savefig(fig, path)


def plot_attention(weights, sources, outputs, path, title: str = "") -> Path:
    """Heat maps of attention weights (K, Ty, Tx): rows the output characters, columns the source ones."""
    from ..plot import figure, savefig
    K = len(weights)
    fig, axes = figure(1, K, figsize=(min(4.2 * K, 17), 3.6))
    for ax, w, src, out in zip(axes if K > 1 else [axes], weights, sources, outputs):
        ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(src)), [c if c != " " else "·" for c in src], fontsize=7)
        ax.set_yticks(range(len(out)), list(out), fontsize=8)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
    if title:
        fig.suptitle(title)
    return savefig(fig, path)


def _attention_examples(model, data, x, path, k: int = 3, title: str = "") -> Path:
    tokens, weights = model.greedy(x[:k], data.start_id, data.t_test.shape[1] - 1)
    return plot_attention(weights, data.decode(x[:k]), data.decode(tokens), path, title)


# ---- the CLI protocol ---------------------------------------------------------------------------------------
def _config(args) -> dict:
    model, dataset = args.model, _get(args, "dataset", "addition")
    if model not in MODELS:
        raise CLIError(f"unknown seq2seq model {model!r}; choose from {', '.join(MODELS)}")
    if dataset not in DATASETS:
        raise CLIError(f"{model} trains on {', '.join(DATASETS)}, not {dataset!r}")
    book = BOOK[dataset]
    return {"model": model, "dataset": dataset,
            "model_kwargs": {"embed_dim": _get(args, "embed_dim", book["embed_dim"]),
                             "hidden_size": _get(args, "hidden_size", book["hidden_size"]),
                             "num_layers": _get(args, "num_layers", 1), "dropout": _get(args, "dropout", 0.0),
                             "reverse_input": bool(_get(args, "reverse", REVERSE[model])),
                             "attention": _get(args, "attention_score", "dot")},
            "epochs": _get(args, "epochs", book["epochs"]), "batch_size": _get(args, "batch_size", book["batch_size"]),
            "optimizer": _get(args, "optimizer", "adam"), "lr": _get(args, "lr", 1e-3),
            "weight_decay": _get(args, "weight_decay"), "clip": _get(args, "clip", book["clip"]),
            "seed": _get(args, "seed", 0), "n_train": _get(args, "n_train"), "n_test": _get(args, "n_test"),
            "time_limit_min": _get(args, "time_limit"),
            "data_root": None if _get(args, "data_root") is None else str(args.data_root)}


def _build(config: dict, vocab_size: int):
    return build_seq2seq(config["model"], vocab_size, **config["model_kwargs"])


def _threads(args):
    from threadpoolctl import threadpool_limits
    n = _get(args, "threads")
    return threadpool_limits(limits=int(n), user_api="blas") if n else threadpool_limits(limits=None)


def train(args) -> dict:
    """Train as `args` asks; write the run folder; return the metrics (also in metrics.json)."""
    from .. import checkpoint
    from ..cli import make_optimizer
    from ..tensor import manual_seed
    config = _config(args)
    start = time.perf_counter()
    data = load_task(config["dataset"], config["data_root"])
    x_train, t_train = data.x_train[:config["n_train"]], data.t_train[:config["n_train"]]
    x_test, t_test = data.x_test[:config["n_test"]], data.t_test[:config["n_test"]]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(_get(args, "out", Path("runs") / f"{config['model']}-{config['dataset']}-{stamp}"))
    out.mkdir(parents=True, exist_ok=True)
    config.update(source_width=data.x_train.shape[1], answer_length=data.t_train.shape[1] - 1)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    data.vocab.save(out / "vocab.json")

    manual_seed(config["seed"])
    model = _build(config, len(data.vocab))
    opt = make_optimizer(config["optimizer"], model.parameters(), config["lr"], config["weight_decay"])
    verbose = not _get(args, "no_progress", False)
    if verbose:
        print(f"training {config['model']} ({sum(p.numel() for p in model.parameters()):,} parameters, "
              f"reverse={config['model_kwargs']['reverse_input']}) on {config['dataset']}: {len(x_train)} train / "
              f"{len(x_test)} held-out -> {out}", flush=True)

    def held_out(epoch):   # score, then save: a run stopped later keeps its last finished epoch
        accuracy = exact_match(model, x_test, t_test, data.start_id)
        checkpoint.save(out / "model.safetensors", model.state_dict(),
                        {"epoch": epoch, "model": config["model"], "dataset": config["dataset"]})
        return {"test_accuracy": accuracy}

    limit = None if config["time_limit_min"] is None else 60.0 * config["time_limit_min"]
    with _threads(args):
        history = fit_seq2seq(model, x_train, t_train, config["epochs"], config["batch_size"], opt, config["clip"],
                              config["seed"], limit, held_out, verbose)
        train_time = time.perf_counter() - start
        figures = [plot_curves({config["model"]: history}, out / "curves.png",
                               f"{config['model']} on {config['dataset']}").name]
        beam = int(_get(args, "beam_width", 3))
        beam_accuracy = exact_match(model, x_test, t_test, data.start_id, beam_width=beam) if beam > 1 else None
        if config["model"] == "seq2seq-attn":
            figures.append(_attention_examples(model, data, x_test, out / "attention.png",
                                               title=f"attention of {config['model']} on {config['dataset']}").name)
    metrics = {"test_accuracy": history[-1]["test_accuracy"],
               "best_test_accuracy": max(h["test_accuracy"] for h in history),
               **({f"test_accuracy_beam{beam}": beam_accuracy} if beam > 1 else {}),
               "epochs": len(history), "train_time_s": round(train_time, 3),
               "wall_time_s": round(time.perf_counter() - start, 3), "load_average": list(os.getloadavg()),
               "figures": figures, "history": history}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if verbose:
        print(f"held-out exact match {metrics['test_accuracy']:.2%} after {metrics['epochs']} epochs "
              f"({metrics['wall_time_s']:.1f} s)  wrote {out}", flush=True)
    return metrics


def load_run(run_dir):
    """(model with its saved weights, config, vocabulary) of a run folder (the data files are not needed)."""
    from .. import checkpoint
    from .vocab import Vocab
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    vocab = Vocab.load(run_dir / "vocab.json")
    model = _build(config, len(vocab))
    weights, _ = checkpoint.load(run_dir / "model.safetensors")
    model.load_state_dict(weights)
    model.eval()
    return model, config, vocab


def evaluate(args) -> dict:
    """Re-score the held-out split of a run folder: exact match of greedy and beam-search decoding."""
    model, config, _ = load_run(args.run_dir)
    data = load_task(config["dataset"], _get(args, "data_root", config.get("data_root")))
    beam = int(_get(args, "beam_width", 3))
    x, t = data.x_test[:config.get("n_test")], data.t_test[:config.get("n_test")]
    with _threads(args):
        result = {"test_accuracy": exact_match(model, x, t, data.start_id),
                  f"test_accuracy_beam{beam}": exact_match(model, x, t, data.start_id, beam_width=beam),
                  "n_test": len(x), "run_dir": str(args.run_dir)}
    print(f"held-out exact match: greedy {result['test_accuracy']:.2%}, beam {beam} "
          f"{result[f'test_accuracy_beam{beam}']:.2%} ({len(x)} questions, {args.run_dir})")
    return result


def sample(args) -> dict:
    """Answer --prompt (a question such as "16+75" or "march 7, 2011"): greedy and the beam's best answers;
    an attention model also writes the heat map of that input (to --out, default RUN_DIR/attention_sample.png)."""
    from ..data.datasets.seq2seq_toy import START, decode_rows, encode_rows
    model, config, vocab = load_run(args.run_dir)
    width, answer_len = config["source_width"], config["answer_length"]
    prompt = _get(args, "prompt", "16+75" if config["dataset"] == "addition" else "march 7, 2011")
    missing = sorted(set(prompt) - set(vocab.itos))
    if missing or len(prompt) > width:
        raise CLIError(f"the prompt must be at most {width} characters from the {config['dataset']} vocabulary "
                         f"{''.join(sorted(vocab.itos))!r} (unknown: {''.join(missing)!r})")
    x = encode_rows(vocab, [prompt], width)
    tokens, weights = model.greedy(x, vocab[START], answer_len)
    beams, scores = model.beam_search(x, vocab[START], answer_len, int(_get(args, "beam_width", 3)))
    result = {"prompt": prompt, "greedy": decode_rows(vocab, tokens)[0],
              "beam": [{"answer": a, "log_prob": float(s)} for a, s in zip(decode_rows(vocab, beams[0]), scores[0])]}
    print(f"{prompt!r} -> {result['greedy']!r}")
    for b in result["beam"]:
        print(f"  beam {b['answer']!r}  log p = {b['log_prob']:.3f}")
    if weights is not None:
        path = Path(_get(args, "out", Path(args.run_dir) / "attention_sample.png"))
        result["figure"] = str(plot_attention(weights, decode_rows(vocab, x), [result["greedy"]], path,
                                              f"{config['model']}: {prompt!r}"))
        print(f"wrote {path}")
    return result
