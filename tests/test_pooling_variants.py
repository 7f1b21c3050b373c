"""The notes' pooling variants: stochastic, median, combined max+avg, SPP, bilinear, NetVLAD.

torch has none of them as one op, so each gets a plain-loop reference written here, a float64
gradcheck (and gradgradcheck where every piece supports it), and a torch composition as a
float32 oracle where one is short (median via unfold + median, combined, SPP, bilinear).
"""
import numpy as np
import pytest

import scratchgrad as sg
import scratchgrad.nn as nn
from scratchgrad.ops.pooling_variants import (adaptive_avgmax_pool2d, avgmax_pool2d, bilinear_pool2d, median_pool2d,
                                              netvlad, spatial_pyramid_pool2d, stochastic_pool2d)

from conftest import assert_close, to_torch


def _x(shape=(2, 3, 7, 6), seed=0, positive=False, dtype=np.float32):
    x = np.random.default_rng(seed).standard_normal(shape)
    return (np.abs(x) + 0.1 if positive else x).astype(dtype)


def _windows(x, k, s, p):
    """Plain loop over (n, c, oh, ow): yield the index and the flat window (zero padding)."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    yield (n, c, oh, ow), xp[n, c, oh * s:oh * s + k, ow * s:ow * s + k].ravel()


def _reduce_loops(x, k, s, p, fn):
    N, C, H, W = x.shape
    y = np.zeros((N, C, (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1))
    for idx, win in _windows(x, k, s, p):
        y[idx] = fn(win)
    return y


def _gradchecks(fn, arrays, second=True):
    ts = [sg.Tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    assert sg.autograd.gradcheck(fn, ts)
    if second:
        assert sg.autograd.gradgradcheck(fn, ts)


POOL_GRID = [(2, 2, 0), (3, 2, 1), (3, 1, 0), (2, 1, 1)]   # (kernel, stride, padding)


# ---- stochastic pooling ------------------------------------------------------------------------------
@pytest.mark.parametrize("k,s,p", POOL_GRID, ids=str)
def test_stochastic_eval_is_the_expectation(k, s, p):
    x = np.maximum(_x(), 0)                                            # after a ReLU: zero windows too
    y = stochastic_pool2d(sg.Tensor(x), k, s, p, training=False)
    ref = _reduce_loops(x.astype(np.float64), k, s, p, lambda w: (w * w).sum() / w.sum() if w.sum() > 0 else 0.0)
    assert y.dtype == np.float32
    assert_close(y, ref, atol=1e-6)
    _gradchecks(lambda t: stochastic_pool2d(t, k, s, p, training=False), [_x((1, 2, 5, 6), positive=True)])


@pytest.mark.parametrize("k,s,p", POOL_GRID, ids=str)
def test_stochastic_train_picks_a_nonzero_window_element(k, s, p):
    x = np.maximum(_x(), 0)
    sg.manual_seed(3)
    y = stochastic_pool2d(sg.Tensor(x), k, s, p, training=True).data
    for idx, win in _windows(x, k, s, p):
        assert (y[idx] == 0 and not win.any()) or y[idx] in win[win > 0]


@pytest.mark.parametrize("k,s,p", POOL_GRID, ids=str)
def test_stochastic_train_gradcheck_with_a_fixed_sample(k, s, p):
    def fn(t):
        sg.manual_seed(7)                       # the same sample in every evaluation
        return stochastic_pool2d(t, k, s, p, training=True)
    _gradchecks(fn, [_x((1, 2, 5, 6), positive=True)])
    x = sg.Tensor(_x(positive=True), requires_grad=True)
    fn(x).sum().backward()                   # one window element receives each window's gradient
    n_windows = fn(x).data.size
    assert np.count_nonzero(x.grad.data) <= n_windows and x.grad.data.sum() == pytest.approx(n_windows)


def test_stochastic_sampling_frequencies_follow_the_activations():
    """Every window is [1, 2, 3, 4] (2x2): sampled with probabilities 0.1, 0.2, 0.3, 0.4; the mean of
    the training output approaches the eval output 30/10 = 3."""
    x = np.tile(np.array([[1, 2], [3, 4]], np.float32), (50, 8, 20, 20))   # 50*8*20*20 = 160000 windows
    sg.manual_seed(0)
    y = stochastic_pool2d(sg.Tensor(x), 2, training=True).data
    freq = np.array([(y == v).mean() for v in (1, 2, 3, 4)])
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.005)
    assert y.mean() == pytest.approx(3.0, abs=0.01)
    assert stochastic_pool2d(sg.Tensor(x[:1, :1, :2, :2]), 2, training=False).item() == pytest.approx(3.0)


@pytest.mark.parametrize("training", [True, False])
def test_stochastic_all_zero_windows_give_zero_and_no_gradient(training):
    x = sg.Tensor(np.zeros((1, 2, 4, 4), np.float32), requires_grad=True)
    x.data[0, 0, 0, 0] = 2.0
    y = stochastic_pool2d(x, 2, training=training)
    assert y.data[0, 0, 0, 0] == 2.0 and (y.data.ravel()[1:] == 0).all()
    y.sum().backward()
    g = x.grad.data
    # train: all to the sampled 2; eval: dy/da_i = (2 a_i - y) / sum(a) = (1, -1, -1, -1) in the first window
    first = [[1, 0], [0, 0]] if training else [[1, -1], [-1, -1]]
    np.testing.assert_array_equal(g[0, 0, :2, :2], first)
    g[0, 0, :2, :2] = 0
    assert (g == 0).all()


def test_stochastic_rejects_negative_inputs_and_module_switches_mode():
    with pytest.raises(ValueError, match="non-negative"):
        stochastic_pool2d(sg.Tensor(_x()), 2)
    m = nn.StochasticPool2d(2)
    x = sg.Tensor(_x(positive=True))
    sg.manual_seed(1)
    a = m(x).data
    sg.manual_seed(1)
    assert_close(a, stochastic_pool2d(x, 2, training=True))
    m.eval()
    assert_close(m(x), stochastic_pool2d(x, 2, training=False))
    assert "kernel_size=2, stride=2" in repr(m)


# ---- median pooling --------------------------------------------------------------------------------
@pytest.mark.parametrize("k,s,p", POOL_GRID, ids=str)
def test_median_pool_loops_torch_and_gradcheck(torch, k, s, p):
    x = _x()
    xs = sg.Tensor(x, requires_grad=True)
    y = median_pool2d(xs, k, s, p)
    assert y.dtype == np.float32
    assert_close(y, _reduce_loops(x, k, s, p, lambda w: np.sort(w)[(len(w) - 1) // 2]), atol=0, what="loops")
    # torch oracle: unfold the windows, torch.median (the lower median, gradient to its element)
    xt = to_torch(torch, x, True)
    xpt = torch.nn.functional.pad(xt, (p, p, p, p))
    yt = xpt.unfold(2, k, s).unfold(3, k, s).reshape(*y.shape, k * k).median(dim=-1).values
    assert_close(y, yt, atol=0, what="torch")
    gy = _x(y.shape, seed=1)
    y.backward(sg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    assert_close(xs.grad, xt.grad, atol=1e-6, what="gx")
    _gradchecks(lambda t: median_pool2d(t, k, s, p), [_x((1, 2, 5, 6), seed=2)])
    assert_close(nn.MedianPool2d(k, s, p)(sg.Tensor(x)), y)


def test_median_pool_ties_send_the_gradient_to_the_first_median():
    x = sg.Tensor(np.array([[[[0, 0, 3], [5, 0, 1], [0, 2, 0]]]], np.float32), requires_grad=True)
    y = median_pool2d(x, 3)                      # sorted: 0 0 0 0 0 1 2 3 5 -> the median 0, first at (0, 0)
    assert y.item() == 0.0
    y.sum().backward()
    expected = np.zeros((1, 1, 3, 3), np.float32)
    expected[0, 0, 0, 0] = 1
    np.testing.assert_array_equal(x.grad.data, expected)


# ---- combined max + avg -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["add", "cat"])
def test_avgmax_pool2d(torch, mode):
    F = torch.nn.functional
    x = _x((2, 3, 8, 7))
    xs, xt = sg.Tensor(x, requires_grad=True), to_torch(torch, x, True)
    y = avgmax_pool2d(xs, 3, 2, 1, mode=mode)
    a, m = F.avg_pool2d(xt, 3, 2, 1), F.max_pool2d(xt, 3, 2, 1)
    yt = 0.5 * (a + m) if mode == "add" else torch.cat([a, m], 1)
    ref_avg = _reduce_loops(x, 3, 2, 1, np.mean)
    ref_max = _reduce_loops(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf), 3, 2, 0, np.max)
    ref = 0.5 * (ref_avg + ref_max) if mode == "add" else np.concatenate([ref_avg, ref_max], 1)
    assert_close(y, ref, atol=1e-6, what="loops")
    assert_close(y, yt, atol=1e-6, what="torch")
    gy = _x(y.shape, seed=1)
    y.backward(sg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    assert_close(xs.grad, xt.grad, atol=1e-6)
    _gradchecks(lambda t: avgmax_pool2d(t, 2, 1, 0, mode=mode), [_x((1, 2, 4, 5))])
    assert_close(nn.AvgMaxPool2d(3, 2, 1, mode=mode)(sg.Tensor(x)), y)


@pytest.mark.parametrize("mode,size", [("add", 1), ("cat", 1), ("add", (3, 2))])
def test_adaptive_avgmax_pool2d_matches_the_notes(torch, mode, size):
    F = torch.nn.functional
    x = _x((2, 4, 7, 9))
    y = adaptive_avgmax_pool2d(sg.Tensor(x), size, mode)
    a, m = F.adaptive_avg_pool2d(torch.from_numpy(x), size), F.adaptive_max_pool2d(torch.from_numpy(x), size)
    assert_close(y, 0.5 * (a + m) if mode == "add" else torch.cat([a, m], 1), atol=1e-6)
    assert_close(nn.AdaptiveAvgMaxPool2d(size, mode)(sg.Tensor(x)), y)
    _gradchecks(lambda t: adaptive_avgmax_pool2d(t, size, mode), [_x((1, 2, 5, 4))])
    with pytest.raises(ValueError, match="mode"):
        adaptive_avgmax_pool2d(sg.Tensor(x), 1, "mul")


# ---- spatial pyramid pooling ----------------------------------------------------------------------
def _spp_loops(x, levels, reduce):
    N, C, H, W = x.shape
    out = []
    for n in range(N):
        feats = []
        for l in levels:
            for c in range(C):
                for i in range(l):
                    for j in range(l):
                        h0, h1 = (i * H) // l, -((-(i + 1) * H) // l)
                        w0, w1 = (j * W) // l, -((-(j + 1) * W) // l)
                        feats.append(reduce(x[n, c, h0:h1, w0:w1]))
        out.append(feats)
    return np.array(out)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_spp_fixed_length_for_any_input_size(torch, mode):
    F = torch.nn.functional
    levels = (1, 2, 4)
    m = nn.SpatialPyramidPooling(levels, mode)
    for hw in [(4, 4), (5, 7), (13, 13), (32, 20), (3, 9)]:
        x = _x((2, 3) + hw, seed=hw[0])
        xs, xt = sg.Tensor(x, requires_grad=True), to_torch(torch, x, True)
        y = m(xs)
        assert y.shape == (2, 3 * 21) == (2, m.output_size(3))
        assert_close(y, _spp_loops(x, levels, np.max if mode == "max" else np.mean), atol=1e-6, what=f"loops {hw}")
        pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
        yt = torch.cat([pool(xt, l).reshape(2, -1) for l in levels], 1)
        gy = _x(y.shape, seed=1)
        y.backward(sg.Tensor(gy))
        yt.backward(torch.from_numpy(gy))
        assert_close(xs.grad, xt.grad, atol=1e-6, what=f"gx {hw}")
    _gradchecks(lambda t: spatial_pyramid_pool2d(t, (1, 2, 3), mode), [_x((1, 2, 5, 7))])


# ---- bilinear pooling ----------------------------------------------------------------------------------
def _bilinear_loops(x1, x2, eps=1e-5):
    N, C1, H, W = x1.shape
    out = np.zeros((N, C1 * x2.shape[1]))
    for n in range(N):
        z = np.zeros((C1, x2.shape[1]))
        for h in range(H):
            for w in range(W):
                z += np.outer(x1[n, :, h, w], x2[n, :, h, w])
        z = (z / (H * W)).ravel()
        z = np.sign(z) * np.sqrt(np.abs(z) + eps)
        out[n] = z / np.linalg.norm(z)
    return out


def test_bilinear_pooling(torch):
    x1, x2 = _x((2, 3, 5, 4)), _x((2, 4, 5, 4), seed=1)
    y = bilinear_pool2d(sg.Tensor(x1), sg.Tensor(x2))
    assert y.shape == (2, 12) and y.dtype == np.float32
    assert_close(y, _bilinear_loops(x1.astype(np.float64), x2.astype(np.float64)), atol=1e-6, what="loops")
    # the notes' torch code (homogeneous case), with gradients
    xs, xt = sg.Tensor(x1, requires_grad=True), to_torch(torch, x1, True)
    X = xt.reshape(2, 3, 20)
    X = (torch.bmm(X, X.transpose(1, 2)) / 20).reshape(2, 9)
    yt = torch.nn.functional.normalize(torch.sign(X) * torch.sqrt(torch.abs(X) + 1e-5))
    y = nn.BilinearPooling()(xs)
    assert_close(y, yt, atol=1e-6)
    gy = _x(y.shape, seed=2)
    y.backward(sg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    assert_close(xs.grad, xt.grad, atol=1e-5)
    _gradchecks(lambda a, b: bilinear_pool2d(a, b), [_x((2, 2, 3, 3)), _x((2, 3, 3, 3), seed=1)])
    assert np.isfinite(bilinear_pool2d(sg.zeros(1, 2, 3, 3)).data).all()


# ---- NetVLAD -------------------------------------------------------------------------------------------
def _netvlad_loops(x, centroids, w, b):
    """The reference implementation's loop over clusters, per sample and descriptor."""
    N, D, H, W = x.shape
    K = centroids.shape[0]
    out = np.zeros((N, K * D))
    for n in range(N):
        desc = x[n].reshape(D, -1).T                                   # (P, D)
        desc = desc / np.linalg.norm(desc, axis=1, keepdims=True)
        logits = desc @ w.reshape(K, D).T + b                           # (P, K)
        a = np.exp(logits - logits.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)
        V = np.zeros((K, D))
        for k in range(K):
            for i in range(len(desc)):
                V[k] += a[i, k] * (desc[i] - centroids[k])
            V[k] /= np.linalg.norm(V[k])
        out[n] = V.ravel() / np.linalg.norm(V)
    return out


