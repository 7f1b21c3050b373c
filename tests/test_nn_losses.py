"""Every loss against PyTorch (forward and gradients, all reductions), float64 gradient checks, and
second derivatives of the fused ones. Cross-entropy: indices, probabilities, class weights,
ignore_index, label smoothing, N-D inputs, logits of +-1e4."""
import numpy as np
import pytest
from conftest import assert_close

import scratchgrad as sg
import scratchgrad.nn as nn
import scratchgrad.nn.functional as F
from scratchgrad.autograd import gradcheck, gradgradcheck

REDUCTIONS = ["mean", "sum", "none"]


def rng(seed=0):
    return np.random.default_rng(seed)


def compare(torch, sg_fn, t_fn, inputs, const=(), atol=1e-5, rtol=1e-5):
    """Run sg_fn(*inputs, *const) and t_fn(...) on the same arrays; compare loss and input grads.
    Float arrays in `inputs` require grad; `const` arrays (targets, weights) do not."""
    sx = [sg.tensor(a, requires_grad=True) for a in inputs]
    tx = [torch.tensor(a, requires_grad=True) for a in inputs]
    sc = [sg.tensor(c) if isinstance(c, np.ndarray) else c for c in const]
    tc = [torch.tensor(c) if isinstance(c, np.ndarray) else c for c in const]
    ys, yt = sg_fn(*sx, *sc), t_fn(*tx, *tc)
    assert ys.dtype == inputs[0].dtype, f"loss dtype {ys.dtype}"
    assert_close(ys, yt, atol, rtol, "loss")
    gy = rng(5).standard_normal(ys.shape).astype(ys.dtype)
    ys.backward(sg.tensor(gy))
    yt.backward(torch.tensor(gy))
    for i, (a, b) in enumerate(zip(sx, tx)):
        assert a.grad.dtype == inputs[i].dtype
        assert_close(a.grad, b.grad, atol, rtol, f"grad of input {i}")
    return ys


def logits(*shape, scale=2.0, seed=0):
    return (rng(seed).standard_normal(shape) * scale).astype(np.float32)


def probs(*shape, seed=1):
    p = rng(seed).random(shape).astype(np.float32) + 0.05
    return p / p.sum(axis=1, keepdims=True)


# ---- cross-entropy -------------------------------------------------------------------------------------
CE_CASES = {
    "plain": dict(),
    "weight": dict(weight=True),
    "ignore": dict(ignore=True),
    "smooth": dict(label_smoothing=0.1),
    "weight_ignore_smooth": dict(weight=True, ignore=True, label_smoothing=0.2),
    "ignore_custom": dict(ignore=True, ignore_index=3),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CE_CASES))
def test_cross_entropy_indices(torch, case, reduction):
    kw = dict(CE_CASES[case])
    N, C = 8, 5
    x = logits(N, C)
    t = rng(2).integers(0, C, N)
    ignore_index = kw.pop("ignore_index", -100)
    if kw.pop("ignore", False):
        t[[1, 4]] = ignore_index
    w = rng(3).random(C).astype(np.float32) + 0.5 if kw.pop("weight", False) else None
    opts = dict(ignore_index=ignore_index, reduction=reduction, **kw)
    compare(torch, lambda x, t: F.cross_entropy(x, t, None if w is None else sg.tensor(w), **opts),
            lambda x, t: torch.nn.functional.cross_entropy(x, t, None if w is None else torch.tensor(w), **opts),
            [x], [t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing,weighted", [(0.0, False), (0.15, False), (0.0, True), (0.1, True)])
def test_cross_entropy_probabilities(torch, reduction, smoothing, weighted):
    x, p = logits(6, 4), probs(6, 4)
    w = np.array([0.5, 1.0, 2.0, 1.5], np.float32) if weighted else None
    opts = dict(reduction=reduction, label_smoothing=smoothing)
    compare(torch, lambda x, p: F.cross_entropy(x, p, None if w is None else sg.tensor(w), **opts),
            lambda x, p: torch.nn.functional.cross_entropy(x, p, None if w is None else torch.tensor(w), **opts),
            [x], [p])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_nd_and_1d(torch, reduction):
    TF = torch.nn.functional
    x, t = logits(3, 4, 2, 5), rng(4).integers(0, 4, (3, 2, 5))
    t[0, 1, 2] = -100
    compare(torch, lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
            lambda x, t: TF.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1), [x], [t])
    p = probs(3, 4, 2, 5)
    compare(torch, lambda x, p: F.cross_entropy(x, p, reduction=reduction),
            lambda x, p: TF.cross_entropy(x, p, reduction=reduction), [x], [p])
    compare(torch, lambda x, t: F.cross_entropy(x, t, reduction=reduction),
            lambda x, t: TF.cross_entropy(x, t, reduction=reduction), [logits(5)], [np.array(3)])


def test_cross_entropy_extreme_logits(torch):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4], [0.0, 0.0, 0.0]], np.float32)
    t = np.array([1, 2, 0, 1])
    for kw in (dict(), dict(label_smoothing=0.1), dict(reduction="none"), dict(weight=np.ones(3, np.float32))):
        skw = {k: sg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        ys = compare(torch, lambda x, t: F.cross_entropy(x, t, **skw),
                     lambda x, t: torch.nn.functional.cross_entropy(x, t, **tkw), [x], [t], atol=1e-3)
        assert np.isfinite(ys.data).all()
    compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, [x], [probs(4, 3)], atol=1e-3)


