"""Every layer: float64 gradient check and PyTorch parity (forward, input grad, every parameter's grad),
in train and eval mode where that matters. Weights go to torch through state_dict (keys must match)."""
import numpy as np
import pytest
from conftest import assert_close, to_torch

import scratchgrad as sg
import scratchgrad.nn as nn
import scratchgrad.nn.functional as F
from scratchgrad.autograd import gradcheck, gradgradcheck


def copy_to_torch(torch, sg_mod, t_mod):
    """Load sg's state_dict into the torch module; strict=True, so the key names must be torch's."""
    t_mod.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sg_mod.state_dict().items()}, strict=True)
    return t_mod


def check_parity(torch, sg_mod, t_mod, x, train=True, atol=1e-5, rtol=1e-5, load=True):
    """Same weights, same input: compare outputs, input gradient, parameter gradients and buffers."""
    if load:
        copy_to_torch(torch, sg_mod, t_mod.double() if x.dtype == np.float64 else t_mod)
    sg_mod.train(train)
    t_mod.train(train)
    floating = x.dtype.kind == "f"
    xs = sg.tensor(x, requires_grad=floating)
    xt = torch.tensor(x, requires_grad=floating)
    y, yt = sg_mod(xs), t_mod(xt)
    assert y.dtype == x.dtype if floating else y.dtype == np.float32
    assert_close(y, yt, atol, rtol, "forward")
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(y.dtype)
    y.backward(sg.tensor(gy))
    yt.backward(torch.tensor(gy))
    if floating:
        assert_close(xs.grad, xt.grad, atol, rtol, "input grad")
    tparams = dict(t_mod.named_parameters())
    names = [n for n, _ in sg_mod.named_parameters()]
    assert names == list(tparams), "parameter names/order differ from torch"
    for name, p in sg_mod.named_parameters():
        tg = tparams[name].grad
        if tg is None:
            assert p.grad is None or not p.grad.data.any(), name
        else:
            assert p.grad.dtype == p.dtype, f"{name} grad dtype"
            assert_close(p.grad, tg, atol, rtol, f"grad of {name}")
    tbuf = dict(t_mod.named_buffers())
    for name, b in sg_mod.named_buffers():
        assert_close(b, tbuf[name], atol, rtol, f"buffer {name}")
    return y


def check_gradcheck(mod, x, train=True):
    """gradcheck w.r.t. the input and every parameter of mod.double()."""
    mod.double().train(train)
    xs = sg.tensor(np.asarray(x, dtype=np.float64), requires_grad=True, dtype=np.float64)
    params = list(mod.parameters())
    assert gradcheck(lambda x, *ps: mod(x), [xs, *params])


def rand(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


# name -> (scratchgrad layer, torch layer, input shape)
ELEMENTWISE = {
    "identity": (lambda: nn.Identity(), lambda t: t.nn.Identity(), (4, 5)),
    "flatten": (lambda: nn.Flatten(), lambda t: t.nn.Flatten(), (3, 2, 4)),
    "flatten02": (lambda: nn.Flatten(0, 1), lambda t: t.nn.Flatten(0, 1), (3, 2, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), lambda t: t.nn.Sigmoid(), (4, 5)),
    "tanh": (lambda: nn.Tanh(), lambda t: t.nn.Tanh(), (4, 5)),
    "relu": (lambda: nn.ReLU(), lambda t: t.nn.ReLU(), (4, 5)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2), (4, 5)),
    "relu6": (lambda: nn.ReLU6(), lambda t: t.nn.ReLU6(), (4, 5)),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.5), lambda t: t.nn.Hardtanh(-0.5, 0.5), (4, 5)),
    "elu": (lambda: nn.ELU(0.7), lambda t: t.nn.ELU(0.7), (4, 5)),
    "gelu": (lambda: nn.GELU(), lambda t: t.nn.GELU(), (4, 5)),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda t: t.nn.GELU("tanh"), (4, 5)),
    "silu": (lambda: nn.SiLU(), lambda t: t.nn.SiLU(), (4, 5)),
    "softplus": (lambda: nn.Softplus(2.0), lambda t: t.nn.Softplus(2.0), (4, 5)),
    "softmax": (lambda: nn.Softmax(dim=1), lambda t: t.nn.Softmax(dim=1), (4, 5)),
    "softmax0": (lambda: nn.Softmax(dim=0), lambda t: t.nn.Softmax(dim=0), (4, 5)),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), lambda t: t.nn.LogSoftmax(dim=-1), (3, 4, 5)),
    "prelu": (lambda: nn.PReLU(), lambda t: t.nn.PReLU(), (4, 5)),
    "prelu_channels": (lambda: nn.PReLU(3), lambda t: t.nn.PReLU(3), (4, 3, 2)),
    "linear": (lambda: nn.Linear(5, 3), lambda t: t.nn.Linear(5, 3), (4, 5)),
    "linear_nobias": (lambda: nn.Linear(5, 3, bias=False), lambda t: t.nn.Linear(5, 3, bias=False), (4, 5)),
    "linear_3d": (lambda: nn.Linear(5, 3), lambda t: t.nn.Linear(5, 3), (2, 4, 5)),
    "linear_1d": (lambda: nn.Linear(5, 3), lambda t: t.nn.Linear(5, 3), (5,)),
    "layer_norm": (lambda: nn.LayerNorm(5), lambda t: t.nn.LayerNorm(5), (4, 5)),
    "layer_norm_2d": (lambda: nn.LayerNorm((3, 4)), lambda t: t.nn.LayerNorm((3, 4)), (2, 3, 4)),
    "layer_norm_noaffine": (lambda: nn.LayerNorm(5, elementwise_affine=False),
                            lambda t: t.nn.LayerNorm(5, elementwise_affine=False), (4, 5)),
    "layer_norm_nobias": (lambda: nn.LayerNorm(5, bias=False), lambda t: t.nn.LayerNorm(5, bias=False), (4, 5)),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_layer_parity(torch, name):
    make, make_t, shape = ELEMENTWISE[name]
    layer = make()
    with sg.no_grad():  # non-default parameters, so that e.g. LayerNorm's gamma matters
        for p in layer.parameters():
            p.data[...] += 0.3 * rand(*p.shape)
    check_parity(torch, layer, make_t(torch), rand(*shape))


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_layer_gradcheck(name):
    make, _, shape = ELEMENTWISE[name]
    x = rand(*shape) + (0.05 if "relu" in name else 0.0)  # keep ReLU kinks away from the probe points
    check_gradcheck(make(), x)


