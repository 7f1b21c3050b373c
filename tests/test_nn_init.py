"""nn.init: gains, statistics of each initialiser on big tensors, orthogonality, seeding, and every
layer's default initialisation (PyTorch's)."""
import math

import numpy as np
import pytest

import scratchgrad as sg
import scratchgrad.nn as nn
from scratchgrad.nn import init


def big(*shape, dtype=np.float32):
    return sg.zeros(*shape, dtype=dtype)


def test_calculate_gain_matches_torch(torch):
    for name, param in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                        ("leaky_relu", 0.2), ("selu", None), ("conv2d", None)]:
        assert math.isclose(init.calculate_gain(name, param), torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_kaiming_statistics(kind, mode):
    w = big(400, 1000)
    fan = 1000 if mode == "fan_in" else 400
    fn = init.kaiming_uniform_ if kind == "uniform" else init.kaiming_normal_
    assert fn(w, mode=mode, nonlinearity="relu") is w
    std = math.sqrt(2.0 / fan)
    assert abs(w.data.std() / std - 1) < 0.02 and abs(w.data.mean()) < 0.01 * std
    if kind == "uniform":
        assert np.abs(w.data).max() <= math.sqrt(3) * std
    assert w.dtype == np.float32


def test_kaiming_with_leaky_slope_and_conv_fans():
    w = big(64, 32, 3, 3)                      # fan_in = 32 * 9
    init.kaiming_normal_(w, a=0.1)             # leaky_relu gain sqrt(2 / (1 + 0.01))
    std = math.sqrt(2 / 1.01) / math.sqrt(32 * 9)
    assert abs(w.data.std() / std - 1) < 0.02


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_xavier_statistics(kind):
    w = big(300, 700)
    fn = init.xavier_uniform_ if kind == "uniform" else init.xavier_normal_
    fn(w, gain=init.calculate_gain("tanh"))
    std = 5 / 3 * math.sqrt(2.0 / 1000)
    assert abs(w.data.std() / std - 1) < 0.02
    if kind == "uniform":
        assert np.abs(w.data).max() <= math.sqrt(3) * std


def test_uniform_normal_constant():
    w = big(500, 500)
    init.uniform_(w, -2, 3)
    assert w.data.min() >= -2 and w.data.max() < 3 and abs(w.data.mean() - 0.5) < 0.02
    init.normal_(w, 1.0, 0.5)
    assert abs(w.data.mean() - 1) < 0.01 and abs(w.data.std() - 0.5) < 0.01
    init.constant_(w, 0.3)
    assert np.all(w.data == np.float32(0.3))
    init.zeros_(w)
    assert not w.data.any()
    init.ones_(w)
    assert np.all(w.data == 1)
    e = init.eye_(big(3, 4))
    assert np.array_equal(e.data, np.eye(3, 4))
    t = init.trunc_normal_(big(1000, 100), std=1.0, a=-1.5, b=1.5)
    assert t.data.min() >= -1.5 and t.data.max() <= 1.5 and abs(t.data.mean()) < 0.01
    d = init.normal_(big(4, 4, dtype=np.float64))
    assert d.dtype == np.float64


@pytest.mark.parametrize("shape", [(50, 50), (30, 80), (80, 30), (16, 4, 3, 3)])
def test_orthogonal(shape):
    w = init.orthogonal_(big(*shape), gain=2.0)
    m = w.data.reshape(shape[0], -1).astype(np.float64) / 2.0
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    assert np.allclose(gram, np.eye(small), atol=1e-5)
    assert w.dtype == np.float32


def test_init_is_seeded_and_version_bumped():
    w = big(3, 3)
    v = w._version
    sg.manual_seed(42)
    a = init.kaiming_uniform_(w).data.copy()
    assert w._version > v
    sg.manual_seed(42)
    assert np.array_equal(init.kaiming_uniform_(w).data, a)
    sg.manual_seed(42)
    l1 = nn.Linear(10, 10)
    sg.manual_seed(42)
    l2 = nn.Linear(10, 10)
    assert np.array_equal(l1.weight.data, l2.weight.data) and np.array_equal(l1.bias.data, l2.bias.data)


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(big(5))
    with pytest.raises(ValueError, match="Mode"):
        init.kaiming_uniform_(big(3, 3), mode="fan_avg")


# ---- every layer's default initialisation is PyTorch's ------------------------------------------------------
def test_linear_default_init_matches_torch(torch):
    lin, tlin = nn.Linear(1000, 2000), torch.nn.Linear(1000, 2000)
    bound = 1 / math.sqrt(1000)  # kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for ours, theirs in [(lin.weight.data, tlin.weight.detach().numpy()), (lin.bias.data, tlin.bias.detach().numpy())]:
        assert np.abs(ours).max() <= bound
        assert abs(ours.std() / theirs.std() - 1) < 0.06
        assert abs(ours.std() - bound / math.sqrt(3)) < 0.06 * bound
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32


def test_other_layer_defaults(torch):
    emb = nn.Embedding(1000, 100, padding_idx=3)
    assert abs(emb.weight.data.std() - 1) < 0.02 and abs(emb.weight.data.mean()) < 0.02   # N(0, 1)
    assert not emb.weight.data[3].any()
    bn, ln = nn.BatchNorm1d(7), nn.LayerNorm((2, 3))
    assert np.all(bn.weight.data == 1) and not bn.bias.data.any()
    assert not bn.running_mean.data.any() and np.all(bn.running_var.data == 1) and bn.num_batches_tracked.item() == 0
    assert np.all(ln.weight.data == 1) and not ln.bias.data.any()
    assert np.all(nn.PReLU(4).weight.data == 0.25) and nn.PReLU().weight.shape == (1,)
    m = nn.Maxout(100, 10, pieces=3)
    assert m.linear.weight.shape == (30, 100) and np.abs(m.linear.weight.data).max() <= 0.1
    for layer, tlayer in [(bn, torch.nn.BatchNorm1d(7)), (ln, torch.nn.LayerNorm((2, 3))),
                          (nn.PReLU(4), torch.nn.PReLU(4))]:
        for k, v in tlayer.state_dict().items():
            assert np.array_equal(layer.state_dict()[k], v.numpy()), k
    for layer in (emb, bn, ln, m, nn.PReLU()):
        assert all(p.dtype == np.float32 for p in layer.parameters())
