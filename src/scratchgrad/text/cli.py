"""The "sequence" model family of the `scratchgrad` command line (wired in by scratchgrad.cli's FAMILIES).

    scratchgrad train --model char-lstm --dataset tinyshakespeare --data-root ../shared/data
    scratchgrad sample RUN_DIR --prompt "ROMEO:" --temperature 0.8 --length 500
    scratchgrad eval RUN_DIR                                   # validation nats/char, re-measured
    scratchgrad train --model seq2seq-attn --dataset date      # scratchgrad.text.seq2seq_task
    scratchgrad train --model textcnn --dataset mr             # scratchgrad.text.textcnn_task

char-lstm lives here (on top of scratchgrad.text.char_lm); the other models are task modules that
define add_arguments(group), train(args), evaluate(args) and optionally sample(args),
add_eval_arguments(group), add_sample_arguments(group). They are imported when used, so a task
whose module is missing fails with a clear message and leaves the rest of the CLI working.

A char-lstm run folder holds config.json, metrics.json (history, steps, tokens/s), model.safetensors,
vocab.json, curves.png (train / validation loss against training time), grad_norms.png (||dL/dh_t||
inside the last chunk: how far back the truncated gradient reaches) and sample.txt.
"""
from __future__ import annotations

import importlib
import json
import time
from contextlib import contextmanager
from pathlib import Path

MODELS = ("char-lstm", "seq2seq", "seq2seq-peeky", "seq2seq-attn", "textcnn")
DATASETS = ("tinyshakespeare", "addition", "date", "mr")
TASKS = {  # model -> (task module, the datasets it trains on; the first is its default)
    "char-lstm": (__name__, ("tinyshakespeare",)),
    "seq2seq": ("scratchgrad.text.seq2seq_task", ("addition", "date")),
    "seq2seq-peeky": ("scratchgrad.text.seq2seq_task", ("addition", "date")),
    "seq2seq-attn": ("scratchgrad.text.seq2seq_task", ("date", "addition")),
    "textcnn": ("scratchgrad.text.textcnn_task", ("mr",)),
}
# char-lstm defaults, chosen by measurement at equal compute (~15 min of one quiet core, 1 BLAS thread):
# 2 x 256 for 8.7 epochs (1365 steps) reached 1.547 nats/char on the validation 10%, 1 x 512 for 6.2 epochs 1.567
CHAR_LSTM = dict(embed_dim=64, hidden_size=256, num_layers=2, dropout=0.0, seq_len=100, batch_size=64, lr=2e-3,
                 clip=5.0, time_limit=15.0)


def _error(msg: str):
    from ..cli import CLIError
    return CLIError(msg)


def _task(model: str):
    """The module that trains `model` (imported now)."""
    path = TASKS[model][0]
    if path == __name__:
        return importlib.import_module(__name__)
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as e:
        if e.name != path:
            raise
        raise _error(f"--model {model} needs {path}, which is not available in this installation") from None


def _tasks_present():
    """The task modules that import (the CLI's option groups come from those)."""
    seen = {}
    for path, _ in TASKS.values():
        if path == __name__ or path in seen:
            continue
        try:
            seen[path] = importlib.import_module(path)
        except ModuleNotFoundError as e:
            if e.name != path:
                raise
    return list(seen.values())


def _get(args, name, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


@contextmanager
def blas_threads(n):
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=int(n or 1), user_api="blas"):
        yield


def write_json(path: Path, obj) -> None:
    from ..checkpoint import atomic_write_bytes
    from ..labs._common import to_jsonable
    atomic_write_bytes(Path(path), (json.dumps(to_jsonable(obj), indent=2) + "\n").encode())


def read_config(run_dir) -> dict:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise _error(f"{path} not found: is {run_dir} a run folder written by `scratchgrad train`?")
    return json.loads(path.read_text())


# ---- the family protocol ------------------------------------------------------------------------------
def add_train_arguments(group) -> None:
    """The sequence options, then each task module's own (add_arguments)."""
    group.add_argument("--embed-dim", type=int, default=None, help="sequence models: embedding size "
                       f"(default: char-lstm {CHAR_LSTM['embed_dim']})")
    group.add_argument("--hidden-size", type=int, default=None, help="sequence models: LSTM hidden size "
                       f"(default: char-lstm {CHAR_LSTM['hidden_size']})")
    group.add_argument("--num-layers", type=int, default=None, help="sequence models: stacked LSTM layers "
                       f"(default: char-lstm {CHAR_LSTM['num_layers']})")
    group.add_argument("--seq-len", type=int, default=None, help="char-lstm: truncated-BPTT chunk length T "
                       f"(default: {CHAR_LSTM['seq_len']})")
    group.add_argument("--clip", type=float, default=None, help="sequence models: clip the gradient norm at this "
                       f"value, 0 = off (default: char-lstm {CHAR_LSTM['clip']:g})")
    group.add_argument("--eval-every", type=float, default=None,
                       help="char-lstm: log the loss on the first 20k validation characters every this many "
                            "seconds of training (default 60)")
    for task in _tasks_present():
        task.add_arguments(group)


