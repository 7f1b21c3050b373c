"""Variational autoencoders: VAE, conditional VAE, beta-VAE (Kingma & Welling, 2014; Sohn et al., 2015;
Higgins et al., 2017).

The notes (第四章): encode x into a normal distribution over the latent code z, decode z back.

    q(z | x) = N(mu(x), diag sigma^2(x))        encoder
    p(x | z) = Bernoulli(sigmoid(f(z)))         decoder (or Gaussian N(f(z), s^2 I))
    p(z)     = N(0, I)                          prior: decode z ~ p(z) to create new samples

    log p(x) >= ELBO = E_q log p(x | z) - KL(q(z | x) || p(z))
    KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)        (analytic for two Gaussians)
    z = mu + sigma * eps, eps ~ N(0, I)                               (reparameterisation: gradients reach mu, sigma)

beta-VAE weights the KL by beta; a conditional VAE feeds the one-hot label to both networks.
`log_likelihood` is the importance-sampled bound with k samples (Burda et al., 2016), which tends to
log p(x) as k grows:  log p(x) ~ logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log k.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, logsumexp

from .. import nn
from ..autograd import no_grad
from ..ops import exp
from ..tensor import Tensor, get_rng
from .autoencoder import bernoulli_nll
from .common import mlp, one_hot

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, e^logvar) || N(0, I)) per sample: (N, L) -> (N,)."""
    return -0.5 * (1.0 + logvar - mu * mu - exp(logvar)).sum(1)


def reparameterize(mu: Tensor, logvar: Tensor, rng: np.random.Generator | None = None) -> Tensor:
    """z = mu + e^(logvar / 2) * eps, eps ~ N(0, I) (a constant): differentiable in mu and logvar."""
    eps = (rng or get_rng()).standard_normal(mu.shape, dtype=np.float32).astype(mu.dtype)
    return mu + exp(0.5 * logvar) * Tensor(eps)


