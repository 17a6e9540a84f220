"""CPU engine: BLAS GEMM for inner products, Numba for the distance pass,
NumPy's SIMD ufuncs for the exponential, all blocks run on a thread pool.

Why this split: on x86 the exponential dominates a Gaussian kernel product.
NumPy's ``exp`` is vectorised (AVX2/AVX-512) but single-threaded, and Numba
from PyPI has no vector math library, so its ``exp`` is scalar. Running whole
blocks on worker threads (GEMM, Numba and ufuncs all release the GIL) gives
both the vector exp and all cores.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, prange

# Relative size of d² below which ||x||² + ||z||² - 2<x, z> has lost too many
# digits to cancellation; those pairs are recomputed from coordinates. With
# these thresholds the distance is accurate to ~1e-12 (f64) / ~1e-5 (f32).
_CANCELLATION_TOL = {np.dtype(np.float64): 1e-3, np.dtype(np.float32): 3e-2}


@njit(nogil=True, cache=True, parallel=False)
def _distance_pass(G, Xb, Z, xsq, zsq, squared, scale, tol):
    """Turn G = Xb @ Z.T into scale * d(x_i, z_j) in place (d = dist² or dist)."""
    n, m = G.shape
    d = Xb.shape[1]
    for i in range(n):
        xi = xsq[i]
        for j in range(m):
            norms = xi + zsq[j]
            d2 = norms - 2.0 * G[i, j]
            if d2 < tol * norms:
                acc = 0.0
                for k in range(d):
                    diff = Xb[i, k] - Z[j, k]
                    acc += diff * diff
                d2 = acc
            if d2 < 0.0:
                d2 = 0.0
            if squared:
                G[i, j] = scale * d2
            else:
                G[i, j] = scale * np.sqrt(d2)


@njit(nogil=True, cache=True, parallel=True)
def _distance_block_parallel(G, Xb, Z, xsq, zsq, squared, scale, tol):
    n, m = G.shape
    d = Xb.shape[1]
    for i in prange(n):
        xi = xsq[i]
        for j in range(m):
            norms = xi + zsq[j]
            d2 = norms - 2.0 * G[i, j]
            if d2 < tol * norms:
                acc = 0.0
                for k in range(d):
                    diff = Xb[i, k] - Z[j, k]
                    acc += diff * diff
                d2 = acc
            if d2 < 0.0:
                d2 = 0.0
            if squared:
                G[i, j] = scale * d2
            else:
                G[i, j] = scale * np.sqrt(d2)


def distance_block(Xb, Z, zsq, squared, scale, out=None, parallel=False):
    """scale * ||x_i - z_j||^(2 if squared else 1) for a block of rows, exact under cancellation.

    ``Xb`` and ``Z`` must already be centred on a common point (the operator
    centres on the mean of Z), which keeps the norms small and the
    expansion accurate.
    """
    dtype = Xb.dtype
    G = np.matmul(Xb, Z.T, out=out)
    xsq = np.einsum("ij,ij->i", Xb, Xb)
    tol = _CANCELLATION_TOL[np.dtype(dtype)]
    fn = _distance_block_parallel if parallel else _distance_pass
    fn(G, Xb, Z, xsq, zsq, bool(squared), dtype.type(scale), dtype.type(tol))
    return G


def default_n_threads():
    return os.cpu_count() or 1


_EXECUTORS = {}


def executor(n_threads):
    """A process-wide thread pool per size, created lazily (never pickled, never stored on estimators)."""
    pool = _EXECUTORS.get(n_threads)
    if pool is None:
        pool = _EXECUTORS[n_threads] = ThreadPoolExecutor(
            max_workers=n_threads, thread_name_prefix="kernelkit"
        )
    return pool
