"""SQUEAK and DISQUEAK front ends: ridge leverage scores and effective dimension.

Calandriello, Lazaric and Valko, "Distributed Adaptive Sampling for Kernel
Matrix Approximation" (AISTATS 2017). The dictionary algebra (Expand, Shrink,
Dict-Merge) is in :mod:`._squeak_core`; this module validates the
parameters, runs the sequential pass or the merge tree, and wraps the root.
"""

import numbers
from functools import partial

import numpy as np
from sklearn.utils import gen_batches

from .._utils._device import to_device, to_host
from .._utils._parallel import seed_sequence, tree_map_reduce
from .._utils._sklearn_compat import Interval, StrOptions, validate_params
from .._utils._validation import check_points, check_positive_scalar
from ..kernels import make_kernel
from ..linalg._budget import check_fits
from ._params import BANDWIDTH_CONSTRAINT, KERNEL_CONSTRAINT
from ._squeak_core import (
    TO_HOST,
    EmptyDictionaryError,
    SqueakDictionary,
    _as_host_points,
    _Factor,
    _kernel64,
    _leaf,
    _merge,
    _result,
    _squeak_pass,
    _warn_clipped,
)

__all__ = [
    "EmptyDictionaryError",
    "SqueakDictionary",
    "disqueak",
    "effective_dimension",
    "ridge_leverage_scores",
    "squeak",
]

#: Default q̄. Theory asks for q̄ = O(α log(n/δ)/ε²), i.e. hundreds; in practice
#: 20 keeps ‖E‖₂ around 0.5–1 with about 8·d_eff distinct points (see docs/squeak.md).
DEFAULT_QBAR = 20
DEFAULT_EPSILON = 0.5
#: Leaf size of DISQUEAK.
DEFAULT_BLOCK = 256
# Automatic γ for a target size: accept a dictionary within this factor, after at most this
# many DISQUEAK runs.
_SIZE_TOLERANCE = 1.2
_MAX_SIZE_RUNS = 5

_COMMON = {
    "X": ["array-like"],
    "kernel": KERNEL_CONSTRAINT,
    "regularization": [Interval(numbers.Real, 0, None, closed="neither")],
    "bandwidth": BANDWIDTH_CONSTRAINT,
    "qbar": [Interval(numbers.Integral, 1, None, closed="left")],
    "epsilon": [Interval(numbers.Real, 0, 1, closed="neither")],
    "block_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
    # A SeedSequence is how LeverageNystroem hands each size-search run its own seed.
    "random_state": ["random_state", np.random.SeedSequence],
}
_TREE = {**_COMMON, "n_jobs": [numbers.Integral, None]}


def _prepare(X, kernel, bandwidth, regularization):
    """Host points, the resolved kernel and γ as a float (finite: checked here)."""
    X = _as_host_points(X, "X")
    gamma = check_positive_scalar(regularization, "regularization")
    return X, make_kernel(kernel, bandwidth, X=X), gamma


# --------------------------------------------------------------------------------------
# public functions


@validate_params({**_COMMON, "verbose": ["verbose"]}, prefer_skip_nested_validation=True)
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
        Bandwidth or rule resolved on X; ``None``: the median rule (deterministic)
        for a kernel given by name, the object's own bandwidth otherwise.
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
    random_state : int, RandomState instance, SeedSequence or None, default=None
        Seeds the binomial draws.
    verbose : int, default=0
        Show a progress bar over blocks.

    Returns
    -------
    dictionary : SqueakDictionary
        The final dictionary.

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
    X, kernel, gamma = _prepare(X, kernel, bandwidth, regularization)
    rng = np.random.default_rng(seed_sequence(random_state))
    root = _squeak_pass(X, kernel, gamma, float(epsilon), int(qbar), block_size, rng, verbose)
    return _result(root, X, kernel, gamma, float(epsilon), int(qbar))


