"""Scaled dot-product attention and MultiheadAttention: gradcheck, and parity with torch
(forward and gradients, masks of both kinds, causal, batch_first, kdim/vdim)."""
import numpy as np
import pytest

import scratchgrad as sg
import scratchgrad.nn as nn
import scratchgrad.nn.functional as F
from conftest import assert_close, to_torch


def _rand(*shape, dtype=np.float32, seed=0):
    return sg.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=dtype, requires_grad=True)


def _masks(L, S, seed=3):
    """A bool mask (True = attend, every row keeps >= 1 key) and a float mask with -inf holes."""
    rng = np.random.default_rng(seed)
    keep = rng.random((L, S)) > 0.4
    keep[:, 0] = True
    bias = rng.standard_normal((L, S)).astype(np.float32)
    bias[~keep] = -np.inf
    return {"none": None, "bool": keep, "float": bias}


# ---- F.scaled_dot_product_attention ----------------------------------------------------
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_sdpa_matches_torch(torch, mask_kind):
    B, H, L, S, E, Ev = 2, 3, 5, 7, 4, 6
    q, k, v = _rand(B, H, L, E, seed=0), _rand(B, H, S, E, seed=1), _rand(B, H, S, Ev, seed=2)
    causal = mask_kind == "causal"
    mask = None if causal else _masks(L, S)[mask_kind]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    qt, kt, vt = (to_torch(torch, t) for t in (q, k, v))
    mt = None if mask is None else torch.tensor(mask)
    ref = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, is_causal=causal)
    assert out.dtype == np.float32
    assert_close(out, ref, what="sdpa forward")
    g = np.random.default_rng(5).standard_normal(out.shape).astype(np.float32)
    out.backward(sg.tensor(g))
    ref.backward(torch.tensor(g))
    for ours, theirs, name in [(q, qt, "q"), (k, kt, "k"), (v, vt, "v")]:
        assert_close(ours.grad, theirs.grad, what=f"sdpa grad {name}")


def test_sdpa_scale_and_broadcast_mask(torch):
    q, k, v = _rand(2, 4, 3, seed=0), _rand(2, 6, 3, seed=1), _rand(2, 6, 5, seed=2)
    mask = np.random.default_rng(0).random((2, 1, 6)) > 0.3   # broadcast over queries
    mask[..., 0] = True
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.7)
    ref = torch.nn.functional.scaled_dot_product_attention(*(to_torch(torch, t) for t in (q, k, v)),
                                                           attn_mask=torch.tensor(mask), scale=0.7)
    assert_close(out, ref)


def test_sdpa_fully_masked_row_is_zero_like_torch(torch):
    q, k, v = _rand(1, 3, 4, seed=0), _rand(1, 5, 4, seed=1), _rand(1, 5, 4, seed=2)
    mask = np.ones((3, 5), bool)
    mask[1] = False
    out, w = F.scaled_dot_product_attention_with_weights(q, k, v, attn_mask=mask)
    ref = torch.nn.functional.scaled_dot_product_attention(*(to_torch(torch, t) for t in (q, k, v)),
                                                           attn_mask=torch.tensor(mask))
    assert np.isfinite(out.data).all() and np.all(out.data[0, 1] == 0)
    assert_close(out, ref)
    assert_close(w.data.sum(-1), [[1.0, 0.0, 1.0]])
    out.sum().backward()
    assert np.isfinite(q.grad.data).all() and np.all(q.grad.data[0, 1] == 0)


def test_sdpa_weights_rows_sum_to_one_and_causal_is_lower_triangular():
    q, k, v = _rand(2, 5, 4, seed=0), _rand(2, 5, 4, seed=1), _rand(2, 5, 4, seed=2)
    _, w = F.scaled_dot_product_attention_with_weights(q, k, v, is_causal=True)
    assert w.shape == (2, 5, 5)
    assert_close(w.data.sum(-1), np.ones((2, 5)))
    assert np.all(np.triu(w.data[0], 1) < 1e-30)     # exp(-80) at most: the softmax floors shifted logits
    with pytest.raises(ValueError):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((5, 5), bool), is_causal=True)


def test_sdpa_dropout_zeroes_weights_and_keeps_expectation():
    sg.manual_seed(0)
    q, k, v = _rand(1, 4, 3, seed=0), _rand(1, 6, 3, seed=1), _rand(1, 6, 2, seed=2)
    _, w0 = F.scaled_dot_product_attention_with_weights(q, k, v)
    _, w = F.scaled_dot_product_attention_with_weights(q, k, v, dropout_p=0.5)
    kept = w.data != 0
    assert 0 < kept.sum() < kept.size
    assert_close(w.data[kept], 2 * w0.data[kept])


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_sdpa_gradcheck(mask_kind):
    q, k, v = (_rand(2, 3, 4, dtype=np.float64, seed=s) for s in range(3))
    causal = mask_kind == "causal"
    mask = None if causal else _masks(3, 3)[mask_kind]
    mask = mask.astype(np.float64) if mask is not None and mask.dtype != bool else mask
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)  # noqa: E731
    assert sg.autograd.gradcheck(fn, (q, k, v))
    assert sg.autograd.gradgradcheck(fn, (q, k, v))


