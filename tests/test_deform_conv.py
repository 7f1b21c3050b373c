"""Deformable convolution (v1, optional v2 mask): torch has no deform_conv2d without torchvision, so

- zero offsets == conv2d (ours and torch's, forward and gradients), integer offsets == a shifted conv;
- a plain-loop reference (torchvision's bilinear_interpolate, written out) for fractional offsets;
- float32 parity, all gradients included, with a torch oracle built from F.grid_sample
  (align_corners=True, zero padding is exactly zero-padded bilinear sampling);
- float64 gradcheck for input, offset, weight, bias and mask; the modules.
"""
import math

import numpy as np
import pytest

import scratchgrad as sg
import scratchgrad.nn as nn
from scratchgrad.ops.conv import conv2d
from scratchgrad.ops.deform_conv import deform_conv2d

from conftest import assert_close, to_torch


def _out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _case(N=2, C=4, Co=6, H=7, W=6, k=3, stride=1, padding=1, dilation=1, groups=1, og=1, mask=False, scale=1.5,
          dtype=np.float32, seed=0):
    """Random inputs: x, offset (fractional, some points outside the image), weight, bias[, mask]."""
    rng = np.random.default_rng(seed)
    OH, OW = _out(H, k, stride, padding, dilation), _out(W, k, stride, padding, dilation)
    arrs = dict(x=rng.standard_normal((N, C, H, W)), offset=scale * rng.standard_normal((N, 2 * og * k * k, OH, OW)),
                weight=rng.standard_normal((Co, C // groups, k, k)) / math.sqrt(C * k * k / groups),
                bias=rng.standard_normal(Co))
    if mask:
        arrs["mask"] = rng.random((N, og * k * k, OH, OW))
    geo = dict(stride=stride, padding=padding, dilation=dilation)
    return {n: a.astype(dtype) for n, a in arrs.items()}, geo


# ---- plain references ------------------------------------------------------------------------------
def _bilinear(img, y, x):
    """torchvision's bilinear_interpolate: 0 outside, corners outside the image count as 0."""
    H, W = img.shape
    if y <= -1 or y >= H or x <= -1 or x >= W:
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    v = 0.0
    for yy, xx, w in ((y0, x0, (1 - ly) * (1 - lx)), (y0, x0 + 1, (1 - ly) * lx), (y0 + 1, x0, ly * (1 - lx)),
                      (y0 + 1, x0 + 1, ly * lx)):
        if 0 <= yy < H and 0 <= xx < W:
            v += w * img[yy, xx]
    return v


def deform_conv2d_loops(x, offset, weight, bias, stride, padding, dilation, mask=None):
    """Sample every (n, c, tap, oh, ow) with plain loops, then contract with the weight."""
    N, C, H, W = x.shape
    Co, Cg, KH, KW = weight.shape
    OH, OW = offset.shape[2:]
    G_off, G = offset.shape[1] // (2 * KH * KW), C // Cg
    cols = np.zeros((N, C, KH * KW, OH, OW))
    for n in range(N):
        for c in range(C):
            g = c // (C // G_off)
            for i in range(KH):
                for j in range(KW):
                    k = i * KW + j
                    for oh in range(OH):
                        for ow in range(OW):
                            dy = offset[n, g * 2 * KH * KW + 2 * k, oh, ow]
                            dx = offset[n, g * 2 * KH * KW + 2 * k + 1, oh, ow]
                            v = _bilinear(x[n, c], oh * stride - padding + i * dilation + dy,
                                          ow * stride - padding + j * dilation + dx)
                            m = 1.0 if mask is None else mask[n, g * KH * KW + k, oh, ow]
                            cols[n, c, k, oh, ow] = m * v
    wg = weight.reshape(G, Co // G, Cg, KH * KW)
    y = np.einsum("ngckhw,gock->ngohw", cols.reshape(N, G, Cg, KH * KW, OH, OW), wg).reshape(N, Co, OH, OW)
    return y + (0 if bias is None else bias[:, None, None])


def deform_conv2d_torch(torch, x, offset, weight, bias, stride, padding, dilation, mask=None):
    """Differentiable torch oracle: every tap sampled with F.grid_sample (align_corners=True, zeros)."""
    F = torch.nn.functional
    N, C, H, W = x.shape
    Co, Cg, KH, KW = weight.shape
    OH, OW = offset.shape[2:]
    G_off, G = offset.shape[1] // (2 * KH * KW), C // Cg
    oh = torch.arange(OH, dtype=x.dtype)[:, None] * stride - padding
    ow = torch.arange(OW, dtype=x.dtype)[None, :] * stride - padding
    cols = []
    for g in range(G_off):
        xg = x[:, g * C // G_off:(g + 1) * C // G_off]
        taps = []
        for k in range(KH * KW):
            i, j = divmod(k, KW)
            py = oh + i * dilation + offset[:, g * 2 * KH * KW + 2 * k]
            px = ow + j * dilation + offset[:, g * 2 * KH * KW + 2 * k + 1]
            grid = torch.stack([2 * px / (W - 1) - 1, 2 * py / (H - 1) - 1], dim=-1)
            v = F.grid_sample(xg, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
            if mask is not None:
                v = v * mask[:, g * KH * KW + k, None]
            taps.append(v)
        cols.append(torch.stack(taps, dim=2))                          # (N, C/G_off, KK, OH, OW)
    cols = torch.cat(cols, dim=1).reshape(N, G, Cg, KH * KW, OH, OW)
    y = torch.einsum("ngckhw,gock->ngohw", cols, weight.reshape(G, Co // G, Cg, KH * KW)).reshape(N, Co, OH, OW)
    return y if bias is None else y + bias[:, None, None]


def _sg_call(arrs, geo, requires_grad=True):
    t = {n: sg.Tensor(a, requires_grad=requires_grad) for n, a in arrs.items()}
    return t, deform_conv2d(t["x"], t["offset"], t["weight"], t.get("bias"), mask=t.get("mask"), **geo)


# ---- zero and integer offsets ------------------------------------------------------------------------
# (kernel, stride, padding, dilation, groups)
CONV_GRID = [(3, 1, 1, 1, 1), (3, 2, 0, 1, 1), (3, 2, 2, 2, 1), (1, 1, 0, 1, 1), (5, 1, 2, 1, 2), (3, 1, 1, 1, 4)]


@pytest.mark.parametrize("k,s,p,d,g", CONV_GRID, ids=str)
def test_zero_offsets_equal_conv2d(torch, k, s, p, d, g):
    arrs, geo = _case(C=4, Co=8, H=9, W=8, k=k, stride=s, padding=p, dilation=d, groups=g, scale=0.0)
    t, y = _sg_call(arrs, geo)
    assert y.dtype == np.float32 and y.shape == (2, 8, _out(9, k, s, p, d), _out(8, k, s, p, d))
    ref = conv2d(sg.Tensor(arrs["x"]), sg.Tensor(arrs["weight"]), sg.Tensor(arrs["bias"]), s, p, d, g)
    assert_close(y, ref, atol=1e-5, what="vs sg conv2d")
    xt, wt, bt = (to_torch(torch, arrs[n], True) for n in ("x", "weight", "bias"))
    yt = torch.nn.functional.conv2d(xt, wt, bt, s, p, d, g)
    assert_close(y, yt, atol=1e-5, what="vs torch conv2d")
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(sg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    for name, tt in (("x", xt), ("weight", wt), ("bias", bt)):
        assert_close(t[name].grad, tt.grad, atol=1e-4, rtol=1e-4, what=f"grad {name}")


@pytest.mark.parametrize("shift", [(1, 0), (-2, 1), (0, 3)])
def test_integer_offsets_equal_shifted_conv(torch, shift):
    """The same integer offset (a, b) at every tap reads xp[h + a, w + b] of the zero-padded input:
    conv2d (padding 0) of the padded input shifted by (a, b)."""
    arrs, geo = _case(scale=0.0)
    a, b = shift
    arrs["offset"][:, 0::2], arrs["offset"][:, 1::2] = a, b
    _, y = _sg_call(arrs, geo, requires_grad=False)
    x, p, P = arrs["x"], geo["padding"], 5
    H, W = x.shape[2:]
    big = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    shifted = big[:, :, P - p + a:P + p + a + H, P - p + b:P + p + b + W]
    F = torch.nn.functional
    yt = F.conv2d(torch.from_numpy(np.ascontiguousarray(shifted)), torch.from_numpy(arrs["weight"]),
                  torch.from_numpy(arrs["bias"]))
    assert_close(y, yt, atol=1e-5)


# ---- fractional offsets: plain loops and the torch oracle ---------------------------------------------
CASES = [dict(), dict(stride=2, padding=0, dilation=2, H=9, W=9), dict(og=2, mask=True),
         dict(og=2, groups=2, mask=True, stride=2, k=2, padding=0), dict(C=3, og=3, groups=3, Co=3, scale=3.0)]


@pytest.mark.parametrize("kw", CASES, ids=str)
def test_forward_matches_plain_loops(kw):
    arrs, geo = _case(dtype=np.float64, **kw)
    _, y = _sg_call(arrs, geo, requires_grad=False)
    ref = deform_conv2d_loops(arrs["x"], arrs["offset"], arrs["weight"], arrs["bias"], geo["stride"],
                              geo["padding"], geo["dilation"], arrs.get("mask"))
    assert_close(y, ref, atol=1e-10)


@pytest.mark.parametrize("kw", CASES, ids=str)
def test_parity_with_grid_sample_oracle(torch, kw):
    arrs, geo = _case(**kw)
    t, y = _sg_call(arrs, geo)
    tt = {n: to_torch(torch, a, True) for n, a in arrs.items()}
    yt = deform_conv2d_torch(torch, tt["x"], tt["offset"], tt["weight"], tt["bias"], mask=tt.get("mask"), **geo)
    assert y.dtype == np.float32
    assert_close(y, yt, atol=1e-5, what="y")
    gy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    y.backward(sg.Tensor(gy))
    yt.backward(torch.from_numpy(gy))
    for name in arrs:
        assert t[name].grad.dtype == np.float32
        assert_close(t[name].grad, tt[name].grad, atol=2e-5, rtol=1e-4, what=f"grad {name}")


# ---- gradient checks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(N=1, C=2, Co=3, H=5, W=5),
                                dict(N=2, C=4, Co=2, H=5, W=4, k=2, stride=2, padding=1, dilation=2, og=2,
                                     groups=2, mask=True)], ids=str)
def test_gradcheck(kw):
    arrs, geo = _case(dtype=np.float64, **kw)
    names = list(arrs)
    inputs = [sg.Tensor(arrs[n], requires_grad=True) for n in names]

    def fn(*ts):
        d = dict(zip(names, ts))
        return deform_conv2d(d["x"], d["offset"], d["weight"], d["bias"], mask=d.get("mask"), **geo)
    assert sg.autograd.gradcheck(fn, inputs, atol=1e-6)


def test_double_backward_is_refused_clearly():
    arrs, geo = _case(N=1, C=2, Co=2, H=4, W=4, dtype=np.float64)
    t, y = _sg_call(arrs, geo)
    with pytest.raises(RuntimeError, match="not twice differentiable"):
        sg.autograd.grad([(y * y).sum()], [t["x"]], create_graph=True)


def test_far_away_offsets_read_zeros():
    arrs, geo = _case()
    arrs["offset"][:, ::3] = 1e9                      # far outside: only the bias is left
    arrs["offset"][:, 1::3] = -np.inf
    t, y = _sg_call(arrs, geo)
    assert_close(y, np.broadcast_to(arrs["bias"][:, None, None], y.shape), atol=0)
    y.sum().backward()
    assert np.isfinite(t["x"].grad.data).all()


def test_bad_shapes_raise():
    arrs, geo = _case()
    x, w = sg.Tensor(arrs["x"]), sg.Tensor(arrs["weight"])
    with pytest.raises(ValueError, match="offset"):
        deform_conv2d(x, sg.Tensor(arrs["offset"][:, :5]), w, padding=1)
    with pytest.raises(ValueError, match="mask"):
        deform_conv2d(x, sg.Tensor(arrs["offset"]), w, padding=1, mask=sg.ones(2, 3, 7, 6))


# ---- modules -----------------------------------------------------------------------------------------
def test_deform_conv2d_module_layout_and_forward():
    m = nn.DeformConv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert list(m.state_dict()) == ["weight", "bias"] and m.weight.shape == (6, 2, 3, 3)
    bound = 1 / math.sqrt(2 * 9)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.bias.data).max() <= bound
    x = sg.randn(2, 4, 8, 8)
    offset = sg.randn(2, 18, 4, 4)
    y = m(x, offset)
    ref = deform_conv2d_loops(x.data.astype(np.float64), offset.data, m.weight.data, m.bias.data, 2, 1, 1)
    assert y.shape == (2, 6, 4, 4)
    assert_close(y, ref, atol=1e-5)


def test_deformable_conv2d_starts_as_plain_conv(torch):
    m = nn.DeformableConv2d(3, 5, 3, stride=2, padding=1, dilation=1, offset_groups=1)
    assert sorted(m.state_dict()) == ["bias", "conv_offset.bias", "conv_offset.weight", "weight"]
    assert m.conv_offset.weight.shape == (18, 3, 3, 3)
    x = sg.randn(2, 3, 9, 9, requires_grad=True)
    y = m(x)
    yt = torch.nn.functional.conv2d(to_torch(torch, x), to_torch(torch, m.weight), to_torch(torch, m.bias), 2, 1)
    assert_close(y, yt, atol=1e-5)
    assert_close(y, conv2d(x, m.weight, m.bias, 2, 1), atol=1e-6)
    (y * y).sum().backward()
    assert np.abs(m.conv_offset.weight.grad.data).sum() > 0   # the offsets do get a gradient


def test_deformable_conv2d_learns_an_offset():
    """Target: the same layer reading half a pixel down and right. Training only conv_offset recovers it."""
    sg.manual_seed(0)
    m = nn.DeformableConv2d(2, 3, 3, padding=1)
    x = sg.randn(4, 2, 10, 10)
    target_offset = sg.Tensor(np.full((4, 18, 10, 10), 0.5, np.float32))
    with sg.no_grad():
        target = deform_conv2d(x, target_offset, m.weight, m.bias, padding=1)
    opt = sg.optim.Adam(m.conv_offset.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        loss = ((m(x) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    assert losses[-1] < 0.1 * losses[0]
