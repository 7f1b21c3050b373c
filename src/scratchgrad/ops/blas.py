"""The BLAS library NumPy already loaded, for what NumPy does not expose itself.

- `controller()`: threadpoolctl's handle on the BLAS libraries (thread counts; ops/blocks.py).
- `axpy(alpha, x, y)`:  y <- y + alpha x  in one pass over memory.
- `matmul(a, b, out)`: a @ b in pieces (bands of rows, or slices of K) that OpenBLAS multiplies without
  packing them first.

Every optimizer update is a few axpys over all the parameters (SGD: W <- W - lr g). NumPy has no
fused multiply-add, so `y += alpha * x` is two passes with a temporary (read x, write the temporary,
read it again, read and write y). BLAS's saxpy reads x and y once and writes y once, on NumPy's own
BLAS threads: measured on W1's six parameters (669k floats, 2 threads) 59 us against 148 us.

NumPy does not export its BLAS, so `axpy` calls the library's `cblas_?axpy` through ctypes: only the
copy of OpenBLAS bundled inside NumPy's own wheel (the library NumPy's `@` uses, with its thread
pool), checked once against NumPy's result. Anywhere else (another BLAS, non-contiguous or mixed-
dtype arrays) `axpy` returns False and the caller does the two NumPy passes. (SciPy's
`scipy.linalg.blas.saxpy` is not used: SciPy bundles a second OpenBLAS whose own thread pool then
fights NumPy's for the cores; W1 took 23.7 ms per step with it against 5.3 ms without.)
"""
from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

_blas = None        # threadpoolctl controller of the BLAS libraries (~ms to find, so on first use)
_axpy = {}          # dtype -> ctypes function, or None when unavailable
_axpy_lock = threading.Lock()

#: arrays smaller than this go through NumPy (the ctypes call costs about as much as two small passes)
AXPY_MIN_SIZE = 4096


def controller():
    """threadpoolctl's controller of the loaded BLAS libraries (found on first use)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def _numpy_openblas_controller():
    """threadpoolctl's controller of the OpenBLAS shipped inside NumPy (the one `@` uses), or None."""
    numpy_dir = Path(np.__file__).resolve().parent
    for lib in controller().lib_controllers:
        path = Path(lib.filepath).resolve()
        inside = path.parent.name == "numpy.libs" or numpy_dir in path.parents  # Linux wheels; macOS .dylibs
        if lib.internal_api == "openblas" and inside:
            return lib
    return None


def _numpy_openblas():
    """(dll, symbol prefix, symbol suffix) of the OpenBLAS shipped inside NumPy, or None."""
    lib = _numpy_openblas_controller()
    if lib is None:
        return None
    return ctypes.CDLL(str(Path(lib.filepath).resolve())), getattr(lib, "_symbol_prefix", ""), \
        getattr(lib, "_symbol_suffix", "")


