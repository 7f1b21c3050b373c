"""scratchgrad: deep learning from scratch on NumPy.

    import scratchgrad as sg
    x = sg.randn(4, 3, requires_grad=True)
    loss = (x.relu() ** 2).mean()
    loss.backward()
"""
from __future__ import annotations

from . import _process

PROCESS_SETTINGS = _process.configure()   # OpenBLAS thread timeout, glibc keeps freed blocks: see _process.py

import numpy as np  # noqa: E402

from .tensor import (Tensor, arange, as_tensor, empty, eye, full, full_like, manual_seed, ones, ones_like, rand,
                     rand_like, randint, randn, randn_like, tensor, zeros, zeros_like)
from . import ops
from .ops import *  # noqa: F401,F403 - functional ops: sg.exp, sg.cat, sg.where, ...
from . import autograd
from .autograd import enable_grad, no_grad, set_grad_enabled, is_grad_enabled

float32, float64, int64, int32, bool_ = np.float32, np.float64, np.int64, np.int32, np.bool_

__version__ = "0.1.0"


def set_num_threads(n: int):
    """Limit BLAS (OpenBLAS/MKL) threads, e.g. `sg.set_num_threads(2)` for benchmarks. The same number of
    workers share the blocks of samples of convolutions and pooling (ops/blocks.py)."""
    import scipy.linalg.blas  # noqa: F401 - load SciPy's own OpenBLAS (scipy.linalg, e.g. FID's sqrtm) so the limit covers it too
    from threadpoolctl import threadpool_limits
    global _thread_limiter
    _thread_limiter = threadpool_limits(limits=int(n))
    return _thread_limiter


_thread_limiter = None


def __getattr__(name):
    # heavier subpackages load on first use: sg.nn, sg.optim, sg.data, sg.models, ...
    import importlib
    if name in ("nn", "optim", "data", "train", "labs", "cli", "checkpoint", "models", "plot", "utils"):
        return importlib.import_module(f".{name}", __name__)
    if name == "summary":
        return importlib.import_module(".analysis.summary", __name__).summary
    raise AttributeError(f"module 'scratchgrad' has no attribute {name!r}")
