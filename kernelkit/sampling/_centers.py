"""Center selection: how a kernel model picks its centers by name.

Kernel models take ``centers="uniform" | "squeak" | "kt"``; each selector has
the signature ``f(X, n_centers, *, kernel, random_state) -> indices into X``.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._utils._sklearn_compat import Interval, StrOptions, validate_params
from ._nystroem import select_centers as _leverage_centers
from ._params import KERNEL_CONSTRAINT
from ._thinning import kt_centers


@validate_params(
    {
        "X": ["array-like"],
        "n_centers": [Interval(numbers.Integral, 1, None, closed="left")],
        "kernel": KERNEL_CONSTRAINT + [None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def uniform_centers(X, n_centers, *, kernel=None, random_state=None):
    """Indices of ``n_centers`` rows drawn uniformly without replacement (sorted).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The points (only their number matters).
    n_centers : int
        How many rows to draw, at most n_samples.
    kernel : str, Kernel, callable or None, default=None
        Ignored; present so that every selector has the same signature.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    Returns
    -------
    indices : ndarray of shape (n_centers,)
        Sorted distinct row indices.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.sampling import uniform_centers
    >>> uniform_centers(np.zeros((10, 2)), 3, random_state=0).shape
    (3,)
    """
    n = len(X)
    if n_centers > n:
        raise ValueError(f"n_centers must be at most the number of rows ({n}); got {n_centers}.")
    rng = check_random_state(random_state)
    return np.sort(rng.choice(n, size=n_centers, replace=False))


_SELECTORS = {
    "uniform": uniform_centers,
    "squeak": _leverage_centers,
    "kt": kt_centers,
}
#: Names accepted by :func:`select_centers`.
CENTER_SELECTORS = tuple(_SELECTORS)


@validate_params(
    {
        "method": [StrOptions(set(CENTER_SELECTORS))],
        "X": ["array-like"],
        "n_centers": [Interval(numbers.Integral, 1, None, closed="left")],
        "kernel": KERNEL_CONSTRAINT,
        "random_state": ["random_state", np.random.Generator],
    },
    prefer_skip_nested_validation=True,
)
def select_centers(method, X, n_centers, *, kernel, random_state=None):
    """Indices of the centers chosen by ``method`` (one of :data:`CENTER_SELECTORS`).

    Parameters
    ----------
    method : {"uniform", "squeak", "kt"}
        Uniform sampling, ridge-leverage-score sampling (SQUEAK) or kernel thinning.
    X : array-like of shape (n_samples, n_features)
        The points to choose from.
    n_centers : int
        Requested number of centers; "squeak" and "kt" return about that many.
    kernel : str, Kernel or callable
        The model's kernel ("squeak" and "kt" choose with it).
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the selection.

    Returns
    -------
    indices : ndarray
        Row indices into X.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Gaussian
    >>> from kernelkit.sampling import select_centers
    >>> X = np.random.default_rng(0).normal(size=(256, 2))
    >>> select_centers("kt", X, 16, kernel=Gaussian(1.0), random_state=0).shape
    (16,)
    """
    selector = _SELECTORS[method]
    return np.asarray(selector(X, n_centers, kernel=kernel, random_state=random_state))
