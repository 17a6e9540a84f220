"""The numerical core of STKR: the base kernel on the fitted points and the three transforms.

Notation (Zhai et al., "Spectrally Transformed Kernel Regression", ICLR 2024):
X_fit holds N points, n of them labeled (rows ``L``); G is the base kernel on
X_fit (normalised when asked), B = G[:, L] its N×n labeled block, and
G/N = UΛUᵀ. The spectrally transformed kernel K̂_s equals N·U s(Λ) Uᵀ on X_fit
and v(x) U diag(s(λ)/λ) Uᵀ between a new point and X_fit. Every fit ends in
an N×c dual θ with f(x) = k(x, X_fit)·θ, so prediction is one kernel product.

Nothing here forms an N×N matrix except :meth:`BaseGram.dense` (used only by
``eigen_solver="dense"``); the products go through ``KernelOperator`` (or
SciPy's ``aslinearoperator`` for a precomputed kernel).
"""

import warnings

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator
from sklearn.exceptions import ConvergenceWarning

from ..linalg import KernelOperator
from ..linalg._budget import check_fits
from ..linalg._solvers import block_cg, top_eigenpairs

# Degrees at or below this (a kernel with negative values, an isolated node) are rejected.
_MIN_DEGREE = 1e-300


class BaseGram:
    """The (optionally degree-normalised) base kernel on X_fit, as products.

    Normalisation replaces k(x, x') by k(x, x') / sqrt(d(x) d(x')) with
    d(x) = mean_j k(x, x_j) over X_fit: one extra product to get the degrees,
    after which every product is D^-1/2 K D^-1/2 V.

    Parameters
    ----------
    kernel : Kernel or "precomputed"
        Resolved kernel, or ``"precomputed"`` when ``X_fit`` is the N×N matrix.
    X_fit : ndarray or sparse matrix
        Fitted points (N × n_features), or the N×N base kernel.
    labeled : ndarray of int
        Rows of X_fit that carry targets.
    normalize : bool
        Whether to degree-normalise the kernel.
    """

    def __init__(self, kernel, X_fit, labeled, normalize):
        self.precomputed = isinstance(kernel, str) and kernel == "precomputed"
        self.kernel = kernel
        self.X_fit = X_fit
        self.labeled = labeled
        self.N = X_fit.shape[0]
        if self.precomputed:
            self._K = aslinearoperator(X_fit)
        else:
            self._K = KernelOperator(kernel, X_fit)
        self.dtype = np.dtype(self._K.dtype)
        self.degrees = None
        self.scale = None
        if normalize:
            d = np.asarray(self._K.matvec(np.ones(self.N, dtype=self.dtype))).ravel() / self.N
            if not np.all(d > _MIN_DEGREE):
                raise ValueError(
                    f"normalize=True needs a positive degree mean_j k(x_i, x_j) at every fitted "
                    f"point; {int(np.sum(~(d > _MIN_DEGREE)))} point(s) have degree <= 0 "
                    "(a kernel with negative values, or an isolated graph node). Use "
                    "normalize=False or fix the kernel."
                )
            self.degrees = d.astype(self.dtype, copy=False)
            self.scale = (1.0 / np.sqrt(d)).astype(self.dtype)

    @property
    def nonnegative(self):
        """Whether every kernel value is >= 0 (then the normalised λ₁(G/N) is exactly 1)."""
        if self.precomputed:
            values = self.X_fit.data if sp.issparse(self.X_fit) else self.X_fit
            return bool(np.all(values >= 0))
        return bool(getattr(self.kernel, "radial", False))

    # -- products -----------------------------------------------------------
    def gram(self, V):
        """G @ V for V of shape (N, k)."""
        if self.scale is None:
            return np.asarray(self._K.matmat(V))
        s = self.scale[:, None]
        return s * np.asarray(self._K.matmat(s * V))

    def operator(self, factor=1.0):
        """``factor * G`` as a SciPy LinearOperator."""

        def matmat(V):
            out = self.gram(np.asarray(V).reshape(self.N, -1))
            return out * factor if factor != 1.0 else out

        return LinearOperator(
            (self.N, self.N),
            matvec=lambda v: matmat(v)[:, 0],
            matmat=matmat,
            rmatvec=lambda v: matmat(v)[:, 0],
            rmatmat=matmat,
            dtype=self.dtype,
        )

    def _labeled_operator(self):
        if self.precomputed:
            return aslinearoperator(self.X_fit[:, self.labeled])
        return KernelOperator(self.kernel, self.X_fit, self.X_fit[self.labeled])

    def labeled_block(self):
        """B = G[:, L] as a dense N×n array (the only block the direct solvers store)."""
        n = len(self.labeled)
        check_fits(
            self.N * n * self.dtype.itemsize,
            f"the {self.N}×{n} block of kernel values between the fitted and labeled points",
            hint="Use solver='cg'.",
        )
        if self.precomputed:
            B = self.X_fit[:, self.labeled]
            B = B.toarray() if sp.issparse(B) else np.array(B, dtype=self.dtype)
        else:
            B = self._labeled_operator().to_dense()
        B = np.asarray(B, dtype=self.dtype)
        if self.scale is not None:
            B *= self.scale[:, None]
            B *= self.scale[self.labeled][None, :]
        return B

    def labeled_product(self, A):
        """B @ A for A of shape (n, k), without storing B."""
        if self.scale is None:
            return np.asarray(self._labeled_operator().matmat(A))
        s = self.scale
        return s[:, None] * np.asarray(
            self._labeled_operator().matmat(s[self.labeled][:, None] * A)
        )

    def labeled_rproduct(self, U):
        """Bᵀ @ U for U of shape (N, k), without storing B."""
        if self.scale is None:
            return np.asarray(self._labeled_operator().rmatmat(U))
        s = self.scale
        return s[self.labeled][:, None] * np.asarray(
            self._labeled_operator().rmatmat(s[:, None] * U)
        )

    def dense(self):
        """The N×N matrix G (for eigen_solver="dense" on small problems only)."""
        if self.precomputed:
            G = self.X_fit.toarray() if sp.issparse(self.X_fit) else np.array(self.X_fit)
            G = G.astype(self.dtype, copy=False)
        else:
            G = KernelOperator(self.kernel, self.X_fit).to_dense()
        if self.scale is not None:
            G *= self.scale[:, None]
            G *= self.scale[None, :]
        return G


