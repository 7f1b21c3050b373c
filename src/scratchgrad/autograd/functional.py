"""`grad`: gradients of outputs with respect to chosen inputs, as `torch.autograd.grad`."""
from __future__ import annotations

import numpy as np

from .engine import run_backward


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Return d(outputs)/d(inputs) without touching any `.grad`.

    outputs, inputs: a Tensor or a sequence of Tensors. grad_outputs: the vector in the
    vector-Jacobian product (ones for scalar outputs). With create_graph=True the result is
    itself differentiable (gradient penalties, Hessian-vector products).
    """
    from ..tensor import Tensor, as_tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    seeds = []
    for y, g in zip(outputs, grad_outputs):
        if not y.requires_grad:
            raise RuntimeError("grad: an output does not require grad (it was not computed from any input "
                               "that requires grad)")
        if g is None:
            if y.data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (shape {y.shape})")
            g = Tensor(np.ones_like(y.data))
        seeds.append(as_tensor(g, like=y))
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError(f"grad: an input (shape {x.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    return tuple(run_backward(outputs, seeds, retain_graph=retain_graph, create_graph=create_graph,
                              inputs=inputs, allow_unused=allow_unused))
