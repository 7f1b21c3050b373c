"""Spectral graph theory: Laplacians, GFT, spectral = polynomial filters, Chebyshev approximation, and the lab."""
import numpy as np
import pytest
import scipy.sparse as sp

import scratchgrad as sg
from scratchgrad.graph import spectral as S
from scratchgrad.graph.ops import spmm


def ring(n=8):
    A = np.zeros((n, n))
    i = np.arange(n)
    A[i, (i + 1) % n] = A[(i + 1) % n, i] = 1
    return A


def test_laplacians_dense_and_sparse():
    A = ring(6)
    L = S.laplacian(A)
    np.testing.assert_allclose(L, 2 * np.eye(6) - A)
    Ls = S.laplacian(sp.csr_matrix(A), "sym")
    assert sp.issparse(Ls)
    np.testing.assert_allclose(Ls.toarray(), np.eye(6) - A / 2)
    np.testing.assert_allclose(S.laplacian(A, "rw"), np.eye(6) - A / 2)
    with pytest.raises(ValueError, match="normalization"):
        S.laplacian(A, "bogus")


def test_ring_spectrum_is_known():
    n = 8
    lam, U = S.eigendecomposition(S.laplacian(ring(n)))
    expected = np.sort(2 - 2 * np.cos(2 * np.pi * np.arange(n) / n))
    np.testing.assert_allclose(lam, expected, atol=1e-12)
    np.testing.assert_allclose(U.T @ U, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(np.abs(U[:, 0]), 1 / np.sqrt(n), atol=1e-12)   # constant eigenvector
    assert S.lambda_max(sp.csr_matrix(S.laplacian(ring(100)))) == pytest.approx(4.0, abs=1e-8)


def test_gft_round_trip_and_filters():
    rng = np.random.default_rng(0)
    L = S.laplacian(ring(10))
    lam, U = S.eigendecomposition(L)
    x = rng.standard_normal((10, 3))
    np.testing.assert_allclose(S.igft(S.gft(x, U), U), x, atol=1e-12)
    np.testing.assert_allclose(S.spectral_filter(x, U, lam, np.ones_like), x, atol=1e-12)   # all-pass
    alphas = [0.5, -0.2, 0.03, 0.01]
    np.testing.assert_allclose(S.polynomial_filter(L, x, alphas),
                               sum(a * np.linalg.matrix_power(L, k) @ x for k, a in enumerate(alphas)), atol=1e-12)
    np.testing.assert_allclose(S.polynomial_filter(sp.csr_matrix(L), x, alphas),
                               S.spectral_filter(x, U, lam, lambda l: S.polynomial_response(l, alphas)), atol=1e-12)


def test_chebyshev_interpolates_polynomials_exactly_and_converges():
    lam_max = 4.0
    poly = lambda l: 1 - 0.5 * l + 0.1 * l ** 2                 # noqa: E731 - degree 2: K=3 terms are exact
    c = S.chebyshev_coefficients(poly, 3, lam_max)
    grid = np.linspace(0, lam_max, 50)
    np.testing.assert_allclose(S.chebyshev_response(grid, c, lam_max), poly(grid), atol=1e-12)
    heat = lambda l: np.exp(-l)                                 # noqa: E731
    errs = [np.abs(S.chebyshev_response(grid, S.chebyshev_coefficients(heat, K, lam_max), lam_max) - heat(grid)).max()
            for K in (2, 4, 8)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-4


def test_chebyshev_filter_equals_its_spectral_response():
    A = sp.csr_matrix(ring(12))
    L = S.laplacian(A)
    lam, U = S.eigendecomposition(L)
    x = np.random.default_rng(1).standard_normal(12)
    c = np.array([0.4, -0.3, 0.2, 0.1])
    lm = S.lambda_max(L)
    np.testing.assert_allclose(S.chebyshev_filter(L, x, c, lm),
                               S.spectral_filter(x, U, lam, lambda l: S.chebyshev_response(l, c, lm)), atol=1e-10)


def test_chebyshev_basis_on_tensors_matches_numpy():
    Lt = S.scaled_laplacian(S.laplacian(sp.csr_matrix(ring(6)), "sym"), 2.0)
    x = np.random.default_rng(2).standard_normal((6, 2))
    ref = S.chebyshev_basis(lambda v: Lt @ v, x, 4)
    ours = S.chebyshev_basis(lambda v: spmm(Lt, v), sg.tensor(x, dtype=np.float64), 4)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a.data, b, atol=1e-12)


def test_graph_fourier_lab_claim_holds(tmp_path):
    from scratchgrad.graph import lab
    r = lab.run(tmp_path, quick=True, seed=0)
    assert all(r["checks"].values()), r["checks"]
    assert (tmp_path / "graph_fourier.png").stat().st_size > 10_000
    assert r["rmse_denoised"] < 0.6 * r["rmse_noisy"]
    assert r["polynomial_vs_spectral_max_diff"] < 1e-9