def _warn_cg(info, n_iter, what, tol):
    if np.any(info):
        warnings.warn(
            f"STKR: conjugate gradients for {what} stopped after {int(n_iter.max())} iterations "
            f"above the tolerance tol={tol:g} in {int(np.count_nonzero(info))} column(s); raise "
            "max_iter, loosen tol or increase regularization.",
            ConvergenceWarning,
            stacklevel=4,
        )


def ridge_solve(K_LL, Y, nbeta):
    """(K_LL + nβ I)⁻¹ Y by Cholesky in float64 (LU when K_LL is not PSD)."""
    A = np.asarray(K_LL, dtype=np.float64)
    A = (A + A.T) / 2
    A[np.diag_indices_from(A)] += nbeta
    Y = np.asarray(Y, dtype=np.float64)
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(A), Y)
    except np.linalg.LinAlgError:
        return scipy.linalg.solve(A, Y, assume_a="sym")


class Solution:
    """What a transform's fit returns.

    Parameters
    ----------
    dual : ndarray of shape (N, c)
        θ with f(x) = g(x, X_fit) θ on the (normalised) base kernel g.
    fitted : ndarray of shape (N, c)
        f at the fitted points.
    eigenvalues : ndarray
        Eigenvalues of G/N the fit computed (may be empty).
    n_iter : int
        Iterations of the fit's iterative solver.
    extra : dict
        Transform-specific attributes (``top_eigenvalue_``, ``eta_``).
    """

    def __init__(self, dual, fitted, eigenvalues=(), n_iter=0, extra=None):
        self.dual = dual
        self.fitted = fitted
        self.eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
        self.n_iter = int(n_iter)
        self.extra = extra or {}


def _horner(base, a, coefs, gram):
    """Σ_{p≥2} π_p (G/N)^{p-2} a by Horner's rule (q-2 products); None when q < 2."""
    q = len(coefs)
    if q < 2:
        return None
    h = coefs[q - 1] * a
    for p in range(q - 1, 1, -1):
        h = gram(h) / base.N + coefs[p - 1] * a
    return h


