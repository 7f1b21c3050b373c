"""Interleaved scratchgrad-vs-PyTorch timing, as BENCHMARKS.md prescribes.

Both sides get 2 BLAS threads, a warm-up, then rounds of ~`seconds` each, run A B / B A
alternately in one process. A round taken while the load average is well above the
core count is retried (the machines are shared). Reports the median ratio with min and max.
"""
from __future__ import annotations

import os
import statistics
import time


def pin_threads(n=2):
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(n)
    return threadpool_limits(limits=n)  # keep the object alive


def _run_for(step, seconds, clock):
    n, t0 = 0, clock()
    while True:
        step()
        n += 1
        dt = clock() - t0
        if dt >= seconds:
            return n, dt


def compare(sg_step, torch_step, units_per_step, rounds=5, seconds=2.0, warmup=5, max_load=3.0, log=print,
            cpu_time=False):
    """Return dict with per-round throughputs and median/min/max ratio sg/torch (higher is better for sg).

    cpu_time=True times with the process's CPU clock instead of the wall clock: with 1 thread per side
    it stays meaningful on a loaded machine (it is NOT the BENCHMARKS.md measurement, a proxy for it)."""
    clock = time.process_time if cpu_time else time.perf_counter
    for _ in range(warmup):
        sg_step()
        torch_step()
    rows = []
    r = retries = 0
    while r < rounds:
        load = os.getloadavg()[0]
        if load > max_load and retries < 3 * rounds and not cpu_time:
            retries += 1
            log(f"  load {load:.1f} > {max_load}: waiting")
            time.sleep(10)
            continue
        order = [("sg", sg_step), ("torch", torch_step)]
        if r % 2:
            order.reverse()
        tp = {}
        for name, step in order:
            n, dt = _run_for(step, seconds, clock)
            tp[name] = n * units_per_step / dt
        rows.append({"sg": tp["sg"], "torch": tp["torch"], "ratio": tp["sg"] / tp["torch"], "load": load})
        log(f"  round {r + 1}: scratchgrad {tp['sg']:,.0f}/s  torch {tp['torch']:,.0f}/s  ratio {tp['sg'] / tp['torch']:.2f}"
            f"  (load {load:.1f})")
        r += 1
    ratios = [row["ratio"] for row in rows]
    return {"rounds": rows, "median_ratio": statistics.median(ratios), "min_ratio": min(ratios),
            "max_ratio": max(ratios), "sg_median": statistics.median(row["sg"] for row in rows),
            "torch_median": statistics.median(row["torch"] for row in rows)}
