"""CNN labs: what training does to first-layer filters, and why deep plain nets need shortcuts.

    from scratchgrad.labs import run_lab
    run_lab("filters", quick=True)       # SimpleConvNet's 5x5 filters: noise before, edges/blobs after
    run_lab("degradation", quick=True)   # plain vs residual CIFAR-style nets at two depths

Conventions of `scratchgrad.labs`: `LABS[name]` has `CLAIM` and `run(out, quick, seed) -> dict` with the
numbers, `figures` and named `checks`; `run_lab` seeds the global generator and writes results.json.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

import scratchgrad as sg

from ._common import figure, load_data, save_figure


def _images(x: np.ndarray) -> np.ndarray:
    """Flattened square grey images (N, S*S) -> (N, 1, S, S)."""
    side = int(round(np.sqrt(x.shape[1])))
    return x.reshape(len(x), 1, side, side)


def _train_steps(model, optimizer, x, y, steps: int, batch_size: int, seed: int) -> list[float]:
    """`steps` optimizer steps on random mini-batches of (x, y); the loss of every step."""
    from ..nn import functional as F
    rng = np.random.default_rng(seed)
    model.train()
    losses = []
    for _ in range(steps):
        idx = rng.choice(len(x), min(batch_size, len(x)), replace=False)
        loss = F.cross_entropy(model(sg.tensor(x[idx])), sg.tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return losses


def _accuracy(model, x, y, batch: int = 1000) -> float:
    model.eval()
    with sg.no_grad():
        pred = np.concatenate([model(sg.tensor(x[i:i + batch])).data.argmax(1) for i in range(0, len(x), batch)])
    model.train()
    return float((pred == y).mean())


# ---- filters --------------------------------------------------------------------------------------
FILTERS_CLAIM = ("training turns SimpleConvNet's first-layer 5x5 filters from random noise into smooth, structured "
                 "detectors (edges, blobs): their neighbouring weights become positively correlated and their "
                 "energy moves to low spatial frequencies (book ch. 7.6, Figure 7-24)")


def spatial_autocorrelation(w: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each filter (C_out, KH, KW), mean removed: the mean product of horizontally
    and vertically adjacent weights over the mean squared weight. About 0 for white noise, near 1 for a
    smooth filter, negative for a checkerboard."""
    f = w - w.mean(axis=(1, 2), keepdims=True)
    pairs = np.concatenate([(f[:, 1:, :] * f[:, :-1, :]).reshape(len(f), -1),
                            (f[:, :, 1:] * f[:, :, :-1]).reshape(len(f), -1)], axis=1)
    return pairs.mean(axis=1) / np.maximum((f * f).mean(axis=(1, 2)), 1e-30)


def low_frequency_energy(w: np.ndarray) -> np.ndarray:
    """Share of each filter's energy (mean removed) at the lowest non-zero spatial frequencies,
    |k_y|, |k_x| <= 1 of its 2-D DFT: 8 of the 24 non-constant frequencies of a 5x5 filter, so about
    1/3 for white noise and near 1 for a smooth blob or edge."""
    f = w - w.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(f)) ** 2
    ky = np.abs(np.fft.fftfreq(w.shape[1]) * w.shape[1])[:, None]
    kx = np.abs(np.fft.fftfreq(w.shape[2]) * w.shape[2])[None, :]
    low = (ky <= 1) & (kx <= 1)
    return (power * low).sum(axis=(1, 2)) / np.maximum(power.sum(axis=(1, 2)), 1e-30)


def _filter_stats(w: np.ndarray) -> dict:
    ac, lf = spatial_autocorrelation(w), low_frequency_energy(w)
    return {"autocorrelation_mean": float(ac.mean()), "low_frequency_energy_mean": float(lf.mean()),
            "share_smooth_filters": float((ac > 0.3).mean()), "autocorrelation": ac, "low_frequency_energy": lf}


