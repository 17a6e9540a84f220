"""Input checks shared by every public function.

Functions here raise ``ValueError``/``TypeError`` whose message names the
argument; they never modify their inputs and never change a floating dtype.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from .._backend import get_namespace

FLOAT_DTYPES = (np.float64, np.float32)


def check_points(X, name="X", *, dtype=FLOAT_DTYPES, allow_nan=False, min_samples=1, copy=False):
    """Validate a 2-D array of points (NumPy or CuPy); keep float32 as float32.

    Integer and boolean input is converted to float64; complex, object and
    string input raises ``TypeError``/``ValueError`` naming ``name``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The points.
    name : str, default="X"
        Name used in error messages.
    dtype : tuple of dtypes, default=(np.float64, np.float32)
        Accepted floating dtypes; others convert to the first.
    allow_nan : bool, default=False
        Accept NaN (never infinity).
    min_samples : int, default=1
        Fewest rows accepted.
    copy : bool, default=False
        Always return a copy.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The validated array (the input itself when it was already valid).
    """
    xp = get_namespace(X)
    if xp is not np:
        return _check_device_points(X, name, xp, allow_nan=allow_nan, min_samples=min_samples)
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind == "c":
        raise TypeError(f"{name} must be real-valued; got complex dtype {X.dtype}.")
    ndim = getattr(X, "ndim", None)
    if ndim is not None and ndim != 2 and not sp.issparse(X):
        hint = f" (one feature: {name}.reshape(-1, 1))" if ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got ndim={ndim}{hint}.")
    if ndim == 2 and X.shape[0] < min_samples:
        raise ValueError(
            f"{name} has {X.shape[0]} sample(s) (shape {tuple(X.shape)}); at least "
            f"{min_samples} needed."
        )
    try:
        return check_array(
            X,
            dtype=dtype,
            ensure_all_finite="allow-nan" if allow_nan else True,
            ensure_min_samples=min_samples,
            input_name=name,
            copy=copy,
        )
    except ValueError as exc:
        if name in str(exc):
            raise
        # scikit-learn's messages for strings, ragged lists and the like omit the name.
        raise ValueError(f"{name}: {exc}") from exc


def validate_points(estimator, X, *, reset, min_samples=1):
    """``validate_data`` for NumPy/pandas points, :func:`check_points` for CuPy points.

    scikit-learn's checks call ``numpy.asarray``, which CuPy refuses; device
    points get the same checks (2-D, finite, floating) on the device and set
    ``n_features_in_`` the same way.

    Parameters
    ----------
    estimator : BaseEstimator
        Receives ``n_features_in_`` (and ``feature_names_in_``) when ``reset``.
    X : array-like of shape (n_samples, n_features)
        NumPy/pandas or CuPy points; float32 stays float32.
    reset : bool
        True in fit, False in predict/transform (then the feature count must match).
    min_samples : int, default=1
        Fewest rows accepted.

    Returns
    -------
    X : ndarray
        The validated points, in the namespace they came in (not copied when valid).
    """
    if get_namespace(X) is np:
        return validate_data(
            estimator, X, reset=reset, dtype=FLOAT_DTYPES, ensure_min_samples=min_samples
        )
    X = check_points(X, "X", min_samples=min_samples)
    if reset:
        estimator.n_features_in_ = X.shape[1]
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X


def _check_device_points(X, name, xp, *, allow_nan, min_samples):
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got ndim={X.ndim}.")
    if X.shape[0] < min_samples or X.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {tuple(X.shape)}.")
    if X.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued; got complex dtype {X.dtype}.")
    if X.dtype not in (xp.float32, xp.float64):
        X = X.astype(xp.float64)
    if not allow_nan and not bool(xp.isfinite(X).all()):
        raise ValueError(f"Input {name} contains NaN or infinity.")
    return X


def check_vector_block(V, n_rows, name="v", dtype=None):
    """Validate the right-hand side of a kernel product: shape (n_rows,) or (n_rows, k).

    Parameters
    ----------
    V : array-like of shape (n_rows,) or (n_rows, k)
        The vector or block.
    n_rows : int
        Rows it must have (the operator's columns).
    name : str, default="v"
        Name used in error messages.
    dtype : dtype, default=None
        Convert to this dtype when given.

    Returns
    -------
    V : ndarray of shape (n_rows,) or (n_rows, k)
        The validated array.
    """
    xp = get_namespace(V)
    if xp is np:
        V = np.asarray(V)
        if V.dtype.kind not in "fiub":
            raise TypeError(f"{name} must be numeric; got dtype {V.dtype}.")
    if V.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D; got ndim={V.ndim}.")
    if V.shape[0] != n_rows:
        raise ValueError(f"{name} has {V.shape[0]} rows but the operator has {n_rows} columns.")
    if dtype is not None and V.dtype != dtype:
        V = V.astype(dtype)
    if not bool(xp.isfinite(V).all()):
        raise ValueError(f"{name} contains NaN or infinity.")
    return V


def check_positive_scalar(value, name, *, allow_zero=False):
    """Return ``value`` as float after checking it is a finite positive real number.

    Parameters
    ----------
    value : float
        The number.
    name : str
        Name used in error messages.
    allow_zero : bool, default=False
        Accept 0.

    Returns
    -------
    value : float
        ``float(value)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value!r}.")
    return value


def check_same_features(X, Z, x_name="X", z_name="Z"):
    """Raise a ``ValueError`` naming both arrays when their feature counts differ.

    Parameters
    ----------
    X, Z : array of shape (n, n_features)
        The two point sets.
    x_name : str, default="X"
        Name of ``X`` in the message.
    z_name : str, default="Z"
        Name of ``Z`` in the message.
    """
    if X.shape[1] != Z.shape[1]:
        raise ValueError(
            f"{x_name} has {X.shape[1]} features but {z_name} has {Z.shape[1]}; they must match."
        )


def check_sample_weight(sample_weight, n_samples, name="sample_weight"):
    """Validate frequency-like sample weights: ``None`` or 1-D, finite, >= 0, not all 0.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        The weights; a scalar means that weight for every sample.
    n_samples : int
        Number of rows the weights must match.
    name : str, default="sample_weight"
        Name used in error messages.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,), float64, or None
        A new array (the caller's is never modified), or None when ``None`` was given.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n_samples, float(sample_weight))
    w = np.array(sample_weight, copy=True)
    if w.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numeric; got dtype {w.dtype}.")
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},) to match X; got shape {w.shape}.")
    w = w.astype(np.float64)
    if not np.isfinite(w).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    if (w < 0).any():
        raise ValueError(f"{name} must be non-negative; got a minimum of {w.min()!r}.")
    if n_samples and not (w > 0).any():
        raise ValueError(f"{name} must contain at least one non-zero weight; all are zero.")
    return w
