"""Falkon kernel machines: ``FalkonRegressor`` and ``FalkonClassifier``.

Nyström kernel ridge regression f(x) = K(x, Z)·a with M centers Z, solved by
preconditioned conjugate gradient (Rudi, Carratino & Rosasco, "FALKON: An
Optimal Large Scale Kernel Method", NeurIPS 2017; Meanti et al., "Kernel
methods through the roof", NeurIPS 2020). The numerical core is in
``_falkon_solver``; this module is the scikit-learn front end.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.sparse.linalg import LinearOperator
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._backend import get_namespace, to_numpy
from .._utils._device import to_device
from .._utils._progress import progress
from .._utils._sklearn_compat import Interval, StrOptions, _fit_context
from .._utils._validation import validate_points
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, Kernel, make_kernel
from ..linalg import KernelOperator
from ..linalg._budget import largest_square
from ..linalg._distributed import is_dask_array
from ..linalg._solvers import block_cg
from ._common import (
    CENTER_CHOICES,
    check_sample_weight,
    check_Xy,
    choose_centers,
    decode_scores,
    encode_labels,
    regression_targets,
    take_rows,
    validation_split,
)
from ._falkon_dask import decision_dask, fit_dask, labels_dask
from ._falkon_solver import (
    FalkonPreconditioner,
    NormalProduct,
    _ValidationTracker,
    falkon_operator,
)

__all__ = ["FalkonClassifier", "FalkonRegressor"]

#: ``n_centers="auto"``: min(n_samples, this, the largest M whose preconditioner fits).
AUTO_CENTERS = 5000
_MIB = 2**20


class _BaseFalkon(BaseEstimator):
    """Shared fit machinery of the Falkon estimators (not public)."""

    _parameter_constraints: dict = {
        "kernel": [StrOptions(set(KERNEL_NAMES)), Kernel, callable],
        "bandwidth": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions(set(BANDWIDTH_RULES)),
            None,
        ],
        "n_centers": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "centers": [StrOptions(set(CENTER_CHOICES)), "array-like"],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "cache_size": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        kernel="laplacian",
        *,
        bandwidth=None,
        n_centers="auto",
        centers="uniform",
        regularization=1e-6,
        fit_intercept=False,
        max_iter=20,
        tol=1e-5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=3,
        cache_size=2048,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.n_centers = n_centers
        self.centers = centers
        self.regularization = regularization
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.cache_size = cache_size
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # -- set-up ------------------------------------------------------------------
    def _resolve_centers(self, X, rng, select=None):
        """Kernel and centers: reused from the last fit under ``warm_start``.

        ``select(estimator, X, n_centers, rng) -> (kernel, Z)`` replaces the in-memory
        selection for a Dask X.
        """
        if self.warm_start and hasattr(self, "dual_coef_"):
            if X.shape[1] != self.centers_.shape[1]:
                raise ValueError(
                    f"warm_start: X has {X.shape[1]} features but the previous fit had "
                    f"{self.centers_.shape[1]}."
                )
            return self.kernel_, self.centers_.astype(X.dtype, copy=False), True
        n_centers = self.n_centers
        if n_centers == "auto":
            n_centers = min(X.shape[0], AUTO_CENTERS, largest_square(8, matrices=2))
        if select is not None:
            return (*select(self, X, n_centers, rng), False)
        kernel = make_kernel(self.kernel, self.bandwidth, X=X)
        Z, _ = choose_centers(X, self.centers, n_centers, kernel=kernel, rng=rng)
        return kernel, Z, False

    def _fit(self, X, Y, sample_weight):
        rng = check_random_state(self.random_state)
        weights = check_sample_weight(sample_weight, X.shape[0])
        X_val = Y_val = None
        if self.early_stopping:
            stratify = self._stratify_codes(Y)
            tr, va = validation_split(X.shape[0], self.validation_fraction, rng, stratify)
            X_val, Y_val = take_rows(X, va), Y[va]
            X, Y = take_rows(X, tr), Y[tr]
            weights = None if weights is None else weights[tr]
            if weights is not None and not np.any(weights > 0):
                raise ValueError("sample_weight is zero on every row left for training.")
        kernel, Z, warm = self._resolve_centers(X, rng)
        n_weight = float(X.shape[0] if weights is None else weights.sum())
        xp = get_namespace(X)  # encoded class labels arrive on the host
        Y, Y_val = to_device(xp, Y), to_device(xp, Y_val)
        intercept = xp.zeros(Y.shape[1], dtype=Y.dtype)
        if self.fit_intercept:
            # Unpenalised, as Ridge fits it: the kernel part then models deviations from the
            # (weighted) mean, which the ridge penalty would otherwise shrink towards 0.
            intercept = xp.average(Y, axis=0, weights=to_device(xp, weights))
            Y = Y - intercept

        precond = FalkonPreconditioner(kernel, Z, self.regularization)
        product = NormalProduct(kernel, X, Z, weights, int(self.cache_size * _MIB))
        KtY = product.rhs(Y)
        fitted = (kernel, Z, warm, intercept, X.dtype)
        return self._solve(fitted, precond, product, KtY, n_weight, (X_val, Y_val))

    def _solve(self, fitted, precond, product, KtY, n_weight, validation=(None, None)):
        """CG on the preconditioned system and the fitted attributes (in memory and on Dask).

        ``fitted`` is (kernel, centers, warm, intercept, dtype); ``product`` maps V
        to K_nMᵀWK_nM V and ``KtY`` is K_nMᵀW(Y − intercept).
        """
        kernel, Z, warm, intercept, dtype = fitted
        cache = int(self.cache_size * _MIB)
        rhs = precond.apply_transpose(KtY) / n_weight
        beta0 = None
        if warm and self.dual_coef_.shape[1] == KtY.shape[1]:
            beta0 = precond.to_beta(
                np.asarray(to_numpy(self.dual_coef_, "falkon: warm start"), dtype=np.float64)
            )

        scorer = _ValidationTracker(self, kernel, Z, *validation, intercept, precond, cache)
        apply = falkon_operator(precond, product, n_weight)
        system = LinearOperator((Z.shape[0],) * 2, matvec=apply, matmat=apply, dtype=np.float64)
        residuals = [_relative_residual(rhs, apply, beta0)]
        with progress(total=self.max_iter, verbose=self.verbose, desc="Falkon", unit="it") as bar:

            def callback(beta, column_residuals):
                residuals.append(float(column_residuals.max()))
                bar.update(1)
                bar.set_postfix(residual=f"{residuals[-1]:.3g}")
                return scorer.update(len(residuals) - 1, beta)

            beta, info, n_iter = block_cg(
                system, rhs, x0=beta0, rtol=self.tol, maxiter=self.max_iter, callback=callback
            )
        converged = not np.any(info)
        n_iter = len(residuals) - 1
        if scorer.active:
            beta = scorer.best_beta if scorer.best_beta is not None else beta
            self.validation_scores_ = scorer.scores
            self.best_validation_score_ = float(scorer.best)
        elif not converged:
            warnings.warn(
                f"Falkon's conjugate gradient stopped after max_iter={self.max_iter} iterations "
                f"with relative residual {residuals[-1]:.3g} > tol={self.tol:g}. Raise max_iter "
                "or regularization, or add centers.",
                ConvergenceWarning,
                stacklevel=5,
            )
        self.kernel_ = kernel
        self.bandwidth_ = getattr(kernel, "bandwidth", None)
        self.centers_ = Z
        self.n_centers_ = int(Z.shape[0])
        # With device data the coefficients go there, so that predict stays on the device.
        self.dual_coef_ = to_device(get_namespace(Z), precond.apply(beta).astype(dtype))
        self.intercept_ = intercept.astype(dtype)
        self.n_iter_ = int(n_iter)
        self.residuals_ = residuals
        self.kernel_cached_ = bool(product.cached)
        return self

    def _stratify_codes(self, Y):
        return None

    def _any_decision(self, X):
        """K(X, Z)·a + b, lazily (one task per partition) for a Dask X."""
        if is_dask_array(X):
            return decision_dask(self, X)
        check_is_fitted(self)
        return self._decision(validate_points(self, X, reset=False))

    def _decision(self, X, coef=None):
        coef = self.dual_coef_ if coef is None else coef
        op = KernelOperator(self.kernel_, X, self.centers_.astype(X.dtype, copy=False))
        out = op.matmat(coef.astype(op.dtype, copy=False))
        out += self.intercept_.astype(out.dtype, copy=False)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

    def _more_tags_failed_checks(self):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "centers are drawn from the rows, so repeating rows changes the centers; "
                "with fixed centers, integer weights equal repeated rows (tests/test_falkon.py)"
            ),
        }


def _relative_residual(rhs, apply, x0):
    """max_j ||b_j − S x0_j|| / ||b_j||: where the conjugate gradient starts."""
    r = rhs if x0 is None else rhs - apply(x0)
    b = np.linalg.norm(rhs, axis=0)
    return float(np.max(np.linalg.norm(r, axis=0) / np.where(b > 0, b, 1.0)))


_PARAMS_DOC = """
    kernel : {"laplacian", "laplacian_l1", "gaussian", "rbf", "matern", "cauchy", "imq"}, \