def test_cross_entropy_fast_path_equals_general_path():
    x = sg.tensor(logits(16, 10), requires_grad=True)
    t = rng().integers(0, 10, 16)
    F.cross_entropy(x, t).backward()
    g_fast = x.grad.data.copy()
    x.grad = None
    F.cross_entropy(x, t, weight=np.ones(10, np.float32)).backward()  # dense-q path
    assert np.allclose(g_fast, x.grad.data, atol=1e-7)
    p = sg.nn.functional.softmax(x, 1).data                            # (softmax(x) - t) / N
    assert np.allclose(g_fast, (p - np.eye(10, dtype=np.float32)[t]) / 16, atol=1e-7)
    assert g_fast.dtype == np.float32


def test_cross_entropy_all_ignored_is_nan(torch):
    x, t = logits(3, 4), np.full(3, -100)
    assert np.isnan(F.cross_entropy(sg.tensor(x), t).item())
    assert np.isnan(torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item())


def test_cross_entropy_errors():
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(sg.randn(2, 3), np.array([0, 3]))
    with pytest.raises(ValueError, match="does not fit"):
        F.cross_entropy(sg.randn(2, 3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(sg.randn(2, 3), np.array([0, 1]), reduction="avg")


def f64(*shape, seed=0, scale=1.0):
    return sg.tensor(rng(seed).standard_normal(shape) * scale, dtype=np.float64, requires_grad=True)


@pytest.mark.parametrize("kw", [dict(), dict(label_smoothing=0.2), dict(weight=np.array([1.0, 2.0, 0.5])),
                                dict(reduction="none"), dict(reduction="sum", ignore_index=1)])
def test_cross_entropy_gradcheck_and_gradgradcheck(kw):
    t = np.array([0, 2, 1, 1, 0])
    fn = lambda x: F.cross_entropy(x, t, **kw)  # noqa: E731
    assert gradcheck(fn, [f64(5, 3)])
    assert gradgradcheck(fn, [f64(5, 3)])
    p = np.random.default_rng(0).dirichlet(np.ones(3), 5)
    assert gradgradcheck(lambda x: F.cross_entropy(x, p, reduction=kw.get("reduction", "mean")), [f64(5, 3)])


def test_cross_entropy_second_order_vs_torch(torch):
    x, t = logits(5, 4).astype(np.float64), np.array([0, 3, 1, 1, 2])
    xs, xt = sg.tensor(x, requires_grad=True, dtype=np.float64), torch.tensor(x, requires_grad=True)
    (gs,) = sg.autograd.grad(F.cross_entropy(xs, t, label_smoothing=0.1), [xs], create_graph=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(t), label_smoothing=0.1), [xt],
                                create_graph=True)
    (gs ** 2).sum().backward()
    (gt ** 2).sum().backward()
    assert_close(xs.grad, xt.grad, atol=1e-12)


# ---- NLL --------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(torch, reduction):
    x = np.log(probs(7, 4))
    t = rng(2).integers(0, 4, 7)
    t[2] = -100
    w = np.array([0.5, 1.0, 2.0, 1.5], np.float32)
    compare(torch, lambda x, t: F.nll_loss(x, t, reduction=reduction),
            lambda x, t: torch.nn.functional.nll_loss(x, t, reduction=reduction), [x], [t])
    compare(torch, lambda x, t, w: F.nll_loss(x, t, w, reduction=reduction),
            lambda x, t, w: torch.nn.functional.nll_loss(x, t, w, reduction=reduction), [x], [t, w])
    x3, t3 = logits(2, 4, 3), rng(3).integers(0, 4, (2, 3))
    compare(torch, lambda x, t: F.nll_loss(x, t, reduction=reduction),
            lambda x, t: torch.nn.functional.nll_loss(x, t, reduction=reduction), [x3], [t3])
    t = np.array([0, 2, -100, 1])
    assert gradcheck(lambda x: F.nll_loss(x, t, weight=np.array([1.0, 2.0, 0.5]), reduction=reduction), [f64(4, 3)])
    assert gradgradcheck(lambda x: F.nll_loss(F.log_softmax(x, 1), t, reduction=reduction), [f64(4, 3)])


# ---- binary cross-entropy ---------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce(torch, reduction):
    x = rng(0).uniform(0.02, 0.98, (5, 3)).astype(np.float32)
    t = rng(1).uniform(0, 1, (5, 3)).astype(np.float32)
    w = rng(2).uniform(0.5, 2, 3).astype(np.float32)
    TF = torch.nn.functional
    compare(torch, lambda x: F.binary_cross_entropy(x, sg.tensor(t), reduction=reduction),
            lambda x: TF.binary_cross_entropy(x, torch.tensor(t), reduction=reduction), [x])
    compare(torch, lambda x, t: F.binary_cross_entropy(x, t, sg.tensor(w), reduction=reduction),   # target grad too
            lambda x, t: TF.binary_cross_entropy(x, t, torch.tensor(w), reduction=reduction), [x, t], atol=1e-4)


def test_bce_clamps_log_at_minus_100(torch):
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-30], np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0], np.float32)
    ys = compare(torch, lambda x: F.binary_cross_entropy(x, sg.tensor(t), reduction="none"),
                 lambda x: torch.nn.functional.binary_cross_entropy(x, torch.tensor(t), reduction="none"), [x],
                 rtol=1e-4)
    assert ys.data[0] == 100 and np.isfinite(ys.data).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(sg.tensor([1.5]), sg.tensor([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(torch, reduction):
    TF = torch.nn.functional
    x = logits(5, 3, scale=3)
    x[0] = [1e4, -1e4, 0.0]
    t = rng(1).uniform(0, 1, (5, 3)).astype(np.float32)
    w = rng(2).uniform(0.5, 2, (5, 1)).astype(np.float32)
    pw = np.array([1.0, 3.0, 0.5], np.float32)
    compare(torch, lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction),
            lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction=reduction), [x, t], atol=1e-4)
    compare(torch, lambda x, t: F.binary_cross_entropy_with_logits(x, t, sg.tensor(w), reduction, sg.tensor(pw)),
            lambda x, t: TF.binary_cross_entropy_with_logits(x, t, torch.tensor(w), reduction=reduction,
                                                             pos_weight=torch.tensor(pw)), [x, t], atol=1e-4)


def test_binary_losses_gradcheck_and_gradgradcheck():
    x = sg.tensor(rng(0).uniform(0.1, 0.9, (4, 3)), dtype=np.float64, requires_grad=True)
    t = sg.tensor(rng(1).uniform(0, 1, (4, 3)), dtype=np.float64, requires_grad=True)
    assert gradcheck(F.binary_cross_entropy, [x, t])
    assert gradgradcheck(F.binary_cross_entropy, [x, t])
    z = f64(4, 3, scale=3)
    pw = np.array([1.0, 2.0, 0.5])
    for fn in (F.binary_cross_entropy_with_logits,
               lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="sum", pos_weight=pw)):
        assert gradcheck(fn, [z, t])
        assert gradgradcheck(fn, [z, t])


