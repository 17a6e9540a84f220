"""Iterative solvers shared by the models: block CG and the top of a symmetric spectrum.

SciPy's :func:`scipy.sparse.linalg.cg` takes one right-hand side; a kernel
product costs about the same for one column as for a few dozen (the kernel
values dominate), so :func:`block_cg` runs one CG recurrence per column in
lockstep and computes all their products in one ``matmat``. Each column
follows SciPy's recurrence and stopping rule exactly, so it returns what
``cg`` would return column by column.

:func:`top_eigenpairs` wraps the three ways to get the largest eigenpairs of
a symmetric operator (dense ``eigh``, ARPACK's ``eigsh``, ``lobpcg``) behind
one call, with ``sklearn.exceptions.ConvergenceWarning`` when an iterative
method stops short.
"""

import warnings

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import (
    ArpackNoConvergence,
    LinearOperator,
    aslinearoperator,
    eigsh,
    lobpcg,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._budget import check_fits

__all__ = ["EIGEN_SOLVERS", "block_cg", "top_eigenpairs"]

EIGEN_SOLVERS = ("auto", "dense", "arpack", "lobpcg")
# "auto" factorises densely up to this size (KernelPCA switches to ARPACK above 200 points).
_DENSE_MAX = 500
# LOBPCG needs a problem several times larger than its block (SciPy warns below 5×).
_LOBPCG_MIN_RATIO = 5
_LOBPCG_MAXITER = 500


def _columns(V):
    return V.reshape(-1, 1) if V.ndim == 1 else V


def block_cg(A, B, *, M=None, x0=None, rtol=1e-5, atol=0.0, maxiter=None, callback=None):
    """Solve A X = B for an SPD operator A and several right-hand sides at once.

    Column j runs SciPy's preconditioned CG on ``A x = B[:, j]`` (same
    recurrence, same stopping rule ``||r|| < max(atol, rtol·||b||)``); all
    active columns share one ``A.matmat`` per iteration. Converged columns
    leave the block, so late iterations multiply only the slow columns.

    Parameters
    ----------
    A : LinearOperator, ndarray or sparse matrix of shape (n, n)
        Symmetric positive definite operator (``matmat`` is used).
    B : ndarray of shape (n,) or (n, k)
        Right-hand sides.
    M : LinearOperator, ndarray or sparse matrix of shape (n, n), default=None
        Symmetric positive definite preconditioner approximating A⁻¹.
    x0 : ndarray of shape (n,) or (n, k), default=None
        Starting guess (zero by default).
    rtol : float, default=1e-5
        Relative tolerance on each column's residual.
    atol : float, default=0.0
        Absolute tolerance on each column's residual.
    maxiter : int, default=None
        Iterations per column; ``None`` is ``10 * n`` as in SciPy.
    callback : callable, default=None
        Called as ``callback(X, residuals)`` after each iteration, with
        ``residuals[j] = ||r_j|| / ||b_j||`` for every column (a converged
        column keeps its last value); a true return value stops the solver,
        which is how early stopping and progress bars hook in.

    Returns
    -------
    X : ndarray of shape (n,) or (n, k)
        The solutions, shaped like B.
    info : ndarray of shape (k,)
        0 for a converged column, else the iterations it ran (SciPy's code).
    n_iter : ndarray of shape (k,)
        Iterations each column ran.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.linalg._solvers import block_cg
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> X, info, n_iter = block_cg(A, np.eye(2), rtol=1e-12)
    >>> bool(np.allclose(X, np.linalg.inv(A))), info.tolist()
    (True, [0, 0])
    """
    A = aslinearoperator(A)
    one = np.ndim(B) == 1
    B = _columns(np.asarray(B))
    n, k = B.shape
    if A.shape != (n, n):
        raise ValueError(f"A has shape {A.shape} but B has {n} rows; A must be {n}×{n}.")
    dtype = np.result_type(A.dtype, B.dtype, np.float32)
    precond = None if M is None else aslinearoperator(M)
    maxiter = 10 * n if maxiter is None else int(maxiter)
    bnorm = np.linalg.norm(B, axis=0)
    tol = np.maximum(float(atol), float(rtol) * bnorm)
    if x0 is None:
        X = np.zeros((n, k), dtype=dtype)
        R = B.astype(dtype, copy=True)
    else:
        X = _columns(np.array(x0, dtype=dtype, copy=True))
        R = B - A.matmat(X) if X.any() else B.astype(dtype, copy=True)
    n_iter = np.zeros(k, dtype=np.int64)
    # SciPy returns x = b = 0 for a zero right-hand side, whatever x0 was.
    converged = bnorm == 0
    X[:, converged] = 0
    R[:, converged] = 0
    active = np.flatnonzero(~converged)
    P = np.empty_like(R)
    rho_prev = np.ones(k, dtype=dtype)
    rnorm = np.linalg.norm(R, axis=0)
    scale = np.where(bnorm > 0, bnorm, 1.0)
    for it in range(maxiter):
        done = rnorm[active] < tol[active]
        converged[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
        every = active.size == k
        cols = slice(None) if every else active
        Ra = R[:, cols]
        Z = Ra if precond is None else _columns(precond.matmat(Ra))
        rho = np.einsum("ij,ij->j", Ra, Z)
        if it == 0:
            P[:, cols] = Z
        else:
            P[:, cols] = Z + (rho / rho_prev[cols]) * P[:, cols]
        Pa = P[:, cols]
        Q = _columns(A.matmat(Pa))
        alpha = rho / np.einsum("ij,ij->j", Pa, Q)
        X[:, cols] += alpha * Pa
        R[:, cols] -= alpha * Q
        rho_prev[cols] = rho
        n_iter[cols] += 1
        rnorm[active] = np.linalg.norm(R[:, active], axis=0)
        if callback is not None and callback(X, rnorm / scale):
            break
    # Columns that met the tolerance in the last iteration (or before a callback stopped).
    converged[active[rnorm[active] < tol[active]]] = True
    info = np.where(converged, 0, n_iter)
    return (X[:, 0] if one else X), info, n_iter


def _auto_method(n, k):
    if n <= _DENSE_MAX:
        return "dense"
    return "arpack" if k < 10 or n < _LOBPCG_MIN_RATIO * k else "lobpcg"


def top_eigenpairs(A, k, *, method="auto", dense=None, tol=0.0, maxiter=None, random_state=None):
    """The ``k`` largest eigenvalues of a symmetric operator and their eigenvectors.

    Parameters
    ----------
    A : LinearOperator, ndarray or sparse matrix of shape (n, n)
        Symmetric operator.
    k : int
        Number of eigenpairs, 1 <= k <= n.
    method : {"auto", "dense", "arpack", "lobpcg"}, default="auto"
        "dense" is LAPACK's ``eigh`` on the materialised matrix (n² values,
        checked against ``working_memory``); "arpack" is ``eigsh`` (implicitly
        restarted Lanczos, one product per step); "lobpcg" iterates a block of
        k vectors (one ``matmat`` per step). "auto" is "dense" up to 500
        rows, else "arpack" for k < 10 and "lobpcg" above.
    dense : callable, default=None
        Returns the n×n matrix for "dense"; by default ``A @ I``.
    tol : float, default=0.0
        Tolerance of the iterative methods: relative accuracy of the
        eigenvalues for ARPACK (0: machine precision), residual norm for LOBPCG
        (0: ``n·sqrt(eps)``).
    maxiter : int, default=None
        Iteration limit of the iterative methods (``None``: SciPy's for
        ARPACK, 500 for LOBPCG).
    random_state : int, RandomState instance or None, default=None
        Seeds the starting vectors of the iterative methods.

    Returns
    -------
    eigenvalues : ndarray of shape (k,)
        In decreasing order.
    eigenvectors : ndarray of shape (n, k)
        Orthonormal columns, in the same order.
    n_iter : int
        Operator products (ARPACK) or block iterations (LOBPCG); 0 for "dense".

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.linalg._solvers import top_eigenpairs
    >>> A = np.diag([1.0, 5.0, 3.0, 2.0])
    >>> w, V, _ = top_eigenpairs(A, 2, method="dense")
    >>> w.tolist()
    [5.0, 3.0]
    """
    A_op = aslinearoperator(A)
    n = A_op.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}] for an operator with {n} rows; got {k}.")
    if method not in EIGEN_SOLVERS:
        raise ValueError(f"method must be one of {EIGEN_SOLVERS}; got {method!r}.")
    if method == "auto":
        method = _auto_method(n, k)
    # ARPACK needs k < n and LOBPCG a block well below n: tiny problems go dense.
    if method == "arpack" and k >= n - 1:
        method = "dense"
    if method == "lobpcg" and n < _LOBPCG_MIN_RATIO * k:
        method = "dense"
    rng = check_random_state(random_state)
    dtype = np.dtype(A_op.dtype)
    if method == "dense":
        check_fits(n * n * dtype.itemsize, f"the dense {n}×{n} matrix of eigen_solver='dense'")
        D = dense() if dense is not None else A_op.matmat(np.eye(n, dtype=dtype))
        D = np.asarray(D)
        w, V = scipy.linalg.eigh((D + D.T) / 2, subset_by_index=[n - k, n - 1])
        return w[::-1].copy(), V[:, ::-1].copy(), 0
    if method == "arpack":
        return _arpack(A_op, k, tol, maxiter, rng)
    return _lobpcg(A_op, k, tol, maxiter, rng)


