"""Maximum mean discrepancy and the generative moment-matching network (Li, Swersky & Zemel, 2015).

Two distributions are equal iff all their moments match; a characteristic kernel matches them
all at once. With k a mixture of Gaussian kernels of bandwidths sigma_s,

    k(x, y) = sum_s exp(-||x - y||^2 / (2 sigma_s^2))
    MMD^2(X, Y) = 1/N^2 sum_ij k(x_i, x_j) - 2/(NM) sum_ij k(x_i, y_j) + 1/M^2 sum_ij k(y_i, y_j)

(biased form; `unbiased=True` drops the i = j terms of the two within-set sums). A GMMN is a
generator trained to minimise MMD^2 between a batch of its samples and a batch of data: no
discriminator, no game.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..ops import exp
from ..tensor import Tensor
from .common import mlp

GMMN_BANDWIDTHS = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)   # Li et al.'s mixture for MNIST pixels in [0, 1]


def squared_distances(x: Tensor, y: Tensor) -> Tensor:
    """||x_i - y_j||^2 = ||x_i||^2 + ||y_j||^2 - 2 x_i.y_j: (N, D), (M, D) -> (N, M) (one GEMM), clamped >= 0."""
    xx = (x * x).sum(1, keepdim=True)
    yy = (y * y).sum(1, keepdim=True)
    return (xx + yy.T - 2.0 * (x @ y.T)).clamp(min=0.0)


def gaussian_kernel(x: Tensor, y: Tensor, bandwidths=GMMN_BANDWIDTHS) -> Tensor:
    """sum_s exp(-||x_i - y_j||^2 / (2 sigma_s^2)): (N, M)."""
    d2 = squared_distances(x, y)
    k = None
    for s in bandwidths:
        term = exp(d2 * (-0.5 / (s * s)))
        k = term if k is None else k + term
    return k


def mmd2(x: Tensor, y: Tensor, bandwidths=GMMN_BANDWIDTHS, unbiased: bool = False) -> Tensor:
    """MMD^2 between samples x (N, D) and y (M, D) with the mixture-of-Gaussians kernel (a scalar Tensor)."""
    x = x.reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    n, m = x.shape[0], y.shape[0]
    kxx, kyy, kxy = gaussian_kernel(x, x, bandwidths), gaussian_kernel(y, y, bandwidths), gaussian_kernel(x, y,
                                                                                                          bandwidths)
    if unbiased:
        diag = float(len(bandwidths))   # k(x, x) = one per bandwidth
        return ((kxx.sum() - diag * n) / (n * (n - 1)) + (kyy.sum() - diag * m) / (m * (m - 1))
                - 2.0 * kxy.mean())
    return kxx.mean() + kyy.mean() - 2.0 * kxy.mean()


class GMMN(nn.Module):
    """Generator: z ~ U(-1, 1)^latent_dim -> MLP (ReLU) -> sigmoid pixels; loss = MMD^2(G(z), data batch)."""

    def __init__(self, latent_dim: int = 10, hidden=(64, 256, 256, 1024), out_features: int = 784,
                 bandwidths=GMMN_BANDWIDTHS, rng: np.random.Generator | None = None):
        super().__init__()
        self.latent_dim, self.bandwidths = latent_dim, tuple(bandwidths)
        self.net = mlp([latent_dim, *hidden, out_features], "relu", "sigmoid")
        self.rng = rng or np.random.default_rng(0)

    def latent(self, n: int) -> Tensor:
        return Tensor(self.rng.uniform(-1, 1, (n, self.latent_dim)).astype(np.float32))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)

    def loss(self, x: Tensor, y=None) -> tuple[Tensor, dict]:
        """MMD^2 between as many generated samples as x has rows and x itself."""
        loss = mmd2(self(self.latent(x.shape[0])), x, self.bandwidths)
        return loss, {"mmd2": float(loss.item())}

    def sample(self, n: int) -> np.ndarray:
        from ..autograd import no_grad
        with no_grad():
            return self(self.latent(n)).data
