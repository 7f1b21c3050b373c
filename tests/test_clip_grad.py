"""Gradient clipping and parameter vectors against torch.nn.utils."""
import math

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                                  vector_to_parameters)

SHAPES = [(4, 3), (7,), (2, 2, 2)]


def _pair(torch, dtype=np.float32, scale=1.0, seed=0):
    """The same parameters with the same gradients, in scratchgrad and torch (plus one without a grad)."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in SHAPES:
        w, g = rng.standard_normal(shape).astype(dtype), (scale * rng.standard_normal(shape)).astype(dtype)
        p, tp = sg.tensor(w, dtype=dtype, requires_grad=True), torch.tensor(w, requires_grad=True)
        p.grad, tp.grad = sg.tensor(g, dtype=dtype), torch.tensor(g)
        ours.append(p), theirs.append(tp)
    ours.append(sg.zeros(3, requires_grad=True)), theirs.append(torch.zeros(3, requires_grad=True))
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm, dtype):
    ours, theirs = _pair(torch, dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(total, sg.Tensor) and total.shape == () and total.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(total.data, want.numpy(), rtol=tol)
    for p, tp in zip(ours[:-1], theirs[:-1]):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=tol, atol=tol)
    assert ours[-1].grad is None


def test_clip_grad_norm_single_tensor_and_generator(torch):
    ours, theirs = _pair(torch, scale=10.0)
    total = clip_grad_norm_(ours[0], 1.0)
    want = torch.nn.utils.clip_grad_norm_(theirs[0], 1.0)
    np.testing.assert_allclose(total.data, want.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ours[0].grad.data), 1.0, rtol=1e-5)
    total = clip_grad_norm_((p for p in ours[1:]), 1.0)  # a generator, like model.parameters()
    want = torch.nn.utils.clip_grad_norm_((p for p in theirs[1:]), 1.0)
    np.testing.assert_allclose(total.data, want.numpy(), rtol=1e-6)


def test_clip_grad_norm_no_grads():
    total = clip_grad_norm_([sg.zeros(2, requires_grad=True)], 1.0)
    assert total.item() == 0.0


def test_clip_grad_norm_nonfinite(torch):
    ours, theirs = _pair(torch)
    ours[0].grad.data[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    theirs[0].grad[0, 0] = math.inf
    total = clip_grad_norm_(ours, 1.0)  # without the flag: scaled by the infinite norm, as torch does
    want = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isinf(total.item()) and math.isinf(want.item())
    for p, tp in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())


@pytest.mark.parametrize("clip_value", [0.1, 0.7, 10.0])
def test_clip_grad_value_matches_torch(torch, clip_value):
    ours, theirs = _pair(torch)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, tp in zip(ours[:-1], theirs[:-1]):
        assert p.grad.dtype == np.float32
        np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())


def test_parameters_to_vector_and_back(torch):
    ours, theirs = _pair(torch)
    vec = parameters_to_vector(ours)
    np.testing.assert_array_equal(vec.data, torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
    assert vec.shape == (sum(p.data.size for p in ours),) and vec.dtype == np.float32
    new = sg.arange(vec.shape[0], dtype=np.float32)
    datas = [p.data for p in ours]
    vector_to_parameters(new, ours)
    torch.nn.utils.vector_to_parameters(torch.arange(vec.shape[0], dtype=torch.float32), theirs)
    for p, tp, d in zip(ours, theirs, datas):
        assert p.data is d  # copied in place: optimizer state and views stay attached
        np.testing.assert_array_equal(p.data, tp.detach().numpy())
    np.testing.assert_array_equal(parameters_to_vector(ours).data, new.data)
    with pytest.raises(TypeError):
        vector_to_parameters(new.data, ours)
    with pytest.raises(ValueError, match="elements"):
        vector_to_parameters(new[:5], ours)


def test_parameters_to_vector_is_differentiable():
    ours = [sg.randn(2, 3, requires_grad=True), sg.randn(4, requires_grad=True)]
    vec = parameters_to_vector(ours)
    (vec * sg.arange(10, dtype=np.float32)).sum().backward()
    np.testing.assert_array_equal(ours[0].grad.data, np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(ours[1].grad.data, np.arange(6, 10, dtype=np.float32))
