"""MADE: masked autoencoder for distribution estimation (Germain et al., 2015). An exact likelihood.

An autoregressive model factorises  p(x) = prod_d p(x_d | x_<d)  in some order, so log p(x) is a
sum of D Bernoulli log-probabilities, exact. MADE computes all D conditionals in one pass of an
autoencoder whose weights are masked so that output d only sees inputs that come before d:

    every unit k gets a degree m(k): inputs their position 1..D in the order, hidden units a
    random integer in [min degree of the layer below, D - 1]
    hidden mask   M[k, j] = 1  if m(k) >= m(j)          (unit k may see input/unit j)
    output mask   M[d, k] = 1  if m_out(d) > m(k)       (strictly: x_d never sees itself)

    -log p(x) = sum_d BCE(logit_d, x_d)                  (nats per image)

Sampling is sequential: D passes, filling in one pixel per pass.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from .. import nn
from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import Tensor
from .autoencoder import bernoulli_nll


class MaskedLinear(nn.Linear):
    """y = x (W * M)^T + b with a fixed 0/1 buffer `mask` (out, in) (state_dict: weight, bias, mask)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", Tensor(np.ones((out_features, in_features), np.float32)))

    def set_mask(self, mask: np.ndarray) -> None:
        self.mask.data[...] = mask

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked MLP D -> hidden ... -> D (Bernoulli logits), ReLU. `order`: the pixel indices in autoregressive
    order (a permutation of 0..D-1; default 0, 1, ..., D-1); hidden degrees drawn with `seed`."""

    def __init__(self, in_features: int = 784, hidden=(500,), order=None, seed: int = 0):
        super().__init__()
        self.in_features = D = in_features
        sizes = [D, *hidden, D]
        self.layers = nn.ModuleList([MaskedLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        rng = np.random.default_rng(seed)
        self.order = np.arange(D) if order is None else np.asarray(order)   # pixel indices, first to last
        first = np.empty(D, np.int64)
        first[self.order] = np.arange(1, D + 1)
        degrees = [first]                                   # input d's degree: its position in the order
        for h in hidden:
            low = min(int(degrees[-1].min()), D - 1)
            degrees.append(rng.integers(low, D, size=h))    # in [low, D - 1]
        for layer, d_in, d_out in zip(self.layers[:-1], degrees[:-1], degrees[1:]):
            layer.set_mask((d_out[:, None] >= d_in[None, :]).astype(np.float32))
        self.layers[-1].set_mask((degrees[0][:, None] > degrees[-1][None, :]).astype(np.float32))

    def forward(self, x: Tensor) -> Tensor:
        """Logits of p(x_d = 1 | x_<d) for every d: (N, D) -> (N, D)."""
        h = x
        for layer in self.layers[:-1]:
            h = F.relu(layer(h))
        return self.layers[-1](h)

    def nll(self, x: Tensor) -> Tensor:
        """Exact -log p(x) per image: (N, D) binary -> (N,) nats."""
        return bernoulli_nll(self(x), x)

    def loss(self, x: Tensor, y=None) -> tuple[Tensor, dict]:
        loss = self.nll(x).mean()
        return loss, {"nll": float(loss.item())}

    @no_grad()
    def evaluate(self, x: np.ndarray, batch_size: int = 1000) -> dict:
        """Mean exact NLL (nats per image) over binary images x."""
        total = sum(float(self.nll(Tensor(x[s:s + batch_size])).data.sum()) for s in range(0, len(x), batch_size))
        return {"nll": total / len(x)}

    @no_grad()
    def sample(self, n: int, rng: np.random.Generator | None = None, probabilities: bool = False) -> np.ndarray:
        """n binary images drawn pixel by pixel in the model's order (D forward passes). probabilities=True
        returns each pixel's p(x_d = 1 | x_<d) at the time it was drawn (smoother grids)."""
        rng = rng or np.random.default_rng(0)
        x = np.zeros((n, self.in_features), np.float32)
        p = np.zeros_like(x)
        for d in self.order:
            logits = self(Tensor(x)).data[:, d]
            p[:, d] = expit(logits)
            x[:, d] = rng.random(n) < p[:, d]
        return p if probabilities else x
