"""Convolutions: im2col/col2im, conv1d, conv2d, conv_transpose1d/2d.

Float64 gradient checks (first and second order) and float32 parity with torch.nn.functional
over a grid of stride, padding ('same', 'valid', asymmetric), dilation, groups (depthwise too)
and odd sizes. The grid covers both transposed-convolution kernels (direct convolution with the
flipped kernel at stride 1, GEMM + col2im otherwise).
"""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from scratchgrad.ops.im2col import col2im, im2col

from conftest import assert_close, to_torch

# (C, H, W, C_out, kernel, stride, padding, dilation, groups)
CONV_GRID = [
    (3, 7, 6, 4, 3, 1, 0, 1, 1),
    (3, 7, 6, 4, 3, 1, 1, 1, 1),
    (3, 7, 6, 4, 3, 2, 1, 1, 1),
    (3, 8, 7, 4, 3, 2, 0, 1, 1),
    (3, 7, 7, 5, 3, 1, "same", 1, 1),
    (2, 9, 8, 3, 2, 1, "same", 1, 1),        # even kernel: 'same' pads one more on the right
    (3, 7, 6, 2, 3, 1, "valid", 1, 1),
    (3, 9, 8, 2, 3, 1, 2, 2, 1),              # dilation 2
    (2, 5, 6, 3, 3, 1, 3, 1, 1),              # pad > K-1: the transposed conv crops gy
    (3, 9, 9, 4, 3, 2, 1, 2, 1),
    (3, 7, 6, 3, 3, 1, "same", 2, 1),
    (4, 7, 6, 6, 3, 1, 1, 1, 2),              # groups 2
    (4, 7, 6, 4, 3, 2, 1, 1, 2),
    (4, 7, 6, 4, 3, 1, 1, 1, 4),              # depthwise
    (4, 7, 6, 8, 3, 2, 1, 1, 4),              # depthwise, channel multiplier 2
    (3, 6, 5, 2, (3, 1), (1, 2), (1, 0), 1, 1),  # rectangular kernel, stride, padding
    (6, 5, 5, 3, 1, 1, 0, 1, 1),              # 1x1
    (3, 5, 5, 2, 3, 1, 3, 1, 1),              # padding larger than the kernel
    (1, 12, 12, 5, 5, 1, 0, 1, 1),            # SimpleConvNet's first layer, small
]

# (C_in, H, W, C_out, kernel, stride, padding, output_padding, dilation, groups)
CONVT_GRID = [
    (3, 4, 5, 2, 3, 1, 0, 0, 1, 1),
    (3, 4, 5, 4, 3, 2, 1, 1, 1, 1),
    (4, 4, 4, 2, 3, 2, 0, 0, 1, 2),
    (4, 3, 4, 6, 3, 3, 1, 2, 1, 2),
    (2, 4, 4, 3, 3, 1, 1, 1, 2, 1),           # output_padding < dilation at stride 1
    (4, 4, 4, 4, 3, 2, 1, 1, 1, 4),           # depthwise
    (3, 4, 4, 3, 4, 2, 1, 0, 1, 1),           # DCGAN's k4 s2 p1 upsampling
    (2, 5, 5, 4, 3, 1, 2, 0, 2, 1),
]


