"""TextCNN-rand on MR with 10-fold cross-validation, on the command line (the "sequence" CLI family).

    scratchgrad train --model textcnn --dataset mr --folds 10          # Kim 2014's protocol, ~76%
    scratchgrad train --model textcnn --dataset mr --run-folds 0,1     # only some test folds (quicker)
    scratchgrad eval runs/textcnn-mr-...                                # re-score the saved fold

Defaults are Kim's CNN-rand (CNN_sentence/conv_net_sentence.py): embedding 300 (U(-0.25, 0.25), trained),
windows 3/4/5 with 100 maps each, dropout 0.5, max-norm 3 on the output weights, mini-batches of 50;
10% of the training folds is the dev set that picks the epoch. The folds are a seeded permutation of
the 10,662 sentences cut into 10 parts. The vocabulary is built from the training folds only
(--vocab-from all: from every sentence, as Kim did).
One departure: Adam (lr 1e-3, 8 epochs) instead of Kim's Adadelta (rho 0.95, 25 epochs). Measured on
fold 0: Adam's dev accuracy peaks after 3-7 epochs (test 77.4%), Adadelta's still creeps up at epoch
20, so Adam gets there in a third of the time. The embedding's rows are updated only where a batch
uses them (textcnn.SparseRows: lazy Adam as torch's SparseAdam; for Adadelta exactly the dense update).
`optimizer="adadelta"` (`--optimizer adadelta` on the command line) trains Kim's way.

The module protocol (called by scratchgrad.text.cli): add_arguments(group), train(args) -> metrics,
evaluate(args) -> dict. Arguments are read with getattr defaults, so an argparse.Namespace with only
model and dataset set works. The run folder holds config.json, metrics.json (every fold's accuracy and
dev curve, the mean and std), model.safetensors and vocab.json (the last fold's best-dev model),
folds.png (dev accuracy per epoch, test accuracy per fold).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

DATASETS = ("mr",)
KIM = dict(embed_dim=300, kernel_sizes=(3, 4, 5), num_filters=100, dropout=0.5, max_norm=3.0, batch_size=50,
           epochs=8, optimizer="adam", folds=10, dev_fraction=0.1)
OPTIMIZERS = ("adam", "adadelta", "sgd")
SHARED_OPTIONS = {  # declared by other sequence models too: added here only when still missing
    "--embed-dim": dict(type=int, help="embedding size (default: textcnn 300)"),
}


def _sizes(text: str) -> tuple:
    return tuple(int(v) for v in str(text).split(",") if v.strip())


def add_arguments(group) -> None:
    """--folds, --run-folds, --kernel-sizes, --num-filters, --max-norm, --vocab-from."""
    for flag, kw in SHARED_OPTIONS.items():
        if flag not in group._option_string_actions:     # argparse's registry, shared by all groups
            group.add_argument(flag, default=None, **kw)
    group.add_argument("--folds", type=int, default=None, help="textcnn: cross-validation folds (default 10)")
    group.add_argument("--run-folds", type=_sizes, default=None, metavar="K,K,...",
                       help="textcnn: train only these test folds, e.g. 0,1 (default: all)")
    group.add_argument("--kernel-sizes", type=_sizes, default=None, metavar="3,4,5",
                       help="textcnn: convolution window widths (default 3,4,5)")
    group.add_argument("--num-filters", type=int, default=None, help="textcnn: feature maps per width (default 100)")
    group.add_argument("--max-norm", type=float, default=None,
                       help="textcnn: l2 bound of each output weight row, 0 = off (default 3)")
    group.add_argument("--vocab-from", default=None, choices=["train", "all"],
                       help="textcnn: vocabulary from the training folds (default) or all sentences (Kim)")


def _get(args, name, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


def _config(args) -> dict:
    dataset = _get(args, "dataset", "mr")
    if dataset not in DATASETS:
        raise ValueError(f"textcnn trains on mr, not {dataset!r}")
    optimizer = _get(args, "optimizer", KIM["optimizer"])
    if optimizer not in OPTIMIZERS:
        from ..cli import CLIError
        raise CLIError(f"textcnn trains with {', '.join(OPTIMIZERS)}, not --optimizer {optimizer}")
    return {"model": "textcnn", "dataset": "mr",
            "model_kwargs": {"embed_dim": _get(args, "embed_dim", KIM["embed_dim"]),
                             "kernel_sizes": list(_get(args, "kernel_sizes", KIM["kernel_sizes"])),
                             "num_filters": _get(args, "num_filters", KIM["num_filters"]),
                             "dropout": _get(args, "dropout", KIM["dropout"])},
            "folds": _get(args, "folds", KIM["folds"]), "run_folds": _get(args, "run_folds"),
            "dev_fraction": KIM["dev_fraction"] if getattr(args, "val_fraction", None) is None else args.val_fraction,
            "vocab_from": _get(args, "vocab_from", "train"),
            "epochs": _get(args, "epochs", KIM["epochs"]), "batch_size": _get(args, "batch_size", KIM["batch_size"]),
            "optimizer": optimizer, "lr": _get(args, "lr"), "weight_decay": _get(args, "weight_decay", 0.0),
            "max_norm": _get(args, "max_norm", KIM["max_norm"]), "seed": _get(args, "seed", 0),
            "n_train": _get(args, "n_train"), "threads": _get(args, "threads", 1),
            "data_root": None if _get(args, "data_root") is None else str(args.data_root)}


def _threads(n):
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=int(n or 1), user_api="blas")


def load_sentences(config: dict, download: bool = False):
    """(token lists, labels) of MR, cleaned with Kim's clean_str; the first n_train of a seeded shuffle
    when config["n_train"] is set (quick runs)."""
    from ..data.datasets.mr import clean_str, load_mr
    root = config.get("data_root")
    if root is None:
        from ..labs._common import data_root
        root = data_root() if (data_root() / "mr-polarity").is_dir() else None   # else $SCRATCHGRAD_DATA / cache
    try:
        sentences, labels = load_mr(root, download)
    except FileNotFoundError as e:
        from ..cli import CLIError
        raise CLIError(f"{e}\n(on the command line: --data-root DIR or --download)") from None
    tokens = [clean_str(s).split() for s in sentences]
    if config.get("n_train"):
        keep = np.sort(np.random.default_rng(config["seed"]).permutation(len(labels))[:config["n_train"]])
        tokens, labels = [tokens[i] for i in keep], labels[keep]
    return tokens, labels


def train(args) -> dict:
    """Cross-validate as `args` asks; write the run folder; return the metrics (also in metrics.json)."""
    from .. import checkpoint
    from .textcnn import cross_validate, fold_summary
    config = _config(args)
    start = time.perf_counter()
    tokens, labels = load_sentences(config, bool(_get(args, "download", False)))
    out = Path(_get(args, "out", Path("runs") / f"textcnn-mr-{time.strftime('%Y%m%d-%H%M%S')}"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    verbose = not _get(args, "no_progress", False)
    log = (lambda s: print(s, flush=True)) if verbose else None
    if log:
        log(f"TextCNN-rand on MR: {len(labels)} sentences, {config['folds']}-fold cross-validation, "
            f"{config['epochs']} epochs of {config['optimizer']} per fold -> {out}")
    train_kw = {k: config[k] for k in ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "max_norm")}
    with _threads(config["threads"]):
        result = cross_validate(tokens, labels, folds=config["folds"], seed=config["seed"],
                                only_folds=config["run_folds"], dev_fraction=config["dev_fraction"],
                                vocab_from=config["vocab_from"], model_kw=config["model_kwargs"],
                                train_kw=train_kw, log=log)
    model, last = result["model"], result["folds"][-1]
    checkpoint.save(out / "model.safetensors", model.state_dict(),
                    {"model": "textcnn", "fold": last["fold"], "best_epoch": last["best_epoch"]})
    result["vocab"].save(out / "vocab.json")
    metrics = {"mean_acc": result["mean_acc"], "std_acc": result["std_acc"],
               "fold_acc": [f["test_acc"] for f in result["folds"]], "saved_fold": last["fold"],
               "saved_fold_acc": last["test_acc"], "vocab_size": model.config["vocab_size"],
               "mean_fold_time_s": float(np.mean([f["fold_time_s"] for f in result["folds"]])),
               "wall_time_s": round(time.perf_counter() - start, 1), "load_average": list(os.getloadavg()),
               "folds": result["folds"]}
    metrics["figures"] = [plot_folds(result["folds"], out / "folds.png").name]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if log:
        log(f"{fold_summary(result)}  ({metrics['wall_time_s']:.0f} s)  wrote {out}")
    return metrics


def plot_folds(folds: list[dict], path) -> Path:
    """Dev accuracy against epoch for every fold (the chosen epoch marked), and each fold's test accuracy."""
    from ..plot import figure, savefig
    fig, (ax_dev, ax_test) = figure(1, 2, figsize=(10, 3.8))
    for f in folds:
        dev = [h.get("dev_acc", np.nan) for h in f["history"]]
        line, = ax_dev.plot(range(1, len(dev) + 1), dev, lw=1)
        ax_dev.plot(f["best_epoch"], dev[f["best_epoch"] - 1], "o", color=line.get_color(), ms=4)
    ax_dev.set_xlabel("epoch")
    ax_dev.set_ylabel("dev accuracy")
    ax_dev.set_title("dev accuracy per fold (dot: the epoch kept)")
    accs = [f["test_acc"] for f in folds]
    ax_test.bar([str(f["fold"]) for f in folds], accs, color="tab:blue")
    ax_test.axhline(np.mean(accs), color="k", lw=1, label=f"mean {100 * np.mean(accs):.2f}%")
    ax_test.axhline(0.761, color="tab:red", ls="--", lw=1, label="Kim 2014: 76.1%")
    ax_test.set_ylim(min(accs + [0.761]) - 0.05, max(accs + [0.761]) + 0.03)
    ax_test.set_xlabel("test fold")
    ax_test.set_ylabel("test accuracy")
    ax_test.legend(loc="lower right")
    for ax in (ax_dev, ax_test):
        ax.grid(alpha=0.3)
    return savefig(fig, path)


