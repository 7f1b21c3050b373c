"""Optimizers against torch.optim: same parameters, same gradients, 20 steps, same result."""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import optim

SHAPES = [(3, 4), (5,), (2, 1, 3), (), (64, 80)]  # the last one is big enough for BLAS's axpy (ops/blas.py)

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for name, kw in CASES]


class Problem:
    """Parameters, and a gradient g = c * (p - target) + noise_t that depends on the current parameters
    (so any difference in an update shows up in all later steps)."""

    def __init__(self, dtype, seed=0):
        rng = np.random.default_rng(seed)
        self.init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        self.c = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in SHAPES]
        self.target = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        self.noise = [[rng.standard_normal(s).astype(dtype) * 0.3 for s in SHAPES] for _ in range(40)]

    def grad(self, i, p, step):
        return np.asarray(self.c[i] * (p - self.target[i]) + self.noise[step][i])

    def sg_params(self):
        return [sg.tensor(a, dtype=a.dtype, requires_grad=True) for a in self.init]

    def sg_step(self, opt, params, step):
        for i, p in enumerate(params):
            p.grad = sg.Tensor(self.grad(i, p.data, step))
        opt.step()

    def torch_step(self, torch, opt, params, step):
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(self.grad(i, p.detach().numpy(), step))
        opt.step()


def _torch_opt(torch, name, params, kw):
    return getattr(torch.optim, name)(params, foreach=False, **kw)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch_over_20_steps(torch, name, kw, dtype):
    prob = Problem(dtype)
    params = prob.sg_params()
    frozen = sg.tensor(np.ones(3, dtype), dtype=dtype, requires_grad=True)  # never gets a gradient
    opt = getattr(optim, name)(params + [frozen], **kw)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in prob.init]
    topt = _torch_opt(torch, name, tparams, kw)
    for step in range(20):
        prob.sg_step(opt, params, step)
        prob.torch_step(torch, topt, tparams, step)
    # float32: 20 steps of rounding, one per axpy (BLAS fuses the multiply-add) or two (NumPy), on values ~1
    tol = dict(rtol=1e-6, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=3e-6)
    for p, tp in zip(params, tparams):
        assert p.dtype == dtype
        np.testing.assert_allclose(p.data, tp.detach().numpy(), **tol)
    # the state holds the same buffers as torch's, in the parameter's dtype; the frozen one has none
    for p, tp in zip(params, tparams):
        ours, theirs = opt.state[p], topt.state[tp]
        assert set(ours) == set(theirs)
        for k, v in ours.items():
            if k == "step":
                assert v == 20 == int(theirs[k])
            else:
                assert v.dtype == dtype
                np.testing.assert_allclose(v, theirs[k].numpy(), **tol)
    assert frozen.data.tolist() == [1.0, 1.0, 1.0] and frozen not in opt.state


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_dict_round_trip_resumes_identically(name, kw):
    prob = Problem(np.float32, seed=1)
    make = getattr(optim, name)
    params = prob.sg_params()
    opt = make(params, **kw)
    for step in range(10):
        prob.sg_step(opt, params, step)
    saved = opt.state_dict()
    snapshot = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                for i, s in saved["state"].items()}
    # a fresh optimizer (built with other hyper-parameters) on copies of the parameters
    params2 = [sg.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt2 = make(params2, lr=123.0)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for step in range(10, 20):
        prob.sg_step(opt, params, step)
        prob.sg_step(opt2, params2, step)
    for p, p2 in zip(params, params2):
        np.testing.assert_array_equal(p.data, p2.data)
    # state_dict() was a snapshot: later steps did not change it
    for i, s in snapshot.items():
        for k, v in s.items():
            np.testing.assert_array_equal(saved["state"][i][k], v)


def test_state_dict_layout_matches_torch(torch):
    prob = Problem(np.float64)
    params = prob.sg_params()
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.5, "amsgrad": True}]
    opt = optim.Adam(groups, lr=0.01)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in prob.init]
    topt = torch.optim.Adam([{"params": tparams[:2]}, {"params": tparams[2:], "lr": 0.5, "amsgrad": True}],
                            lr=0.01)
    for step in range(3):
        prob.sg_step(opt, params, step)
        prob.torch_step(torch, topt, tparams, step)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert set(ours) == {"state", "param_groups"}
    assert ours["state"].keys() == theirs["state"].keys()
    for i in ours["state"]:
        assert set(ours["state"][i]) == set(theirs["state"][i])
    for g, tg in zip(ours["param_groups"], theirs["param_groups"]):
        assert g["params"] == tg["params"]
        assert all(g[k] == tg[k] for k in g)  # our keys are a subset of torch's, with equal values


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5))])
def test_load_torch_state_dict(torch, name, kw):
    """A torch optimizer's state_dict loads as is (tensors become arrays) and training continues the same."""
    prob = Problem(np.float64, seed=2)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in prob.init]
    topt = _torch_opt(torch, name, tparams, kw)
    for step in range(10):
        prob.torch_step(torch, topt, tparams, step)
    params = [sg.tensor(tp.detach().numpy().copy(), dtype=np.float64, requires_grad=True) for tp in tparams]
    opt = getattr(optim, name)(params)
    opt.load_state_dict(topt.state_dict())
    for step in range(10, 20):
        prob.sg_step(opt, params, step)
        prob.torch_step(torch, topt, tparams, step)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-10)


