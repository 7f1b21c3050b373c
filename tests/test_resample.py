"""Channel shuffle, pixel shuffle/unshuffle, interpolate/Upsample: gradcheck and parity with PyTorch."""
import numpy as np
import pytest
from conftest import assert_close, to_torch

import scratchgrad as sg
import scratchgrad.nn as nn
import scratchgrad.nn.functional as F
from scratchgrad.autograd import gradcheck, gradgradcheck


def f64(*shape):
    return sg.tensor(np.random.randn(*shape), dtype=np.float64, requires_grad=True)


def f32(*shape):
    return sg.tensor(np.random.randn(*shape).astype(np.float32), requires_grad=True)


def check_parity(torch, sg_fn, torch_fn, x, atol=1e-5):
    """Forward and input gradient (for a random upstream gradient) equal to PyTorch's, dtype kept."""
    y = sg_fn(x)
    assert y.dtype == x.dtype
    g = np.random.randn(*y.shape).astype(x.dtype)
    y.backward(sg.tensor(g))
    xt = to_torch(torch, x, requires_grad=True)
    yt = torch_fn(xt)
    yt.backward(torch.tensor(g))
    assert_close(y, yt, atol=atol, what="forward")
    assert_close(x.grad, xt.grad, atol=atol, what="input gradient")


# ---- shuffles -------------------------------------------------------------------------------------
SHUFFLES = {  # name: (sg fn, torch fn name, shape)
    "channel_shuffle_2d": (lambda x: F.channel_shuffle(x, 3), lambda t, x: t.nn.functional.channel_shuffle(x, 3),
                           (2, 6, 3, 4)),
    "channel_shuffle_1d": (lambda x: F.channel_shuffle(x, 2), lambda t, x: t.nn.functional.channel_shuffle(x, 2),
                           (2, 8, 5)),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), lambda t, x: t.nn.functional.pixel_shuffle(x, 2),
                      (2, 12, 3, 4)),
    "pixel_shuffle_r3_lead": (lambda x: F.pixel_shuffle(x, 3), lambda t, x: t.nn.functional.pixel_shuffle(x, 3),
                              (2, 2, 9, 2, 3)),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), lambda t, x: t.nn.functional.pixel_unshuffle(x, 2),
                        (2, 3, 4, 6)),
    "pixel_unshuffle_3d": (lambda x: F.pixel_unshuffle(x, 3), lambda t, x: t.nn.functional.pixel_unshuffle(x, 3),
                           (2, 6, 9)),
}


@pytest.mark.parametrize("name", SHUFFLES)
def test_shuffle_parity(torch, name):
    fn, tfn, shape = SHUFFLES[name]
    check_parity(torch, fn, lambda x: tfn(torch, x), f32(*shape), atol=0)


@pytest.mark.parametrize("name", SHUFFLES)
def test_shuffle_gradcheck(name):
    fn, _, shape = SHUFFLES[name]
    assert gradcheck(fn, [f64(*shape)])
    assert gradgradcheck(fn, [f64(*shape)])


def test_pixel_shuffle_roundtrip_and_modules(torch):
    x = f32(2, 8, 3, 5)
    assert np.array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2).data, x.data)
    assert nn.PixelShuffle(2)(x).shape == (2, 2, 6, 10)
    assert nn.PixelUnshuffle(3)(f32(1, 2, 6, 9)).shape == (1, 18, 2, 3)
    y = nn.ChannelShuffle(4)(x)
    assert_close(y, torch.nn.ChannelShuffle(4)(to_torch(torch, x)), atol=0)
    for m, mt in [(nn.ChannelShuffle(4), torch.nn.ChannelShuffle(4)), (nn.PixelShuffle(2), torch.nn.PixelShuffle(2)),
                  (nn.PixelUnshuffle(3), torch.nn.PixelUnshuffle(3))]:
        assert repr(m) == repr(mt) and len(m.state_dict()) == 0


