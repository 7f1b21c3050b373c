"""Blocks of samples: cache blocking, and the worker threads that share the blocks out.

The batch-wide ops that make several passes over their data (im2col + GEMM, the K*K taps of pooling)
run a block of samples at a time, so that each pass finds the block in the L2 cache. Each block is
still whole-array NumPy work: this is cache blocking, not a loop over samples (a batch of 100 is ~10-30
blocks).

OpenBLAS spreads one GEMM over its threads, which pays off for large GEMMs only (the MLP's). The GEMMs
of a blocked im2col are small on purpose (a block's rows are sized for the L2 cache), and with two
BLAS threads every one of them pays a thread hand-off: DeepConvNet's training step took 286 ms with 2
threads against 120 ms with 1. So the blocks themselves are dealt out instead: n workers (this thread
and n - 1 pool threads), each copying its blocks' im2col rows and multiplying them with BLAS on one
thread. NumPy releases the GIL in copies and GEMMs, so the workers run on separate cores.

n is the number of BLAS threads (`sg.set_num_threads`, OPENBLAS_NUM_THREADS): with 1 everything runs
here, in this thread, with no overhead at all. The workers only get the cores if OpenBLAS's own idle
threads do not spin on them (scratchgrad/__init__.py sets OPENBLAS_THREAD_TIMEOUT for that).
"""
from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _process
from .blas import _numpy_openblas_controller, controller

#: about this many bytes of work per block. The cols of a whole batch (43 MB for 100x16x28x28 and a
#: 3x3 kernel) would go to DRAM and back; DeepConvNet's convolutions after the first, fwd + bwd, took
#: 39 ms per batch of 100 on 2 threads in 2 MB blocks, 40 in 4 MB, 44 in 1 MB, 48.5 in 512 KB, 45 in
#: 8 MB (each block is a dozen NumPy calls, between which the workers take turns at the GIL; the
#: GEMMs are cut into their own small pieces, ops/blas.py). Max pooling: SimpleConvNet's pool took
#: 2.3 ms in 2 MB blocks, 6.0 in 512 KB.
BLOCK_BYTES = 2 << 20

#: scratch buffers up to this size are kept by their thread for the next call
SCRATCH_KEEP_BYTES = 16 << 20

_pool = None     # the pool threads, made on first parallel use
_pool_size = 0
_pool_lock = threading.Lock()


def sample_blocks(N, bytes_per_sample, workers=None):
    """Slices of the batch holding about BLOCK_BYTES of work each (at least one sample), as many
    as a multiple of the workers (default: `num_workers()`) and of equal sizes but for one
    sample, larger ones first: dealt round-robin, every worker gets the same work."""
    per_block = max(1, BLOCK_BYTES // max(int(bytes_per_sample), 1))
    workers = num_workers() if workers is None else workers
    count = min(N, -(-N // per_block // workers) * workers if N > per_block else workers)
    size, bigger = divmod(N, max(count, 1))
    starts = [i * size + min(i, bigger) for i in range(count + 1)]
    return [slice(a, b) for a, b in zip(starts[:-1], starts[1:])]


_local = threading.local()


def scratch(name: str, size: int, dtype) -> np.ndarray:
    """A flat uninitialised buffer of `size` numbers that this thread reuses from call to call.

    Fresh memory costs a page fault per 4 KB when first written, and two threads faulting at once
    wait on each other: with new buffers in every call, DeepConvNet's 2-worker step spent 30% of its
    time zero-filling 0.5 MB buffers. Buffers over SCRATCH_KEEP_BYTES are not kept."""
    dtype = np.dtype(dtype)
    if size * dtype.itemsize > SCRATCH_KEEP_BYTES:
        return np.empty(size, dtype)
    kept = _local.__dict__.setdefault("buffers", {})
    buf = kept.get((name, dtype))
    if buf is None or buf.size < size:
        buf = kept[(name, dtype)] = np.empty(size, dtype)
    return buf[:size]


_constants = {}


def constant_vector(value, n: int, dtype) -> np.ndarray:
    """A read-only vector of n copies of value, a view of one kept per (value, dtype) for every thread:
    the zero rows of relu_array and the ones of channel_sum's GEMV, without a new array per block."""
    key = (value, np.dtype(dtype))
    kept = _constants.get(key)
    if kept is None or len(kept) < n:
        kept = np.full(max(n, 2 * len(kept)) if kept is not None else n, value, dtype)
        kept.flags.writeable = False
        _constants[key] = kept
    return kept[:n]


def num_workers() -> int:
    """How many workers a block loop may use: the BLAS thread limit now in force (1 us to ask)."""
    return max([lib.get_num_threads() or 1 for lib in controller().lib_controllers], default=1)


def deal(blocks, work, setup=lambda: None):
    """Run state = work(blk, state) for every block, the blocks dealt round-robin to the workers.

    setup() makes each worker's starting state once (its own buffers, an accumulator); a worker
    handles blocks i, i + n, i + 2n, ... in order. Returns the list of the workers' final states.
    work must only write memory that belongs to its block (or to its state)."""
    n = max(1, min(num_workers(), len(blocks)))     # an empty batch: one worker, no blocks

    def worker(i):
        state = setup()
        for blk in blocks[i::n]:
            state = work(blk, state)
        return state

    if n <= 1:
        return [worker(0)]
    if _process.OPENBLAS_TIMEOUT_TOO_LATE and not _warned_spinning:
        _warn_spinning_blas()
    with controller().limit(limits=1):          # ~25 us: each worker's GEMMs on one BLAS thread
        futures = [_executor(n - 1).submit(worker, i) for i in range(1, n)]
        first = worker(0)
        return [first] + [f.result() for f in futures]


_warned_spinning = False


def _warn_spinning_blas():
    """Once: scratchgrad came after NumPy, too late to shorten the spinning of OpenBLAS's idle threads."""
    global _warned_spinning
    _warned_spinning = True
    if _numpy_openblas_controller() is not None:
        warnings.warn("scratchgrad was imported after NumPy, too late to set OPENBLAS_THREAD_TIMEOUT: OpenBLAS's "
                      "idle threads spin ~0.1 s after each threaded call and take cores from scratchgrad's workers "
                      "(convolutions ~1.5x slower). Import scratchgrad first, or set OPENBLAS_THREAD_TIMEOUT=20 in "
                      "the environment.", RuntimeWarning, stacklevel=4)


def _executor(size: int) -> ThreadPoolExecutor:
    """The pool threads (at least `size`), made or grown under a lock: callers may be threads too."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(size, thread_name_prefix="scratchgrad-block"), size
        return _pool