def _conv_inputs(rng, cfg, n=2, dtype=np.float64):
    C, H, W, Co, k, s, p, d, g = cfg
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((n, C, H, W)).astype(dtype)
    w = rng.standard_normal((Co, C // g, kh, kw)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    return x, w, b, dict(stride=s, padding=p, dilation=d, groups=g)


def _convt_inputs(rng, cfg, n=2, dtype=np.float64):
    C, H, W, Co, k, s, p, op, d, g = cfg
    x = rng.standard_normal((n, C, H, W)).astype(dtype)
    w = rng.standard_normal((C, Co // g, k, k)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    return x, w, b, dict(stride=s, padding=p, output_padding=op, groups=g, dilation=d)


def _t(a, grad=True):
    return sg.Tensor(a, requires_grad=grad)


# ---- im2col / col2im --------------------------------------------------------------------------
def im2col_reference(x, kh, kw, stride, pad, dil):
    """The textbook version: a K x K loop of strided slice copies, columns ordered (c, ki, kj)."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH = (H + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    OW = (W + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    col = np.zeros((N, C, kh, kw, OH, OW), x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, :, i, j] = xp[:, :, i * dil:i * dil + stride * OH:stride, j * dil:j * dil + stride * OW:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * OH * OW, -1)


@pytest.mark.parametrize("kh,kw,stride,pad,dil", [(3, 3, 1, 0, 1), (3, 3, 2, 1, 1), (2, 3, 1, 1, 2), (5, 5, 3, 2, 1)])
def test_im2col_matches_textbook_loop_and_col2im_is_its_adjoint(kh, kw, stride, pad, dil):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    cols = im2col(x, kh, kw, stride, pad, dil)
    np.testing.assert_array_equal(cols, im2col_reference(x, kh, kw, stride, pad, dil))
    # channels_last is the same matrix with columns reordered (ki, kj, c)
    cl = im2col(x, kh, kw, stride, pad, dil, channels_last=True)
    np.testing.assert_array_equal(cl, cols.reshape(len(cols), 3, kh, kw).transpose(0, 2, 3, 1).reshape(len(cols), -1))
    # adjoint: <im2col(x), c> == <x, col2im(c)>
    c = rng.standard_normal(cols.shape).astype(np.float32)
    back = col2im(c, x.shape, kh, kw, stride, pad, dil)
    assert back.shape == x.shape and back.dtype == np.float32
    np.testing.assert_allclose(np.sum(cols * c, dtype=np.float64), np.sum(x * back, dtype=np.float64), rtol=1e-5)
    c_last = c.reshape(len(c), 3, kh, kw).transpose(0, 2, 3, 1).reshape(len(c), -1)
    np.testing.assert_allclose(col2im(c_last, x.shape, kh, kw, stride, pad, dil, channels_last=True), back, rtol=1e-6)


def test_conv_is_im2col_times_weight_matrix():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    y = conv2d(sg.tensor(x), sg.tensor(w), padding=1)
    cols = im2col(x, 3, 3, 1, 1, 1)
    ref = (cols @ w.reshape(5, -1).T).reshape(2, 8, 8, 5).transpose(0, 3, 1, 2)
    assert_close(y, ref, atol=1e-5)


# ---- conv2d ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", CONV_GRID, ids=str)
def test_conv2d_gradcheck(cfg):
    rng = np.random.default_rng(2)
    x, w, b, kw = _conv_inputs(rng, cfg)
    assert sg.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, **kw), [_t(x), _t(w), _t(b)])


def channels_last(a):
    """Same values, NHWC memory: the layout conv outputs have (exercises the other im2col order)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("cfg", CONV_GRID, ids=str)
def test_conv2d_parity(torch, cfg, layout):
    rng = np.random.default_rng(3)
    x, w, b, kw = _conv_inputs(rng, cfg, n=3, dtype=np.float32)
    xs, ws, bs = _t(x if layout == "nchw" else channels_last(x)), _t(w), _t(b)
    xt, wt, bt = (to_torch(torch, a, True) for a in (x, w, b))
    y = conv2d(xs, ws, bs, **kw)
    yt = torch.nn.functional.conv2d(xt, wt, bt, **kw)
    assert y.dtype == np.float32
    assert_close(y, yt, atol=1e-5, what="y")
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(sg.Tensor(gy if layout == "nchw" else channels_last(gy)))
    yt.backward(torch.from_numpy(gy))
    for a, at, name in ((xs, xt, "gx"), (ws, wt, "gw"), (bs, bt, "gb")):
        assert a.grad.dtype == np.float32
        assert_close(a.grad, at.grad, atol=1e-4, what=name)


def test_conv2d_parity_larger_sums(torch):
    rng = np.random.default_rng(4)
    x, w, b, kw = _conv_inputs(rng, (16, 14, 14, 16, 3, 1, 1, 1, 1), n=8, dtype=np.float32)
    xs, ws, bs = _t(x), _t(w), _t(b)
    xt, wt, bt = (to_torch(torch, a, True) for a in (x, w, b))
    y, yt = conv2d(xs, ws, bs, **kw), torch.nn.functional.conv2d(xt, wt, bt, **kw)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(sg.tensor(gy))
    yt.backward(torch.from_numpy(gy))
    assert_close(y, yt, atol=1e-4, rtol=1e-5, what="y")
    for a, at in ((xs, xt), (ws, wt), (bs, bt)):
        assert_close(a.grad, at.grad, atol=1e-4, rtol=1e-4)


def test_conv2d_skips_input_gradient_for_data(monkeypatch):
    """The first layer's input needs no gradient: the transposed convolution must not even run."""
    from scratchgrad.ops import conv as conv_mod
    calls = []
    monkeypatch.setattr(conv_mod, "conv_transpose", lambda *a, **k: calls.append(1))
    x = sg.randn(2, 1, 8, 8)
    w = sg.randn(3, 1, 3, 3, requires_grad=True)
    conv2d(x, w).sum().backward()
    assert calls == [] and x.grad is None and w.grad.shape == w.shape


def test_conv2d_output_is_channels_last_and_accepts_any_layout():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = conv2d(sg.tensor(x), sg.tensor(w), padding=1)
    assert y.data.strides[1] == 4  # NHWC memory, NCHW shape
    assert_close(conv2d(sg.Tensor(channels_last(x)), sg.tensor(w), padding=1), y, atol=1e-5)
    y2 = conv2d(y, sg.tensor(rng.standard_normal((2, 4, 1, 1)).astype(np.float32)))  # chained, 1x1
    assert y2.shape == (2, 2, 6, 6)


def test_conv2d_errors():
    x, w = sg.randn(1, 3, 5, 5), sg.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match="same"):
        conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="channels"):
        conv2d(sg.randn(1, 2, 5, 5), w)
    with pytest.raises(ValueError, match="larger"):
        conv2d(sg.randn(1, 3, 2, 2), w)


# ---- conv_transpose2d --------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", CONVT_GRID, ids=str)
def test_conv_transpose2d_gradcheck(cfg):
    rng = np.random.default_rng(6)
    x, w, b, kw = _convt_inputs(rng, cfg)
    assert sg.autograd.gradcheck(lambda x, w, b: conv_transpose2d(x, w, b, **kw), [_t(x), _t(w), _t(b)])


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("cfg", CONVT_GRID, ids=str)
def test_conv_transpose2d_parity(torch, cfg, layout):
    rng = np.random.default_rng(7)
    x, w, b, kw = _convt_inputs(rng, cfg, n=3, dtype=np.float32)
    xs, ws, bs = _t(x if layout == "nchw" else channels_last(x)), _t(w), _t(b)
    xt, wt, bt = (to_torch(torch, a, True) for a in (x, w, b))
    y = conv_transpose2d(xs, ws, bs, **kw)
    yt = torch.nn.functional.conv_transpose2d(xt, wt, bt, **kw)
    assert_close(y, yt, atol=1e-5, what="y")
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(sg.Tensor(gy if layout == "nchw" else channels_last(gy)))
    yt.backward(torch.from_numpy(gy))
    for a, at, name in ((xs, xt, "gx"), (ws, wt, "gw"), (bs, bt, "gb")):
        assert_close(a.grad, at.grad, atol=1e-4, what=name)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d():
    rng = np.random.default_rng(8)
    x = _t(rng.standard_normal((2, 4, 9, 8)))
    w = sg.Tensor(rng.standard_normal((6, 2, 3, 3)))
    y = conv2d(x, w, stride=2, padding=1, groups=2)
    gy = rng.standard_normal(y.shape)
    y.backward(sg.Tensor(gy))
    gx = conv_transpose2d(sg.Tensor(gy), w, stride=2, padding=1, output_padding=(0, 1), groups=2)
    assert_close(gx, x.grad, atol=1e-12)


def test_conv_transpose2d_rejects_bad_output_padding():
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose2d(sg.randn(1, 2, 3, 3), sg.randn(2, 2, 3, 3), stride=2, output_padding=2)


# ---- 1-D -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("C,L,Co,k,s,p,d,g", [(3, 11, 4, 3, 2, 1, 1, 1), (4, 10, 4, 3, 1, "same", 2, 2),
                                              (2, 9, 4, 4, 1, "valid", 1, 2), (4, 8, 4, 3, 1, 1, 1, 4)])
