"""The one place where kernelkit imports scikit-learn's private names.

scikit-learn documents ``validate_params``, ``Interval`` and ``StrOptions``
for use by its own estimators only; they change between minor releases,
which is why ``pyproject.toml`` pins the minor series. Importing them here
alone means a new release needs one module checked, not the whole package.
"""

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    Options,
    RealNotInt,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _num_samples

__all__ = [
    "Hidden",
    "Interval",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_fit_context",
    "_num_samples",
    "_safe_indexing",
    "validate_params",
]
