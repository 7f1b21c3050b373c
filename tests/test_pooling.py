"""Pooling: max (with indices), average (ceil_mode, padding, count_include_pad), adaptive, global,
max-unpooling. Float64 gradient checks (first and second order) and float32 parity with
torch.nn.functional, ties included (after a ReLU whole windows are 0: the first one gets the gradient).
"""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad.ops.pooling import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, global_avg_pool2d,
                                     global_max_pool2d, max_pool2d, max_unpool2d)

from conftest import assert_close, to_torch

# (kernel, stride, padding, dilation, ceil_mode)
MAX_GRID = [(2, 2, 0, 1, False), (2, None, 0, 1, True), (3, 2, 1, 1, False), (3, 2, 1, 1, True),
            (3, 1, 1, 2, False), (3, 3, 1, 1, True), ((3, 2), (2, 1), (1, 0), 1, True), (2, 1, 0, 1, False)]
# (kernel, stride, padding, ceil_mode, count_include_pad)
AVG_GRID = [(2, 2, 0, False, True), (3, 2, 1, False, True), (3, 2, 1, False, False), (3, 2, 1, True, True),
            (3, 2, 1, True, False), (2, None, 1, True, False), ((3, 2), (1, 2), (1, 1), True, True),
            (3, 3, 0, True, True)]
ADAPTIVE_SIZES = [(3, 3), (4, 5), (1, 1), (9, 8), (2, 4), (5, 3), (7, None)]


def _x(shape=(2, 3, 9, 8), seed=0, dtype=np.float32, ties=False):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if ties:  # relu-like plateaus: whole windows of zeros and of equal values
        x = np.maximum(x, 0)
        x[0, 1, :4, :4] = 1.0
    return x


