"""Seq2seq models: parity of the teacher-forced logits with a torch twin, float64 gradcheck, input
reversal and padding, greedy decoding vs the teacher-forced forward, beam search vs exhaustive search
and a per-sample reference."""
import itertools

import numpy as np
import pytest
from conftest import assert_close

import scratchgrad as sg
from scratchgrad.autograd import gradcheck
from scratchgrad.text.seq2seq import MODELS, build_seq2seq, reversal_index

V, E, H, TS, TT, N = 7, 5, 6, 4, 3, 3


def _data(n=N, ts=TS, tt=TT, v=V):
    return np.random.randint(0, v, (n, ts)), np.random.randint(0, v, (n, tt + 1))


def _torch_twin(torch, model, kind):
    """torch modules with our weights and a forward that follows the book's formulas."""
    mods = {"encoder.embedding": torch.nn.Embedding(V, E), "encoder.lstm": torch.nn.LSTM(E, H, batch_first=True),
            "decoder.embedding": torch.nn.Embedding(V, E),
            "decoder.lstm": torch.nn.LSTM(E + (H if kind == "seq2seq-peeky" else 0), H, batch_first=True),
            "decoder.fc": torch.nn.Linear(H * (1 if kind == "seq2seq" else 2), V)}
    sd = model.state_dict()
    for prefix, m in mods.items():
        m.load_state_dict({k: torch.tensor(sd[f"{prefix}.{k}"]) for k in m.state_dict()})
    reverse = model.encoder.reverse_input

    def forward(src, tgt_in):
        src = src[:, ::-1].copy() if reverse else src
        hs, (h, _) = mods["encoder.lstm"](mods["encoder.embedding"](torch.tensor(src)))
        x = mods["decoder.embedding"](torch.tensor(tgt_in))
        peek = h[-1].unsqueeze(1).expand(x.shape[0], x.shape[1], H)
        if kind == "seq2seq-peeky":
            x = torch.cat([peek, x], -1)
        out, _ = mods["decoder.lstm"](x, (h, torch.zeros_like(h)))
        if kind == "seq2seq-peeky":
            out = torch.cat([peek, out], -1)
        elif kind == "seq2seq-attn":
            w = torch.softmax(out @ hs.transpose(1, 2), -1)
            out = torch.cat([w @ hs, out], -1)
        return mods["decoder.fc"](out)

    params = {f"{p}.{k}": t for p, m in mods.items() for k, t in m.named_parameters()}
    return forward, params


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("reverse", [False, True])
def test_teacher_forced_logits_and_grads_match_torch(torch, kind, reverse):
    model = build_seq2seq(kind, V, E, H, reverse_input=reverse)
    src, tgt = _data()
    logits, _ = model(src, tgt[:, :-1])
    forward, t_params = _torch_twin(torch, model, kind)
    t_logits = forward(src, tgt[:, :-1])
    assert logits.dtype == np.float32
    assert_close(logits, t_logits, what="logits")
    g = np.random.randn(*logits.shape).astype(np.float32)
    (logits * sg.tensor(g)).sum().backward()
    (t_logits * torch.tensor(g)).sum().backward()
    names = [n for n, _ in model.named_parameters()]
    assert sorted(names) == sorted(t_params)
    for name, p in model.named_parameters():
        assert_close(p.grad, t_params[name].grad, what=f"grad of {name}")


@pytest.mark.parametrize("kind", MODELS)
def test_gradcheck_loss_float64(kind):
    model = build_seq2seq(kind, 4, 2, 3, reverse_input=True).double()
    src, tgt = _data(2, 3, 2, 4)
    params = list(model.parameters())
    assert gradcheck(lambda *p: model.loss(src, tgt), params, atol=1e-6)


def test_reversal_index_and_equivalence():
    assert reversal_index(None, 1, 4).tolist() == [[3, 2, 1, 0]]
    assert reversal_index(np.array([4, 2]), 2, 4).tolist() == [[3, 2, 1, 0], [1, 0, 2, 3]]
    sg.manual_seed(1)
    rev = build_seq2seq("seq2seq-attn", V, E, H, reverse_input=True)
    plain = build_seq2seq("seq2seq-attn", V, E, H)
    plain.load_state_dict(rev.state_dict())
    src, tgt = _data()
    a, wa = rev(src, tgt[:, :-1])
    b, wb = plain(src[:, ::-1], tgt[:, :-1])
    assert_close(a, b.data, what="reversing inside the encoder == feeding the reversed source")
    assert_close(wa, wb.data)


@pytest.mark.parametrize("reverse", [False, True])
def test_padding_and_lengths_do_not_change_a_sample(reverse):
    """A padded batch with src_lengths gives each sample the logits it gets alone, unpadded."""
    model = build_seq2seq("seq2seq-attn", V, E, H, reverse_input=reverse, padding_idx=0)
    src, tgt = _data(3, 6, TT)
    src[:, :] = np.random.randint(1, V, src.shape)
    lengths = np.array([6, 3, 1])
    src[1, 3:] = 0
    src[2, 1:] = 0
    logits, w = model(src, tgt[:, :-1], src_lengths=lengths)
    assert np.all(w.data[1, :, 3:] == 0) and np.all(w.data[2, :, 1:] == 0)
    for n, L in enumerate(lengths):
        alone, _ = model(src[n:n + 1, :L], tgt[n:n + 1, :-1])
        assert_close(logits.data[n:n + 1], alone.data, atol=1e-5, what=f"sample {n}")
    tokens, weights = model.greedy(src, 2, 4, src_lengths=lengths)
    assert np.all(weights[1, :, 3:] == 0) and np.all(weights[2, :, 1:] == 0)
    assert_close(weights.sum(-1), np.ones((3, 4)))


