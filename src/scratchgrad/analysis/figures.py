"""Figures of a CNN: first-layer filters, feature maps, activation histograms, time per layer.

    from scratchgrad.analysis import figures
    figures.plot_filters(model, "runs/filters.png")                  # the book's Figure 7-24
    figures.plot_feature_maps(model, x[0], "0", "runs/maps.png")      # what layer "0" makes of one image
    figures.plot_activation_histograms(model, x, "runs/hist.png")    # per-layer output distributions
    t = figures.layer_times(model, x, y)                               # one training step, timed per layer
    figures.plot_layer_times(t, "runs/layer_time.png")                # "which layers take the time"

Every plot function takes a model and data, writes a PNG (matplotlib's Agg canvas, no window) and
returns its path; the numbers behind it come from a function without a plot (`filter_images`,
`feature_maps`, `activations`, `layer_times`).
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..autograd.function import no_grad
from ..plot import figure, savefig
from ..tensor import Tensor
from .summary import _tensors, is_conv, leaf_modules


# ---- images in a grid -------------------------------------------------------------------------
def _normalise(a: np.ndarray, axes) -> np.ndarray:
    """Scale each image to [0, 1] over `axes` (a constant image becomes 0.5)."""
    lo, hi = a.min(axis=axes, keepdims=True), a.max(axis=axes, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1), 0.5)


def mosaic(images: np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """(n, h, w[, 3]) images in [0, 1] -> one (rows*(h+pad)+pad, cols*(w+pad)+pad[, 3]) image, 1 between."""
    n, h, w = images.shape[:3]
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad) + images.shape[3:], dtype=np.float32)
    for i, img in enumerate(images):  # one slice copy per image (tens of images, not pixels)
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return grid


def _show(grid: np.ndarray, path, title: str, inches: float = 6.0) -> Path:
    fig, ax = figure(1, 1, figsize=(inches, inches * grid.shape[0] / grid.shape[1] + 0.5))
    ax.imshow(grid, cmap=None if grid.ndim == 3 else "gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return savefig(fig, path)


def _module(model, layer):
    """A submodule given as a dotted name ("features.0") or as the module itself."""
    return model.get_submodule(layer) if isinstance(layer, str) else layer


# ---- filters and feature maps -----------------------------------------------------------------
def first_conv(model):
    """(name, module) of the first convolution in `model` (registration order)."""
    for name, m in model.named_modules():
        if is_conv(m):
            return name, m
    raise ValueError(f"{type(model).__name__} has no convolution layer")


def filter_images(weight) -> np.ndarray:
    """A conv weight (C_out, C_in, KH, KW) -> (C_out, KH, KW[, 3]) images in [0, 1], one per filter.

    Three input channels are shown as colour (RGB), otherwise input channel 0 in grey, as the book
    does (weights scaled to the image range, each filter on its own).
    """
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=np.float32)
    if w.shape[1] == 3:
        return _normalise(w.transpose(0, 2, 3, 1), (1, 2, 3))
    return _normalise(w[:, 0], (1, 2))


def plot_filters(model, path, layer=None, title: str | None = None) -> Path:
    """The filters of `layer` (default: the first convolution) as an image grid."""
    name, conv = first_conv(model) if layer is None else (str(layer), _module(model, layer))
    w = conv.weight
    note = "" if w.shape[1] in (1, 3) else f" (input channel 0 of {w.shape[1]})"
    return _show(mosaic(filter_images(w)), path,
                 title or f"{name}: {w.shape[0]} filters {w.shape[2]}x{w.shape[3]}{note}")


def _capture(model, layers: list, x) -> dict:
    """Run model(x) without a graph in eval mode; return {layer name: its output array}."""
    got, handles = {}, []
    for name, m in layers:
        handles.append(m.register_forward_hook(
            lambda m, args, out, name=name: got.setdefault(name, _tensors(out)[0].data.copy())))
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            model(x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32)))
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.__dict__["training"] = mode
    return got


def feature_maps(model, x, layer) -> np.ndarray:
    """The (C, H, W) output of `layer` (dotted name or module) for one input x of shape (C, H, W)."""
    x = x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
    return _capture(model, [("layer", _module(model, layer))], x[None])["layer"][0]


def plot_feature_maps(model, x, layer, path, max_maps: int = 32) -> Path:
    """The first `max_maps` feature maps of `layer` for one input x (C, H, W), each scaled to [0, 1]."""
    maps = feature_maps(model, x, layer)[:max_maps]
    return _show(mosaic(_normalise(maps, (1, 2))), path,
                 f"feature maps of {layer if isinstance(layer, str) else type(layer).__name__} "
                 f"({len(maps)} of shape {maps.shape[1]}x{maps.shape[2]})")


# ---- activation histograms --------------------------------------------------------------------
def activations(model, x, layers=None) -> dict:
    """{name: output array} of `layers` (dotted names; default: every activation-function layer,
    or every leaf if the model has none) for a batch x."""
    if layers is None:
        leaves = leaf_modules(model)
        chosen = [(n, m) for n, m in leaves if type(m).__module__.endswith(".activation")] or leaves
    else:
        chosen = [(n, _module(model, n)) for n in layers]
    return _capture(model, chosen, x)


def plot_activation_histograms(model, x, path, layers=None, bins: int = 30) -> Path:
    """One histogram per layer of its outputs on the batch x (as the book's chapter 6 figures)."""
    acts = activations(model, x, layers)
    n = len(acts)
    ncols = min(n, 5)
    fig, axes = figure(-(-n // ncols), ncols, figsize=(2.6 * ncols, 2.3 * -(-n // ncols)))
    axes = axes if isinstance(axes, list) else [axes]
    for ax, (name, a) in zip(axes, acts.items()):
        a = a.ravel()
        ax.hist(a, bins=bins, color="tab:blue")
        ax.set_title(f"{name}\nmean {a.mean():.2f}, zeros {np.mean(a == 0):.0%}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    return savefig(fig, path)


# ---- which layers take the time ----------------------------------------------------------------
class _LayerTimer:
    """Hooks that time each leaf module's forward and, during backward, the autograd nodes it made.

    Forward: perf_counter around the module call (forward pre-hook -> forward hook).
    Backward: after a leaf's forward, the graph is walked back from its outputs to its inputs; every
    autograd Function met on the way was made by this call, and its `backward` method is wrapped (on
    that instance only) by a timer that adds to the layer's total. So a layer's backward time is
    exactly the time spent in the backward of its own ops (im2col GEMMs, col2im, ...); the engine's
    bookkeeping and the ops between layers (the loss, a residual add) are in `other`.
    """

    def __init__(self, model):
        self.leaves = leaf_modules(model)
        self.forward, self.backward = defaultdict(float), defaultdict(float)
        self.names = {id(m): name for name, m in self.leaves}
        self.t0, self.handles = 0.0, []

    def __enter__(self):
        for _, m in self.leaves:
            self.handles += [m.register_forward_pre_hook(self.pre), m.register_forward_hook(self.post)]
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def pre(self, module, args):
        self.t0 = time.perf_counter()

    def post(self, module, args, out):
        name = self.names[id(module)]
        self.forward[name] += time.perf_counter() - self.t0
        stop = {t.creator for t in _tensors(args)}
        stack, seen = [t.creator for t in _tensors(out)], set()
        while stack:
            f = stack.pop()
            if f is None or f in stop or f in seen or getattr(f, "inputs", None) is None:
                continue
            seen.add(f)
            f.backward = self._timed(f.backward, name)
            stack.extend(f.input_fns)

    def _timed(self, backward, name):
        def timed_backward(*grads):
            t0 = time.perf_counter()
            result = backward(*grads)
            self.backward[name] += time.perf_counter() - t0
            return result
        return timed_backward


def layer_times(model, x, target=None, loss_fn=None, repeats: int = 5, warmup: int = 1) -> dict:
    """Time one training step (forward, loss, backward) per leaf layer; medians over `repeats` steps.

    loss: loss_fn(output, target) (default CrossEntropyLoss) when `target` is given, else output.sum().
    Returns {"layers": [{"name", "type", "forward_s", "backward_s"}], "forward_total_s",
    "backward_total_s", "other_s" (the steps' time outside the layers' own ops)}.
    """
    from ..nn import CrossEntropyLoss
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))
    target = None if target is None else (target if isinstance(target, Tensor) else Tensor(np.asarray(target)))
    loss_fn = loss_fn or CrossEntropyLoss()
    runs = []
    for step in range(warmup + repeats):
        model.zero_grad()
        with _LayerTimer(model) as timer:
            t0 = time.perf_counter()
            out = model(x)
            loss = loss_fn(out, target) if target is not None else out.sum()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
        if step >= warmup:
            runs.append((timer, t1 - t0, t2 - t1))
    med = lambda values: float(np.median(values))
    layers = [{"name": name, "type": type(m).__name__,
               "forward_s": med([r[0].forward[name] for r in runs]),
               "backward_s": med([r[0].backward[name] for r in runs])}
              for name, m in leaf_modules(model) if name in runs[0][0].forward]
    fwd, bwd = med([r[1] for r in runs]), med([r[2] for r in runs])
    other = fwd + bwd - sum(layer["forward_s"] + layer["backward_s"] for layer in layers)
    return {"layers": layers, "forward_total_s": fwd, "backward_total_s": bwd, "other_s": max(other, 0.0),
            "repeats": repeats}


def plot_layer_times(times: dict, path, title: str | None = None) -> Path:
    """Horizontal bars: forward and backward milliseconds per layer, with each layer's share."""
    layers = times["layers"]
    names = [f"{layer['name']} ({layer['type']})" for layer in layers] + ["other"]
    fwd = np.array([layer["forward_s"] for layer in layers] + [0.0]) * 1e3
    bwd = np.array([layer["backward_s"] for layer in layers] + [0.0]) * 1e3
    other = times["other_s"] * 1e3
    total = fwd.sum() + bwd.sum() + other
    fig, ax = figure(1, 1, figsize=(7.5, 0.9 + 0.32 * len(names)))
    y = np.arange(len(names))[::-1]
    ax.barh(y, fwd, color="tab:blue", label="forward")
    ax.barh(y, bwd, left=fwd, color="tab:orange", label="backward")
    ax.barh(y[-1:], [other], color="tab:gray", label="other (loss, ops between layers, engine)")
    sums = fwd + bwd
    sums[-1] = other
    for yi, v in zip(y, sums):
        ax.text(v, yi, f" {v / total:.0%}", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("milliseconds per training step (median)")
    ax.set_xlim(0, sums.max() * 1.18)
    ax.set_title(title or f"time per layer: forward + backward = {total:.1f} ms", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return savefig(fig, path)
