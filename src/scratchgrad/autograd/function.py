"""The `Function` protocol: one node of the define-by-run graph.

A primitive op subclasses `Function` and writes two methods side by side:

    forward(*arrays)  -> array or tuple of arrays      (NumPy in, NumPy out)
    backward(*grads)  -> Tensor or tuple of Tensors     (written with Tensor ops)

Because `backward` is written with the framework's own ops, running it with
grad mode on records a graph of the backward pass itself, which is how
`create_graph=True` gives second (and higher) derivatives.

Inside `backward` the op reads what it saved:
    self.inputs            the input Tensors (None once the graph was freed)
    self.needs_input_grad  one bool per input; return None where it is False
    anything forward stored on `self` (masks, indices, shapes ...)

The engine sums each returned gradient back to its input's shape
(un-broadcasting), so an op never has to.
"""
from __future__ import annotations

import contextlib
import threading
import weakref

import numpy as np


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that sets grad mode on or off."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev
        return False


class no_grad(set_grad_enabled):
    """Inside `with sg.no_grad():` ops record no graph (inference, updates)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn graph recording back on inside a `no_grad` block."""

    def __init__(self):
        super().__init__(True)


class Function:
    """Base class of every differentiable op. Call an instance: `Mul()(a, b)`."""

    #: set to True by fused ops whose backward is plain NumPy: the engine then
    #: refuses `create_graph=True` through them instead of being silently wrong.
    once_differentiable = False

    def __call__(self, *inputs):
        from ..tensor import Tensor, as_tensor

        like = next((x for x in inputs if isinstance(x, Tensor)), None)
        xs = [x if isinstance(x, Tensor) else as_tensor(x, like=like) for x in inputs]
        ys = self.forward(*[x.data for x in xs])
        single = not isinstance(ys, tuple)
        if single:
            ys = (ys,)
        outputs = [Tensor(y) for y in ys]
        if _grad_mode.enabled:
            needs = tuple(x.requires_grad for x in xs)
            if any(needs):
                self.inputs = xs
                self.needs_input_grad = needs
                self.saved_versions = tuple(x._version for x in xs)
                self.outputs = [weakref.ref(y) for y in outputs]
                for i, y in enumerate(outputs):
                    if y.data.dtype.kind in "fc":
                        y.requires_grad = True
                        y.creator = self
                        y.output_nr = i
        return outputs[0] if single else tuple(outputs)

    def forward(self, *xs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, *gys):  # pragma: no cover - interface
        raise NotImplementedError

    def release(self):
        """Drop everything saved for backward (called once backward ran)."""
        outputs = self.__dict__.get("outputs")
        self.__dict__.clear()
        self.outputs = outputs
        self.inputs = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}>"


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a NumPy gradient back to `shape` (NumPy-level helper for fused ops)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)
