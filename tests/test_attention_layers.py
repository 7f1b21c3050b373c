"""Attention over a source sequence: dot / general (Luong) and additive (Bahdanau).

torch has no such modules: the reference is the same formula written with torch ops in this file
(scores -> masked_fill(-inf) -> softmax -> bmm). Plus float64 gradcheck/gradgradcheck and the masks."""
import numpy as np
import pytest
from conftest import assert_close, to_torch

import scratchgrad as sg
from scratchgrad import nn
from scratchgrad.autograd import gradcheck, gradgradcheck

N, TQ, TK, DQ, DK, DV, A = 3, 4, 5, 6, 6, 7, 8
KINDS = ["dot", "general", "additive"]


def _module(kind, dtype=np.float32):
    return nn.LuongAttention(DQ, DK, kind, hidden_size=A, dtype=dtype)


def _mask():
    """Sample 0 full, sample 1 two padded positions, sample 2 only one real position."""
    lengths = np.array([TK, TK - 2, 1])
    return np.arange(TK)[None, :] >= lengths[:, None]


def _inputs(dtype, one_step=False):
    q_shape = (N, DQ) if one_step else (N, TQ, DQ)
    return [sg.tensor(np.random.randn(*s), dtype=dtype, requires_grad=True)
            for s in (q_shape, (N, TK, DK), (N, TK, DV))]


def _torch_reference(torch, kind, W, q, k, v, mask):
    """The formulas of the module docstring with torch ops; W: the module's weights as torch tensors."""
    if kind == "dot":
        scores = q @ k.transpose(1, 2)
    elif kind == "general":
        scores = q @ W["weight"] @ k.transpose(1, 2)
    else:
        e = torch.tanh((q @ W["query_proj.weight"].T).unsqueeze(2)
                       + (k @ W["key_proj.weight"].T + W["key_proj.bias"]).unsqueeze(1))
        scores = (e @ W["v.weight"].T).squeeze(-1)
    scores = scores.masked_fill(torch.tensor(mask)[:, None, :], float("-inf"))
    weights = torch.softmax(scores, -1)
    return weights @ v, weights


@pytest.mark.parametrize("kind", KINDS)
def test_parity_with_torch_formula(torch, kind):
    module = _module(kind)
    q, k, v = _inputs(np.float32)
    mask = _mask()
    ctx, w = module(q, k, v, key_padding_mask=mask)
    assert ctx.dtype == w.dtype == np.float32
    assert ctx.shape == (N, TQ, DV) and w.shape == (N, TQ, TK)
    tq, tk, tv = (to_torch(torch, x) for x in (q, k, v))
    W = {name: to_torch(torch, p, True) for name, p in module.named_parameters()}
    t_ctx, t_w = _torch_reference(torch, kind, W, tq, tk, tv, mask)
    assert_close(ctx, t_ctx, what="context")
    assert_close(w, t_w, what="weights")
    g_ctx, g_w = np.random.randn(*ctx.shape).astype(np.float32), np.random.randn(*w.shape).astype(np.float32)
    ((ctx * sg.tensor(g_ctx)).sum() + (w * sg.tensor(g_w)).sum()).backward()
    ((t_ctx * torch.tensor(g_ctx)).sum() + (t_w * torch.tensor(g_w)).sum()).backward()
    for ours, theirs, name in ((q, tq, "query"), (k, tk, "keys"), (v, tv, "values")):
        assert_close(ours.grad, theirs.grad, what=f"grad of {name}")
    for name, p in module.named_parameters():
        assert p.grad.dtype == np.float32
        assert_close(p.grad, W[name].grad, what=f"grad of {name}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("one_step", [False, True])
def test_gradcheck(kind, one_step):
    module = _module(kind, np.float64)
    params = list(module.parameters())
    mask = _mask()

    def fn(q, k, v, *weights):
        return module(q, k, v, key_padding_mask=mask)

    assert gradcheck(fn, _inputs(np.float64, one_step) + params)


@pytest.mark.parametrize("kind", ["general", "additive"])
def test_gradgradcheck(kind):
    module = _module(kind, np.float64)
    q, k, v = _inputs(np.float64, one_step=True)
    assert gradgradcheck(lambda q, k, v, *w: module(q, k, v, key_padding_mask=_mask())[0],
                         [q, k, v] + list(module.parameters()))


@pytest.mark.parametrize("kind", KINDS)
def test_masked_positions_get_zero_weight(kind):
    module = _module(kind)
    q, k, v = _inputs(np.float32)
    mask = _mask()
    _, w = module(q, k, v, key_padding_mask=mask)
    assert np.all(w.data[np.broadcast_to(mask[:, None, :], w.shape)] == 0)
    assert_close(w.data.sum(-1), np.ones((N, TQ)), what="weights sum to one")
    assert_close(w.data[2, :, 0], np.ones(TQ), what="a single real position takes all the weight")
    # padding must not change the result: the same sample cut to its real length
    ctx, _ = module(q, k, v, key_padding_mask=mask)
    ctx1, _ = module(q[1:2], k[1:2, :TK - 2], v[1:2, :TK - 2])
    assert_close(ctx.data[1:2], ctx1.data, what="padded vs cut")
    ctx, w = module(q, k, v, key_padding_mask=np.ones((N, TK), bool))    # all padded: zeros, not NaN
    assert np.all(w.data == 0) and np.all(ctx.data == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_query_is_a_row_of_the_sequence_query(kind):
    module = _module(kind)
    q, k, v = _inputs(np.float32)
    ctx, w = module(q, k, v)
    ctx2, w2 = module(q[:, 2], k, v)
    assert ctx2.shape == (N, DV) and w2.shape == (N, TK)
    assert_close(ctx2, ctx.data[:, 2])
    assert_close(w2, w.data[:, 2])
    ctx3, _ = module(q, k)                         # values default to the keys
    assert ctx3.shape == (N, TQ, DK)


def test_names_shapes_and_errors():
    assert nn.BahdanauAttention is nn.AdditiveAttention
    assert list(_module("additive").state_dict()) == ["query_proj.weight", "key_proj.weight", "key_proj.bias",
                                                      "v.weight"]
    assert _module("general").weight.shape == (DQ, DK)
    assert list(nn.DotAttention().parameters()) == []
    with pytest.raises(ValueError, match="unknown attention score"):
        nn.LuongAttention(4, score="cosine")
    q, k, v = _inputs(np.float32)
    with pytest.raises(ValueError, match="key_padding_mask"):
        nn.DotAttention()(q, k, key_padding_mask=np.zeros((N, TK + 1), bool))
    with pytest.raises(ValueError, match="query size"):
        nn.DotAttention()(sg.randn(N, TQ, DQ + 1), k)
