"""`Optimizer`: the base class every update rule (SGD, Adam, ...) shares.

    opt = sg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, t in loader:
        opt.zero_grad()
        loss_fn(model(x), t).backward()
        opt.step()

The base class owns everything that is not the update formula itself:

* `param_groups`: a list of dicts, each `{"params": [tensors], "lr": ..., ...}`
  with the optimizer's defaults filled in (so one model can train its parts
  with different learning rates);
* `state`: per-parameter buffers (momentum, running averages) keyed by the
  parameter object itself;
* `step()`: for every parameter with a gradient, form the gradient the rule
  sees (negated when `maximize`, plus the L2 term `weight_decay * p`) and call
  the subclass's `_update(p, g, state, group)`, which changes `p` in place;
* `state_dict()` / `load_state_dict()` in PyTorch's layout.

A subclass writes `_init_state` (its zero buffers) and `_update` (the formula,
in place with NumPy `out=` ufuncs). Scratch arrays come from `_scratch`, which
reuses the same memory every step, so an update allocates nothing;
`_add_scaled(y, a, x)` is torch's `y.add_(x, alpha=a)` (one BLAS axpy pass).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..autograd.function import enable_grad, no_grad
from ..ops.blas import axpy
from ..tensor import Tensor


_SET_ERROR = ("optimizer parameters need to be organized in ordered collections, but the ordering of tensors "
              "in sets will change between runs. Please use a list instead.")


def _plain(v):
    """NumPy scalars -> Python numbers (a np.float64 hyper-parameter would run float32 updates in float64)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return v


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


class Optimizer:
    """Base class. `params`: an iterable of Tensors, or of dicts `{"params": [...], <options>}`."""

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        if isinstance(params, set):
            raise TypeError(_SET_ERROR)
        self.defaults = {k: _plain(v) for k, v in defaults.items()}
        self.state: defaultdict = defaultdict(dict)  # parameter (the object) -> {buffer name: value}
        self.param_groups: list[dict] = []
        self._work: dict = {}  # scratch arrays (see _scratch); not part of the state
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for group in (params if isinstance(params[0], dict) else [{"params": params}]):
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Append a group; options it does not set take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(_SET_ERROR)
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        seen = {p: None for group in self.param_groups for p in group["params"]}  # keyed by object
        for p in params:
            if p in seen:
                raise ValueError("some parameters appear more than once in the optimizer's parameter groups")
            seen[p] = None
        group = {k: _plain(v) for k, v in param_group.items() if k != "params"}
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self.param_groups.append({"params": params, **group})

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: `p.grad = None` (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    # ---- the update ---------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient (params whose grad is None are skipped).

        `closure`, if given, re-evaluates the model and returns the loss (run with grad enabled).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state.update(self._init_state(p.data, group))
                    if "step" in state:  # rules that count their steps (bias corrections, lr decay)
                        state["step"] += 1
                    self._update(p.data, self._grad(p.data, p.grad.data, group), state, group)
                    p._version += 1
        return loss

    def _grad(self, p: np.ndarray, g: np.ndarray, group: dict) -> np.ndarray:
        """The gradient the rule sees:  g <- -g if maximize;  g <- g + weight_decay * p  (L2 penalty).

        Groups with `decoupled_weight_decay` (AdamW) shrink the weights in their own rule instead.
        Returns `g` itself when there is nothing to add (no copy).
        """
        maximize = group.get("maximize", False)
        wd = 0 if group.get("decoupled_weight_decay", False) else group.get("weight_decay", 0)
        if not maximize and wd == 0:
            return g
        out = self._scratch(p, 0)
        if maximize:
            np.negative(g, out=out)
        else:
            np.copyto(out, g)
        return self._add_scaled(out, wd, p) if wd != 0 else out

    def _add_scaled(self, y: np.ndarray, alpha: float, x: np.ndarray) -> np.ndarray:
        """y <- y + alpha * x in place (torch's `y.add_(x, alpha=alpha)`); returns y.

        One pass with BLAS's axpy when it can (ops/blas.py), else two NumPy passes through
        scratch slot 3, with no allocation either way.
        """
        if not axpy(alpha, x, y):
            y += np.multiply(x, alpha, out=self._scratch(y, 3))
        return y

    def _scratch(self, like: np.ndarray, slot: int) -> np.ndarray:
        """A work array shaped like `like`, reused every step.

        Slots: 0 the gradient made by `_grad`, 1-2 the update rules' temporaries, 3 `_add_scaled`.
        """
        key = (slot, like.dtype)
        buf = self._work.get(key)
        if buf is None or buf.size < like.size:
            buf = self._work[key] = np.empty(like.size, like.dtype)
        return buf[:like.size].reshape(like.shape)

    def _init_state(self, p: np.ndarray, group: dict) -> dict:
        """The per-parameter buffers before the first step (e.g. zeros like `p`)."""
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """Change `p` in place from its gradient `g` (subclasses write the formula here)."""
        raise NotImplementedError

    # ---- saving and resuming ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """`{"state": {index: {name: ndarray | number}}, "param_groups": [{..., "params": [index, ...]}]}`.

        Parameters are numbered in group order, as in PyTorch; arrays are copies.
        """
        index, groups = {}, []
        for group in self.param_groups:
            for p in group["params"]:
                index[p] = len(index)
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": [index[p] for p in group["params"]]})
        state = {index[p]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                 for p, s in self.state.items() if s and p in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and buffers saved by `state_dict()` (ours or torch's, as arrays)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        by_index = {}
        for ours, saved in zip(self.param_groups, saved_groups):
            if len(ours["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size "
                                 "of optimizer's group")
            by_index.update(zip(saved["params"], ours["params"]))
        self.state = defaultdict(dict)
        for i, saved in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: self._load_value(k, v, p) for k, v in saved.items()}
        self.param_groups = [{"params": ours["params"], **{k: _plain(v) for k, v in saved.items() if k != "params"}}
                             for ours, saved in zip(self.param_groups, saved_groups)]

    @staticmethod
    def _load_value(name, value, p):
        if name == "step":
            return int(float(value))
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return np.asarray(value).astype(p.data.dtype).reshape(p.shape)  # a copy, in the parameter's dtype

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])
