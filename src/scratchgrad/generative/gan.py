"""Generative adversarial networks: the losses of the GAN family and one trainer for all of them.

The notes (第五章): a discriminator D learns to tell data x from generated G(z); the generator G
learns to make D fail.  min_G max_D  E_x log D(x) + E_z log(1 - D(G(z))).
For a fixed G the best D gives the generator the loss 2 JS(p_data || p_G) - log 4; when the two
distributions live on disjoint low-dimensional sets, JS is the constant log 2 and the gradient
vanishes (lab `gan-vanishing-gradient`). The fixes collected here:

    loss name         discriminator / critic                     generator
    "gan"   minimax   BCE(D(x), 1) + BCE(D(G(z)), 0)             E log(1 - D(G(z)))     (saturates)
    "ns"    non-sat.  same                                       -E log D(G(z))
    "wgan"  clipping  E C(G(z)) - E C(x), weights clipped to +-c -E C(G(z))
    "wgan-gp"         same + lambda E (||grad_x^ C(x^)|| - 1)^2   -E C(G(z))
    "fgan-<div>"      -(E g(V(x)) - E f*(g(V(G(z)))))            -E g(V(G(z)))
plus one-sided label smoothing (real targets 0.9), feature matching (G matches the mean of an
intermediate D layer) and conditional models (G(z, y), D(x, y)). D returns raw scores (logits).

Any Modules work as G and D (MLPs here, DCGAN's conv nets in dcgan.py): G(z[, y]) with a
`latent_dim` attribute, D(x[, y]) -> (N,) or (N, 1) scores, and `D.features(x[, y])` for feature
matching.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

from .. import nn
from ..autograd import grad
from ..nn import functional as F
from ..ops import cat, exp, softplus, sqrt
from ..tensor import Tensor, get_rng
from .common import mlp, one_hot


# ---- the original game -----------------------------------------------------------------------
def _scores(logits: Tensor) -> Tensor:
    return logits.reshape(-1) if logits.ndim > 1 else logits


def d_loss(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """-[E log D(x) + E log(1 - D(G(z)))], D = sigmoid(logit): the discriminator's BCE on both halves.

    real_label < 1 is one-sided label smoothing (Salimans et al., 2016): real targets 0.9 say, fake
    targets stay 0, so D cannot become over-confident on the data."""
    real, fake = _scores(real_logits), _scores(fake_logits)
    return (F.binary_cross_entropy_with_logits(real, Tensor(np.full(real.shape, real_label, real.dtype)))
            + F.binary_cross_entropy_with_logits(fake, Tensor(np.zeros(fake.shape, fake.dtype))))


def g_loss_minimax(fake_logits: Tensor) -> Tensor:
    """E log(1 - D(G(z))) = -E softplus(a) (a = logit), minimised by G: flat when D(G(z)) -> 0."""
    return -softplus(_scores(fake_logits)).mean()


def g_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """-E log D(G(z)) = E softplus(-a): steep exactly where the minimax loss is flat."""
    return softplus(-_scores(fake_logits)).mean()


# ---- Wasserstein critics (Arjovsky et al., 2017; Gulrajani et al., 2017) ----------------------
def wgan_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E C(G(z)) - E C(x): its negative estimates W1(p_data, p_G) when C is 1-Lipschitz."""
    return _scores(fake_scores).mean() - _scores(real_scores).mean()


def wgan_generator_loss(fake_scores: Tensor) -> Tensor:
    """-E C(G(z))."""
    return -_scores(fake_scores).mean()


def clip_weights_(module, c: float) -> None:
    """WGAN's crude Lipschitz constraint: every parameter clipped to [-c, c] in place."""
    for p in module.parameters():
        np.clip(p.data, -c, c, out=p.data)
        p._version += 1


