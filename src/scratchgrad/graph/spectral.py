"""Spectral graph theory: Laplacians, the graph Fourier transform, spectral and polynomial filters.

The notes' chain of ideas, one function each:

    L = D - A = U diag(lam) U^T          laplacian, eigendecomposition   (lam: the graph spectrum)
    x_hat = U^T x,   x = U x_hat          gft, igft                        (frequencies = eigenvalues)
    h * x = U diag(h(lam)) U^T x          spectral_filter                  (needs all of U: O(N^3))
    sum_k a_k L^k x                       polynomial_filter                (no U: K sparse products;
                                                                            = spectral_filter with
                                                                            h(lam) = sum_k a_k lam^k)
    sum_k c_k T_k(L~) x,  L~ = 2L/lam_max - I   chebyshev_filter          (a stable basis: ChebNet)

Eigenvalues are in ASCENDING order: u_1 (lam = 0) is the smoothest signal, the last ones oscillate
most (the notes list them from large to small; only the order differs).
Everything here works on NumPy arrays and scipy.sparse matrices; `chebyshev_basis` also on Tensors.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def laplacian(A, normalization: str | None = None):
    """The graph Laplacian of a symmetric adjacency matrix A (dense or scipy.sparse; same kind out).

    None:  L = D - A
    "sym": L = I - D^-1/2 A D^-1/2   (eigenvalues in [0, 2])
    "rw":  L = I - D^-1 A
    Isolated nodes get D^-1 = 0 (their row of the normalised L is the identity's)."""
    sparse = sp.issparse(A)
    A = sp.csr_matrix(A, dtype=np.float64)
    deg = np.asarray(A.sum(axis=1)).ravel()
    n = A.shape[0]
    if normalization is None:
        L = sp.diags(deg) - A
    else:
        inv = np.zeros_like(deg)
        if normalization == "sym":
            np.power(deg, -0.5, out=inv, where=deg > 0)
            L = sp.eye(n) - sp.diags(inv) @ A @ sp.diags(inv)
        elif normalization == "rw":
            np.divide(1.0, deg, out=inv, where=deg > 0)
            L = sp.eye(n) - sp.diags(inv) @ A
        else:
            raise ValueError(f"laplacian: normalization must be None, 'sym' or 'rw', got {normalization!r}")
    L = L.tocsr()
    return L if sparse else L.toarray()


def eigendecomposition(L) -> tuple[np.ndarray, np.ndarray]:
    """(lam, U) with L = U diag(lam) U^T, lam ascending, U orthonormal (symmetric L; dense, O(N^3))."""
    L = L.toarray() if sp.issparse(L) else np.asarray(L, dtype=np.float64)
    lam, U = np.linalg.eigh(L)
    return lam, U


def gft(x, U):
    """Graph Fourier transform x_hat = U^T x (x: (N,) or (N, F))."""
    return U.T @ x


def igft(x_hat, U):
    """Inverse graph Fourier transform x = U x_hat."""
    return U @ x_hat


def spectral_filter(x, U, lam, h):
    """y = U diag(h(lam)) U^T x: scale each frequency component by the response h (callable or (N,) array)."""
    response = h(lam) if callable(h) else np.asarray(h)
    x_hat = gft(x, U)
    return igft(response.reshape((-1,) + (1,) * (x_hat.ndim - 1)) * x_hat, U)


def polynomial_response(lam, alphas):
    """h(lam) = sum_k alphas[k] lam^k (the spectral response of `polynomial_filter`)."""
    return np.polynomial.polynomial.polyval(lam, alphas)


def polynomial_filter(L, x, alphas):
    """y = sum_k alphas[k] L^k x by Horner's rule: K products with the (sparse) L, no eigenvectors.

    Because L^k = U diag(lam^k) U^T, this equals spectral_filter(x, U, lam, polynomial_response(., alphas)),
    and since (L^k)_ij = 0 for nodes more than k hops apart, the filter is K-hop local."""
    y = alphas[-1] * x
    for a in alphas[-2::-1]:
        y = L @ y + a * x
    return y


def lambda_max(L) -> float:
    """The largest eigenvalue of a symmetric L (scipy's Lanczos for sparse L, eigh for small dense ones)."""
    if sp.issparse(L) and L.shape[0] > 64:
        from scipy.sparse.linalg import eigsh
        return float(eigsh(L.astype(np.float64), k=1, which="LA", return_eigenvectors=False,
                           v0=np.random.default_rng(0).random(L.shape[0]))[0])  # fixed start: reproducible
    return float(eigendecomposition(L)[0][-1])


def scaled_laplacian(L, lam_max: float | None = None):
    """L~ = 2 L / lam_max - I, whose spectrum lies in [-1, 1], where Chebyshev polynomials live."""
    lam_max = lambda_max(L) if lam_max is None else lam_max
    eye = sp.eye(L.shape[0], format="csr") if sp.issparse(L) else np.eye(L.shape[0])
    out = (2.0 / lam_max) * L - eye
    return out.tocsr() if sp.issparse(out) else out


def chebyshev_basis(apply, x, K: int) -> list:
    """[T_0(M) x, ..., T_{K-1}(M) x] for the operator `apply(v) = M v`, by the recurrence

        T_0 x = x,   T_1 x = M x,   T_k x = 2 M T_{k-1} x - T_{k-2} x.

    Works on NumPy arrays and on Tensors (then `apply` is e.g. `lambda v: spmm(L~, v)`)."""
    out = [x]
    if K > 1:
        out.append(apply(x))
    for _ in range(2, K):
        out.append(2.0 * apply(out[-1]) - out[-2])
    return out[:K]


def chebyshev_coefficients(h, K: int, lam_max: float) -> np.ndarray:
    """c_0..c_{K-1} with h(lam) ~ sum_k c_k T_k(2 lam / lam_max - 1) on [0, lam_max].

    Chebyshev interpolation at the K nodes t_j = cos(pi (j + 1/2) / K):
        c_k = (2 / K) sum_j h(lam_j) cos(k pi (j + 1/2) / K),   c_0 halved."""
    theta = np.pi * (np.arange(K) + 0.5) / K
    lam = (np.cos(theta) + 1.0) * lam_max / 2.0
    c = 2.0 / K * np.cos(np.outer(np.arange(K), theta)) @ h(lam)
    c[0] /= 2.0
    return c


def chebyshev_response(lam, coeffs, lam_max: float):
    """sum_k c_k T_k(2 lam / lam_max - 1): the spectral response of `chebyshev_filter`."""
    return np.polynomial.chebyshev.chebval(2.0 * np.asarray(lam) / lam_max - 1.0, coeffs)


def chebyshev_filter(L, x, coeffs, lam_max: float | None = None):
    """y = sum_k c_k T_k(L~) x: the polynomial filter in the Chebyshev basis (ChebNet's layer, with
    fixed coefficients). K - 1 products with the sparse L~; equals U diag(chebyshev_response) U^T x."""
    Lt = scaled_laplacian(L, lam_max)
    terms = chebyshev_basis(lambda v: Lt @ v, x, len(coeffs))
    return sum(c * t for c, t in zip(coeffs, terms))


__all__ = ["chebyshev_basis", "chebyshev_coefficients", "chebyshev_filter", "chebyshev_response",
           "eigendecomposition", "gft", "igft", "lambda_max", "laplacian", "polynomial_filter",
           "polynomial_response", "scaled_laplacian", "spectral_filter"]