def _plot_filters(before, after, stats, out) -> str:
    from ..analysis.figures import filter_images, mosaic
    fig, axes = figure(1, 3, size=(3.6, 3.6), left=0.03, right=0.98, wspace=0.2, bottom=0.14, top=0.86)
    for ax, w, name in zip(axes[0][:2], (before, after), ("before training", "after training")):
        s = stats[name.split()[0]]
        ax.imshow(mosaic(filter_images(w[:, None]), ncols=6), cmap="gray", interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(f"{name}\nautocorr {s['autocorrelation_mean']:.2f}, low-freq {s['low_frequency_energy_mean']:.2f}",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = axes[0][2]
    bins = np.linspace(-1, 1, 21)
    ax.hist(stats["before"]["autocorrelation"], bins, alpha=0.6, label="before")
    ax.hist(stats["after"]["autocorrelation"], bins, alpha=0.6, label="after")
    ax.set_xlabel("lag-1 spatial autocorrelation per filter", fontsize=8)
    ax.set_ylabel("filters", fontsize=8)
    ax.legend(fontsize=8)
    return save_figure(fig, out, "filters.png")


def filters(out, quick: bool = False, seed: int = 0) -> dict:
    from ..models import get_model
    out = Path(out)
    if quick:
        n_train, steps, batch, min_acc, min_share = 3000, 100, 50, 0.75, 0.5
    else:
        n_train, steps, batch, min_acc, min_share = 60000, 1200, 100, 0.95, 0.6
    data = load_data(n_train, 2000 if quick else 10000)
    x, xt = _images(data.x_train), _images(data.x_test)
    model = get_model("simple-convnet", in_channels=1, input_size=x.shape[1:])
    before = model.conv1.weight.data[:, 0].copy()
    opt = sg.optim.Adam(model.parameters(), lr=1e-3)
    losses = _train_steps(model, opt, x, data.y_train, steps, batch_size=batch, seed=seed)
    after = model.conv1.weight.data[:, 0].copy()
    stats = {"before": _filter_stats(before), "after": _filter_stats(after)}
    acc = _accuracy(model, xt, data.y_test)
    figures = [_plot_filters(before, after, stats, out)]
    np.savez(out / "filters.npz", before=before, after=after)
    b, a = stats["before"], stats["after"]
    return {
        "data": data.name, "note": data.note, "train_samples": len(x), "steps": steps, "batch_size": batch,
        "optimizer": "Adam lr 1e-3", "model": "simple-convnet (conv 30 filters 5x5, book init N(0, 0.01^2))",
        "test_accuracy": acc, "final_loss": float(np.mean(losses[-20:])), "before": b, "after": a,
        "filter_change_relative": float(np.linalg.norm(after - before) / np.linalg.norm(before)),
        "figures": figures, "arrays": "filters.npz (before, after: (30, 5, 5))",
        "checks": {
            f"the net learned (test accuracy > {min_acc:.0%})": acc > min_acc,
            "random filters: neighbouring weights uncorrelated (|mean autocorrelation| < 0.15)":
                abs(b["autocorrelation_mean"]) < 0.15,
            "trained filters are smooth: mean autocorrelation up by > 0.25":
                a["autocorrelation_mean"] > b["autocorrelation_mean"] + 0.25,
            "trained filters' energy moved to low frequencies (share up by > 0.15)":
                a["low_frequency_energy_mean"] > b["low_frequency_energy_mean"] + 0.15,
            f"most trained filters are structured (> {min_share:.0%} with autocorrelation > 0.3)":
                a["share_smooth_filters"] > min_share,
        },
    }


# ---- degradation ------------------------------------------------------------------------------------
DEGRADATION_CLAIM = ("the degradation problem (He et al. 2016): on the same small budget a deeper PLAIN net "
                     "reaches a higher training loss than a shallower one, while the residual net of the same "
                     "depth does not (shortcuts make depth trainable)")


def _cifar_net(depth: int, residual: bool, width: int, shape):
    from ..models.cnn.cifar_resnet import cifar_resnet
    return cifar_resnet(depth, residual=residual, in_channels=shape[0], input_size=shape,
                        widths=(width, 2 * width, 4 * width))


def _plot_degradation(curves: dict, depths, out) -> str:
    from ._common import smooth
    fig, axes = figure(1, 2, size=(4.6, 3.4))
    for ax, residual in zip(axes[0], (False, True)):
        for depth, style in zip(depths, ("--", "-")):
            c = smooth(curves[f"{'resnet' if residual else 'plain'}{depth}"], 20)
            ax.plot(np.arange(len(c)) + 20, c, style, label=f"{depth} layers")
        ax.set_title("residual" if residual else "plain (no shortcuts)", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (moving average)")
        ax.legend(fontsize=8)
    top = max(max(ax.get_ylim()[1] for ax in axes[0]), 0.1)
    for ax in axes[0]:
        ax.set_ylim(0, top)
    return save_figure(fig, out, "degradation.png")


def degradation(out, quick: bool = False, seed: int = 0) -> dict:
    from ..data.transforms import Resize
    out = Path(out)
    if quick:
        depths, width, side, n_train, steps = (8, 20), 4, 8, 2000, 80
    else:
        depths, width, side, n_train, steps = (20, 56), 8, 14, 10000, 600
    data = load_data(n_train, 0)
    x = _images(data.x_train)
    if x.shape[-1] != side:       # MNIST 28x28 -> side x side (bilinear): a CIFAR-sized budget on 2 cores
        x = Resize(side)(x)
    curves, final = {}, {}
    window = max(steps // 5, 10)
    for depth in depths:
        for residual in (False, True):
            name = f"{'resnet' if residual else 'plain'}{depth}"
            sg.manual_seed(seed)
            model = _cifar_net(depth, residual, width, x.shape[1:])
            opt = sg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
            curves[name] = _train_steps(model, opt, x, data.y_train, steps, batch_size=64, seed=seed)
            final[name] = float(np.mean(curves[name][-window:]))
    shallow, deep = depths
    figures = [_plot_degradation(curves, depths, out)]
    p_s, p_d, r_s, r_d = (final[f"{k}{d}"] for k, d in (("plain", shallow), ("plain", deep),
                                                          ("resnet", shallow), ("resnet", deep)))
    return {
        "data": f"{data.name} resized to {side}x{side}" if side != 28 else data.name, "note": data.note,
        "train_samples": len(x), "steps": steps, "batch_size": 64, "widths": [width, 2 * width, 4 * width],
        "optimizer": "SGD momentum 0.9, lr 0.05, weight decay 1e-4", "depths": list(depths),
        "final_train_loss": final, "final_loss_window": window,
        "loss_curves": {k: v[::max(steps // 200, 1)] for k, v in curves.items()},
        "figures": figures,
        "degradation_ratio": {"plain": p_d / p_s, "residual": r_d / r_s},
        "checks": {
            f"plain: {deep} layers train worse than {shallow} (final loss x1.3 or more)": p_d > 1.3 * p_s,
            f"residual {deep} trains better than plain {deep} (loss x0.8 or less)": r_d < 0.8 * p_d,
            f"residual: {deep} layers train about as well as {shallow} or better (loss within x1.25)":
                r_d < 1.25 * r_s,
        },
    }


LABS = {
    "filters": SimpleNamespace(CLAIM=FILTERS_CLAIM, run=filters),
    "degradation": SimpleNamespace(CLAIM=DEGRADATION_CLAIM, run=degradation),
}
