"""Spectrally transformed kernel regression: ``STKRRegressor`` and ``STKRClassifier``.

Semi-supervised kernel ridge regression with the kernel K_s = Σ π_p K^p (a
spectral transform of a base kernel K, its powers taken as integral operators
over all the points, labeled and unlabeled), after Zhai, Pukdee, Jin, Balcan
& Ravikumar, "Spectrally Transformed Kernel Regression" (ICLR 2024). Unlabeled
points enter through K^p: the fit prefers functions that are smooth along the
data's top kernel eigenfunctions. The numerics are in ``_stkr_core``.
"""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from .._utils._device import to_host
from .._utils._sklearn_compat import _fit_context
from .._utils._validation import FLOAT_DTYPES
from ._common import decode_scores
from ._stkr_base import _ATTRIBUTES, _PARAMETERS, TO_HOST, _BaseSTKR

__all__ = ["STKRClassifier", "STKRRegressor"]


class STKRRegressor(RegressorMixin, _BaseSTKR):
    """Spectrally transformed kernel ridge regression (semi-supervised, multi-output).

        The unlabeled points shape the kernel: K̂_s = Σ π_p K̂^p, with the powers
        K̂^p taken over all N fitted points, and kernel ridge regression with
        K̂_s runs on the n labeled ones. Unlabeled rows are rows of y that are
        all NaN, and/or the rows of ``X_unlabeled``. See ``docs/stkr.md``.

        Parameters
        ----------
    %(parameters)s
        Attributes
        ----------
        transduction_ : ndarray of shape (N,) or (N, n_outputs)
            f at the rows of X, then of X_unlabeled.
    %(attributes)s
        See Also
        --------
        STKRClassifier : The same model on one-hot labels.
        sklearn.kernel_ridge.KernelRidge : The labeled-only limit (``coefs=(1,)``).

        Examples
        --------
        >>> import numpy as np
        >>> from kernelkit import STKRRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(-1, 1, size=(300, 1))
        >>> y = np.sin(3 * X[:, 0])
        >>> y[20:] = np.nan  # 20 labeled points, 280 unlabeled
        >>> model = STKRRegressor(bandwidth=0.3, regularization=1e-4).fit(X, y)
        >>> X_test = np.linspace(-0.9, 0.9, 5)[:, None]
        >>> bool(np.abs(model.predict(X_test) - np.sin(3 * X_test[:, 0])).max() < 0.1)
        True
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_unlabeled=None):
        """Fit on the labeled rows, using every row's features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (N, N) if precomputed
            Labeled and unlabeled points.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; a row that is entirely NaN marks an unlabeled point.
        X_unlabeled : array-like of shape (m, n_features), default=None
            More unlabeled points.

        Returns
        -------
        self : STKRRegressor
            The fitted estimator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        xp, (X, y, X_unlabeled) = to_host(TO_HOST, X, y, X_unlabeled)
        X = self._check_X(X, reset=True)
        y = check_array(
            y, ensure_2d=False, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan", input_name="y"
        )
        check_consistent_length(X, y)
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D; got ndim={y.ndim}.")
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if np.isinf(Y).any():
            raise ValueError("Input y contains infinity; mark unlabeled rows with NaN.")
        missing = np.isnan(Y)
        unlabeled = missing.all(axis=1)
        partial = np.flatnonzero(missing.any(axis=1) & ~unlabeled)
        if partial.size:
            raise ValueError(
                f"y has partly-NaN rows (first: row {partial[0]}); a row is unlabeled only when "
                "all its values are NaN."
            )
        labeled = np.flatnonzero(~unlabeled)
        self._y_1d = y.ndim == 1
        fitted = self._fit(X, Y[labeled], labeled, X_unlabeled)
        self.transduction_ = fitted[:, 0] if self._y_1d else fitted
        return self._to_namespace(xp)

    def predict(self, X):
        """Predict f(X).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, N) if precomputed
            Points (or their base-kernel values against ``X_fit_``).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, in the dtype of X.
        """
        out = self._decision(X)
        return out[:, 0] if self._y_1d else out

    @classmethod
    def _test_instances(cls):
        return [
            cls(bandwidth=1.0),
            cls(transformation="polynomial", coefs=(0.5, 1.0, 1.0), solver="cg", normalize=False),
            cls(
                transformation="kpca",
                n_components=10,
                bandwidth=2.0,
                eigen_solver="arpack",
                random_state=0,
            ),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class STKRClassifier(ClassifierMixin, _BaseSTKR):
    """Spectrally transformed kernel ridge classification (semi-supervised).

        :class:`STKRRegressor` on one-hot targets (±1 in one column for two
        classes); ``predict`` takes the argmax (binary: the sign). Unlabeled rows
        carry the label -1, as in :class:`sklearn.semi_supervised.LabelSpreading`,
        and/or come as ``X_unlabeled``. See ``docs/stkr.md``.

        Parameters
        ----------
    %(parameters)s
        Attributes
        ----------
        classes_ : ndarray of shape (n_classes,)
            The labels seen among the labeled rows.
        transduction_ : ndarray of shape (N,)
            Predicted labels at the rows of X, then of X_unlabeled.
    %(attributes)s
        See Also
        --------
        STKRRegressor : The regression model.
        sklearn.semi_supervised.LabelSpreading : Graph-based transductive labels.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_circles
        >>> from kernelkit import STKRClassifier
        >>> X, y = make_circles(400, noise=0.05, factor=0.5, random_state=0)
        >>> y_train = np.full_like(y, -1)
        >>> labeled = [np.flatnonzero(y == c)[:3] for c in (0, 1)]
        >>> y_train[np.concatenate(labeled)] = y[np.concatenate(labeled)]
        >>> clf = STKRClassifier(bandwidth=0.1).fit(X, y_train)
        >>> bool((clf.transduction_ == y).mean() > 0.95)
        True
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_unlabeled=None):
        """Fit on the labeled rows, using every row's features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (N, N) if precomputed
            Labeled and unlabeled points.
        y : array-like of shape (n_samples,)
            Class labels; -1 marks an unlabeled point (numeric labels only).
        X_unlabeled : array-like of shape (m, n_features), default=None
            More unlabeled points.

        Returns
        -------
        self : STKRClassifier
            The fitted estimator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        # Labels may stay on the host with device X (CuPy holds no strings).
        xp, (X, X_unlabeled) = to_host(TO_HOST, X, X_unlabeled)
        y = to_host(TO_HOST, y)[1][0]
        X = self._check_X(X, reset=True)
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        numeric = y.dtype.kind in "biuf"
        unlabeled = (y == -1) if numeric else np.zeros(y.shape[0], dtype=bool)
        labeled = np.flatnonzero(~unlabeled)
        y_labeled = y[labeled]
        if labeled.size:
            check_classification_targets(y_labeled)
        self.classes_ = np.unique(y_labeled)
        if labeled.size and len(self.classes_) < 2:
            raise ValueError(
                f"The classifier needs labeled samples of at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})."
            )
        codes = np.searchsorted(self.classes_, y_labeled)
        if len(self.classes_) == 2:
            Y = np.where(codes == 1, 1.0, -1.0).reshape(-1, 1)
        else:
            Y = np.zeros((labeled.size, len(self.classes_)))
            Y[np.arange(labeled.size), codes] = 1.0
        fitted = self._fit(X, Y, labeled, X_unlabeled)
        self.transduction_ = self._labels(fitted)
        return self._to_namespace(xp)

    def _labels(self, scores):
        return decode_scores(scores[:, 0] if scores.shape[1] == 1 else scores, self.classes_)

    def _expected_failed_checks(self):
        return {
            "check_classifiers_classes": (
                "y == -1 marks unlabeled rows (LabelSpreading's convention), so the labels "
                "{-1, 1} of this check leave one class."
            )
        }

    def decision_function(self, X):
        """Scores f(X): shape (n_samples,) for two classes, else (n_samples, n_classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, N) if precomputed
            Points (or their base-kernel values against ``X_fit_``).

        Returns
        -------
        scores : ndarray
            Positive scores favour ``classes_[1]`` in the binary case.
        """
        out = self._decision(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict(self, X):
        """Predict class labels: argmax of the scores (binary: their sign).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, N) if precomputed
            Points (or their base-kernel values against ``X_fit_``).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Predicted classes.
        """
        return self._labels(self._decision(X))

    @classmethod
    def _test_instances(cls):
        return [
            cls(bandwidth=1.0),
            cls(transformation="polynomial", coefs=(0.5, 1.0, 1.0), solver="cg", normalize=False),
            cls(
                transformation="kpca",
                n_components=10,
                bandwidth=2.0,
                eigen_solver="arpack",
                random_state=0,
            ),
        ]


for _cls in (STKRRegressor, STKRClassifier):
    _cls.__doc__ = _cls.__doc__ % {"parameters": _PARAMETERS, "attributes": _ATTRIBUTES}
