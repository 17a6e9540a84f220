"""SQUEAK and DISQUEAK ridge-leverage-score sampling.

Calandriello, Lazaric and Valko, "Distributed Adaptive Sampling for Kernel
Matrix Approximation" (AISTATS 2017). A weighted dictionary
D = {(i, p_i, q_i)} of points, with weights s_i² = q_i / (q̄·p_i), defines the
sketch K_S = Σ_{i∈D} s_i² φ(x_i)φ(x_i)ᵀ; it is ε-accurate when
(1−ε)(K+γI) ⪯ K_S + γI ⪯ (1+ε)(K+γI). SQUEAK keeps such a dictionary while
reading the data once, estimating every ridge leverage score (RLS)
τ_i = [K(K+γI)⁻¹]_ii from the dictionary alone, so it never forms K(X, X).

Numerics: every SQUEAK step works on small dense matrices (the dictionary
plus one block), which are computed in float64 whatever the input dtype,
because an RLS estimate is a difference of nearly equal numbers.
"""

import numbers
import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from .._backend import cpu
from .._config import get_config
from .._utils._parallel import block_slices, seed_sequence, tree_map_reduce
from .._utils._progress import progress
from .._utils._validation import check_points, check_positive_scalar
from ..kernels import Kernel, make_kernel
from ..linalg import KernelOperator

__all__ = [
    "SqueakDictionary",
    "disqueak",
    "effective_dimension",
    "ridge_leverage_scores",
    "squeak",
]

