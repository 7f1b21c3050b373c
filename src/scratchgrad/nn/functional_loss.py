"""Loss functions (re-exported by `nn.functional`), with PyTorch's names and semantics.

Every loss computes one loss value per element/sample, then reduces it:
reduction='mean' (default), 'sum' or 'none'. Cross-entropy (reduction included) and the
two binary cross-entropies are fused Functions (stable for logits of +-1e4); the rest
are compositions of Tensor ops. All of them are twice differentiable.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from ..autograd.function import Function
from ..ops import abs as _abs, exp, log, sigmoid, softmax, softplus, where
from ..tensor import Tensor, as_tensor
from .functional_core import as_array, backward_inputs


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction!r} is not a valid value for reduction (use 'mean', 'sum' or 'none')")


def _reduce(loss: Tensor, reduction: str, denominator=None) -> Tensor:
    """'none' -> loss, 'sum' -> loss.sum(), 'mean' -> loss.sum() / denominator (default: numel)."""
    _check_reduction(reduction)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        if denominator is None:
            return loss.mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            return loss.sum() / float(denominator)   # 0/0 = nan when every target is ignored, as PyTorch


# ---- cross-entropy and NLL ---------------------------------------------------------------
class SoftmaxCrossEntropy(Function):
    """Per-row loss  l_i = -sum_c q_ic log softmax(x)_ic       x: (M, C) logits -> l: (M,)
    (or, with `scale`, the reduced loss L = scale * sum_i l_i: 1 for 'sum', 1/N for 'mean')

    gx_ic = gl_i (s_i p_ic - q_ic),  p = softmax(x),  s_i = sum_c q_ic   (gl_i = scale * gL if reduced)
    q is the target: class indices (a one-hot q, never built: s = 1 and gx = gl (p - onehot),
    which for reduction='mean' is the book's (y - t)/N), or a dense (M, C) weight matrix
    (probabilities, class weights, label smoothing). Stable: logsumexp is taken after
    subtracting the row max, so logits of +-1e4 stay finite."""

    def __init__(self, index=None, q=None, scale=None):
        self.index, self.q, self.scale = index, q, scale

    def forward(self, x):
        z = x - x.max(axis=1, keepdims=True)
        p = np.exp(z)
        sumexp = p.sum(axis=1, keepdims=True)
        lse = np.log(sumexp)[:, 0]
        p /= sumexp                             # softmax, kept for backward
        self.p = p
        if self.index is not None:
            loss = lse - z[np.arange(len(z)), self.index]
        else:
            loss = lse * self.q.sum(axis=1) - (self.q * z).sum(axis=1)
        return loss if self.scale is None else np.asarray(loss.sum() * self.scale, dtype=x.dtype)

    def backward(self, gL):
        (x,), gL = backward_inputs(self, gL)
        gl = gL if self.scale is None else gL * self.scale   # dLoss/dl_i: (M,) or one scalar for all rows
        gl_col = gl if self.scale is not None else gl[:, None]
        q = self.q
        if isinstance(x, Tensor):   # create_graph: a differentiable softmax, a dense one-hot q
            p = softmax(x, 1)
            if q is None:
                q = np.zeros(x.shape, x.dtype)
                q[np.arange(len(q)), self.index] = 1
        else:
            p = self.p
        if q is None:               # fast path: gx = gl * (p - onehot)
            gx = p * gl_col
            gx[np.arange(len(gx)), self.index] -= gl
            return gx
        return (p * q.sum(axis=1)[:, None] - q) * gl_col


def _classes_last(input: Tensor, target):
    """(M, C) logits, targets as (M,) indices or (M, C) probabilities, per-sample output shape.

    Accepts PyTorch's layouts: (C,) with a scalar target, (N, C), and (N, C, d1, ...) with
    targets (N, d1, ...) or probabilities of input's shape."""
    t = as_array(target)
    probs = t.dtype.kind == "f"
    if input.ndim == 1:
        return input.reshape(1, -1), (t.reshape(1, -1) if probs else t.reshape(1)), ()
    if input.ndim == 2 and t.shape == (input.shape if probs else input.shape[:1]):
        return input, t, input.shape[:1]  # already (N, C)
    C = input.shape[1]
    out_shape = (input.shape[0],) + input.shape[2:]
    if input.ndim > 2:  # move the class axis last: (N, C, d...) -> (N * d..., C)
        order = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(*order)
        t = np.transpose(t, order) if probs else t
    if t.shape != (input.shape if probs else out_shape):
        raise ValueError(f"cross-entropy: target of shape {as_array(target).shape} does not fit input of shape "
                         f"{out_shape[:1] + (C,) + out_shape[1:]} (expected class indices {out_shape} "
                         "or probabilities of the input's shape)")
    return input.reshape(-1, C), (t.reshape(-1, C) if probs else t.reshape(-1)), out_shape


def _index_weights(t, C, weight, ignore_index, dtype):
    """Targets made safe to index with, and each sample's weight (0 where ignore_index)."""
    t = t.astype(np.int64, copy=False)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(f"Target {t[bad][0]} is out of bounds (classes 0..{C - 1}, ignore_index={ignore_index})")
    safe = np.where(valid, t, 0)
    w = valid.astype(dtype) if weight is None else as_array(weight, dtype)[safe] * valid
    return safe, valid, w


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax + negative log-likelihood in one fused, stable op (PyTorch's F.cross_entropy).

    input: logits (N, C) [or (C,), or (N, C, d1, ...)]; target: class indices (N,) or class
    probabilities of input's shape. weight: per-class weights (C,). 'mean' divides by the
    summed weights of the non-ignored targets (probability targets: by N)."""
    _check_reduction(reduction)
    x, t, out_shape = _classes_last(input, target)
    M, C = x.shape
    dtype = x.dtype
    eps = float(label_smoothing)
    w = None if weight is None else as_array(weight, dtype)
    index = q = None
    if t.dtype.kind == "f":                                # class probabilities
        q = t.astype(dtype) * (1.0 - eps) + eps / C if eps else t.astype(dtype, copy=False)
        q = q * w if w is not None else q
        denominator = M
    elif w is None and not eps and M and 0 <= t.min() and t.max() < C and not (0 <= ignore_index < C):
        index, denominator = t, M                          # the fast, common case: plain class indices
    else:                                                  # class indices with weights/ignore/smoothing
        safe, valid, w_i = _index_weights(t, C, w, ignore_index, dtype)
        denominator = float(w_i.sum())
        q = np.zeros((M, C), dtype)
        q[np.arange(M), safe] = (1.0 - eps) * w_i
        if eps:
            q += (eps / C) * (np.ones(C, dtype) if w is None else w) * valid[:, None]
    if reduction == "none":
        return SoftmaxCrossEntropy(index, q)(x).reshape(out_shape)
    scale = 1.0 if reduction == "sum" else 1.0 / denominator if denominator else float("nan")
    return SoftmaxCrossEntropy(index, q, scale)(x)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """l_i = -weight[t_i] * input[i, t_i]; input holds log-probabilities (e.g. from log_softmax)."""
    x, t, out_shape = _classes_last(input, target)
    safe, _, w_i = _index_weights(t, x.shape[1], weight, ignore_index, x.dtype)
    picked = x.gather(1, safe[:, None]).reshape(-1)
    loss = -(picked * Tensor(w_i))
    return _reduce(loss.reshape(out_shape) if reduction == "none" else loss, reduction, w_i.sum())


# ---- binary cross-entropy -----------------------------------------------------------
def _log(a):
    return a.log() if isinstance(a, Tensor) else np.log(a)


class BinaryCrossEntropy(Function):
    """l = -[t log x + (1 - t) log(1 - x)]     (each log clamped at -100, as PyTorch)

    gx = gl (x - t) / max(x (1 - x), 1e-12),     gt = -gl (log x - log(1 - x))"""

    def forward(self, x, t):
        with np.errstate(divide="ignore"):
            self.log_x = np.maximum(np.log(x), -100.0)
            self.log_1mx = np.maximum(np.log1p(-x), -100.0)
        return -(t * self.log_x + (1.0 - t) * self.log_1mx)

    def backward(self, gl):
        (x, t), gl = backward_inputs(self, gl)
        gx = gl * (x - t) / (x * (1.0 - x)).clip(1e-12) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            log_x, log_1mx = ((_log(x).clip(-100.0), _log(1.0 - x).clip(-100.0)) if isinstance(x, Tensor)
                              else (self.log_x, self.log_1mx))
            gt = -gl * (log_x - log_1mx)
        return gx, gt


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """BCE on probabilities in [0, 1] (use binary_cross_entropy_with_logits on raw scores)."""
    x = input.data
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    loss = BinaryCrossEntropy()(input, as_tensor(target, like=input))
    if weight is not None:
        loss = loss * as_tensor(weight, like=input)
    return _reduce(loss, reduction)


class BCEWithLogits(Function):
    """l = (1 - t) x + L softplus(-x),   L = 1 + (pos_weight - 1) t
    (softplus(-x) = log(1 + e^-x), computed stably as np.logaddexp(0, -x))

    gx = gl (L sigmoid(x) - pos_weight t),   gt = gl ((pos_weight - 1) softplus(-x) - x)"""

    def __init__(self, pos_weight=None):
        self.pw = pos_weight

    def forward(self, x, t):
        sp = np.logaddexp(0, -x)
        L = 1.0 if self.pw is None else 1.0 + (self.pw - 1.0) * t
        return ((1.0 - t) * x + L * sp).astype(x.dtype, copy=False)

    def backward(self, gl):
        (x, t), gl = backward_inputs(self, gl)
        graph = isinstance(x, Tensor)
        pw = 1.0 if self.pw is None else (Tensor(self.pw) if graph else self.pw)
        gx = gt = None
        if self.needs_input_grad[0]:
            s = sigmoid(x) if graph else special.expit(x).astype(x.dtype, copy=False)
            gx = gl * (s - t if self.pw is None else (1.0 + (pw - 1.0) * t) * s - pw * t)
        if self.needs_input_grad[1]:
            sp = softplus(-x) if graph else np.logaddexp(0, -x)
            gt = gl * ((pw - 1.0) * sp - x)
        return gx, gt


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + BCE fused and stable for any logit. pos_weight (per class) scales positives."""
    pw = None if pos_weight is None else as_array(pos_weight, input.dtype)
    loss = BCEWithLogits(pw)(input, as_tensor(target, like=input))
    if weight is not None:
        loss = loss * as_tensor(weight, like=input)
    return _reduce(loss, reduction)


# ---- regression losses and KL divergence (compositions of Tensor ops) ---------------------
def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """l = (x - t)^2"""
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """l = |x - t|"""
    return _reduce(_abs(input - target), reduction)


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """l = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta,   d = x - t"""
    d = input - target
    a = _abs(d)
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(where(a.data < beta, (0.5 / beta) * d * d, a - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """l = 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)   (= delta * smooth_l1 with beta=delta)"""
    d = input - target
    a = _abs(d)
    return _reduce(where(a.data < delta, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction)


def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || model) pointwise, with `input` the model's LOG-probabilities:
    l = t (log t - x)   (0 where t = 0),   or with log_target=True: l = e^t (t - x).
    reduction='batchmean' (sum / batch size) is the true KL divergence per sample."""
    t = as_tensor(target, like=input)
    if log_target:
        loss = exp(t) * (t - input)
    else:
        loss = t * (log(where(t.data > 0, t, 1.0)) - input)
    if reduction == "batchmean":
        return loss.sum() * (1.0 / (input.shape[0] if input.ndim else 1))
    return _reduce(loss, reduction)
