"""TransformerEncoderLayer / TransformerEncoder: torch parity in eval mode (post- and pre-norm, masks,
batch_first), gradcheck; PositionalEncoding against the paper's formula."""
import math

import numpy as np
import pytest

import scratchgrad as sg
import scratchgrad.nn as nn
from conftest import assert_close, to_torch


def _copy_weights(torch, ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def _compare(torch, ours, theirs, x, what, **masks):
    """Forward and every gradient (input and parameters) in eval mode, grad mode on in torch
    (so torch takes its reference path, not the fused inference fast path)."""
    ours.eval()
    theirs.eval()
    xt = to_torch(torch, x)
    out = ours(x, **masks)
    ref = theirs(xt, **{k: torch.tensor(v) for k, v in masks.items()})
    assert out.dtype == np.float32
    assert_close(out, ref, atol=3e-5, what=f"{what} forward")
    g = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(sg.tensor(g))
    ref.backward(torch.tensor(g))
    assert_close(x.grad, xt.grad, atol=5e-5, what=f"{what} grad x")
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, named[name].grad, atol=5e-5, rtol=1e-4, what=f"{what} grad {name}")


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(torch, norm_first, batch_first):
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1, norm_first=norm_first, batch_first=batch_first)
    ours, theirs = nn.TransformerEncoderLayer(**kw), torch.nn.TransformerEncoderLayer(**kw)
    _copy_weights(torch, ours, theirs)
    N, S = 3, 5
    x = sg.randn(*((N, S, 8) if batch_first else (S, N, 8)), requires_grad=True)
    pad = np.zeros((N, S), bool)
    pad[1, -2:] = True
    causal = np.triu(np.ones((S, S), bool), 1)        # bool: True = blocked (torch's encoder convention)
    _compare(torch, ours, theirs, x, f"layer nf={norm_first} bf={batch_first}",
             src_mask=causal, src_key_padding_mask=pad)


def test_encoder_layer_gelu_no_masks(torch):
    kw = dict(d_model=6, nhead=3, dim_feedforward=12, activation="gelu")
    ours, theirs = nn.TransformerEncoderLayer(**kw), torch.nn.TransformerEncoderLayer(**kw)
    _copy_weights(torch, ours, theirs)
    _compare(torch, ours, theirs, sg.randn(4, 2, 6, requires_grad=True), "gelu layer")


def test_encoder_stack_matches_torch(torch):
    layer_kw = dict(d_model=8, nhead=2, dim_feedforward=16, batch_first=True, norm_first=True)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kw), num_layers=2, norm=nn.LayerNorm(8))
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**layer_kw), num_layers=2,
                                         norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    _copy_weights(torch, ours, theirs)
    mask = nn.generate_square_subsequent_mask(5)
    ref_mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    assert_close(mask, ref_mask)
    _compare(torch, ours, theirs, sg.randn(2, 5, 8, requires_grad=True), "encoder", mask=mask.data)


def test_encoder_layer_dropout_active_in_train_mode():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = sg.randn(4, 2, 8)
    assert not np.allclose(layer(x).data, layer(x).data)
    layer.eval()
    assert_close(layer(x), layer(x))


def test_encoder_layer_gradcheck():
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=True).double()
    x = sg.tensor(np.random.default_rng(0).standard_normal((3, 2, 4)), dtype=np.float64, requires_grad=True)
    pad = np.array([[False, False, True], [False, False, False]])
    fn = lambda x, w: layer(x, src_key_padding_mask=pad)  # noqa: E731
    assert sg.autograd.gradcheck(fn, (x, layer.self_attn.in_proj_weight))


def test_positional_encoding_formula():
    d, max_len = 6, 50
    pe = nn.PositionalEncoding(d, dropout=0.0, max_len=max_len)
    assert "pe" not in pe.state_dict()
    ref = np.zeros((max_len, d))
    for pos in range(max_len):
        for i in range(0, d, 2):
            ref[pos, i] = math.sin(pos / 10000 ** (i / d))
            ref[pos, i + 1] = math.cos(pos / 10000 ** (i / d))
    assert_close(pe.pe, ref, atol=1e-6)
    x = sg.randn(7, 3, d, requires_grad=True)
    y = pe(x)
    assert y.dtype == np.float32
    assert_close(y.data - x.data, np.broadcast_to(ref[:7, None], (7, 3, d)), atol=1e-6)
    y.sum().backward()
    assert_close(x.grad, np.ones((7, 3, d)))
    pe_bf = nn.PositionalEncoding(d, dropout=0.0, max_len=max_len, batch_first=True)
    xb = sg.randn(3, 7, d)
    assert_close(pe_bf(xb).data - xb.data, np.broadcast_to(ref[None, :7], (3, 7, d)), atol=1e-6)
    with pytest.raises(ValueError):
        pe(sg.randn(max_len + 1, 1, d))


def test_positional_encoding_odd_d_model():
    from scratchgrad.nn.modules.transformer import sinusoidal_encoding
    pe = sinusoidal_encoding(4, 5)
    assert pe.shape == (4, 5) and pe.dtype == np.float32
    assert_close(pe[3, 4], math.sin(3 / 10000 ** (4 / 5)), atol=1e-6)
