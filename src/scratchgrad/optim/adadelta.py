"""Adadelta: RMSprop whose step size is itself a running RMS of past steps (no lr needed)."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _require


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012): units of the step match units of the weights.

    v <- rho v + (1 - rho) g * g
    d = sqrt(u + eps) / sqrt(v + eps) * g          (u: running average of squared steps)
    u <- rho u + (1 - rho) d * d
    W <- W - lr d                                    (lr = 1.0 by default)
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        _require(lr >= 0, f"Invalid learning rate: {lr}")
        _require(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _require(eps >= 0, f"Invalid epsilon value: {eps}")
        _require(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, p, group):
        return {"step": 0, "square_avg": np.zeros_like(p), "acc_delta": np.zeros_like(p)}

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        v, u = state["square_avg"], state["acc_delta"]
        t, d = self._scratch(p, 1), self._scratch(p, 2)
        v *= rho
        self._add_scaled(v, 1 - rho, np.multiply(g, g, out=t))
        std = np.sqrt(np.add(v, eps, out=t), out=t)
        d = np.sqrt(np.add(u, eps, out=d), out=d)
        d /= std
        d *= g
        u *= rho
        self._add_scaled(u, 1 - rho, np.multiply(d, d, out=t))
        self._add_scaled(p, -group["lr"], d)