def load_run(run_dir):
    """(config, metrics, model with the saved weights, vocab) of a textcnn run folder."""
    from .. import checkpoint
    from .textcnn import TextCNN
    from .vocab import Vocab
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    vocab = Vocab.load(run_dir / "vocab.json")
    model = TextCNN(len(vocab), padding_idx=vocab.pad_index, **config["model_kwargs"])
    model.load_state_dict(checkpoint.load(run_dir / "model.safetensors")[0])
    return config, metrics, model.eval(), vocab


def evaluate(args) -> dict:
    """Re-score the saved model on its held-out test fold (rebuilt from the run's seed and fold count)."""
    from .textcnn import accuracy, encode, kfold_assignments
    config, metrics, model, vocab = load_run(args.run_dir)
    if _get(args, "data_root") is not None:
        config["data_root"] = str(args.data_root)
    tokens, labels = load_sentences(config)
    fold = metrics["saved_fold"]
    test_idx = np.flatnonzero(kfold_assignments(len(labels), config["folds"], config["seed"]) == fold)
    ids, lengths = encode([tokens[i] for i in test_idx], vocab)
    with _threads(config.get("threads", 1)):
        acc = accuracy(model, ids, lengths, labels[test_idx], max(config["model_kwargs"]["kernel_sizes"]) - 1)
    result = {"test_acc": acc, "fold": fold, "n_test": len(test_idx), "train_time_acc": metrics["saved_fold_acc"],
              "cv_mean_acc": metrics["mean_acc"], "run_dir": str(args.run_dir)}
    print(f"fold {fold}: test accuracy {acc:.4f} on {len(test_idx)} sentences (at training: "
          f"{metrics['saved_fold_acc']:.4f}; {len(metrics['fold_acc'])}-fold mean {metrics['mean_acc']:.4f})")
    return result
