"""Checkpoints: safetensors round trips, atomic writes, no pickle, clear errors, exact optimizer resume."""
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import checkpoint
from scratchgrad.checkpoint import CheckpointError, load, load_state, pack, save, save_state, unpack


def test_save_load_round_trip(tmp_path):
    tensors = {"0.weight": np.random.randn(3, 4).astype(np.float32), "steps": np.arange(5),
               "mask": np.array([True, False]), "x64": np.ones(2), "t": sg.ones(2, 2)}
    save(tmp_path / "a.safetensors", tensors, {"epoch": 3, "note": "hi", "lrs": [0.1, 0.01]})
    out, meta = load(tmp_path / "a.safetensors")
    assert meta == {"epoch": 3, "note": "hi", "lrs": [0.1, 0.01]}
    assert set(out) == set(tensors)
    for k, v in tensors.items():
        v = v.data if isinstance(v, sg.Tensor) else v
        assert out[k].dtype == v.dtype
        np.testing.assert_array_equal(out[k], v)


def test_file_is_plain_safetensors_without_pickle(tmp_path):
    path = tmp_path / "m.safetensors"
    save_state(path, {"model": {"w": np.zeros(3, np.float32)}, "epoch": 1})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])  # an 8-byte length, a JSON header, then raw array bytes
    assert header["model.w"]["dtype"] == "F32"
    source = Path(checkpoint.__file__).read_text()
    assert "import pickle" not in source and "np.load" not in source


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    save(path, {"w": np.zeros(2, np.float32)}, {"v": 1})

    def crash(src, dst):
        raise KeyboardInterrupt("killed during save")
    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save(path, {"w": np.ones(2, np.float32)}, {"v": 2})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ck.safetensors"]  # the temp file was cleaned up
    tensors, meta = load(path)
    assert meta == {"v": 1} and tensors["w"].tolist() == [0, 0]


def test_truncated_or_garbage_files_give_clear_errors(tmp_path):
    good = tmp_path / "good.safetensors"
    save_state(good, {"w": np.arange(100, dtype=np.float32)})
    raw = good.read_bytes()
    for name, data in [("trunc", raw[:-17]), ("header", raw[:20]), ("garbage", b"\x89PNG" * 40), ("empty", b"")]:
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(data)
        with pytest.raises(CheckpointError, match="truncated, corrupt"):
            load_state(bad)
    with pytest.raises(FileNotFoundError, match="nope"):
        load(tmp_path / "nope.safetensors")
    save(tmp_path / "plain.safetensors", {"w": np.zeros(1)})
    with pytest.raises(CheckpointError, match="not a training state"):
        load_state(tmp_path / "plain.safetensors")


def test_pack_keeps_exact_types():
    state = {"optim": {"state": {3: {"step": 7, "exp_avg": np.ones(2, np.float32)}},
                       "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [3], "name": None}]},
             "scalar32": np.float32(0.5), "int64": np.int64(4), "zero_d": np.array(2.0), "tensor": sg.zeros(2),
             "best": float("inf"), "flag": True, "history": [{"epoch": 1, "loss": 0.25}]}
    skeleton, tensors = pack(state)
    assert set(tensors) == {"optim.state.3.exp_avg", "scalar32", "int64", "zero_d", "tensor"}
    back = unpack(json.loads(json.dumps(skeleton)), tensors)
    assert back["optim"]["state"][3]["step"] == 7 and 3 in back["optim"]["state"]
    assert back["optim"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert type(back["scalar32"]) is np.float32 and type(back["int64"]) is np.int64
    assert back["zero_d"].shape == () and isinstance(back["tensor"], sg.Tensor)
    assert back["best"] == float("inf") and back["history"] == state["history"]
    with pytest.raises(TypeError, match="at 'f'"):
        pack({"f": lambda: 0})
    with pytest.raises(ValueError, match="same checkpoint key"):
        pack({"a.b": np.zeros(1), "a": {"b": np.zeros(1)}})


def _quadratic_problem():
    sg.manual_seed(0)
    w = sg.randn(5, 3, requires_grad=True)
    x, t = sg.randn(8, 5), sg.randn(8, 3)
    return w, lambda: ((x @ w - t) ** 2).mean()


@pytest.mark.parametrize("make", [lambda p: sg.optim.Adam(p, lr=0.05), lambda p: sg.optim.SGD(p, lr=0.05, momentum=0.9),
                                  lambda p: sg.optim.RMSprop(p, lr=0.01)])
def test_optimizer_state_round_trip_continues_identically(tmp_path, make):
    def run(w, loss_fn, opt, sched, steps):
        for _ in range(steps):
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
            sched.step()

    w, loss_fn = _quadratic_problem()
    opt = make([w])
    sched = sg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    run(w, loss_fn, opt, sched, 10)
    expected = w.data.copy()

    w, loss_fn = _quadratic_problem()
    opt = make([w])
    sched = sg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    run(w, loss_fn, opt, sched, 4)
    save_state(tmp_path / "s.safetensors", {"w": w.data, "optim": opt.state_dict(), "sched": sched.state_dict()})

    state = load_state(tmp_path / "s.safetensors")   # fresh objects, as after a restart
    w2, loss_fn2 = _quadratic_problem()
    w2.data[...] = state["w"]
    opt2 = make([w2])
    sched2 = sg.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    opt2.load_state_dict(state["optim"])
    sched2.load_state_dict(state["sched"])
    run(w2, loss_fn2, opt2, sched2, 6)
    np.testing.assert_array_equal(w2.data, expected)


def test_rng_state_round_trip(tmp_path):
    gen = np.random.default_rng(42)
    gen.random(10)
    save_state(tmp_path / "r.safetensors", {"rng": checkpoint.rng_state(gen)})
    expected = gen.random(5)
    fresh = np.random.default_rng(0)
    checkpoint.set_rng_state(fresh, load_state(tmp_path / "r.safetensors")["rng"])
    np.testing.assert_array_equal(fresh.random(5), expected)


def test_zero_dim_arrays_keep_their_shape(tmp_path):
    """BatchNorm's num_batches_tracked is 0-d: a save/load round trip must load back into the model."""
    import scratchgrad.nn as nn
    from scratchgrad import checkpoint
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    checkpoint.save(tmp_path / "m.safetensors", model.state_dict())
    tensors, _ = checkpoint.load(tmp_path / "m.safetensors")
    assert tensors["1.num_batches_tracked"].shape == ()
    nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).load_state_dict(tensors)
