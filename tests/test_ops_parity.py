"""Forward and gradient parity with PyTorch for every primitive op, in float32.

Runs the op table of test_ops_gradcheck.py (broadcasting and repeated-index cases included)
and asserts the float32 policy: float32 in -> float32 out and float32 gradients.
"""
import numpy as np
import pytest

import scratchgrad as sg
from conftest import assert_close, to_torch
from test_ops_gradcheck import CASES, IDS


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_and_grad_match_torch(torch, case):
    rng = np.random.default_rng(1)
    arrays = [a.astype(np.float32) for a in case.make(rng)]
    xs = [sg.tensor(a, requires_grad=True) for a in arrays]
    ts = [to_torch(torch, a, requires_grad=True) for a in arrays]
    before = [a.copy() for a in arrays]

    outs, touts = _tuple(case.sg_fn(*xs)), _tuple(case.torch_fn(torch, *ts))
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert o.dtype == np.float32, f"{case.name}: float32 in, {o.dtype} out"
        assert_close(o, t, atol=1e-5, rtol=1e-5, what=f"{case.name} forward")

    vs = [rng.standard_normal(o.shape).astype(np.float32) for o in outs]
    loss = sum((o * sg.tensor(v)).sum() for o, v in zip(outs, vs))
    loss.backward()
    torch.autograd.backward(touts, [torch.from_numpy(v) for v in vs])
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad is not None, f"{case.name}: input {i} got no gradient"
        assert x.grad.dtype == np.float32, f"{case.name}: input {i} gradient is {x.grad.dtype}"
        assert x.grad.shape == x.shape
        assert_close(x.grad, t.grad, atol=1e-5, rtol=1e-5, what=f"{case.name} grad of input {i}")
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{case.name} mutated its input")


def test_argmax_argmin_one_hot_match_torch(torch):
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    t = torch.from_numpy(x)
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            if dim is None and keepdim:
                continue
            got = sg.argmax(sg.tensor(x), dim, keepdim)
            assert got.dtype == np.int64
            assert_close(got, torch.argmax(t, dim, keepdim) if dim is not None else torch.argmax(t))
            assert_close(sg.tensor(x).argmin(dim=dim, keepdim=keepdim),
                         torch.argmin(t, dim, keepdim) if dim is not None else torch.argmin(t))
    assert_close(sg.tensor(x).argmax(axis=1, keepdims=True), torch.argmax(t, 1, keepdim=True))
    values, indices = sg.tensor(x).max(1)
    assert_close(indices, t.max(1).indices)
    assert_close(values, t.max(1).values)
    labels = np.array([[0, 3], [4, 1]])
    assert_close(sg.one_hot(labels, 5), torch.nn.functional.one_hot(torch.from_numpy(labels), 5))
    assert_close(sg.one_hot(sg.tensor([2, 0])), torch.nn.functional.one_hot(torch.tensor([2, 0])))
    assert sg.one_hot(labels, 5, dtype=np.float32).dtype == np.float32


def test_max_min_ties_split_like_torch(torch):
    """Full reductions (and amax) share the gradient among ties; max(dim) gives it to one index."""
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], dtype=np.float32)
    for sg_fn, t_fn in [(lambda a: a.max(), lambda a: a.max()),
                        (lambda a: a.min(), lambda a: a.min()),
                        (lambda a: sg.amax(a, 1), lambda a: a.amax(1)),
                        (lambda a: sg.maximum(a, a[:, :1]), lambda a: torch.maximum(a, a[:, :1]))]:
        a, t = sg.tensor(x, requires_grad=True), to_torch(torch, x, requires_grad=True)
        sg_fn(a).sum().backward()
        t_fn(t).sum().backward()
        assert_close(a.grad, t.grad)
    a = sg.tensor(x, requires_grad=True)
    a.max(1).values.sum().backward()
    assert a.grad.data.sum(1).tolist() == [1.0, 1.0]  # one winner per row


def test_dropout_matches_torch_semantics(torch):
    x = sg.randn(200, 50, requires_grad=True)
    y = sg.dropout(x, 0.3)
    assert y.dtype == np.float32
    kept = y.data != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(y.data[kept], x.data[kept] / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / np.float32(0.7), rtol=1e-6)
    assert x.grad.dtype == np.float32
    assert sg.dropout(x, 0.3, training=False) is x
    assert (sg.dropout(x, 1.0).data == 0).all()
    sg.manual_seed(5)
    a = sg.dropout(x, 0.5).data
    sg.manual_seed(5)
    assert (a == sg.dropout(x, 0.5).data).all(), "dropout must follow sg.manual_seed"