def add_eval_arguments(group) -> None:
    for task in _tasks_present():
        if hasattr(task, "add_eval_arguments"):
            task.add_eval_arguments(group)


def add_sample_arguments(group) -> None:
    group.add_argument("--prompt", default=None, help="char-lstm: text the sample starts from (default: a newline); "
                                                      "seq2seq: the question to answer")
    group.add_argument("--temperature", type=float, default=None,
                       help="char-lstm: softmax temperature, < 1 safer, > 1 wilder, 0 greedy (default 0.8)")
    group.add_argument("--length", type=int, default=None, help="char-lstm: characters to generate (default 500)")
    for task in _tasks_present():
        if hasattr(task, "add_sample_arguments"):
            task.add_sample_arguments(group)


def _model_dataset(args):
    datasets = TASKS[args.model][1]
    if args.dataset == DATASETS[0] and DATASETS[0] not in datasets:
        args.dataset = datasets[0]   # the main CLI's default (our first dataset) means "the model's default"
    if args.dataset not in datasets:
        raise _error(f"--model {args.model} trains on {', '.join(datasets)}, not {args.dataset}")


def train(args) -> dict:
    _model_dataset(args)
    if args.model == "char-lstm":
        return train_char_lstm(args)
    return _task(args.model).train(args)


def evaluate(args) -> dict:
    model = read_config(args.run_dir).get("model")
    if model == "char-lstm":
        return evaluate_char_lstm(args)
    return _task(model).evaluate(args)


def sample(args):
    model = read_config(args.run_dir).get("model")
    if model == "char-lstm":
        return sample_char_lstm(args)
    task = _task(model)
    if not hasattr(task, "sample"):
        raise _error(f"`scratchgrad sample` does not apply to a {model} run")
    return task.sample(args)


# ---- char-lstm ------------------------------------------------------------------------------------------
def _char_data(data_root, download=False):
    from ..data.datasets.tinyshakespeare import tinyshakespeare_split
    try:
        return tinyshakespeare_split(data_root, download)
    except FileNotFoundError as e:
        raise _error(str(e)) from None


def train_char_lstm(args) -> dict:
    """Train a CharLSTM by truncated BPTT on Tiny Shakespeare; write the run folder; return the metrics."""
    from .. import checkpoint
    from ..tensor import manual_seed
    from .char_lm import CharLSTM, sample as draw, train_char_lm
    from .vocab import Vocab

    start = time.perf_counter()
    d = CHAR_LSTM
    model_kwargs = {"embed_dim": _get(args, "embed_dim", d["embed_dim"]),
                    "hidden_size": _get(args, "hidden_size", d["hidden_size"]),
                    "num_layers": _get(args, "num_layers", d["num_layers"]),
                    "dropout": _get(args, "dropout", d["dropout"])}
    epochs = _get(args, "epochs")
    time_limit = _get(args, "time_limit", None if epochs else d["time_limit"])
    config = {"model": "char-lstm", "dataset": "tinyshakespeare", "model_kwargs": model_kwargs,
              "data_root": None if _get(args, "data_root") is None else str(args.data_root),
              "batch_size": _get(args, "batch_size", d["batch_size"]), "seq_len": _get(args, "seq_len", d["seq_len"]),
              "lr": _get(args, "lr", d["lr"]), "clip": _get(args, "clip", d["clip"]), "optimizer": "adam",
              "weight_decay": _get(args, "weight_decay", 0.0), "epochs": epochs, "time_limit_min": time_limit,
              "seed": _get(args, "seed", 0), "threads": _get(args, "threads", 1),
              "eval_every_s": _get(args, "eval_every", 60.0)}
    if _get(args, "optimizer", "adam") != "adam":
        raise _error("char-lstm trains with Adam (and a cosine learning rate); drop --optimizer")
    train_text, val_text = _char_data(config["data_root"], bool(_get(args, "download", False)))
    n_train = _get(args, "n_train")
    if n_train:
        train_text = train_text[:n_train]
    vocab = Vocab.from_text(train_text + val_text)
    model_kwargs["vocab_size"] = len(vocab)
    out = Path(_get(args, "out", Path("runs") / f"char-lstm-tinyshakespeare-{time.strftime('%Y%m%d-%H%M%S')}"))
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config)
    vocab.save(out / "vocab.json")

    manual_seed(config["seed"])
    model = CharLSTM(**model_kwargs)
    verbose = not _get(args, "no_progress", False)
    budget = f"{time_limit:g} min" if time_limit else f"{epochs:g} epochs"
    print(f"training char-lstm ({sum(p.numel() for p in model.parameters()):,} parameters) on Tiny Shakespeare "
          f"({len(train_text):,} / {len(val_text):,} characters) for {budget} -> {out}", flush=True)
    with blas_threads(config["threads"]):
        result = train_char_lm(model, vocab.encode_array(train_text), vocab.encode_array(val_text),
                               batch_size=config["batch_size"], seq_len=config["seq_len"], lr=config["lr"],
                               clip=config["clip"], epochs=epochs, weight_decay=config["weight_decay"],
                               time_limit=None if time_limit is None else 60 * time_limit,
                               eval_every=config["eval_every_s"], seed=config["seed"],
                               log=(lambda s: print(s, flush=True)) if verbose else None)
        text = draw(model, vocab, "ROMEO:", 500, 0.8, seed=config["seed"])
    checkpoint.save(out / "model.safetensors", model.state_dict(), {"model": "char-lstm", "steps": result["steps"]})
    (out / "sample.txt").write_text(text + "\n", encoding="utf-8")
    final = result["history"][-1]
    metrics = {"val_nats_per_char": final["val_loss"], "val_bits_per_char": final["val_loss"] / 0.6931471805599453,
               "train_loss": final["train_loss"], **{k: v for k, v in result.items() if k != "history"},
               "wall_time_s": round(time.perf_counter() - start, 1), "history": result["history"],
               "figures": plot_char_lstm(result, out)}
    write_json(out / "metrics.json", metrics)
    print(f"validation {metrics['val_nats_per_char']:.4f} nats/char ({metrics['val_bits_per_char']:.3f} bits/char) "
          f"after {result['steps']} steps, {result['epochs']:.2f} epochs, {result['train_time_s']:.0f} s of training "
          f"({result['tokens_per_s']:,.0f} chars/s)  wrote {out}", flush=True)
    return metrics