def test_param_groups_match_torch(torch):
    prob = Problem(np.float64, seed=3)
    params = prob.sg_params()
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in prob.init]

    def groups(ps):
        return [{"params": ps[:1]}, {"params": ps[1:3], "lr": 0.01, "nesterov": True}, {"params": ps[3]}]
    opt = optim.SGD(groups(params), lr=0.1, momentum=0.9, weight_decay=0.01)
    topt = torch.optim.SGD(groups(tparams), lr=0.1, momentum=0.9, weight_decay=0.01)
    for step in range(20):
        prob.sg_step(opt, params, step)
        prob.torch_step(torch, topt, tparams, step)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-10)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01, 0.1]
    assert opt.param_groups[2]["params"][0] is params[3]


def test_add_param_group_and_defaults():
    a, b = sg.randn(2, requires_grad=True), sg.randn(3, requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "betas": (0.5, 0.6)})
    g = opt.param_groups[1]
    assert g["params"][0] is b and g["lr"] == 0.1 and g["betas"] == (0.5, 0.6) and g["eps"] == 1e-8
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a]})


def test_numpy_scalar_hyper_parameters_keep_float32():
    p = sg.randn(4, 3, requires_grad=True)
    opt = optim.Adam([p], lr=np.float64(0.1), betas=(np.float64(0.9), 0.999), eps=np.float64(1e-8))
    assert type(opt.param_groups[0]["lr"]) is float and type(opt.param_groups[0]["betas"][0]) is float
    p.grad = sg.randn(4, 3)
    opt.step()
    assert p.dtype == np.float32 and opt.state[p]["exp_avg_sq"].dtype == np.float32


def test_no_allocations_reused_scratch():
    """Steps reuse the same scratch memory (no per-step arrays in the optimizer)."""
    p = sg.randn(50, 20, requires_grad=True)
    opt = optim.RMSprop([p], lr=0.01, momentum=0.9, centered=True, weight_decay=0.1, maximize=True)
    p.grad = sg.randn(50, 20)
    opt.step()
    before = {k: v.__array_interface__["data"][0] for k, v in opt._work.items()}
    opt.step()
    assert {k: v.__array_interface__["data"][0] for k, v in opt._work.items()} == before


def test_trains_through_autograd():
    """The optimizer works with gradients from backward(): minimise sum((W x - y)^2)."""
    sg.manual_seed(0)
    W = sg.zeros(2, 3, requires_grad=True)
    x, y = sg.randn(3, 16), sg.randn(2, 16)
    opt = optim.Adam([W], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = ((W @ x - y) ** 2).mean()
        loss.backward()
        opt.step()
    best = np.linalg.lstsq(x.data.T, y.data.T, rcond=None)[0].T
    np.testing.assert_allclose(W.data, best, atol=1e-2)
    assert W.is_leaf and W.creator is None


def test_closure_returns_loss():
    w = sg.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.data, [0.8, -1.6], rtol=1e-6)


def test_zero_grad():
    w = sg.randn(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = sg.ones(3)
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.data.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_step_bumps_version_and_updates_in_place():
    w = sg.randn(3, requires_grad=True)
    data, version = w.data, w._version
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = sg.ones(3)
    opt.step()
    assert w.data is data and w._version == version + 1


@pytest.mark.parametrize("make,match", [
    (lambda w: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda w: optim.SGD({w}, lr=0.1), "ordered collections"),
    (lambda w: optim.SGD(w, lr=0.1), "iterable of Tensors"),
    (lambda w: optim.SGD([w * 2], lr=0.1), "non-leaf"),
    (lambda w: optim.SGD([w], lr=-1.0), "Invalid learning rate"),
    (lambda w: optim.SGD([w], lr=0.1, nesterov=True), "Nesterov"),
    (lambda w: optim.Adam([w], betas=(1.0, 0.9)), "beta parameter at index 0"),
    (lambda w: optim.Adadelta([w], rho=1.5), "rho"),
    (lambda w: optim.SGD([w, w], lr=0.1), "more than once"),
])
def test_clear_errors(make, match):
    w = sg.randn(3, requires_grad=True)
    with pytest.raises((ValueError, TypeError), match=match):
        make(w)


def test_repr_lists_groups():
    opt = optim.AdamW([sg.randn(2, requires_grad=True)])
    text = repr(opt)
    assert text.startswith("AdamW (") and "Parameter Group 0" in text and "weight_decay: 0.01" in text


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_non_contiguous_params_and_mixed_dtype_grads(name, kw):
    """The NumPy fallback (no BLAS axpy) gives the same steps: transposed parameter, float64 gradient."""
    prob = Problem(np.float32, seed=4)
    a, b = prob.init[0], prob.init[0].T.copy().T  # equal values; b is a Fortran-ordered (transposed) view
    pa, pb = sg.tensor(a, requires_grad=True), sg.Tensor(b, requires_grad=True)
    assert not pb.data.flags.c_contiguous
    oa, ob = getattr(optim, name)([pa], **kw), getattr(optim, name)([pb], **kw)
    for step in range(5):
        pa.grad = sg.Tensor(prob.grad(0, pa.data, step))
        pb.grad = sg.Tensor(prob.grad(0, pb.data, step).astype(np.float64))
        oa.step(), ob.step()
    assert pb.dtype == np.float32 and not pb.data.flags.c_contiguous
    np.testing.assert_allclose(pb.data, pa.data, rtol=1e-5, atol=1e-6)
