"""Benchmark runner: the same workload in scratchgrad and PyTorch, interleaved in one process.

    python benchmarks/run.py W1            # training-step throughput, ratio to PyTorch (W2, W3: the convnets)
    python benchmarks/run.py mnist98       # MLP on MNIST to 98% test accuracy: wall time both sides
    python benchmarks/run.py W1 --rounds 7 --seconds 3

Workload definitions are those of ../shared/BENCHMARKS.md. Results are recorded in RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import scratchgrad as sg  # before NumPy: it sets OpenBLAS's thread timeout (see scratchgrad/__init__.py)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import compare, pin_threads  # noqa: E402

import scratchgrad.nn as nn  # noqa: E402
import scratchgrad.nn.functional as F  # noqa: E402


def _mlp_pair(torch, sizes):
    """An MLP in both frameworks with identical initial weights."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    sg_model = nn.Sequential(*layers)
    tlayers = []
    for m in layers:
        tlayers.append(torch.nn.Linear(m.in_features, m.out_features) if isinstance(m, nn.Linear) else torch.nn.ReLU())
    t_model = torch.nn.Sequential(*tlayers)
    t_model.load_state_dict({k: torch.tensor(v) for k, v in sg_model.state_dict().items()})
    return sg_model, t_model


def w1(torch, args):
    """W1: MLP 784-512-512-10, ReLU, softmax CE, SGD lr 0.1, batch 128 (samples/s)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    sg_model, t_model = _mlp_pair(torch, [784, 512, 512, 10])
    sg_step, t_step = _train_steps(torch, sg_model, t_model, ("SGD", {"lr": 0.1}), X, y)
    res = compare(sg_step, t_step, 128, rounds=args.rounds, seconds=args.seconds, cpu_time=args.cpu_time)
    if args.numpy_ceiling:
        print("W1 ceiling: the same step written by hand in NumPy (no framework at all) vs torch")
        hand = compare(_hand_w1_step(sg_model, X, y), t_step, 128, rounds=args.rounds, seconds=args.seconds,
                       cpu_time=args.cpu_time)
        res["numpy_ceiling_median_ratio"] = hand["median_ratio"]
    return res


def _hand_w1_step(model, X, y, lr=0.1):
    """W1 as plain NumPy (what GUIDE.md calls the hand-written step): the five GEMMs, fused softmax-CE,
    no input gradient for the first layer, in-place SGD. Works on copies of `model`'s weights."""
    W1, b1, W2, b2, W3, b3 = (np.array(v) for v in model.state_dict().values())
    rows = np.arange(len(y))

    def step():
        h1 = X @ W1.T
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2.T
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ W3.T
        z += b3
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        p[rows, y] -= 1
        p /= len(y)                      # dL/dz
        g2 = p @ W3
        g2 *= h2 > 0
        g1 = g2 @ W2
        g1 *= h1 > 0
        for w, g in ((W3, p.T @ h2), (b3, p.sum(0)), (W2, g2.T @ h1), (b2, g2.sum(0)),
                     (W1, g1.T @ X), (b1, g1.sum(0))):
            w -= lr * g
    return step


