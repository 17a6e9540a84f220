"""SQUEAK's dictionary algebra: the weighted dictionary, Expand, Shrink and Dict-Merge.

Calandriello, Lazaric and Valko, "Distributed Adaptive Sampling for Kernel
Matrix Approximation" (AISTATS 2017). A weighted dictionary
D = {(i, p_i, q_i)} of points, with weights s_i² = q_i / (q̄·p_i), defines the
sketch K_S = Σ_{i∈D} s_i² φ(x_i)φ(x_i)ᵀ; it is ε-accurate when
(1−ε)(K+γI) ⪯ K_S + γI ⪯ (1+ε)(K+γI). SQUEAK keeps such a dictionary while
reading the data once, estimating every ridge leverage score (RLS)
τ_i = [K(K+γI)⁻¹]_ii from the dictionary alone, so it never forms K(X, X).

Numerics: every step works on small dense matrices (the dictionary plus one
block), computed by the kernel operator in float64 whatever the input dtype,
because an RLS estimate is a difference of nearly equal numbers.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from .._backend import cpu, get_namespace, to_numpy
from .._utils._device import to_device
from .._utils._progress import progress
from .._utils._validation import check_points
from ..kernels import Kernel
from ..linalg import KernelOperator
from ..linalg._budget import check_fits

# Dense float64 matrices of the dictionary's size alive during one Shrink
# (kernel matrix, its weighted copy, the factor).
_MATRICES_PER_SHRINK = 3
#: Smallest block SQUEAK expands by.
_MIN_SEQUENTIAL_BLOCK = 256


def _serial_blas(function):
    """Run ``function`` with single-threaded BLAS.

    Two reasons: a multithreaded factorisation may round differently from a
    single-threaded one, so results would depend on how many threads a joblib
    or Dask worker grants; and the matrices here are small, so the parallelism
    worth having is across tree nodes, not inside one Cholesky.
    """

    def wrapper(*args, **kwargs):
        with cpu.single_threaded_blas():
            return function(*args, **kwargs)

    wrapper.__name__ = function.__name__
    wrapper.__qualname__ = function.__qualname__
    wrapper.__doc__ = function.__doc__
    wrapper.__wrapped__ = function
    return wrapper


class EmptyDictionaryError(ValueError):
    """Raised when a Shrink step drops every point of the dictionary."""


# --------------------------------------------------------------------------------------
# result object


@dataclass(eq=False)
class SqueakDictionary:
    """A weighted SQUEAK dictionary: the points kept, their probabilities and multiplicities.

    Returned by :func:`squeak` and :func:`disqueak`; every parameter is kept as
    the attribute of the same name.

    Parameters
    ----------
    indices : ndarray of shape (m,), int64
        Rows of X in the dictionary, increasing.
    points : ndarray of shape (m, n_features)
        ``X[indices]`` (dtype of X).
    probabilities : ndarray of shape (m,)
        Final inclusion probabilities p_i (RLS estimates, non-increasing over the pass).
    multiplicities : ndarray of shape (m,), int64
        q_i ∈ {1, …, q̄}: how many of the q̄ virtual copies of the point survived.
    qbar : int
        Number of virtual copies of every point.
    epsilon : float
        Accuracy parameter ε of the RLS estimator.
    regularization : float
        Ridge γ the scores refer to.
    effective_dimension : float
        d_eff(γ) of the sketch, tr(K_S(K_S+γI)⁻¹): an estimate of d_eff(γ) of
        the data, within a factor 1 ± ε when the dictionary is ε-accurate.
    n_samples : int
        Number of rows the dictionary summarises.
    kernel : Kernel
        The kernel (bandwidth resolved).
    n_clipped : int
        RLS estimates that round-off made negative and that were clipped to 0.
    """

    indices: np.ndarray
    points: np.ndarray
    probabilities: np.ndarray
    multiplicities: np.ndarray
    qbar: int
    epsilon: float
    regularization: float
    effective_dimension: float
    n_samples: int
    kernel: Kernel
    n_clipped: int = 0
    _factor: object = field(default=None, repr=False, init=False)

    @property
    def weights(self):
        """Sketch weights s_i² = q_i / (q̄·p_i): E[s_i²·1{i ∈ D}] = 1 for every row i."""
        return self.multiplicities / (self.qbar * self.probabilities)

    def __len__(self):
        return int(self.indices.shape[0])

    def __repr__(self):
        return (
            f"SqueakDictionary(size={len(self)}, n_samples={self.n_samples}, "
            f"regularization={self.regularization:.4g}, qbar={self.qbar}, "
            f"effective_dimension={self.effective_dimension:.4g})"
        )

    def leverage_scores(self, X):
        """Estimate τ_i(γ) for every row of ``X`` from the dictionary alone.

        Returns φ(x)ᵀ(K_S + γI)⁻¹φ(x), computed as
        (k(x, x) − k_Dᵀ S̄(S̄K_DDS̄ + γI)⁻¹S̄ k_D)/γ, block by block within the
        memory budget. When the dictionary is ε-accurate the estimate lies in
        [τ/(1+ε), τ/(1−ε)]. SQUEAK's internal, deliberately low estimate is this
        value times (1 − ε).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score (the dictionary's own data or new points).

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
            The estimates, clipped at 0 (round-off; a warning counts them).
        """
        xp = get_namespace(X)
        X = _as_host_points(X, "X")
        if X.shape[1] != self.points.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features but the dictionary has {self.points.shape[1]}."
            )
        factor = self._get_factor()
        D = np.asarray(self.points, dtype=np.float64)
        s = np.sqrt(self.weights)
        out = np.empty(X.shape[0])
        n_neg = 0
        op = KernelOperator(self.kernel, np.asarray(X, dtype=np.float64), D)
        for rows, block in op.blocks():
            diag = self.kernel.diag(np.asarray(X[rows], dtype=np.float64))
            tau = (diag - factor.sq_norms((block * s).T)) / self.regularization
            n_neg += int(np.count_nonzero(tau < 0))
            out[rows] = np.clip(tau, 0.0, None)
        _warn_clipped(n_neg)
        return to_device(xp, out)

    def _get_factor(self):
        if self._factor is None:
            K = _kernel64(self.kernel, self.points, self.points, symmetric=True)
            s = np.sqrt(self.weights)
            self._factor = _Factor(s[:, None] * K * s[None, :], self.regularization)
        return self._factor


# --------------------------------------------------------------------------------------
# linear algebra of one Shrink


class _Factor:
    """(M + γI) for a PSD M, factored once: Cholesky, or eigh if round-off broke it."""

    def __init__(self, M, gamma):
        self.gamma = gamma
        B = M + gamma * np.eye(M.shape[0])
        chol, info = lapack.dpotrf(B, lower=1, clean=1)
        if info == 0:
            self.chol = chol
            self.eig = None
        else:
            # γ below the round-off of M: clipped eigenvalues give the same PSD-consistent answer.
            lam, V = linalg.eigh(M)
            self.chol = None
            self.eig = (np.clip(lam, 0.0, None), V)

    def inverse_diagonal(self):
        """diag((M + γI)⁻¹)."""
        if self.chol is not None:
            inv, info = lapack.dpotri(self.chol, lower=1)
            if info != 0:  # pragma: no cover - dpotrf succeeded, so B is PD
                raise np.linalg.LinAlgError("dpotri failed on a positive definite matrix.")
            return np.diagonal(inv).copy()
        lam, V = self.eig
        return (V * V) @ (1.0 / (lam + self.gamma))

    def sq_norms(self, Y):
        """Column-wise yᵀ(M + γI)⁻¹y for Y of shape (m, k)."""
        if Y.shape[1] == 0:
            return np.zeros(0)
        if self.chol is not None:
            W = linalg.solve_triangular(self.chol, Y, lower=True, check_finite=False)
            return np.einsum("ij,ij->j", W, W)
        lam, V = self.eig
        W = V.T @ Y
        return ((W * W) / (lam + self.gamma)[:, None]).sum(axis=0)


def _in_dictionary_scores(K, weights, gamma):
    """φ_iᵀ(K_S + γI)⁻¹φ_i for every dictionary point i, from K = K_DD alone.

    With M = S̄K_DDS̄ (S̄ = diag(s_j)), the push-through identity gives
    φ_iᵀ(K_S+γI)⁻¹φ_i = (1 − γ[(M+γI)⁻¹]_ii) / s_i², which needs no product
    with k_{D,i} and stays in [0, 1/s_i²] up to round-off.
    Returns the unclipped scores and the factor (reused for the d_eff estimate).
    """
    s = np.sqrt(weights)
    factor = _Factor(s[:, None] * K * s[None, :], gamma)
    scores = (1.0 - gamma * factor.inverse_diagonal()) / weights
    return scores, factor


def _shrink(state, gamma, epsilon, qbar, rng):
    """Dict-Update: re-estimate every RLS from the dictionary, then resample multiplicities.

    τ̃_i = (1−ε)·φ_iᵀ(K_S + γI)⁻¹φ_i (the paper's estimator, eq. 3, with the factor
    (1−ε): under ε-accuracy it gives τ_i/α ≤ τ̃_i ≤ τ_i, α = (1+ε)/(1−ε)), then
    p_i ← min(τ̃_i, p_i) and q_i ← Binomial(q_i, p_new/p_old): each live copy
    survives with probability p_new/p_old, which keeps E[q_i/(q̄ p_i)] = 1.
    """
    idx, pts, p, q, K, n_clipped = state
    raw, _ = _in_dictionary_scores(K, q / (qbar * p), gamma)
    negative = raw < 0
    n_clipped += int(np.count_nonzero(negative))
    tau = (1.0 - epsilon) * np.where(negative, 0.0, raw)
    p_new = np.minimum(tau, p)
    q_new = rng.binomial(q, p_new / p)
    keep = q_new > 0
    if not keep.any():
        # An empty dictionary is a legal state (its sketch is 0); only an empty result is an error.
        return None, n_clipped
    return (
        idx[keep],
        pts[keep],
        p_new[keep],
        q_new[keep],
        K[np.ix_(keep, keep)],
        n_clipped,
    )


def _kernel64(kernel, A, B, *, symmetric=False):
    """Dense float64 K(A, B) from the kernel operator on float64 copies of the points.

    An RLS estimate is a difference of nearly equal numbers, hence float64 for
    any input dtype; the blocks here are dictionary-sized.
    """
    A = np.asarray(A, dtype=np.float64)
    Z = None if B is A and symmetric else np.asarray(B, dtype=np.float64)
    K = np.asarray(to_numpy(KernelOperator(kernel, A, Z).to_dense()), dtype=np.float64)
    if symmetric:
        # Callable kernels need not return an exactly symmetric block.
        K = 0.5 * (K + K.T)
    return K


def _check_budget(size):
    check_fits(
        _MATRICES_PER_SHRINK * size * size * 8,
        f"A SQUEAK dictionary of {size} points (its dense kernel matrices)",
        hint="Or increase `regularization` (fewer points are relevant), lower `qbar` or "
        "`block_size`.",
    )


def _expand(state, start, block, kernel, qbar):
    """Expand: append a block of points with p = 1 and q = q̄ (``state`` may be empty)."""
    block = np.asarray(block, dtype=np.float64)
    b = block.shape[0]
    new_idx = np.arange(start, start + b, dtype=np.int64)
    Kbb = _kernel64(kernel, block, block, symmetric=True)
    if state[0] is None:
        _check_budget(b)
        return (new_idx, block, np.ones(b), np.full(b, qbar, dtype=np.int64), Kbb, state[1])
    idx, pts, p, q, K, n_clipped = state
    _check_budget(idx.shape[0] + b)
    Kdb = _kernel64(kernel, pts, block)
    K = np.block([[K, Kdb], [Kdb.T, Kbb]])
    return (
        np.concatenate([idx, new_idx]),
        np.concatenate([pts, block]),
        np.concatenate([p, np.ones(b)]),
        np.concatenate([q, np.full(b, qbar, dtype=np.int64)]),
        K,
        n_clipped,
    )


@_serial_blas
def _leaf(task, *, kernel, gamma, epsilon, qbar):
    """A DISQUEAK leaf: one block enters with p = 1, q = q̄ and is shrunk once."""
    start, block, seed = task
    rng = np.random.default_rng(seed)
    state = _expand((None, 0), start, block, kernel, qbar)
    state = _shrink(state, gamma, epsilon, qbar, rng)
    # Ship points, not the m×m kernel matrix: recomputing it costs O(m²d) ≪ the O(m³) Shrink.
    return state if state[0] is None else state[:4] + state[5:]


@_serial_blas
def _merge(left, right, seed, *, kernel, gamma, epsilon, qbar):
    """Dict-Merge: union of two dictionaries followed by the same Shrink."""
    if left[0] is None or right[0] is None:
        # An empty dictionary is an accurate sketch of its own rows (all their scores were
        # negligible), so the union is the other dictionary; its Shrink already happened.
        kept = right if left[0] is None else left
        other = left if left[0] is None else right
        return kept[:-1] + (kept[-1] + other[-1],)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([left[0], right[0]])
    pts = np.concatenate([left[1], right[1]])
    _check_budget(idx.shape[0])
    K = _kernel64(kernel, pts, pts, symmetric=True)
    state = (
        idx,
        pts,
        np.concatenate([left[2], right[2]]),
        np.concatenate([left[3], right[3]]),
        K,
        left[4] + right[4],
    )
    state = _shrink(state, gamma, epsilon, qbar, rng)
    return state if state[0] is None else state[:4] + state[5:]


@_serial_blas
def _squeak_pass(X, kernel, gamma, epsilon, qbar, block_size, rng, verbose):
    """The sequential Expand/Shrink loop; returns the final (shipped-form) state."""
    n = X.shape[0]
    state = (None, 0)
    start = 0
    bar = progress(total=n, verbose=verbose, desc="SQUEAK", unit="rows")
    while start < n:
        m = 0 if state[0] is None else state[0].shape[0]
        b = block_size if block_size is not None else max(_MIN_SEQUENTIAL_BLOCK, m)
        stop = min(start + b, n)
        state = _expand(state, start, X[start:stop], kernel, qbar)
        state = _shrink(state, gamma, epsilon, qbar, rng)
        bar.update(stop - start)
        bar.set_postfix(dictionary=0 if state[0] is None else state[0].shape[0])
        start = stop
    bar.close()
    root = state if state[0] is None else state[:4] + state[5:]
    return root


# --------------------------------------------------------------------------------------
# results


#: ``count_transfers`` key of SQUEAK's one copy of the points to the host.
TO_HOST = "squeak: points to the host (dictionary algebra runs there)"


def _as_host_points(X, name):
    # The dictionary algebra is small dense work on m×m matrices: it runs on the host,
    # and the points cross once.
    return to_numpy(check_points(X, name), TO_HOST)


@_serial_blas
def _result(root, X, kernel, gamma, epsilon, qbar):
    _warn_clipped(root[-1], stacklevel=4)
    if root[0] is None:
        raise EmptyDictionaryError(
            f"The SQUEAK dictionary became empty (regularization={gamma:.4g} is too large for "
            f"this kernel and data: every ridge leverage score is tiny). Decrease "
            f"`regularization` or increase `qbar`."
        )
    idx, pts, p, q, n_clipped = root[:5]
    order = np.argsort(idx, kind="stable")
    idx, pts, p, q = idx[order], pts[order], p[order], q[order]
    weights = q / (qbar * p)
    K = _kernel64(kernel, pts, pts, symmetric=True)
    scores, factor = _in_dictionary_scores(K, weights, gamma)
    # Σ s_i²·score_i = tr(M(M+γI)⁻¹), the effective dimension of the sketch itself.
    d_eff = float(np.sum(np.clip(weights * scores, 0.0, 1.0)))
    dictionary = SqueakDictionary(
        indices=idx,
        points=X[idx],
        probabilities=p,
        multiplicities=q,
        qbar=qbar,
        epsilon=epsilon,
        regularization=gamma,
        effective_dimension=d_eff,
        n_samples=X.shape[0],
        kernel=kernel,
        n_clipped=n_clipped,
    )
    dictionary._factor = factor
    return dictionary


def _warn_clipped(n_clipped, stacklevel=3):
    if n_clipped:
        warnings.warn(
            f"{n_clipped} ridge leverage score estimate(s) came out negative from round-off and "
            "were clipped to 0; regularization is close to the precision of the kernel matrix. "
            "Consider a larger `regularization`.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
