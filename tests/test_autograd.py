"""Behaviour of the autograd engine: accumulation, graph freeing, version checks, hooks, grad modes,
clear errors, deep graphs, DOT output and gradient memory that is never shared between leaves."""
import threading

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad.autograd import Function


def leaf(*shape, dtype=np.float32):
    return sg.randn(*shape, dtype=dtype, requires_grad=True)


# ---- accumulation and graph lifetime ----------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, 5.0)
    x.zero_grad_()
    assert x.grad is None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


def test_shared_subexpression_accumulates_within_one_backward():
    x = leaf(4)
    y = x * 3
    (y * y + y).sum().backward()  # d/dx (9x^2 + 3x) = 18x + 3
    np.testing.assert_allclose(x.grad.data, 18 * x.data + 3, rtol=1e-5)


def test_backward_twice_without_retain_graph_raises():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_backward_twice_with_retain_graph():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * g)


def test_graph_is_freed_after_backward():
    x = leaf(3)
    y = x.exp()
    z = (y * x).sum()
    fn = y.creator
    z.backward()
    assert fn.inputs is None and not hasattr(fn, "saved_versions")
    assert z.creator.inputs is None


def test_non_scalar_backward_needs_a_gradient():
    x = leaf(2, 3)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2, 3\)"):
        y.backward()
    y.backward(sg.ones(2, 3))
    np.testing.assert_allclose(x.grad.data, 2.0)
    with pytest.raises(RuntimeError, match="does not match"):
        (x * 2).backward(sg.ones(3))


def test_backward_of_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        sg.ones(3).sum().backward()


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="floating"):
        sg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating"):
        sg.tensor([1, 2]).requires_grad_()


def test_float64_seed_gives_float32_grad():
    x = leaf(3)
    (x * 2).backward(np.ones(3))
    assert x.grad.dtype == np.float32


# ---- in-place safety -------------------------------------------------------------------------------
def test_inplace_change_of_a_saved_input_raises():
    a, b = leaf(3), leaf(3)
    y = (a * b).sum()
    with sg.no_grad():
        b.add_(1.0)
    with pytest.raises(RuntimeError, match=r"Mul's backward.*modified by an in-place operation"):
        y.backward()


def test_inplace_change_of_a_saved_output_raises():
    x = leaf(3)
    y = x.exp()
    loss = y.sum()
    with sg.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=r"Exp's backward.*output"):
        loss.backward()


def test_inplace_through_detach_and_views_is_seen():
    x = leaf(2, 3)
    y = x * 1.0
    z = (y * y).sum()
    y.detach().zero_()  # shares y's data and version counter
    with pytest.raises(RuntimeError, match="in-place"):
        z.backward()
    w = leaf(2, 3)
    v = w.reshape(6) * 1.0
    loss = (v.reshape(2, 3) * w).sum()
    with sg.no_grad():
        w.T.mul_(2.0)  # a view of w: w's version moves too
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


def test_inplace_on_tensors_in_a_graph_is_refused():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
        x.add_(1)
    y = x * 2
    with pytest.raises(RuntimeError, match="part of the graph"):
        y.mul_(3)
    with pytest.raises(RuntimeError, match="index_put"):
        y[0] = 1.0
    buf = sg.zeros(3)
    with pytest.raises(RuntimeError, match="index_put"):
        buf[0] = x[1]  # the value's gradient would be lost silently
    buf[0] = 2.0  # fine: nothing requires grad
    with sg.no_grad():
        x.add_(1)  # fine: parameter updates
        x[0] = 5.0
    assert x.data[0] == 5.0 and buf.data[0] == 2.0


def test_index_put_is_the_differentiable_setitem():
    x = leaf(4)
    v = leaf(1)
    y = sg.index_put(x * 1.0, np.array([1, 3]), v)
    (y * sg.arange(4.0)).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0, 2, 0])
    np.testing.assert_allclose(v.grad.data, [1 + 3])


