"""Lab `init-activations` (book chapter 6.2): the initial weight scale decides whether activations stay spread.

1000 random inputs (N(0, 1), 100 features) go through 5 layers of 100 units, weights N(0, std^2), no
bias, as in the book's weight_init_activation_histogram.py. Per layer we histogram the activations.

- sigmoid, std = 1: pre-activations are ~N(0, 6^2), so outputs pile up at 0 and 1 (saturated:
  the local gradient a(1 - a) is ~0, gradients vanish).
- sigmoid, std = 0.01: outputs all sit near 0.5 (every unit says the same thing: no expressiveness).
- sigmoid, Xavier (std = 1/sqrt(n)): a spread bell over (0, 1) in every layer.
- ReLU, std = 0.01: each layer multiplies the scale by 0.01 * sqrt(n/2) ~ 0.07, activations die out.
- ReLU, Xavier: each layer halves the variance (ReLU zeroes half), the spread shrinks with depth.
- ReLU, He (std = sqrt(2/n)): the factor 2 compensates, every layer keeps the same spread.
"""
from __future__ import annotations

import numpy as np

import scratchgrad as sg

from ._common import figure, save_figure

CLAIM = ("with 5 layers of 100 units, sigmoid saturates for std=1 and collapses to 0.5 for std=0.01 but stays "
         "spread with Xavier; ReLU activations die out for std=0.01, shrink with Xavier, keep their spread with He")

CONFIGS = [  # (label, activation, init)
    ("sigmoid, std=1", "sigmoid", 1.0),
    ("sigmoid, std=0.01", "sigmoid", 0.01),
    ("sigmoid, Xavier", "sigmoid", "xavier"),
    ("ReLU, std=0.01", "relu", 0.01),
    ("ReLU, Xavier", "relu", "xavier"),
    ("ReLU, He", "relu", "he"),
]


def init_weight(layer, init) -> None:
    """Initialise a Linear layer's weight the book's way, with PyTorch's init functions."""
    from .. import nn
    if init == "xavier":
        nn.init.xavier_normal_(layer.weight)              # std sqrt(2/(fan_in+fan_out)) = 1/sqrt(100) here
    elif init == "he":
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")   # std sqrt(2/fan_in)
    else:
        nn.init.normal_(layer.weight, 0.0, init)


def activations(x: sg.Tensor, activation: str, init, n_layers: int = 5, width: int = 100) -> list[np.ndarray]:
    """Forward x through n_layers of Linear(width, width, bias=False) + activation; each layer's output."""
    from .. import nn
    act = nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()
    outs = []
    with sg.no_grad():
        for _ in range(n_layers):
            layer = nn.Linear(width, width, bias=False)
            init_weight(layer, init)
            x = act(layer(x))
            outs.append(x.data)
    return outs


def layer_stats(a: np.ndarray, activation: str) -> dict:
    """Spread (std) and the share of units in the flat parts of the activation."""
    stats = {"mean": float(a.mean()), "std": float(a.std())}
    if activation == "sigmoid":
        stats["saturated"] = float(((a < 0.05) | (a > 0.95)).mean())        # a(1-a) < 0.0475
        stats["near_half"] = float((np.abs(a - 0.5) < 0.05).mean())
    else:
        stats["zero"] = float((a <= 0).mean())
    return stats


def run(out, quick: bool = False, seed: int = 0) -> dict:
    n_samples = 1000
    results = {}
    fig, axes = figure(len(CONFIGS), 5, size=(2.3, 1.7))
    for row, (label, activation, init) in enumerate(CONFIGS):
        sg.manual_seed(seed)                                   # same inputs for every configuration
        x = sg.randn(n_samples, 100)
        outs = activations(x, activation, init)
        results[label] = [layer_stats(a, activation) for a in outs]
        # one x-range per row, so shrinking shows; ReLU's zeros (about half) are left out of its histograms
        rng = (0, 1) if activation == "sigmoid" else (0, 3 * float(outs[0].std()))
        for k, a in enumerate(outs):
            ax = axes[row, k]
            counts, edges = np.histogram(a if activation == "sigmoid" else a[a > 0], bins=30, range=rng)
            ax.stairs(counts, edges, fill=True, color="#1155cc")
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            ax.set_title(f"layer {k + 1}" if row == 0 else "", fontsize=8)
        axes[row, 0].set_ylabel(label, fontsize=8)
    fig.suptitle("Activation histograms, 5 layers x 100 units, 1000 random inputs (ReLU: zeros not shown)")
    figs = [save_figure(fig, out, "activation_histograms.png")]

    def ratio(label):  # layer-5 spread over layer-1 spread
        return results[label][-1]["std"] / results[label][0]["std"]

    spread_ratio = {label: ratio(label) for label, *_ in CONFIGS}
    sig = {label: results[label] for label in ("sigmoid, std=1", "sigmoid, std=0.01", "sigmoid, Xavier")}
    checks = {
        "sigmoid std=1 saturates (>50% of units near 0/1 in every layer)":
            min(s["saturated"] for s in sig["sigmoid, std=1"]) > 0.5,
        "sigmoid std=0.01 collapses to 0.5 (layer-5 std < 0.03, >90% within 0.5+-0.05)":
            sig["sigmoid, std=0.01"][-1]["std"] < 0.03 and sig["sigmoid, std=0.01"][-1]["near_half"] > 0.9,
        "sigmoid Xavier stays spread (<5% saturated, layer-5 std > 4x the std=0.01 one)":
            max(s["saturated"] for s in sig["sigmoid, Xavier"]) < 0.05
            and sig["sigmoid, Xavier"][-1]["std"] > 4 * sig["sigmoid, std=0.01"][-1]["std"],
        "ReLU std=0.01 dies out (layer-5/layer-1 std < 1e-3)": spread_ratio["ReLU, std=0.01"] < 1e-3,
        "ReLU Xavier shrinks (layer-5/layer-1 std < 0.5)": spread_ratio["ReLU, Xavier"] < 0.5,
        "ReLU He keeps its spread (layer-5/layer-1 std in [0.5, 2])": 0.5 <= spread_ratio["ReLU, He"] <= 2.0,
    }
    return {"layers": 5, "units": 100, "samples": n_samples, "per_layer": results,
            "layer5_over_layer1_std": spread_ratio, "figures": figs, "checks": checks}