def mnist98(torch, args):
    """MLP 784-512-512-10 on MNIST, Adam 1e-3, batch 128: epochs and wall time to >= 98% test accuracy."""
    from scratchgrad.data import MNIST
    root = os.environ.get("SCRATCHGRAD_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    train, test = MNIST(root, train=True, flatten=True), MNIST(root, train=False, flatten=True)
    Xtr, ytr, Xte, yte = train.data, train.targets, test.data, test.targets
    out = {}
    for side in ("scratchgrad", "torch"):
        sg.manual_seed(0)
        torch.manual_seed(0)
        sg_model, t_model = _mlp_pair(torch, [784, 512, 512, 10])
        rng = np.random.default_rng(0)
        if side == "scratchgrad":
            opt = sg.optim.Adam(sg_model.parameters(), lr=1e-3)
        else:
            opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
        t0, acc, epoch = time.perf_counter(), 0.0, 0
        while acc < 0.98 and epoch < 15:
            epoch += 1
            perm = rng.permutation(len(Xtr))
            for i in range(0, len(Xtr), 128):
                idx = perm[i:i + 128]
                if side == "scratchgrad":
                    loss = F.cross_entropy(sg_model(sg.Tensor(Xtr[idx])), sg.Tensor(ytr[idx]))
                else:
                    loss = torch.nn.functional.cross_entropy(t_model(torch.from_numpy(Xtr[idx])),
                                                             torch.from_numpy(ytr[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
            if side == "scratchgrad":
                with sg.no_grad():
                    acc = float((sg_model(sg.Tensor(Xte)).data.argmax(1) == yte).mean())
            else:
                with torch.no_grad():
                    acc = float((t_model(torch.from_numpy(Xte)).argmax(1).numpy() == yte).mean())
            print(f"  {side} epoch {epoch}: test accuracy {acc:.4f}  ({time.perf_counter() - t0:.1f} s)")
        out[side] = {"epochs": epoch, "test_accuracy": acc, "wall_time_s": time.perf_counter() - t0}
    out["time_ratio_torch_over_sg"] = out["torch"]["wall_time_s"] / out["scratchgrad"]["wall_time_s"]
    return out


# ---- W2, W3: the book's convnets ---------------------------------------------------------------
def _torch_twin(torch, m):
    """The PyTorch layer matching scratchgrad layer `m` (same hyperparameters; weights copied later)."""
    tnn = torch.nn
    if isinstance(m, nn.Conv2d):
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
    if isinstance(m, nn.Linear):
        return tnn.Linear(m.in_features, m.out_features)
    if isinstance(m, nn.MaxPool2d):
        return tnn.MaxPool2d(m.kernel_size, m.stride)
    if isinstance(m, nn.Dropout):
        return tnn.Dropout(m.p)
    return {nn.ReLU: tnn.ReLU, nn.Flatten: tnn.Flatten}[type(m)]()


def _zoo_pair(torch, name):
    """Model `name` of scratchgrad.models (an nn.Sequential with named layers) and its PyTorch twin,
    layer by layer, with identical initial weights."""
    from collections import OrderedDict

    from scratchgrad.models import get_model
    sg_model = get_model(name)
    t_model = torch.nn.Sequential(OrderedDict((k, _torch_twin(torch, m)) for k, m in sg_model.named_children()))
    t_model.load_state_dict({k: torch.tensor(v) for k, v in sg_model.state_dict().items()})
    return sg_model, t_model


def _train_steps(torch, sg_model, t_model, optimizer, X, y):
    """One training step (forward, CE, zero_grad, backward, update) in each framework, as two closures.
    optimizer: (class name, keyword arguments), the same in scratchgrad.optim and torch.optim."""
    name, kwargs = optimizer
    sg_opt = getattr(sg.optim, name)(sg_model.parameters(), **kwargs)
    t_opt = getattr(torch.optim, name)(t_model.parameters(), **kwargs)
    xs, ys = sg.Tensor(X), sg.Tensor(y)
    xt, yt = torch.tensor(X), torch.tensor(y)

    def sg_step():
        loss = F.cross_entropy(sg_model(xs), ys)
        sg_opt.zero_grad()
        loss.backward()
        sg_opt.step()

    def t_step():
        loss = torch.nn.functional.cross_entropy(t_model(xt), yt)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()

    return sg_step, t_step


def _mnist_like_batch(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def w2(torch, args):
    """W2: SimpleConvNet (book ch.7: 1x28x28 -> conv 30 5x5 -> ReLU -> max-pool 2x2 s2 -> affine 100 -> ReLU
    -> affine 10 -> softmax CE), SGD, batch 100 (samples/s)."""
    X, y = _mnist_like_batch()
    sg_step, t_step = _train_steps(torch, *_zoo_pair(torch, "simple-convnet"), ("SGD", {"lr": 0.01}), X, y)
    return compare(sg_step, t_step, len(X), rounds=args.rounds, seconds=args.seconds, cpu_time=args.cpu_time)


def w3(torch, args):
    """W3: DeepConvNet (book ch.8: conv3x3(16)-relu-conv3x3(16)-relu-pool-conv3x3(32)-relu-conv3x3(32, pad 2)-
    relu-pool-conv3x3(64)-relu-conv3x3(64)-relu-pool-affine(50)-relu-dropout(0.5)-affine(10)-dropout(0.5),
    pad 1 except where noted), Adam lr 1e-3, batch 100 (samples/s)."""
    X, y = _mnist_like_batch()
    sg_step, t_step = _train_steps(torch, *_zoo_pair(torch, "deep-convnet"), ("Adam", {"lr": 1e-3}), X, y)
    return compare(sg_step, t_step, len(X), rounds=args.rounds, seconds=args.seconds, cpu_time=args.cpu_time)


def w4(torch, args):
    """W4: char LSTM LM, vocab 65, embedding 64, LSTM 256, T=64, batch 32, CE over all steps, full BPTT,
    Adam (tokens/s). The step itself is benchmarks/rnn_micro.py's `full_steps`."""
    from rnn_micro import N, T, full_steps
    sg_step, t_step = full_steps(torch)
    return compare(sg_step, t_step, T * N, rounds=args.rounds, seconds=args.seconds, cpu_time=args.cpu_time)


WORKLOADS = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "mnist98": mnist98}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cpu-time", action="store_true",
                   help="time by process CPU clock (use with --threads 1 on a loaded machine; a proxy only)")
    p.add_argument("--numpy-ceiling", action="store_true",
                   help="W1: also time the step hand-written in plain NumPy against torch (the ceiling here)")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args(argv)
    import torch
    _limits = pin_threads(args.threads)  # noqa: F841 - keeps the BLAS limit in force
    print(f"{args.workload}: scratchgrad {sg.__version__} vs torch {torch.__version__}, {args.threads} threads")
    res = WORKLOADS[args.workload](torch, args)
    if "median_ratio" in res:
        print(f"{args.workload}: ratio scratchgrad/torch median {res['median_ratio']:.2f} "
              f"(min {res['min_ratio']:.2f}, max {res['max_ratio']:.2f}); "
              f"scratchgrad {res['sg_median']:,.0f}/s, torch {res['torch_median']:,.0f}/s")
        if "numpy_ceiling_median_ratio" in res:
            print(f"{args.workload}: hand-written NumPy/torch median {res['numpy_ceiling_median_ratio']:.2f}")
    else:
        print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