# ---- the float32 policy: no silent float64 ------------------------------------------------------------
FLOAT32_EXPRESSIONS = {
    "x * 0.5": lambda x: x * 0.5,
    "x / 3": lambda x: x / 3,
    "x ** 2": lambda x: x ** 2,
    "2 ** x": lambda x: 2 ** x,
    "x + np.float64(1)": lambda x: x + np.float64(1.0),
    "x * np.array(2.0)": lambda x: x * np.array(2.0),
    "1 - x": lambda x: 1 - x,
    "x * 0-d float64 tensor": lambda x: x * sg.tensor(2.0, dtype=np.float64),
    "maximum(x, 0-d float64)": lambda x: sg.maximum(x, sg.Tensor(np.float64(0.0))),
    "x.mean()": lambda x: x.mean(),
    "x.mean(0)": lambda x: x.mean(0),
    "x.var()": lambda x: x.var(),
    "x.std(1)": lambda x: x.std(1),
    "x.sum()": lambda x: x.sum(),
    "x.max()": lambda x: x.max(),
    "logsumexp": lambda x: sg.logsumexp(x, 1),
    "softmax": lambda x: sg.softmax(x, -1),
    "gelu": lambda x: sg.gelu(x),
    "gelu tanh": lambda x: sg.gelu(x, approximate="tanh"),
    "elu": lambda x: sg.elu(x),
    "softplus": lambda x: sg.softplus(x),
    "sigmoid": lambda x: sg.sigmoid(x),
    "clamp(np.float64)": lambda x: x.clamp(np.float64(-0.5), np.float64(0.5)),
    "where(m, x, 0)": lambda x: sg.where(x.data > 0, x, 0),
    "int tensor * x": lambda x: sg.tensor([[1, 2, 3, 4]]) * x,
    "bool mask * x": lambda x: (x > 0) * x,
    "one_hot * x": lambda x: sg.one_hot(sg.tensor([0, 1, 2]), 4) * x,
    "x @ x.T": lambda x: x @ x.T,
    "index_put scalar": lambda x: sg.index_put(x, (0, 1), 7.0),
    "pad": lambda x: sg.pad(x, (1, 1), value=0.5),
    "dropout": lambda x: sg.dropout(x, 0.5),
}


@pytest.mark.parametrize("name", list(FLOAT32_EXPRESSIONS))
def test_float32_in_float32_out(name):
    x = sg.randn(3, 4, requires_grad=True)
    y = FLOAT32_EXPRESSIONS[name](x)
    assert y.dtype == np.float32, f"{name}: float32 in, {y.dtype} out"
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_factories_default_to_float32():
    assert sg.tensor([1.0, 2.0]).dtype == np.float32
    assert sg.tensor(1.5).dtype == np.float32
    assert sg.tensor(np.array([1.0, 2.0])).dtype == np.float32
    assert sg.tensor(np.float64(1.0)).dtype == np.float32
    assert sg.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert sg.tensor([1, 2]).dtype == np.int64
    for t in (sg.zeros(2), sg.ones(2), sg.randn(2), sg.rand(2), sg.full((2,), 3.0), sg.eye(2),
              sg.arange(0.0, 1.0, 0.5), sg.zeros_like(sg.ones(2)), sg.randn_like(sg.ones(2))):
        assert t.dtype == np.float32
    assert sg.Tensor(np.float64(1.0)).dtype == np.float64  # explicit NumPy data keeps its dtype


def test_zero_dim_float64_parameter_gets_float64_grad(torch):
    """float32 x times a 0-d float64 leaf: float32 out (as PyTorch), the leaf's grad float64."""
    x = sg.randn(3)
    s = sg.tensor(1.5, dtype=np.float64, requires_grad=True)
    y = x * s
    assert y.dtype == np.float32
    y.sum().backward()
    assert s.grad.dtype == np.float64
    ts = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    ty = torch.from_numpy(x.data.copy()) * ts
    assert ty.dtype == torch.float32
    ty.sum().backward()
    assert_close(s.grad, ts.grad, atol=1e-6)


def test_float64_on_request_stays_float64():
    x = sg.randn(3, 4, dtype=np.float64, requires_grad=True)
    y = (x * 0.5 + x.exp() / 3).mean() + sg.logsumexp(x, 1).sum() + x.var()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64