def test_layer_float64_parity(torch):
    layer = nn.Linear(5, 3).double()
    assert layer.weight.dtype == np.float64
    check_parity(torch, layer, torch.nn.Linear(5, 3), rand(4, 5).astype(np.float64), atol=1e-12)


def test_maxout_parity_and_gradcheck(torch):
    layer = nn.Maxout(5, 3, pieces=4)
    lin = copy_to_torch(torch, layer.linear, torch.nn.Linear(5, 12))
    x = rand(6, 5)
    xs, xt = sg.tensor(x, requires_grad=True), to_torch(torch, x, requires_grad=True)
    y, yt = layer(xs), lin(xt).view(6, 3, 4).amax(-1)
    assert y.shape == (6, 3)
    assert_close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    assert_close(xs.grad, xt.grad)
    assert_close(layer.linear.weight.grad, lin.weight.grad)
    assert_close(layer.linear.bias.grad, lin.bias.grad)
    check_gradcheck(nn.Maxout(3, 2, pieces=3), rand(4, 3))
    assert repr(layer) == "Maxout(\n  in_features=5, out_features=3, pieces=4\n  (linear): Linear(in_features=5, " \
                          "out_features=12, bias=True)\n)"


# ---- BatchNorm --------------------------------------------------------------------------
BN_CASES = {
    "2d": (dict(), (8, 4)),
    "3d": (dict(), (5, 4, 3)),
    "no_affine": (dict(affine=False), (8, 4)),
    "no_bias": (dict(bias=False), (8, 4)),
    "no_running": (dict(track_running_stats=False), (8, 4)),
    "momentum_none": (dict(momentum=None), (8, 4)),
    "momentum_0.3": (dict(momentum=0.3, eps=1e-3), (6, 4, 2)),
}


@pytest.mark.parametrize("case", list(BN_CASES))
def test_batchnorm1d_three_steps_then_eval(torch, case):
    kw, shape = BN_CASES[case]
    bn, tbn = nn.BatchNorm1d(4, **kw), torch.nn.BatchNorm1d(4, **kw)
    with sg.no_grad():  # non-default parameters
        for p in bn.parameters():
            p.data[...] += rand(4)
    copy_to_torch(torch, bn, tbn)
    for step in range(3):  # running statistics after 3 training steps equal torch's
        x = (np.random.default_rng(step).standard_normal(shape) * 3 + 2).astype(np.float32)
        bn.zero_grad()
        tbn.zero_grad()
        check_parity(torch, bn, tbn, x, train=True, atol=2e-5, load=False)  # buffers compared each step
    if bn.track_running_stats:
        assert int(bn.num_batches_tracked.data) == int(tbn.num_batches_tracked) == 3
    check_parity(torch, bn, tbn, rand(*shape), train=False, atol=2e-5, load=False)


