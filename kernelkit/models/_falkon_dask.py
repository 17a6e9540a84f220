"""Falkon on Dask arrays: the data stays in its partitions, the M-sized solve runs here.

A fit on a row-chunked ``dask.array`` X needs, per conjugate-gradient
iteration, one product K_nMᵀWK_nM V: every partition computes its (M, k)
share on its worker (:func:`kernelkit.distributed.kernel_dmmv`) and Dask's
``sum`` adds the shares up a tree. Everything M-sized (the centers, the
preconditioner, the CG vectors) lives in the client process. One extra pass
at the start computes the target means, the right-hand side K_nMᵀW(y − b)
and the finiteness checks together. Nothing of size n is ever brought to the
client, so X may be larger than the client and than any worker: when it is
not persisted, each pass regenerates (or re-reads) the partitions from their
source. Dask is imported only when a Dask array arrives.
"""

from functools import partial

import numpy as np
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._utils._parallel import carry_config
from .._utils._validation import check_points, check_same_features
from ..kernels import make_kernel
from ..kernels._bandwidth import _MEDIAN_SEED, scale_rule
from ..linalg._distributed import (
    _dask,
    check_dask_rows,
    kernel_dmmv,
    kernel_matmat,
    kernel_rmatmat,
    rows_like,
)
from ..sampling import select_centers
from ._common import choose_centers, decode_scores
from ._falkon_solver import FalkonPreconditioner

#: The leverage and thinning selectors run on a uniform sample of this many rows per center.
SAMPLE_PER_CENTER = 10
#: Rows the median bandwidth rule looks at (as :func:`kernelkit.estimate_bandwidth`).
_MEDIAN_ROWS = 1000


class DaskNormalProduct:
    """V ↦ K_nMᵀWK_nM V, one Dask reduction over the partitions of X per call.

    Parameters
    ----------
    kernel : Kernel
        Resolved kernel.
    X : dask.array.Array of shape (n, n_features)
        Training rows, one chunk along the features.
    Z : ndarray of shape (M, n_features)
        Centers.
    weights : dask.array.Array of shape (n,) or None
        Sample weights.
    """

    cached = False

    def __init__(self, kernel, X, Z, weights):
        self.kernel, self.X, self.Z, self.weights = kernel, X, Z, weights

    def __call__(self, V):
        """K_nMᵀWK_nM V (float64), computed on the active Dask scheduler."""
        return kernel_dmmv(self.kernel, self.X, self.Z, V, weights=self.weights).compute()


def _check_rows(X):
    X = check_dask_rows(X)
    if X.shape[0] < 1:
        raise ValueError("X is empty: it has 0 rows.")
    return X if X.dtype.kind == "f" else X.astype(np.float64)


def _resolved_kernel(estimator, X):
    """The kernel with its bandwidth rule evaluated on Dask X, as the in-memory fit does."""
    bandwidth = estimator.bandwidth
    if bandwidth is None and isinstance(estimator.kernel, str):
        bandwidth = "median"
    if bandwidth == "scale":
        # Measured in the kernel's metric (L1 for L1Laplacian), as in memory.
        metric = make_kernel(estimator.kernel, 1.0).metric
        variance = float(X.var(dtype=np.float64).compute())
        bandwidth = scale_rule(variance, X.shape[1], metric)
    if bandwidth != "median":
        return make_kernel(estimator.kernel, bandwidth, X=X[:2].compute())
    n = X.shape[0]
    if n > _MEDIAN_ROWS:
        # The rows estimate_bandwidth would draw: the same bandwidth as in memory.
        rng = np.random.default_rng(_MEDIAN_SEED)
        idx = np.sort(rng.choice(n, _MEDIAN_ROWS, replace=False))
        return make_kernel(estimator.kernel, bandwidth, X=X[idx].compute())
    return make_kernel(estimator.kernel, bandwidth, X=X.compute())