def test_netvlad_module_and_loops():
    m = nn.NetVLAD(num_clusters=5, dim=4, alpha=2.0)
    assert sorted(m.state_dict()) == ["centroids", "conv.bias", "conv.weight"]
    c = m.centroids.data
    assert_close(m.conv.weight.data[:, :, 0, 0], 2 * 2.0 * c, atol=1e-6)
    assert_close(m.conv.bias, -2.0 * np.linalg.norm(c, axis=1), atol=1e-6)
    x = sg.Tensor(_x((2, 4, 3, 5)))
    y = m(x)
    assert y.shape == (2, 20) and y.dtype == np.float32
    ref = _netvlad_loops(x.data.astype(np.float64), c.astype(np.float64), m.conv.weight.data.astype(np.float64),
                         m.conv.bias.data.astype(np.float64))
    assert_close(y, ref, atol=1e-5)
    assert_close(np.linalg.norm(y.data, axis=1), np.ones(2), atol=1e-5)
    y.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_netvlad_gradcheck():
    rng = np.random.default_rng(0)
    K, D = 3, 4
    arrays = [_x((2, D, 2, 3)), rng.random((K, D)), rng.standard_normal((K, D, 1, 1)), rng.standard_normal(K)]
    _gradchecks(lambda x, c, w, b: netvlad(x, c, w, b), arrays)
    _gradchecks(lambda x, c, w: netvlad(x, c, w, None, normalize_input=False), arrays[:3], second=False)
