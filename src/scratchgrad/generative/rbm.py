"""Restricted Boltzmann machine with binary visible and hidden units, trained by contrastive divergence.

    E(v, h) = -b.v - c.h - h.W v                  v in {0,1}^n_visible, h in {0,1}^n_hidden
    p(v, h) = e^-E(v, h) / Z
    p(h_j = 1 | v) = sigmoid(c_j + W_j v)         p(v_i = 1 | h) = sigmoid(b_i + (W^T h)_i)
    F(v) = -log sum_h e^-E(v, h) = -b.v - sum_j softplus(c_j + W_j v)      (free energy)
    log p(v) = -F(v) - log Z

The log-likelihood gradient is a difference of two expectations of dF/dtheta, over the data and
over the model:  d(-log p(v))/dtheta = dF(v)/dtheta - E_model dF(v')/dtheta.  CD-k replaces the
model sample v' by k Gibbs steps started at the data; persistent CD (PCD, Tieleman 2008) keeps
the chains running across updates. Here the update is literally autograd on

    loss = mean F(v_data) - mean F(v_model)          (v_model a constant sample)

Z is intractable; `ais_log_partition` estimates log Z by annealed importance sampling
(Salakhutdinov & Murray, 2008) and `exact_log_partition` enumerates the hidden states of a small RBM.
"""
from __future__ import annotations

import math
import time

import numpy as np
from scipy.special import expit, logsumexp

from .. import nn
from ..autograd import no_grad
from ..ops import softplus
from ..tensor import Tensor, get_rng
from .common import binarize, minibatches


