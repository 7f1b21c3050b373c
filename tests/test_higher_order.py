"""Second- and higher-order gradients (create_graph=True) against PyTorch, and the semantics of
`sg.autograd.grad`: grad_outputs, allow_unused, retain_graph, non-leaf inputs."""
import numpy as np
import pytest

import scratchgrad as sg
from conftest import assert_close, to_torch


def _arrays(rng, *shapes, scale=0.5):
    return [(rng.standard_normal(s) * scale).astype(np.float32) for s in shapes]


def _mlp(lib, x, w1, b1, w2, b2, act):
    return act(x @ w1 + b1) @ w2 + b2


def test_hessian_vector_product_of_mlp_loss(torch):
    rng = np.random.default_rng(0)
    x, = _arrays(rng, (8, 5), scale=1.0)
    labels = rng.integers(0, 3, 8)
    params = _arrays(rng, (5, 6), (6,), (6, 3), (3,))
    vs = _arrays(rng, (5, 6), (6,), (6, 3), (3,), scale=1.0)

    ps = [sg.tensor(p, requires_grad=True) for p in params]
    logits = _mlp(sg, sg.tensor(x), *ps, act=sg.tanh)
    loss = -sg.log_softmax(logits, 1)[np.arange(8), labels].mean()
    gs = sg.autograd.grad(loss, ps, create_graph=True)
    assert all(g.requires_grad for g in gs)
    gv = sum((g * sg.tensor(v)).sum() for g, v in zip(gs, vs))
    hvs = sg.autograd.grad(gv, ps)

    tp = [to_torch(torch, p, requires_grad=True) for p in params]
    tl = torch.nn.functional.cross_entropy(_mlp(torch, torch.from_numpy(x), *tp, act=torch.tanh),
                                           torch.from_numpy(labels))
    tg = torch.autograd.grad(tl, tp, create_graph=True)
    thv = torch.autograd.grad(sum((g * torch.from_numpy(v)).sum() for g, v in zip(tg, vs)), tp)
    assert_close(loss, tl, what="loss")
    for name, h, t, g, tg_ in zip(["w1", "b1", "w2", "b2"], hvs, thv, gs, tg):
        assert_close(g, tg_, what=f"grad {name}")
        assert h.dtype == np.float32
        assert_close(h, t, atol=1e-5, rtol=1e-4, what=f"Hv {name}")


@pytest.mark.parametrize("act", ["tanh", "softplus", "leaky_relu", "gelu", "sigmoid", "elu"])
def test_gradient_penalty_reaches_discriminator_weights(torch, act):
    """WGAN-GP style: penalty = mean((||dD/dx||_2 - 1)^2), differentiated w.r.t. D's weights."""
    rng = np.random.default_rng(1)
    x, = _arrays(rng, (6, 4), scale=1.0)
    params = _arrays(rng, (4, 8), (8,), (8, 1), (1,), scale=0.7)
    sg_act = {"leaky_relu": lambda t: sg.leaky_relu(t, 0.2)}.get(act, getattr(sg, act))
    t_act = {"leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.2),
             "softplus": torch.nn.functional.softplus, "gelu": torch.nn.functional.gelu,
             "elu": torch.nn.functional.elu}.get(act, getattr(torch, act, None))

    ps = [sg.tensor(p, requires_grad=True) for p in params]
    xs = sg.tensor(x, requires_grad=True)
    d = _mlp(sg, xs, *ps, act=sg_act)
    gx, = sg.autograd.grad(d.sum(), xs, create_graph=True)
    penalty = ((gx.pow(2).sum(1) + 1e-12).sqrt() - 1.0).pow(2).mean()
    penalty.backward()

    tp = [to_torch(torch, p, requires_grad=True) for p in params]
    tx = to_torch(torch, x, requires_grad=True)
    tgx, = torch.autograd.grad(_mlp(torch, tx, *tp, act=t_act).sum(), tx, create_graph=True)
    tpen = ((tgx.pow(2).sum(1) + 1e-12).sqrt() - 1.0).pow(2).mean()
    tpen.backward()

    assert_close(penalty, tpen, what="penalty")
    for name, p, t in zip(["w1", "b1", "w2", "b2", "x"], ps + [xs], tp + [tx]):
        # no path means None (b2 never changes dD/dx; b1 and x not with a piecewise-linear activation)
        got = np.zeros(p.shape, np.float32) if p.grad is None else p.grad
        want = np.zeros(p.shape, np.float32) if t.grad is None else t.grad
        assert p.grad is None or p.grad.dtype == np.float32
        assert_close(got, want, atol=1e-5, rtol=1e-4, what=f"d penalty / d {name}")
    assert ps[0].grad is not None and ps[2].grad is not None


