"""The backward engine: reverse-mode differentiation over the recorded graph.

1. Walk the graph from the outputs (iteratively: deep graphs do not hit the
   recursion limit) and count, for every Function, how many edges lead to it.
2. Order the Functions topologically (Kahn's algorithm): a node runs only once
   the gradients of all its outputs are complete.
3. Run each node's `backward`, sum every input gradient back to the input's
   shape (un-broadcasting lives here, once, for every op), and accumulate.
4. Free each node's saved arrays right after it ran, unless `retain_graph`.
"""
from __future__ import annotations

import numpy as np

from .function import set_grad_enabled


def _check_version(f):
    for x, v in zip(f.inputs, f.saved_versions):
        if x._version != v:
            raise RuntimeError(
                f"one of the tensors needed for {f.name}'s backward (shape {x.shape}) was modified "
                f"in place after it was used (version {v} -> {x._version})")


def _collect(root_fns):
    """All Functions reachable from `root_fns`, with their in-degree, in topological order."""
    deps, stack, seen = {}, list(root_fns), set(root_fns)
    while stack:
        f = stack.pop()
        if f.inputs is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({f.name} already freed its saved "
                "tensors). Pass retain_graph=True to the first backward() if you need to.")
        for x in f.inputs:
            g = x.creator
            if g is not None:
                deps[g] = deps.get(g, 0) + 1
                if g not in seen:
                    seen.add(g)
                    stack.append(g)
    order, ready = [], [f for f in root_fns if deps.get(f, 0) == 0]
    while ready:
        f = ready.pop()
        order.append(f)
        for x in f.inputs:
            g = x.creator
            if g is not None:
                deps[g] -= 1
                if deps[g] == 0:
                    ready.append(g)
    return order


def _prune(order, targets):
    """Keep only the Functions on a path to one of `targets` (tensor ids)."""
    needed = set()
    for f in reversed(order):  # inputs before consumers
        for x in f.inputs:
            if id(x) in targets or (x.creator is not None and x.creator in needed):
                needed.add(f)
                break
        else:
            for ref in f.outputs:
                y = ref()
                if y is not None and id(y) in targets:
                    needed.add(f)
                    break
    return [f for f in order if f in needed]


def _acc(a, b):
    return b if a is None else a + b


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False):
    """Backpropagate. With `inputs=None` gradients accumulate into leaves' `.grad`
    (that is `Tensor.backward`); otherwise they are returned for `inputs` only
    (that is `autograd.grad`)."""
    from ..tensor import Tensor

    targets = None if inputs is None else {id(x): x for x in inputs}
    grads = {}       # Function -> list of output gradients
    leaf_grads = {}  # id(tensor) -> [tensor, summed gradient]
    captured = {}    # id(target) -> gradient (autograd.grad)

    def send(x, g):
        if targets is not None and id(x) in targets and x.creator is None:
            captured[id(x)] = _acc(captured.get(id(x)), g)
        elif x.creator is not None:
            slot = grads.setdefault(x.creator, [None] * len(x.creator.outputs))
            slot[x.output_nr] = _acc(slot[x.output_nr], g)
        elif targets is None and x.requires_grad:
            entry = leaf_grads.setdefault(id(x), [x, None])
            entry[1] = _acc(entry[1], g)

    with set_grad_enabled(create_graph):
        for y, g in zip(outputs, grad_outputs):
            send(y, g)
        roots = list(dict.fromkeys(y.creator for y in outputs if y.creator is not None))
        order = _collect(roots)
        if targets is not None:
            order = _prune(order, targets)
        for f in order:
            gys = grads.pop(f, None)
            if gys is None:
                continue
            for i, ref in enumerate(f.outputs):
                y = ref()
                if y is None or gys[i] is None:
                    continue
                if y._hooks:
                    for hook in y._hooks:
                        gys[i] = hook(gys[i]) or gys[i]
                if targets is not None and id(y) in targets:
                    captured[id(y)] = _acc(captured.get(id(y)), gys[i])
                if y._retains_grad and targets is None:
                    y.grad = _acc(y.grad, gys[i].detach() if not create_graph else gys[i])
            if create_graph and f.once_differentiable:
                raise RuntimeError(
                    f"{f.name} has a fused NumPy backward and is not twice differentiable; "
                    "create_graph=True cannot go through it")
            _check_version(f)
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx, need in zip(f.inputs, gxs, f.needs_input_grad):
                if gx is None or not need:
                    continue
                if not isinstance(gx, Tensor):
                    gx = Tensor(gx)
                if gx.shape != x.shape:
                    gx = gx.sum_to(x.shape)
                send(x, gx)
            if not retain_graph:
                f.release()

    if targets is not None:
        result = []
        for x in inputs:
            g = captured.get(id(x))
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"one of the input tensors (shape {x.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it")
            result.append(g)
        return tuple(result)

    seen = set()
    for x, g in leaf_grads.values():
        for hook in x._hooks:
            g = hook(g) or g
        if create_graph:
            x.grad = g if x.grad is None else x.grad + g
            continue
        arr = g.data
        if x.grad is None:
            if id(arr) in seen or not arr.flags.owndata or not arr.flags.writeable:
                arr = arr.copy()
            if arr.dtype != x.data.dtype:
                arr = arr.astype(x.data.dtype)
            seen.add(id(arr))
            x.grad = Tensor(arr)
        else:
            np.add(x.grad.data, arr, out=x.grad.data, casting="unsafe")
    return None
