"""Lab `gradient-check` (book chapter 5, 梯度确认): backprop agrees with numerical differentiation.

The book's TwoLayerNet (Affine 784-50, ReLU, Affine 50-10, softmax-with-loss; weights N(0, 0.01^2))
on 3 training images. Numerical differentiation, the book's `numerical_gradient`, nudges every
parameter by +-h and takes (L(w + h) - L(w - h)) / 2h: slow (two forward passes per parameter) but
obviously right. Backprop gives all gradients in one backward pass. In float64 they agree to
~1e-10 (the book prints ~1e-10 to 1e-13 mean differences); the same check in float32 is ~1e6 times
coarser, because rounding the loss to 7 digits swamps the 2h difference. That is why
`sg.autograd.gradcheck` insists on float64.

One trap: ReLU has a kink at 0. If a nudge of +-h pushes a hidden unit's input across 0, the
central difference averages two different slopes and disagrees with backprop (by ~1e-3 here)
although backprop is right. Such units are found first and their W1/b1 entries are not checked
(results.json lists them; with MNIST and seed 0 there are none).
"""
from __future__ import annotations

import numpy as np

import scratchgrad as sg

from ._common import figure, load_data, save_figure

CLAIM = ("backprop gradients of the book's TwoLayerNet equal numerical (central difference) gradients: "
         "max abs difference < 1e-7 in float64 (float32 is far coarser)")


def numerical_gradient(f, x: np.ndarray, h: float = 1e-4, indices=None) -> np.ndarray:
    """The book's central difference, one element at a time: (f(x + h e_i) - f(x - h e_i)) / 2h.

    x is changed in place and restored, so `f` (no arguments) sees the nudged value. Returns the
    gradient at the flat `indices` (default: every element), shape (len(indices),).
    """
    flat = x.reshape(-1)  # a view
    indices = np.arange(flat.size) if indices is None else indices
    grad = np.zeros(len(indices))
    for k, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad


def two_layer_net(n_in: int, hidden: int, n_out: int = 10, dtype=np.float64):
    """The book's TwoLayerNet: Affine -> ReLU -> Affine, weights 0.01 * randn, biases 0."""
    from .. import nn
    net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    for layer in (net[0], net[2]):
        nn.init.normal_(layer.weight, 0.0, 0.01)
        nn.init.zeros_(layer.bias)
    return net.to(dtype)


def units_at_kink(net, x: np.ndarray, h: float) -> np.ndarray:
    """Hidden units whose ReLU input comes within one nudge of 0 for some sample.

    Nudging W1[j, i] by h moves unit j's pre-activation z_nj by h * x_ni (b1[j]: by h). If |z_nj| is
    smaller than that, f(w + h) and f(w - h) sit on different sides of the ReLU's kink and the
    central difference measures neither side's slope: those entries are not checked.
    """
    with sg.no_grad():
        z = net[0](sg.tensor(x.astype(net[0].weight.dtype))).data     # (N, hidden)
    reach = h * np.maximum(np.abs(x).max(axis=1, keepdims=True), 1.0)  # (N, 1)
    return np.flatnonzero((np.abs(z) <= reach).any(axis=0))


def compare(net, x: np.ndarray, t: np.ndarray, h: float = 1e-4, max_entries: int | None = None,
            seed: int = 0) -> tuple[dict, list]:
    """Max and mean |backprop - numerical| for every parameter of the TwoLayerNet `net` on (x, t),
    and the hidden units left out because they sit at the ReLU kink.

    max_entries: check only that many randomly chosen entries per parameter (None: all of them).
    Entries of W1/b1 feeding a unit at the ReLU kink (see `units_at_kink`) are left out.
    """
    from .. import nn
    loss_fn = nn.CrossEntropyLoss()
    xb, tb = sg.tensor(x.astype(net[0].weight.dtype)), sg.tensor(t)
    rng = np.random.default_rng(seed)
    kinks = units_at_kink(net, x, h)
    row_of = {"0.weight": lambda flat: flat // net[0].weight.shape[1], "0.bias": lambda flat: flat}

    net.zero_grad()
    loss_fn(net(xb), tb).backward()          # backprop: every gradient at once

    def loss_value():
        with sg.no_grad():
            return loss_fn(net(xb), tb).item()

    diffs = {}
    for name, p in net.named_parameters():
        idx = np.arange(p.data.size)
        if name in row_of:
            idx = idx[~np.isin(row_of[name](idx), kinks)]
        if max_entries is not None and len(idx) > max_entries:
            idx = np.sort(rng.choice(idx, max_entries, replace=False))
        num = numerical_gradient(loss_value, p.data, h=h, indices=idx)
        err = np.abs(p.grad.data.reshape(-1)[idx].astype(np.float64) - num)
        diffs[name] = {"max_abs_diff": float(err.max()), "mean_abs_diff": float(err.mean()),
                       "max_abs_grad": float(np.abs(num).max()), "numel": p.data.size, "checked": len(idx)}
    return diffs, kinks.tolist()


def run(out, quick: bool = False, seed: int = 0) -> dict:
    import time
    data = load_data(n_train=3, n_test=0)
    hidden = 50
    # float64: every parameter entry (the book), or 300 random ones per parameter when quick;
    # float32 only needs a spot check of 300 entries per parameter to show how coarse it is
    entries = {"float64": 300 if quick else None, "float32": 300}
    results, kinks, timing = {}, {}, {}
    for label, dtype in (("float64", np.float64), ("float32", np.float32)):
        sg.manual_seed(seed)                 # the same initial weights in both precisions
        net = two_layer_net(data.n_features, hidden, dtype=dtype)
        start = time.perf_counter()
        results[label], kinks[label] = compare(net, data.x_train, data.y_train, max_entries=entries[label],
                                               seed=seed)
        timing[label] = time.perf_counter() - start

    names = list(results["float64"])
    fig, axes = figure(1, 1, size=(6.5, 3.6))
    ax, pos = axes[0, 0], np.arange(len(names))
    for k, (label, color) in enumerate((("float64", "#1155cc"), ("float32", "#e69138"))):
        ax.bar(pos + (k - 0.5) * 0.38, [results[label][n]["max_abs_diff"] for n in names], 0.38,
               label=label, color=color)
    ax.set_yscale("log")
    book = ["W1", "b1", "W2", "b2"]  # the book's names for the same parameters
    ax.set_xticks(pos, [f"{n}\n({b})" for n, b in zip(names, book)])
    ax.set_ylabel("max |backprop - numerical|")
    ax.set_title(f"Gradient check: TwoLayerNet {data.n_features}-{hidden}-10 on 3 {data.name} images")
    ax.legend(loc="center left")
    figs = [save_figure(fig, out, "gradient_check.png")]

    worst64 = max(r["max_abs_diff"] for r in results["float64"].values())
    worst32 = max(r["max_abs_diff"] for r in results["float32"].values())
    return {
        "dataset": data.name, "data_note": data.note,
        "network": f"Linear({data.n_features}, {hidden}) -> ReLU -> Linear({hidden}, 10), weights 0.01*randn",
        "h": 1e-4, "entries_checked_per_parameter": {k: v or "all" for k, v in entries.items()},
        "differences": results, "units_at_kink_not_checked": kinks,
        "max_abs_diff_float64": worst64,
        "max_abs_diff_float32": worst32,
        "numerical_gradient_seconds": timing,
        "figures": figs,
        "checks": {"float64 backprop == numerical (< 1e-7)": worst64 < 1e-7,
                   "float32 check is much coarser (> 100x)": worst32 > 100 * worst64},
    }
