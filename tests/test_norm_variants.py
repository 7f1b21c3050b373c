"""LRN, instance norm, group norm, switchable norm: gradcheck and parity with PyTorch."""
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


def check_parity(torch, sg_fn, torch_fn, *xs, atol=1e-5):
    """Forward and the gradients of every input (for a random upstream gradient) equal PyTorch's."""
    y = sg_fn(*xs)
    assert y.dtype == xs[0].dtype
    g = np.random.randn(*y.shape).astype(xs[0].dtype)
    y.backward(sg.tensor(g))
    xts = [to_torch(torch, x, requires_grad=True) for x in xs]
    yt = torch_fn(*xts)
    yt.backward(torch.tensor(g))
    assert_close(y, yt, atol=atol, what="forward")
    for i, (x, xt) in enumerate(zip(xs, xts)):
        assert_close(x.grad, xt.grad, atol=atol, what=f"gradient of input {i}")


# ---- local response norm --------------------------------------------------------------------------
LRN_CASES = [((2, 7, 3, 4), 5, 1e-4, 0.75, 1.0), ((2, 6, 5), 2, 0.5, 0.6, 2.0), ((1, 3, 2, 2, 2), 4, 1.0, 1.5, 0.5),
             ((2, 4, 3, 3), 9, 2.0, 0.75, 1.0), ((2, 5, 3), 1, 1.0, 0.75, 1.0)]


@pytest.mark.parametrize("shape,size,alpha,beta,k", LRN_CASES)
def test_local_response_norm_parity(torch, shape, size, alpha, beta, k):
    check_parity(torch, lambda x: F.local_response_norm(x, size, alpha, beta, k),
                 lambda x: torch.nn.functional.local_response_norm(x, size, alpha, beta, k), f32(*shape))


@pytest.mark.parametrize("shape,size,alpha,beta,k", LRN_CASES[:3])
def test_local_response_norm_gradcheck(shape, size, alpha, beta, k):
    fn = lambda x: F.local_response_norm(x, size, alpha, beta, k)  # noqa: E731
    assert gradcheck(fn, [f64(*shape)])
    assert gradgradcheck(fn, [f64(*shape)])


def test_local_response_norm_module(torch):
    m = nn.LocalResponseNorm(5, alpha=1e-3, beta=0.75, k=2.0)
    x = f32(2, 8, 4, 4)
    assert_close(m(x), torch.nn.LocalResponseNorm(5, 1e-3, 0.75, 2.0)(to_torch(torch, x)))
    assert repr(m) == "LocalResponseNorm(5, alpha=0.001, beta=0.75, k=2.0)"
    assert m.state_dict() == {} or len(m.state_dict()) == 0
    with pytest.raises(ValueError, match=r"local_response_norm.*\(4, 8\)"):
        m(f32(4, 8))


# ---- instance norm and group norm -----------------------------------------------------------------
def affine_params(C, dtype, affine):
    if not affine:
        return []
    return [sg.tensor(1 + 0.5 * np.random.randn(C), dtype=dtype, requires_grad=True),
            sg.tensor(np.random.randn(C), dtype=dtype, requires_grad=True)]


@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 4, 3, 5), (2, 2, 3, 2, 3)])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_parity(torch, shape, affine):
    wb = affine_params(shape[1], np.float32, affine)
    check_parity(torch, lambda x, *p: F.instance_norm(x, None, None, *p),
                 lambda x, *p: torch.nn.functional.instance_norm(x, None, None, *p), f32(*shape), *wb)


def test_instance_norm_running_stats(torch):
    x, C = f32(4, 3, 5, 6), 3
    rm, rv = sg.tensor(np.random.randn(C).astype(np.float32)), sg.tensor(np.random.rand(C).astype(np.float32) + 1)
    rmt, rvt = to_torch(torch, rm), to_torch(torch, rv)
    y = F.instance_norm(x, rm, rv, momentum=0.3)
    yt = torch.nn.functional.instance_norm(to_torch(torch, x), rmt, rvt, momentum=0.3)
    assert_close(y, yt)
    assert_close(rm, rmt, what="running_mean")
    assert_close(rv, rvt, what="running_var")
    check_parity(torch, lambda x: F.instance_norm(x, rm, rv, use_input_stats=False),
                 lambda x: torch.nn.functional.instance_norm(x, rmt, rvt, use_input_stats=False), x)


GN_CASES = [((2, 6, 4, 4), 1), ((2, 6, 4, 4), 2), ((2, 6, 4, 4), 3), ((2, 6, 4, 4), 6), ((3, 4), 2), ((2, 6, 5), 3),
            ((2, 4, 2, 3, 2), 2)]