def fit_polynomial(base, Y, coefs, nbeta, *, solver, tol, maxiter, callback):
    """STKR-Prop (Algorithm 1) for s(λ) = Σ_p π_p λ^p.

    Parameters
    ----------
    base : BaseGram
        The base kernel on X_fit.
    Y : ndarray of shape (n, c)
        Targets of the labeled rows.
    coefs : sequence of float
        π₁, …, π_q (trailing zeros removed).
    nbeta : float
        n·β, the ridge on the n×n system.
    solver : {"direct", "cg"}
        Propagate the n columns of B (Cholesky on K̂_s(Xₙ, Xₙ)), or run CG on
        the n×n system with O(N·c) memory.
    tol : float
        Relative CG tolerance.
    maxiter : int or None
        CG iteration limit.
    callback : callable or None
        Progress callback passed to the CG solver.

    Returns
    -------
    solution : Solution
    """
    L, N = base.labeled, base.N
    pi1 = float(coefs[0])
    if solver == "direct":
        B = base.labeled_block()
        H = _horner(base, B / N, coefs, base.gram)
        K_LL = pi1 * B[L]
        if H is not None:
            K_LL = K_LL + B.T @ H
        alpha = ridge_solve(K_LL, Y, nbeta).astype(base.dtype)
        dual = np.zeros((N, Y.shape[1]), dtype=base.dtype) if H is None else H @ alpha
        dual[L] += pi1 * alpha
        fitted = pi1 * (B @ alpha) if H is None else base.gram(dual)
        return Solution(dual, fitted)

    def propagate(alpha):
        h = _horner(base, base.labeled_product(alpha) / N, coefs, base.gram)
        u = np.zeros((N, alpha.shape[1]), dtype=base.dtype) if h is None else h
        u[L] += pi1 * alpha
        return u

    def system(alpha):
        alpha = np.asarray(alpha, dtype=base.dtype).reshape(len(L), -1)
        return base.labeled_rproduct(propagate(alpha)) + nbeta * alpha

    n = len(L)
    A = LinearOperator((n, n), matvec=system, matmat=system, dtype=base.dtype)
    alpha, info, n_iter = block_cg(
        A, Y.astype(base.dtype), rtol=tol, maxiter=maxiter, callback=callback
    )
    _warn_cg(info, n_iter, "the n×n STKR system", tol)
    dual = propagate(alpha)
    return Solution(dual, base.gram(dual), n_iter=n_iter.max(initial=0))


def top_eigenvalue(base, eigen_solver, tol, maxiter, random_state):
    """λ₁(G/N): exactly 1 for a normalised non-negative kernel, else from the eigen solver."""
    if base.scale is not None and base.nonnegative:
        return 1.0, 0
    w, _, it = top_eigenpairs(
        base.operator(1.0 / base.N),
        1,
        method=eigen_solver,
        dense=lambda: base.dense() / base.N,
        tol=tol,
        maxiter=maxiter,
        random_state=random_state,
    )
    return float(w[0]), it