@validate_params({**_TREE, "verbose": ["verbose"]}, prefer_skip_nested_validation=True)
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
        Data; leaves are consecutive row blocks.
    kernel : str, Kernel or callable
        Kernel name (see :data:`kernelkit.KERNEL_NAMES`), object or function.
    regularization : float
        Ridge γ > 0 (see :func:`squeak`).
    bandwidth : float or {"median", "scale"}, default=None
        Bandwidth or rule resolved on X; ``None``: the median rule (deterministic)
        for a kernel given by name, the object's own bandwidth otherwise.
    qbar : int, default=20
        Virtual copies of each point (see :func:`squeak`).
    epsilon : float, default=0.5
        Accuracy ε ∈ (0, 1) of the RLS estimator (see :func:`squeak`).
    block_size : int, default=None
        Rows per leaf; ``None`` means 256 (small leaves are cheap: a leaf costs
        O(block_size³)). Sets the tree, hence the result.
    n_jobs : int, default=None
        joblib workers per tree level (``None``: joblib's context).
    random_state : int, RandomState instance, SeedSequence or None, default=None
        Root of the seed tree of the leaves' and merges' draws.
    verbose : int, default=0
        Progress bars over leaves and tree levels.

    Returns
    -------
    dictionary : SqueakDictionary
        The root's dictionary.

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
    X, kernel, gamma = _prepare(X, kernel, bandwidth, regularization)
    qbar, epsilon = int(qbar), float(epsilon)
    block_size = DEFAULT_BLOCK if block_size is None else int(block_size)
    # The workers run under the caller's configuration (budget, engine): the tree's
    # tasks carry it.
    params = dict(kernel=kernel, gamma=gamma, epsilon=epsilon, qbar=qbar)
    leaf_seeds, merge_seeds = seed_sequence(random_state).spawn(2)
    slices = list(gen_batches(X.shape[0], block_size))
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


@validate_params(
    {**_TREE, "method": [StrOptions({"exact", "squeak"})]}, prefer_skip_nested_validation=True
)
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
        Data.
    kernel : str, Kernel or callable
        Kernel name (see :data:`kernelkit.KERNEL_NAMES`), object or function.
    regularization : float
        Ridge γ > 0.
    method : {"exact", "squeak"}, default="exact"
        ``"exact"`` factors the dense K + γI (O(n³); n² float64 values must fit
        twice in ``working_memory``). ``"squeak"`` builds a :func:`disqueak`
        dictionary and estimates every score from it,
        φ(x_i)ᵀ(K_S + γI)⁻¹φ(x_i), in O(n·m²): within [τ/(1+ε), τ/(1−ε)] when the
        dictionary is ε-accurate.
    bandwidth, qbar, epsilon, block_size, n_jobs, random_state
        As in :func:`disqueak` (all but ``bandwidth`` are used by
        ``method="squeak"`` only).

    Returns
    -------
    scores : ndarray of shape (n_samples,), float64
        The scores, each in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import ridge_leverage_scores
    >>> X = np.array([[0.0], [0.0], [10.0]])
    >>> ridge_leverage_scores(X, "gaussian", 1.0, bandwidth=1.0).round(3)
    array([0.333, 0.333, 0.5  ])
    """
    xp, (X,) = to_host(TO_HOST, check_points(X, "X"))
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
        return to_device(xp, d.leverage_scores(X))
    X, kernel, gamma = _prepare(X, kernel, bandwidth, regularization)
    n = X.shape[0]
    check_fits(
        2 * n * n * 8,
        f"method='exact' on {n} points (the dense {n}x{n} kernel matrix and its factor)",
        hint="Or use method='squeak'.",
    )
    K = _kernel64(kernel, X, X, symmetric=True)
    factor = _Factor(K, gamma)
    scores = 1.0 - gamma * factor.inverse_diagonal()
    _warn_clipped(int(np.count_nonzero(scores < 0)))
    return to_device(xp, np.clip(scores, 0.0, 1.0))


@validate_params(
    {**_TREE, "method": [StrOptions({"exact", "squeak"})]}, prefer_skip_nested_validation=True
)
def effective_dimension(
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
    """Effective dimension d_eff(γ) = tr(K(K + γI)⁻¹) = Σ_i τ_i(γ).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    kernel : str, Kernel or callable
        Kernel name, object or function.
    regularization : float
        Ridge γ > 0.
    method : {"exact", "squeak"}, default="exact"
        How the leverage scores are computed (see :func:`ridge_leverage_scores`).
    bandwidth : float or {"median", "scale"}, default=None
        Bandwidth or rule resolved on X; ``None``: the median rule for a kernel
        given by name, the object's own bandwidth otherwise.
    qbar : int, default=20
        Virtual copies per point (``method="squeak"``).
    epsilon : float, default=0.5
        Accuracy of the RLS estimator (``method="squeak"``).
    block_size : int, default=None
        DISQUEAK leaf size (``method="squeak"``).
    n_jobs : int, default=None
        joblib workers (``method="squeak"``).
    random_state : int, RandomState instance, SeedSequence or None, default=None
        Seeds DISQUEAK's draws (``method="squeak"``).

    Returns
    -------
    d_eff : float
        The sum of the ridge leverage scores.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import effective_dimension
    >>> X = np.array([[0.0], [0.0], [10.0]])
    >>> round(effective_dimension(X, "gaussian", 1.0, bandwidth=1.0), 4)
    1.1667
    """
    scores = ridge_leverage_scores(
        to_host(TO_HOST, check_points(X, "X"))[1][0],
        kernel,
        regularization,
        method=method,
        bandwidth=bandwidth,
        qbar=qbar,
        epsilon=epsilon,
        block_size=block_size,
        n_jobs=n_jobs,
        random_state=random_state,
    )
    return float(np.sum(scores))