@pytest.mark.parametrize("shape,G", GN_CASES)
@pytest.mark.parametrize("affine", [False, True])
def test_group_norm_parity(torch, shape, G, affine):
    wb = affine_params(shape[1], np.float32, affine)
    check_parity(torch, lambda x, *p: F.group_norm(x, G, *p, eps=1e-3),
                 lambda x, *p: torch.nn.functional.group_norm(x, G, *p, eps=1e-3), f32(*shape), *wb)


@pytest.mark.parametrize("fn,shape", [
    (lambda x, w, b: F.instance_norm(x, None, None, w, b), (2, 3, 4)),
    (lambda x, w, b: F.instance_norm(x, None, None, w, b), (2, 2, 3, 2)),
    (lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3)),
    (lambda x, w, b: F.group_norm(x, 3, w, b), (2, 6, 2, 2)),
])
def test_instance_group_norm_gradcheck(fn, shape):
    args = [f64(*shape)] + affine_params(shape[1], np.float64, True)
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


def test_instance_norm_modules(torch):
    cases = [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm2d", (3, 4, 5, 6)), ("InstanceNorm3d", (2, 4, 3, 2, 3))]
    for cls, shape in cases:
        m = getattr(nn, cls)(4, affine=True, track_running_stats=True, momentum=0.2)
        mt = getattr(torch.nn, cls)(4, affine=True, track_running_stats=True, momentum=0.2)
        m.weight.data[:] = np.random.rand(4) + 0.5
        m.bias.data[:] = np.random.randn(4)
        mt.load_state_dict({k: to_torch(torch, v) for k, v in m.state_dict().items()})
        assert set(m.state_dict()) == set(mt.state_dict())
        for _ in range(2):
            x = f32(*shape)
            assert_close(m(x), mt(to_torch(torch, x)), what=f"{cls} train")
        for k, v in mt.state_dict().items():
            assert_close(m.state_dict()[k], v, what=f"{cls} {k}")
        m.eval(), mt.eval()
        x = f32(*shape)
        assert_close(m(x), mt(to_torch(torch, x)), what=f"{cls} eval")
        assert_close(m(x[0]), mt(to_torch(torch, x[0])), what=f"{cls} unbatched")
    m = nn.InstanceNorm2d(3)
    assert m.state_dict() == {} or len(m.state_dict()) == 0
    assert repr(m) == repr(torch.nn.InstanceNorm2d(3))
    m.eval()                                                  # no running stats: eval uses instance stats too
    x = f32(2, 3, 4, 4)
    assert_close(m(x), torch.nn.InstanceNorm2d(3).eval()(to_torch(torch, x)))
    with pytest.raises(ValueError, match=r"InstanceNorm2d.*\(2, 3\)"):
        m(f32(2, 3))


def test_group_norm_module(torch):
    m, mt = nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)
    assert list(m.state_dict()) == list(mt.state_dict()) == ["weight", "bias"]
    assert repr(m) == repr(mt)
    x = f32(3, 6, 4, 4)
    assert_close(m(x), mt(to_torch(torch, x)))
    assert m(x).dtype == np.float32
    for kw in [dict(affine=False), dict(bias=False)]:
        m, mt = nn.GroupNorm(3, 6, **kw), torch.nn.GroupNorm(3, 6, **kw)
        assert repr(m) == repr(mt) and list(m.state_dict()) == list(mt.state_dict())
        assert_close(m(x), mt(to_torch(torch, x)))
    with pytest.raises(ValueError, match="num_channels=6 must be divisible by num_groups=4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"group_norm.*6.*\(2, 6, 3\).*num_groups=4"):
        F.group_norm(f32(2, 6, 3), 4)
    with pytest.raises(ValueError, match="instance_norm.*more than 1 spatial element"):
        F.instance_norm(f32(2, 3, 1))


# ---- switchable norm (torch lacks it: a plain reference from the definitions) ------------------------
def switchable_norm_reference(torch, x, mw, vw, w, b, eps=1e-5, running=None):
    """SN from its definition: the IN/LN/BN statistics each computed directly over their own axes."""
    axes = {"in": (2, 3), "ln": (1, 2, 3), "bn": (0, 2, 3)}
    mus = [x.mean(dim=a, keepdim=True) for a in axes.values()]
    vars_ = [x.var(dim=a, keepdim=True, unbiased=False) for a in axes.values()]
    if running is not None:
        mus[2], vars_[2] = running[0].reshape(1, -1, 1, 1), running[1].reshape(1, -1, 1, 1)
    pm, pv = torch.softmax(mw, 0), torch.softmax(vw, 0)
    mu = sum(p * m for p, m in zip(pm, mus))
    var = sum(p * v for p, v in zip(pv, vars_))
    return (x - mu) / torch.sqrt(var + eps) * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)