Kernel or callable, default="laplacian"
        Kernel name, kernelkit kernel object, or a function ``f(A, B)``
        returning a positive semi-definite kernel block.
    bandwidth : float, {"median", "scale"} or None, default=None
        Kernel width. ``None``: the median rule on the training data for a
        kernel given by name, the object's own bandwidth otherwise.
    n_centers : int or "auto", default="auto"
        Number M of centers; must not exceed n_samples (use ``centers="all"``
        for M = n). "auto" is min(n_samples, 5000, the largest M whose two
        M×M float64 preconditioner matrices fit ``working_memory``).
    centers : {"uniform", "squeak", "kt", "all"} or array-like of shape \
(M, n_features), default="uniform"
        A uniform sample of the rows, exactly M rows drawn by ridge leverage
        (the routine of :class:`~kernelkit.LeverageNystroem`), about M rows
        by kernel thinning, every row, or given points.
    regularization : float, default=1e-6
        λ ≥ 0 of (K_nMᵀK_nM + λ·n·K_MM)·a = K_nMᵀy (Falkon's ``penalty``): a
        per-sample ridge, so the same λ suits any n. 1e-6 fits standardised
        or [0, 1]-scaled features with the median bandwidth without tuning;
        raise it for noisy targets.
    fit_intercept : bool, default=False
        Also fit an unpenalised constant b, the weighted mean of the targets
        (as :class:`~sklearn.linear_model.Ridge` does); False solves the
        system above on y itself, as Falkon and ``KernelRidge`` do.
    max_iter : int, default=20
        Conjugate gradient iterations (each is one pass over the data).
    tol : float, default=1e-5
        Stop when every output's preconditioned residual is below ``tol``
        times its initial value; a ``ConvergenceWarning`` says when
        ``max_iter`` ended first (not with early stopping).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, score them after every
        iteration and keep the best iterate; stop after ``n_iter_no_change``
        iterations without improvement.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.
    n_iter_no_change : int, default=3
        Iterations without a better validation score before early stopping.
    cache_size : float, default=2048
        MiB of memory for the n×M kernel matrix K_nM: when it fits, it is
        computed once and every iteration is two matrix products; otherwise
        every iteration recomputes kernel blocks (memory O(M² + block)).
    warm_start : bool, default=False
        Reuse the kernel, the centers and the coefficients of the previous fit
        as the starting point (e.g. more iterations, or a smaller λ).
    random_state : int, RandomState instance or None, default=None
        Seeds the center selection and the validation split.
    verbose : int, default=0
        Show a progress bar over the iterations with the residual.
"""


class FalkonRegressor(RegressorMixin, _BaseFalkon):
    __doc__ = (
        """Nyström kernel ridge regression solved by Falkon's preconditioned conjugate gradient.

    The model is f(x) = K(x, Z)·a + b with M centers Z; b is 0, or with
    ``fit_intercept=True`` the weighted mean of y (not penalised, as in
    Ridge), and g = K(·, Z)·a minimises
    Σ w_i (g(x_i) − (y_i − b))² + λ·Σ w_i·‖g‖² over span{k(·, z_j)}, i.e.
    solves (K_nMᵀWK_nM + λ·n_w·K_MM) a = K_nMᵀW(y − b). Conjugate gradient
    with the preconditioner B = T⁻¹A⁻¹ (T = chol(K_MM), A = chol(TTᵀ/M + λI))
    reaches it in 10–20 passes over the data. Memory: two M×M float64
    matrices (checked against ``working_memory`` before allocating; the
    error names the largest M that fits) plus K_nM when it fits
    ``cache_size``, else one kernel block. See ``docs/models.md``.

    Parameters
    ----------"""
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_centers_, n_outputs)
        a, in the dtype of the training data.
    intercept_ : ndarray of shape (n_outputs,)
        b: zeros, or the weighted mean of the training targets with
        ``fit_intercept=True``.
    centers_ : ndarray of shape (n_centers_, n_features)
        Z.
    kernel_ : Kernel
        The kernel with its resolved bandwidth.
    bandwidth_ : float or None
    n_centers_ : int
    n_iter_ : int
        Conjugate gradient iterations run.
    residuals_ : list of float
        Relative preconditioned residual (max over outputs), before the first
        and after every iteration.
    kernel_cached_ : bool
        Whether K_nM was kept in memory.
    validation_scores_ : list of float
        Validation R² after every iteration (early stopping only).
    best_validation_score_ : float
        Early stopping only.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.

    See Also
    --------
    FalkonClassifier : The same solver on one-hot targets.
    EigenProRegressor : Iterative solver for models too large for M×M memory.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import FalkonRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(500, 2))
    >>> y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    >>> model = FalkonRegressor(kernel="gaussian", n_centers=100, random_state=0).fit(X, y)
    >>> bool(model.score(X, y) > 0.99), model.dual_coef_.shape
    (True, (100, 1))
    """
    )

    def _score_targets(self, F, Y):
        ss_res = float(((F - Y) ** 2).sum())
        ss_tot = float(((Y - Y.mean(axis=0)) ** 2).sum())
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else -ss_res

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to (X, y).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Training points (float32 stays float32). A Dask array chunked by rows
            is fitted on its workers (see ``docs/dask.md``).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; several outputs are solved together.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; integer weights equal repeated rows.

        Returns
        -------
        self : FalkonRegressor
            The fitted model.
        """
        if is_dask_array(X):
            return fit_dask(self, X, y, sample_weight, classifier=False)
        X, y = check_Xy(self, X, y, reset=True, classifier=False, multi_output=True)
        Y, self._y_1d = regression_targets(y, np.float64)
        return self._fit(X, Y, sample_weight)

    def predict(self, X):
        """Predict f(X) = K(X, Z)·a.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Points to predict.

        Returns
        -------
        y : ndarray or dask.array.Array of shape (n_samples,) or (n_samples, n_outputs)
            In the dtype of X; lazy (one task per partition) for a Dask X.
        """
        out = self._any_decision(X)
        return out[:, 0] if self._y_1d else out

    def _expected_failed_checks(self):
        return self._more_tags_failed_checks()

    @classmethod
    def _test_instances(cls):
        return [
            cls(regularization=1e-4, tol=1e-3, max_iter=50, random_state=0),
            cls(kernel="gaussian", centers="all", regularization=1e-3, max_iter=50),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class FalkonClassifier(ClassifierMixin, _BaseFalkon):
    __doc__ = (
        """Kernel classifier: Falkon's Nyström kernel ridge on one-hot targets.

    Classes are encoded by :class:`~sklearn.preprocessing.LabelBinarizer`
    (two classes: one column of ±1; more: one 0/1 column per class), all
    columns are solved in one conjugate gradient, and ``predict`` takes the
    argmax of the scores (two classes: their sign). The scores are least
    squares fits, not probabilities, so there is no ``predict_proba``.

    Parameters
    ----------"""
        + _PARAMS_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    dual_coef_ : ndarray of shape (n_centers_, n_classes) or (n_centers_, 1)
        One column per class (one column for two classes).
    intercept_ : ndarray of shape (n_classes,) or (1,)
        The scores' offset: zeros, or the weighted mean of the encoded
        targets with ``fit_intercept=True``.
    centers_, kernel_, bandwidth_, n_centers_, n_iter_, residuals_, kernel_cached_, \
n_features_in_, feature_names_in_
        As in :class:`FalkonRegressor`.
    validation_scores_ : list of float
        Validation accuracy after every iteration (early stopping only).
    best_validation_score_ : float
        Early stopping only.

    See Also
    --------
    FalkonRegressor : The regression model.
    EigenProClassifier : Iterative solver for models too large for M×M memory.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from kernelkit import FalkonClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FalkonClassifier(n_centers=500, random_state=0).fit(X[:1500] / 16, y[:1500])
    >>> bool(clf.score(X[1500:] / 16, y[1500:]) > 0.93)
    True
    """
    )

    def _stratify_codes(self, Y):
        return (Y[:, 0] > 0).astype(np.intp) if Y.shape[1] == 1 else Y.argmax(axis=1)

    def _score_targets(self, F, Y):
        if Y.shape[1] == 1:
            return float(np.mean((F[:, 0] > 0) == (Y[:, 0] > 0)))
        return float(np.mean(F.argmax(axis=1) == Y.argmax(axis=1)))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier to (X, y).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Training points (float32 stays float32). A Dask array chunked by rows
            is fitted on its workers (see ``docs/dask.md``).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; integer weights equal repeated rows.

        Returns
        -------
        self : FalkonClassifier
            The fitted classifier.
        """
        if is_dask_array(X):
            return fit_dask(self, X, y, sample_weight, classifier=True)
        X, y = check_Xy(self, X, y, reset=True, classifier=True, multi_output=False)
        classes, Y = encode_labels(y, np.float64)
        if self.warm_start and hasattr(self, "classes_"):
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"warm_start: y has classes {classes!r} but the previous fit had "
                    f"{self.classes_!r}."
                )
        self.classes_ = classes
        return self._fit(X, Y, sample_weight)

    def decision_function(self, X):
        """Scores K(X, Z)·a: shape (n_samples,) for two classes, else (n_samples, n_classes).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Points to score.

        Returns
        -------
        scores : ndarray or dask.array.Array
            Positive scores favour ``classes_[1]`` in the binary case; lazy for a Dask X.
        """
        out = self._any_decision(X)
        return out[:, 0] if len(self.classes_) == 2 else out

    def predict(self, X):
        """Predict class labels: argmax of the scores (two classes: their sign).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Points to classify.

        Returns
        -------
        labels : ndarray or dask.array.Array of shape (n_samples,)
            Elements of ``classes_``; lazy for a Dask X.
        """
        scores = self.decision_function(X)
        if is_dask_array(scores):
            return labels_dask(scores, self.classes_)
        return decode_scores(scores, self.classes_)

    def _expected_failed_checks(self):
        return self._more_tags_failed_checks()

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_centers=10, tol=1e-3, max_iter=50, random_state=0),
            cls(kernel="gaussian", centers="all", regularization=1e-3, max_iter=50),
        ]
