"""Recurrent layers: RNN/LSTM/GRU cells and layers, fused kernels vs unrolled cells, PyTorch parity,
variable lengths (vs torch's packed sequences), LSTM variants, per-step gradient norms."""
import numpy as np
import pytest
from conftest import assert_close, to_torch

import scratchgrad as sg
from scratchgrad.autograd import gradcheck, gradgradcheck
from scratchgrad.nn.modules.rnn import (GRU, LSTM, RNN, GRUCell, LSTMCell, PackedSequence, RNNCell,
                                        pack_padded_sequence, pad_packed_sequence)

LAYERS = {"rnn_tanh": (RNN, "RNN", {}), "rnn_relu": (RNN, "RNN", {"nonlinearity": "relu"}),
          "lstm": (LSTM, "LSTM", {}), "gru": (GRU, "GRU", {})}
CELLS = {"rnn_tanh": (RNNCell, "RNNCell", {}), "rnn_relu": (RNNCell, "RNNCell", {"nonlinearity": "relu"}),
         "lstm": (LSTMCell, "LSTMCell", {}), "gru": (GRUCell, "GRUCell", {})}
LENGTHS = [3, 5, 1, 4]   # unsorted, one full length (T=5)


def _randn(*shape, dtype=np.float32, requires_grad=True):
    return sg.tensor(np.random.randn(*shape), dtype=dtype, requires_grad=requires_grad)


def _torch_twin(torch, module, torch_cls, **kw):
    """The torch module with the same weights, loaded through state_dict (keys must match exactly)."""
    tm = torch_cls(**kw)
    sd = module.state_dict()
    assert list(sd) == list(tm.state_dict()), "state_dict keys differ from torch's"
    tm.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    return tm


def _states(out):
    """(output, [states]) from an RNN/GRU (output, h) or LSTM (output, (h, c)) result."""
    y, hidden = out
    return y, list(hidden) if isinstance(hidden, tuple) else [hidden]


def _weighted_sum(tensors, weights):
    return sum((t * w).sum() for t, w in zip(tensors, weights))


def _check_parity(torch, ours, theirs, sg_inputs, t_inputs, sg_fn, t_fn, atol=1e-5):
    """Same random cotangent on every output: compare outputs, then input and parameter gradients."""
    outs, t_outs = sg_fn(*sg_inputs), t_fn(*t_inputs)
    assert len(outs) == len(t_outs)
    for a, b in zip(outs, t_outs):
        assert a.dtype == np.float32
        assert_close(a, b, atol=atol, what="forward")
    ws = [np.random.randn(*o.shape).astype(np.float32) for o in outs]
    _weighted_sum(outs, [sg.tensor(w) for w in ws]).backward()
    _weighted_sum(t_outs, [torch.tensor(w) for w in ws]).backward()
    for a, b in zip(sg_inputs, t_inputs):
        if a.requires_grad:
            assert_close(a.grad, b.grad, atol=atol, what="input grad")
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        assert p.grad.dtype == np.float32
        assert_close(p.grad, tp.grad, atol=atol, what=f"grad of {name}")


# ---- cells --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_parity(torch, kind, with_state, bias):
    cls, tname, kw = CELLS[kind]
    cell = cls(4, 5, bias=bias, **kw)
    tcell = _torch_twin(torch, cell, getattr(torch.nn, tname), input_size=4, hidden_size=5, bias=bias, **kw)
    x = _randn(3, 4)
    states = [_randn(3, 5) for _ in range(2 if kind == "lstm" else 1)] if with_state else []
    t_in = [to_torch(torch, v) for v in [x] + states]

    def call(c, x, *s):
        hx = None if not s else (tuple(s) if kind == "lstm" else s[0])
        out = c(x, hx)
        return list(out) if isinstance(out, tuple) else [out]
    _check_parity(torch, cell, tcell, [x] + states, t_in, lambda *a: call(cell, *a), lambda *a: call(tcell, *a))


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_unbatched_matches_batched(kind):
    cls, _, kw = CELLS[kind]
    cell = cls(4, 5, **kw)
    x = _randn(4, requires_grad=False)
    out, out_b = cell(x), cell(x.unsqueeze(0))
    for a, b in zip(out if kind == "lstm" else [out], out_b if kind == "lstm" else [out_b]):
        assert a.shape == (5,)
        assert_close(a, b[0])