# ---- regression losses and KL ----------------------------------------------------------------
REGRESSION = {
    "mse": (F.mse_loss, "mse_loss", {}),
    "l1": (F.l1_loss, "l1_loss", {}),
    "smooth_l1": (F.smooth_l1_loss, "smooth_l1_loss", {}),
    "smooth_l1_beta": (F.smooth_l1_loss, "smooth_l1_loss", {"beta": 0.3}),
    "smooth_l1_beta0": (F.smooth_l1_loss, "smooth_l1_loss", {"beta": 0.0}),
    "huber": (F.huber_loss, "huber_loss", {}),
    "huber_delta": (F.huber_loss, "huber_loss", {"delta": 0.4}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(REGRESSION))
def test_regression_losses(torch, name, reduction):
    fn, tname, kw = REGRESSION[name]
    x, t = logits(6, 3, scale=1.0), logits(6, 3, scale=1.0, seed=7)
    compare(torch, lambda x, t: fn(x, t, reduction=reduction, **kw),
            lambda x, t: getattr(torch.nn.functional, tname)(x, t, reduction=reduction, **kw), [x, t])
    xs, ts = f64(4, 2), f64(4, 2, seed=3)
    assert gradcheck(lambda x, t: fn(x, t, reduction=reduction, **kw), [xs, ts])
    assert gradgradcheck(lambda x, t: fn(x, t, reduction=reduction, **kw), [xs, ts])


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")
@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(torch, reduction, log_target):
    x = np.log(probs(5, 4))
    t = np.log(probs(5, 4, seed=3)) if log_target else probs(5, 4, seed=3)
    fn = lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target)  # noqa: E731
    tfn = lambda x, t: torch.nn.functional.kl_div(x, t, reduction=reduction, log_target=log_target)  # noqa: E731
    compare(torch, fn, tfn, [x, t])         # gradients for input and target
    if not log_target:
        t[0, 1] = 0.0                       # 0 * log 0 = 0 (torch's target gradient is nan there; ours is 0)
        compare(torch, fn, tfn, [x], [t])
    xs = sg.tensor(np.log(np.random.default_rng(0).dirichlet(np.ones(3), 4)), dtype=np.float64, requires_grad=True)
    ts = sg.tensor(np.random.default_rng(1).dirichlet(np.ones(3), 4), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target), [xs, ts])