# ---- hooks and retain_grad -----------------------------------------------------------------------
def test_hooks_and_retain_grad():
    x = leaf(3)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.data.copy()))  # observe: returns None
    y.register_hook(lambda g: g * 10)  # replace
    y.retain_grad()
    z = y * 3
    z.sum().backward()
    np.testing.assert_allclose(seen[0], 3.0)
    np.testing.assert_allclose(y.grad.data, 30.0)  # retained after the hooks
    np.testing.assert_allclose(x.grad.data, 60.0)
    assert z.grad is None  # non-leaf without retain_grad
    leaf_seen = []
    x.register_hook(lambda g: leaf_seen.append(g.data.copy()) or g * 0.5)
    (x * 4).sum().backward()
    np.testing.assert_allclose(leaf_seen[0], 4.0)
    np.testing.assert_allclose(x.grad.data, 62.0)


def test_hook_on_multi_element_gradient_returning_tensor():
    x = leaf(2, 2)
    x.register_hook(lambda g: g + 1.0)  # must not call bool() on the returned tensor
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2.0)


def test_retain_grad_on_root_and_leaf():
    x = leaf(3)
    y = (x * x).sum()
    y.retain_grad()
    y.backward()
    assert y.grad.item() == 1.0
    x.retain_grad()  # leaves always keep .grad; harmless
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


# ---- no aliasing between gradients ---------------------------------------------------------------------
def _shares(a, b):
    return np.shares_memory(a.data, b.data)


def test_leaf_grads_are_never_aliased():
    a, b = leaf(3), leaf(3)
    (a + b).sum().backward()
    assert a.grad is not b.grad and not _shares(a.grad, b.grad)
    a.grad.data += 1  # clipping/accumulating one gradient in place must not touch the other
    np.testing.assert_allclose(b.grad.data, 1.0)

    c, d = leaf(3), leaf(3)
    g = sg.ones(3)
    (c + d).backward(g)
    assert not _shares(c.grad, g) and not _shares(d.grad, g) and not _shares(c.grad, d.grad)
    c.backward(g)  # a leaf as the root: its gradient is the seed, which must be copied
    assert not _shares(c.grad, g)


def test_grad_not_aliased_with_retained_or_hooked_gradients():
    a, b = leaf(2, 3), leaf(2, 3)
    y = a + b
    y.retain_grad()
    stash = []
    z = y.reshape(6)
    z.register_hook(stash.append)
    (z * 2.0).sum().backward()
    for t in (b.grad, y.grad, stash[0]):
        assert not _shares(a.grad, t)
    assert not _shares(b.grad, y.grad) and not _shares(b.grad, stash[0])


def test_create_graph_grads_are_distinct_objects():
    a, b = leaf(3, dtype=np.float64), leaf(3, dtype=np.float64)
    ((a + b) ** 2).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    assert a.grad.requires_grad


# ---- grad mode -----------------------------------------------------------------------------------------
def test_no_grad_enable_grad_and_set_grad_enabled():
    x = leaf(3)
    with sg.no_grad():
        y = x * 2
        assert not y.requires_grad and y.creator is None
        with sg.enable_grad():
            assert (x * 2).requires_grad
        assert not sg.is_grad_enabled()
    assert sg.is_grad_enabled()
    with sg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert sg.is_grad_enabled()
    sg.set_grad_enabled(False)  # a plain call takes effect, as in PyTorch
    assert not sg.is_grad_enabled()
    sg.set_grad_enabled(True)
    assert sg.is_grad_enabled()


def test_no_grad_as_decorator_nested_and_recursive():
    @sg.no_grad()
    def f(x, depth):
        assert not sg.is_grad_enabled()
        return x * 2 if depth == 0 else f(x, depth - 1)

    @sg.no_grad
    def g(x):
        return x * 2

    x = leaf(2)
    assert not f(x, 3).requires_grad and not g(x).requires_grad
    assert sg.is_grad_enabled()
    ctx = sg.no_grad()
    with ctx:
        with ctx:
            pass
        assert not sg.is_grad_enabled()
    assert sg.is_grad_enabled()

    @sg.set_grad_enabled(False)
    def h(x):
        return x * 2
    assert sg.is_grad_enabled()  # decorating does not switch the mode
    assert not h(x).requires_grad and sg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    results = []
    with sg.no_grad():
        t = threading.Thread(target=lambda: results.append(sg.is_grad_enabled()))
        t.start()
        t.join()
    assert results == [True]


