"""Kernel names, bandwidth rules and the one constructor every front end uses."""

from numbers import Integral, Real

import numpy as np

from .._backend import get_namespace
from .._utils._sklearn_compat import Interval, StrOptions, validate_params
from .._utils._validation import check_points
from ._base import CallableKernel, Kernel, squared_distances
from ._l1 import L1Laplacian, l1_distances
from ._radial import Cauchy, Gaussian, InverseMultiquadric, Laplacian, Matern

BANDWIDTH_RULES = ("median", "scale")
#: Distances a bandwidth rule can measure (a kernel's ``metric``).
METRICS = ("euclidean", "manhattan")

KERNELS = {
    "gaussian": Gaussian,
    "rbf": Gaussian,
    "laplacian": Laplacian,
    "laplacian_l1": L1Laplacian,
    "matern": Matern,
    "cauchy": Cauchy,
    "imq": InverseMultiquadric,
}
#: Names accepted wherever a kernel is expected.
KERNEL_NAMES = tuple(KERNELS)


#: Constraint (for ``validate_params`` / ``_parameter_constraints``) of a ``kernel`` argument.
KERNEL_CONSTRAINT = [StrOptions(set(KERNELS)), Kernel, callable]
#: Constraint of a ``bandwidth`` argument: a positive number, a rule, or None (the default rule).
BANDWIDTH_CONSTRAINT = [
    Interval(Real, 0, None, closed="neither"),
    StrOptions(set(BANDWIDTH_RULES)),
    None,
]

# The median rule looks at a subsample of this seed when X has more rows than
# n_samples: the same data always gives the same bandwidth, whatever random_state
# the caller uses elsewhere.
_MEDIAN_SEED = 0


def scale_rule(variance, n_features, metric="euclidean"):
    """The ``"scale"`` bandwidth from the variance of all entries of X (see estimate_bandwidth)."""
    if metric == "manhattan":
        return float(n_features * np.sqrt(variance))
    return float(np.sqrt(n_features * variance))


@validate_params(
    {
        "X": ["array-like"],
        "rule": [StrOptions(set(BANDWIDTH_RULES))],
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "metric": [StrOptions(set(METRICS))],
    },
    prefer_skip_nested_validation=True,
)
def estimate_bandwidth(X, rule="median", *, n_samples=1000, metric="euclidean"):
    """Data-driven bandwidth, measured in the kernel's metric.

    ``"median"``: median distance between distinct pairs of rows (the median
    heuristic), over all rows when X has at most ``n_samples`` of them, else
    over ``n_samples`` rows drawn by a generator of fixed seed, so that the
    rule is deterministic. ``"scale"``: the length of a vector whose every
    coordinate is the standard deviation of X's entries: sqrt(n_features ·
    Var(X)) in the Euclidean metric, the scale that scikit-learn's
    ``gamma="scale"`` implies for the Gaussian kernel (up to the factor 2);
    n_features · sqrt(Var(X)) in the Manhattan metric, which for unit-variance
    data is the bandwidth of scikit-learn's ``laplacian_kernel`` default
    (gamma = 1 / n_features).

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Data (NumPy or CuPy), at least two rows.
    rule : {"median", "scale"}, default="median"
        The rule.
    n_samples : int, default=1000
        Rows the median rule looks at (at least 2); its cost is quadratic in it.
    metric : {"euclidean", "manhattan"}, default="euclidean"
        The distance the rule measures: a kernel's ``metric`` attribute
        (``"manhattan"`` for :class:`L1Laplacian`).

    Returns
    -------
    bandwidth : float
        Positive.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import estimate_bandwidth
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> float(estimate_bandwidth(X, "median"))
    2.0
    >>> Y = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]])
    >>> float(estimate_bandwidth(Y, "median", metric="manhattan"))  # of 2, 3 and 3
    3.0
    """
    X = check_points(X, "X", min_samples=2)
    xp = get_namespace(X)
    if rule == "scale":
        value = scale_rule(float(xp.var(X)), X.shape[1], metric)
    else:
        n = X.shape[0]
        sample = X
        if n > n_samples:
            idx = np.sort(np.random.default_rng(_MEDIAN_SEED).choice(n, n_samples, replace=False))
            sample = X[xp.asarray(idx)] if xp is not np else X[idx]
        distances = l1_distances if metric == "manhattan" else squared_distances
        D = distances(sample, sample)
        # The median is taken where the distances live: only the scalar comes back.
        iu = xp.triu_indices(sample.shape[0], k=1)
        dists = D[iu].astype(xp.float64)
        if metric != "manhattan":
            dists = xp.sqrt(dists)
        dists = dists[dists > 0]
        value = float(xp.median(dists)) if dists.size else 0.0
    if not value > 0:
        raise ValueError(
            f"The {rule!r} bandwidth rule gave {value} (are all rows of X identical?); "
            "pass a numeric bandwidth."
        )
    return value