def gradient_penalty(D, real: Tensor, fake: Tensor, *cond, rng: np.random.Generator | None = None) -> Tensor:
    """E (||grad_x^ D(x^)||_2 - 1)^2 at x^ = e x + (1 - e) G(z), e ~ U(0, 1) per sample (WGAN-GP).

    The gradient is taken with create_graph=True, so the penalty itself is differentiable with
    respect to D's parameters (a second-order gradient: d/dtheta of a d/dx)."""
    rng = rng or get_rng()
    r, f = real.data, fake.data.reshape(real.shape)   # e.g. flat data, (N, 1, 28, 28) conv samples
    e = rng.random((r.shape[0],) + (1,) * (r.ndim - 1), dtype=np.float32).astype(r.dtype)
    x_hat = Tensor(e * r + (1 - e) * f, requires_grad=True)
    (g,) = grad(D(x_hat, *cond).sum(), x_hat, create_graph=True)
    norm = sqrt((g * g).reshape(g.shape[0], -1).sum(1) + 1e-12)
    return ((norm - 1.0) ** 2).mean()


# ---- feature matching (Salimans et al., 2016) -------------------------------------------------
def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """|| E f(x) - E f(G(z)) ||^2 with f an intermediate layer of D (real features are constants)."""
    d = real_features.detach().mean(0) - fake_features.mean(0)
    return (d * d).sum()


# ---- f-GAN (Nowozin et al., 2016) -----------------------------------------------------------
@dataclass(frozen=True)
class FDivergence:
    """D_f(P || Q) = E_Q f(p/q) >= sup_T  E_P T(x) - E_Q f*(T(x))   (f* the convex conjugate of f).

    The critic outputs an unbounded V(x); T = activation(V) maps it into f*'s domain.
    `conjugate_of_activation(v)` = f*(activation(v)) in a closed, stable form."""
    name: str
    f: Callable            # generator f(u), NumPy (reference values)
    conjugate: Callable    # f*(t), NumPy (reference values)
    activation: Callable   # g_f(v), Tensor -> Tensor
    conjugate_of_activation: Callable  # f*(g_f(v)), Tensor -> Tensor

    def divergence(self, p: np.ndarray, q: np.ndarray) -> float:
        """D_f(P || Q) = sum_x q(x) f(p(x) / q(x)) for discrete distributions (q > 0)."""
        return float(np.sum(q * self.f(p / q)))


LOG2 = math.log(2.0)
F_DIVERGENCES = {
    "kl": FDivergence("kl", lambda u: u * np.log(u), lambda t: np.exp(t - 1.0),
                      lambda v: v, lambda v: exp(v - 1.0)),
    "reverse-kl": FDivergence("reverse-kl", lambda u: -np.log(u), lambda t: -1.0 - np.log(-t),
                              lambda v: -exp(-v), lambda v: v - 1.0),
    # with this f, D_f = 2 JS(P || Q) (JS in nats, at most log 2)
    "js": FDivergence("js", lambda u: -(u + 1.0) * np.log((1.0 + u) / 2.0) + u * np.log(u),
                      lambda t: -np.log(2.0 - np.exp(t)),
                      lambda v: LOG2 - softplus(-v), lambda v: softplus(v) - LOG2),
    "pearson": FDivergence("pearson", lambda u: (u - 1.0) ** 2, lambda t: 0.25 * t * t + t,
                           lambda v: v, lambda v: 0.25 * v * v + v),
    "hellinger": FDivergence("hellinger", lambda u: (np.sqrt(u) - 1.0) ** 2, lambda t: t / (1.0 - t),
                             lambda v: 1.0 - exp(-v), lambda v: exp(v) - 1.0),
}


def fgan_d_loss(real_v: Tensor, fake_v: Tensor, div: FDivergence | str) -> Tensor:
    """-(E_P g(V(x)) - E_Q f*(g(V(G(z))))): minimised, it makes the bracket a lower bound of D_f(P || Q)."""
    div = F_DIVERGENCES[div] if isinstance(div, str) else div
    return -(div.activation(_scores(real_v)).mean() - div.conjugate_of_activation(_scores(fake_v)).mean())


