"""CPU engine: BLAS GEMM for inner products, Numba for the distance pass,
NumPy's SIMD ufuncs for the exponential, all blocks run on a thread pool.

Why this split: on x86 the exponential dominates a Gaussian kernel product.
NumPy's ``exp`` is vectorised (AVX2/AVX-512) but single-threaded, and Numba
from PyPI has no vector math library, so its ``exp`` is scalar. Running whole
blocks on worker threads (GEMM, Numba and ufuncs all release the GIL) gives
both the vector exp and all cores.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange
from threadpoolctl import ThreadpoolController

# Relative size of d² below which ||x||² + ||z||² - 2<x, z> has lost too many
# digits to cancellation; those pairs are recomputed from coordinates. With
# these thresholds the distance is accurate to ~1e-12 (f64) / ~1e-5 (f32).
_CANCELLATION_TOL = {np.dtype(np.float64): 1e-3, np.dtype(np.float32): 3e-2}


@njit(nogil=True, cache=True)
def _distance_row(G, i, Xb, Z, xi, zsq, squared, scale, tol):
    # Three simple loops instead of one with a branch: the first and last
    # vectorise; the middle one only recomputes the rare cancelled pairs.
    m = G.shape[1]
    row = G[i]
    for j in range(m):
        row[j] = (xi + zsq[j]) - 2.0 * row[j]
    for j in range(m):
        if row[j] < tol * (xi + zsq[j]):
            acc = 0.0
            for k in range(Xb.shape[1]):
                diff = Xb[i, k] - Z[j, k]
                acc += diff * diff
            row[j] = acc
    if squared:
        for j in range(m):
            row[j] = scale * max(row[j], 0.0)
    else:
        for j in range(m):
            row[j] = scale * np.sqrt(max(row[j], 0.0))


@njit(nogil=True, cache=True)
def _distance_pass(G, Xb, Z, xsq, zsq, squared, scale, tol):
    """Turn G = Xb @ Z.T into scale * d(x_i, z_j) in place (d = dist² or dist)."""
    for i in range(G.shape[0]):
        _distance_row(G, i, Xb, Z, xsq[i], zsq, squared, scale, tol)


@njit(nogil=True, cache=True, parallel=True)
def _distance_block_parallel(G, Xb, Z, xsq, zsq, squared, scale, tol):
    for i in prange(G.shape[0]):
        _distance_row(G, i, Xb, Z, xsq[i], zsq, squared, scale, tol)


def distance_block(Xb, Z, zsq, squared, scale, out=None, parallel=False):
    """scale * ||x_i - z_j||^(2 if squared else 1) for a block of rows, exact under cancellation.

    ``Xb`` and ``Z`` must already be centred on a common point (the operator
    centres on the mean of Z), which keeps the norms small and the
    expansion accurate.

    Parameters
    ----------
    Xb : ndarray of shape (rows, n_features)
        Centred row points, C-contiguous.
    Z : ndarray of shape (cols, n_features)
        Centred column points, same dtype.
    zsq : ndarray of shape (cols,)
        Squared norms of the rows of ``Z``.
    squared : bool
        Squared distances (else plain distances).
    scale : float
        Factor applied to every (squared) distance.
    out : ndarray of shape (rows, cols), default=None
        C-contiguous array to write into.
    parallel : bool, default=False
        Run the distance pass on Numba's threads (for a single large block).

    Returns
    -------
    T : ndarray of shape (rows, cols)
        ``out`` when given.
    """
    dtype = Xb.dtype
    G = np.matmul(Xb, Z.T, out=out)
    xsq = np.einsum("ij,ij->i", Xb, Xb)
    tol = _CANCELLATION_TOL[np.dtype(dtype)]
    fn = _distance_block_parallel if parallel else _distance_pass
    fn(G, Xb, Z, xsq, zsq, bool(squared), dtype.type(scale), dtype.type(tol))
    return G


@njit(nogil=True, cache=True)
def _l1_row(out, i, Xb, ZT, scale):
    # Feature-outer, column-inner: the inner loop runs over contiguous columns of Z's
    # transpose with no reduction, so LLVM vectorises it without reassociating sums
    # (a loop over features per pair would stay scalar without fastmath).
    row = out[i]
    m = row.shape[0]
    for j in range(m):
        row[j] = 0.0
    for k in range(Xb.shape[1]):
        x = Xb[i, k]
        zk = ZT[k]
        for j in range(m):
            row[j] += abs(x - zk[j])
    for j in range(m):
        row[j] *= scale


@njit(nogil=True, cache=True)
def _l1_pass(out, Xb, ZT, scale):
    for i in range(out.shape[0]):
        _l1_row(out, i, Xb, ZT, scale)


@njit(nogil=True, cache=True, parallel=True)
def _l1_pass_parallel(out, Xb, ZT, scale):
    for i in prange(out.shape[0]):
        _l1_row(out, i, Xb, ZT, scale)


def l1_distance_block(Xb, Z, scale=1.0, out=None, parallel=False):
    """scale * ||x_i - z_j||_1 (Manhattan distances) for a block of rows.

    Sums run over the features in order, in the dtype of the data (float32
    stays float32: the sum of d absolute differences is within d/2 units in
    the last place of the exact distance, like the GEMM of the Euclidean pass).
    No centring is needed: there is no expansion to cancel.

    Parameters
    ----------
    Xb : ndarray of shape (rows, n_features)
        Row points.
    Z : ndarray of shape (cols, n_features)
        Column points, same dtype.
    scale : float, default=1.0
        Factor applied to every distance.
    out : ndarray of shape (rows, cols), default=None
        C-contiguous array to write into.
    parallel : bool, default=False
        Spread the rows over Numba's threads (for a single large block).

    Returns
    -------
    T : ndarray of shape (rows, cols)
        ``out`` when given.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit._backend.cpu import l1_distance_block
    >>> l1_distance_block(np.array([[0.0, 0.0]]), np.array([[3.0, -4.0], [1.0, 1.0]]))
    array([[7., 2.]])
    """
    dtype = Xb.dtype
    Xb = np.ascontiguousarray(Xb)
    # Z's transpose (n_features x cols) costs one pass over Z, against rows times that
    # for the distances themselves.
    ZT = np.ascontiguousarray(Z.T, dtype=dtype)
    if out is None:
        out = np.empty((Xb.shape[0], ZT.shape[1]), dtype=dtype)
    fn = _l1_pass_parallel if parallel else _l1_pass
    fn(out, Xb, ZT, dtype.type(scale))
    return out


def default_n_threads():
    """Threads the CPU engine uses when ``n_threads`` is not configured: all cores.

    Returns
    -------
    n_threads : int
        ``os.cpu_count()``, at least 1.
    """
    return os.cpu_count() or 1


_EXECUTORS = {}


def executor(n_threads):
    """A process-wide thread pool per size, created lazily (never stored on estimators).

    Pools are keyed by process id too: a forked child must not reuse its
    parent's pool, whose threads did not survive the fork.

    Parameters
    ----------
    n_threads : int
        Worker threads of the pool.

    Returns
    -------
    pool : concurrent.futures.ThreadPoolExecutor
        Shared by every caller asking for that size.
    """
    key = (os.getpid(), n_threads)
    pool = _EXECUTORS.get(key)
    if pool is None:
        pool = _EXECUTORS[key] = ThreadPoolExecutor(
            max_workers=n_threads, thread_name_prefix="kernelkit"
        )
    return pool


_BLAS_LOCK = threading.Lock()
_BLAS_SCOPE = {"controller": None, "depth": 0, "limiter": None}
_BLAS_THREAD = {}


def _blas_thread():
    """The one thread that sets and restores BLAS limits (per process, never a pool worker)."""
    pool = _BLAS_THREAD.get(os.getpid())
    if pool is None:
        pool = _BLAS_THREAD[os.getpid()] = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kernelkit-blas"
        )
    return pool


def _limit_blas():
    scope = _BLAS_SCOPE
    if scope["controller"] is None:
        scope["controller"] = ThreadpoolController()
    limiter = scope["controller"].limit(limits=1, user_api="blas")
    limiter.__enter__()
    return limiter


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while any thread is inside this scope.

    Used around work that already runs on several threads (tiles on the pool)
    or that must round identically on any worker. The BLAS thread count is
    process-wide, so overlapping scopes from several threads share one limit:
    a lock-guarded count limits BLAS on the first entry and restores the
    original count on the last exit (one threadpoolctl limiter per thread
    restored the counts out of order and could leave BLAS single-threaded).
    The limit is set and restored on one dedicated thread, because
    threadpoolctl lets only the thread that set OpenBLAS's limit change it
    again. If another thread holds a ``threadpool_limits`` of its own, that
    limit stays in force instead.

    Yields
    ------
    None
        The body runs with single-threaded BLAS.
    """
    scope = _BLAS_SCOPE
    with _BLAS_LOCK:
        if scope["depth"] == 0:
            scope["limiter"] = _blas_thread().submit(_limit_blas).result()
        scope["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            scope["depth"] -= 1
            if scope["depth"] == 0:
                limiter, scope["limiter"] = scope["limiter"], None
                _blas_thread().submit(limiter.__exit__, None, None, None).result()


@contextmanager
def numba_threads(n_threads):
    """Run the parallel kernels on at most ``n_threads`` threads (None: Numba's default),
    so that ``kernelkit.config_context(n_threads=...)`` applies here as in the CPU engine.

    Parameters
    ----------
    n_threads : int or None
        Upper bound on Numba's threads inside the block; ``None`` or ``-1`` (the
        configuration's "all cores") leaves Numba's default.

    Yields
    ------
    None
        The body runs with the limit; the previous count comes back after.
    """
    if n_threads is None or n_threads == -1:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
