"""Adam and AdamW: momentum plus RMSprop, with bias correction."""
from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, _require


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015; chapter 6): momentum (m) + RMSprop (v), bias-corrected.

    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) g * g               (amsgrad: use v_max <- max(v_max, v) below)
    W <- W - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    `weight_decay` adds `weight_decay * W` to g (L2). With `decoupled_weight_decay`
    (that is AdamW) it shrinks the weights instead:  W <- W (1 - lr weight_decay).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        _require(lr >= 0, f"Invalid learning rate: {lr}")
        _require(eps >= 0, f"Invalid epsilon value: {eps}")
        _require(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _require(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _require(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, p, group):
        state = {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        return state

    def _update(self, p, g, state, group):
        (beta1, beta2), lr, step = group["betas"], group["lr"], state["step"]
        m, v, t = state["exp_avg"], state["exp_avg_sq"], self._scratch(p, 1)
        if group["decoupled_weight_decay"] and group["weight_decay"] != 0:
            p *= 1 - lr * group["weight_decay"]
        m *= beta1
        self._add_scaled(m, 1 - beta1, g)
        v *= beta2
        self._add_scaled(v, 1 - beta2, np.multiply(g, g, out=t))
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = np.sqrt(v, out=t)
        denom /= math.sqrt(1 - beta2 ** step)
        denom += group["eps"]
        self._add_scaled(p, -lr / (1 - beta1 ** step), np.divide(m, denom, out=t))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019):  W <- W (1 - lr wd), then Adam."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
