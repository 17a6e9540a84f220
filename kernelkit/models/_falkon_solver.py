"""Falkon's numerical core: the preconditioner, the normal-equation product and a block CG.

Falkon (Rudi, Carratino & Rosasco, NeurIPS 2017; Meanti, Carratino, Rosasco &
Rudi, NeurIPS 2020) solves the Nyström kernel ridge system

    (K_nMᵀ W K_nM + λ·n_w·K_MM) a = K_nMᵀ W y,      n_w = Σ w_i,

for M centers by conjugate gradient on a = B β with the preconditioner
B = T⁻¹A⁻¹, T = chol(K_MM) (upper, K_MM = TᵀT) and A = chol(TTᵀ/M + λI).
When the centers are a uniform sample, K_nMᵀK_nM/n ≈ K_MM²/M, so BᵀHB/n is
close to the identity and CG needs 10–20 iterations whatever λ.
"""

import numpy as np
from scipy import linalg
from scipy.linalg.blas import dsyrk

from .._backend import get_namespace, to_numpy
from .._utils._device import to_device
from ..linalg import KernelOperator
from ..linalg._budget import check_fits, largest_square
from ..linalg._distributed import weighted_normal_product

# count_transfers keys. The M×M algebra and the conjugate gradient run on the host in
# float64; with device data the n×M kernel products stay there and only M-row results cross.
CENTERS_TO_HOST = "falkon: centers to the host (preconditioner)"
RHS_TO_HOST = "falkon: K_nMᵀWy to the host"
PRODUCT_TO_HOST = "falkon: K_nMᵀWK_nM u to the host, per CG iteration"

#: Cholesky jitter, relative to max K_MM[i, i] and multiplied by M (Falkon's pc_epsilon·M
#: idea); raised ×100 per failed factorisation, at most this many times.
_JITTER_EPS = np.finfo(np.float64).eps
_JITTER_TRIES = 8


def _cholesky_with_jitter(K):
    """Upper Cholesky factor of K + δI with the smallest δ of the ladder that works.

    Duplicate or nearly duplicate centers make K_MM singular in floating point;
    δ starts at M·eps·max diag (invisible next to λ in every practical case) and
    grows ×100 until LAPACK succeeds. Returns (T, δ).
    """
    scale = max(float(np.max(np.diagonal(K))), np.finfo(np.float64).tiny)
    delta = K.shape[0] * _JITTER_EPS * scale
    diag = np.diagonal(K).copy()
    for _ in range(_JITTER_TRIES):
        np.fill_diagonal(K, diag + delta)
        try:
            return linalg.cholesky(K, lower=False, check_finite=False), delta
        except linalg.LinAlgError:
            delta *= 100.0
    raise linalg.LinAlgError(
        f"The center kernel matrix K_MM is not positive definite even with a jitter of "
        f"{delta:.3g}: the kernel is not positive definite on these centers."
    )


class FalkonPreconditioner:
    """B = T⁻¹A⁻¹ for M centers, computed in float64 with LAPACK (two M×M matrices).

    Parameters
    ----------
    kernel : Kernel
        Resolved kernel.
    Z : ndarray of shape (M, n_features)
        Centers.
    regularization : float
        λ ≥ 0.
    """

    def __init__(self, kernel, Z, regularization):
        Z = np.asarray(to_numpy(Z, CENTERS_TO_HOST), dtype=np.float64)
        M = Z.shape[0]
        check_fits(
            2 * M * M * 8,
            f"Falkon's preconditioner for n_centers={M} (two {M}×{M} float64 matrices)",
            hint=f"The largest n_centers that fits is {largest_square(8, matrices=2)}.",
        )
        K = KernelOperator(kernel, Z).to_dense()
        K += K.T
        K *= 0.5  # callable kernels need not return an exactly symmetric block
        self.T, self.jitter = _cholesky_with_jitter(K)
        del K
        # TTᵀ/M + λI, upper triangle only (syrk), factored in place.
        W = dsyrk(1.0 / M, self.T, trans=0, lower=0)
        W[np.diag_indices(M)] += regularization
        try:
            self.A = linalg.cholesky(W, lower=False, overwrite_a=True, check_finite=False)
        except linalg.LinAlgError:  # λ = 0 and an ill-conditioned T
            W = dsyrk(1.0 / M, self.T, trans=0, lower=0)
            self.A, _ = _cholesky_with_jitter(W)
        self.regularization = float(regularization)

    def apply(self, beta):
        """a = T⁻¹A⁻¹β (coefficients from the CG variable)."""
        u = linalg.solve_triangular(self.A, beta, lower=False, check_finite=False)
        return linalg.solve_triangular(self.T, u, lower=False, check_finite=False)

    def apply_transpose(self, v):
        """A⁻ᵀT⁻ᵀv."""
        u = linalg.solve_triangular(self.T, v, trans="T", lower=False, check_finite=False)
        return linalg.solve_triangular(self.A, u, trans="T", lower=False, check_finite=False)

    def to_beta(self, a):
        """β = A·T·a, the CG variable of given coefficients (for warm starts)."""
        return self.A @ (self.T @ a)