def fgan_g_loss(fake_v: Tensor, div: FDivergence | str, saturating: bool = False) -> Tensor:
    """-E g(V(G(z))) (the f-GAN paper's non-saturating choice), or E -f*(g(V(G(z)))) (the minimax one)."""
    div = F_DIVERGENCES[div] if isinstance(div, str) else div
    v = _scores(fake_v)
    return -div.conjugate_of_activation(v).mean() if saturating else -div.activation(v).mean()


# ---- MLP generator and discriminator -------------------------------------------------------------
def _with_condition(x: Tensor, y, num_classes: int) -> Tensor:
    """Append one-hot labels to the features: (N, D) + y (N,) -> (N, D + num_classes)."""
    if not num_classes:
        return x
    if y is None:
        raise ValueError("this model is conditional: pass the labels y")
    y = y.data if isinstance(y, Tensor) else np.asarray(y)
    if y.ndim == 1:
        y = one_hot(y, num_classes, x.dtype)
    return cat([x, Tensor(y.astype(x.dtype, copy=False))], 1)


class MLPGenerator(nn.Module):
    """z (N, latent_dim) [+ one-hot y] -> Linear -> [BN] -> ReLU ... -> Linear -> tanh: (N, out_features)."""

    def __init__(self, latent_dim: int = 64, hidden=(256, 512), out_features: int = 784,
                 out_activation: str | None = "tanh", num_classes: int = 0, batchnorm: bool = True):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.net = mlp([latent_dim + num_classes, *hidden, out_features], "relu", out_activation, batchnorm)

    def forward(self, z, y=None):
        return self.net(_with_condition(z, y, self.num_classes))


