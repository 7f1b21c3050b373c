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
    self.saved_output(i)   the i-th output (held weakly; set `saves_output = True`)
    anything forward stored on `self` (masks, indices, shapes ...)

The engine sums each returned gradient back to its input's shape
(un-broadcasting), so an op never has to.
"""
from __future__ import annotations

import contextlib
import threading
import weakref

import numpy as np


# set by scratchgrad.tensor, which imports this module first
Tensor = as_tensor = None


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


class _GradModeContext(contextlib.ContextDecorator):
    """Base of `no_grad`/`enable_grad`: sets grad mode on enter, restores it on exit.

    Works as a context manager and as a decorator, with or without parentheses
    (`@sg.no_grad()` or `@sg.no_grad`), and nests (each `with` restores its own state).
    """
    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._prev = []
        if callable(func):  # bare decorator: @sg.no_grad
            return self(func)
        return self

    def __init__(self, func=None):
        pass

    def __enter__(self):
        self._prev.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc):
        _grad_mode.enabled = self._prev.pop()
        return False


class no_grad(_GradModeContext):
    """Inside `with sg.no_grad():` ops record no graph (inference, parameter updates)."""
    mode = False


class enable_grad(_GradModeContext):
    """Turn graph recording back on inside a `no_grad` block."""
    mode = True


class set_grad_enabled(contextlib.ContextDecorator):
    """`sg.set_grad_enabled(mode)`: as in PyTorch, takes effect at once (also as a plain call)
    and, used with `with`, restores the previous mode on exit."""

    def __init__(self, mode: bool):
        self.prev = _grad_mode.enabled
        self.mode = bool(mode)
        _grad_mode.enabled = self.mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev
        return False

    def __call__(self, func):  # as a decorator: undo the immediate effect, apply it on each call
        _grad_mode.enabled = self.prev
        return super().__call__(func)

    def _recreate_cm(self):
        return enable_grad() if self.mode else no_grad()


class Function:
    """Base class of every differentiable op. Call an instance: `Mul()(a, b)`."""

    #: set to True by fused ops whose backward is plain NumPy: the engine then
    #: refuses `create_graph=True` through them instead of being silently wrong.
    once_differentiable = False
    #: False when backward never reads the inputs' values (only shapes: add, sum, reshape, ...):
    #: in-place changes to them after the forward are then harmless and not checked.
    saves_inputs = True
    #: True when backward reads `self.outputs` (exp, sigmoid, softmax, ...): the engine then
    #: also checks that no output was modified in place before backward.
    saves_output = False
    #: True when the output is a view of input 0 (reshape, permute, basic slicing, ...):
    #: it then shares the input's version counter, so in-place changes through either are seen.
    is_view = False

    def __call__(self, *inputs):
        xs = inputs
        for x in inputs:
            if not isinstance(x, Tensor):  # wrap scalars/arrays; scalars take a tensor's dtype
                like = next((t for t in inputs if isinstance(t, Tensor)), None)
                xs = [t if isinstance(t, Tensor) else as_tensor(t, like=like) for t in inputs]
                break
        ys = self.forward(*[x.data for x in xs])
        single = type(ys) is not tuple
        outputs = [Tensor._wrap(ys)] if single else [Tensor._wrap(y) for y in ys]
        if self.is_view:
            for y in outputs:
                y._vc = xs[0]._vc
        if _grad_mode.enabled:
            needs = tuple([x.requires_grad for x in xs])
            if True in needs:
                self._record(xs, needs, outputs)
        return outputs[0] if single else tuple(outputs)

    def _record(self, xs, needs, outputs):
        """Become the creator of `outputs` and remember the edges to the inputs."""
        self.inputs = xs
        self.input_fns = tuple([x.creator for x in xs])   # graph edges, fixed now
        self.input_nrs = tuple([x.output_nr for x in xs])
        self.needs_input_grad = needs
        self.saved_versions = tuple([x._vc[0] for x in xs])
        self.outputs = [weakref.ref(y) for y in outputs]
        if self.saves_output:
            self.output_versions = tuple([y._vc[0] for y in outputs])
        for i, y in enumerate(outputs):
            if y.data.dtype.kind in "fc":
                y.requires_grad = True
                y.creator = self
                y.output_nr = i

    def forward(self, *xs):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, *gys):  # pragma: no cover - interface
        raise NotImplementedError

    def saved_output(self, i: int = 0):
        """The i-th output Tensor (held weakly), or None if it no longer exists."""
        return self.outputs[i]()

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