@pytest.mark.parametrize("cls, kw", [(RNNCell, {}), (RNNCell, {"nonlinearity": "relu"}), (GRUCell, {}),
                                     (LSTMCell, {}), (LSTMCell, {"peephole": True}), (LSTMCell, {"coupled": True}),
                                     (LSTMCell, {"peephole": True, "coupled": True})])
def test_cell_gradcheck(cls, kw):
    cell = cls(3, 4, dtype=np.float64, **kw)
    x = _randn(2, 3, dtype=np.float64)
    states = [_randn(2, 4, dtype=np.float64) for _ in range(2 if cls is LSTMCell else 1)]

    def fn(x, *args):
        s = args[:len(states)]
        out = cell(x, tuple(s) if cls is LSTMCell else s[0])
        return out if isinstance(out, tuple) else (out,)
    assert gradcheck(fn, [x, *states, *cell.parameters()])


def test_lstm_cell_double_backward():
    cell = LSTMCell(2, 3, dtype=np.float64, peephole=True)
    x, h, c = (_randn(2, k, dtype=np.float64) for k in (2, 3, 3))
    assert gradgradcheck(lambda x, h, c: cell(x, (h, c)), [x, h, c])


def test_lstm_variant_parameters():
    assert LSTMCell(3, 4, peephole=True).weight_peephole.shape == (3, 4)
    coupled = LSTMCell(3, 4, coupled=True, peephole=True)
    assert coupled.weight_ih.shape == (12, 3) and coupled.weight_peephole.shape == (2, 4)
    m = LSTM(3, 4, num_layers=2, bidirectional=True, peephole=True)
    assert [k for k in m.state_dict() if "peephole" in k] == [
        "weight_peephole_l0", "weight_peephole_l0_reverse", "weight_peephole_l1", "weight_peephole_l1_reverse"]


def test_coupled_lstm_forgets_what_it_writes():
    """f = 1 - i: with the input gate saturated open, the old cell is fully replaced by g."""
    cell = LSTMCell(2, 3, coupled=True)
    with sg.no_grad():
        cell.bias_ih.data[:3] = 50.0   # i = 1
    x, h, c = _randn(1, 2), _randn(1, 3), _randn(1, 3) * 10
    _, c_new = cell(x, (h, c))
    gates = x.data @ cell.weight_ih.data.T + cell.bias_ih.data + h.data @ cell.weight_hh.data.T + cell.bias_hh.data
    assert_close(c_new, np.tanh(gates[:, 3:6]), atol=1e-5)


# ---- layers: PyTorch parity ---------------------------------------------------------------------
CONFIGS = {
    "plain": {},
    "batch_first": {"batch_first": True},
    "bidirectional": {"bidirectional": True},
    "two_layers": {"num_layers": 2},
    "all": {"num_layers": 2, "bidirectional": True, "batch_first": True},
    "no_bias": {"bias": False, "bidirectional": True},
}


# the fused kernels on every config; the unrolled cells (fused=False) on the richest ones
PATHS = [(config, True) for config in CONFIGS] + [("all", False), ("no_bias", False)]


