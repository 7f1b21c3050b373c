"""AdaGrad: a per-weight learning rate that shrinks with the gradients seen so far."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _require


class Adagrad(Optimizer):
    """AdaGrad (chapter 6): weights that moved a lot get smaller steps.

    h <- h + g * g                                  (h starts at initial_accumulator_value)
    W <- W - lr_t g / (sqrt(h) + eps),    lr_t = lr / (1 + (t - 1) lr_decay)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        _require(lr >= 0, f"Invalid learning rate: {lr}")
        _require(lr_decay >= 0, f"Invalid lr_decay value: {lr_decay}")
        _require(weight_decay >= 0, f"Invalid weight_decay value: {weight_decay}")
        _require(initial_accumulator_value >= 0,
                 f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _require(eps >= 0, f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))

    def _init_state(self, p, group):
        return {"step": 0, "sum": np.full_like(p, group["initial_accumulator_value"])}

    def _update(self, p, g, state, group):
        h, t = state["sum"], self._scratch(p, 1)
        lr_t = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        h += np.multiply(g, g, out=t)
        denom = np.sqrt(h, out=t)
        denom += group["eps"]
        self._add_scaled(p, -lr_t, np.divide(g, denom, out=t))
