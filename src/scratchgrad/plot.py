"""Figures with matplotlib's Agg canvas: PNG files, no window, no global backend switch.

    fig, axes = figure(1, 2)
    axes[0].plot(...)
    savefig(fig, "out/curves.png")

    plot_history(history, "run/curves.png")     # learning curves of a `fit` history

matplotlib is imported only when a figure is made, so `import scratchgrad` stays light.
Using `matplotlib.figure.Figure` directly (not pyplot) leaves the user's backend alone.
"""
from __future__ import annotations

from pathlib import Path


def figure(nrows: int = 1, ncols: int = 1, figsize=None, **subplot_kw):
    """A new (fig, axes) pair; `axes` is one Axes for 1x1, else a flat list."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize or (4.8 * ncols, 3.6 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, subplot_kw=subplot_kw or None)
    flat = [ax for row in axes for ax in row]
    return fig, (flat[0] if len(flat) == 1 else flat)


def savefig(fig, path, dpi: int = 110) -> Path:
    """Write `fig` as a PNG (creating the folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def plot_history(history: list[dict], path, title: str | None = None) -> Path:
    """Loss and accuracy per epoch (train and, if present, validation) side by side."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = figure(1, 2)
    for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        for split, style in (("train", "-o"), ("val", "-s")):
            values = [h.get(f"{split}_{metric}") for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [float("nan") if v is None else v for v in values], style, ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    if title:
        fig.suptitle(title)
    return savefig(fig, path)