def select_dask_centers(estimator, X, n_centers, rng):
    """(kernel, Z) for a Dask X; the centers are brought to the client.

    ``"uniform"`` draws the same rows as the in-memory fit with the same
    ``random_state``; ``"squeak"`` and ``"kt"`` run on a uniform sample of
    ``SAMPLE_PER_CENTER * n_centers`` rows brought to the client (their
    whole-data versions would need n-sized state); ``"all"`` is refused.

    Parameters
    ----------
    estimator : FalkonRegressor or FalkonClassifier
        Supplies ``kernel``, ``bandwidth`` and ``centers``.
    X : dask.array.Array of shape (n, n_features)
        Training rows.
    n_centers : int
        Requested number of centers.
    rng : RandomState
        Source of the selection.

    Returns
    -------
    kernel : Kernel
    Z : ndarray of shape (n_centers_, n_features)
    """
    kernel = _resolved_kernel(estimator, X)
    centers = estimator.centers
    if not isinstance(centers, str):
        Z = check_points(centers, "centers")
        check_same_features(X, Z, "X", "centers")
        return kernel, Z.astype(X.dtype, copy=True)
    if centers == "all":
        raise ValueError(
            "centers='all' is not supported for a Dask array X (M = n centers would not fit "
            "the client); choose n_centers with centers='uniform'."
        )
    if centers == "uniform":
        idx = select_centers("uniform", X, n_centers, kernel=kernel, random_state=rng)
        return kernel, np.asarray(X[idx].compute())
    size = min(X.shape[0], SAMPLE_PER_CENTER * n_centers)
    rows = select_centers("uniform", X, size, kernel=kernel, random_state=rng)
    sample = np.asarray(X[rows].compute())
    Z, _ = choose_centers(sample, centers, n_centers, kernel=kernel, rng=rng)
    return kernel, Z


def _one_hot(y, classes):
    neg = -1 if len(classes) == 2 else 0
    return LabelBinarizer(neg_label=neg, pos_label=1).fit(classes).transform(y).astype(np.float64)


