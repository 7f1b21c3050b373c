"""Shared pieces of the generative models: MNIST as arrays, binarisation, MLP builders, mini-batches,
image grids, the cache folder and a one-thread BLAS guard.

    x_train, y_train = mnist_arrays(train=True)      # float32 (60000, 784) in [0, 1], int64 labels
    xb = binarize(x_train[:128], rng)                  # dynamic binarisation: a fresh 0/1 draw each time
    save_grid(images, "samples.png", nrow=8)           # (N, 784) or (N, 28, 28) -> one PNG
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import nn


# ---- data -----------------------------------------------------------------------------------
def data_root(root=None) -> Path:
    """`root` if given, else $SCRATCHGRAD_DATA, else ../shared/data beside the checkout (where MNIST lives here)."""
    if root is not None:
        return Path(root)
    from ..labs._common import data_root as labs_root
    return labs_root()


def mnist_arrays(train: bool = True, root=None, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST as (x float32 (N, 784) in [0, 1], y int64 (N,)); `n` keeps the first n samples."""
    from ..data import MNIST
    ds = MNIST(data_root(root), train=train, flatten=True, normalize=False)
    x = np.asarray(ds.data[:n], dtype=np.float32)
    x *= np.float32(1 / 255)
    return x, np.asarray(ds.targets[:n], dtype=np.int64)


def binarize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dynamic binarisation: pixel i becomes 1 with probability x_i (a new draw every call), float32."""
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def minibatches(n: int, batch_size: int, rng: np.random.Generator, drop_last: bool = True):
    """Index arrays of one shuffled epoch over n samples."""
    order = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def one_hot(y, num_classes: int, dtype=np.float32) -> np.ndarray:
    """(N,) int labels -> (N, num_classes) float32 one-hot rows."""
    return np.eye(num_classes, dtype=dtype)[np.asarray(y)]


# ---- networks ----------------------------------------------------------------------------------
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU,
               "leaky_relu": lambda: nn.LeakyReLU(0.2)}


def mlp(sizes, activation: str = "relu", out_activation: str | None = None, batchnorm: bool = False,
        dropout: float = 0.0) -> nn.Sequential:
    """Linear -> [BatchNorm1d] -> activation -> [Dropout] per hidden layer, then Linear [-> out_activation].

    sizes: [in, hidden..., out]. PyTorch's default Linear init."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
    if out_activation is not None:
        layers.append(ACTIVATIONS[out_activation]())
    return nn.Sequential(*layers)


def count_parameters(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


# ---- images ------------------------------------------------------------------------------------
def make_grid(images: np.ndarray, nrow: int = 8, pad: int = 2, value: float = 1.0) -> np.ndarray:
    """(N, 784) or (N, H, W) images -> one (rows*(H+pad)+pad, nrow*(W+pad)+pad) array, row-major tiles."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        side = int(round(images.shape[1] ** 0.5))
        images = images.reshape(-1, side, side)
    images = images.reshape(len(images), images.shape[-2], images.shape[-1])
    n, h, w = images.shape
    rows = -(-n // nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad), value, dtype=np.float32)
    tiles = np.full((rows * nrow, h, w), value, dtype=np.float32)
    tiles[:n] = images
    # (rows, nrow, h, w) -> every tile lands at its top-left corner in one strided assignment
    view = grid[pad:, pad:].reshape(rows, h + pad, nrow, w + pad)[:, :h, :, :w]
    view[...] = tiles.reshape(rows, nrow, h, w).transpose(0, 2, 1, 3)
    return grid


def save_grid(images: np.ndarray, path, nrow: int = 8, vmin: float = 0.0, vmax: float = 1.0) -> Path:
    """Write a grid of grey images to a PNG (values clipped to [vmin, vmax]); returns the path."""
    from matplotlib.image import imsave
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = np.clip((make_grid(images, nrow, value=vmax) - vmin) / (vmax - vmin), 0, 1)
    imsave(path, grid, cmap="gray", vmin=0.0, vmax=1.0)
    return path


# ---- run-time settings ---------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where trained helper networks (the MNIST-IS/FID classifier) are cached:
    $SCRATCHGRAD_CACHE, else runs/cache under the working directory."""
    env = os.environ.get("SCRATCHGRAD_CACHE")
    return Path(env) if env else Path("runs") / "cache"


@contextmanager
def blas_threads(n: int | None = 1):
    """Limit BLAS to n threads inside the block (None: leave it alone). The MLPs here run ~128x784x400
    GEMMs; on a busy 2-core machine two BLAS threads made one take 45 ms instead of 2.6 ms."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield
