"""EigenPro kernel machines: ``EigenProRegressor`` and ``EigenProClassifier``.

The training loop, the divergence policy and the parameters live in
``_eigenpro_base``; the preconditioner, step sizes and projections in
``_eigenpro_precond``. This module holds the two public front ends: target
encoding, prediction and their documentation.
"""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._backend import get_namespace, to_numpy
from .._utils._sklearn_compat import _fit_context
from ._eigenpro_base import _BaseEigenPro

__all__ = ["EigenProClassifier", "EigenProRegressor"]

_PARAMETERS = """\
    kernel : {"laplacian", "laplacian_l1", "gaussian", "rbf", "matern", "cauchy", "imq"}, \
Kernel or callable, default="laplacian"
        Kernel name, kernelkit kernel object, or a function ``f(A, B)``
        returning a positive semi-definite kernel block.
    bandwidth : float, {"median", "scale"} or None, default=None
        Kernel width. ``None``: a kernel given by name gets the ``"median"``
        rule (median pairwise distance of the training data), a kernel object
        keeps its own bandwidth; a number or rule overrides. The resolved
        value is ``bandwidth_``.
    n_centers : int, default=5000
        Number p of centers chosen by ``centers``. With ``n_centers >=
        n_samples`` every training point is a center (EigenPro 2).
    centers : {"uniform", "squeak", "kt", "all"} or array-like of shape \
(p, n_features), default="uniform"
        How to pick the centers: a uniform subset of X, ridge-leverage
        sampling (SQUEAK), kernel thinning, all of X (Z = X, EigenPro 2, no
        projection), or given points.
    epochs : int, default=5
        Passes over the training data (the regulariser: there is no ridge
        term). Divergent passes retried with a smaller step are not counted.
    n_subsamples : int or "auto", default="auto"
        Size s of the Nyström subsample of X for the preconditioner; "auto"
        is min(n, 2000) below 10⁵ samples and 5000 above.
    preconditioner_rank : int or "auto", default="auto"
        q, the number of flattened eigendirections. "auto" takes the largest
        q whose critical batch size β/λ_{q+1} fits the memory budget and s
        (at most 500); an int is clipped to ``n_subsamples_ - 1``.
    batch_size : int or "auto", default="auto"
        Mini-batch size m; "auto" is the critical batch size capped by the
        memory budget.
    step_scale : float, default=1.0
        Multiplies the automatic step size. An epoch after which the training
        loss is higher than before is undone and the step halved; a loss that
        more than doubled (divergence) is retried with the smaller step. A
        ``ConvergenceWarning`` naming ``step_scale`` reports the halvings when
        ``step_scale > 1`` or when the step fell below a quarter of the
        automatic one; ten failures in a row raise ``FloatingPointError``. A
        fit never returns a model whose training loss grew.
    projection : {"delayed", "every_batch"}, default="delayed"
        "every_batch" projects every update onto the centers (EigenPro 3);
        "delayed" keeps about p/m batches as temporary centers and projects
        once (EigenPro 4's delayed projection; same fixed point, far fewer
        projections). The projection is exact (Cholesky of K(Z, Z)) when the
        p × p matrix fits ``working_memory``, else EigenPro 2 on the centers.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the
        validation score has not improved by ``tol`` for ``n_iter_no_change``
        epochs (``ConvergenceWarning`` if ``epochs`` runs out first).
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    n_iter_no_change : int, default=5
        Epochs without improvement before early stopping ends the fit.
    tol : float, default=1e-4
        Minimum improvement of the validation score for early stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds the centers, the Nyström subsamples and the batch order.
    verbose : int, default=0
        Show a progress bar with the running training loss."""

_SHARED_ATTRIBUTES = """\
    centers_ : ndarray of shape (n_centers_, n_features)
        The centers Z.
    kernel_ : Kernel
        The kernel with its resolved bandwidth.
    bandwidth_ : float
        The resolved bandwidth.
    n_centers_ : int
        p.
    n_subsamples_ : int
        s.
    preconditioner_rank_ : int
        q.
    eigenvalues_ : ndarray of shape (preconditioner_rank_ + 1,)
        Top eigenvalues of K(Xs, Xs)/s; the last is λ_{q+1}.
    beta_ : float
        β = max k(x, x).
    critical_batch_size_ : float
        β/λ_{q+1}.
    batch_size_ : int
        m.
    step_size_ : float
        η (the per-sample step is η / batch_size_), after any halving.
    projection_interval_ : int
        Batches between projections (1 for "every_batch", 0 when Z = X).
    projection_solver_ : str
        "cholesky" (exact) or "eigenpro" (inexact); absent when Z = X.
    n_iter_ : int
        Epochs run (partial_fit: calls made).
    loss_curve_ : list of float
        Training loss after each epoch: the (weighted) mean squared residual
        of the model on the training data, per output, measured exactly on
        every row or on a fixed uniform sample of 2000 rows for larger data.
        With ``fit`` it never increases (see the divergence policy in
        ``step_scale``).
    validation_scores_ : list of float
        Validation score per epoch (only with early stopping).
    best_validation_score_ : float
        Only with early stopping.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names."""

_SAMPLE_WEIGHT = """\
sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the square loss; integer weights act as
            repeated rows. ``None`` is unit weights."""


class EigenProRegressor(RegressorMixin, _BaseEigenPro):
    _doc = """Kernel regression with decoupled centers, trained by EigenPro 3 (or 2).

    The model is f(x) = K(x, Z)·α with ``n_centers`` centers Z. It is fitted
    to the square loss (no ridge term: ``epochs`` and early stopping
    regularise) by stochastic gradient descent with a Nyström preconditioner
    on the data and a projection onto the centers; see ``docs/eigenpro.md``.
    Memory is O((p + s)·(d + c + q)) plus the kernel block budget
    (``kernelkit.config_context(working_memory=...)``), and p² when the exact
    projection fits that budget; never n × p.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_centers_, n_outputs)
        α, in the dtype of the training data (NumPy or CuPy).
{attributes}

    See Also
    --------
    EigenProClassifier : The same model with one-hot targets.
    sklearn.kernel_ridge.KernelRidge : Exact kernel ridge regression (n ≲ 2·10⁴).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import EigenProRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(400, 2))
    >>> y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    >>> model = EigenProRegressor(kernel="gaussian", bandwidth=0.5, n_centers=100, epochs=20,
    ...                           random_state=0).fit(X, y)
    >>> bool(model.score(X, y) > 0.99)
    True
    >>> model.predict(X[:3]).shape
    (3,)
    """
    __doc__ = _doc.format(parameters=_PARAMETERS, attributes=_SHARED_ATTRIBUTES)

    _is_classifier = False
    _multi_output = True

    @property
    def _n_outputs(self):
        return self._n_targets

    def _targets(self, y, xp):
        y = xp.asarray(y)
        self._y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self._n_targets = Y.shape[1]
        return Y

    @staticmethod
    def _finite_targets(Y, xp):
        if not bool(xp.isfinite(Y).all()):
            raise ValueError("y contains NaN or infinity.")
        return Y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (NumPy, pandas or CuPy; float32 stays float32).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        {sample_weight}

        Returns
        -------
        self : EigenProRegressor
            The fitted model.
        """
        X, y = self._check_Xy(X, y, reset=True)
        xp = get_namespace(X)
        Y = self._finite_targets(self._targets(y, xp).astype(X.dtype, copy=False), xp)
        return self._fit(X, Y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One pass of EigenPro over a batch of data (for data streamed in chunks).

        The first call picks the centers, the bandwidth and the preconditioner
        from its batch, so it should be representative; with fewer than
        ``n_centers`` rows, all of them become centers. Later calls reuse them.
        k calls on the same data equal ``fit`` with ``epochs=k`` (as long as no
        pass is undone by the divergence policy).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training points.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its targets.
        {sample_weight}

        Returns
        -------
        self : EigenProRegressor
            The updated model.
        """
        first = not hasattr(self, "dual_coef_")
        X, y = self._check_Xy(X, y, reset=first)
        xp = get_namespace(X)
        if first:
            Y = self._targets(y, xp)
        else:
            Y = y.reshape(-1, 1) if y.ndim == 1 else y
            if Y.shape[1] != self._n_targets:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs but the model was started with {self._n_targets}."
                )
        Y = self._finite_targets(Y.astype(X.dtype, copy=False), xp)
        return self._partial_fit(X, Y, first, sample_weight)

    fit.__doc__ = fit.__doc__.format(sample_weight=_SAMPLE_WEIGHT)
    partial_fit.__doc__ = partial_fit.__doc__.format(sample_weight=_SAMPLE_WEIGHT)

    def _validation_score(self, X, Y, alpha, w=None):
        R = to_numpy(self._decision(X, alpha) - Y, "validation score").astype(np.float64)
        Yh = to_numpy(Y, "validation score").astype(np.float64)
        w = np.ones(len(Yh)) if w is None else np.asarray(w, dtype=np.float64)
        ss_res = float(w @ (R * R).sum(axis=1))
        mean = (w @ Yh) / w.sum()
        ss_tot = float(w @ ((Yh - mean) ** 2).sum(axis=1))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else -ss_res

    def predict(self, X):
        """Predict f(X) = K(X, Z)·α.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to predict.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, in the dtype and on the device of X.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        out = self._decision(X)
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class EigenProClassifier(ClassifierMixin, _BaseEigenPro):
    _doc = """Kernel classifier with decoupled centers, trained by EigenPro 3 (or 2).

    Least squares on one-hot targets (binary: targets ±1 in one column), as
    in the EigenPro papers; ``predict`` takes the argmax (binary: the sign).
    ``tol`` and early stopping use the validation accuracy.

    The defaults (Laplacian kernel, median bandwidth, 5000 uniform centers,
    5 epochs) were chosen on Fashion-MNIST (60000 × 784): test accuracy
    0.874 for 88 s of CPU time (under 2 minutes on 2 cores); fewer centers
    lose accuracy (p = 1000 stays near 0.85), more cost time
    (p = 10000, 4 epochs: 0.880). See ``docs/eigenpro.md``.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    dual_coef_ : ndarray of shape (n_centers_, n_classes) or (n_centers_, 1)
        One column per class (one column in the binary case).
{attributes}

    See Also
    --------
    EigenProRegressor : The same model for real-valued targets.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from kernelkit import EigenProClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = EigenProClassifier(n_centers=500, epochs=3, random_state=0)
    >>> clf = clf.fit(X[:1500] / 16, y[:1500])
    >>> bool(clf.score(X[1500:] / 16, y[1500:]) > 0.9)
    True
    """
    __doc__ = _doc.format(parameters=_PARAMETERS, attributes=_SHARED_ATTRIBUTES)

    _is_classifier = True
    _multi_output = False

    @property
    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _stratify_labels(self, Y):
        host = to_numpy(Y, "stratified split")
        codes = host.argmax(axis=1) if Y.shape[1] > 1 else (host[:, 0] > 0)
        counts = np.bincount(np.asarray(codes, dtype=np.int64))
        return codes if counts[counts > 0].min() >= 2 else None

    def _encode(self, y, xp, dtype):
        """One-hot targets (±1 in one column for two classes) of labels in ``classes_``."""
        Y = LabelBinarizer().fit(self.classes_).transform(y).astype(dtype)
        if len(self.classes_) == 2:
            Y = 2 * Y - 1
        return Y if xp is np else xp.asarray(Y)

    @staticmethod
    def _labels(y):
        y_host = column_or_1d(to_numpy(y, "labels"), warn=True)
        check_classification_targets(y_host)
        return y_host

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier to (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (NumPy, pandas or CuPy; float32 stays float32).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        {sample_weight}

        Returns
        -------
        self : EigenProClassifier
            The fitted classifier.
        """
        X, y = self._check_Xy(X, y, reset=True)
        y = self._labels(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"The classifier needs samples of at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})."
            )
        Y = self._encode(y, get_namespace(X), X.dtype)
        return self._fit(X, Y, sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass of EigenPro over a batch of data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training points.
        y : array-like of shape (n_samples,)
            Its class labels.
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear; required on the first call.
        {sample_weight}

        Returns
        -------
        self : EigenProClassifier
            The updated classifier.
        """
        first = not hasattr(self, "dual_coef_")
        X, y = self._check_Xy(X, y, reset=first)
        y = self._labels(y)
        if first:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit.")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise ValueError("classes must contain at least 2 classes.")
            self.classes_ = classes
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={classes!r} differs from the classes of the first call "
                f"{self.classes_!r}."
            )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains classes {unseen!r} that are not in classes {self.classes_!r}."
            )
        Y = self._encode(y, get_namespace(X), X.dtype)
        return self._partial_fit(X, Y, first, sample_weight)

    fit.__doc__ = fit.__doc__.format(sample_weight=_SAMPLE_WEIGHT)
    partial_fit.__doc__ = partial_fit.__doc__.format(sample_weight=_SAMPLE_WEIGHT)

    def _validation_score(self, X, Y, alpha, w=None):
        F = to_numpy(self._decision(X, alpha), "validation score")
        Yh = to_numpy(Y, "validation score")
        if Yh.shape[1] == 1:
            hits = (F[:, 0] > 0) == (Yh[:, 0] > 0)
        else:
            hits = F.argmax(axis=1) == Yh.argmax(axis=1)
        return float(np.average(hits, weights=w))

    def decision_function(self, X):
        """Scores K(X, Z)·α: shape (n_samples,) for two classes, else (n_samples, n_classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to score.

        Returns
        -------
        scores : ndarray
            Positive scores favour ``classes_[1]`` in the binary case.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        out = self._decision(X)
        return out[:, 0] if len(self.classes_) == 2 else out

    def predict(self, X):
        """Predict class labels: argmax of the scores (binary: their sign).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points to classify.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        scores = self.decision_function(X)
        xp = get_namespace(scores)
        codes = (scores > 0).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1)
        if xp is not np and self.classes_.dtype.kind in "biuf":
            return xp.asarray(self.classes_)[codes]
        return self.classes_[to_numpy(codes, "labels")]