class MLPDiscriminator(nn.Module):
    """x (N, in_features) [+ one-hot y] -> Linear -> LeakyReLU(0.2) ... -> Linear: (N,) scores.

    `features(x)` is the last hidden layer (for feature matching); `spectral=True` wraps every
    Linear in spectral normalisation."""

    def __init__(self, in_features: int = 784, hidden=(512, 256), num_classes: int = 0, spectral: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        from .spectral_norm import spectral_norm
        self.num_classes = num_classes
        self.body = mlp([in_features + num_classes, *hidden], "leaky_relu", "leaky_relu", dropout=dropout)
        self.head = nn.Linear(hidden[-1], 1)
        if spectral:
            for m in list(self.body) + [self.head]:
                if isinstance(m, nn.Linear):
                    spectral_norm(m)

    def features(self, x, y=None):
        return self.body(_with_condition(x.reshape(x.shape[0], -1), y, self.num_classes))

    def forward(self, x, y=None):
        return self.head(self.features(x, y)).reshape(-1)


# ---- training ------------------------------------------------------------------------------------
GAN_LOSSES = ("gan", "ns", "wgan", "wgan-gp") + tuple(f"fgan-{k}" for k in F_DIVERGENCES)
# per loss: optimizer, learning rate, Adam betas, critic steps per generator step (the papers' settings)
GAN_DEFAULTS = {
    "wgan": dict(optimizer="rmsprop", lr=5e-5, betas=None, n_critic=5),
    "wgan-gp": dict(optimizer="adam", lr=1e-4, betas=(0.5, 0.9), n_critic=5),
}
_DEFAULT = dict(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)


class GANTrainer:
    """Alternating updates: `n_critic` discriminator (critic) steps, then one generator step.

        trainer = GANTrainer(G, D, loss="wgan-gp")
        history = trainer.fit(sample_real, iterations=5000, batch_size=64)

    sample_real(n) -> (x ndarray (n, ...), y int labels (n,) or None). Options: label_smoothing (real
    target 1 - s, one-sided), feature_matching (G minimises ||E f(x) - E f(G(z))||^2 on D.features),
    gp_weight (wgan-gp's lambda), clip (wgan's c), num_classes > 0 for a conditional GAN.

    ema > 0 keeps an exponential moving average of G's weights (Yazici et al., 2019), updated after
    every generator step, G_ema <- a G_ema + (1 - a) G with a = min(ema, (1 + t) / (10 + t)) at step t
    (the warm-up of tf.train.ExponentialMovingAverage: early on, the untrained initial weights would
    otherwise keep a weight ema^t): the average of the generators along the oscillating path of the game
    samples better than its last point. `G_ema` (default: a copy of G)
    is what `generate` samples from; `recalibrate_batch_norm()` re-estimates its batch-norm statistics."""

    def __init__(self, G, D, loss: str = "ns", lr: float | None = None, lr_d: float | None = None,
                 betas=None, n_critic: int | None = None, gp_weight: float = 10.0, clip: float = 0.01,
                 label_smoothing: float = 0.0, feature_matching: bool = False, num_classes: int = 0,
                 rng: np.random.Generator | None = None, ema: float = 0.0, G_ema=None):
        from .. import optim
        if loss not in GAN_LOSSES:
            raise ValueError(f"unknown GAN loss {loss!r}; choose from {', '.join(GAN_LOSSES)}")
        cfg = GAN_DEFAULTS.get(loss, _DEFAULT)
        self.G, self.D, self.loss = G, D, loss
        self.n_critic = n_critic or cfg["n_critic"]
        self.gp_weight, self.clip, self.label_smoothing = gp_weight, clip, label_smoothing
        self.feature_matching, self.num_classes = feature_matching, num_classes
        self.div = F_DIVERGENCES[loss[5:]] if loss.startswith("fgan-") else None
        self.rng = rng or np.random.default_rng(0)
        lr_g = lr or cfg["lr"]
        lr_d = lr_d or lr_g

        def make(params, lr_):
            if cfg["optimizer"] == "rmsprop":
                return optim.RMSprop(params, lr=lr_)
            return optim.Adam(params, lr=lr_, betas=betas or cfg["betas"])
        self.opt_g, self.opt_d = make(G.parameters(), lr_g), make(D.parameters(), lr_d)
        self.iteration = 0
        self.ema, self.G_ema = ema, None
        if ema:
            self.G_ema = copy.deepcopy(G) if G_ema is None else G_ema
            self.G_ema.load_state_dict(G.state_dict())
            self.G_ema.requires_grad_(False)

    def latent(self, n: int) -> Tensor:
        """z ~ N(0, I): (n, G.latent_dim) float32."""
        return Tensor(self.rng.standard_normal((n, self.G.latent_dim), dtype=np.float32))

    def _cond(self, y):
        return (y,) if self.num_classes else ()

    def generate(self, n: int, y=None) -> Tensor:
        """n samples from G (G_ema if ema > 0) in eval mode, without a graph."""
        from ..autograd import no_grad
        G = self.G if self.G_ema is None else self.G_ema
        was = G.training
        G.eval()
        with no_grad():
            x = G(self.latent(n), *self._cond(y))
        G.train(was)
        return x

    def update_ema(self) -> None:
        """G_ema <- a G_ema + (1 - a) G in place, a = min(ema, (1 + t) / (10 + t)) after t generator steps
        (buffers are recomputed by recalibrate_batch_norm)."""
        t = self.iteration
        a = min(self.ema, (1.0 + t) / (10.0 + t))
        for avg, p in zip(self.G_ema.parameters(), self.G.parameters()):
            avg.data *= a
            avg.data += (1.0 - a) * p.data
            avg._version += 1

    def recalibrate_batch_norm(self, batches: int = 10, batch_size: int = 256, seed: int = 0) -> None:
        """G_ema's batch-norm running statistics as exact averages over `batches` batches of fresh z
        (train-mode forwards without a graph; momentum None = cumulative average). The averaged weights
        never ran forward while training, so G's running statistics do not fit them."""
        from ..autograd import no_grad
        G = self.G_ema
        norms = [m for m in G.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
        if not norms:
            return
        rng, momenta, was = np.random.default_rng(seed), [m.momentum for m in norms], G.training
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        G.train()
        with no_grad():
            for _ in range(batches):
                z = Tensor(rng.standard_normal((batch_size, G.latent_dim), dtype=np.float32))
                G(z, *self._cond(rng.integers(0, max(self.num_classes, 1), batch_size)))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        G.train(was)

    def d_step(self, real: Tensor, y=None) -> dict:
        """One discriminator/critic update on a real batch and as many fresh fakes; returns its numbers."""
        from ..autograd import no_grad
        cond = self._cond(y)
        with no_grad():
            fake = self.G(self.latent(real.shape[0]), *cond)
        real_s, fake_s = self.D(real, *cond), self.D(fake, *cond)
        stats = {}
        if self.loss in ("gan", "ns"):
            loss = d_loss(real_s, fake_s, 1.0 - self.label_smoothing)
            stats["d_real"] = float(np.mean(expit(real_s.data)))
            stats["d_fake"] = float(np.mean(expit(fake_s.data)))
        elif self.div is not None:
            loss = fgan_d_loss(real_s, fake_s, self.div)
            stats["divergence_bound"] = -float(loss.item())
        else:
            loss = wgan_critic_loss(real_s, fake_s)
            stats["w_estimate"] = -float(loss.item())
            if self.loss == "wgan-gp":
                gp = gradient_penalty(self.D, real, fake, *cond, rng=self.rng)
                stats["gradient_penalty"] = float(gp.item())
                loss = loss + self.gp_weight * gp
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        if self.loss == "wgan":
            clip_weights_(self.D, self.clip)
        stats["d_loss"] = float(loss.item())
        return stats

    def g_step(self, real: Tensor, y=None) -> dict:
        """One generator update (D is frozen: no gradients are computed for its weights)."""
        cond = self._cond(y)
        self.D.requires_grad_(False)
        try:
            fake = self.G(self.latent(real.shape[0]), *cond)
            if self.feature_matching:
                loss = feature_matching_loss(self.D.features(real, *cond), self.D.features(fake, *cond))
            else:
                s = self.D(fake, *cond)
                if self.loss == "gan":
                    loss = g_loss_minimax(s)
                elif self.loss == "ns":
                    loss = g_loss_nonsaturating(s)
                elif self.div is not None:
                    loss = fgan_g_loss(s, self.div)
                else:
                    loss = wgan_generator_loss(s)
            self.opt_g.zero_grad()
            loss.backward()
            self.opt_g.step()
            if self.ema:
                self.update_ema()
        finally:
            self.D.requires_grad_(True)
        return {"g_loss": float(loss.item())}

    def fit(self, sample_real, iterations: int, batch_size: int = 64, callback=None, every: int = 100,
            history: dict | None = None, time_limit_s: float | None = None, schedulers=()) -> dict:
        """`iterations` rounds of (n_critic D steps, 1 G step). history: lists per recorded number.
        callback(iteration, trainer) runs every `every` iterations (sample grids, metrics, checkpoints).
        time_limit_s: stop after the round that passes this many seconds (self.iteration tells how far).
        schedulers: learning-rate schedulers (of opt_g, opt_d) stepped once per round."""
        history = history if history is not None else {}
        self.G.train()
        self.D.train()
        start = time.perf_counter()
        for _ in range(iterations):
            if time_limit_s is not None and time.perf_counter() - start >= time_limit_s:
                break
            for _ in range(self.n_critic):
                x, y = sample_real(batch_size)
                d = self.d_step(Tensor(x), y)
            g = self.g_step(Tensor(x), y)
            self.iteration += 1
            for scheduler in schedulers:
                scheduler.step()
            for k, v in {**d, **g}.items():
                history.setdefault(k, []).append(v)
            if callback is not None and self.iteration % every == 0:
                callback(self.iteration, self)
        return history