def test_requires_grad_propagation_and_detach():
    x, c = leaf(3), sg.ones(3)
    assert not (c * 2).requires_grad
    y = x * c
    assert y.requires_grad and not y.is_leaf and y.grad_fn is y.creator
    assert not (x > 0).requires_grad  # comparisons give bool tensors
    assert sg.argmax(x).dtype == np.int64 and not sg.argmax(x).requires_grad
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.data, y.data)
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)
    z = x * 2
    z.detach_()
    assert z.is_leaf and not z.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_detach_inplace_keeps_recorded_edges():
    """A gradient goes where the input came from when it was used (PyTorch's edges)."""
    x = leaf(3)
    y = x * 2
    z = y * 3
    y.detach_()
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6.0)


def test_needs_input_grad_skips_unneeded_gradients():
    calls = []

    class Probe(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            calls.append(self.needs_input_grad)
            a, b = self.inputs
            return (gy * b if self.needs_input_grad[0] else None,
                    gy * a if self.needs_input_grad[1] else None)

    w, data = leaf(3), sg.randn(3)
    Probe()(data, w).sum().backward()
    assert calls == [(False, True)] and w.grad is not None and data.grad is None


def test_once_differentiable_refuses_create_graph():
    class Fused(Function):
        once_differentiable = True

        def forward(self, x):
            return x * x

        def backward(self, gy):
            return sg.Tensor(gy.data * 2 * self.inputs[0].data)

    x = leaf(3)
    Fused()(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    with pytest.raises(RuntimeError, match="not twice differentiable"):
        sg.autograd.grad(Fused()(x).sum(), x, create_graph=True)


# ---- clear errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (5, 6)), ((2, 3, 4), (3, 5)), ((4,), (3,)),
                                              ((2, 3, 4), (3, 4, 5)), ((3,), (2, 4, 5))])
def test_matmul_shape_error_names_both_shapes_and_the_op(a_shape, b_shape):
    with pytest.raises(RuntimeError) as err:
        sg.randn(*a_shape) @ sg.randn(*b_shape)
    msg = str(err.value)
    assert "matmul" in msg and str(a_shape) in msg and str(b_shape) in msg
    with pytest.raises(ValueError):  # also a ValueError, for NumPy habits
        sg.matmul(sg.randn(*a_shape), sg.randn(*b_shape))


def test_gather_and_split_errors_are_clear():
    with pytest.raises(ValueError, match=r"gather.*\(2,\).*\(2, 3\)"):
        sg.gather(sg.randn(2, 3), 1, np.array([0, 1]))
    with pytest.raises(ValueError, match="split"):
        sg.split(sg.randn(4), [1, 2])


# ---- deep graphs and pictures ------------------------------------------------------------------------------
def test_deep_chain_backprops_without_recursion_error():
    x = leaf(1, dtype=np.float64)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.0001 ** 5000, rtol=1e-9)
    z = x
    for _ in range(5000):
        z = z.exp().log()
    assert "Exp" in sg.autograd.to_dot(z)
    g, = sg.autograd.grad(z.sum(), x)
    np.testing.assert_allclose(g.data, 1.0, rtol=1e-9)


def test_deep_graph_can_be_dropped_without_backward():
    x = leaf(1)
    y = x
    for _ in range(50000):
        y = y + 1.0
    del y  # must not overflow the C stack while freeing


def test_to_dot_contains_function_names_and_shapes(tmp_path):
    x = sg.randn(2, 3, requires_grad=True)
    x.name = "x"
    w = sg.randn(3, 4, requires_grad=True)
    loss = sg.log_softmax(sg.relu(x @ w), 1).mean()
    dot = sg.autograd.to_dot(loss)
    assert dot.startswith("digraph")
    for name in ("MatMul", "ReLU", "LogSoftmax", "Sum", "(2, 3)", "(3, 4)", "x\\n"):
        assert name in dot, name
    path = tmp_path / "g.dot"
    assert sg.autograd.to_dot(loss, str(path)) == path.read_text()


def test_hook_on_intermediate_runs_after_the_tensor_object_is_gone():
    x = sg.randn(3, requires_grad=True)
    seen = []

    def build():
        y = x * 2.0                       # only the graph (not the caller) keeps y's creator
        y.register_hook(lambda g: seen.append(g.data.copy()))
        return (y + 1.0).sum()

    build().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], np.ones(3))
