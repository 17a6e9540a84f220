"""Front-end helpers shared by the kernel models (input checks, centers, weights, labels).

Every kernel model of this package validates its inputs, picks its centers by
name, checks ``sample_weight`` and encodes class labels the same way; the
code lives here once so that the estimators differ only in their solvers.
"""

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from .._backend import get_namespace, to_numpy
from .._utils._validation import (
    FLOAT_DTYPES,
    check_points,
    check_same_features,
    validate_points,
)
from ..sampling import CENTER_SELECTORS, select_centers

#: Names accepted by the ``centers`` parameter of the kernel models.
CENTER_CHOICES = (*CENTER_SELECTORS, "all")


def take_rows(A, idx):
    """``A[idx]`` for NumPy or CuPy ``A`` with host indices ``idx``."""
    xp = get_namespace(A)
    return A[idx] if xp is np else A[xp.asarray(idx)]


def check_Xy(estimator, X, y, *, reset, classifier, multi_output):
    """Validate (X, y) of fit: y numeric for regressors, labels for classifiers.

    Parameters
    ----------
    estimator : BaseEstimator
        Receives ``n_features_in_`` when ``reset``.
    X : array-like of shape (n_samples, n_features)
        Training points.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    reset : bool
        Whether to (re)set ``n_features_in_``.
    classifier : bool
        Labels (any dtype) rather than numbers; labels may be a host array with
        device X, numeric targets must live with X (else ``TypeError``).
    multi_output : bool
        Whether a 2-D y is allowed.

    Returns
    -------
    X, y : ndarray
    """
    if get_namespace(X) is np:
        return validate_data(
            estimator,
            X,
            y,
            reset=reset,
            dtype=FLOAT_DTYPES,
            multi_output=multi_output,
            y_numeric=not classifier,
        )
    X = validate_points(estimator, X, reset=reset)
    if not classifier:
        # Numeric targets live with X; class labels may stay on the host (CuPy holds no
        # strings, and the labels are encoded on the host anyway).
        get_namespace(X, y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}.")
    return X, y


def regression_targets(y, dtype):
    """2-D float targets from a 1-D or 2-D y; also returns whether y was 1-D.

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Validated numeric targets (NumPy or CuPy).
    dtype : dtype
        Floating dtype of the model.

    Returns
    -------
    Y : ndarray of shape (n_samples, n_outputs)
    one_dimensional : bool
    """
    xp = get_namespace(y)
    y = xp.asarray(y)
    Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(dtype, copy=False)
    if not bool(xp.isfinite(Y).all()):
        raise ValueError("y contains NaN or infinity.")
    return Y, y.ndim == 1


def encode_labels(y, dtype):
    """Least-squares targets for class labels, by :class:`~sklearn.preprocessing.LabelBinarizer`.

    Two classes give one column of ±1 (positive: ``classes_[1]``); more give
    one-hot columns of 0/1.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels (NumPy or CuPy; device labels cross to the host once).
    dtype : dtype
        Floating dtype of the targets.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    Y : ndarray of shape (n_samples, 1) or (n_samples, n_classes), NumPy
    """
    y = column_or_1d(to_numpy(y, "labels to the host (LabelBinarizer)"), warn=True)
    check_classification_targets(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"The classifier needs samples of at least 2 classes in y; got 1 class "
            f"({classes[0]!r})."
        )
    neg = -1 if len(classes) == 2 else 0
    binarizer = LabelBinarizer(neg_label=neg, pos_label=1).fit(classes)
    return classes, binarizer.transform(y).astype(dtype)


def decode_scores(scores, classes):
    """Labels from the scores of :func:`encode_labels` targets (argmax; two classes: sign).

    Parameters
    ----------
    scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        Decision values.
    classes : ndarray of shape (n_classes,)
        ``classes_`` of the classifier.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
        On the device for device scores and numeric classes (CuPy holds no strings).
    """
    codes = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
    xp = get_namespace(codes)
    if xp is not np and classes.dtype.kind in "biuf":  # labels stay on the device
        return xp.asarray(classes)[codes]
    return classes[to_numpy(codes, "labels: class codes to the host (non-numeric classes)")]


def check_sample_weight(sample_weight, n_samples):
    """Validate ``sample_weight``: None, a scalar, or n non-negative finite numbers.

    Parameters
    ----------
    sample_weight : float, array-like of shape (n_samples,) or None
        Weights of the training rows.
    n_samples : int
        Rows of X.

    Returns
    -------
    weights : ndarray of shape (n_samples,), float64, or None
        None when every weight is the same (no weighting needed).
    """
    if sample_weight is None:
        return None
    w = np.asarray(to_numpy(sample_weight, "sample_weight to the host (checks)"))
    if w.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight must be numeric; got dtype {w.dtype}.")
    w = np.broadcast_to(w, (n_samples,)) if w.ndim == 0 else w
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match X; got {tuple(w.shape)}."
        )
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative; got negative values.")
    if not np.any(w > 0):
        raise ValueError("sample_weight must contain a positive value; all weights are zero.")
    return w


def validation_split(n_samples, fraction, rng, stratify=None):
    """Sorted (train, validation) row indices for early stopping.

    Parameters
    ----------
    n_samples : int
        Rows to split.
    fraction : float
        Share of the rows held out.
    rng : RandomState
        Source of the split.
    stratify : array-like of shape (n_samples,) or None
        Class codes to stratify on (classifiers).

    Returns
    -------
    train, validation : ndarray of int
    """
    if stratify is not None and np.bincount(stratify).min(initial=2) < 2:
        stratify = None  # a class with one row cannot be split
    tr, va = train_test_split(
        np.arange(n_samples), test_size=fraction, random_state=rng, stratify=stratify
    )
    return np.sort(tr), np.sort(va)


def choose_centers(X, centers, n_centers, *, kernel, rng):
    """The centers Z of a kernel model: by name (see :data:`CENTER_CHOICES`) or given.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated training points.
    centers : {"uniform", "squeak", "kt", "all"} or array-like
        Selection rule or the centers themselves.
    n_centers : int
        Requested number of centers (ignored for ``"all"`` and arrays); it
        must not exceed ``n_samples``.
    kernel : Kernel
        Resolved kernel (the leverage and thinning selectors use it).
    rng : RandomState
        Source of the selection.

    Returns
    -------
    Z : ndarray of shape (n_centers_, n_features)
        A copy of the chosen rows (later changes to X do not reach the model),
        or the validated given centers in the dtype of X.
    indices : ndarray of int or None
        Rows of X that are centers (None for given centers).
    """
    n = X.shape[0]
    if not isinstance(centers, str):
        Z = check_points(centers, "centers")
        check_same_features(X, Z, "X", "centers")
        if get_namespace(Z) is not get_namespace(X):
            raise TypeError("centers must live on the same device as X (NumPy or CuPy).")
        return Z.astype(X.dtype, copy=True), None
    if centers not in CENTER_CHOICES:
        raise ValueError(f"centers must be one of {CENTER_CHOICES} or an array; got {centers!r}.")
    if centers == "all":
        return X.copy(), np.arange(n)
    if n_centers > n:
        raise ValueError(
            f"n_centers={n_centers} exceeds n_samples={n}; use fewer centers or "
            "centers='all' to make every training point a center."
        )
    if n_centers == n:
        return X.copy(), np.arange(n)
    # Leverage and thinning selectors may repeat a row; a repeated center makes K(Z, Z) singular.
    idx = np.unique(select_centers(centers, X, n_centers, kernel=kernel, random_state=rng))
    return take_rows(X, idx), idx
