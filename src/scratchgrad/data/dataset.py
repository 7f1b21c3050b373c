"""Datasets: anything with `__len__` and `__getitem__(i) -> sample`, as in PyTorch.

    ds = TensorDataset(x, y)          # x: (N, ...), y: (N,)
    x0, y0 = ds[0]                    # one sample: a tuple of Tensors
    xb, yb = ds.get_batch([0, 5, 7])  # a whole batch at once (fancy indexing)

`get_batch(indices)` is the fast path the `DataLoader` uses. The base class
builds it from `__getitem__` and a collate (one Python call per sample);
datasets that hold arrays (`ArrayDataset`: TensorDataset, MNIST, digits)
override it with one fancy-indexing copy per array, with no per-sample loop.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor, get_rng


def as_generator(generator=None) -> np.random.Generator:
    """A NumPy Generator from `None` (scratchgrad's global one), an int seed, or a Generator."""
    if generator is None:
        return get_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator must be None, an int seed or a np.random.Generator, got {type(generator).__name__}")


def default_collate(samples):
    """Stack a list of samples into a batch, keeping the sample's structure.

    Tensors/arrays -> Tensor of shape (B, ...); ints -> int64 (B,); floats -> float32 (B,);
    tuples/lists are collated position by position, dicts key by key.
    """
    first = samples[0]
    if isinstance(first, (Tensor, np.ndarray, np.generic)):
        return Tensor(np.stack([s.data if isinstance(s, Tensor) else np.asarray(s) for s in samples]))
    if isinstance(first, bool):
        return Tensor(np.array(samples, dtype=np.bool_))
    if isinstance(first, numbers.Integral):
        return Tensor(np.array(samples, dtype=np.int64))
    if isinstance(first, numbers.Real):
        return Tensor(np.array(samples, dtype=np.float32))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(column)) for column in zip(*samples))
    return samples  # strings and other objects stay a list


class Dataset:
    """Base class: subclasses define `__len__` and `__getitem__(index) -> sample`."""

    def __getitem__(self, index):  # pragma: no cover - interface
        raise NotImplementedError

    def __len__(self):  # pragma: no cover - interface
        raise NotImplementedError

    def get_batch(self, indices):
        """The samples at `indices` (1-D int array), collated into one batch."""
        return default_collate([self[int(i)] for i in indices])


class ArrayDataset(Dataset):
    """A dataset stored as NumPy arrays sharing their first dimension (`self.arrays`).

    A sample is `tuple(Tensor(a[i]) for a in arrays)`; a batch is one fancy-indexing
    copy per array, so loading never loops over samples in Python.
    """

    def __init__(self, *arrays: np.ndarray):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError(f"all arrays need the same first dimension, got {[a.shape for a in arrays]}")
        self.arrays = tuple(arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(Tensor(np.asarray(a[index])) for a in self.arrays)

    def get_batch(self, indices):
        return tuple(Tensor(a[indices]) for a in self.arrays)


class TensorDataset(ArrayDataset):
    """`TensorDataset(x, y, ...)`: samples are rows of the given Tensors or arrays (PyTorch's name)."""

    def __init__(self, *tensors):
        super().__init__(*[t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors])

    @property
    def tensors(self) -> tuple:
        return tuple(Tensor(a) for a in self.arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`; keeps the parent's fast `get_batch`."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices):
        parent = getattr(self.dataset, "get_batch", None)
        if parent is None:
            return super().get_batch(indices)
        return parent(self.indices[np.asarray(indices)])


def _split_lengths(n: int, lengths) -> list[int]:
    lengths = list(lengths)
    if all(isinstance(v, numbers.Integral) for v in lengths):
        if sum(lengths) != n:
            raise ValueError(f"random_split: lengths {lengths} sum to {sum(lengths)}, dataset has {n} samples")
        return [int(v) for v in lengths]
    if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6) or any(f < 0 for f in lengths):
        raise ValueError(f"random_split: fractions {lengths} must be non-negative and sum to 1")
    counts = [int(math.floor(n * f)) for f in lengths]
    for i in range(n - sum(counts)):  # spread the remainder round-robin, as PyTorch does
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset, lengths, generator=None) -> list[Subset]:
    """Split into non-overlapping random `Subset`s of the given lengths (ints) or fractions (summing to 1).

    `generator`: None (scratchgrad's global generator), an int seed or a np.random.Generator.
    """
    counts = _split_lengths(len(dataset), lengths)
    perm = as_generator(generator).permutation(len(dataset))
    ends = np.cumsum(counts)
    return [Subset(dataset, perm[end - c:end]) for c, end in zip(counts, ends)]