def _softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + e^a), stable and fast (NumPy; no graph)."""
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


class RBM(nn.Module):
    """Bernoulli-Bernoulli RBM: weight W (n_hidden, n_visible) ~ N(0, 0.01^2), v_bias b, h_bias c at 0."""

    def __init__(self, n_visible: int = 784, n_hidden: int = 500, init_std: float = 0.01):
        super().__init__()
        self.n_visible, self.n_hidden = n_visible, n_hidden
        rng = get_rng()
        self.weight = nn.Parameter(rng.normal(0.0, init_std, (n_hidden, n_visible)).astype(np.float32))
        self.v_bias = nn.Parameter(np.zeros(n_visible, np.float32))
        self.h_bias = nn.Parameter(np.zeros(n_hidden, np.float32))

    # ---- energies (differentiable) ----------------------------------------------------------------
    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """E(v, h) = -b.v - c.h - h.W v per sample: (N, n_visible), (N, n_hidden) -> (N,)."""
        return -(v @ self.v_bias) - (h @ self.h_bias) - ((h @ self.weight) * v).sum(1)

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) = -b.v - sum_j softplus(c_j + W_j v) per sample: (N, n_visible) -> (N,)."""
        return -(v @ self.v_bias) - softplus(v @ self.weight.T + self.h_bias).sum(1)

    forward = free_energy

    # ---- conditionals and Gibbs sampling (NumPy, no graph) ------------------------------------------
    def h_given_v(self, v: np.ndarray) -> np.ndarray:
        """p(h = 1 | v): (N, n_visible) -> (N, n_hidden)."""
        return expit(v @ self.weight.data.T + self.h_bias.data)

    def v_given_h(self, h: np.ndarray) -> np.ndarray:
        """p(v = 1 | h): (N, n_hidden) -> (N, n_visible)."""
        return expit(h @ self.weight.data + self.v_bias.data)

    def gibbs(self, v: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """k steps v -> h ~ p(h|v) -> v ~ p(v|h); returns the binary v after the last step."""
        for _ in range(k):
            h = binarize(self.h_given_v(v), rng)
            v = binarize(self.v_given_h(h), rng)
        return v

    def sample(self, n: int, steps: int = 1000, rng: np.random.Generator | None = None,
               v0: np.ndarray | None = None, marginals: np.ndarray | None = None) -> np.ndarray:
        """Pixel probabilities p(v | h) after `steps` Gibbs steps from v0, else from binary noise with the
        given per-pixel `marginals` (e.g. the training images' mean; default 0.5). An RBM trained on
        MNIST can have a spurious basin around p = 0.5 noise that chains started there never leave."""
        rng = rng or np.random.default_rng(0)
        if v0 is None:
            p = np.full(self.n_visible, 0.5, np.float32) if marginals is None else np.asarray(marginals, np.float32)
            v0 = binarize(np.broadcast_to(p, (n, self.n_visible)), rng)
        v = self.gibbs(v0, steps, rng)
        return self.v_given_h(binarize(self.h_given_v(v), rng))

    def reconstruct(self, v: np.ndarray) -> np.ndarray:
        """Mean-field reconstruction p(v | h = p(h | v))."""
        return self.v_given_h(self.h_given_v(v))

    def free_energy_numpy(self, v: np.ndarray) -> np.ndarray:
        """F(v) in NumPy float64 (for likelihood estimates)."""
        v = np.asarray(v, np.float64)
        W, b, c = (p.data.astype(np.float64) for p in (self.weight, self.v_bias, self.h_bias))
        return -(v @ b) - _softplus(v @ W.T + c).sum(1)

    def extra_repr(self):
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"


# ---- training -------------------------------------------------------------------------------------------
def train_rbm(rbm: RBM, x: np.ndarray, epochs: int = 1, batch_size: int = 100, lr: float = 0.05, k: int = 1,
              persistent: bool = False, momentum: float = 0.5, weight_decay: float = 2e-4,
              rng: np.random.Generator | None = None, chains: np.ndarray | None = None,
              verbose: bool = False, history: list | None = None, final_lr: float | None = None) -> list[dict]:
    """CD-k (persistent=False) or PCD-k on grey images x (dynamically binarised), SGD with momentum.

    final_lr: the learning rate decays linearly from lr to final_lr over the run (None: constant);
    PCD needs the decay (Tieleman, 2008): with a large constant step its chains cannot follow the model.
    Returns one record per epoch: mean reconstruction error (squared, per image), time. The
    persistent chains live in `rbm.chains` (a (batch_size, n_visible) array) between calls."""
    from .. import optim
    rng = rng or np.random.default_rng(0)
    opt = optim.SGD(rbm.parameters(), lr=lr, momentum=momentum)
    history = history if history is not None else []
    if persistent and getattr(rbm, "chains", None) is None:
        rbm.chains = chains if chains is not None else binarize(x[rng.choice(len(x), batch_size)], rng)
    total, done = epochs * (len(x) // batch_size), 0
    for _ in range(epochs):
        start, err, n = time.perf_counter(), 0.0, 0
        for step, idx in enumerate(minibatches(len(x), batch_size, rng)):
            if final_lr is not None:
                opt.param_groups[0]["lr"] = lr + (final_lr - lr) * done / max(total, 1)
            done += 1
            v0 = binarize(x[idx], rng)
            if persistent:
                rbm.chains = rbm.gibbs(rbm.chains, k, rng)
                vk = rbm.chains
            else:
                vk = rbm.gibbs(v0, k, rng)
            loss = rbm.free_energy(Tensor(v0)).mean() - rbm.free_energy(Tensor(vk)).mean()
            if weight_decay:   # L2 on the weights only (Hinton's practical guide)
                loss = loss + 0.5 * weight_decay * (rbm.weight * rbm.weight).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 10 == 0:   # monitoring only: the squared reconstruction error of every 10th batch
                with no_grad():
                    err += float(((v0 - rbm.reconstruct(v0)) ** 2).sum(1).mean())
                n += 1
        history.append({"epoch": len(history) + 1, "recon_error": err / max(n, 1), "k": k, "persistent": persistent,
                        "time_s": round(time.perf_counter() - start, 3)})
        if verbose:
            print(history[-1], flush=True)
    return history


# ---- the partition function --------------------------------------------------------------------------
def exact_log_partition(rbm: RBM, chunk: int = 4096) -> float:
    """log Z by enumerating all 2^n_hidden hidden states (n_hidden <= ~24):
    log Z = logsumexp_h [c.h + sum_i softplus(b_i + (W^T h)_i)]."""
    H = rbm.n_hidden
    if H > 24:
        raise ValueError(f"exact log Z enumerates 2^{H} states: use ais_log_partition for n_hidden > 24")
    W, b, c = (p.data.astype(np.float64) for p in (rbm.weight, rbm.v_bias, rbm.h_bias))
    bits = 1 << np.arange(H)
    parts = []
    for s in range(0, 1 << H, chunk):
        h = ((np.arange(s, min(s + chunk, 1 << H))[:, None] & bits) > 0).astype(np.float64)
        parts.append(logsumexp(h @ c + _softplus(h @ W + b).sum(1)))
    return float(logsumexp(parts))


def base_rate_biases(x: np.ndarray, smoothing: float = 0.05) -> np.ndarray:
    """Visible biases of the AIS base model: the log-odds of each pixel's mean (smoothed)."""
    p = (x.mean(0) * len(x) + smoothing) / (len(x) + 2 * smoothing)
    return np.log(p / (1 - p))


def sm08_betas() -> np.ndarray:
    """The 14,500-temperature schedule of Salakhutdinov & Murray (2008): steps of 1e-3 up to 0.5,
    1e-4 up to 0.9, 1e-5 up to 1 (most of the effort where the distribution is sharpest)."""
    return np.concatenate([np.arange(0, 0.5, 1e-3), np.arange(0.5, 0.9, 1e-4), np.arange(0.9, 1.0, 1e-5), [1.0]])


def ais_log_partition(rbm: RBM, n_runs: int = 100, n_betas: int = 10000, base_v_bias: np.ndarray | None = None,
                      rng: np.random.Generator | None = None, betas=None) -> dict:
    """Annealed importance sampling estimate of log Z (Salakhutdinov & Murray, 2008).

    Anneal from a base RBM A (no weights, visible biases b_A: log Z_A = sum softplus(b_A) + H log 2)
    to the target B through p_k(v) ~ exp((1-beta_k) b_A.v + beta_k b.v + sum_j softplus(beta_k (c_j + W_j v))),
    betas uniform on [0, 1] (or the given increasing `betas` from 0 to 1, e.g. sm08_betas()). Each of
    n_runs chains accumulates log w += log p*_k(v) - log p*_{k-1}(v), then moves by one Gibbs step that
    leaves p_k invariant. log Z_B ~ log Z_A + log mean(w).
    Returns {"log_z", "log_z_low", "log_z_high" (log of mean(w) -+ 3 standard errors), "n_runs", "n_betas"}."""
    rng = rng or np.random.default_rng(0)
    W, b, c = (p.data.astype(np.float32) for p in (rbm.weight, rbm.v_bias, rbm.h_bias))
    bA = np.zeros_like(b) if base_v_bias is None else np.asarray(base_v_bias, np.float32)
    log_za = float(_softplus(bA.astype(np.float64)).sum() + rbm.n_hidden * math.log(2))
    betas = (np.linspace(0.0, 1.0, n_betas + 1) if betas is None else np.asarray(betas, np.float64)).tolist()
    n_betas = len(betas) - 1   # (Python floats keep the arrays float32)
    # log p*_k(v) - log p*_{k-1}(v) = (beta_k - beta_{k-1}) (b - b_A).v
    #                                 + sum_j [softplus(beta_k a_j) - softplus(beta_{k-1} a_j)]
    # with a = W v + c: one GEMM serves the weight update and the hidden sample (GEMMs in float32, sums in float64)
    v = binarize(np.broadcast_to(expit(bA), (n_runs, len(b))), rng)      # exact samples of the base model
    logw = np.zeros(n_runs)
    for beta_prev, beta in zip(betas[:-1], betas[1:]):
        a = v @ W.T + c
        logw += ((beta - beta_prev) * (v @ (b - bA)) + _softplus(beta * a).sum(1, dtype=np.float64)
                 - _softplus(beta_prev * a).sum(1, dtype=np.float64))
        h = binarize(expit(beta * a), rng)
        v = binarize(expit((1 - beta) * bA + beta * (b + h @ W)), rng)
    log_mean_w = logsumexp(logw) - math.log(n_runs)
    # +-3 standard errors of mean(w), computed relative to max(w) to stay finite
    w = np.exp(logw - logw.max())
    se = w.std(ddof=1) / math.sqrt(n_runs) / w.mean() if n_runs > 1 else 0.0
    return {"log_z": log_za + log_mean_w, "log_z_low": log_za + log_mean_w + math.log(max(1 - 3 * se, 1e-300)),
            "log_z_high": log_za + log_mean_w + math.log(1 + 3 * se), "n_runs": n_runs, "n_betas": n_betas}


def log_likelihood(rbm: RBM, v: np.ndarray, log_z: float) -> float:
    """Mean log p(v) = -F(v) - log Z over binary images v (nats per image)."""
    return float(-rbm.free_energy_numpy(v).mean() - log_z)
