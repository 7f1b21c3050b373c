"""The backward engine: reverse-mode differentiation over the recorded graph.

1. Walk the graph from the outputs (iteratively: deep graphs do not hit the
   recursion limit) and count, for every Function, how many edges lead to it.
2. Order the Functions topologically (Kahn's algorithm): a node runs only once
   the gradients of all its outputs are complete.
3. Run each node's `backward`, sum every input gradient back to the input's
   shape (un-broadcasting lives here, once, for every op), and accumulate.
4. Free each node's saved arrays right after it ran, unless `retain_graph`.

Edges are the `(input_fns[i], input_nrs[i])` pairs a Function recorded when it was
called, so a gradient goes where the input came from at that moment (as in PyTorch).
"""
from __future__ import annotations

import numpy as np

from .function import _grad_mode


def _check_saved(f):
    """Raise if a tensor that `f.backward` reads was modified in place after the forward."""
    for x, v in zip(f.inputs, f.saved_versions) if f.saves_inputs else ():
        if x._vc[0] != v:
            raise RuntimeError(
                f"one of the tensors needed for {f.name}'s backward (an input of shape {x.shape}) was modified "
                f"by an in-place operation after it was used (version {v} -> {x._vc[0]})")
    if f.saves_output:
        for ref, v in zip(f.outputs, f.output_versions):
            y = ref()
            if y is not None and y._vc[0] != v:
                raise RuntimeError(
                    f"one of the tensors needed for {f.name}'s backward (its output of shape {y.shape}) was "
                    f"modified by an in-place operation after it was computed (version {v} -> {y._vc[0]})")


def _collect(root_fns):
    """All Functions reachable from `root_fns`, in topological order (consumers first)."""
    deps, stack, seen = {}, list(root_fns), set(root_fns)
    while stack:
        f = stack.pop()
        if f.inputs is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({f.name} already freed its saved "
                "tensors). Pass retain_graph=True to the first backward() if you need to.")
        for g in f.input_fns:
            if g is not None:
                deps[g] = deps.get(g, 0) + 1
                if g not in seen:
                    seen.add(g)
                    stack.append(g)
    order, ready = [], [f for f in root_fns if deps.get(f, 0) == 0]
    while ready:
        f = ready.pop()
        order.append(f)
        for g in f.input_fns:
            if g is not None:
                deps[g] -= 1
                if deps[g] == 0:
                    ready.append(g)
    return order


def _prune(order, targets):
    """For autograd.grad: the Functions whose backward leads to one of `targets` (tensor ids),
    and, in order, those plus the ones that only produce a target (their gradient is read, their
    backward need not run)."""
    through, produces = set(), set()
    for f in reversed(order):  # producers before consumers
        if any(id(x) in targets or (g is not None and g in through) for x, g in zip(f.inputs, f.input_fns)):
            through.add(f)
        elif any(ref() is not None and id(ref()) in targets for ref in f.outputs):
            produces.add(f)
    return [f for f in order if f in through or f in produces], through


