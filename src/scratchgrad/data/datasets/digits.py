"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes): no network needed.

    train, test = digits()            # 1,437 / 360 images, (N, 1, 8, 8) float32 in [0, 1]
    train = Digits(train=True, flatten=True)   # (N, 64)

The split is fixed: 36 test images per class (360 in all), chosen with a seeded
NumPy generator, so every run and every machine sees the same test set.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..dataset import ArrayDataset

TEST_PER_CLASS = 36
SPLIT_SEED = 0
CLASSES = tuple(str(d) for d in range(10))


def _read_bundled() -> tuple[np.ndarray, np.ndarray]:
    """(pixels (1797, 64) with values 0..16, labels) from scikit-learn's digits.csv.gz.

    The file is read directly: importing sklearn.datasets takes seconds, the file 0.05 s.
    """
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is None or not path.is_file():  # layout changed: go through the public API
        from sklearn.datasets import load_digits
        bunch = load_digits()
        return bunch.data, bunch.target
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)   # one row per image: 64 pixels, label
    return table[:, :-1], table[:, -1]


@lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All images (1797, 8, 8) float32 in [0, 1], labels int64, and the test-set mask."""
    pixels, target = _read_bundled()
    images = (np.asarray(pixels, dtype=np.float32) / 16.0).reshape(-1, 8, 8)   # pixel values 0..16
    labels = np.asarray(target).astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        test[rng.choice(members, TEST_PER_CLASS, replace=False)] = True
    for a in (images, labels, test):
        a.setflags(write=False)
    return images, labels, test


class Digits(ArrayDataset):
    """The train (1,437) or test (360) part of the digits data.

    Attributes `data` ((N, 1, 8, 8), or (N, 64) if `flatten`) float32 in [0, 1] and
    `targets` (N,) int64; a sample is `(image, label)`.
    """

    classes = CLASSES

    def __init__(self, train: bool = True, flatten: bool = False):
        images, labels, test = _load()
        keep = ~test if train else test
        self.data = images[keep].reshape(-1, 64) if flatten else images[keep][:, None]
        self.targets = labels[keep]
        self.train = train
        super().__init__(self.data, self.targets)

    def __repr__(self):
        return f"Digits({'train' if self.train else 'test'}, n={len(self)}, shape={self.data.shape[1:]})"


def digits(flatten: bool = False) -> tuple[Digits, Digits]:
    """(train, test) datasets of the bundled digits."""
    return Digits(train=True, flatten=flatten), Digits(train=False, flatten=flatten)
