"""Center-selection registry: how an estimator picks its model centers by name.

Kernel models (EigenPro) take ``centers="uniform" | "squeak" | "kt"``. The
samplers live in estimator-level modules, which must not import each other,
so the registry names them by module path and imports on first use.
"""

import importlib

import numpy as np
from sklearn.utils import check_random_state

# name -> "module:function"; each function has the signature
# f(X, n_centers, *, kernel, random_state) -> integer indices into X.
_SELECTORS = {
    "uniform": "kernelkit._centers:uniform_centers",
    "squeak": "kernelkit.squeak:select_centers",
    "kt": "kernelkit.thinning:select_centers",
}
CENTER_SELECTORS = tuple(_SELECTORS)


def uniform_centers(X, n_centers, *, kernel=None, random_state=None):
    """Indices of ``n_centers`` rows drawn uniformly without replacement (sorted)."""
    rng = check_random_state(random_state)
    return np.sort(rng.choice(X.shape[0], size=n_centers, replace=False))


def select_centers(method, X, n_centers, *, kernel, random_state=None):
    """Indices of the centers chosen by ``method`` (one of :data:`CENTER_SELECTORS`)."""
    if method not in _SELECTORS:
        raise ValueError(f"Unknown center selection {method!r}; known: {CENTER_SELECTORS}.")
    module, func = _SELECTORS[method].split(":")
    selector = getattr(importlib.import_module(module), func)
    indices = np.asarray(selector(X, n_centers, kernel=kernel, random_state=random_state))
    return indices
