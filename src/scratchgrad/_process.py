"""The two process-wide settings `import scratchgrad` makes for speed: both measured, both skipped when the
user has chosen a value. This module must not import NumPy (the first one is read when OpenBLAS loads).

1. OPENBLAS_THREAD_TIMEOUT=20. OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each threaded
   GEMM before they sleep, taking a core from the block workers of the convolutions (ops/blocks.py):
   DeepConvNet's 2-thread step took 125 ms with the default and 80 ms with 2^20 cycles (~0.4 ms), MLP
   steps the same or faster. It counts only if NumPy is imported after scratchgrad (else a warning says so).

2. glibc malloc keeps freed blocks for reuse. By default it maps every block over 128 KB straight from
   the OS and unmaps it when freed, so each training step's fresh gradients and activations (0.1-2 MB
   arrays) cost a munmap and then a page fault per 4 KB when the next step writes them: freeing the six
   gradients of the 784-512-512-10 MLP took 0.26 ms, and its whole 2-thread step ran 4.3 ms instead of
   3.0 ms. Blocks under 32 MB now come from the heap, and up to 256 MB of freed heap stay in the process.
   Skipped unless the C library is glibc, or when MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ are set.
"""
from __future__ import annotations

import os
import platform
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3     # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 << 20                        # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20


#: True when `import scratchgrad` came after NumPy's (so after OpenBLAS read its settings) and the user had
#: not set OPENBLAS_THREAD_TIMEOUT: the spinning idle threads then slow the block workers (ops/blocks.py
#: warns once when it first runs them; DeepConvNet's 2-thread step: 59 -> 93 ms).
OPENBLAS_TIMEOUT_TOO_LATE = False


def configure() -> dict:
    """Apply both settings; returns what was done (for tests and the curious): the thread timeout is
    None when it came too late to count."""
    global OPENBLAS_TIMEOUT_TOO_LATE
    OPENBLAS_TIMEOUT_TOO_LATE = "OPENBLAS_THREAD_TIMEOUT" not in os.environ and "numpy" in sys.modules
    timeout = os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")
    done = {"openblas_thread_timeout": None if OPENBLAS_TIMEOUT_TOO_LATE else timeout}
    done["malloc_keeps_blocks"] = _keep_freed_blocks()
    return done


def _keep_freed_blocks() -> bool:
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False