def _load(dtype):
    """cblas_saxpy / cblas_daxpy of NumPy's OpenBLAS as a ctypes function, checked; or None.

    The integers go as 64-bit: right for ILP64 builds (NumPy's wheels: symbols end in "64_"), and
    for 32-bit ones too, since every argument travels in a 64-bit register or stack slot whose low
    half is the value (n < 2^31 is checked by `axpy`)."""
    found = _numpy_openblas()
    if found is None:
        return None
    dll, prefix, suffix = found
    name = "cblas_" + ("s" if dtype == np.float32 else "d") + "axpy"
    fn = next((getattr(dll, n) for n in (prefix + name + suffix, "scipy_" + name + "64_", name) if hasattr(dll, n)),
              None)
    if fn is None:
        return None
    integer, scalar = ctypes.c_int64, (ctypes.c_float if dtype == np.float32 else ctypes.c_double)
    fn.argtypes = [integer, scalar, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
    fn.restype = None
    x, y = np.arange(5, dtype=dtype), np.ones(5, dtype)
    fn(5, 0.5, x.ctypes.data, 1, y.ctypes.data, 1)
    return fn if np.array_equal(y, 1 + 0.5 * np.arange(5, dtype=dtype)) else None


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> bool:
    """y <- y + alpha x in place with BLAS, if it can (True); else False and y is untouched.

    x and y: the same shape and dtype (float32 or float64), both C-contiguous, y writeable, and
    not overlapping in memory."""
    dtype = y.dtype
    if (y.size < AXPY_MIN_SIZE or x.dtype != dtype or x.shape != y.shape or dtype not in (np.float32, np.float64)
            or not (x.flags.c_contiguous and y.flags.c_contiguous and y.flags.writeable)
            or y.size >= 2 ** 31 or np.may_share_memory(x, y)):
        return False
    fn = _axpy.get(dtype, False)
    if fn is False:
        with _axpy_lock:
            fn = _axpy[dtype] = _load(dtype)
    if fn is None:
        return False
    fn(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
    return True


# ---- small GEMMs ---------------------------------------------------------------------------------
# OpenBLAS's x86-64 AVX-512 kernels multiply a product with M*N*K <= 1e6 by a "small matrix" kernel
# that reads A and B where they lie; a larger product is first copied (packed) into blocks. The
# GEMMs of small convolutions are tall and skinny (K = C*9 = 144..576, N = C_out = 16..64): one
# thread measured 100-110 GFLOP/s for them as chunks under the limit, against 70-90 whole (OpenBLAS
# 0.3.31, SkylakeX). Chunks of fewer rows than SMALL_GEMM_MIN_ROWS lose it again to per-call costs.
SMALL_GEMM_MNK = 1_000_000
SMALL_GEMM_ARCHS = ("SkylakeX", "Cooperlake", "SapphireRapids")
SMALL_GEMM_MIN_ROWS = 32
_small_gemm = None      # whether NumPy's BLAS has the small-matrix kernel (found on first use)


def _has_small_gemm():
    global _small_gemm
    if _small_gemm is None:
        lib = _numpy_openblas_controller()
        _small_gemm = lib is not None and getattr(lib, "architecture", None) in SMALL_GEMM_ARCHS
    return _small_gemm


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """out (M, N) = a (M, K) @ b (K, N). In float32, when NumPy's BLAS has the small-matrix kernel, a
    product over SMALL_GEMM_MNK is made of pieces under it: bands of M's rows, or slices of K whose
    products are summed (whichever leaves the larger pieces, if not below SMALL_GEMM_MIN_ROWS). The
    pieces go to NumPy as one stack (one call instead of one per piece: W3's step ~4% faster)."""
    (M, K), N = a.shape, b.shape[1]
    if a.dtype != np.float32 or b.dtype != np.float32 or M * N * K <= SMALL_GEMM_MNK or not _has_small_gemm():
        return np.matmul(a, b, out=out)
    rows, depth = SMALL_GEMM_MNK // (K * N), SMALL_GEMM_MNK // (M * N)
    if max(rows, depth) < SMALL_GEMM_MIN_ROWS:
        return np.matmul(a, b, out=out)
    if rows >= depth:       # bands of rows: one stacked np.matmul, whose loop calls BLAS once per band, in C
        out = np.empty((M, N), np.float32) if out is None else out
        whole = M - M % rows
        np.matmul(a[:whole].reshape(-1, rows, K), b, out=out[:whole].reshape(-1, rows, N))
        if whole < M:
            np.matmul(a[whole:], b, out=out[whole:])
        return out
    whole = K - K % depth   # slices of K: one stacked np.matmul, then the sum of its products
    products = np.matmul(a.T[:whole].reshape(-1, depth, M).transpose(0, 2, 1), b[:whole].reshape(-1, depth, N))
    out = np.sum(products, axis=0, out=out)
    if whole < K:
        out += a[:, whole:] @ b[whole:]
    return out
