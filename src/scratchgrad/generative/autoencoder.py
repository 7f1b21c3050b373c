"""Autoencoders: x -> code -> x^, trained to reconstruct (and, denoising, to undo corruption).

The notes (第四章): an AE imitates, a VAE creates. The AE's code space has no prescribed shape, so a
random code usually decodes to garbage (lab `vae-vs-ae`); the VAE makes the codes N(0, I)-like.

    ae = Autoencoder(784, hidden=(400,), latent_dim=20)
    loss = ae.loss(xb)          # BCE summed over pixels, averaged over the batch (nats per image)

Also here: a generic epoch loop (`train_epochs`) that the AE, DAE, VAE, MADE and GMMN share.
"""
from __future__ import annotations

import time

import numpy as np
from scipy.special import expit

from .. import nn
from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import Tensor
from .common import binarize, minibatches, mlp


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """-log p(x | logits) per sample: sum over features of BCE-with-logits, (N, D) -> (N,)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)


class Autoencoder(nn.Module):
    """encoder: MLP in -> hidden -> latent_dim (linear code); decoder: MLP latent -> hidden -> in (logits)."""

    def __init__(self, in_features: int = 784, hidden=(400,), latent_dim: int = 20, activation: str = "relu"):
        super().__init__()
        self.in_features, self.latent_dim = in_features, latent_dim
        self.encoder = mlp([in_features, *hidden, latent_dim], activation)
        self.decoder = mlp([latent_dim, *reversed(hidden), in_features], activation)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, code: Tensor) -> Tensor:
        """Logits of the reconstruction (sigmoid them for pixel probabilities)."""
        return self.decoder(code)

    def corrupt(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(self.corrupt(x) if self.training else x))

    def loss(self, x: Tensor, y=None) -> tuple[Tensor, dict]:
        """(mean reconstruction BCE in nats per image, {"rec": ...})."""
        rec = bernoulli_nll(self(x), x).mean()
        return rec, {"rec": float(rec.item())}

    @no_grad()
    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Pixel probabilities of the reconstruction of x (no corruption), eval mode."""
        return expit(self.decode(self.encode(Tensor(x))).data)


class DenoisingAutoencoder(Autoencoder):
    """An AE that sees a corrupted x~ during training and must output the clean x (Vincent et al., 2008).

    noise="mask": each input pixel is zeroed with probability noise_level; "gaussian": x + N(0, level^2)."""

    def __init__(self, in_features: int = 784, hidden=(400,), latent_dim: int = 20, activation: str = "relu",
                 noise: str = "mask", noise_level: float = 0.3, rng: np.random.Generator | None = None):
        super().__init__(in_features, hidden, latent_dim, activation)
        if noise not in ("mask", "gaussian"):
            raise ValueError(f"noise must be 'mask' or 'gaussian', got {noise!r}")
        self.noise, self.noise_level = noise, noise_level
        self.rng = rng or np.random.default_rng(0)

    def corrupt(self, x: Tensor) -> Tensor:
        a = x.data
        if self.noise == "mask":
            return Tensor(a * (self.rng.random(a.shape, dtype=np.float32) >= self.noise_level))
        return Tensor(a + self.noise_level * self.rng.standard_normal(a.shape, dtype=np.float32))

    def extra_repr(self):
        return f"noise={self.noise}, noise_level={self.noise_level}"


# ---- a shared epoch loop ---------------------------------------------------------------------------
def train_epochs(model, x: np.ndarray, y: np.ndarray | None = None, epochs: int = 1, batch_size: int = 128,
                 optimizer=None, lr: float = 1e-3, rng: np.random.Generator | None = None,
                 dynamic_binarization: bool = True, evaluate=None, verbose: bool = False,
                 history: list | None = None, time_limit_s: float | None = None) -> list[dict]:
    """Train `model` by `model.loss(xb, yb) -> (loss, stats)` for `epochs` passes over x.

    dynamic_binarization: each mini-batch is a fresh 0/1 draw from the grey levels. evaluate():
    called after every epoch, returns a dict merged into that epoch's record. time_limit_s: stop
    (mid-epoch) once the training time reaches it. Returns the history (one dict per epoch: mean
    training stats, time_s, and whatever evaluate() returned)."""
    from .. import optim
    rng = rng or np.random.default_rng(0)
    optimizer = optimizer or optim.Adam(model.parameters(), lr=lr)
    history = history if history is not None else []
    trained_s = 0.0
    for _ in range(epochs):
        start, sums, n = time.perf_counter(), {}, 0
        model.train()
        for idx in minibatches(len(x), batch_size, rng):
            if time_limit_s is not None and trained_s + time.perf_counter() - start >= time_limit_s:
                break
            xb = binarize(x[idx], rng) if dynamic_binarization else x[idx]
            loss, stats = model.loss(Tensor(xb), None if y is None else y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v
            n += 1
        trained_s += time.perf_counter() - start
        if n == 0:
            break
        record = {"epoch": len(history) + 1, **{f"train_{k}": v / n for k, v in sums.items()},
                  "time_s": round(time.perf_counter() - start, 3), "steps": n}
        if evaluate is not None:
            model.eval()
            record.update(evaluate())
        history.append(record)
        if verbose:
            print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()),
                  flush=True)
    model.eval()
    return history