def test_shuffle_errors():
    with pytest.raises(ValueError, match=r"channel_shuffle.*6.*\(2, 6, 3\).*groups=4"):
        F.channel_shuffle(f32(2, 6, 3), 4)
    with pytest.raises(ValueError, match=r"pixel_shuffle.*\(1, 6, 2, 2\).*4"):
        F.pixel_shuffle(f32(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match=r"pixel_unshuffle.*\(1, 1, 4, 5\)"):
        F.pixel_unshuffle(f32(1, 1, 4, 5), 2)
    with pytest.raises(ValueError, match="channel_shuffle"):
        F.channel_shuffle(f32(4, 6), 2)


# ---- interpolate ------------------------------------------------------------------------------------
MODES_2D = [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True),
            ("bicubic", False), ("bicubic", True), ("area", None)]
RESIZES_2D = [((4, 4), dict(scale_factor=2)), ((5, 7), dict(size=(9, 4))), ((6, 3), dict(size=(3, 7))),
              ((5, 6), dict(scale_factor=(1.5, 0.6))), ((3, 4), dict(scale_factor=3)), ((7, 7), dict(size=7)),
              ((1, 5), dict(size=(3, 2)))]


@pytest.mark.parametrize("mode,align_corners", MODES_2D)
@pytest.mark.parametrize("hw,resize", RESIZES_2D)
def test_interpolate_2d_parity(torch, mode, align_corners, hw, resize):
    kw = dict(resize, mode=mode, align_corners=align_corners)
    check_parity(torch, lambda x: F.interpolate(x, **kw), lambda x: torch.nn.functional.interpolate(x, **kw),
                 f32(2, 3, *hw))


@pytest.mark.parametrize("mode,align_corners,shape,resize", [
    ("nearest", None, (2, 3, 5), dict(scale_factor=2)), ("nearest", None, (2, 3, 7), dict(size=4)),
    ("nearest", None, (2, 3, 4), dict(scale_factor=2.5)), ("nearest-exact", None, (2, 3, 5), dict(size=8)),
    ("linear", False, (2, 3, 5), dict(scale_factor=1.7)), ("linear", True, (2, 3, 5), dict(size=11)),
    ("linear", False, (2, 3, 6), dict(scale_factor=0.5, recompute_scale_factor=True)),
    ("area", None, (2, 3, 7), dict(size=3)),
    ("trilinear", False, (1, 2, 3, 4, 5), dict(size=(5, 3, 7))), ("trilinear", True, (1, 2, 3, 4, 5),
                                                                     dict(scale_factor=1.5)),
    ("nearest", None, (1, 2, 3, 4, 5), dict(scale_factor=(2, 1, 0.5))), ("area", None, (1, 2, 3, 4, 5),
                                                                          dict(size=2)),
])
def test_interpolate_1d_3d_parity(torch, mode, align_corners, shape, resize):
    kw = dict(resize, mode=mode, align_corners=align_corners)
    check_parity(torch, lambda x: F.interpolate(x, **kw), lambda x: torch.nn.functional.interpolate(x, **kw),
                 f32(*shape))


def test_interpolate_sizes_and_quirks_match_torch(torch):
    """Forward over a dense grid of sizes and scale factors (incl. those where PyTorch has special cases)."""
    for ins in range(1, 8):
        x = f32(1, 2, ins)
        for resize in [dict(size=o) for o in range(1, 13)] + [dict(scale_factor=s) for s in (0.5, 1.3, 1.7, 7 / 3)]:
            for mode, ac in [("nearest", None), ("nearest-exact", None), ("linear", False), ("linear", True)]:
                if ins * resize.get("scale_factor", 1) < 1:
                    continue
                kw = dict(resize, mode=mode, align_corners=ac)
                assert_close(F.interpolate(x, **kw), torch.nn.functional.interpolate(to_torch(torch, x), **kw),
                             what=str((ins, kw)))
    for hw in [(2, 4), (3, 3), (2, 3)]:                   # 2-D nearest: exact copies and doubling
        x = f32(1, 1, *hw)
        for sf in [(7 / 3, 1.3), (1.3, 2.0), (1.5, 7 / 3)]:
            kw = dict(scale_factor=sf, mode="nearest")
            assert_close(F.interpolate(x, **kw), torch.nn.functional.interpolate(to_torch(torch, x), **kw))