def sn_params(C, dtype):
    return [sg.tensor(np.random.randn(3), dtype=dtype, requires_grad=True),
            sg.tensor(np.random.randn(3), dtype=dtype, requires_grad=True)] + affine_params(C, dtype, True)


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (2, 6, 3, 4), (3, 1, 4, 2)])
def test_switchable_norm_matches_reference(torch, shape):
    C = shape[1]
    check_parity(torch, lambda x, mw, vw, w, b: F.switchable_norm(x, mw, vw, None, None, w, b),
                 lambda *a: switchable_norm_reference(torch, *a), f32(*shape), *sn_params(C, np.float32))
    rm, rv = sg.tensor(np.random.randn(C).astype(np.float32)), sg.tensor(np.random.rand(C).astype(np.float32) + .5)
    check_parity(torch, lambda x, mw, vw, w, b: F.switchable_norm(x, mw, vw, rm, rv, w, b, training=False),
                 lambda *a: switchable_norm_reference(torch, *a, running=(to_torch(torch, rm), to_torch(torch, rv))),
                 f32(*shape), *sn_params(C, np.float32))


def test_switchable_norm_gradcheck():
    for training in (True, False):
        rm, rv = sg.tensor(np.random.randn(3), dtype=np.float64), sg.tensor(np.random.rand(3) + .5, dtype=np.float64)
        fn = lambda x, mw, vw, w, b: F.switchable_norm(x, mw, vw, rm if not training else None,  # noqa: E731
                                                       rv if not training else None, w, b, training)
        args = [f64(3, 3, 2, 3)] + sn_params(3, np.float64)
        assert gradcheck(fn, args)
        assert gradgradcheck(fn, args)


def test_switchable_norm_reduces_to_in_ln_bn():
    """With all the softmax weight on one kind of statistic, SN is that normalisation."""
    x = f64(4, 3, 5, 5)
    one_hot = lambda k: sg.tensor(np.where(np.arange(3) == k, 0.0, -60.0), dtype=np.float64)  # noqa: E731
    sn = lambda k: F.switchable_norm(x, one_hot(k), one_hot(k)).data  # noqa: E731
    np.testing.assert_allclose(sn(0), F.instance_norm(x).data, atol=1e-10)
    np.testing.assert_allclose(sn(1), F.layer_norm(x, x.shape[1:]).data, atol=1e-10)
    np.testing.assert_allclose(sn(2), F.batch_norm(x, None, None, training=True).data, atol=1e-10)


def test_switchable_norm_module(torch):
    m = nn.SwitchableNorm2d(4, momentum=0.2)
    assert list(m.state_dict()) == ["weight", "bias", "mean_weight", "var_weight", "running_mean", "running_var",
                                    "num_batches_tracked"]
    assert set(m.state_dict()) == set(torch.nn.BatchNorm2d(4).state_dict()) | {"mean_weight", "var_weight"}
    x = f32(5, 4, 3, 3)
    y = m(x)
    assert y.dtype == np.float32
    xt = to_torch(torch, x)
    assert_close(y, switchable_norm_reference(torch, xt, *(to_torch(torch, p) for p in
                                                            (m.mean_weight, m.var_weight, m.weight, m.bias))))
    # running statistics as BatchNorm2d's (momentum 0.2, unbiased variance)
    bn = torch.nn.BatchNorm2d(4, momentum=0.2)
    bn(xt)
    assert_close(m.running_mean, bn.running_mean, what="running_mean")
    assert_close(m.running_var, bn.running_var, what="running_var")
    y.sum().backward()
    assert m.mean_weight.grad is not None and m.var_weight.grad.shape == (3,)
    m.eval()
    x2 = f32(2, 4, 3, 3)
    ref = switchable_norm_reference(torch, to_torch(torch, x2), *(to_torch(torch, p) for p in
                                    (m.mean_weight, m.var_weight, m.weight, m.bias)),
                                    running=(bn.running_mean, bn.running_var))
    assert_close(m(x2), ref, what="eval")
    with pytest.raises(ValueError, match=r"SwitchableNorm2d.*\(2, 4, 3\)"):
        m(f32(2, 4, 3))
