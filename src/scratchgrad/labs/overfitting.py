"""Lab `overfitting` (book chapter 6.4): weight decay and dropout shrink the train/test gap.

The book's overfit_weight_decay.py / overfit_dropout.py: only 300 MNIST training images and a
7-layer MLP (6 hidden layers of 100 ReLU units, He init), SGD lr 0.01, batch 100, 201 epochs.
The plain network memorises its 300 images (training accuracy -> 100%) while test accuracy stalls
far below: overfitting (too many parameters for too little data). Two remedies:
- weight decay: loss + lambda/2 * sum(W^2) over the weight matrices (lambda = 0.1), i.e. SGD's
  `weight_decay=0.1` on a parameter group holding only the weights;
- dropout (p = 0.15): every training step drops random hidden units (inverted dropout).
"""
from __future__ import annotations

import numpy as np

import scratchgrad as sg

from ._common import figure, load_data, mlp, save_figure, split_decay, train

CLAIM = ("on 300 MNIST images a 7-layer MLP overfits; weight decay (lambda 0.1) and dropout (0.15) each "
         "shrink the train-test accuracy gap")

VARIANTS = {"plain": {}, "weight decay 0.1": {"weight_decay": 0.1}, "dropout 0.15": {"dropout": 0.15}}


def run(out, quick: bool = False, seed: int = 0) -> dict:
    from .. import optim
    data = load_data(n_train=300, n_test=2000 if quick else None)
    epochs = 70 if quick else 201
    steps, every = epochs * 3, 15                    # 300 samples / batch 100 = 3 steps per epoch
    sizes = [data.n_features] + [100] * 6 + [10]
    hists = {}
    for name, cfg in VARIANTS.items():
        sg.manual_seed(seed)                          # the same initial weights for every variant
        model = mlp(sizes, "relu", "he", dropout=cfg.get("dropout", 0.0))
        opt = optim.SGD(split_decay(model, cfg.get("weight_decay", 0.0)), lr=0.01)
        hists[name] = train(model, opt, data, steps, batch_size=100, seed=seed, eval_every=every)

    tail = max(1, len(hists["plain"]["step"]) // 5)       # average the last 20% of the evaluations
    final = {name: {"train_acc": float(np.mean(h["train_acc"][-tail:])),
                    "test_acc": float(np.mean(h["test_acc"][-tail:]))} for name, h in hists.items()}
    for v in final.values():
        v["gap"] = v["train_acc"] - v["test_acc"]
    gap = {name: v["gap"] for name, v in final.items()}

    fig, axes = figure(1, len(VARIANTS), size=(3.6, 3.0))
    for ax, (name, h) in zip(axes.flat, hists.items()):
        epochs_axis = np.asarray(h["step"]) / 3
        ax.plot(epochs_axis, h["train_acc"], color="#1155cc", label="train")
        ax.plot(epochs_axis, h["test_acc"], "--", color="#cc0000", label="test")
        ax.set_title(f"{name}: gap {gap[name]:.2f}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend()
    fig.suptitle(f"Overfitting on {len(data.x_train)} {data.name} images, 7-layer MLP")
    figs = [save_figure(fig, out, "overfitting.png")]

    return {
        "dataset": data.name, "data_note": data.note, "train_samples": len(data.x_train),
        "test_samples": len(data.x_test), "epochs": epochs, "steps": steps,
        "mlp": "-".join(map(str, sizes)) + " ReLU, He init, SGD lr 0.01, batch 100",
        "final (mean of last 20% of evaluations)": final, "gap": gap,
        "curves": {name: {k: h[k] for k in ("step", "train_acc", "test_acc")} for name, h in hists.items()},
        "figures": figs,
        "checks": {"plain overfits (train accuracy > test accuracy + 0.1)": gap["plain"] > 0.1,
                   "weight decay shrinks the gap": gap["weight decay 0.1"] < gap["plain"],
                   "dropout shrinks the gap": gap["dropout 0.15"] < gap["plain"]},
    }
