"""Gradient clipping and flat parameter vectors, as in `torch.nn.utils`.

    loss.backward()
    sg.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


def _grads(parameters) -> list[np.ndarray]:
    """The gradient arrays of `parameters` (a Tensor or an iterable of Tensors) that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.data for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale all gradients together so that their joint norm is at most `max_norm`; in place.

        total = || (||g_1||, ..., ||g_n||) ||_p        (the norm of all gradients as one vector)
        g_i <- g_i * min(1, max_norm / (total + 1e-6))

    `norm_type` is p (`float('inf')` for the largest |g|). Returns `total` (a 0-d Tensor,
    measured before clipping). `foreach` is accepted for PyTorch compatibility and ignored.
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    norm_type = float(norm_type)
    dtype = grads[0].dtype
    norms = np.array([np.linalg.norm(g.ravel(), norm_type) for g in grads])
    total = np.asarray(np.linalg.norm(norms, norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # inf * 0 when the norm is infinite: nan, as in torch
        for g in grads:
            g *= coef
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]; in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D Tensor (differentiable, like torch's)."""
    from ..ops import cat, reshape
    return cat([reshape(p, -1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-D `vec` into the parameters (the inverse of parameters_to_vector)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected a Tensor, but got: {type(vec).__name__}")
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    needed = sum(p.data.size for p in parameters)
    if vec.data.size < needed:
        raise ValueError(f"vector has {vec.data.size} elements but the parameters need {needed}")
    offset = 0
    for p in parameters:
        n = p.data.size
        np.copyto(p.data, vec.data[offset:offset + n].reshape(p.shape))
        p._version += 1
        offset += n