def test_batchnorm_running_var_is_unbiased():
    bn = nn.BatchNorm1d(1, momentum=1.0)
    x = np.array([[1.0], [2.0], [3.0], [6.0]], np.float32)
    y = bn(sg.tensor(x))
    assert np.isclose(bn.running_var.data[0], x.var(ddof=1))             # update: unbiased
    assert np.allclose(y.data[:, 0], (x[:, 0] - 3) / np.sqrt(x.var() + 1e-5), atol=1e-6)  # normalise: biased
    assert bn.running_mean.dtype == np.float32 and y.dtype == np.float32


def test_batchnorm2d_parity(torch):
    check_parity(torch, nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), rand(4, 3, 2, 5) * 2 + 1, atol=2e-5)
    check_parity(torch, nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), rand(4, 3, 2, 5), train=False)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2)])
def test_batchnorm_gradcheck(shape, train):
    bn = nn.BatchNorm1d(3)
    with sg.no_grad():
        bn.weight.data[...] = 1 + rand(3)
        bn.bias.data[...] = rand(3)
        bn.running_mean.data[...] = rand(3)
        bn.running_var.data[...] = 1 + rand(3) ** 2
    check_gradcheck(bn, rand(*shape), train=train)


def test_batchnorm2d_gradcheck():
    for train in (True, False):
        check_gradcheck(nn.BatchNorm2d(2), rand(3, 2, 2, 2), train=train)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(sg.randn(1, 3))
    with pytest.raises(ValueError, match="2D or 3D"):
        nn.BatchNorm1d(3)(sg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm1d(3)(sg.randn(4, 5))


# ---- fused functional ops: double backward ---------------------------------------------------------------
def f64(*shape, requires_grad=True, seed=0):
    return sg.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=np.float64,
                     requires_grad=requires_grad)


def test_linear_gradgradcheck():
    x, W, b = f64(4, 3), f64(2, 3, seed=1), f64(2, seed=2)
    assert gradgradcheck(F.linear, [x, W, b])
    assert gradgradcheck(lambda x, W: F.linear(x, W), [f64(2, 4, 3), W])


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)])
def test_batch_norm_gradgradcheck(shape):
    x, g, b = f64(*shape), f64(3, seed=1), f64(3, seed=2)
    assert gradgradcheck(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True), [x, g, b])
    rm, rv = sg.tensor(np.zeros(3)), sg.tensor(np.ones(3) * 2)
    assert gradgradcheck(lambda x, g, b: F.batch_norm(x, rm, rv, g, b, training=False), [x, g, b])


def test_layer_norm_gradgradcheck():
    x, g, b = f64(3, 4), f64(4, seed=1), f64(4, seed=2)
    assert gradgradcheck(lambda x, g, b: F.layer_norm(x, (4,), g, b), [x, g, b])
    assert gradgradcheck(lambda x: F.layer_norm(x, (2, 3)), [f64(2, 2, 3)])


def test_fused_second_derivative_matches_torch(torch):
    """A gradient penalty through linear -> batch_norm -> layer_norm (Hessian-vector product)."""
    x = rand(6, 4).astype(np.float64)
    W, g = rand(3, 4).astype(np.float64), 1 + rand(3).astype(np.float64)
    res = []
    for lib in ("sg", "torch"):
        if lib == "sg":
            xs, Ws, gs = (sg.tensor(a, requires_grad=True, dtype=np.float64) for a in (x, W, g))
            h = F.layer_norm(F.batch_norm(F.linear(xs, Ws), None, None, gs, None, training=True), (3,))
            (gx,) = sg.autograd.grad((h ** 3).sum(), [xs], create_graph=True)
            (gx * gx).sum().backward()
        else:
            TF = torch.nn.functional
            xs, Ws, gs = (torch.tensor(a, requires_grad=True) for a in (x, W, g))
            h = TF.layer_norm(TF.batch_norm(TF.linear(xs, Ws), None, None, gs, None, training=True), (3,))
            (gx,) = torch.autograd.grad((h ** 3).sum(), [xs], create_graph=True)
            (gx * gx).sum().backward()
        res.append([gx, xs.grad, Ws.grad, gs.grad])
    for a, b in zip(*res):
        assert_close(a, b, atol=1e-9, rtol=1e-7)


