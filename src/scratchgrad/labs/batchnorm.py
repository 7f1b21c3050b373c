"""Lab `batchnorm` (book chapter 6.3): Batch Normalization makes learning fast and init-independent.

The book's batch_norm_test.py: 1,000 MNIST training images, a 6-layer MLP (5 hidden layers of 100
ReLU units), plain SGD with lr 0.01, batch 100, 20 epochs, for 16 weight scales std in
logspace(0, -4). Each hidden layer is Affine -> [BatchNorm1d] -> ReLU. Without BN only scales near
He's sqrt(2/n) learn at all: large ones blow the activations up, small ones shrink them to nothing
(see the init-activations lab). BN renormalises every layer's pre-activations to mean 0 and variance
1, so the network learns quickly at almost every scale. (Near He's scale the plain net can be as
fast or faster. At std 1e-4 PyTorch's BatchNorm1d eps = 1e-5, larger than the book's 1e-6, swamps
the tiny variances and BN stalls too.) Accuracy is measured in eval mode (running statistics).
"""
from __future__ import annotations

import numpy as np

import scratchgrad as sg

from ._common import figure, load_data, mlp, save_figure, train

CLAIM = ("with BatchNorm1d a 6-layer MLP on 1,000 MNIST images reaches a higher training accuracy at a fixed "
         "step count than without, for most initial weight scales")


def run(out, quick: bool = False, seed: int = 0) -> dict:
    from .. import optim
    data = load_data(n_train=1000, n_test=0)
    scales = np.logspace(0, -3, num=4) if quick else np.logspace(0, -4, num=16)
    steps = 80 if quick else 200                        # book: 20 epochs of 10 batches
    sizes = [data.n_features] + [100] * 5 + [10]
    curves = {}
    for std in scales:
        for bn in (True, False):
            sg.manual_seed(seed)                          # the same weights with and without BN
            model = mlp(sizes, "relu", float(std), batchnorm=bn)
            with np.errstate(over="ignore", invalid="ignore"):   # plain nets with std ~1 overflow to inf/NaN
                hist = train(model, optim.SGD(model.parameters(), lr=0.01), data, steps, batch_size=100,
                             seed=seed, eval_every=10)
            curves[(float(std), bn)] = hist
    diverged = [f"{std:.3g}" for (std, bn), h in curves.items() if not bn and not np.isfinite(h["loss"][-1])]

    steps_axis = curves[(float(scales[0]), True)]["step"]
    final = {f"{std:.3g}": {"batchnorm": curves[(float(std), True)]["train_acc"][-1],
                            "plain": curves[(float(std), False)]["train_acc"][-1]} for std in scales}
    mean_curve = {f"{std:.3g}": {"batchnorm": float(np.mean(curves[(float(std), True)]["train_acc"])),
                                 "plain": float(np.mean(curves[(float(std), False)]["train_acc"]))}
                  for std in scales}
    bn_wins = sum(v["batchnorm"] > v["plain"] for v in final.values())

    ncols = 4
    nrows = -(-len(scales) // ncols)
    fig, axes = figure(nrows, ncols, size=(2.6, 2.0))
    for ax, std in zip(axes.flat, scales):
        ax.plot(steps_axis, curves[(float(std), True)]["train_acc"], color="#1155cc", label="BatchNorm")
        ax.plot(steps_axis, curves[(float(std), False)]["train_acc"], "--", color="#666666", label="plain")
        ax.set_title(f"w std = {std:.3g}", fontsize=9)
        ax.set_ylim(0, 1.0)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(scales):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel("step")
    fig.supylabel("training accuracy")
    fig.suptitle(f"With vs without BatchNorm ({data.name}, {len(data.x_train)} samples, SGD lr 0.01)")
    figs = [save_figure(fig, out, "batchnorm.png")]

    return {
        "dataset": data.name, "data_note": data.note, "train_samples": len(data.x_train), "steps": steps,
        "mlp": "-".join(map(str, sizes)) + ", Affine -> [BatchNorm1d] -> ReLU, SGD lr 0.01, batch 100",
        "weight_scales": scales,
        "final_train_accuracy": final,
        "mean_train_accuracy_over_curve": mean_curve,
        "batchnorm_wins": bn_wins, "n_scales": len(scales), "plain_diverged_at_scales": diverged,
        "curves": {f"{std:.3g}": {"step": steps_axis, "batchnorm": curves[(float(std), True)]["train_acc"],
                                  "plain": curves[(float(std), False)]["train_acc"]} for std in scales},
        "figures": figs,
        "checks": {"BN reaches higher training accuracy for most scales (> 2/3 of them)":
                   bn_wins > 2 * len(scales) / 3},
    }