def test_sdpa_learned_float_mask_gets_gradient():
    q, k, v = (_rand(3, 4, dtype=np.float64, seed=s) for s in range(3))
    bias = _rand(3, 3, dtype=np.float64, seed=4)
    fn = lambda q, bias: F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # noqa: E731
    assert sg.autograd.gradcheck(fn, (q, bias))


# ---- nn.MultiheadAttention ------------------------------------------------------------------
def _pair(torch, E=8, H=2, **kw):
    ours = nn.MultiheadAttention(E, H, **kw)
    theirs = torch.nn.MultiheadAttention(E, H, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert a.shape == tuple(b.shape), name
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def _check_grads(torch, ours, theirs, pairs, out, ref):
    g = np.random.default_rng(7).standard_normal(out.shape).astype(np.float32)
    out.backward(sg.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b, name in pairs:
        assert_close(a.grad, b.grad, atol=2e-5, what=f"grad {name}")
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, named[name].grad, atol=2e-5, what=f"grad {name}")


MHA_CASES = [
    dict(batch_first=False, self_attn=True, masks="none"),
    dict(batch_first=True, self_attn=True, masks="bool"),
    dict(batch_first=False, self_attn=False, masks="float"),
    dict(batch_first=True, self_attn=False, masks="bool", average=False),
    dict(batch_first=False, self_attn=False, masks="3d"),
    dict(batch_first=True, self_attn=False, masks="bool", kdim=5, vdim=3),
    dict(batch_first=False, self_attn=True, masks="none", bias=False),
]


@pytest.mark.parametrize("case", MHA_CASES, ids=[str(i) for i in range(len(MHA_CASES))])
def test_mha_matches_torch(torch, case):
    E, H, N, L = 8, 2, 3, 4
    kdim, vdim = case.get("kdim"), case.get("vdim")
    S = L if case["self_attn"] else 6
    bf = case["batch_first"]
    ours, theirs = _pair(torch, E, H, batch_first=bf, kdim=kdim, vdim=vdim, bias=case.get("bias", True))

    def shape(T, D):
        return (N, T, D) if bf else (T, N, D)
    query = _rand(*shape(L, E), seed=0)
    key = query if case["self_attn"] else _rand(*shape(S, kdim or E), seed=1)
    value = query if case["self_attn"] else _rand(*shape(S, vdim or E), seed=2)
    rng = np.random.default_rng(3)
    kw = {}
    if case["masks"] == "bool":    # torch MHA: True = blocked / padding
        kw["attn_mask"] = rng.random((L, S)) > 0.7
        kw["attn_mask"][:, 0] = False
        pad = np.zeros((N, S), bool)
        pad[0, -2:] = True
        kw["key_padding_mask"] = pad
    elif case["masks"] == "float":
        kw["attn_mask"] = rng.standard_normal((L, S)).astype(np.float32)
        kw["key_padding_mask"] = np.where(rng.random((N, S)) > 0.8, -np.inf, 0).astype(np.float32)
        kw["key_padding_mask"][:, 0] = 0
    elif case["masks"] == "3d":
        kw["attn_mask"] = rng.standard_normal((N * H, L, S)).astype(np.float32)
    average = case.get("average", True)
    out, w = ours(query, key, value, average_attn_weights=average, **kw)
    tq = to_torch(torch, query)
    tk = tq if case["self_attn"] else to_torch(torch, key)
    tv = tq if case["self_attn"] else to_torch(torch, value)
    kwt = {n: torch.tensor(m) for n, m in kw.items()}
    ref, wt = theirs(tq, tk, tv, average_attn_weights=average, **kwt)
    assert_close(out, ref, what="mha output")
    assert_close(w, wt, what="mha weights")
    pairs = [(query, tq, "query")] + ([] if case["self_attn"] else [(key, tk, "key"), (value, tv, "value")])
    _check_grads(torch, ours, theirs, pairs, out, ref)


def test_mha_unbatched_and_need_weights_false(torch):
    ours, theirs = _pair(torch, 6, 3)
    x = _rand(5, 6, seed=0)
    out, w = ours(x, x, x, need_weights=False)
    ref, _ = theirs(*(to_torch(torch, x),) * 3, need_weights=False)
    assert w is None
    assert_close(out, ref, atol=2e-5)
    _, w = ours(x, x, x, average_attn_weights=False)
    assert w.shape == (3, 5, 5)


def test_mha_is_causal_builds_the_mask():
    mha = nn.MultiheadAttention(4, 2)
    x = _rand(5, 2, 4)
    _, w = mha(x, x, x, is_causal=True)
    assert np.all(np.triu(w.data[0], 1) < 1e-30)     # exp(-80) at most: the softmax floors shifted logits


def test_mha_eval_turns_dropout_off():
    mha = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = _rand(5, 2, 4)
    mha.eval()
    a, _ = mha(x, x, x)
    b, _ = mha(x, x, x)
    assert_close(a, b)


def test_mha_gradcheck():
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=5).double()
    q, k, v = _rand(3, 2, 4, dtype=np.float64), _rand(4, 2, 3, dtype=np.float64, seed=1), \
        _rand(4, 2, 5, dtype=np.float64, seed=2)
    pad = np.zeros((2, 4), bool)
    pad[1, 0] = True
    fn = lambda q, k, v, w: mha(q, k, v, key_padding_mask=pad)[0]  # noqa: E731
    assert sg.autograd.gradcheck(fn, (q, k, v, mha.q_proj_weight))