def plot_char_lstm(result: dict, out: Path) -> list[str]:
    """curves.png (losses against training time) and grad_norms.png (||dL/dh_t|| over one chunk)."""
    from ..plot import figure, savefig
    hist = result["history"]
    fig, ax = figure(1, 1, figsize=(6, 4))
    ax.plot([h["time_s"] / 60 for h in hist], [h["train_loss"] for h in hist], "o-", ms=3, label="train")
    part, full = hist[:-1], hist[-1]           # the logged rows score a prefix; the final row all 111,540 chars
    if part:
        ax.plot([h["time_s"] / 60 for h in part], [h["val_loss"] for h in part], "s-", ms=3,
                label=f"validation (first {part[-1]['val_chars']:,} chars)")
    ax.plot([full["time_s"] / 60], [full["val_loss"]], "r*", ms=10, label=f"validation, all: {full['val_loss']:.3f}")
    ax.set_xlabel("training time (min)")
    ax.set_ylabel("cross-entropy (nats/char)")
    ax.set_title(f"char-lstm on Tiny Shakespeare: {result['steps']} steps")
    ax.grid(alpha=0.3)
    ax.legend()
    savefig(fig, out / "curves.png")
    files = ["curves.png"]
    if result.get("grad_norms"):
        fig, ax = figure(1, 1, figsize=(6, 4))
        for layer, norms in enumerate(result["grad_norms"]):
            ax.semilogy(range(len(norms)), norms, label=f"layer {layer}")
        ax.set_xlabel("time step t inside the last chunk")
        ax.set_ylabel("||dL/dh_t||")
        ax.set_title("truncated BPTT: gradient reaching each step")
        ax.grid(alpha=0.3)
        ax.legend()
        savefig(fig, out / "grad_norms.png")
        files.append("grad_norms.png")
    return files


def load_char_lstm(run_dir):
    """(config, model with the run's weights, vocab) of a char-lstm run folder."""
    from .. import checkpoint
    from .char_lm import CharLSTM
    from .vocab import Vocab
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    weights_path = run_dir / "model.safetensors"
    if not weights_path.is_file():
        raise _error(f"{weights_path} not found: the run has not finished")
    model = CharLSTM(**config["model_kwargs"])
    model.load_state_dict(checkpoint.load(weights_path)[0])
    return config, model.eval(), Vocab.load(run_dir / "vocab.json")


def evaluate_char_lstm(args) -> dict:
    """Validation cross-entropy (nats/char over the last 10% of Tiny Shakespeare) of a run's weights."""
    from .char_lm import evaluate_nats
    config, model, vocab = load_char_lstm(args.run_dir)
    _, val_text = _char_data(_get(args, "data_root") or config.get("data_root"))
    with blas_threads(config.get("threads", 1)):
        nats = evaluate_nats(model, vocab.encode_array(val_text))
    result = {"val_nats_per_char": nats, "val_bits_per_char": nats / 0.6931471805599453,
              "val_chars": len(val_text), "run_dir": str(args.run_dir)}
    print(f"validation {nats:.4f} nats/char ({result['val_bits_per_char']:.3f} bits/char) over {len(val_text):,} "
          f"characters ({args.run_dir})")
    return result


def sample_char_lstm(args) -> str:
    """Print (and with --out write) text drawn from a char-lstm run."""
    from .char_lm import sample as draw
    _, model, vocab = load_char_lstm(args.run_dir)
    prompt = _get(args, "prompt", "\n")
    missing = sorted(set(prompt) - set(vocab.itos))
    if missing:
        raise _error(f"the prompt holds characters the model never saw: {''.join(missing)!r}")
    text = draw(model, vocab, prompt, int(_get(args, "length", 500)), float(_get(args, "temperature", 0.8)),
                seed=int(_get(args, "seed", 0)))
    print(text)
    if _get(args, "out") is not None:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return text