def _parity(torch, fn, fn_t, x, atol=1e-6):
    xs, xt = sg.Tensor(x, requires_grad=True), to_torch(torch, x, True)
    ys, yt = fn(xs), fn_t(xt)
    if isinstance(ys, tuple):
        (ys, idx), (yt, idx_t) = ys, yt
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx.data, idx_t.numpy())
    assert ys.dtype == x.dtype
    assert_close(ys, yt, atol=atol, what="y")
    gy = np.random.default_rng(1).standard_normal(ys.shape).astype(x.dtype)
    ys.backward(sg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    assert_close(xs.grad, xt.grad, atol=atol, what="gx")


def _gradchecks(fn, x):
    xs = sg.Tensor(x.astype(np.float64), requires_grad=True)
    assert sg.autograd.gradcheck(fn, [xs])
    assert sg.autograd.gradgradcheck(fn, [xs])


# ---- max --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k,s,p,d,ceil", MAX_GRID, ids=str)
def test_max_pool2d_parity_with_indices_and_ties(torch, k, s, p, d, ceil):
    F = torch.nn.functional
    _parity(torch, lambda t: max_pool2d(t, k, s, p, d, ceil, return_indices=True),
            lambda t: F.max_pool2d(t, k, s, p, d, ceil, return_indices=True), _x(ties=True))


@pytest.mark.parametrize("k,s,p,d,ceil", MAX_GRID[::2], ids=str)
def test_max_pool2d_gradcheck(k, s, p, d, ceil):
    _gradchecks(lambda t: max_pool2d(t, k, s, p, d, ceil), _x((1, 2, 7, 6), seed=2))


def test_max_unpool2d(torch):
    F = torch.nn.functional
    x = _x(ties=True)
    for k, s, p in ((2, 2, 0), (3, 2, 1)):
        y, idx = max_pool2d(sg.tensor(x), k, s, p, return_indices=True)
        yt, idx_t = F.max_pool2d(torch.from_numpy(x), k, s, p, return_indices=True)
        _parity(torch, lambda t: max_unpool2d(t, idx, k, s, p, output_size=x.shape),
                lambda t: F.max_unpool2d(t, idx_t, k, s, p, output_size=x.shape), y.data.copy())
    y, idx = max_pool2d(sg.tensor(x[:, :, :8]), 2, return_indices=True)
    assert max_unpool2d(y, idx, 2).shape == (2, 3, 8, 8)  # default size (OH-1)*s - 2p + k
    _gradchecks(lambda t: max_unpool2d(t, idx, 2), y.data)
    with pytest.raises(ValueError, match="outside"):
        max_unpool2d(y, idx, 2, output_size=(4, 4))


# ---- average ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k,s,p,ceil,cip", AVG_GRID, ids=str)
def test_avg_pool2d_parity(torch, k, s, p, ceil, cip):
    F = torch.nn.functional
    _parity(torch, lambda t: avg_pool2d(t, k, s, p, ceil, cip), lambda t: F.avg_pool2d(t, k, s, p, ceil, cip), _x())


@pytest.mark.parametrize("k,s,p,ceil,cip", AVG_GRID[1::2], ids=str)
def test_avg_pool2d_gradcheck(k, s, p, ceil, cip):
    _gradchecks(lambda t: avg_pool2d(t, k, s, p, ceil, cip), _x((1, 2, 7, 6), seed=3))


def test_avg_pool2d_divisor_override(torch):
    F = torch.nn.functional
    _parity(torch, lambda t: avg_pool2d(t, 3, 2, 1, divisor_override=4),
            lambda t: F.avg_pool2d(t, 3, 2, 1, divisor_override=4), _x())


# ---- adaptive and global ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_avg_pool2d(torch, size):
    F = torch.nn.functional
    _parity(torch, lambda t: adaptive_avg_pool2d(t, size), lambda t: F.adaptive_avg_pool2d(t, size), _x())
    _gradchecks(lambda t: adaptive_avg_pool2d(t, size), _x((1, 2, 9, 8), seed=4))


@pytest.mark.parametrize("size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_max_pool2d(torch, size):
    F = torch.nn.functional
    _parity(torch, lambda t: adaptive_max_pool2d(t, size, return_indices=True),
            lambda t: F.adaptive_max_pool2d(t, size, return_indices=True), _x(ties=True))
    _gradchecks(lambda t: adaptive_max_pool2d(t, size), _x((1, 2, 9, 8), seed=5))


def test_adaptive_pools_with_large_windows(torch):
    """Divisible sizes with big windows take the gather / matmul path, not the K x K loop."""
    F = torch.nn.functional
    x = _x((2, 3, 24, 18), ties=True)
    _parity(torch, lambda t: adaptive_avg_pool2d(t, (2, 3)), lambda t: F.adaptive_avg_pool2d(t, (2, 3)), x)
    _parity(torch, lambda t: adaptive_max_pool2d(t, (2, 3), True),
            lambda t: F.adaptive_max_pool2d(t, (2, 3), True), x)


def test_global_pools(torch):
    F = torch.nn.functional
    x = _x(ties=True)
    _parity(torch, global_avg_pool2d, lambda t: F.adaptive_avg_pool2d(t, 1), x)
    _parity(torch, lambda t: global_max_pool2d(t, return_indices=True),
            lambda t: F.adaptive_max_pool2d(t, 1, return_indices=True), x)
    _gradchecks(global_max_pool2d, _x((2, 2, 3, 4), seed=6))


# ---- layout and dtype -----------------------------------------------------------------------------------
def test_pooling_keeps_channels_last_memory_and_float32():
    x = _x((2, 4, 8, 8))
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    for fn in (lambda t: max_pool2d(t, 2), lambda t: max_pool2d(t, 3, 2, 1), lambda t: avg_pool2d(t, 3, 2, 1)):
        t = sg.Tensor(x_cl, requires_grad=True)
        y = fn(t)
        assert y.dtype == np.float32 and y.data.strides[1] == 4, "output stays NHWC in memory"
        y.sum().backward()
        assert t.grad.data.strides[1] == 4 and t.grad.dtype == np.float32
        assert_close(y, fn(sg.Tensor(x)), atol=0)


def test_pool_padding_must_be_at_most_half_the_kernel():
    with pytest.raises(ValueError, match="half"):
        max_pool2d(sg.randn(1, 1, 5, 5), 2, padding=2)
