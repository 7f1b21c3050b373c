"""W5: one GCN training epoch on Cora, scratchgrad vs PyTorch, interleaved in one process (2 threads);
and the papers' accuracy tables (10 seeds each) with --accuracy.

    python benchmarks/gcn_bench.py                 # ms/epoch both sides, median ratio (min, max)
    python benchmarks/gcn_bench.py --rounds 7 --json out.json
    python benchmarks/gcn_bench.py --accuracy --json acc.json     # ~40 min: GCN, ChebNet, GAT, SAGE, PinSage

The workload of ../shared/BENCHMARKS.md: real Cora (2708 nodes, 1433 binary features, 7 classes),
sparse normalised adjacency D~^-1/2 (A + I) D~^-1/2, hidden 16, dropout 0.5, Adam lr 0.01 with
weight decay 5e-4 (on the first layer, as Kipf & Welling), one epoch = forward, loss on the 140
training nodes, backward, step.

scratchgrad keeps the binary features as a scipy CSR matrix (49,216 nonzeros of 3.9M) and drops
out its stored entries only (Kipf & Welling's `sparse_dropout`). PyTorch is timed two ways:
  torch-dense:  the features as a dense tensor with nn.functional.dropout on all 3.9M entries
                (the BENCHMARKS.md reference implementation: torch.sparse only for the adjacency)
  torch-sparse: the features as a torch.sparse COO tensor with dropout on its values (the same
                trick as ours, for a like-for-like comparison)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import scratchgrad as sg  # before NumPy: it sets OpenBLAS's thread timeout (see scratchgrad/_process.py)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import compare, pin_threads  # noqa: E402

import scratchgrad.nn.functional as F  # noqa: E402
from scratchgrad.graph import load_planetoid  # noqa: E402
from scratchgrad.graph.models import GCN  # noqa: E402
from scratchgrad.graph.train import param_groups  # noqa: E402


def data_root():
    return os.environ.get("SCRATCHGRAD_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")


def sg_setup(g):
    """The scratchgrad epoch: the library's GCN model on the sparse features."""
    sg.manual_seed(0)
    model = GCN(g.num_features, g.num_classes)
    opt = sg.optim.Adam(param_groups(model, 5e-4, "first"), lr=0.01)
    train_idx = np.nonzero(g.train_mask)[0]
    target = sg.Tensor(g.y[train_idx])
    g.gcn_norm()  # built once, as the torch side's adjacency

    def step():
        model.train()
        loss = F.cross_entropy(model(g.x, g)[train_idx], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, step


def torch_setup(torch, g, sg_model, sparse_features: bool):
    """The same network in PyTorch, from the same initial weights."""
    A = g.gcn_norm().tocoo()
    A_t = torch.sparse_coo_tensor(np.stack([A.row, A.col]), A.data, A.shape, check_invariants=True).coalesce()
    X = g.x.tocoo()
    if sparse_features:
        x_t = torch.sparse_coo_tensor(np.stack([X.row, X.col]), X.data, X.shape, check_invariants=True).coalesce()
    else:
        x_t = torch.tensor(g.x.toarray())
    W1 = torch.nn.Parameter(torch.tensor(sg_model.conv1.lin.weight.data.T.copy()))
    W2 = torch.nn.Parameter(torch.tensor(sg_model.conv2.lin.weight.data.T.copy()))
    opt = torch.optim.Adam([{"params": [W1], "weight_decay": 5e-4}, {"params": [W2], "weight_decay": 0.0}], lr=0.01)
    train_idx = torch.tensor(np.nonzero(g.train_mask)[0])
    target = torch.tensor(g.y[np.nonzero(g.train_mask)[0]])
    tF = torch.nn.functional

    def dropout_input(x):
        if not sparse_features:
            return tF.dropout(x, 0.5, training=True)
        return torch.sparse_coo_tensor(x.indices(), tF.dropout(x.values(), 0.5, training=True), x.shape)

    def step():
        h = torch.sparse.mm(A_t, torch.sparse.mm(dropout_input(x_t), W1) if sparse_features
                            else dropout_input(x_t) @ W1)
        h = tF.dropout(torch.relu(h), 0.5, training=True)
        out = torch.sparse.mm(A_t, h @ W2)
        loss = tF.cross_entropy(out[train_idx], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


ACCURACY_RUNS = [  # (model, dataset, model options, paper's number or None, seeds)
    ("gcn", "cora", {}, 0.815, 10),
    ("gcn", "citeseer", {}, 0.703, 10),
    ("cheb", "cora", {"K": 3}, 0.812, 10),       # the paper's "Chebyshev K = 2" (degree 2: 3 terms)
    ("cheb", "cora", {"K": 4}, 0.795, 10),       # the paper's "K = 3"
    ("gat", "cora", {}, 0.830, 10),
    ("sage", "cora", {"aggr": "mean"}, None, 10),
    ("sage", "cora", {"aggr": "max"}, None, 10),
    ("sage", "cora", {"aggr": "lstm"}, None, 10),
]


def accuracy_tables(log=print) -> dict:
    """Every model of ACCURACY_RUNS with its paper's settings over its seeds, then PinSage (3 seeds)."""
    from threadpoolctl import threadpool_limits
    from scratchgrad.graph.pinsage import train_pinsage
    from scratchgrad.graph.train import run_seeds
    out = {"node_classification": [], "pinsage": []}
    with threadpool_limits(1):   # accuracy does not depend on threads; one is fastest on a shared machine
        graphs = {}
        for model, dataset, options, paper, n in ACCURACY_RUNS:
            if dataset not in graphs:
                graphs[dataset] = load_planetoid(dataset, data_root(), normalize_features=True)
            r = run_seeds(model, graphs[dataset], range(n), options, log=log)
            row = {"model": model, "dataset": dataset, "options": options, "paper": paper, "seeds": n,
                   "mean": r["mean"], "std": r["std"], "test_accuracy": r["test_accuracy"],
                   "epochs": [x["epochs"] for x in r["runs"]],
                   "epoch_time_ms": float(np.median([x["epoch_time_ms"] for x in r["runs"]]))}
            out["node_classification"].append(row)
            log(f"== {model} {options} on {dataset}: {100 * r['mean']:.2f} +- {100 * r['std']:.2f} "
                f"(paper {'-' if paper is None else f'{100 * paper:.1f}'})")
        for seed in range(3):
            r = train_pinsage(data_root(), seed=seed)
            r.pop("history")
            out["pinsage"].append(r)
            log(f"== pinsage seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in r.items() if k.startswith("hit")))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--accuracy", action="store_true", help="run the 10-seed accuracy tables instead of W5")
    args = p.parse_args(argv)
    if args.accuracy:
        results = accuracy_tables()
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
        return results
    import torch
    _limits = pin_threads(args.threads)  # noqa: F841 - keeps the BLAS limit in force
    g = load_planetoid("cora", data_root())   # binary features, as W5 specifies
    print(f"W5 GCN epoch on Cora: scratchgrad {sg.__version__} vs torch {torch.__version__}, {args.threads} threads")
    model, sg_step = sg_setup(g)
    results = {}
    for name, sparse in (("torch-dense", False), ("torch-sparse", True)):
        print(f"{name}:")
        t_step = torch_setup(torch, g, model, sparse)
        r = compare(sg_step, t_step, 1, rounds=args.rounds, seconds=args.seconds)
        r["sg_ms_per_epoch"], r["torch_ms_per_epoch"] = 1000 / r["sg_median"], 1000 / r["torch_median"]
        results[name] = r
        print(f"W5 vs {name}: scratchgrad {r['sg_ms_per_epoch']:.2f} ms/epoch, torch {r['torch_ms_per_epoch']:.2f} "
              f"ms/epoch; speed ratio scratchgrad/torch median {r['median_ratio']:.2f} "
              f"(min {r['min_ratio']:.2f}, max {r['max_ratio']:.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