@pytest.mark.parametrize("fn", ["cube", "tanh", "sigmoid", "exp_sin_like", "log_softmax"])
def test_third_derivative(torch, fn):
    x0 = np.array([0.3, -0.7, 1.2], dtype=np.float64)
    fns = {
        "cube": (lambda t: t ** 3, lambda t: t ** 3),
        "tanh": (sg.tanh, torch.tanh),
        "sigmoid": (sg.sigmoid, torch.sigmoid),
        "exp_sin_like": (lambda t: sg.exp(t) * sg.tanh(t * 2.0), lambda t: torch.exp(t) * torch.tanh(t * 2.0)),
        "log_softmax": (lambda t: sg.log_softmax(t, 0), lambda t: torch.log_softmax(t, 0)),
    }
    f_sg, f_t = fns[fn]
    x, tx = sg.Tensor(x0.copy(), requires_grad=True), torch.tensor(x0, requires_grad=True)
    y, ty = f_sg(x).sum(), f_t(tx).sum()
    for order in (1, 2, 3):
        g, = sg.autograd.grad(y, x, create_graph=True)
        tg, = torch.autograd.grad(ty, tx, create_graph=True)
        assert_close(g, tg, atol=1e-10, rtol=1e-10, what=f"{fn} derivative {order}")
        y, ty = g.sum(), tg.sum()
    if fn == "cube":
        np.testing.assert_allclose(g.data, 6.0)


def test_backward_create_graph_then_backward_of_grad():
    x = sg.tensor([1.0, 2.0, -1.0], dtype=np.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


# ---- grad() semantics ------------------------------------------------------------------------------
def test_grad_does_not_touch_dot_grad_and_accepts_grad_outputs():
    x = sg.randn(3, requires_grad=True)
    y = x * 2
    g, = sg.autograd.grad(y, [x], grad_outputs=sg.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g.data, [2, 4, 6])
    assert x.grad is None
    with pytest.raises(RuntimeError, match="scalar"):
        sg.autograd.grad(x * 2, x)


def test_grad_allow_unused():
    x, z = sg.randn(3, requires_grad=True), sg.randn(3, requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        sg.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = sg.autograd.grad(y, [x, z], allow_unused=True)
    np.testing.assert_allclose(gx.data, 2.0)
    assert gz is None


def test_grad_retain_graph_semantics():
    x = sg.randn(3, requires_grad=True)
    y = (x.exp() * x).sum()
    g1, = sg.autograd.grad(y, x, retain_graph=True)
    g2, = sg.autograd.grad(y, x)  # retain_graph defaults to create_graph (False): graph freed
    np.testing.assert_allclose(g1.data, g2.data)
    with pytest.raises(RuntimeError, match="second time"):
        sg.autograd.grad(y, x)
    y = (x.exp() * x).sum()
    g, = sg.autograd.grad(y, x, create_graph=True)  # create_graph keeps the graph
    g2, = sg.autograd.grad(y, x)
    np.testing.assert_allclose(g.data, g2.data)


def test_grad_wrt_intermediate_and_multiple_outputs():
    x = sg.randn(3, requires_grad=True)
    h = x * 3
    y1, y2 = (h * h).sum(), h.sum()
    gh, gx = sg.autograd.grad([y1, y2], [h, x])
    np.testing.assert_allclose(gh.data, 2 * h.data + 1, rtol=1e-6)
    np.testing.assert_allclose(gx.data, 3 * (2 * h.data + 1), rtol=1e-6)


def test_grad_inputs_must_require_grad():
    x = sg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        sg.autograd.grad((x * 2).sum(), sg.randn(3))


def test_grad_runs_tensor_hooks():
    x = sg.randn(3, requires_grad=True)
    x.register_hook(lambda g: g * 0)
    g, = sg.autograd.grad((x * 2).sum(), x)
    np.testing.assert_allclose(g.data, 0.0)


def test_grad_wrt_intermediate_stops_there():
    """Only the part of the graph between outputs and inputs runs (and is freed)."""
    x = sg.randn(3, requires_grad=True)
    h = x.exp()
    gh, = sg.autograd.grad((h * 2.0).sum(), h)
    np.testing.assert_allclose(gh.data, 2.0)
    assert h.creator.inputs is not None  # exp's node neither ran nor was freed
    h.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data), rtol=1e-6)