class NormalProduct:
    """v ↦ K_nMᵀ W K_nM v over the training data, cached or streamed.

    When n·M·itemsize fits ``cache_bytes``, K_nM is computed once and every
    product is two matrix products (Falkon does this when recomputing kernel
    values dominates, i.e. large d). Otherwise every product is one pass of
    :meth:`chunk_product` over the data, O(block) memory.

    Parameters
    ----------
    kernel : Kernel
        Resolved kernel.
    X : ndarray of shape (n, n_features)
        Training points.
    Z : ndarray of shape (M, n_features)
        Centers.
    weights : ndarray of shape (n,) or None
        Sample weights (None: all ones).
    cache_bytes : int
        Largest K_nM kept in memory.
    """

    def __init__(self, kernel, X, Z, weights, cache_bytes):
        self.kernel = kernel
        self.X = X
        self.Z = Z.astype(X.dtype, copy=False)
        self.xp = get_namespace(X, self.Z)
        self.weights = to_device(self.xp, weights)
        self.dtype = np.result_type(X.dtype, self.Z.dtype)
        n, M = X.shape[0], Z.shape[0]
        self.cached = n * M * self.dtype.itemsize <= cache_bytes
        self._K = KernelOperator(kernel, X, self.Z).to_dense() if self.cached else None

    def chunk_product(self, X_chunk, w_chunk, V):
        """K_cMᵀ(w_c ⊙ K_cM V) for one chunk of rows: the part a distributed fit sums.

        Parameters
        ----------
        X_chunk : ndarray of shape (c, n_features)
            Rows of the chunk.
        w_chunk : ndarray of shape (c,) or None
            Their weights.
        V : ndarray of shape (M, k)
            Right-hand side.

        Returns
        -------
        out : ndarray of shape (M, k), float64
        """
        return weighted_normal_product(self.kernel, X_chunk, self.Z, V, w_chunk)

    def __call__(self, V):
        """K_nMᵀ W K_nM V over all training rows (float64, on the host like V).

        On the device the product runs there and only the M×k result comes back.
        """
        V = to_device(self.xp, V)
        if not self.cached:
            return self._host(self.chunk_product(self.X, self.weights, V), PRODUCT_TO_HOST)
        inner = self._K @ V.astype(self.dtype, copy=False)
        if self.weights is not None:
            inner *= self.weights[:, None].astype(self.dtype, copy=False)
        return self._host(self._K.T @ inner, PRODUCT_TO_HOST)

    def rhs(self, Y):
        """K_nMᵀ W Y (float64, on the host); Y lives with X."""
        WY = Y if self.weights is None else Y * self.weights[:, None].astype(Y.dtype)
        WY = WY.astype(self.dtype, copy=False)
        if self.cached:
            return self._host(self._K.T @ WY, RHS_TO_HOST)
        return self._host(KernelOperator(self.kernel, self.X, self.Z).rmatmat(WY), RHS_TO_HOST)

    @staticmethod
    def _host(a, reason):
        return np.asarray(to_numpy(a, reason), dtype=np.float64)


def falkon_operator(precond, product, n_weight):
    """β ↦ BᵀHBβ/n_w with H = K_nMᵀWK_nM + λ·n_w·(K_MM + δI), δ the Cholesky jitter.

    As in Falkon, TᵀT = K_MM + δI turns the λ term into λA⁻¹β, so K_MM is never
    needed again: BᵀHBβ/n_w = A⁻ᵀ[T⁻ᵀK_nMᵀWK_nM u/n_w + λA⁻¹β] with u = T⁻¹A⁻¹β.
    Solving with K_MM + δI rather than K_MM keeps the operator positive definite
    when K_MM is singular in floating point (duplicate or very close centers),
    where the exact system is only semi-definite and round-off makes it
    indefinite; δ ≈ M·eps·max k(z, z) changes a well-posed solution by a relative
    O(δ/λ_min(K_MM)).
    """
    lam = precond.regularization

    def apply(beta):
        Ainv_beta = linalg.solve_triangular(precond.A, beta, lower=False, check_finite=False)
        u = linalg.solve_triangular(precond.T, Ainv_beta, lower=False, check_finite=False)
        v = product(u) / n_weight
        r = linalg.solve_triangular(precond.T, v, trans="T", lower=False, check_finite=False)
        r += lam * Ainv_beta
        return linalg.solve_triangular(precond.A, r, trans="T", lower=False, check_finite=False)

    return apply


# Early stopping on device data: the targets once, the validation scores per iteration.
_VALIDATION_TO_HOST = "falkon: validation targets and predictions to the host"


class _ValidationTracker:
    """Early stopping: validation score after every CG iteration, best iterate kept."""

    def __init__(self, estimator, kernel, Z, X_val, Y_val, intercept, precond, cache_bytes):
        self.active = X_val is not None
        self.scores = []
        self.best = -np.inf
        self.best_beta = None
        self._bad = 0
        if not self.active:
            return
        self._estimator = estimator
        self._precond = precond
        self._xp = get_namespace(X_val)
        self._Y = to_numpy(Y_val, _VALIDATION_TO_HOST)
        self._intercept = to_numpy(intercept, _VALIDATION_TO_HOST)
        op = KernelOperator(kernel, X_val, Z.astype(X_val.dtype, copy=False))
        cached = X_val.shape[0] * Z.shape[0] * op.dtype.itemsize <= cache_bytes
        self._K = op.to_dense() if cached else op

    def update(self, iteration, beta):
        if not self.active:
            return False
        coef = to_device(self._xp, self._precond.apply(beta).astype(self._K.dtype, copy=False))
        F = np.asarray(to_numpy(self._K @ coef, _VALIDATION_TO_HOST), dtype=np.float64)
        score = self._estimator._score_targets(F + self._intercept, self._Y)
        self.scores.append(float(score))
        if score > self.best:
            self.best, self.best_beta, self._bad = score, beta.copy(), 0
        else:
            self._bad += 1
        return self._bad >= self._estimator.n_iter_no_change