class VAE(nn.Module):
    """MLP encoder x [+ y] -> hidden -> (mu, logvar); MLP decoder z [+ y] -> hidden -> x parameters.

    decoder="bernoulli": logits of p(x|z) (binary pixels). decoder="gaussian": the mean of
    N(mean, s^2 I) with one learned log s (parameter `log_sigma`; its optimum is the RMS error).
    num_classes > 0 makes it a conditional VAE; beta != 1 a beta-VAE."""

    def __init__(self, in_features: int = 784, hidden=(400,), latent_dim: int = 20, decoder: str = "bernoulli",
                 num_classes: int = 0, beta: float = 1.0, activation: str = "relu"):
        super().__init__()
        if decoder not in ("bernoulli", "gaussian"):
            raise ValueError(f"decoder must be 'bernoulli' or 'gaussian', got {decoder!r}")
        self.in_features, self.latent_dim, self.num_classes = in_features, latent_dim, num_classes
        self.decoder_type, self.beta = decoder, beta
        self.encoder = mlp([in_features + num_classes, *hidden], activation, out_activation=activation)
        self.fc_mu = nn.Linear(hidden[-1], latent_dim)
        self.fc_logvar = nn.Linear(hidden[-1], latent_dim)
        self.decoder = mlp([latent_dim + num_classes, *reversed(hidden), in_features], activation)
        if decoder == "gaussian":
            self.log_sigma = nn.Parameter(np.zeros(1, np.float32))

    # ---- the two networks ------------------------------------------------------------------------
    def _cond(self, h: Tensor, y) -> Tensor:
        if not self.num_classes:
            return h
        if y is None:
            raise ValueError("a conditional VAE needs the labels y")
        from ..ops import cat
        y = y.data if isinstance(y, Tensor) else np.asarray(y)
        return cat([h, Tensor(one_hot(y, self.num_classes, h.dtype) if y.ndim == 1 else y.astype(h.dtype))], 1)

    def encode(self, x: Tensor, y=None) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (N, latent_dim)."""
        h = self.encoder(self._cond(x, y))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: Tensor, y=None) -> Tensor:
        """Decoder output (N, in_features): Bernoulli logits or the Gaussian mean."""
        return self.decoder(self._cond(z, y))

    def forward(self, x: Tensor, y=None):
        """(decoder output, mu, logvar) for one reparameterised sample z per x."""
        mu, logvar = self.encode(x, y)
        return self.decode(reparameterize(mu, logvar), y), mu, logvar

    # ---- likelihood and ELBO ---------------------------------------------------------------------
    def log_px_given_z(self, out: Tensor, x: Tensor) -> Tensor:
        """log p(x | z) per sample, (N,): Bernoulli -sum BCE; Gaussian -1/2 sum ((x-m)/s)^2 - D log s - D/2 log 2pi."""
        if self.decoder_type == "bernoulli":
            return -bernoulli_nll(out, x)
        d = (x - out) * exp(-self.log_sigma)
        D = x.shape[1]
        return -0.5 * (d * d).sum(1) - D * self.log_sigma - 0.5 * D * LOG_2PI

    def _log_px_numpy(self, out: np.ndarray, x: np.ndarray) -> np.ndarray:
        """log p(x | z) summed over the last axis, in NumPy (the no-graph evaluation path; ~10x faster
        than np.logaddexp: softplus(l) = max(l, 0) + log1p(e^-|l|))."""
        if self.decoder_type == "bernoulli":
            return -(np.maximum(out, 0) - x * out + np.log1p(np.exp(-np.abs(out)))).sum(-1)
        s = float(self.log_sigma.data[0])
        d = (x - out) * math.exp(-s)
        D = out.shape[-1]
        return -0.5 * (d * d).sum(-1) - D * s - 0.5 * D * LOG_2PI

    def elbo_terms(self, x: Tensor, y=None) -> tuple[Tensor, Tensor]:
        """(reconstruction -log p(x|z), KL(q(z|x) || p(z))), each (N,), one sample of z: -ELBO = rec + kl."""
        out, mu, logvar = self(x, y)
        return -self.log_px_given_z(out, x), gaussian_kl(mu, logvar)

    def loss(self, x: Tensor, y=None) -> tuple[Tensor, dict]:
        """mean(rec + beta * kl): the negative ELBO (beta = 1) in nats per image, and its parts."""
        rec, kl = self.elbo_terms(x, y)
        rec, kl = rec.mean(), kl.mean()
        loss = rec + self.beta * kl
        return loss, {"loss": float(loss.item()), "rec": float(rec.item()), "kl": float(kl.item()),
                      "neg_elbo": float(rec.item() + kl.item())}

    @no_grad()
    def evaluate(self, x: np.ndarray, y=None, batch_size: int = 1000) -> dict:
        """Mean -ELBO, reconstruction and KL (nats per image) over x (already binary for Bernoulli), eval mode."""
        was = self.training
        self.eval()
        rec = kl = 0.0
        for s in range(0, len(x), batch_size):
            r, k = self.elbo_terms(Tensor(x[s:s + batch_size]), None if y is None else y[s:s + batch_size])
            rec, kl = rec + float(r.data.sum()), kl + float(k.data.sum())
        self.train(was)
        n = len(x)
        return {"neg_elbo": (rec + kl) / n, "rec": rec / n, "kl": kl / n}

    @no_grad()
    def log_likelihood(self, x: np.ndarray, y=None, k: int = 1000, samples_per_pass: int = 8192,
                       rng: np.random.Generator | None = None) -> np.ndarray:
        """Importance-sampled log p(x) with k samples from q(z|x) per image: (N,) nats.

        Vectorised over images and samples: each decoder pass handles ~samples_per_pass (image, z) pairs."""
        rng = rng or np.random.default_rng(0)
        was = self.training
        self.eval()
        L = self.latent_dim
        rows = max(1, samples_per_pass // k)                 # images per pass when k is small
        ks = min(k, samples_per_pass)                         # samples per pass when k is large
        out = np.empty(len(x), dtype=np.float64)
        for s in range(0, len(x), rows):
            xb = x[s:s + rows]
            yb = None if y is None else np.asarray(y[s:s + rows])
            mu, logvar = (t.data for t in self.encode(Tensor(xb), yb))
            std = np.exp(0.5 * logvar)
            logw = []
            for j in range(0, k, ks):
                m = min(ks, k - j)
                eps = rng.standard_normal((len(xb), m, L), dtype=np.float32)
                z = mu[:, None] + std[:, None] * eps                               # (B, m, L)
                yz = None if yb is None else np.repeat(yb, m, axis=0)
                dec = self.decode(Tensor(z.reshape(-1, L)), yz).data.reshape(len(xb), m, -1)
                lpx = self._log_px_numpy(dec, xb[:, None])                          # (B, m)
                lpz = -0.5 * (z * z).sum(2)                                         # log N(z; 0, I) + const
                lqz = -0.5 * (eps * eps + logvar[:, None]).sum(2)                   # log q(z|x) + same const
                logw.append(lpx.astype(np.float64) + lpz - lqz)
            out[s:s + rows] = logsumexp(np.concatenate(logw, 1), axis=1) - math.log(k)
        self.train(was)
        return out

    # ---- generation ------------------------------------------------------------------------------
    def mean_image(self, out: Tensor) -> np.ndarray:
        """Decoder output -> pixel means in [0, 1] (sigmoid of Bernoulli logits, clipped Gaussian mean)."""
        a = out.data
        return expit(a) if self.decoder_type == "bernoulli" else np.clip(a, 0, 1)

    @no_grad()
    def sample(self, n: int, y=None, rng: np.random.Generator | None = None) -> np.ndarray:
        """n pixel-mean images decoded from z ~ N(0, I) (with labels y for a conditional VAE)."""
        rng = rng or get_rng()
        z = rng.standard_normal((n, self.latent_dim), dtype=np.float32)
        return self.decode_latent(z, y)

    @no_grad()
    def decode_latent(self, z: np.ndarray, y=None) -> np.ndarray:
        """Pixel means for given codes z (N, latent_dim), eval mode."""
        was = self.training
        self.eval()
        img = self.mean_image(self.decode(Tensor(np.asarray(z, dtype=np.float32)), y))
        self.train(was)
        return img

    def extra_repr(self):
        return f"latent_dim={self.latent_dim}, decoder={self.decoder_type}, num_classes={self.num_classes}, " \
               f"beta={self.beta}"


# ---- figures' raw material ----------------------------------------------------------------------------
def latent_manifold(model: VAE, n: int = 20, y=None) -> np.ndarray:
    """For a 2-D latent: decode an n x n grid of z at the N(0, 1) quantiles 0.05..0.95 -> (n*n, D) images."""
    from scipy.stats import norm
    if model.latent_dim != 2:
        raise ValueError(f"latent_manifold needs latent_dim=2, got {model.latent_dim}")
    q = norm.ppf(np.linspace(0.05, 0.95, n)).astype(np.float32)
    z = np.stack(np.meshgrid(q, q[::-1]), -1).reshape(-1, 2)
    return model.decode_latent(z, None if y is None else np.full(len(z), y))


def interpolate(model: VAE, x_a: np.ndarray, x_b: np.ndarray, steps: int = 10) -> np.ndarray:
    """Decode the straight line between the posterior means of two images: (steps, D)."""
    with no_grad():
        mu = model.encode(Tensor(np.stack([x_a, x_b])))[0].data
    t = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
    return model.decode_latent((1 - t) * mu[0] + t * mu[1])


def latent_traversal(model: VAE, x: np.ndarray, values=np.linspace(-3, 3, 9), dims=None) -> np.ndarray:
    """Vary one latent coordinate at a time around x's posterior mean: (len(dims) * len(values), D)
    (rows = dims; the beta-VAE figure: with larger beta single coordinates tend to mean single factors)."""
    with no_grad():
        mu = model.encode(Tensor(x[None]))[0].data[0]
    dims = range(model.latent_dim) if dims is None else dims
    z = np.repeat(mu[None], len(dims) * len(values), 0).reshape(len(dims), len(values), -1)
    for i, d in enumerate(dims):
        z[i, :, d] = values
    return model.decode_latent(z.reshape(-1, model.latent_dim))