def _targets(estimator, y, X, classifier):
    """Y as a (n, k) float64 Dask array; sets ``classes_`` or ``_y_1d``."""
    _, da = _dask()
    y = rows_like(y, X, "y")
    if not classifier:
        estimator._y_1d = y.ndim == 1
        return (y[:, None] if y.ndim == 1 else y).astype(np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D for a classifier; got shape {y.shape}.")
    classes = np.unique(da.unique(y).compute())
    if len(classes) < 2:
        raise ValueError(
            f"The classifier needs samples of at least 2 classes in y; got {len(classes)}."
        )
    if estimator.warm_start and hasattr(estimator, "classes_"):
        if not np.array_equal(classes, estimator.classes_):
            raise ValueError(
                f"warm_start: y has classes {classes!r} but the previous fit had "
                f"{estimator.classes_!r}."
            )
    estimator.classes_ = classes
    k = 1 if len(classes) == 2 else len(classes)
    return y.map_blocks(
        _one_hot, classes, chunks=(y.chunks[0], (k,)), new_axis=1, dtype=np.float64
    )


def fit_dask(estimator, X, y, sample_weight, *, classifier):
    """Fit a Falkon estimator on Dask arrays (see the module docstring).

    Parameters
    ----------
    estimator : FalkonRegressor or FalkonClassifier
        The estimator to fit (parameters already validated).
    X : dask.array.Array of shape (n_samples, n_features)
        Training rows, chunked along the rows.
    y : dask.array.Array or array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets (rechunked like X).
    sample_weight : dask.array.Array, array-like of shape (n_samples,) or None
        Non-negative row weights.
    classifier : bool
        Whether y holds class labels.

    Returns
    -------
    estimator : FalkonRegressor or FalkonClassifier
        Fitted.
    """
    dask, da = _dask()
    if estimator.early_stopping:
        raise ValueError("early_stopping is not supported for a Dask array X.")
    X = _check_rows(X)
    n = X.shape[0]
    Y = _targets(estimator, y, X, classifier)
    estimator.n_features_in_ = X.shape[1]
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    if sample_weight is not None and np.ndim(sample_weight) == 0:
        sample_weight = np.full(n, float(sample_weight))
    w = None if sample_weight is None else rows_like(sample_weight, X, "sample_weight", np.float64)
    if w is not None and w.ndim != 1:
        raise ValueError(f"sample_weight must have shape ({n},) to match X; got {w.shape}.")
    rng = check_random_state(estimator.random_state)
    kernel, Z, warm = estimator._resolve_centers(X, rng, select=select_dask_centers)
    ones = da.ones((n, 1), chunks=(X.chunks[0], 1), dtype=np.float64)
    w2 = ones if w is None else w[:, None]
    # One pass: Kᵀ[WY, w], ΣwY, Σw and the input checks; the rhs is Kᵀ W Y − (Kᵀw) bᵀ.
    KtU, sum_wy, stats = dask.compute(
        kernel_rmatmat(kernel, X, Z, da.concatenate([Y * w2, w2], axis=1)),
        (Y * w2).sum(axis=0),
        da.stack(
            [
                da.isfinite(X).all(),
                da.isfinite(Y).all(),
                da.isfinite(w2).all(),
                (w2 >= 0).all(),
                w2.sum(),
            ]
        ),
    )
    finite_X, finite_Y, finite_w, nonneg_w, n_weight = stats
    for ok, message in [
        (finite_X, "X contains NaN or infinity."),
        (finite_Y, "y contains NaN or infinity."),
        (finite_w, "sample_weight contains NaN or infinity."),
        (nonneg_w, "sample_weight must be non-negative; got negative values."),
        (n_weight > 0, "sample_weight must contain at least one positive value."),
    ]:
        if not ok:
            raise ValueError(message)
    n_weight = float(n_weight)
    intercept = sum_wy / n_weight if estimator.fit_intercept else np.zeros_like(sum_wy)
    KtU = np.asarray(KtU, dtype=np.float64)
    KtY = KtU[:, :-1] - KtU[:, -1:] * intercept[None, :]
    precond = FalkonPreconditioner(kernel, Z, estimator.regularization)
    product = DaskNormalProduct(kernel, X, Z, w)
    fitted = (kernel, Z, warm, intercept, X.dtype)
    return estimator._solve(fitted, precond, product, KtY, n_weight)


def decision_dask(estimator, X):
    """Lazy K(X, Z)·a + b on a Dask X (one blockwise task per partition).

    Parameters
    ----------
    estimator : fitted FalkonRegressor or FalkonClassifier
        The model.
    X : dask.array.Array of shape (n_samples, n_features)
        Points to score.

    Returns
    -------
    scores : dask.array.Array of shape (n_samples, n_outputs)
        In the dtype of X (float64 for integer X).
    """
    check_is_fitted(estimator)
    X = _check_rows(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    Z = estimator.centers_.astype(X.dtype, copy=False)
    scores = kernel_matmat(estimator.kernel_, X, Z, estimator.dual_coef_.astype(X.dtype))
    return scores + estimator.intercept_.astype(scores.dtype)


def labels_dask(scores, classes):
    """Lazy labels from lazy scores (argmax; one column: sign), one task per partition.

    Parameters
    ----------
    scores : dask.array.Array of shape (n_samples,) or (n_samples, n_classes)
        Decision values.
    classes : ndarray of shape (n_classes,)
        ``classes_``.

    Returns
    -------
    labels : dask.array.Array of shape (n_samples,)
    """
    decode = carry_config(partial(decode_scores, classes=classes))
    if scores.ndim == 1:
        return scores.map_blocks(decode, dtype=classes.dtype)
    return scores.map_blocks(decode, drop_axis=1, dtype=classes.dtype)