@pytest.mark.parametrize("config, fused", PATHS, ids=[f"{c}-{'fused' if f else 'cells'}" for c, f in PATHS])
@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "h0"])
def test_layer_parity(torch, kind, config, fused, with_state):
    cls, tname, kw = LAYERS[kind]
    kw = dict(kw, **CONFIGS[config])
    m = cls(4, 5, fused=fused, **kw)
    tm = _torch_twin(torch, m, getattr(torch.nn, tname), input_size=4, hidden_size=5, **kw)
    T, N = 6, 3
    x = _randn(*((N, T, 4) if kw.get("batch_first") else (T, N, 4)))
    LD = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    states = [_randn(LD, N, 5) for _ in range(2 if kind == "lstm" else 1)] if with_state else []

    def call(mod, x, *s):
        hx = None if not s else (tuple(s) if kind == "lstm" else s[0])
        y, hidden = _states(mod(x, hx))
        return [y] + hidden
    _check_parity(torch, m, tm, [x] + states, [to_torch(torch, v) for v in [x] + states],
                  lambda *a: call(m, *a), lambda *a: call(tm, *a))


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "cells"])
@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("how", ["lengths", "packed"])
def test_variable_length_parity(torch, kind, how, fused):
    """Padded steps neither update the state nor produce outputs, as torch's packed sequences."""
    from torch.nn.utils.rnn import pack_padded_sequence as t_pack
    from torch.nn.utils.rnn import pad_packed_sequence as t_pad
    cls, tname, kw = LAYERS[kind]
    kw = dict(kw, num_layers=2, bidirectional=True, batch_first=True)
    m = cls(4, 5, fused=fused, **kw)
    tm = _torch_twin(torch, m, getattr(torch.nn, tname), input_size=4, hidden_size=5, **kw)
    T = max(LENGTHS)
    x = _randn(len(LENGTHS), T, 4)
    states = [_randn(4, len(LENGTHS), 5) for _ in range(2 if kind == "lstm" else 1)]

    def ours(x, *s):
        hx = tuple(s) if kind == "lstm" else s[0]
        if how == "lengths":
            y, hidden = _states(m(x, hx, lengths=LENGTHS))
        else:
            packed, hidden = _states(m(pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False), hx))
            assert isinstance(packed, PackedSequence)
            y, lengths = pad_packed_sequence(packed, batch_first=True, total_length=T)
            assert lengths.tolist() == LENGTHS
        return [y] + hidden

    def theirs(x, *s):
        hx = tuple(s) if kind == "lstm" else s[0]
        packed = t_pack(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
        out, hidden = _states(tm(packed, hx))
        return [t_pad(out, batch_first=True, total_length=T)[0]] + hidden
    _check_parity(torch, m, tm, [x] + states, [to_torch(torch, v) for v in [x] + states], ours, theirs)


def test_unbatched_input(torch):
    m = LSTM(4, 5, num_layers=2)
    tm = _torch_twin(torch, m, torch.nn.LSTM, input_size=4, hidden_size=5, num_layers=2)
    x = _randn(6, 4, requires_grad=False)
    y, (h, c) = m(x)
    yt, (ht, ct) = tm(to_torch(torch, x))
    assert y.shape == (6, 5) and h.shape == (2, 5)
    for a, b in [(y, yt), (h, ht), (c, ct)]:
        assert_close(a, b)


def test_pack_matches_torch(torch):
    from torch.nn.utils.rnn import pack_padded_sequence as t_pack
    x = _randn(5, 3, 2, requires_grad=False)
    ours = pack_padded_sequence(x, [5, 3, 2])
    theirs = t_pack(to_torch(torch, x), torch.tensor([5, 3, 2]))
    assert_close(ours.data, theirs.data)
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist()
    with pytest.raises(RuntimeError, match="enforce_sorted"):
        pack_padded_sequence(x, [2, 3, 5])
    unsorted = pack_padded_sequence(x, [2, 5, 3], enforce_sorted=False)
    padded, lengths = pad_packed_sequence(unsorted, padding_value=-1.0)
    assert lengths.tolist() == [2, 5, 3] and padded.shape == (5, 3, 2)
    mask = np.arange(5)[:, None] < np.array([2, 5, 3])
    assert_close(padded.data[mask], x.data[mask])
    assert (padded.data[~mask] == -1).all()


# ---- layers: gradcheck, fused vs cells ----------------------------------------------------------
LAYER_VARIANTS = {"rnn_tanh": (RNN, {}), "rnn_relu": (RNN, {"nonlinearity": "relu"}), "lstm": (LSTM, {}),
                  "gru": (GRU, {}), "lstm_peephole": (LSTM, {"peephole": True}),
                  "lstm_coupled": (LSTM, {"coupled": True}),
                  "lstm_peephole_coupled": (LSTM, {"peephole": True, "coupled": True})}


@pytest.mark.parametrize("kind", list(LAYER_VARIANTS))
def test_layer_gradcheck(kind):
    """Fused BPTT against finite differences (float64): 2 layers, bidirectional, lengths, h0."""
    cls, kw = LAYER_VARIANTS[kind]
    m = cls(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, **kw)
    x = _randn(4, 2, 2, dtype=np.float64)
    states = [_randn(4, 2, 3, dtype=np.float64) for _ in range(2 if cls is LSTM else 1)]

    def fn(x, *args):
        hx = tuple(args[:2]) if cls is LSTM else args[0]
        y, hidden = _states(m(x, hx, lengths=[4, 2]))
        return (y, *hidden)
    assert gradcheck(fn, [x, *states, *m.parameters()])


def test_cells_path_gradcheck():
    """The unrolled path with lengths (masked carries through `where`), on the richest LSTM variant."""
    m = LSTM(2, 2, bidirectional=True, peephole=True, coupled=True, fused=False, dtype=np.float64)
    x = _randn(3, 2, 2, dtype=np.float64)
    assert gradcheck(lambda x, *p: (m(x, lengths=[3, 1])[0],), [x, *m.parameters()])


@pytest.mark.parametrize("kind", list(LAYER_VARIANTS))
def test_fused_matches_cells(kind):
    """The fused kernel and the unrolled cells agree (the only oracle for the LSTM variants)."""
    cls, kw = LAYER_VARIANTS[kind]
    a = cls(3, 4, num_layers=2, bidirectional=True, record_grad_norms=True, **kw)
    b = cls(3, 4, num_layers=2, bidirectional=True, record_grad_norms=True, fused=False, **kw)
    b.load_state_dict(a.state_dict())
    x = _randn(5, 3, 3)
    results = []
    for m in (a, b):
        x.grad = None
        y, hidden = _states(m(x, lengths=[5, 2, 4]))
        w = sg.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(np.float32))
        ((y * w).sum() + sum(s.sum() for s in hidden)).backward()
        results.append([y.data, *[s.data for s in hidden], x.grad.data, m.grad_norms]
                       + [p.grad.data for p in m.parameters()])
    for u, v in zip(*results):
        assert_close(u, v, atol=2e-5)


