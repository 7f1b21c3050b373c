"""Lab `xor` (book chapters 2-3): one straight line cannot separate XOR; two layers can.

A perceptron y = [w1*x1 + w2*x2 + b > 0] draws one straight line through the plane. With hand-set
weights it computes AND, NAND and OR; stacking them, XOR(x) = AND(NAND(x), OR(x)), is a 2-layer
perceptron. A search over many random lines never gets more than 3 of the 4 XOR points right.
Trained models agree: logistic regression (one Linear layer) can do no better than a 50/50 answer
everywhere (its convex loss bottoms out at ln 2 = 0.693), a 2-layer MLP with 8 sigmoid units gets
all 4 points.
"""
from __future__ import annotations

import numpy as np

import scratchgrad as sg

from ._common import figure, save_figure

CLAIM = ("a single-layer perceptron cannot fit XOR (accuracy <= 75%), a 2-layer MLP can (100%); "
         "AND/NAND/OR are single perceptrons with hand-set weights")

X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
TARGETS = {"AND": [0, 0, 0, 1], "NAND": [1, 1, 1, 0], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}
GATES = {"AND": ([0.5, 0.5], -0.7), "NAND": ([-0.5, -0.5], 0.7), "OR": ([0.5, 0.5], -0.2)}  # the book's (w, b)


def perceptron(x: np.ndarray, w, b) -> np.ndarray:
    """Step-function unit: 1 where w . x + b > 0. x: (N, 2) -> (N,) of 0/1."""
    return (x @ np.asarray(w, dtype=np.float32) + b > 0).astype(np.int64)


def xor_by_hand(x: np.ndarray) -> np.ndarray:
    """The book's 2-layer perceptron: s1 = NAND(x), s2 = OR(x), y = AND(s1, s2)."""
    s = np.stack([perceptron(x, *GATES["NAND"]), perceptron(x, *GATES["OR"])], axis=1)
    return perceptron(s.astype(np.float32), *GATES["AND"])


def best_linear_unit(y: np.ndarray, n: int, rng) -> tuple[float, np.ndarray, float]:
    """Best of `n` random perceptrons (w, b) ~ N(0, 1) on the 4 points: (accuracy, w, b). No line gets XOR."""
    w, b = rng.standard_normal((2, n)).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    acc = ((X @ w + b > 0) == y[:, None]).mean(axis=0)    # (n,)
    k = int(acc.argmax())
    return float(acc[k]), w[:, k], float(b[k])


def fit(model, y: np.ndarray, steps: int, lr: float) -> list[float]:
    """Full-batch Adam on the 4 points with softmax cross-entropy; returns the losses."""
    from .. import nn, optim
    opt, loss_fn = optim.Adam(model.parameters(), lr=lr), nn.CrossEntropyLoss()
    x, t, losses = sg.tensor(X), sg.tensor(y), []
    for _ in range(steps):
        loss = loss_fn(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def predict(model, x: np.ndarray) -> np.ndarray:
    with sg.no_grad():
        return model(sg.tensor(x.astype(np.float32))).data.argmax(axis=1)


def run(out, quick: bool = False, seed: int = 0) -> dict:
    from .. import nn
    steps = 300 if quick else 1000
    y_xor = np.array(TARGETS["XOR"])

    gate_acc = {g: float((perceptron(X, *GATES[g]) == TARGETS[g]).mean()) for g in GATES}
    gate_acc["XOR (NAND, OR -> AND)"] = float((xor_by_hand(X) == y_xor).mean())
    n_lines = 20_000 if quick else 200_000
    random_lines, w_best, b_best = best_linear_unit(y_xor, n_lines, np.random.default_rng(seed))

    linear = nn.Linear(2, 2)                                   # logistic regression: one layer
    lin_losses = fit(linear, y_xor, steps, lr=0.1)
    mlp = nn.Sequential(nn.Linear(2, 8), nn.Sigmoid(), nn.Linear(8, 2))
    mlp_losses = fit(mlp, y_xor, steps, lr=0.1)
    acc_linear = float((predict(linear, X) == y_xor).mean())
    acc_mlp = float((predict(mlp, X) == y_xor).mean())

    # figure: decision regions of the six classifiers over the unit square
    g = np.linspace(-0.5, 1.5, 201, dtype=np.float32)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    panels = [(f"{name} by hand", lambda p, n=name: perceptron(p, *GATES[n]), TARGETS[name]) for name in GATES]
    panels += [("XOR by hand: 2 layers", xor_by_hand, y_xor),
               (f"best of {n_lines:,} lines on XOR: {random_lines:.0%}",
                lambda p: perceptron(p, w_best, b_best), y_xor),
               (f"2-layer MLP on XOR: {acc_mlp:.0%}", lambda p: predict(mlp, p), y_xor)]
    fig, axes = figure(2, 3, size=(3.2, 3.0))
    for ax, (title, classify, y) in zip(axes.flat, panels):
        ax.contourf(g, g, classify(grid).reshape(len(g), len(g)), levels=[-0.5, 0.5, 1.5],
                    colors=["#f4cccc", "#cfe2f3"])
        ax.scatter(X[:, 0], X[:, 1], c=["#cc0000" if t == 0 else "#1155cc" for t in y], s=80, edgecolors="k")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    fig.suptitle("Perceptrons draw one line (red: 0, blue: 1); XOR needs two layers")
    figs = [save_figure(fig, out, "decision_boundaries.png")]

    return {
        "gate_accuracy": gate_acc,
        "best_of_random_linear_units": random_lines, "random_linear_units": n_lines,
        "logistic_regression_accuracy": acc_linear,
        "mlp_accuracy": acc_mlp,
        "final_loss": {"logistic_regression": lin_losses[-1], "mlp": mlp_losses[-1]},
        "steps": steps,
        "figures": figs,
        "checks": {
            "hand-set gates are exact": all(a == 1.0 for a in gate_acc.values()),
            "no linear unit fits XOR (<= 75%)": random_lines <= 0.75 and acc_linear <= 0.75,
            "logistic regression is stuck at loss ln 2": abs(lin_losses[-1] - np.log(2)) < 1e-3,
            "2-layer MLP fits XOR (100%)": acc_mlp == 1.0,
        },
    }
