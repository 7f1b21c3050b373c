"""Stochastic gradient descent, with momentum and Nesterov momentum."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _require


class SGD(Optimizer):
    """Stochastic gradient descent (chapter 6).

    Plain:     W <- W - lr g
    Momentum:  b <- momentum b + (1 - dampening) g          (b = g on the first step)
               W <- W - lr b
    Nesterov:  W <- W - lr (g + momentum b)

    The book writes momentum as  v <- a v - lr g;  W <- W + v.  PyTorch keeps the
    velocity without the learning rate (v = -lr b); both give the same steps while
    lr is constant, and PyTorch's form stays right when a scheduler changes lr.
    `g` already includes `weight_decay * W` and the sign flip of `maximize`.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        _require(lr >= 0, f"Invalid learning rate: {lr}")
        _require(momentum >= 0, f"Invalid momentum value: {momentum}")
        _require(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        _require(not nesterov or (momentum > 0 and dampening == 0),
                 "Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, p, g, state, group):
        momentum = group["momentum"]
        d = g
        if momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.astype(p.dtype)  # a copy
            else:
                b *= momentum
                self._add_scaled(b, 1 - group["dampening"], g)
            if group["nesterov"]:
                d = self._scratch(p, 1)
                np.copyto(d, g)
                self._add_scaled(d, momentum, b)  # d = g + momentum b
            else:
                d = b
        self._add_scaled(p, -group["lr"], d)