@validate_params(
    {"kernel": KERNEL_CONSTRAINT, "bandwidth": BANDWIDTH_CONSTRAINT, "X": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def make_kernel(kernel="gaussian", bandwidth=None, *, X=None):
    """Build a ready-to-use kernel object from a name, an object or a callable.

    The one meaning of ``bandwidth=None`` in kernelkit: a kernel given by name
    gets the ``"median"`` rule on ``X``; a :class:`Kernel` object keeps its own
    bandwidth. A number or a rule overrides either.

    Parameters
    ----------
    kernel : str, Kernel or callable, default="gaussian"
        One of :data:`KERNEL_NAMES`, a :class:`Kernel` instance, or a
        function ``f(A, B)`` returning the kernel matrix.
    bandwidth : float, {"median", "scale"} or None, default=None
        A positive number, or a rule resolved on ``X`` (see
        :func:`estimate_bandwidth`); ``None`` as described above.
    X : array-like of shape (n_samples, n_features), default=None
        Data used to resolve a bandwidth rule.

    Returns
    -------
    kernel : Kernel
        A kernel with a numeric bandwidth.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Gaussian, make_kernel
    >>> make_kernel("laplacian", 2.5)
    Laplacian(bandwidth=2.5)
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> make_kernel("gaussian", X=X)
    Gaussian(bandwidth=2.0)
    >>> make_kernel(Gaussian(0.5), X=X)
    Gaussian(bandwidth=0.5)
    """
    if isinstance(kernel, CallableKernel):  # no bandwidth to set or resolve
        return kernel
    if isinstance(kernel, Kernel):
        obj = kernel if bandwidth is None else kernel.with_bandwidth(bandwidth)
    elif isinstance(kernel, str):
        # Checked here too: callers that validated their own parameters skip ours.
        if kernel not in KERNELS:
            raise ValueError(f"Unknown kernel {kernel!r}; known kernels are {KERNEL_NAMES}.")
        if bandwidth is None and X is None:
            raise ValueError(
                f"kernel={kernel!r} with bandwidth=None uses the 'median' rule, which needs "
                "data X; pass X or a numeric bandwidth."
            )
        obj = KERNELS[kernel](bandwidth="median" if bandwidth is None else bandwidth)
    elif callable(kernel):
        return CallableKernel(kernel)
    else:
        raise TypeError(
            f"kernel must be a name in {KERNEL_NAMES}, a kernelkit Kernel or a callable; "
            f"got {type(kernel).__name__}."
        )
    bw = obj.bandwidth
    if isinstance(bw, str):
        if bw not in BANDWIDTH_RULES:
            raise ValueError(
                f"bandwidth must be a positive number or one of {BANDWIDTH_RULES}; got {bw!r}."
            )
    elif isinstance(bw, bool) or not isinstance(bw, Real) or not (np.isfinite(bw) and bw > 0):
        raise ValueError(f"bandwidth must be a positive finite number; got {bw!r}.")
    return obj.resolve(X)