def test_conv1d(torch, C, L, Co, k, s, p, d, g):
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, C, L)), rng.standard_normal((Co, C // g, k)), rng.standard_normal(Co)
    kw = dict(stride=s, padding=p, dilation=d, groups=g)
    assert sg.autograd.gradcheck(lambda x, w, b: conv1d(x, w, b, **kw), [_t(x), _t(w), _t(b)])
    xs, ws, bs = (_t(a.astype(np.float32)) for a in (x, w, b))
    xt, wt, bt = (to_torch(torch, a, True) for a in (xs, ws, bs))
    y, yt = conv1d(xs, ws, bs, **kw), torch.nn.functional.conv1d(xt, wt, bt, **kw)
    assert_close(y, yt, atol=1e-5)
    y.sum().backward()
    yt.sum().backward()
    for a, at in ((xs, xt), (ws, wt), (bs, bt)):
        assert_close(a.grad, at.grad, atol=1e-4)


def test_conv_transpose1d(torch):
    rng = np.random.default_rng(10)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((2, 4, 6), (4, 3, 3), (6,)))
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    y = conv_transpose1d(sg.tensor(x), sg.tensor(w), sg.tensor(b), **kw)
    yt = torch.nn.functional.conv_transpose1d(*(torch.from_numpy(a) for a in (x, w, b)), **kw)
    assert_close(y, yt, atol=1e-5)
    assert sg.autograd.gradcheck(lambda x, w: conv_transpose1d(x, w, **kw),
                                 [_t(x.astype(np.float64)), _t(w.astype(np.float64))])


# ---- second order ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [(2, 5, 5, 4, 3, 2, 1, 1, 2), (3, 5, 4, 2, 3, 1, "same", 2, 1),
                                 (2, 5, 5, 3, 3, 1, 1, 1, 1), (4, 4, 4, 4, 2, 1, 1, 1, 2)], ids=str)
