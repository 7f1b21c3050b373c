"""PinSage: importance neighbours, the max-margin loss, hit-rate, and a short training run."""
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import assert_close, to_torch

import scratchgrad as sg
from scratchgrad.autograd import gradcheck
from scratchgrad.graph.pinsage import (PinSageConv, hit_rate, importance_neighbors, leave_last_out,
                                       load_movielens_100k, max_margin_loss, synthetic_interactions, train_pinsage)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        yield


def test_leave_last_out_holds_out_each_users_latest():
    users = np.array([0, 0, 0, 1, 1])
    items = np.array([5, 6, 7, 8, 9])
    ts = np.array([3, 1, 2, 10, 20])
    train, tu, ti = leave_last_out(users, items, ts)
    assert train.tolist() == [False, True, True, True, False]
    assert tu.tolist() == [0, 1] and ti.tolist() == [5, 9]


def test_importance_neighbors_on_two_communities():
    """Items 0-4 are rated by users 0-9 only, items 5-9 by users 10-19 only: walks never cross."""
    rows = np.concatenate([np.repeat(np.arange(5), 10), np.repeat(np.arange(5, 10), 10)])
    cols = np.concatenate([np.tile(np.arange(10), 5), np.tile(np.arange(10, 20), 5)])
    item_user = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(10, 20))
    P, (hard_ptr, hard) = importance_neighbors(item_user, T=3, num_walks=100, rng=np.random.default_rng(0))
    assert P.shape == (10, 10) and (np.diff(P.indptr) == 3).all()
    np.testing.assert_allclose(np.asarray(P.sum(1)).ravel(), 1.0, rtol=1e-6)
    r, c = P.nonzero()
    assert ((r < 5) == (c < 5)).all() and (r != c).all()     # same community, never itself


def test_max_margin_loss_reference_and_gradcheck():
    rng = np.random.default_rng(0)
    zq, zp, zn = (sg.tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True)
                  for s in [(4, 3), (4, 3), (4, 2, 3)])
    ref = np.maximum(0, np.einsum("bd,bmd->bm", zq.data, zn.data) - (zq.data * zp.data).sum(1)[:, None] + 0.5).mean()
    assert max_margin_loss(zq, zp, zn, 0.5).item() == pytest.approx(ref)
    assert gradcheck(lambda a, b, c: max_margin_loss(a, b, c, 0.5), [zq, zp, zn])


def test_pinsage_conv_vs_torch(torch):
    conv = PinSageConv(4, 3)
    P = sp.random(6, 6, density=0.5, format="csr", dtype=np.float32, random_state=0)
    h = sg.randn(6, 4, requires_grad=True)
    z = conv(h, P)
    z.sum().backward()
    ht = to_torch(torch, h, requires_grad=True)
    Q, q = torch.tensor(conv.Q.weight.data), torch.tensor(conv.Q.bias.data)
    W, w = torch.tensor(conv.W.weight.data), torch.tensor(conv.W.bias.data)
    n = torch.tensor(P.toarray()) @ torch.relu(ht @ Q.T + q)
    zt = torch.nn.functional.normalize(torch.relu(torch.cat([ht, n], 1) @ W.T + w), dim=-1)
    zt.sum().backward()
    assert_close(z, zt)
    assert_close(h.grad, ht.grad)
    conv.double()
    params = list(conv.parameters())
    h64 = sg.tensor(h.data, dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda h, *ps: conv(h, P), [h64] + params)


def test_hit_rate_counts_ranks_and_excludes_rated():
    z = np.eye(4)
    train_ui = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0]]))
    latest = np.array([[0], [1]])
    scores = np.array([[9.0, 1.0, 3.0, 2.0], [0.0, 9.0, 1.0, 2.0]])   # user 0's best unrated: 2; user 1's: 3
    assert hit_rate(z, train_ui, np.array([0, 1]), np.array([2, 3]), latest, k=1, scores=scores) == 1.0
    assert hit_rate(z, train_ui, np.array([0, 1]), np.array([3, 2]), latest, k=1, scores=scores) == 0.0


def test_pinsage_quick_run_beats_random(data_root):
    r = train_pinsage(data_root, quick=True, seed=0, steps=60)
    assert r["dataset"] == "movielens-100k" and r["items"] == 1682 and r["users"] == 943
    assert r["hit_rate@10"] > 3 * r["hit_rate@10_random"], r


def test_synthetic_stand_in(tmp_path):
    users, items, ts, feats = synthetic_interactions(n_users=50, n_items=60, per_user=10)
    assert users.size == items.size == ts.size and feats.shape[0] == 60
    r = train_pinsage(tmp_path, steps=30, batch=64)            # no MovieLens files there
    assert r["dataset"] == "synthetic" and 0 <= r["hit_rate@10"] <= 1


def test_movielens_loader(data_root):
    users, items, ts, feats = load_movielens_100k(data_root)
    assert users.size == 100_000 and users.max() == 942 and items.max() == 1681
    assert feats.shape == (1682, 20) and feats.dtype == np.float32
