"""ops/blas.py: the one-pass axpy the optimizers use, the small-kernel matmul, and when they step aside."""
import numpy as np
import pytest

from scratchgrad.ops import blas


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_matches_numpy(dtype):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((70, 90)).astype(dtype), rng.standard_normal((70, 90)).astype(dtype)
    expected = y + dtype(-0.3) * x
    if blas._load(np.dtype(dtype)) is None:
        pytest.skip("this NumPy does not bundle OpenBLAS (the optimizers then use NumPy's two passes)")
    assert blas.axpy(-0.3, x, y)  # NumPy's wheels bundle OpenBLAS: the BLAS path is taken here
    assert y.dtype == dtype
    # one rounding (BLAS may fuse the multiply-add) against NumPy's two: equal to an ulp or so of the inputs
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y, expected, rtol=4 * eps, atol=16 * eps)


@pytest.mark.parametrize("case", ["small", "mixed dtype", "transposed", "strided", "read-only", "int",
                                  "shapes differ", "overlapping"])
def test_axpy_declines_and_leaves_y_untouched(case):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((80, 80)).astype(np.float32), rng.standard_normal((80, 80)).astype(np.float32)
    if case == "small":
        x, y = x[:2], y[:2].copy()
    elif case == "mixed dtype":
        x = x.astype(np.float64)
    elif case == "transposed":
        x = x.T
    elif case == "strided":
        x, y = x[:, ::2], y[:, ::2]
    elif case == "read-only":
        y.flags.writeable = False
    elif case == "int":
        x, y = x.astype(np.int64), y.astype(np.int64)
    elif case == "shapes differ":
        x = x.reshape(40, 160)
    elif case == "overlapping":
        x, y = y.reshape(-1)[:6000], y.reshape(-1)[400:6400]
    before = y.copy()
    assert not blas.axpy(0.5, x, y)
    np.testing.assert_array_equal(y, before)


def test_controller_sees_numpys_blas():
    assert any(lib.internal_api in ("openblas", "mkl", "blis") for lib in blas.controller().lib_controllers)


# (M, K, N), what blas.matmul does with it: bands of rows, slices of K summed, or one np.matmul
MATMUL_CASES = {"rows": (1000, 144, 16), "depth": (16, 1000, 144), "small": (100, 100, 100),
                "pieces too thin": (300, 576, 64), "uneven bands": (1001, 288, 32)}


@pytest.mark.parametrize("case", MATMUL_CASES)
@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_in_pieces_equals_one_product(monkeypatch, case, transposed):
    monkeypatch.setattr(blas, "_small_gemm", True)     # take the pieces whatever the BLAS here
    M, K, N = MATMUL_CASES[case]
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
    if transposed:                                     # conv's weight gradient: cols^T @ gy
        a = np.ascontiguousarray(a.T).T
    expected = a.astype(np.float64) @ b.astype(np.float64)
    out = np.full((M, N), np.nan, np.float32)
    assert blas.matmul(a, b, out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.sqrt(K))
    np.testing.assert_allclose(blas.matmul(a, b), expected, rtol=1e-4, atol=1e-4 * np.sqrt(K))


def test_matmul_leaves_float64_to_numpy(monkeypatch):
    monkeypatch.setattr(blas, "_small_gemm", True)
    a, b = np.ones((2000, 144)), np.ones((144, 16))
    np.testing.assert_array_equal(blas.matmul(a, b), np.full((2000, 16), 144.0))