def fit_inverse_laplacian(
    base, Y, eta, nbeta, *, solver, eigen_solver, tol, maxiter, random_state, callback
):
    """STKR-Prop (Algorithm 2) for s(λ) = λ / (1 - ηλ), η = eta / λ₁(G/N).

    With M = I - ηG/N, K̂_s(X_fit, Xₙ) = M⁻¹B and the dual is θ = M⁻¹[α; 0].

    Parameters
    ----------
    base : BaseGram
        The base kernel on X_fit.
    Y : ndarray of shape (n, c)
        Targets of the labeled rows.
    eta : float
        η·λ₁ in (0, 1).
    nbeta : float
        n·β.
    solver : {"direct", "cg"}
        "direct" solves M W = B (block CG over the n columns) and factors
        K̂_s(Xₙ, Xₙ) = W[L]; "cg" runs CG on the n×n system with an inner CG
        for every product with M⁻¹ (O(N·c) memory, many more products).
    eigen_solver : str
        Method of :func:`top_eigenpairs` for λ₁.
    tol : float
        Relative tolerance of the iterative solvers.
    maxiter : int or None
        Iteration limit.
    random_state : RandomState
        Seeds the eigen solver.
    callback : callable or None
        Progress callback.

    Returns
    -------
    solution : Solution
    """
    lam1, _ = top_eigenvalue(base, eigen_solver, tol, maxiter, random_state)
    if not lam1 > 0:
        raise ValueError(
            f"The base kernel's top eigenvalue is {lam1:g} <= 0; the inverse Laplacian needs "
            "a positive semi-definite kernel."
        )
    eta_ = eta / lam1
    extra = {"top_eigenvalue_": lam1, "eta_": eta_}
    L, N = base.labeled, base.N
    c = eta_ / N
    M = LinearOperator(
        (N, N),
        matvec=lambda v: v - c * base.gram(v.reshape(N, 1))[:, 0],
        matmat=lambda V: V - c * base.gram(V),
        dtype=base.dtype,
    )
    if solver == "direct":
        B = base.labeled_block()
        W, info, n_iter = block_cg(M, B, rtol=tol, maxiter=maxiter, callback=callback)
        _warn_cg(info, n_iter, "M W = B (the propagated labeled columns)", tol)
        alpha = ridge_solve(W[L], Y, nbeta).astype(base.dtype)
        dual = c * (W @ alpha)
        dual[L] += alpha
        return Solution(dual, W @ alpha, [lam1], n_iter.max(initial=0), extra)
    # solver="cg": CG on the n×n system K̂_s(Xₙ, Xₙ) + nβI, K̂_s(Xₙ, Xₙ)α = Bᵀ M⁻¹[α; 0], with
    # an inner CG for each M⁻¹ (tighter, so that the outer operator stays symmetric to
    # within the outer tolerance). Memory O(N·c); many more products than "direct".
    inner_tol = max(tol * 1e-2, 10 * np.finfo(base.dtype).eps)
    inner_iter = [0]

    def solve_M(A):
        lifted = np.zeros((N, A.shape[1]), dtype=base.dtype)
        lifted[L] = A
        Z, info, it = block_cg(M, lifted, rtol=inner_tol, maxiter=maxiter)
        _warn_cg(info, it, "M z = [α; 0]", inner_tol)
        inner_iter[0] += int(it.max(initial=0))
        return Z

    def system(A):
        A = np.asarray(A, dtype=base.dtype).reshape(len(L), -1)
        return base.labeled_rproduct(solve_M(A)) + nbeta * A

    n = len(L)
    outer = LinearOperator((n, n), matvec=system, matmat=system, dtype=base.dtype)
    alpha, info, n_iter = block_cg(
        outer, Y.astype(base.dtype), rtol=tol, maxiter=maxiter, callback=callback
    )
    _warn_cg(info, n_iter, "the n×n STKR system", tol)
    theta = solve_M(alpha)
    return Solution(theta, base.gram(theta), [lam1], inner_iter[0], extra)


def fit_kpca(base, Y, n_components, nbeta, *, eigen_solver, tol, maxiter, random_state):
    """STKR with the top-d kernel PCA eigenfunctions (the paper's SP-topd).

    ψᵢ(x) = g(x, X_fit) uᵢ / (√N λᵢ) has unit empirical L2 norm on X_fit;
    ridge regression on Ψ(Xₙ) with penalty nβ gives w, and θ = U diag(1/(√Nλ)) w.

    Parameters
    ----------
    base : BaseGram
        The base kernel on X_fit.
    Y : ndarray of shape (n, c)
        Targets of the labeled rows.
    n_components : int
        d, the number of eigenfunctions.
    nbeta : float
        n·β.
    eigen_solver : str
        Method of :func:`top_eigenpairs`.
    tol : float
        Eigen solver tolerance.
    maxiter : int or None
        Eigen solver iteration limit.
    random_state : RandomState
        Seeds the eigen solver.

    Returns
    -------
    solution : Solution
    """
    N = base.N
    lam, U, n_iter = top_eigenpairs(
        base.operator(1.0 / N),
        n_components,
        method=eigen_solver,
        dense=lambda: base.dense() / N,
        tol=tol,
        maxiter=maxiter,
        random_state=random_state,
    )
    lam = np.asarray(lam, dtype=np.float64)
    # Numerically null directions carry no eigenfunction (ψ would divide by ~0).
    keep = lam > max(lam[0], 0.0) * N * np.finfo(base.dtype).eps
    if not keep.any():
        raise ValueError("The base kernel has no positive eigenvalue on the fitted points.")
    lam, U = lam[keep], np.asarray(U[:, keep], dtype=np.float64)
    psi_L = np.sqrt(N) * U[base.labeled]
    gram = psi_L.T @ psi_L
    gram[np.diag_indices_from(gram)] += nbeta
    w = scipy.linalg.solve(gram, psi_L.T @ np.asarray(Y, dtype=np.float64), assume_a="pos")
    dual = (U @ (w / (np.sqrt(N) * lam)[:, None])).astype(base.dtype)
    fitted = (np.sqrt(N) * (U @ w)).astype(base.dtype)
    sol = Solution(dual, fitted, lam, n_iter)
    sol.eigenvectors = U.astype(base.dtype)
    return sol
