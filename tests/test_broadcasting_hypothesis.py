"""Property tests (hypothesis): random broadcastable shapes for every binary op.

For each pair of shapes: the forward equals NumPy, each gradient has its input's shape and
equals PyTorch's, and no input array is mutated. Also random reductions and random repeated
indices, whose gradients must accumulate.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import scratchgrad as sg
from conftest import assert_close, to_torch

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)

# name: (scratchgrad fn, NumPy fn, torch fn, input domain)
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: a + b, "real"),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: a - b, "real"),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: a * b, "real"),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: a / b, "positive"),
    "pow": (lambda a, b: a ** b, np.power, lambda a, b: a ** b, "positive"),
    "maximum": (sg.maximum, np.maximum, None, "real"),
    "minimum": (sg.minimum, np.minimum, None, "real"),
}

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)


def _inputs(data, shapes, domain):
    out = []
    for shape in shapes:
        elements = (st.floats(0.5, 2.0, width=32) if domain == "positive"
                    else st.floats(-3.0, 3.0, width=32))
        out.append(data.draw(hnp.arrays(np.float32, shape, elements=elements, unique=False)))
    return out


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=shape_pairs, data=st.data())
def test_binary_op_broadcasting(torch, name, shapes, data):
    sg_fn, np_fn, t_fn, domain = BINARY[name]
    a, b = _inputs(data, shapes.input_shapes, domain)
    if name in ("maximum", "minimum"):
        b = b + np.float32(0.01)  # ties (shared gradient) are tested elsewhere; keep them rare here
        t_fn = getattr(torch, name)
    a0, b0 = a.copy(), b.copy()
    x, y = sg.tensor(a, requires_grad=True), sg.tensor(b, requires_grad=True)
    out = sg_fn(x, y)
    assert out.shape == shapes.result_shape
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, np_fn(a, b), rtol=1e-6, atol=1e-6)

    g = data.draw(hnp.arrays(np.float32, out.shape, elements=st.floats(-2, 2, width=32)))
    out.backward(sg.tensor(g))
    tx, ty = to_torch(torch, a, True), to_torch(torch, b, True)
    t_fn(tx, ty).backward(torch.from_numpy(g.copy()))
    for mine, theirs, arr in ((x, tx, a), (y, ty, b)):
        assert mine.grad.shape == arr.shape and mine.grad.dtype == np.float32
        assert_close(mine.grad, theirs.grad, atol=1e-4, rtol=1e-4, what=name)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    np.testing.assert_array_equal(x.data, a0)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), data=st.data())
def test_where_broadcasting(torch, shapes, data):
    cond = data.draw(hnp.arrays(np.bool_, shapes.input_shapes[0]))
    a, b = _inputs(data, shapes.input_shapes[1:], "real")
    x, y = sg.tensor(a, requires_grad=True), sg.tensor(b, requires_grad=True)
    out = sg.where(cond, x, y)
    np.testing.assert_array_equal(out.data, np.where(cond, a, b))
    out.sum().backward()
    tx, ty = to_torch(torch, a, True), to_torch(torch, b, True)
    torch.where(torch.from_numpy(cond), tx, ty).sum().backward()
    assert_close(x.grad, tx.grad, what="where a")
    assert_close(y.grad, ty.grad, what="where b")


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature="(m,n),(n,p)->(m,p)", max_dims=2,
                                                max_side=3), data=st.data())
def test_matmul_batch_broadcasting(torch, shapes, data):
    a, b = _inputs(data, shapes.input_shapes, "real")
    x, y = sg.tensor(a, requires_grad=True), sg.tensor(b, requires_grad=True)
    out = x @ y
    np.testing.assert_allclose(out.data, np.matmul(a, b), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    tx, ty = to_torch(torch, a, True), to_torch(torch, b, True)
    (tx @ ty).sum().backward()
    assert x.grad.shape == a.shape and y.grad.shape == b.shape
    assert_close(x.grad, tx.grad, atol=1e-4, rtol=1e-4, what="matmul a")
    assert_close(y.grad, ty.grad, atol=1e-4, rtol=1e-4, what="matmul b")


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_reductions_over_random_dims(torch, shape, data):
    a = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-3, 3, width=32), unique=True))
    dims = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    keep = data.draw(st.booleans())
    for name in ("sum", "mean", "amax", "logsumexp"):
        x, t = sg.tensor(a, requires_grad=True), to_torch(torch, a, True)
        out = getattr(sg, name)(x, dims, keepdim=keep)
        ref = getattr(torch, name)(t, dims, keepdim=keep)
        assert_close(out, ref, atol=1e-5, rtol=1e-5, what=name)
        out.sum().backward()
        ref.sum().backward()
        assert_close(x.grad, t.grad, atol=1e-5, rtol=1e-5, what=f"{name} grad")
    x = sg.tensor(a, requires_grad=True)
    np.testing.assert_allclose(sg.sum(x, axis=dims, keepdims=keep).data, a.sum(axis=dims, keepdims=keep),
                               rtol=1e-5, atol=1e-5)


@SETTINGS
@given(rows=st.integers(1, 5), cols=st.integers(1, 4), data=st.data())
def test_random_repeated_indices_accumulate(torch, rows, cols, data):
    a = data.draw(hnp.arrays(np.float32, (rows, cols), elements=st.floats(-3, 3, width=32)))
    idx = np.array(data.draw(st.lists(st.integers(-rows, rows - 1), min_size=1, max_size=8)))
    col_idx = np.array(data.draw(st.lists(st.integers(0, cols - 1), min_size=len(idx), max_size=len(idx))))
    for key, tkey in [(idx, torch.from_numpy(idx)), ((idx, col_idx), (torch.from_numpy(idx), torch.from_numpy(col_idx)))]:
        x, t = sg.tensor(a, requires_grad=True), to_torch(torch, a, True)
        out, ref = x[key], t[tkey]
        assert_close(out, ref)
        g = np.arange(out.data.size, dtype=np.float32).reshape(out.shape)
        out.backward(sg.tensor(g))
        ref.backward(torch.from_numpy(g))
        assert_close(x.grad, t.grad, what="getitem with repeats")
