"""Shared pieces of the labs: data, the book's multi-layer net, a training loop, figures, results.

Every lab trains small MLPs the way the book does (chapter 6): a random mini-batch per step
(`np.random.choice(train_size, batch_size)`), accuracy measured on whole arrays, and the
same network family `MultiLayerNet` (Affine -> [BatchNorm] -> activation -> [Dropout]) ... -> Affine.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import scratchgrad as sg


# ---- data -------------------------------------------------------------------------------------
@dataclass
class Data:
    """Float32 features in [0, 1] of shape (N, D), int64 labels (N,), and where they came from."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str          # "mnist" or "digits"
    note: str = ""     # e.g. why MNIST was not used

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def data_root() -> Path:
    """$SCRATCHGRAD_DATA, else ../shared/data beside the checkout (where this repo keeps MNIST)."""
    env = os.environ.get("SCRATCHGRAD_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[4] / "shared" / "data"


def _first(ds, n: int | None):
    """The first n samples of a dataset as (x float32 (n, D) in [0, 1], y int64 (n,))."""
    x = np.asarray(ds.data[:n])
    x = x.reshape(len(x), int(np.prod(x.shape[1:])))
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32, copy=False)
    return x, np.asarray(ds.targets[:n], dtype=np.int64)


def load_data(n_train: int | None = None, n_test: int | None = None) -> Data:
    """The first `n_train` training and `n_test` test samples of MNIST (as the book slices x_train[:300]).

    Falls back to scikit-learn's 8x8 digits (1,437 train / 360 test, 64 features) when MNIST is not found,
    and says so in `Data.note` (the labs copy it into results.json).
    """
    from ..data import MNIST, Digits
    try:  # uint8 pixels: only the slices we use are converted to float
        train, test = (MNIST(data_root(), train=t, flatten=True, normalize=False) for t in (True, False))
        name, note = "mnist", ""
    except (FileNotFoundError, OSError) as err:
        train, test = Digits(train=True, flatten=True), Digits(train=False, flatten=True)
        name = "digits"
        note = f"MNIST not found under {data_root()} ({type(err).__name__}); using scikit-learn's 8x8 digits instead"
    return Data(*_first(train, n_train), *_first(test, n_test), name, note)


# ---- the book's MultiLayerNet(Extend) ----------------------------------------------------------
def mlp(sizes, activation: str = "relu", weight_std="he", batchnorm: bool = False, dropout: float = 0.0):
    """Affine -> [BatchNorm1d] -> ReLU/Sigmoid -> [Dropout] per hidden layer, then a last Affine.

    sizes: [in, hidden..., out].  weight_std: a number (N(0, std^2) weights, as the book's
    `weight_init_std`), "he" (std sqrt(2/fan_in)) or "xavier" (std sqrt(1/fan_in)); biases start at 0.
    """
    from .. import nn
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        std = {"he": (2.0 / fan_in) ** 0.5, "xavier": (1.0 / fan_in) ** 0.5}.get(weight_std, weight_std)
        nn.init.normal_(linear.weight, 0.0, float(std))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:  # hidden layer
            if batchnorm:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append(nn.ReLU() if activation == "relu" else nn.Sigmoid())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def split_decay(model, weight_decay: float):
    """Parameter groups: L2 decay on the weight matrices only, as the book's 0.5*lambda*sum(W**2)."""
    weights = [p for n, p in model.named_parameters() if n.endswith("weight") and p.ndim == 2]
    others = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.ndim == 2)]
    return [{"params": weights, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct argmax predictions, in eval mode (BatchNorm running stats, no dropout)."""
    was_training = model.training
    model.eval()
    with sg.no_grad():
        pred = model(sg.tensor(x)).data.argmax(axis=1)
    model.train(was_training)
    return float((pred == y).mean())


def train(model, optimizer, data: Data, steps: int, batch_size: int = 100, seed: int = 0,
          eval_every: int | None = None) -> dict:
    """The book's training loop: `steps` optimizer steps, each on a random mini-batch of data.x_train.

    Returns {"loss": one per step, "step", "train_acc", "test_acc": every `eval_every` steps,
    at step 0 and at the end}. The mini-batches depend only on `seed`.
    """
    from .. import nn
    x, y = data.x_train, data.y_train
    rng = np.random.default_rng(seed)
    loss_fn = nn.CrossEntropyLoss()
    hist = {"loss": [], "step": [], "train_acc": [], "test_acc": []}

    def record(step):
        hist["step"].append(step)
        hist["train_acc"].append(accuracy(model, x, y))
        hist["test_acc"].append(accuracy(model, data.x_test, data.y_test) if len(data.x_test) else float("nan"))

    model.train()
    if eval_every:
        record(0)
    for step in range(1, steps + 1):
        idx = rng.choice(len(x), min(batch_size, len(x)), replace=False)
        loss = loss_fn(model(sg.tensor(x[idx])), sg.tensor(y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hist["loss"].append(float(loss.item()))
        if eval_every and (step % eval_every == 0 or step == steps):
            record(step)
    return hist


# ---- figures and results ----------------------------------------------------------------------
def figure(nrows: int = 1, ncols: int = 1, size=(4.0, 3.2), **margins):
    """A matplotlib Figure (no pyplot, no global backend switch: renders with Agg) and its (nrows, ncols) axes.

    size: inches per panel. Fixed margins (override with left=, bottom=, ...): constrained layout
    costs seconds per figure on a busy machine.
    """
    from matplotlib.figure import Figure
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    fig.subplots_adjust(**{"left": 0.8 / (size[0] * ncols), "right": 0.98, "bottom": 0.55 / (size[1] * nrows),
                           "top": 1 - 0.55 / (size[1] * nrows), "wspace": 0.3, "hspace": 0.45, **margins})
    return fig, axes


def save_figure(fig, out: Path, name: str) -> str:
    path = Path(out) / name
    fig.savefig(path, dpi=100)
    return path.name


def smooth(values, k: int = 10) -> np.ndarray:
    """Moving average over k steps (loss curves are noisy per mini-batch)."""
    v = np.asarray(values, dtype=np.float64)
    k = max(1, min(k, len(v)))
    return np.convolve(v, np.ones(k) / k, mode="valid")


def to_jsonable(obj):
    """NumPy scalars/arrays -> Python numbers/lists so results.json is plain JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else None
    return obj


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")