_MIB = 2**20
#: Default q̄. Theory asks for q̄ = O(α log(n/δ)/ε²), i.e. hundreds; in practice
#: 20 keeps ‖E‖₂ around 0.5–1 with about 8·d_eff distinct points (see docs/squeak.md).
DEFAULT_QBAR = 20
DEFAULT_EPSILON = 0.5
#: Leaf size of DISQUEAK and the smallest block SQUEAK expands by.
DEFAULT_BLOCK = 256
_MIN_SEQUENTIAL_BLOCK = 256
# Automatic γ for a target size: accept a dictionary within this factor, after at most this
# many DISQUEAK runs.
_SIZE_TOLERANCE = 1.2
_MAX_SIZE_RUNS = 5
# Dense float64 matrices of the dictionary's size alive during one Shrink
# (kernel matrix, its weighted copy, the factor).
_MATRICES_PER_SHRINK = 3


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

    Attributes
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
    _factor: object = field(default=None, repr=False)

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

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
        """
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
        return out

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
    K = np.asarray(kernel._block(np.asarray(A, np.float64), np.asarray(B, np.float64)))
    K = K.astype(np.float64, copy=False)
    if symmetric:
        # Callable kernels need not return an exactly symmetric block.
        K = 0.5 * (K + K.T)
    return K


def _check_budget(size, budget_mib):
    need = _MATRICES_PER_SHRINK * size * size * 8
    if need > budget_mib * _MIB:
        raise ValueError(
            f"The SQUEAK dictionary would hold {size} points, whose dense kernel matrices need "
            f"{need / _MIB:.0f} MiB, more than the memory budget working_memory="
            f"{budget_mib} MiB. Increase `regularization` (fewer points are relevant), lower "
            f"`qbar` or `block_size`, or raise the budget with "
            f"kernelkit.config_context(working_memory=...)."
        )


def _expand(state, start, block, kernel, qbar, budget):
    """Expand: append a block of points with p = 1 and q = q̄ (``state`` may be empty)."""
    block = np.asarray(block, dtype=np.float64)
    b = block.shape[0]
    new_idx = np.arange(start, start + b, dtype=np.int64)
    Kbb = _kernel64(kernel, block, block, symmetric=True)
    if state[0] is None:
        _check_budget(b, budget)
        return (new_idx, block, np.ones(b), np.full(b, qbar, dtype=np.int64), Kbb, state[1])
    idx, pts, p, q, K, n_clipped = state
    _check_budget(idx.shape[0] + b, budget)
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
def _leaf(task, *, kernel, gamma, epsilon, qbar, budget):
    """A DISQUEAK leaf: one block enters with p = 1, q = q̄ and is shrunk once."""
    start, block, seed = task
    rng = np.random.default_rng(seed)
    state = _expand((None, 0), start, block, kernel, qbar, budget)
    state = _shrink(state, gamma, epsilon, qbar, rng)
    # Ship points, not the m×m kernel matrix: recomputing it costs O(m²d) ≪ the O(m³) Shrink.
    return state if state[0] is None else state[:4] + state[5:]


@_serial_blas
def _merge(left, right, seed, *, kernel, gamma, epsilon, qbar, budget):
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
    _check_budget(idx.shape[0], budget)
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
def _squeak_pass(X, kernel, gamma, epsilon, qbar, block_size, rng, budget, verbose):
    """The sequential Expand/Shrink loop; returns the final (shipped-form) state."""
    n = X.shape[0]
    state = (None, 0)
    start = 0
    bar = progress(total=n, verbose=verbose, desc="SQUEAK", unit="rows")
    while start < n:
        m = 0 if state[0] is None else state[0].shape[0]
        b = block_size if block_size is not None else max(_MIN_SEQUENTIAL_BLOCK, m)
        stop = min(start + b, n)
        state = _expand(state, start, X[start:stop], kernel, qbar, budget)
        state = _shrink(state, gamma, epsilon, qbar, rng)
        bar.update(stop - start)
        bar.set_postfix(dictionary=0 if state[0] is None else state[0].shape[0])
        start = stop
    bar.close()
    root = state if state[0] is None else state[:4] + state[5:]
    return root


# --------------------------------------------------------------------------------------
# validation


def _as_host_points(X, name):
    X = check_points(X, name)
    if not isinstance(X, np.ndarray):  # CuPy: the dictionary algebra is small, run it on host
        X = X.get()
    return X


def _check_params(regularization, qbar, epsilon, block_size):
    gamma = check_positive_scalar(regularization, "regularization")
    if isinstance(qbar, bool) or not isinstance(qbar, numbers.Integral):
        raise TypeError(f"qbar must be an integer >= 1; got {type(qbar).__name__}.")
    if qbar < 1:
        raise ValueError(f"qbar must be an integer >= 1; got {qbar!r}.")
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
        raise TypeError(f"epsilon must be a real number in (0, 1); got {type(epsilon).__name__}.")
    if not 0.0 < float(epsilon) < 1.0:
        raise ValueError(f"epsilon must lie in the open interval (0, 1); got {epsilon!r}.")
    if block_size is not None:
        if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral):
            raise TypeError(f"block_size must be a positive integer or None; got {block_size!r}.")
        if block_size < 1:
            raise ValueError(f"block_size must be a positive integer or None; got {block_size!r}.")
    return gamma, int(qbar), float(epsilon)


def _prepare(X, kernel, bandwidth, random_state):
    X = _as_host_points(X, "X")
    return X, make_kernel(kernel, bandwidth, X=X)


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
    return SqueakDictionary(
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
        _factor=factor,
    )


def _warn_clipped(n_clipped, stacklevel=3):
    if n_clipped:
        warnings.warn(
            f"{n_clipped} ridge leverage score estimate(s) came out negative from round-off and "
            "were clipped to 0; regularization is close to the precision of the kernel matrix. "
            "Consider a larger `regularization`.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


# --------------------------------------------------------------------------------------
# public functions


def squeak(
    X,
    kernel,
    regularization,
    *,
    bandwidth=None,
    qbar=DEFAULT_QBAR,
    epsilon=DEFAULT_EPSILON,
    block_size=None,
    random_state=None,
    verbose=0,
):
    """Sequential SQUEAK: one pass over X keeping an ε-accurate weighted RLS dictionary.

    X is read in blocks. Expand adds a block with p_i = 1 and q_i = q̄; Shrink
    re-estimates every dictionary point's ridge leverage score from the
    dictionary alone, τ̃_i = ((1−ε)/γ)(k_ii − k_{D,i}ᵀ(K_DD + γ·diag(q̄p_j/q_j))⁻¹k_{D,i}),
    lowers p_i ← min(τ̃_i, p_i) and thins the copies q_i ← Binomial(q_i, p_new/p_old),
    dropping points with q_i = 0. Only kernel values among dictionary and block
    points are ever computed: O(n·m²) time and O(m²) memory for a dictionary
    of m points, never K(X, X).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data, read in row order.
    kernel : str, Kernel or callable
        Kernel name (see :data:`kernelkit.KERNEL_NAMES`), object or function.
    regularization : float
        Ridge γ > 0 of the leverage scores τ_i = [K(K+γI)⁻¹]_ii, on the scale of
        K's eigenvalues (it grows with n for a fixed relative accuracy).
    bandwidth : float or {"median", "scale"}, default=None
        Overrides the kernel's bandwidth.
    qbar : int, default=20
        Virtual copies q̄ of each point; the dictionary has about q̄·(1−ε)·d_eff
        points (fewer distinct ones) and its accuracy grows like 1/√q̄. The
        theory value O(α log(n/δ)/ε²) is in the hundreds; 20 is a practical default.
    epsilon : float, default=0.5
        Accuracy ε ∈ (0, 1) of the RLS estimator: estimates are scaled by (1 − ε)
        so that they under-estimate τ_i when the dictionary is ε-accurate.
    block_size : int, default=None
        Rows per Expand. ``None``: the larger of 256 and the current dictionary
        size, which balances kernel evaluations and factorisations.
    random_state : int, RandomState instance or None, default=None
        Seeds the binomial draws (and the ``"median"`` bandwidth rule).
    verbose : int, default=0
        Show a progress bar over blocks.

    Returns
    -------
    dictionary : SqueakDictionary

    Raises
    ------
    ValueError
        For ``regularization`` <= 0, ``epsilon`` outside (0, 1), ``qbar`` < 1, a
        dictionary that would exceed ``working_memory`` or that becomes empty.

    See Also
    --------
    disqueak : the same dictionary built by pairwise merges on joblib/Dask workers.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import squeak
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> d = squeak(X, "gaussian", regularization=1.0, random_state=0)
    >>> bool(0 < len(d) < 300), d.points.shape[1]
    (True, 2)
    >>> bool(np.all(d.multiplicities >= 1))
    True
    """
    gamma, qbar, epsilon = _check_params(regularization, qbar, epsilon, block_size)
    X, kernel = _prepare(X, kernel, bandwidth, random_state)
    rng = np.random.default_rng(seed_sequence(random_state))
    root = _squeak_pass(
        X, kernel, gamma, epsilon, qbar, block_size, rng, get_config()["working_memory"], verbose
    )
    return _result(root, X, kernel, gamma, epsilon, qbar)


def disqueak(
    X,
    kernel,
    regularization,
    *,
    bandwidth=None,
    qbar=DEFAULT_QBAR,
    epsilon=DEFAULT_EPSILON,
    block_size=None,
    n_jobs=None,
    random_state=None,
    verbose=0,
):
    """DISQUEAK: SQUEAK dictionaries of blocks merged pairwise up a balanced tree.

    X is cut into consecutive leaves of ``block_size`` rows; each leaf enters
    with p = 1, q = q̄ and is shrunk once. Pairs of dictionaries are then merged
    level by level (union, then the same Shrink as :func:`squeak`) until one
    is left, O(log(n/block_size)) levels deep. Leaves and merges run through
    joblib, so ``joblib.parallel_config(backend="dask")`` spreads them over a
    Dask cluster. Every leaf and merge draws from its own child of one
    ``SeedSequence``, fixed by its place in the tree: for a given
    ``random_state`` the output is identical for any ``n_jobs`` or backend.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    kernel : str, Kernel or callable
    regularization : float
        Ridge γ > 0 (see :func:`squeak`).
    bandwidth : float or {"median", "scale"}, default=None
    qbar : int, default=20
    epsilon : float, default=0.5
    block_size : int, default=None
        Rows per leaf; ``None`` means 256 (small leaves are cheap: a leaf costs
        O(block_size³)). Sets the tree, hence the result.
    n_jobs : int, default=None
        joblib workers per tree level (``None``: joblib's context).
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Progress bars over leaves and tree levels.

    Returns
    -------
    dictionary : SqueakDictionary

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import disqueak
    >>> X = np.random.default_rng(0).normal(size=(400, 2))
    >>> a = disqueak(X, "gaussian", 1.0, block_size=100, n_jobs=1, random_state=0)
    >>> b = disqueak(X, "gaussian", 1.0, block_size=100, n_jobs=2, random_state=0)
    >>> bool(np.array_equal(a.indices, b.indices))
    True
    """
    gamma, qbar, epsilon = _check_params(regularization, qbar, epsilon, block_size)
    X, kernel = _prepare(X, kernel, bandwidth, random_state)
    block_size = DEFAULT_BLOCK if block_size is None else int(block_size)
    params = dict(
        kernel=kernel,
        gamma=gamma,
        epsilon=epsilon,
        qbar=qbar,
        budget=get_config()["working_memory"],
    )
    leaf_seeds, merge_seeds = seed_sequence(random_state).spawn(2)
    slices = block_slices(X.shape[0], block_size)
    tasks = [
        (sl.start, X[sl], seed)
        for sl, seed in zip(slices, leaf_seeds.spawn(len(slices)), strict=True)
    ]
    root = tree_map_reduce(
        partial(_leaf, **params),
        tasks,
        partial(_merge, **params),
        seeds=merge_seeds,
        n_jobs=n_jobs,
        verbose=verbose,
        desc="DISQUEAK",
    )
    return _result(root, X, kernel, gamma, epsilon, qbar)


def ridge_leverage_scores(
    X,
    kernel,
    regularization,
    *,
    method="exact",
    bandwidth=None,
    qbar=DEFAULT_QBAR,
    epsilon=DEFAULT_EPSILON,
    block_size=None,
    n_jobs=None,
    random_state=None,
):
    """Ridge leverage scores τ_i(γ) = [K(K + γI)⁻¹]_ii of every row of X.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    kernel : str, Kernel or callable
    regularization : float
        Ridge γ > 0.
    method : {"exact", "squeak"}, default="exact"
        ``"exact"`` factors the dense K + γI (O(n³); n² float64 values must fit
        twice in ``working_memory``). ``"squeak"`` builds a :func:`disqueak`
        dictionary and estimates every score from it,
        φ(x_i)ᵀ(K_S + γI)⁻¹φ(x_i), in O(n·m²): within [τ/(1+ε), τ/(1−ε)] when the
        dictionary is ε-accurate.
    bandwidth, qbar, epsilon, block_size, n_jobs, random_state
        As in :func:`disqueak` (used by ``method="squeak"``; ``random_state``
        also seeds a ``"median"`` bandwidth).

    Returns
    -------
    scores : ndarray of shape (n_samples,), float64, each in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import ridge_leverage_scores
    >>> X = np.array([[0.0], [0.0], [10.0]])
    >>> ridge_leverage_scores(X, "gaussian", 1.0).round(3)
    array([0.333, 0.333, 0.5  ])
    """
    if method not in ("exact", "squeak"):
        raise ValueError(f"method must be 'exact' or 'squeak'; got {method!r}.")
    if method == "squeak":
        d = disqueak(
            X,
            kernel,
            regularization,
            bandwidth=bandwidth,
            qbar=qbar,
            epsilon=epsilon,
            block_size=block_size,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        return d.leverage_scores(X)
    gamma = check_positive_scalar(regularization, "regularization")
    X, kernel = _prepare(X, kernel, bandwidth, random_state)
    n = X.shape[0]
    budget = get_config()["working_memory"]
    if 2 * n * n * 8 > budget * _MIB:
        raise ValueError(
            f"method='exact' needs the dense {n}x{n} kernel matrix ({2 * n * n * 8 / _MIB:.0f} "
            f"MiB with its factor), more than working_memory={budget} MiB. Use "
            f"method='squeak', or raise the budget with kernelkit.config_context."
        )
    K = _kernel64(kernel, X, X, symmetric=True)
    factor = _Factor(K, gamma)
    scores = 1.0 - gamma * factor.inverse_diagonal()
    _warn_clipped(int(np.count_nonzero(scores < 0)))
    return np.clip(scores, 0.0, 1.0)


def effective_dimension(X, kernel, regularization, **kwargs):
    """Effective dimension d_eff(γ) = tr(K(K + γI)⁻¹) = Σ_i τ_i(γ).

    Parameters
    ----------
    X, kernel, regularization
        As in :func:`ridge_leverage_scores`.
    **kwargs
        Passed to :func:`ridge_leverage_scores` (``method="exact"`` or
        ``"squeak"``, ``qbar``, ...).

    Returns
    -------
    d_eff : float

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import effective_dimension
    >>> X = np.array([[0.0], [0.0], [10.0]])
    >>> round(effective_dimension(X, "gaussian", 1.0), 4)
    1.1667
    """
    return float(np.sum(ridge_leverage_scores(X, kernel, regularization, **kwargs)))
