"""`DataLoader`: iterate over a dataset in (optionally shuffled) mini-batches.

    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=0)
    for xb, yb in loader:        # xb: (32, ...) Tensor, yb: (32,) Tensor
        ...
    len(loader)                  # batches per epoch

Every epoch draws a new permutation from `generator`, so a seeded loader gives
the same sequence of epochs on every run. `generator=None` uses scratchgrad's
global generator (seeded by `sg.manual_seed`), like PyTorch.
"""
from __future__ import annotations

import numpy as np

from .dataset import as_generator, default_collate


class DataLoader:
    """Mini-batches of `dataset`: each sample appears exactly once per epoch.

    dataset:    a Dataset; array-backed ones (TensorDataset, MNIST, digits) are
                batched by fancy indexing, others sample by sample + `collate_fn`.
    batch_size: samples per batch; the last batch is smaller unless `drop_last`.
    shuffle:    a new random order every epoch, drawn from `generator`.
    collate_fn: list of samples -> batch (default: stack into Tensors).
    generator:  None (global generator), an int seed or a np.random.Generator.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn=None, generator=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        # an own generator is created once, so each epoch continues its stream
        self.generator = None if generator is None else as_generator(generator)

    def __len__(self) -> int:
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return as_generator(self.generator).permutation(n)

    def _fetch(self, indices: np.ndarray):
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        collate = self.collate_fn or default_collate
        return collate([self.dataset[int(i)] for i in indices])

    def __iter__(self):
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield self._fetch(order[start:start + self.batch_size])

    def __repr__(self):
        return (f"DataLoader(n={len(self.dataset)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