@pytest.mark.parametrize("kind", MODELS)
def test_greedy_agrees_with_the_teacher_forced_forward(kind):
    """Feeding the greedy output back with teacher forcing must reproduce the same argmaxes (and weights)."""
    model = build_seq2seq(kind, V, E, H, reverse_input=True, init="torch")
    src, _ = _data(5)
    tokens, weights = model.greedy(src, 1, 4)
    assert tokens.shape == (5, 4) and tokens.dtype == np.int64
    tgt_in = np.concatenate([np.full((5, 1), 1), tokens[:, :-1]], 1)
    logits, w = model(src, tgt_in)
    assert np.array_equal(logits.data.argmax(-1), tokens)
    if kind == "seq2seq-attn":   # greedy reports weights over source positions; the forward over encoder steps
        assert_close(weights, w.data[:, :, ::-1], what="attention weights in source order")
    else:
        assert weights is None


def _sequence_log_probs(model, src, start, seqs):
    """log p(seq | src) of every candidate seq (K, L), for every sample: (N, K)."""
    n, K = len(src), len(seqs)
    src_rep = np.repeat(src, K, 0)
    tgt = np.concatenate([np.full((n * K, 1), start), np.tile(seqs, (n, 1))], 1)
    with sg.no_grad():
        logits, _ = model(src_rep, tgt[:, :-1])
        logp = sg.nn.functional.log_softmax(logits, -1).data
    return np.take_along_axis(logp, tgt[:, 1:, None], 2)[..., 0].sum(1).reshape(n, K)


def test_beam_search_with_wide_beam_is_exhaustive_search():
    """With beam_width >= V^(L-1) no prefix is ever dropped: the beams are the exact top sequences."""
    v, L = 3, 3
    model = build_seq2seq("seq2seq-attn", v, E, H, init="torch")
    src, _ = _data(4, TS, L, v)
    seqs = np.array(list(itertools.product(range(v), repeat=L)))
    exact = _sequence_log_probs(model, src, 0, seqs)
    B = v ** (L - 1)
    beams, scores = model.beam_search(src, 0, L, beam_width=B)
    assert beams.shape == (4, B, L) and scores.shape == (4, B)
    order = np.argsort(-exact, 1)[:, :B]
    assert_close(scores, np.take_along_axis(exact, order, 1), atol=1e-5, what="scores")
    assert np.array_equal(beams, seqs[order])
    greedy, _ = model.greedy(src, 0, L)
    assert np.array_equal(model.beam_search(src, 0, L, beam_width=1)[0][:, 0], greedy)


def _reference_beam_search(model, src, start, L, B):
    """Per-sample, per-hypothesis beam search (loops, full re-scoring): the textbook algorithm."""
    results = []
    for n in range(len(src)):
        beams = [((), 0.0)]
        for _ in range(L):
            cands = []
            for seq, score in beams:
                tgt = np.array([[start, *seq]])
                with sg.no_grad():
                    logits, _ = model(src[n:n + 1], tgt)
                logp = sg.nn.functional.log_softmax(logits[:, -1], -1).data[0]
                cands += [(seq + (tok,), score + float(logp[tok])) for tok in range(len(logp))]
            beams = sorted(cands, key=lambda c: -c[1])[:B]
        results.append(beams)
    return results


@pytest.mark.parametrize("kind", MODELS)
def test_beam_search_matches_per_sample_reference(kind):
    model = build_seq2seq(kind, V, E, H, reverse_input=True, init="torch")
    src, _ = _data(3)
    beams, scores = model.beam_search(src, 2, 3, beam_width=2)
    for n, ref in enumerate(_reference_beam_search(model, src, 2, 3, 2)):
        assert [tuple(b) for b in beams[n]] == [seq for seq, _ in ref]
        assert_close(scores[n], np.array([s for _, s in ref], np.float32), atol=1e-5)


def test_beam_search_eos_stops_a_hypothesis():
    model = build_seq2seq("seq2seq", V, E, H, init="torch")
    src, _ = _data(4)
    beams, scores = model.beam_search(src, 1, 5, beam_width=3, eos=0)
    for row in beams.reshape(-1, 5):
        hit = np.flatnonzero(row == 0)
        if hit.size:
            assert np.all(row[hit[0]:] == 0)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_training_steps_reduce_the_loss():
    sg.manual_seed(0)
    model = build_seq2seq("seq2seq-peeky", V, 8, 16, reverse_input=True)
    opt = sg.optim.Adam(model.parameters(), lr=0.02)
    src = np.random.randint(0, V, (32, 5))
    tgt = np.concatenate([np.zeros((32, 1), np.int64), src[:, :3]], 1)     # copy the first three symbols
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = model.loss(src, tgt)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first


def test_build_errors_and_eval_mode_restored():
    with pytest.raises(ValueError, match="unknown seq2seq model"):
        build_seq2seq("seq2seq-gru", V)
    with pytest.raises(ValueError, match="init"):
        build_seq2seq("seq2seq", V, init="xavier")
    model = build_seq2seq("seq2seq-attn", V, E, H, attention="additive")
    assert model.training
    model.greedy(_data()[0], 0, 2)
    assert model.training
