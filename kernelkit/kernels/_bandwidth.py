"""Kernel names, bandwidth rules and the one constructor every front end uses."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._backend import get_namespace
from .._utils._validation import check_points
from ._base import CallableKernel, Kernel, squared_distances
from ._radial import Cauchy, Gaussian, InverseMultiquadric, Laplacian, Matern

BANDWIDTH_RULES = ("median", "scale")

KERNELS = {
    "gaussian": Gaussian,
    "rbf": Gaussian,
    "laplacian": Laplacian,
    "matern": Matern,
    "cauchy": Cauchy,
    "imq": InverseMultiquadric,
}
#: Names accepted wherever a kernel is expected.
KERNEL_NAMES = tuple(KERNELS)


def estimate_bandwidth(X, rule="median", *, n_samples=1000, random_state=None):
    """Data-driven bandwidth.

    ``"median"``: median Euclidean distance between distinct pairs of a
    random sample of ``n_samples`` rows (the median heuristic).
    ``"scale"``: sqrt(n_features · Var(X)), the scale that scikit-learn's
    ``gamma="scale"`` implies for the Gaussian kernel (up to the factor 2).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import estimate_bandwidth
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> float(estimate_bandwidth(X, "median"))
    2.0
    """
    X = check_points(X, "X", min_samples=2)
    xp = get_namespace(X)
    if rule == "scale":
        value = float(np.sqrt(X.shape[1] * float(xp.var(X))))
    elif rule == "median":
        rng = check_random_state(random_state)
        n = X.shape[0]
        idx = np.sort(rng.choice(n, size=min(n, n_samples), replace=False))
        sample = X[xp.asarray(idx)] if xp is not np else X[idx]
        D2 = squared_distances(sample, sample)
        iu = np.triu_indices(sample.shape[0], k=1)
        dists = np.sqrt(np.asarray(D2.get() if xp is not np else D2, dtype=np.float64)[iu])
        dists = dists[dists > 0]
        value = float(np.median(dists)) if dists.size else 0.0
    else:
        raise ValueError(f"bandwidth rule must be one of {BANDWIDTH_RULES}; got {rule!r}.")
    if not value > 0:
        raise ValueError(
            f"The {rule!r} bandwidth rule gave {value} (are all rows of X identical?); "
            "pass a numeric bandwidth."
        )
    return value


def make_kernel(kernel="gaussian", bandwidth=None, *, X=None, random_state=None):
    """Build a ready-to-use kernel object from a name, an object or a callable.

    Parameters
    ----------
    kernel : str, Kernel or callable
        One of :data:`KERNEL_NAMES`, a :class:`Kernel` instance, or a
        function ``f(A, B)`` returning the kernel matrix.
    bandwidth : float, {"median", "scale"} or None
        Overrides the kernel object's own bandwidth when given; ``None``
        keeps it (1.0 for a kernel named by string).
    X : array of shape (n_samples, n_features), optional
        Data used to resolve a bandwidth rule.
    random_state : int, RandomState or None
        Seeds the sample of the ``"median"`` rule.

    Returns
    -------
    kernel : Kernel
        A kernel with a numeric bandwidth.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import make_kernel
    >>> make_kernel("laplacian", 2.5)
    Laplacian(bandwidth=2.5)
    >>> make_kernel("gaussian", "median", X=np.array([[0.0], [1.0], [3.0]]))
    Gaussian(bandwidth=2.0)
    """
    if isinstance(kernel, CallableKernel):  # no bandwidth to set or resolve
        return kernel
    if isinstance(kernel, Kernel):
        obj = kernel if bandwidth is None else kernel.with_bandwidth(bandwidth)
    elif isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"Unknown kernel {kernel!r}; known kernels are {KERNEL_NAMES}.")
        obj = KERNELS[kernel](bandwidth=1.0 if bandwidth is None else bandwidth)
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
    elif (
        isinstance(bw, bool)
        or not isinstance(bw, numbers.Real)
        or not (np.isfinite(bw) and bw > 0)
    ):
        raise ValueError(f"bandwidth must be a positive finite number; got {bw!r}.")
    return obj.resolve(X, random_state=random_state)
