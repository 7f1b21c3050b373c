"""Micro-benchmark: one convolution layer, forward + backward, scratchgrad vs PyTorch (2 threads).

    .venv/bin/python benchmarks/conv_micro.py            # the two layers, interleaved rounds
    .venv/bin/python benchmarks/conv_micro.py --parts    # also: where our time goes, GEMM variants

Layers (BENCHMARKS.md):
  W2  x 100x1x28x28 (data: no input gradient) -> 30 filters 5x5, bias
  W3  x 100x16x28x28 -> 16 filters 3x3 pad 1, bias; with the input gradient (a middle layer)
Each side gets the layout it produces in a network: our conv outputs are NHWC in memory
(so the incoming gradient and the next layer's input are too), PyTorch's are NCHW.

OPENBLAS_THREAD_TIMEOUT: idle OpenBLAS workers spin for 2^28 cycles (~0.1 s) after each call.
On a shared 2-core machine (load 4-7 while we measured) they took the core our main thread
needed, and each 2-thread GEMM call cost about a scheduler tick (~4 ms): a conv layer making
~75 GEMM calls ran 10x slower than with 1 thread. A timeout of 2^4 cycles (workers sleep at
once) removed most of it. It must be set before NumPy loads OpenBLAS; we set it unless the
environment already does (OPENBLAS_THREAD_TIMEOUT=28 restores OpenBLAS's default).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # as scratchgrad sets it (scratchgrad/__init__.py)

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from harness import compare, pin_threads  # noqa: E402

import scratchgrad as sg  # noqa: E402
from scratchgrad.ops import blocks  # noqa: E402
from scratchgrad.ops.conv import conv2d  # noqa: E402


def channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def make_layer(N, C, H, Co, K, pad, input_grad, seed=0):
    import torch
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, H), dtype=np.float32)
    w = (rng.standard_normal((Co, C, K, K), dtype=np.float32) * 0.1)
    b = np.zeros(Co, np.float32)
    OH = H + 2 * pad - K + 1
    gy = rng.standard_normal((N, Co, OH, OH), dtype=np.float32)

    xs, ws, bs = sg.Tensor(channels_last(x), requires_grad=input_grad), sg.Tensor(w, requires_grad=True), \
        sg.Tensor(b, requires_grad=True)
    gys = sg.Tensor(channels_last(gy))
    xt, wt, bt = (torch.tensor(a, requires_grad=rg) for a, rg in ((x, input_grad), (w, True), (b, True)))
    gyt = torch.tensor(gy)

    def sg_step():
        for t in (xs, ws, bs):
            t.grad = None
        conv2d(xs, ws, bs, padding=pad).backward(gys)

    def torch_step():
        for t in (xt, wt, bt):
            t.grad = None
        torch.nn.functional.conv2d(xt, wt, bt, padding=pad).backward(gyt)

    return sg_step, torch_step, (x, w, gy, pad)


def best_of(f, n=7):
    f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def parts(x, w, gy, pad):
    """Where the time of our layer goes, and the GEMM written four ways on the same cols."""
    from scratchgrad.ops import conv
    from scratchgrad.ops.im2col import pad_image, unfold
    geo = conv.Geometry(1, pad, 1, 1)
    x_in, gy_in = (x if x.shape[1] == 1 else channels_last(x)), channels_last(gy)
    khw, out_hw = w.shape[2:], gy.shape[2:]
    cols = unfold(pad_image(x_in, geo.pads), *khw, 1, 1, out_hw)[:, 0]
    wm = conv._w_mat(w, 1)[0]
    wk = wm.T.copy()

    def unblocked(f):
        def run():
            old, blocks.BLOCK_BYTES = blocks.BLOCK_BYTES, 1 << 40
            try:
                f()
            finally:
                blocks.BLOCK_BYTES = old
        return run

    rows = {
        "forward (im2col blocks + GEMM, bias)": lambda: conv.conv_forward(x_in, w, geo, np.zeros(len(w), w.dtype)),
        "forward, whole-batch cols (no blocks)": unblocked(lambda: conv.conv_forward(x_in, w, geo)),
        "weight grad (im2col blocks + GEMM)": lambda: conv.conv_weight(x_in, gy_in, khw, geo),
        "weight grad, whole-batch cols": unblocked(lambda: conv.conv_weight(x_in, gy_in, khw, geo)),
        "bias grad (GEMV)": lambda: conv.channel_sum(gy_in),
        "input grad (conv_transpose)": lambda: conv.conv_transpose(gy_in, w, geo, x.shape[2:]),
        "im2col, whole batch (one strided copy)": lambda: unfold(pad_image(x_in, geo.pads), *khw, 1, 1, out_hw),
        "GEMM cols @ W (matmul)": lambda: cols @ wm,
        "GEMM einsum(optimize=True)": lambda: np.einsum("mk,ko->mo", cols, wm, optimize=True),
        "GEMM tensordot on 6-D cols": lambda: np.tensordot(cols.reshape(x.shape[0], *out_hw, -1), wm, 1),
        "GEMM W @ cols^T (other orientation)": lambda: wk @ cols.T,
    }
    print(f"  cols {cols.shape[0]} x {cols.shape[1]} ({cols.nbytes / 2**20:.0f} MB for the whole batch)")
    for name, f in rows.items():
        print(f"  {name:42s} {best_of(f):7.2f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parts", action="store_true")
    ap.add_argument("--max-load", type=float, default=3.0, help="wait while the load average is above this")
    args = ap.parse_args()
    _keep = pin_threads(args.threads)  # noqa: F841
    layers = {"W2 conv 1->30 5x5, no input grad": (100, 1, 28, 30, 5, 0, False),
              "W3 conv 16->16 3x3 pad 1, with input grad": (100, 16, 28, 16, 3, 1, True),
              "W3 conv 16->16 3x3 pad 1, no input grad": (100, 16, 28, 16, 3, 1, False)}
    summary = {}
    for name, cfg in layers.items():
        print(name)
        sg_step, torch_step, data = make_layer(*cfg)
        res = compare(sg_step, torch_step, 1, rounds=args.rounds, seconds=args.seconds, max_load=args.max_load)
        summary[name] = res
        print(f"  -> {1e3 / res['sg_median']:.1f} ms vs torch {1e3 / res['torch_median']:.1f} ms: "
              f"ratio {res['median_ratio']:.2f} (min {res['min_ratio']:.2f}, max {res['max_ratio']:.2f})")
        if args.parts:
            parts(*data)
    print("\nsummary (throughput ratio scratchgrad / torch, > 1 means faster):")
    for name, res in summary.items():
        print(f"  {name:45s} {res['median_ratio']:.2f}  [{res['min_ratio']:.2f}, {res['max_ratio']:.2f}]")


if __name__ == "__main__":
    main()
