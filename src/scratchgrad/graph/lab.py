"""Lab `graph-fourier` (the notes' spectral GNN section): the graph Fourier transform, hands on.

On a small k-nearest-neighbour graph of random points in the unit square:
* the Laplacian's eigenvectors are the graph's "frequencies": u_1 (lambda = 0) is constant, the next
  ones vary slowly over the graph, the last ones flip sign between neighbours; the smoothness
  x^T L x = sum over edges (x_i - x_j)^2 of an eigenvector is its eigenvalue;
* x_hat = U^T x is invertible (x = U x_hat) and keeps the energy (Parseval);
* a low-pass filter U diag(h(lambda)) U^T removes most of the noise added to a smooth signal;
* a polynomial filter sum_k a_k L^k x (K sparse products, no eigenvectors) is the spectral filter
  with response sum_k a_k lambda^k, and it is K-hop local; Chebyshev polynomials approximate
  the low-pass response better and better as K grows (ChebNet's idea).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..labs._common import figure, save_figure
from .spectral import (chebyshev_coefficients, chebyshev_filter, chebyshev_response, eigendecomposition, gft,
                       igft, laplacian, polynomial_filter, polynomial_response, spectral_filter)

CLAIM = ("Laplacian eigenvectors order graph signals from smooth to oscillating; a low-pass spectral filter "
         "denoises a smooth signal; a polynomial filter sum_k a_k L^k equals the spectral filter with response "
         "sum_k a_k lambda^k and is K-hop local; Chebyshev approximations improve with K")


def knn_graph(n: int, k: int, rng) -> tuple[np.ndarray, sp.csr_matrix]:
    """n random points in the unit square, each joined to its k nearest (symmetrised): (pos, A)."""
    pos = rng.random((n, 2))
    d = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :k]
    A = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), nearest.ravel())), shape=(n, n))
    A = ((A + A.T) > 0).astype(np.float64)
    return pos, A.tocsr()


def hop_distance(A, source: int) -> np.ndarray:
    """Breadth-first hop counts from `source` (inf where unreachable), via boolean sparse products."""
    n = A.shape[0]
    dist = np.full(n, np.inf)
    frontier = np.zeros(n, dtype=bool)
    frontier[source], dist[source] = True, 0
    for hop in range(1, n):
        frontier = (A @ frontier.astype(np.float64) > 0) & np.isinf(dist)
        if not frontier.any():
            break
        dist[frontier] = hop
    return dist


def run(out, quick: bool = False, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    n = 120 if quick else 300
    pos, A = knn_graph(n, 6, rng)
    L = laplacian(A)                                     # combinatorial L = D - A (sparse)
    lam, U = eigendecomposition(L)

    # frequencies: smoothness of eigenvectors, GFT round trip and Parseval
    energy = np.einsum("in,ij,jn->n", U, L.toarray(), U)          # u_n^T L u_n
    x = rng.standard_normal(n)
    roundtrip = float(np.abs(igft(gft(x, U), U) - x).max())
    parseval = float(abs(np.linalg.norm(gft(x, U)) - np.linalg.norm(x)))
    crossings = [int((np.sign(U[A.nonzero()[0], i]) != np.sign(U[A.nonzero()[1], i])).sum() // 2)
                 for i in range(n)]                                # edges whose ends differ in sign

    # denoising with a low-pass filter h(lambda) = 1 / (1 + tau lambda)
    clean = np.sin(3 * pos[:, 0]) + np.cos(4 * pos[:, 1])           # smooth over space, so over the graph
    noisy = clean + 0.5 * rng.standard_normal(n)
    tau = 1.0
    lowpass = lambda lam_: 1.0 / (1.0 + tau * lam_)                # noqa: E731
    denoised = spectral_filter(noisy, U, lam, lowpass)
    err_noisy = float(np.sqrt(np.mean((noisy - clean) ** 2)))
    err_denoised = float(np.sqrt(np.mean((denoised - clean) ** 2)))

    # a polynomial filter needs no eigenvectors and equals the spectral one; it is K-hop local
    alphas = np.array([1.0, -0.3, 0.02])
    poly = polynomial_filter(L, noisy, alphas)
    spec = spectral_filter(noisy, U, lam, lambda lam_: polynomial_response(lam_, alphas))
    poly_vs_spectral = float(np.abs(poly - spec).max())
    delta = np.zeros(n)
    delta[0] = 1.0
    reach = hop_distance(A, 0)[np.abs(polynomial_filter(L, delta, alphas)) > 1e-12]
    locality_hops = int(reach.max())

    # Chebyshev approximation of the low-pass response on [0, lambda_max]
    lam_max = float(lam[-1])
    cheb_K = [2, 3, 5, 9, 15]
    cheb_err, cheb_filter_err = {}, {}
    for K in cheb_K:
        c = chebyshev_coefficients(lowpass, K, lam_max)
        cheb_err[K] = float(np.abs(chebyshev_response(lam, c, lam_max) - lowpass(lam)).max())
        cheb_filter_err[K] = float(np.abs(chebyshev_filter(L, noisy, c, lam_max) - denoised).max())

    # figure: 3 eigenvectors and the filter responses; the signal, noisy, filtered and their spectra
    fig, axes = figure(2, 4, size=(3.4, 3.0))
    high = (3 * n) // 4
    rows, cols = A.nonzero()
    for ax, i in zip(axes[0, :3], (1, 9, high)):
        ax.plot(np.stack([pos[rows, 0], pos[cols, 0]]), np.stack([pos[rows, 1], pos[cols, 1]]), color="0.85",
                lw=0.5, zorder=0)
        lim = 2 * U[:, i].std()                     # clip: high frequencies have a few large entries
        ax.scatter(pos[:, 0], pos[:, 1], c=U[:, i], cmap="coolwarm", vmin=-lim, vmax=lim, s=16, edgecolors="none")
        ax.set_title(f"u_{i + 1}: lambda = {lam[i]:.2f}, {crossings[i]} sign flips", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    ax = axes[0, 3]
    grid = np.linspace(0, lam_max, 300)
    ax.plot(grid, lowpass(grid), "k", lw=2, label="low-pass 1/(1+lambda)")
    for K in (2, 3, 5):
        ax.plot(grid, chebyshev_response(grid, chebyshev_coefficients(lowpass, K, lam_max), lam_max), "--",
                label=f"Chebyshev K={K}")
    ax.set_xlabel("lambda (graph frequency)")
    ax.set_title("filter responses h(lambda)", fontsize=8)
    ax.legend(fontsize=7)
    vmin, vmax = noisy.min(), noisy.max()
    for ax, sig, title in [(axes[1, 0], clean, "smooth signal"),
                           (axes[1, 1], noisy, f"+ noise (RMSE {err_noisy:.2f})"),
                           (axes[1, 2], denoised, f"low-pass filtered (RMSE {err_denoised:.2f})")]:
        ax.scatter(pos[:, 0], pos[:, 1], c=sig, cmap="viridis", vmin=vmin, vmax=vmax, s=16, edgecolors="none")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    ax = axes[1, 3]
    ax.semilogy(lam, np.abs(gft(noisy, U)) + 1e-6, ".", ms=3, label="noisy")
    ax.semilogy(lam, np.abs(gft(denoised, U)) + 1e-6, ".", ms=3, label="filtered")
    ax.set_xlabel("lambda")
    ax.set_title("|x_hat| = |U^T x|", fontsize=8)
    ax.legend(fontsize=7)
    fig.suptitle(f"Graph Fourier transform on a {n}-node 6-nearest-neighbour graph")
    figs = [save_figure(fig, out, "graph_fourier.png")]

    errs = [cheb_err[K] for K in cheb_K]
    return {
        "nodes": n, "edges": int(A.nnz // 2), "lambda_min": float(lam[0]), "lambda_2": float(lam[1]),
        "lambda_max": lam_max, "sign_changes_u2": crossings[1], f"sign_changes_u{high + 1}": crossings[high],
        "gft_roundtrip_error": roundtrip, "parseval_error": parseval,
        "rmse_noisy": err_noisy, "rmse_denoised": err_denoised,
        "polynomial_vs_spectral_max_diff": poly_vs_spectral, "polynomial_degree": len(alphas) - 1,
        "polynomial_filter_reach_hops": locality_hops,
        "chebyshev_response_max_error": cheb_err, "chebyshev_filter_max_diff": cheb_filter_err,
        "figures": figs,
        "checks": {
            "u_1 is constant with lambda_1 = 0 (connected graph: lambda_2 > 0)":
                bool(abs(lam[0]) < 1e-9 and np.ptp(U[:, 0]) < 1e-9 and lam[1] > 1e-6),
            "smoothness u^T L u of each eigenvector is its eigenvalue": bool(np.allclose(energy, lam, atol=1e-9)),
            "high frequencies change sign across more edges than low ones": crossings[high] > 5 * crossings[1],
            "GFT is inverted by U and keeps the energy": roundtrip < 1e-10 and parseval < 1e-10,
            "low-pass filter removes at least half of the noise": err_denoised < 0.5 * err_noisy,
            "polynomial filter equals the spectral filter": poly_vs_spectral < 1e-9,
            "a degree-K polynomial filter reaches only K hops": locality_hops <= len(alphas) - 1,
            "Chebyshev approximation error decreases with K": all(a > b for a, b in zip(errs, errs[1:])),
        },
    }