def test_interpolate_gradient_is_exact_where_torch_is_not():
    """PyTorch's 1-D nearest backward assumes idx = o // 2 when out = 2 * in even when the forward
    (scale_factor 7/3: idx = floor(o * 3/7) = 0, 0, 0, 1) did not: ours is the true derivative."""
    x = sg.tensor([[[1.0, 2.0]]], dtype=np.float64, requires_grad=True)
    y = F.interpolate(x, scale_factor=7 / 3)
    assert y.data.tolist() == [[[1.0, 1.0, 1.0, 2.0]]]
    y.backward(sg.tensor([[[1.0, 10.0, 100.0, 1000.0]]], dtype=np.float64))
    assert x.grad.data.tolist() == [[[111.0, 1000.0]]]
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=1.3), [f64(1, 2, 3)])


@pytest.mark.parametrize("shape,kw", [
    ((2, 2, 3, 4), dict(scale_factor=2, mode="nearest")),            # integer scale: strided-slice sum
    ((2, 2, 3, 4), dict(size=(5, 7), mode="nearest")),               # segmented sums (reduceat)
    ((2, 2, 6, 5), dict(size=(3, 2), mode="nearest-exact")),         # downsampling: some inputs unused
    ((2, 2, 3, 4), dict(size=(5, 7), mode="bilinear")),
    ((2, 2, 3, 4), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((2, 2, 3, 4), dict(size=(6, 5), mode="bicubic")),
    ((2, 2, 5, 4), dict(size=(3, 3), mode="area")),
    ((2, 2, 5), dict(scale_factor=1.6, mode="linear")),
    ((1, 2, 2, 3, 2), dict(size=(3, 4, 3), mode="trilinear")),
])
def test_interpolate_gradcheck(shape, kw):
    fn = lambda x: F.interpolate(x, **kw)  # noqa: E731
    assert gradcheck(fn, [f64(*shape)])
    assert gradgradcheck(fn, [f64(*shape)])


def test_upsample_modules(torch):
    x = f32(2, 3, 4, 5)
    pairs = [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (nn.Upsample(size=(7, 3), mode="bilinear"), torch.nn.Upsample(size=(7, 3), mode="bilinear")),
             (nn.Upsample(scale_factor=(1.5, 2), mode="bicubic", align_corners=True),
              torch.nn.Upsample(scale_factor=(1.5, 2), mode="bicubic", align_corners=True)),
             (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
             (nn.UpsamplingBilinear2d(size=(8, 9)), torch.nn.UpsamplingBilinear2d(size=(8, 9)))]
    for m, mt in pairs:
        assert repr(m) == repr(mt)
        assert len(m.state_dict()) == 0
        y = m(x)
        assert y.dtype == np.float32
        assert_close(y, mt(to_torch(torch, x)), what=repr(m))


def test_interpolate_errors():
    x = f32(1, 2, 3, 4)
    with pytest.raises(ValueError, match=r"interpolate: mode 'linear' needs 3-D input.*\(1, 2, 3, 4\)"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' needs 4-D"):
        F.interpolate(f32(1, 2, 3), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"size=\(1, 2, 3\).*\(1, 2, 3, 4\)"):
        F.interpolate(x, size=(1, 2, 3))
    with pytest.raises(ValueError, match=r"greater than 0.*\(1, 2, 3, 4\).*\(0, 1\)"):
        F.interpolate(x, scale_factor=0.3)
    with pytest.raises(ValueError, match="unknown mode 'cubic'"):
        F.interpolate(x, scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match="3-D, 4-D or 5-D"):
        F.interpolate(f32(2, 3), scale_factor=2)
