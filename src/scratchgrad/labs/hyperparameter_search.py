"""Lab `hyperparameter-search` (book chapter 6.5): random search on a validation split.

The book's hyperparameter_optimization.py: 500 MNIST training images, 20% held out as validation
data (never the test set: tuning on it would overfit the test set), a 7-layer MLP trained with SGD
and L2 weight decay for 50 epochs per trial. Each trial samples on a log scale
    lr ~ 10^U(-6, -2),   weight decay ~ 10^U(-8, -4)
and the trials are ranked by validation accuracy. (The book samples independently; we use a Latin
hypercube, each sample still 10^U(...) but evenly spread, so the quick 8-trial search covers the
range too.) The book finds good learning rates around 1e-3 .. 1e-2 while the weight decay matters
little in this range. Every trial has its own seed, so the search (and any trial) re-runs exactly.
"""
from __future__ import annotations

import numpy as np

import scratchgrad as sg

from ._common import Data, figure, load_data, mlp, save_figure, split_decay, train

CLAIM = ("random search of lr 10^U(-6,-2) and weight decay 10^U(-8,-4) on a 20% validation split finds the "
         "best lr in 10^-3.5..10^-2, among the largest sampled; the search is reproducible from its seed")


def rank_correlation(a, b) -> float:
    """Spearman's rho: the correlation of the ranks of a and b (ties share their average rank)."""
    def ranks(v):
        _, where, counts = np.unique(np.asarray(v), return_inverse=True, return_counts=True)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])      # rank of each distinct value's first copy
        return (first + (counts - 1) / 2)[where]
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def sample_hyperparameters(n_trials: int, seed: int) -> list[dict]:
    """Log-uniform samples lr = 10^U(-6, -2), weight decay = 10^U(-8, -4), one dict per trial.

    Latin hypercube: each log range is cut into n_trials equal slices and every slice gets one
    sample, in random order. Each sample on its own is still 10^U(...), but even 8 trials
    cover the whole range instead of clumping by chance.
    """
    rng = np.random.default_rng(seed)

    def log_uniform(low, high):
        u = (rng.permutation(n_trials) + rng.random(n_trials)) / n_trials   # one point per slice
        return 10 ** (low + (high - low) * u)

    lrs, wds = log_uniform(-6, -2), log_uniform(-8, -4)
    return [{"lr": float(lr), "weight_decay": float(wd)} for lr, wd in zip(lrs, wds)]


def validation_split(data: Data, rate: float, seed: int) -> Data:
    """Shuffle the training set and hold out `rate` of it; the held-out part plays the test set's role."""
    order = np.random.default_rng(seed).permutation(len(data.x_train))
    x, y, n_val = data.x_train[order], data.y_train[order], int(len(order) * rate)
    return Data(x[n_val:], y[n_val:], x[:n_val], y[:n_val], data.name, data.note)


def trial(split: Data, lr: float, weight_decay: float, epochs: int, trial_seed: int) -> dict:
    """Train the book's 7-layer MLP with one setting; validation accuracy per epoch."""
    from .. import optim
    sg.manual_seed(trial_seed)
    model = mlp([split.n_features] + [100] * 6 + [10], "relu", "he")
    opt = optim.SGD(split_decay(model, weight_decay), lr=lr)
    per_epoch = max(1, len(split.x_train) // 100)
    hist = train(model, opt, split, epochs * per_epoch, batch_size=100, seed=trial_seed, eval_every=per_epoch)
    return {"val_acc": hist["test_acc"][-1], "train_acc": hist["train_acc"][-1], "val_curve": hist["test_acc"]}


def search(split: Data, n_trials: int, epochs: int, seed: int) -> list[dict]:
    """All trials, in the order they ran."""
    results = []
    for k, hp in enumerate(sample_hyperparameters(n_trials, seed)):
        trial_seed = seed * 10_000 + k
        results.append({"trial": k, "seed": trial_seed, **hp, **trial(split, hp["lr"], hp["weight_decay"],
                                                                      epochs, trial_seed)})
    return results


def run(out, quick: bool = False, seed: int = 0) -> dict:
    n_trials, epochs, top_k = (8, 25, 5) if quick else (100, 50, 20)
    split = validation_split(load_data(n_train=500, n_test=0), rate=0.2, seed=seed)
    trials = search(split, n_trials, epochs, seed)
    ranked = sorted(trials, key=lambda r: (-r["val_acc"], -r["train_acc"]))   # ties: better training accuracy
    best = ranked[0]

    # reproducibility: the same seed gives the same hyperparameters and the same trial result
    again = trial(split, best["lr"], best["weight_decay"], epochs, best["seed"])
    same_samples = sample_hyperparameters(n_trials, seed) == [{"lr": r["lr"], "weight_decay": r["weight_decay"]}
                                                              for r in trials]
    reproducible = same_samples and again["val_curve"] == best["val_curve"]
    lr_rank_corr = rank_correlation([r["lr"] for r in trials], [r["val_acc"] for r in trials])
    best_lr_rank = sorted((r["lr"] for r in trials), reverse=True).index(best["lr"]) + 1   # 1 = the largest lr

    fig, axes = figure(1, 3, size=(3.8, 3.2))
    lrs, wds, accs = (np.array([r[k] for r in ranked]) for k in ("lr", "weight_decay", "val_acc"))
    for ax, values, label in ((axes[0, 0], lrs, "learning rate"), (axes[0, 1], wds, "weight decay")):
        ax.scatter(values, accs, c=np.log10(lrs), cmap="viridis", s=18)
        ax.scatter([values[0]], [accs[0]], marker="*", s=160, color="#cc0000", label="best")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("validation accuracy")
    axes[0, 0].legend()
    ax = axes[0, 2]
    for r in ranked[:5]:
        ax.plot(np.arange(len(r["val_curve"])), r["val_curve"], label=f"lr {r['lr']:.1e}, wd {r['weight_decay']:.0e}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("the best 5 trials", fontsize=9)
    ax.legend(fontsize=6)
    fig.suptitle(f"Random search: {n_trials} trials x {epochs} epochs, {len(split.x_train)} train / "
                 f"{len(split.x_test)} validation {split.name} images")
    figs = [save_figure(fig, out, "hyperparameter_search.png")]

    return {
        "dataset": split.name, "data_note": split.note,
        "train_samples": len(split.x_train), "validation_samples": len(split.x_test),
        "n_trials": n_trials, "epochs": epochs,
        "best": {k: best[k] for k in ("trial", "seed", "lr", "weight_decay", "val_acc", "train_acc")},
        "top_k": [{k: r[k] for k in ("trial", "lr", "weight_decay", "val_acc", "train_acc")} for r in ranked[:top_k]],
        "trials": [{k: r[k] for k in ("trial", "seed", "lr", "weight_decay", "val_acc", "train_acc")} for r in ranked],
        "rerun_of_best_val_acc": again["val_acc"],
        "spearman_lr_vs_val_acc": lr_rank_corr, "best_lr_rank_among_sampled": best_lr_rank,
        "figures": figs,
        "checks": {"best lr in 10^-3.5 .. 10^-2": 10 ** -3.5 <= best["lr"] <= 1e-2,
                   "lr is what matters: the best lr is among the largest quarter sampled":
                       best_lr_rank <= max(1, n_trials // 4),
                   "reproducible: same samples and the same best-trial curve from the seed": reproducible},
    }