def test_conv2d_gradgradcheck(cfg):
    rng = np.random.default_rng(11)
    x, w, b, kw = _conv_inputs(rng, cfg, n=1)
    assert sg.autograd.gradgradcheck(lambda x, w, b: conv2d(x, w, b, **kw), [_t(x), _t(w), _t(b)])


@pytest.mark.parametrize("cfg", [(2, 3, 3, 2, 3, 2, 1, 1, 1, 1), (2, 3, 3, 2, 3, 1, 1, 0, 2, 2)], ids=str)
def test_conv_transpose2d_gradgradcheck(cfg):
    rng = np.random.default_rng(12)
    x, w, b, kw = _convt_inputs(rng, cfg, n=1)
    assert sg.autograd.gradgradcheck(lambda x, w, b: conv_transpose2d(x, w, b, **kw), [_t(x), _t(w), _t(b)])


def test_conv2d_gradient_penalty_matches_torch(torch):
    """WGAN-GP style: penalty on the input gradient, then backward to the weights (double backward)."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((2, 4, 3, 3)).astype(np.float32) * 0.3

    def penalty(lib, F, x, w1, w2):
        h = F.conv2d(x, w1, stride=2, padding=1)
        out = (F.conv2d(lib.tanh(h), w2, padding=1) ** 2).sum()
        (gx,) = lib.autograd.grad(out, [x], create_graph=True)
        return (gx * gx).sum()

    xs, w1s, w2s = _t(x), _t(w1), _t(w2)
    ns = type("F", (), {"conv2d": staticmethod(conv2d)})
    penalty(sg, ns, xs, w1s, w2s).backward()
    xt, w1t, w2t = (to_torch(torch, a, True) for a in (x, w1, w2))
    penalty(torch, torch.nn.functional, xt, w1t, w2t).backward()
    for a, at in ((w1s, w1t), (w2s, w2t), (xs, xt)):
        assert_close(a.grad, at.grad, atol=1e-4, rtol=1e-4)


# ---- conv2d(..., relu=True): the convolution and its ReLU as one op ---------------------------------
@pytest.mark.parametrize("cfg", CONV_GRID, ids=str)
def test_conv2d_relu_gradcheck(cfg):
    rng = np.random.default_rng(14)
    x, w, b, kw = _conv_inputs(rng, cfg)
    assert sg.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, relu=True, **kw), [_t(x), _t(w), _t(b)])


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("x_grad", [True, False], ids=["gx", "no-gx"])
@pytest.mark.parametrize("cfg", CONV_GRID, ids=str)
def test_conv2d_relu_parity(torch, cfg, x_grad):
    """Against torch.relu(F.conv2d(...)); without gx the kernels take the weight-only route."""
    rng = np.random.default_rng(15)
    x, w, b, kw = _conv_inputs(rng, cfg, n=3, dtype=np.float32)
    xs, ws, bs = _t(channels_last(x), x_grad), _t(w), _t(b)
    xt, wt, bt = to_torch(torch, x, x_grad), to_torch(torch, w, True), to_torch(torch, b, True)
    y = conv2d(xs, ws, bs, relu=True, **kw)
    yt = torch.relu(torch.nn.functional.conv2d(xt, wt, bt, **kw))
    assert_close(y, yt, atol=1e-5, what="y")
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(sg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    for a, at, name in ((xs, xt, "gx"), (ws, wt, "gw"), (bs, bt, "gb"))[0 if x_grad else 1:]:
        assert_close(a.grad, at.grad, atol=1e-4, what=name)


def test_conv2d_relu_backward_after_its_output_is_gone():
    """sum() keeps no reference to its input: the fused op keeps its output array for the mask itself."""
    rng = np.random.default_rng(16)
    x, w, b, kw = _conv_inputs(rng, (3, 7, 6, 4, 3, 1, 1, 1, 1))
    fused, plain = [_t(x), _t(w), _t(b)], [_t(x), _t(w), _t(b)]
    conv2d(*fused, relu=True, **kw).sum().backward()
    sg.relu(conv2d(*plain, **kw)).sum().backward()
    for a, p in zip(fused, plain):
        np.testing.assert_allclose(a.grad.data, p.grad.data, rtol=1e-12, atol=1e-12)


def test_conv2d_relu_gradgradcheck():
    rng = np.random.default_rng(17)
    x, w, b, kw = _conv_inputs(rng, (2, 5, 5, 3, 3, 1, 1, 1, 1), n=1)
    assert sg.autograd.gradgradcheck(lambda x, w, b: conv2d(x, w, b, relu=True, **kw), [_t(x), _t(w), _t(b)])