# ---- loss modules ---------------------------------------------------------------------------
def test_loss_modules_match_torch(torch):
    x, t = logits(6, 4), rng(2).integers(0, 4, 6)
    y, pr = logits(6, 4, seed=3), probs(6, 4)
    w = np.array([0.5, 1.0, 2.0, 1.5], np.float32)
    cases = [
        ("MSELoss", {}, x, y), ("L1Loss", {"reduction": "sum"}, x, y), ("SmoothL1Loss", {"beta": 0.5}, x, y),
        ("HuberLoss", {"delta": 0.5}, x, y), ("CrossEntropyLoss", {"label_smoothing": 0.1}, x, t),
        ("CrossEntropyLoss", {"weight": w, "ignore_index": 2}, x, t), ("NLLLoss", {"weight": w}, x, t),
        ("BCELoss", {}, pr, pr[::-1].copy()), ("BCEWithLogitsLoss", {"pos_weight": w}, x, pr),
        ("KLDivLoss", {"reduction": "batchmean"}, np.log(pr), pr[::-1].copy()),
    ]
    for name, kw, a, b in cases:
        skw = {k: sg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        mod, tmod = getattr(nn, name)(**skw), getattr(torch.nn, name)(**tkw)
        assert repr(mod) == repr(tmod)
        assert list(mod.state_dict()) == list(tmod.state_dict()), name  # weight / pos_weight buffers
        compare(torch, lambda a, b: mod(a, b), lambda a, b: tmod(a, b), [a], [b])