def _base(arr):
    """The array that owns `arr`'s memory."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def _acc(a, b):
    return b if a is None else a + b


def _run_hooks(hooks, g, escaped):
    """Apply `hooks` to a gradient g. User code saw g, so its memory is `escaped`."""
    for hook in hooks:
        escaped.add(id(_base(g.data)))
        r = hook(g)
        g = g if r is None else r
    escaped.add(id(_base(g.data)))
    return g


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Backpropagate. With `inputs=None` gradients accumulate into leaves' `.grad`
    (that is `Tensor.backward`); otherwise they are returned for `inputs` only
    (that is `autograd.grad`)."""
    from ..tensor import Tensor

    targets = None if inputs is None else {id(x) for x in inputs}
    grads = {}       # Function -> list of gradients of its outputs
    leaf_grads = {}  # id(leaf) -> [leaf, summed gradient]
    captured = {}    # id(non-leaf target) -> gradient (autograd.grad)
    # Memory that user code can see (seeds, retained grads, hook arguments): a leaf's .grad,
    # later updated in place, must never share it.
    escaped = {id(_base(g.data)) for g in grad_outputs}

    def send(x, fn, nr, g):
        """Add gradient g to tensor x, which is output `nr` of `fn` (None for a leaf)."""
        if fn is not None:
            slot = grads.get(fn)
            if slot is None:
                slot = grads[fn] = [None] * len(fn.outputs)
            slot[nr] = _acc(slot[nr], g)
        elif x.requires_grad and (targets is None or id(x) in targets):
            entry = leaf_grads.get(id(x))
            if entry is None:
                leaf_grads[id(x)] = [x, g]
            else:
                entry[1] = entry[1] + g

    prev_mode, _grad_mode.enabled = _grad_mode.enabled, create_graph  # the backward pass records a graph
    try:                                                                # only for create_graph=True
        for y, g in zip(outputs, grad_outputs):
            send(y, y.creator, y.output_nr, g)
        order = _collect(list(dict.fromkeys(y.creator for y in outputs if y.creator is not None)))
        through = None  # Functions whose backward must run (None: all of them)
        if targets is not None:
            order, through = _prune(order, targets)
        for f in order:
            gys = grads.pop(f, None)
            if gys is not None:
                output_hooks = f.__dict__.get("output_hooks")  # outlive a collected output tensor
                for i, ref in enumerate(f.outputs):  # hooks, retain_grad, autograd.grad targets
                    if output_hooks and i in output_hooks and gys[i] is not None:
                        gys[i] = _run_hooks(output_hooks[i], gys[i], escaped)
                    y = ref()
                    if y is None or gys[i] is None or not (y._retains_grad or targets):
                        continue
                    if targets is not None:
                        if id(y) in targets:
                            captured[id(y)] = gys[i]
                    elif y._retains_grad:
                        escaped.add(id(_base(gys[i].data)))
                        y.grad = _acc(y.grad, gys[i] if create_graph else gys[i].detach())
                if through is not None and f not in through:
                    continue  # only its outputs' gradients were wanted
                if create_graph and f.once_differentiable:
                    raise RuntimeError(
                        f"{f.name} has a fused NumPy backward and is not twice differentiable; "
                        "create_graph=True cannot go through it")
                if f.saves_inputs or f.saves_output:
                    _check_saved(f)
                gxs = f.backward(*gys)
                if type(gxs) is not tuple:
                    gxs = (gxs,)
                for x, fn, nr, gx, need in zip(f.inputs, f.input_fns, f.input_nrs, gxs, f.needs_input_grad):
                    if gx is None or not need:
                        continue
                    if not isinstance(gx, Tensor):  # a fast-path backward returned an array
                        gx = Tensor._wrap(gx)
                    if gx.data.shape != x.data.shape:
                        gx = gx.sum_to(x.shape)
                    send(x, fn, nr, gx)
            if not retain_graph:
                f.release()

        for x, g in leaf_grads.values():
            if x._hooks:
                g = _run_hooks(x._hooks, g, escaped)
            if targets is not None:
                captured[id(x)] = g
            elif create_graph:
                _store_graph_grad(x, g, escaped)
            else:
                _store_grad(x, g, escaped)
    finally:
        _grad_mode.enabled = prev_mode

    if targets is None:
        return None
    result = []
    for x in inputs:
        g = captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"one of the input tensors (shape {x.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


def _store_grad(x, g, used):
    """x.grad += g without a graph. The first gradient is kept without a copy when its
    memory is fresh (no other leaf, seed, hook or retained grad shares it)."""
    from ..tensor import Tensor
    arr = g.data
    if x.grad is None:
        base = id(_base(arr))
        if base in used or not arr.flags.writeable or arr.dtype != x.data.dtype:
            arr = arr.astype(x.data.dtype)  # a copy
            base = id(arr)
        used.add(base)
        x.grad = Tensor(arr)
    else:
        np.add(x.grad.data, arr, out=x.grad.data, casting="unsafe")


def _store_graph_grad(x, g, used):
    """x.grad += g keeping g's graph (create_graph=True); never the same object for two leaves."""
    from ..ops.arithmetic import cast, clone
    if g.dtype != x.dtype:
        g = cast(g, x.dtype)
    if id(g) in used:
        g = clone(g)
    used.add(id(g))
    x.grad = g if x.grad is None else x.grad + g
