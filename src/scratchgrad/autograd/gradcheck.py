"""Gradient checks (the notes' 梯度确认, "gradient check"): backprop vs central differences in float64.

    dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h

`gradcheck` compares the full Jacobian-vector products of `fn` element by element;
`gradgradcheck` does the same for the gradient itself (second order).
"""
from __future__ import annotations

import numpy as np


def _as_tuple(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def _numerical_grad(fn, inputs, i, v, eps):
    """d <v, fn(inputs)> / d inputs[i] by central differences (v: list of arrays, one per output)."""
    original = inputs[i].data
    x = inputs[i].data = np.array(original, copy=True, order="C")  # contiguous and writeable: perturbed in place
    g = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    try:
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            plus = sum(float(np.sum(o.data * w)) for o, w in zip(_as_tuple(fn(*inputs)), v))
            flat[k] = old - eps
            minus = sum(float(np.sum(o.data * w)) for o, w in zip(_as_tuple(fn(*inputs)), v))
            flat[k] = old
            gflat[k] = (plus - minus) / (2 * eps)
    finally:
        inputs[i].data = original
    return g


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check autograd's gradient of `fn(*inputs)` against finite differences.

    inputs: tensors (use float64); those with requires_grad are checked. A random
    direction v weights the outputs, so one backward pass covers every output.
    Returns True, or raises AssertionError naming the input and the worst element.
    """
    from ..autograd.functional import grad
    from ..tensor import Tensor

    inputs = list(_as_tuple(inputs))
    for x in inputs:
        if x.requires_grad and x.dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 inputs (got {x.dtype}); finite differences in float32 "
                             "are too coarse")
    rng = np.random.default_rng(seed)
    outs = _as_tuple(fn(*inputs))
    v = [rng.standard_normal(o.shape) for o in outs]
    wrt = [i for i, x in enumerate(inputs) if x.requires_grad]
    diff_outs = [(o, Tensor(w)) for o, w in zip(outs, v) if o.requires_grad]
    analytic = grad([o for o, _ in diff_outs], [inputs[i] for i in wrt], [w for _, w in diff_outs],
                    allow_unused=True) if diff_outs else [None] * len(wrt)
    for i, a in zip(wrt, analytic):
        a = np.zeros(inputs[i].shape) if a is None else a.data
        n = _numerical_grad(fn, inputs, i, v, eps)
        err = np.abs(a - n)
        bad = err > atol + rtol * np.abs(n)
        if bad.any():
            k = np.unravel_index(np.argmax(err - rtol * np.abs(n)), n.shape) if n.ndim else ()
            msg = (f"gradcheck: input {i} (shape {inputs[i].shape}): backprop {a[k]:.8g} vs numerical "
                   f"{n[k]:.8g} at {k}; max abs error {err.max():.3g}")
            if raise_exception:
                raise AssertionError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check second derivatives: gradcheck of x -> <v, d fn / d x> (built with create_graph=True)."""
    from ..autograd.functional import grad
    from ..tensor import Tensor

    inputs = list(_as_tuple(inputs))
    rng = np.random.default_rng(seed + 1)
    outs = _as_tuple(fn(*inputs))
    v = [Tensor(rng.standard_normal(o.shape)) for o in outs]
    wrt = [i for i, x in enumerate(inputs) if x.requires_grad]

    def first_grads(*xs):
        ys = [o for o in _as_tuple(fn(*xs))]
        pairs = [(y, w) for y, w in zip(ys, v) if y.requires_grad]
        gs = grad([y for y, _ in pairs], [xs[i] for i in wrt], [w for _, w in pairs], create_graph=True,
                  allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(xs[i].shape)) for g, i in zip(gs, wrt))

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
                     seed=seed + 2)