def _arpack(A, k, tol, maxiter, rng):
    n = A.shape[0]
    count = [0]

    def product(v):
        count[0] += 1
        return A.matvec(v)

    counted = LinearOperator(A.shape, matvec=product, dtype=A.dtype)
    v0 = rng.uniform(-1, 1, n).astype(A.dtype)
    try:
        w, V = eigsh(counted, k=k, which="LA", tol=tol, maxiter=maxiter, v0=v0)
    except ArpackNoConvergence as exc:
        warnings.warn(
            f"eigsh (ARPACK) found {len(exc.eigenvalues)} of {k} eigenpairs within maxiter; "
            "raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
        w, V = exc.eigenvalues, exc.eigenvectors
        if len(w) < k:
            raise
    order = np.argsort(w)[::-1]
    return w[order], V[:, order], count[0]


def _lobpcg(A, k, tol, maxiter, rng):
    n = A.shape[0]
    X0 = rng.standard_normal((n, k)).astype(A.dtype)
    maxiter = _LOBPCG_MAXITER if maxiter is None else int(maxiter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w, V, history = lobpcg(
            A,
            X0,
            largest=True,
            tol=tol if tol > 0 else None,
            maxiter=maxiter,
            retResidualNormsHistory=True,
        )
    for item in caught:
        if "not reaching the requested tolerance" in str(item.message) or (
            "Exited at iteration" in str(item.message)
        ):
            warnings.warn(
                f"lobpcg stopped above its tolerance after {maxiter} iterations "
                f"({item.message}); raise max_iter or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        else:
            warnings.warn_explicit(
                item.message, item.category, item.filename, item.lineno, source=item.source
            )
    order = np.argsort(w)[::-1]
    return w[order], V[:, order], len(history)
