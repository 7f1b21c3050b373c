"""RMSprop: AdaGrad with a decaying (exponential moving) average of g * g."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _require


class RMSprop(Optimizer):
    """RMSprop: AdaGrad that forgets old gradients.

    v <- alpha v + (1 - alpha) g * g
    centered:  m <- alpha m + (1 - alpha) g;   v~ = v - m * m   (estimate of the variance)
    W <- W - lr g / (sqrt(v~) + eps)
    with momentum:  b <- momentum b + g / (sqrt(v~) + eps);   W <- W - lr b
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        _require(lr >= 0, f"Invalid learning rate: {lr}")
        _require(eps >= 0, f"Invalid epsilon value: {eps}")
        _require(momentum >= 0, f"Invalid momentum value: {momentum}")
        _require(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        _require(alpha >= 0, f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, p, group):
        state = {"step": 0, "square_avg": np.zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p)
        return state

    def _update(self, p, g, state, group):
        alpha, lr, t = group["alpha"], group["lr"], self._scratch(p, 1)
        v = state["square_avg"]
        v *= alpha
        self._add_scaled(v, 1 - alpha, np.multiply(g, g, out=t))
        if group["centered"]:
            m = state["grad_avg"]
            m *= alpha
            self._add_scaled(m, 1 - alpha, g)
            denom = np.sqrt(np.subtract(v, np.multiply(m, m, out=t), out=t), out=t)
        else:
            denom = np.sqrt(v, out=t)
        denom += group["eps"]
        step = np.divide(g, denom, out=t)  # g / (sqrt(v~) + eps)
        if group["momentum"] > 0:
            b = state["momentum_buffer"]
            b *= group["momentum"]
            b += step
            step = b
        self._add_scaled(p, -lr, step)