def test_grad_norms_show_vanishing_gradient():
    """Loss on the last output only: ||dL/dh_t|| is largest at the end and decays backwards in time."""
    m = RNN(3, 8, record_grad_norms=True)
    with sg.no_grad():
        m.weight_hh_l0.data *= 0.3
    x = _randn(20, 2, 3, requires_grad=False)
    y, _ = m(x)
    y[-1].sum().backward()
    norms = m.grad_norms[0]
    assert norms.shape == (20,) and np.all(np.isfinite(norms))
    assert norms[-1] > norms[10] > norms[0] > 0


def test_fused_create_graph_error_points_to_cells():
    m = LSTM(2, 3, dtype=np.float64)
    x = _randn(3, 1, 2, dtype=np.float64)
    y, _ = m(x)
    with pytest.raises(RuntimeError, match="fused=False"):
        sg.autograd.grad(y.sum(), [x], create_graph=True)


def test_cells_path_double_backward():
    m = GRU(2, 2, fused=False, dtype=np.float64)
    x = _randn(3, 1, 2, dtype=np.float64)
    assert gradgradcheck(lambda x: m(x)[0], [x])


# ---- module behaviour ---------------------------------------------------------------------------
def test_init_and_state_dict_names(torch):
    m = GRU(3, 16, num_layers=2, bidirectional=True)
    tm = torch.nn.GRU(3, 16, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == list(tm.state_dict())
    for name, p in m.named_parameters():
        assert p.shape == tuple(tm.state_dict()[name].shape) and p.dtype == np.float32
        assert np.abs(p.data).max() <= 0.25 and p.data.std() > 0.1   # U(-1/sqrt(16), 1/sqrt(16))
    assert "l1_reverse" in m._flat_weights_names[-1] and len(m.all_weights) == 4


def test_dropout_between_layers_only():
    m = LSTM(3, 4, num_layers=2, dropout=0.5)
    x = _randn(5, 2, 3, requires_grad=False)
    m.eval()
    y_eval = m(x)[0].data
    assert_close(m(x)[0], y_eval)
    m.train()
    assert not np.allclose(m(x)[0].data, y_eval)
    one = LSTM(3, 4, num_layers=2, dropout=0.0)
    one.load_state_dict(m.state_dict())
    assert_close(one(x)[0], y_eval)          # eval mode == no dropout
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        LSTM(3, 4, dropout=0.2)


def test_errors():
    m = LSTM(3, 4)
    with pytest.raises(ValueError, match="input_size"):
        m(_randn(5, 2, 2))
    with pytest.raises(ValueError, match="hidden size"):
        m(_randn(5, 2, 3), (_randn(1, 3, 4), _randn(1, 3, 4)))
    with pytest.raises(ValueError, match="lengths"):
        m(_randn(5, 2, 3), lengths=[6, 2])
    with pytest.raises(TypeError, match="float32"):
        m(_randn(5, 2, 3, dtype=np.float64))


def test_stateful_chunks_match_one_long_sequence():
    """Truncated BPTT: carrying (h_n, c_n) detached into the next chunk gives the same outputs as
    running the whole sequence at once; the gradient stops at the chunk boundary."""
    m = LSTM(3, 4, num_layers=2, batch_first=True)
    x = _randn(2, 8, 3, requires_grad=False)
    y_full, _ = m(x)
    y1, (h, c) = m(x[:, :5])
    y2, _ = m(x[:, 5:], (h.detach(), c.detach()))
    assert_close(sg.cat([y1, y2], 1), y_full)
    y2.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
