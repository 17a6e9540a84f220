"""Center selection: how a kernel model picks its centers by name.

Kernel models take ``centers="uniform" | "squeak" | "kt"``; each selector has
the signature ``f(X, n_centers, *, kernel, random_state) -> indices into X``.
"""

import numpy as np
from sklearn.utils import check_random_state

from ._nystroem import select_centers as _leverage_centers
from ._thinning import kt_centers


def uniform_centers(X, n_centers, *, kernel=None, random_state=None):
    """Indices of ``n_centers`` rows drawn uniformly without replacement (sorted)."""
    rng = check_random_state(random_state)
    return np.sort(rng.choice(X.shape[0], size=n_centers, replace=False))


_SELECTORS = {
    "uniform": uniform_centers,
    "squeak": _leverage_centers,
    "kt": kt_centers,
}
#: Names accepted by :func:`select_centers`.
CENTER_SELECTORS = tuple(_SELECTORS)


def select_centers(method, X, n_centers, *, kernel, random_state=None):
    """Indices of the centers chosen by ``method`` (one of :data:`CENTER_SELECTORS`)."""
    if method not in _SELECTORS:
        raise ValueError(f"Unknown center selection {method!r}; known: {CENTER_SELECTORS}.")
    selector = _SELECTORS[method]
    return np.asarray(selector(X, n_centers, kernel=kernel, random_state=random_state))
