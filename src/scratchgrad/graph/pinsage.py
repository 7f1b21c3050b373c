"""PinSage (Ying et al., 2018) on the MovieLens-100k user-item graph, scored by hit-rate@10.

The notes' three ideas, one piece each:

* random-walk neighbours: walks item -> user -> item -> ... from every item; the T items visited
  most often are its neighbours, their visit counts (normalised) its importance weights
  (`importance_neighbors`);
* importance-weighted aggregation: n_u = sum_v alpha_uv ReLU(Q h_v + q), then
  z_u = ReLU(W [h_u || n_u] + w), z_u / ||z_u|| (`PinSageConv`; the weighted sum is one sparse product);
* max-margin loss with hard negatives: max(0, z_q.z_n - z_q.z_p + margin) over random items and,
  after a warm-up, "hard" items that are related to the query but less than the positive (ranked
  just after its top neighbours by visit count) (`max_margin_loss`, `train_pinsage`).

Evaluation (leave-last-out): each user's latest rating is held out; the query is the mean embedding
of the user's last `query_items` training items (default 1: the latest says most); the held-out item
should be among the 10 nearest items the user has not rated. Baselines: random and popularity
rankings, and item-kNN (cosine of co-rating counts), a strong non-learned one on this data.
Without the MovieLens files a generated clustered bipartite graph stands in (`synthetic_interactions`).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .. import ops, optim
from ..autograd.function import no_grad
from ..nn import Embedding, Linear, Module, ModuleList, init
from ..nn import functional as F
from ..tensor import Tensor, manual_seed
from .datasets import data_dirs
from .layers import l2_normalize, linear
from .ops import spmm


# ---- data ---------------------------------------------------------------------------------------------
def _movielens_dir(root=None) -> Path | None:
    for d in data_dirs(root):
        for sub in ("movielens-100k/ml-100k", "ml-100k", "."):
            if (d / sub / "u.data").is_file() and (d / sub / "u.item").is_file():
                return d / sub
    return None


def load_movielens_100k(root=None):
    """(users, items, timestamps, item_features): 0-based ids of the 100,000 ratings, and per item
    its 19 genre flags plus the release year scaled to [0, 1] (float32 (1682, 20))."""
    path = _movielens_dir(root)
    if path is None:
        where = " or ".join(map(str, data_dirs(root)))
        raise FileNotFoundError(f"MovieLens-100k (u.data, u.item) not found under {where}")
    ratings = np.loadtxt(path / "u.data", dtype=np.int64)
    rows = [line.split("|") for line in (path / "u.item").read_text(encoding="latin-1").splitlines() if line]
    genres = np.array([r[5:24] for r in rows], dtype=np.float32)
    years = np.array([float(r[2][-4:]) if r[2] else np.nan for r in rows])
    years = np.nan_to_num((years - np.nanmin(years)) / (np.nanmax(years) - np.nanmin(years)), nan=0.5)
    features = np.concatenate([genres, years[:, None].astype(np.float32)], axis=1)
    return ratings[:, 0] - 1, ratings[:, 1] - 1, ratings[:, 3], features


def synthetic_interactions(n_users=600, n_items=800, n_clusters=8, per_user=40, seed=0):
    """A generated stand-in: users and items in clusters; a user rates items of its own cluster 80%
    of the time. Returns (users, items, timestamps, item_features = noisy cluster one-hots)."""
    rng = np.random.default_rng(seed)
    uc, ic = rng.integers(0, n_clusters, n_users), rng.integers(0, n_clusters, n_items)
    users = np.repeat(np.arange(n_users), per_user)
    own = rng.random(users.size) < 0.8
    by_cluster = np.argsort(ic, kind="stable")                # item ids grouped by cluster
    size = np.bincount(ic, minlength=n_clusters)
    first = np.concatenate([[0], np.cumsum(size)[:-1]])
    c = uc[users]
    own &= size[c] > 0
    items = rng.integers(0, n_items, users.size)
    items[own] = by_cluster[first[c[own]] + (rng.random(own.sum()) * size[c[own]]).astype(np.int64)]
    key = np.unique(users * n_items + items)
    users, items = key // n_items, key % n_items
    feats = np.eye(n_clusters, dtype=np.float32)[ic] + 0.5 * rng.random((n_items, n_clusters)).astype(np.float32)
    return users, items, rng.permutation(users.size), feats


def leave_last_out(users, items, timestamps):
    """Per user, the latest interaction is the test one; returns (train mask, test_user, test_item)."""
    order = np.lexsort((items, timestamps, users))           # by user, then time
    last = np.ones(order.size, dtype=bool)
    last[:-1] = users[order][1:] != users[order][:-1]        # the last row of each user's run
    test_rows = order[last]
    train = np.ones(users.size, dtype=bool)
    train[test_rows] = False
    return train, users[test_rows], items[test_rows]


# ---- random-walk importance neighbours -----------------------------------------------------------------
def _step(indptr, indices, nodes, rng):
    """One uniform random step along a CSR graph for every walker (walkers at dead ends stay put)."""
    deg = indptr[nodes + 1] - indptr[nodes]
    pick = indptr[nodes] + (rng.random(nodes.size) * deg).astype(np.int64)
    return np.where(deg > 0, indices[np.minimum(pick, indices.size - 1)], -1)


def importance_neighbors(item_user: sp.csr_matrix, T: int = 10, num_walks: int = 200, hops: int = 2,
                         hard_ranks: tuple = (10, 60), rng=None):
    """Random walks item -> user -> item (`hops` times, `num_walks` per item) from every item.

    Returns (P, hard): P (n_items x n_items) CSR whose row u holds the visit counts of u's top-T
    items normalised to sum to 1 (PinSage's importance weights alpha_uv), and `hard`, a ragged
    list as (indptr, items) of the items ranked hard_ranks[0]..hard_ranks[1] by visits (hard negatives)."""
    rng = np.random.default_rng(0) if rng is None else rng
    n_items = item_user.shape[0]
    user_item = item_user.T.tocsr()
    start = np.repeat(np.arange(n_items), num_walks)
    cur, visits = start, []
    for _ in range(hops):
        u = _step(item_user.indptr, item_user.indices, np.maximum(cur, 0), rng)
        nxt = _step(user_item.indptr, user_item.indices, np.maximum(u, 0), rng)
        cur = np.where((cur >= 0) & (u >= 0), nxt, -1)
        visits.append(np.stack([start, cur]))
    s, v = np.concatenate(visits, axis=1)
    ok = (v >= 0) & (v != s)
    key, count = np.unique(s[ok] * n_items + v[ok], return_counts=True)
    s, v = key // n_items, key % n_items
    order = np.lexsort((-count, s))                          # per item, most visited first
    s, v, count = s[order], v[order], count[order]
    first = np.searchsorted(s, np.arange(n_items))
    rank = np.arange(s.size) - first[s]
    top = rank < T
    w = count[top].astype(np.float64)
    w /= np.bincount(s[top], weights=w, minlength=n_items)[s[top]]
    P = sp.csr_matrix((w.astype(np.float32), (s[top], v[top])), shape=(n_items, n_items))
    lo, hi = hard_ranks
    band = (rank >= lo) & (rank < hi)
    hard_indptr = np.concatenate([[0], np.cumsum(np.bincount(s[band], minlength=n_items))])
    return P, (hard_indptr, v[band])


# ---- the model --------------------------------------------------------------------------------------------
class PinSageConv(Module):
    """n_u = sum_v alpha_uv ReLU(Q h_v + q);  z_u = ReLU(W [h_u || n_u] + w) / ||.||  (Algorithm 1).
    `P` is the importance matrix (rows: alpha_u., summing to 1). Parameters: Q (in -> in), W (2 in -> out)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.Q = Linear(in_channels, in_channels)
        self.W = Linear(2 * in_channels, out_channels)

    def forward(self, h, P):
        n = spmm(P, F.relu(self.Q(h)))                   # importance-weighted pooling of the neighbours
        return l2_normalize(F.relu(self.W(ops.cat([h, n], dim=1))))


class PinSage(Module):
    """Item embeddings: input = learned id embedding + projected item features (as DGL's MovieLens
    example), K PinSageConv layers, then z = G2 ReLU(G1 h + g) (Algorithm 2), L2-normalised."""

    def __init__(self, num_items: int, in_features: int, dim: int = 64, num_layers: int = 2):
        super().__init__()
        self.emb = Embedding(num_items, dim)
        init.normal_(self.emb.weight, 0.0, 0.1)
        self.proj = Linear(in_features, dim)
        self.convs = ModuleList([PinSageConv(dim, dim) for _ in range(num_layers)])
        self.G1, self.G2 = Linear(dim, dim), Linear(dim, dim, bias=False)

    def forward(self, features, P):
        h0 = h = self.emb.weight + linear(features, self.proj.weight, self.proj.bias)
        for conv in self.convs:
            h = conv(h, P)
        return l2_normalize(h0 + self.G2(F.relu(self.G1(h))))    # + h0: DGL's skip connection


def max_margin_loss(zq: Tensor, zp: Tensor, zn: Tensor, margin: float = 0.1) -> Tensor:
    """mean over queries and negatives of max(0, z_q . z_n - z_q . z_p + margin); zn: (B, M, D)."""
    pos = ops.sum(zq * zp, dim=-1, keepdim=True)                    # (B, 1)
    neg = ops.sum(ops.unsqueeze(zq, 1) * zn, dim=-1)                # (B, M)
    return ops.mean(F.relu(neg - pos + margin))


# ---- training and evaluation -----------------------------------------------------------------------------------
def _sample_batch(item_user, user_item, hard, batch, n_easy, n_hard, rng):
    """(queries, positives, negatives (B, M)): q ~ items with ratings, p = an item of a user who rated q."""
    rated = np.nonzero(np.diff(item_user.indptr))[0]
    q = rng.choice(rated, batch)
    u = _step(item_user.indptr, item_user.indices, q, rng)
    p = _step(user_item.indptr, user_item.indices, u, rng)
    negs = [rng.integers(0, item_user.shape[0], (batch, n_easy))]
    if n_hard:
        indptr, items = hard
        cnt = indptr[q + 1] - indptr[q]
        pick = indptr[q][:, None] + (rng.random((batch, n_hard)) * cnt[:, None]).astype(np.int64)
        rand = rng.integers(0, item_user.shape[0], (batch, n_hard))   # no hard candidate: a random item
        negs.append(np.where(cnt[:, None] > 0, items[np.minimum(pick, items.size - 1)], rand))
    return q, p, np.concatenate(negs, axis=1)


def hit_rate(z: np.ndarray, train_ui: sp.csr_matrix, test_user, test_item, order_ui, k=10,
             query_items: int = 5, scores=None) -> float:
    """Fraction of users whose held-out item is among the top k unrated items for their query
    (the mean embedding of their last `query_items` training items), or for `scores` (users x items)."""
    if scores is None:
        last = order_ui[test_user, -query_items:]                   # (U, q) latest items, -1 padded
        valid = (last >= 0)[..., None]
        q = (z[np.maximum(last, 0)] * valid).sum(1) / np.maximum(valid.sum(1), 1)
        scores = q @ z.T
    scores = np.array(scores, dtype=np.float64, copy=True)
    rated = train_ui[test_user]
    scores[rated.nonzero()] = -np.inf                                # never recommend what was rated
    target = scores[np.arange(test_user.size), test_item]
    rank = (scores > target[:, None]).sum(1)
    return float((rank < k).mean())


def item_knn_scores(train_ui: sp.csr_matrix, query: np.ndarray) -> np.ndarray:
    """A non-learned baseline: cosine similarity of co-rating counts, summed over the query items
    (query: (U, q) item ids, -1 = none). Returns (U, n_items) scores."""
    C = (train_ui.T @ train_ui).toarray().astype(np.float64)
    np.fill_diagonal(C, 0.0)
    pop = np.asarray(train_ui.sum(axis=0)).ravel()
    C /= np.sqrt(np.outer(pop, pop)) + 1e-9
    return (C[np.maximum(query, 0)] * (query >= 0)[..., None]).sum(1)


def _latest_items(users, items, timestamps, n_users, width):
    """(n_users, width) each user's last `width` training items in time order (-1 padded on the left)."""
    order = np.lexsort((items, timestamps, users))
    u, it = users[order], items[order]
    from_end = np.bincount(u, minlength=n_users)[u] - (np.arange(u.size) - np.searchsorted(u, u))
    keep = from_end <= width
    table = np.full((n_users, width), -1, dtype=np.int64)
    table[u[keep], width - from_end[keep]] = it[keep]
    return table


def train_pinsage(root=None, quick: bool = False, seed: int = 0, steps: int | None = None, batch: int = 256,
                  dim: int = 64, lr: float = 0.01, margin: float = 0.3, T: int = 10, query_items: int = 1,
                  hard_negatives: int = 1, hard_ranks: tuple = (10, 60), log=None) -> dict:
    """Train PinSage on MovieLens-100k (or the synthetic stand-in) and report hit-rate@10."""
    start = time.perf_counter()
    try:
        users, items, ts, feats = load_movielens_100k(root)
        dataset = "movielens-100k"
    except FileNotFoundError:
        users, items, ts, feats = synthetic_interactions(seed=seed)
        dataset = "synthetic"
    n_users, n_items = int(users.max()) + 1, feats.shape[0]
    train, test_user, test_item = leave_last_out(users, items, ts)
    tu, ti = users[train], items[train]
    train_ui = sp.csr_matrix((np.ones(tu.size, np.float32), (tu, ti)), shape=(n_users, n_items))
    item_user, user_item = train_ui.T.tocsr(), train_ui
    rng = np.random.default_rng(seed)
    P, hard = importance_neighbors(item_user, T=T, hard_ranks=hard_ranks, rng=rng)
    latest = _latest_items(tu, ti, ts[train], n_users, query_items)

    manual_seed(seed)
    model = PinSage(n_items, feats.shape[1], dim)
    opt = optim.Adam(model.parameters(), lr=lr)
    x = Tensor(feats)
    steps = steps or (150 if quick else 1500)
    history = []
    for step in range(1, steps + 1):
        n_hard = 0 if step <= steps // 3 else hard_negatives  # curriculum: hard negatives after a warm-up
        q, p, neg = _sample_batch(item_user, user_item, hard, batch, 4, n_hard, rng)
        model.train()
        z = model(x, P)
        loss = max_margin_loss(z[q], z[p], z[neg.reshape(-1)].reshape(batch, -1, dim), margin)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % max(1, steps // 10) == 0 or step == steps:
            history.append({"step": step, "loss": float(loss.item())})
            if log:
                log(f"pinsage step {step}: loss {loss.item():.4f}")
    model.eval()
    with no_grad():
        z = model(x, P).data
    popularity = np.bincount(ti, minlength=n_items).astype(np.float64)
    results = {
        "dataset": dataset, "users": n_users, "items": n_items, "train_interactions": int(train.sum()),
        "steps": steps, "neighbors_T": T, "query_items": query_items,
        "hit_rate@10": hit_rate(z, train_ui, test_user, test_item, latest, 10, query_items),
        "hit_rate@10_popularity": hit_rate(None, train_ui, test_user, test_item, latest, 10,
                                           scores=np.tile(popularity, (test_user.size, 1))),
        "hit_rate@10_random": hit_rate(None, train_ui, test_user, test_item, latest, 10,
                                       scores=rng.random((test_user.size, n_items))),
        "hit_rate@10_item_knn": hit_rate(None, train_ui, test_user, test_item, latest, 10,
                                         scores=item_knn_scores(train_ui, latest[test_user])),
        "history": history, "wall_time_s": round(time.perf_counter() - start, 2),
    }
    return results


__all__ = ["PinSage", "PinSageConv", "hit_rate", "importance_neighbors", "item_knn_scores", "leave_last_out",
           "load_movielens_100k", "max_margin_loss", "synthetic_interactions", "train_pinsage"]
