"""Labs of the recurrent-network notes: vanishing-gradient, long-dependency, bptt (quick runs)."""
import json

import numpy as np
import pytest

from scratchgrad.labs import list_labs, run_lab
from scratchgrad.text.labs import adding_batch, bptt_by_hand


def test_registered():
    names = [name for name, _ in list_labs()]
    for lab in ("vanishing-gradient", "long-dependency", "bptt"):
        assert lab in names


@pytest.mark.parametrize("name", ["bptt", "vanishing-gradient", "long-dependency"])
def test_quick_lab_claim_holds(name, tmp_path):
    result = run_lab(name, out=tmp_path, quick=True)
    assert result["claim_holds"], result["checks"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["lab"] == name
    for fig in result["figures"]:
        assert (tmp_path / fig).is_file()


def test_adding_batch():
    x, y = adding_batch(64, 20, np.random.default_rng(0))
    assert x.shape == (20, 64, 2) and y.shape == (64, 1) and x.dtype == np.float32
    marks = x[:, :, 1]
    assert (marks.sum(0) == 2).all() and (marks[:10].sum(0) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * marks).sum(0), rtol=1e-6)


def test_bptt_by_hand_matches_finite_differences():
    rng = np.random.default_rng(3)
    T, I, H, C = 4, 2, 3, 3
    U, W, V = rng.standard_normal((H, I)), rng.standard_normal((H, H)) * 0.7, rng.standard_normal((C, H))
    x, y, s0 = rng.standard_normal((T, I)), rng.integers(0, C, T), rng.standard_normal(H)
    _, grads, _ = bptt_by_hand(U, W, V, x, y, s0)
    eps = 1e-6
    for k, P in enumerate((U, W, V)):
        num = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            up = bptt_by_hand(U, W, V, x, y, s0)[0]
            P[idx] = old - eps
            down = bptt_by_hand(U, W, V, x, y, s0)[0]
            P[idx] = old
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads["double_sum"][k], num, rtol=1e-6, atol=1e-8)
