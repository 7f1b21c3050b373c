"""Lab `optimizers` (book chapter 6.1): SGD, Momentum, AdaGrad and Adam.

1. The book's figure: minimise f(x, y) = x^2/20 + y^2 from (-7, 2) in 30 steps. The bowl is 20 times
   steeper along y than along x, so the gradient points mostly along y: plain SGD (lr 0.95) bounces
   from one wall to the other (y changes sign at every step) while creeping along x. Momentum
   (lr 0.1) rolls like a ball, AdaGrad (lr 1.5) scales each coordinate by its own gradient history
   and goes straight, Adam (lr 0.3) combines the two.
2. The same four optimizers (book defaults: lr 0.01, 0.01, 0.01, 0.001) train the book's 5-layer
   MLP (784-100-100-100-100-10, ReLU, He init) on MNIST with batch 128: SGD is the slowest.
"""
from __future__ import annotations

import numpy as np

import scratchgrad as sg

from ._common import figure, load_data, mlp, save_figure, smooth, train

CLAIM = ("on f(x,y)=x^2/20+y^2 SGD zig-zags (y changes sign every step) while Momentum/AdaGrad/Adam take "
         "smoother paths; on MNIST, Momentum, AdaGrad and Adam reach a lower loss than SGD in the same steps")

START = (-7.0, 2.0)
PATH_LR = {"SGD": 0.95, "Momentum": 0.1, "AdaGrad": 1.5, "Adam": 0.3}       # the book's figure
MNIST_LR = {"SGD": 0.01, "Momentum": 0.01, "AdaGrad": 0.01, "Adam": 0.001}  # the book's defaults


def make_optimizer(name: str, params, lr: float):
    """The book's four optimizers as their PyTorch equivalents."""
    from .. import optim
    if name == "SGD":
        return optim.SGD(params, lr=lr)
    if name == "Momentum":  # book: v = 0.9 v - lr g; w += v  (the same path as PyTorch's v = 0.9 v + g; w -= lr v)
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "AdaGrad":
        return optim.Adagrad(params, lr=lr)
    return optim.Adam(params, lr=lr)


def f(p: sg.Tensor) -> sg.Tensor:
    """f(x, y) = x^2 / 20 + y^2 for p = [x, y]."""
    return p[0] ** 2 / 20.0 + p[1] ** 2


def descend(name: str, lr: float, steps: int = 30) -> np.ndarray:
    """The path (steps + 1, 2) of one optimizer on f from START."""
    p = sg.tensor(START, requires_grad=True)
    opt = make_optimizer(name, [p], lr)
    path = [p.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        f(p).backward()
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


def sign_changes(v: np.ndarray) -> int:
    s = np.sign(v)
    return int((s[1:] * s[:-1] < 0).sum())


def run(out, quick: bool = False, seed: int = 0) -> dict:
    # 1. paths on the anisotropic bowl
    paths = {name: descend(name, lr) for name, lr in PATH_LR.items()}
    path_numbers = {name: {"lr": PATH_LR[name], "y_sign_changes": sign_changes(p[:, 1]),
                           "final_xy": p[-1], "final_f": float(p[-1, 0] ** 2 / 20 + p[-1, 1] ** 2),
                           "path_length": float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())}
                    for name, p in paths.items()}

    fig, axes = figure(2, 2, size=(4.0, 3.0))
    gx, gy = np.meshgrid(np.linspace(-10, 10, 201), np.linspace(-5, 5, 101))
    for ax, (name, p) in zip(axes.flat, paths.items()):
        ax.contour(gx, gy, gx ** 2 / 20 + gy ** 2, levels=np.logspace(-1.5, 1.3, 10), colors="#999999",
                   linewidths=0.6)
        ax.plot(p[:, 0], p[:, 1], "o-", color="#cc0000", ms=3, lw=1)
        ax.plot(0, 0, "+", color="k", ms=10)
        ax.set_title(f"{name} (lr {PATH_LR[name]}): {path_numbers[name]['y_sign_changes']} y sign changes",
                     fontsize=9)
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
    fig.suptitle("30 steps on f(x, y) = x^2/20 + y^2 from (-7, 2)")
    figs = [save_figure(fig, out, "paths.png")]

    # 2. loss curves of the book's 5-layer MLP
    data = load_data(n_train=2000 if quick else None, n_test=0)
    steps = 120 if quick else 2000
    sizes = [data.n_features, 100, 100, 100, 100, 10]
    curves = {}
    for name, lr in MNIST_LR.items():
        sg.manual_seed(seed)                                  # same initial weights for every optimizer
        model = mlp(sizes, "relu", "he")
        curves[name] = train(model, make_optimizer(name, model.parameters(), lr), data, steps,
                             batch_size=128, seed=seed)["loss"]
    tail = max(1, steps // 10)
    final_loss = {name: float(np.mean(c[-tail:])) for name, c in curves.items()}

    fig, axes = figure(1, 1, size=(6.0, 4.0))
    ax = axes[0, 0]
    for name, c in curves.items():
        ax.plot(np.arange(len(smooth(c))) + 1, smooth(c), label=f"{name} (lr {MNIST_LR[name]})")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (moving average of 10)")
    ax.set_yscale("log")
    ax.set_title(f"5-layer MLP on {data.name} ({len(data.x_train)} samples), batch 128")
    ax.legend()
    figs.append(save_figure(fig, out, "loss_curves.png"))

    return {
        "paths": {name: {"xy": p, **path_numbers[name]} for name, p in paths.items()},
        "dataset": data.name, "data_note": data.note, "train_samples": len(data.x_train), "steps": steps,
        "mlp": "-".join(map(str, sizes)) + " ReLU, He init, batch 128",
        "final_loss_mean_last_10pct": final_loss,
        "loss_curves": {name: np.round(c, 5) for name, c in curves.items()},
        "figures": figs,
        "checks": {
            "SGD zig-zags (y changes sign at >= 25 of 30 steps)": path_numbers["SGD"]["y_sign_changes"] >= 25,
            "AdaGrad goes straight (y never changes sign)": path_numbers["AdaGrad"]["y_sign_changes"] == 0,
            "SGD's path is > 2x longer than any other": all(
                path_numbers["SGD"]["path_length"] > 2 * path_numbers[n]["path_length"]
                for n in ("Momentum", "AdaGrad", "Adam")),
            "Momentum, AdaGrad, Adam reach lower MNIST loss than SGD":
                all(final_loss[n] < final_loss["SGD"] for n in ("Momentum", "AdaGrad", "Adam")),
        },
    }
