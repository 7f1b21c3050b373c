"""Conv and pooling layers: same state_dict keys, shapes, forward and gradients as torch.nn."""
import numpy as np
import pytest

import scratchgrad as sg
import scratchgrad.nn as nn
from conftest import assert_close, to_torch

CASES = [
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=3, padding=1), (2, 4, 11)),
    ("Conv1d", dict(in_channels=4, out_channels=6, kernel_size=5, stride=2, dilation=2, groups=2), (2, 4, 17)),
    ("Conv2d", dict(in_channels=3, out_channels=8, kernel_size=3, padding=1), (2, 3, 9, 9)),
    ("Conv2d", dict(in_channels=4, out_channels=8, kernel_size=(3, 5), stride=(2, 1), padding="valid",
                    groups=4, bias=False), (2, 4, 10, 11)),
    ("Conv2d", dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", dilation=2), (1, 4, 8, 8)),
    ("ConvTranspose1d", dict(in_channels=4, out_channels=6, kernel_size=4, stride=2, padding=1), (2, 4, 7)),
    ("ConvTranspose2d", dict(in_channels=6, out_channels=4, kernel_size=4, stride=2, padding=1,
                             output_padding=1, groups=2), (2, 6, 5, 5)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 9, 9)),
    ("AvgPool2d", dict(kernel_size=2), (2, 3, 8, 8)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, 2)), (2, 3, 7, 9)),
    ("AdaptiveMaxPool2d", dict(output_size=2), (2, 3, 7, 9)),
    ("MaxPool1d", dict(kernel_size=3, stride=2), (2, 3, 11)),
    ("AvgPool1d", dict(kernel_size=2, padding=1), (2, 3, 11)),
    ("AdaptiveAvgPool1d", dict(output_size=4), (2, 3, 11)),
    ("AdaptiveMaxPool1d", dict(output_size=1), (2, 3, 11)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layer_matches_torch(torch, name, kwargs, shape):
    ours = getattr(nn, name)(**kwargs)
    theirs = getattr(torch.nn, name)(**kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = sg.randn(*shape, requires_grad=True)
    xt = to_torch(torch, x)
    y, yt = ours(x), theirs(xt)
    assert_close(y, yt, what=f"{name} forward")
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(sg.Tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(x.grad, xt.grad, atol=1e-4, what=f"{name} input grad")
    for (k, p), pt in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, pt.grad, atol=1e-4, rtol=1e-4, what=f"{name}.{k} grad")


def test_default_init_bound_matches_torch():
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, fan_in = C_in/groups * k*k."""
    m = nn.Conv2d(8, 16, 3, groups=2)
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.bias.data).max() <= bound
    assert np.abs(m.weight.data).max() > 0.9 * bound
    assert m.weight.dtype == np.float32


def test_conv_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: expected a 4-D input.*\(3, 8, 8\)"):
        nn.Conv2d(3, 8, 3)(sg.randn(3, 8, 8))
    with pytest.raises(ValueError, match="transposed"):
        nn.ConvTranspose2d(3, 8, 3, padding="same")


def test_maxpool_return_indices_and_unpool_roundtrip():
    x = sg.rand(2, 3, 8, 8) + 0.1  # positive, so the zeros unpooling adds never win
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    up = nn.MaxUnpool2d(2)(y, idx)
    assert up.shape == (2, 3, 8, 8)
    assert np.allclose(nn.MaxPool2d(2)(up).data, y.data)


def _conv_relu_stack():
    sg.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, stride=2), nn.ReLU(),
                         nn.MaxPool2d(2))


def test_sequential_runs_conv_then_relu_as_one_op_with_the_same_result():
    model = _conv_relu_stack()
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    xf, xp = sg.Tensor(x, requires_grad=True), sg.Tensor(x, requires_grad=True)
    fused = model(xf)
    assert fused.creator.inputs[0].creator.relu          # the pool's input came from the fused op
    plain = xp
    for layer in model:                                   # layer by layer: no fusion
        plain = layer(plain)
    np.testing.assert_array_equal(fused.data, plain.data)
    grads = []
    for out, inp in ((fused, xf), (plain, xp)):
        model.zero_grad()
        (out ** 2).sum().backward()
        grads.append([inp.grad.data] + [p.grad.data.copy() for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_hook_on_the_conv_sees_its_output_before_the_relu():
    """A hook watches the output between the two layers: Sequential then runs them separately."""
    model = _conv_relu_stack()
    seen = []
    model[0].register_forward_hook(lambda m, args, out: seen.append(out.data.min()))
    model(sg.Tensor(np.random.default_rng(1).standard_normal((2, 3, 9, 9)).astype(np.float32)))
    assert seen and seen[0] < 0
