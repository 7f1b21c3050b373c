"""W4's recurrent core against PyTorch, interleaved in one process at 2 threads (BENCHMARKS.md).

    python benchmarks/rnn_micro.py                 # LSTM fwd+bwd and the full W4 step, 5 rounds each
    python benchmarks/rnn_micro.py --part lstm --rounds 3 --seconds 1
    python benchmarks/rnn_micro.py --profile       # where scratchgrad's time goes (no torch)
    python benchmarks/rnn_micro.py --threads 1 --cpu-time    # a proxy on a loaded machine
    python benchmarks/run.py W4                    # the same full step as a W4 workload

lstm:  1-layer LSTM(64 -> 256), batch_first input (32, 64, 64): forward + backward of sum(output * w).
step:  the W4 training step: Embedding(65, 64) -> LSTM(64, 256) -> Linear(256, 65) -> cross-entropy
       over all 64 x 32 positions -> backward -> Adam.  Both report tokens/s (T * N = 2048 per step).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import scratchgrad as sg  # before NumPy: it sets OpenBLAS's thread timeout (see scratchgrad/__init__.py)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import compare, pin_threads  # noqa: E402

import scratchgrad.nn as nn  # noqa: E402
import scratchgrad.nn.functional as F  # noqa: E402
from scratchgrad.nn.modules.rnn import LSTM  # noqa: E402

V, E, H, T, N = 65, 64, 256, 64, 32


def _lstm_pair(torch):
    ours = LSTM(E, H, batch_first=True)
    theirs = torch.nn.LSTM(E, H, batch_first=True)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def lstm_steps(torch):
    """Forward + backward of one LSTM layer (no optimizer)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, T, E)).astype(np.float32)
    W = rng.standard_normal((N, T, H)).astype(np.float32)
    ours, theirs = _lstm_pair(torch)
    xs, ws = sg.tensor(X, requires_grad=True), sg.tensor(W)
    xt, wt = torch.tensor(X, requires_grad=True), torch.tensor(W)

    def sg_step():
        ours.zero_grad()
        (ours(xs)[0] * ws).sum().backward()

    def t_step():
        theirs.zero_grad()
        (theirs(xt)[0] * wt).sum().backward()
    return sg_step, t_step


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.lstm = LSTM(E, H, batch_first=True)
        self.head = nn.Linear(H, V)

    def forward(self, idx):
        y, _ = self.lstm(self.embed(idx))
        return self.head(y)


def full_steps(torch):
    """The W4 training step on both sides, same initial weights."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, V, (N, T))
    tgt = rng.integers(0, V, (N, T))
    ours = CharLSTM()
    tnn = torch.nn

    class TorchCharLSTM(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.lstm, self.head = tnn.Embedding(V, E), tnn.LSTM(E, H, batch_first=True), tnn.Linear(H, V)

        def forward(self, idx):
            return self.head(self.lstm(self.embed(idx))[0])
    theirs = TorchCharLSTM()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    sg_opt = sg.optim.Adam(ours.parameters(), lr=2e-3)
    t_opt = torch.optim.Adam(theirs.parameters(), lr=2e-3)
    idx_s, tgt_s = sg.tensor(idx), sg.tensor(tgt.reshape(-1))
    idx_t, tgt_t = torch.tensor(idx), torch.tensor(tgt.reshape(-1))

    def sg_step():
        loss = F.cross_entropy(ours(idx_s).reshape(-1, V), tgt_s)
        sg_opt.zero_grad()
        loss.backward()
        sg_opt.step()

    def t_step():
        loss = torch.nn.functional.cross_entropy(theirs(idx_t).reshape(-1, V), tgt_t)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
    return sg_step, t_step


def profile(n=20):
    """Time scratchgrad's LSTM forward and backward separately (ms per call, median of n)."""
    rng = np.random.default_rng(0)
    m = LSTM(E, H, batch_first=True)
    x = sg.tensor(rng.standard_normal((N, T, E)).astype(np.float32), requires_grad=True)
    fw, bw = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        y = m(x)[0]
        t1 = time.perf_counter()
        y.backward(sg.ones(*y.shape))
        t2 = time.perf_counter()
        fw.append(t1 - t0)
        bw.append(t2 - t1)
    print(f"LSTM forward {1e3 * np.median(fw):.2f} ms, backward {1e3 * np.median(bw):.2f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["lstm", "step", "both"], default="both")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-load", type=float, default=3.0, help="wait while the load average is above this")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time by process CPU clock (with --threads 1 on a loaded machine; a proxy only)")
    args = ap.parse_args()
    if args.profile:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(args.threads):
            profile()
        return
    import torch
    _keep = pin_threads(args.threads)  # noqa: F841  (torch.set_num_threads + threadpoolctl)
    parts = ["lstm", "step"] if args.part == "both" else [args.part]
    for part in parts:
        sg_step, t_step = (lstm_steps if part == "lstm" else full_steps)(torch)
        print(f"{part}: T={T} N={N} E={E} H={H}, tokens/s, {args.threads} threads")
        r = compare(sg_step, t_step, T * N, rounds=args.rounds, seconds=args.seconds, max_load=args.max_load,
                    cpu_time=args.cpu_time)
        print(f"{part}: scratchgrad {r['sg_median']:,.0f} tok/s  torch {r['torch_median']:,.0f} tok/s  "
              f"ratio {r['median_ratio']:.2f} (min {r['min_ratio']:.2f}, max {r['max_ratio']:.2f})")


if __name__ == "__main__":
    main()