# ---- Dropout ------------------------------------------------------------------------------
def test_dropout_inverted_and_eval_identity():
    d = nn.Dropout(0.25)
    x = sg.ones(200, 500, requires_grad=True)
    y = d(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    assert np.allclose(y.data[kept], 1 / 0.75)                    # survivors scaled by 1/(1-p)
    assert abs(y.data.mean() - 1) < 0.01                          # expectation preserved
    y.sum().backward()
    assert np.array_equal(x.grad.data, y.data)                    # same mask in backward
    assert y.dtype == np.float32
    d.eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_dropout_gradcheck():
    d = nn.Dropout(0.3)

    def fn(x):
        sg.manual_seed(7)  # the same mask on every call
        return d(x)
    assert gradcheck(fn, [sg.tensor(rand(4, 5), dtype=np.float64, requires_grad=True)])


def test_dropout_seeded():
    sg.manual_seed(3)
    a = nn.Dropout(0.5)(sg.ones(10, 10)).data
    sg.manual_seed(3)
    assert np.array_equal(a, nn.Dropout(0.5)(sg.ones(10, 10)).data)


# ---- Embedding ---------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_parity(torch, padding_idx):
    emb = nn.Embedding(7, 3, padding_idx=padding_idx)
    temb = torch.nn.Embedding(7, 3, padding_idx=padding_idx)
    if padding_idx is not None:
        assert not emb.weight.data[padding_idx].any()  # padding row initialised to zero
        with sg.no_grad():
            emb.weight.data[padding_idx] = 1.5  # a non-zero padding row must still get no gradient
    idx = np.array([[0, 2, 2, 6], [6, 6, 1, 2], [2, 2, 2, 2]])  # repeated indices accumulate
    y = check_parity(torch, emb, temb, idx)
    assert y.shape == (3, 4, 3)
    if padding_idx is not None:
        assert not emb.weight.grad.data[padding_idx].any()


def test_embedding_gradcheck_and_gradgradcheck():
    W = f64(6, 3)
    idx = np.array([[1, 1, 4], [0, 1, 5]])
    assert gradcheck(lambda W: F.embedding(idx, W), [W])
    assert gradgradcheck(lambda W: F.embedding(idx, W) ** 2, [W])
    assert gradgradcheck(lambda W: F.embedding(idx, W, padding_idx=1) ** 2, [W])
    emb = nn.Embedding(5, 2, padding_idx=0).double()
    assert gradcheck(lambda W: emb(np.array([1, 3, 3, 4])), [emb.weight])  # (the padding row is by design not a gradient)


def test_embedding_errors_and_pretrained():
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="out of range"):
        emb(sg.tensor([0, 4]))
    with pytest.raises(IndexError):
        emb(np.array([-1]))
    with pytest.raises(TypeError):
        emb(sg.tensor([0.5]))
    w = sg.randn(4, 2)
    pre = nn.Embedding.from_pretrained(w)
    assert not pre.weight.requires_grad and pre.weight.data is w.data
    assert np.array_equal(pre(np.array([3])).data, w.data[[3]])
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"


def test_large_embedding_backward_fast():
    emb = nn.Embedding(5000, 64)
    idx = np.random.default_rng(0).integers(0, 5000, (64, 32))
    emb(idx).sum().backward()
    counts = np.bincount(idx.ravel(), minlength=5000)
    assert np.allclose(emb.weight.grad.data[:, 0], counts)
    assert emb.weight.grad.dtype == np.float32


# ---- reprs and dtypes -----------------------------------------------------------------------------
def test_layer_reprs_match_torch(torch):
    pairs = [(nn.Linear(784, 512), torch.nn.Linear(784, 512)), (nn.ReLU(), torch.nn.ReLU()),
             (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (nn.PReLU(3), torch.nn.PReLU(3)),
             (nn.ELU(), torch.nn.ELU()), (nn.GELU(), torch.nn.GELU()), (nn.Softmax(1), torch.nn.Softmax(1)),
             (nn.LogSoftmax(1), torch.nn.LogSoftmax(1)), (nn.Dropout(0.1), torch.nn.Dropout(0.1)),
             (nn.BatchNorm1d(100), torch.nn.BatchNorm1d(100)), (nn.LayerNorm(10), torch.nn.LayerNorm(10)),
             (nn.Embedding(10, 3), torch.nn.Embedding(10, 3)), (nn.Flatten(), torch.nn.Flatten()),
             (nn.Identity(), torch.nn.Identity()), (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
             (nn.Softplus(), torch.nn.Softplus()), (nn.Linear(3, 2, bias=False), torch.nn.Linear(3, 2, bias=False)),
             (nn.BatchNorm1d(3, affine=False), torch.nn.BatchNorm1d(3, affine=False)),
             (nn.LayerNorm((2, 3), bias=False), torch.nn.LayerNorm((2, 3), bias=False))]
    for a, b in pairs:
        assert repr(a) == repr(b)


def test_all_layers_keep_float32():
    x = sg.randn(6, 4, requires_grad=True)
    layers = [nn.Linear(4, 4), nn.BatchNorm1d(4), nn.LayerNorm(4), nn.PReLU(), nn.ELU(), nn.GELU(), nn.Sigmoid(),
              nn.Tanh(), nn.LeakyReLU(), nn.Softmax(1), nn.LogSoftmax(1), nn.Dropout(), nn.Maxout(4, 4)]
    y = nn.Sequential(*layers)(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    for layer in layers:
        for p in layer.parameters():
            assert p.dtype == np.float32 and p.grad.dtype == np.float32
    for layer in layers:
        layer.eval()
    assert nn.Sequential(*layers)(x).dtype == np.float32
