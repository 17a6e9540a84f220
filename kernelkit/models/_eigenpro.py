"""EigenPro kernel machines: ``EigenProRegressor`` and ``EigenProClassifier``.

The model is f(x) = K(x, Z)·α with p centers Z, trained on the square loss by
projected, preconditioned stochastic gradient descent (EigenPro 3, Abedsoltan,
Belkin & Pandit, "Toward Large Kernel Models", ICML 2023):

- a Nyström preconditioner from a subsample Xs of the data flattens the top q
  eigendirections of the kernel operator, which fixes the batch size
  m = min(β/λ_{q+1}, memory cap) and the step η;
- each batch gives g = f(X_b) − Y_b and the preconditioned gradient evaluated
  at the centers, h = K(Z, X_b)·g − G·Eᵀ·K(Xs, X_b)·g with G = K(Z, Xs)·E·diag(D);
- the update is projected back onto span{k(·, z)}: α ← α − (η/m)·K(Z, Z)⁻¹·h,
  with K(Z, Z)⁻¹·h found inexactly by EigenPro 2 on the centers.

``projection="delayed"`` (the default) follows the successor work (EigenPro 4,
"delayed projections"): batches are kept as temporary centers for about p/m
steps and projected once, which costs one projection per p/m batches instead
of one per batch. ``centers="all"`` (Z = X) needs no projection and is
EigenPro 2 (Ma & Belkin, SysML 2019).

There is no ridge term: the number of epochs (or early stopping) regularises.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._backend import get_namespace, to_numpy
from .._utils._progress import progress
from .._utils._sklearn_compat import Interval, StrOptions, _fit_context
from .._utils._validation import FLOAT_DTYPES, check_points, check_same_features
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, Kernel, make_kernel
from ..linalg import KernelOperator
from ..sampling import CENTER_SELECTORS, select_centers
from ._eigenpro_precond import (
    CenterProjector,
    NystromPreconditioner,
    auto_subsamples,
    correction_matrix,
    ep2_step,
    kernel_block,
    memory_batch_cap,
)

__all__ = ["EigenProClassifier", "EigenProRegressor"]

_CENTER_CHOICES = (*CENTER_SELECTORS, "all")
# Passes of EigenPro 2 over the centers per projection (EigenPro 3 uses 2).
_PROJECTION_EPOCHS = 2
_PROJECTION_TOL = 1e-3
# Divergence: a batch's squared residual above this many times that of the zero model.
_BLOW_UP = 1e6


def _take(A, idx, xp):
    return A[idx] if xp is np else A[xp.asarray(idx)]


def _divergence_error(epoch, step):
    return FloatingPointError(
        f"EigenPro diverged in epoch {epoch}: the training loss became NaN, infinite or "
        f"{_BLOW_UP:.0e} times that of the zero model "
        f"(per-sample step {step:.3g}). Lower `step_scale` (e.g. 0.5), give a smaller "
        "`batch_size`, or change `bandwidth` (a kernel that is not positive definite, or a "
        "bandwidth far from the data's scale, breaks the automatic step size)."
    )


class _BaseEigenPro(BaseEstimator):
    """Shared training machinery of the EigenPro estimators (not public)."""

    _parameter_constraints: dict = {
        "kernel": [StrOptions(set(KERNEL_NAMES)), Kernel, callable],
        "bandwidth": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions(set(BANDWIDTH_RULES)),
            None,
        ],
        "n_centers": [Interval(Integral, 1, None, closed="left")],
        "centers": [StrOptions(set(_CENTER_CHOICES)), "array-like"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "n_subsamples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "preconditioner_rank": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "step_scale": [Interval(Real, 0, None, closed="neither")],
        "projection": [StrOptions({"delayed", "every_batch"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        kernel="laplacian",
        bandwidth="median",
        *,
        n_centers=1000,
        centers="uniform",
        epochs=10,
        n_subsamples="auto",
        preconditioner_rank="auto",
        batch_size="auto",
        step_scale=1.0,
        projection="delayed",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.n_centers = n_centers
        self.centers = centers
        self.epochs = epochs
        self.n_subsamples = n_subsamples
        self.preconditioner_rank = preconditioner_rank
        self.batch_size = batch_size
        self.step_scale = step_scale
        self.projection = projection
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # -- input handling ------------------------------------------------------
    def _check_X(self, X, reset):
        xp = get_namespace(X)
        if xp is np:
            return validate_data(self, X, reset=reset, dtype=FLOAT_DTYPES)
        X = check_points(X, "X")
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X

    def _check_Xy(self, X, y, reset):
        if get_namespace(X) is np:
            X, y = validate_data(
                self,
                X,
                y,
                reset=reset,
                dtype=FLOAT_DTYPES,
                multi_output=self._multi_output,
                y_numeric=not self._is_classifier,
            )
            return X, y
        X = self._check_X(X, reset)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}.")
        return X, y

    # -- model set-up --------------------------------------------------------
    def _setup(self, X, rng, streaming=False):
        """Resolve the kernel, choose centers and build the preconditioners (fit's first step).

        ``streaming`` (partial_fit): later batches are other points, so even when
        every row of this batch is a center the model is trained with projections.
        """
        xp = get_namespace(X)
        n = X.shape[0]
        kernel = make_kernel(self.kernel, self.bandwidth, X=X)
        self.kernel_ = kernel
        self.bandwidth_ = kernel.bandwidth
        beta = kernel.max_diagonal() if kernel.radial else kernel.max_diagonal(X)
        self.beta_ = float(beta)

        every_row = isinstance(self.centers, str) and (
            self.centers == "all" or self.n_centers >= n
        )
        all_points = every_row and not streaming
        if isinstance(self.centers, str) and not every_row:
            # SQUEAK and kernel thinning return about n_centers indices; duplicates would
            # make K(Z, Z) singular.
            idx = np.unique(
                select_centers(self.centers, X, self.n_centers, kernel=kernel, random_state=rng)
            )
            Z = _take(X, idx, xp)
        elif isinstance(self.centers, str):
            # A copy, so that later changes to the caller's X cannot change the model.
            Z = X.copy()
        else:
            Z = check_points(self.centers, "centers")
            check_same_features(X, Z, "X", "centers")
            if get_namespace(Z) is not xp:
                raise TypeError("centers must live on the same device as X (NumPy or CuPy).")
            Z = Z.astype(X.dtype, copy=False)
        self._all_points = bool(all_points)
        p = Z.shape[0]
        self.centers_ = Z
        self.n_centers_ = p

        s = auto_subsamples(n) if self.n_subsamples == "auto" else min(self.n_subsamples, n)
        self.n_subsamples_ = int(s)
        self._sample = np.sort(rng.choice(n, size=s, replace=False))
        Xs = _take(X, self._sample, xp)
        # The memory cap covers the m × p block plus the m × s block of the batch.
        cap = min(memory_batch_cap(p + (0 if self._all_points else s), X.dtype.itemsize), n)
        precond = NystromPreconditioner(
            kernel, Xs, rank=self.preconditioner_rank, max_batch=min(cap, s), beta=beta
        )
        self._precond = precond
        self.preconditioner_rank_ = precond.rank
        self.eigenvalues_ = precond.eigenvalues
        self.critical_batch_size_ = float(precond.critical_batch)
        if self.batch_size == "auto":
            m = int(max(1, min(np.floor(precond.critical_batch), cap)))
        else:
            m = int(min(self.batch_size, n))
        self.batch_size_ = m
        eta = ep2_step(m, self.beta_, precond.tail)
        if not self._all_points:
            eta /= 2.0  # EigenPro 3's step η = m/(2β): projections are inexact
        eta *= self.step_scale
        self.step_size_ = float(eta)
        self._step = eta / m

        if self._all_points:
            self._Xs = None
            self._G = None
            self._projector = None
            self.projection_interval_ = 0
        else:
            self._Xs = Xs
            self._G = correction_matrix(kernel, Z, Xs, precond)
            self._projector = CenterProjector(
                kernel,
                Z,
                n_subsamples=auto_subsamples(p),
                rank="auto",
                random_state=rng,
                epochs=_PROJECTION_EPOCHS,
                tol=_PROJECTION_TOL,
            )
            interval = 1 if self.projection == "every_batch" else max(1, int(np.ceil(p / m)))
            self.projection_interval_ = interval
        return xp.zeros((p, self._n_outputs), dtype=X.dtype)

    # -- one pass over (X, Y) ----------------------------------------------------
    def _pass(self, X, Y, alpha, rng, bar, epoch):
        """One epoch of EigenPro over (X, Y), updating ``alpha`` in place; returns the MSE."""
        xp = get_namespace(X)
        n = X.shape[0]
        m = self.batch_size_
        step = X.dtype.type(self._step)
        order = rng.permutation(n)
        loss = 0.0
        # A residual far above that of the zero model means the iteration is blowing up;
        # stopping here beats waiting for float overflow many epochs later.
        limit = _BLOW_UP * max(float((Y * Y).sum()) / n, np.finfo(np.float64).tiny)
        if self._all_points:
            S = self._sample if xp is np else xp.asarray(self._sample)
            for start in range(0, n, m):
                idx = np.sort(order[start : start + m])
                Xb = _take(X, idx, xp)
                Kb = kernel_block(self.kernel_, Xb, self.centers_)
                g = Kb @ alpha
                g -= _take(Y, idx, xp)
                batch_loss = float((g * g).sum())
                if not batch_loss <= limit * g.shape[0]:
                    raise _divergence_error(epoch, self._step)
                loss += batch_loss
                a = self._precond.project(Kb[:, S].T @ g)
                alpha[idx if xp is np else xp.asarray(idx)] -= step * g
                alpha[S] += step * self._precond.weights(a)
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss / min(start + m, n) / Y.shape[1]:.4g}")
            return loss / n / Y.shape[1]

        Z, Xs, G = self.centers_, self._Xs, self._G
        T = self.projection_interval_
        tmp_X = xp.empty((T * m, X.shape[1]), dtype=X.dtype)
        tmp_W = xp.empty((T * m, Y.shape[1]), dtype=X.dtype)
        W_s = xp.zeros((Xs.shape[0], Y.shape[1]), dtype=X.dtype)
        H = xp.zeros_like(alpha)
        filled = 0
        pending = 0
        for start in range(0, n, m):
            idx = np.sort(order[start : start + m])
            Xb = _take(X, idx, xp)
            b = Xb.shape[0]
            Kbz = kernel_block(self.kernel_, Xb, Z)
            Kbs = kernel_block(self.kernel_, Xb, Xs)
            g = Kbz @ alpha
            if filled:
                # Temporary centers of the batches since the last projection.
                g += kernel_block(self.kernel_, Xb, tmp_X[:filled]) @ tmp_W[:filled]
                g += Kbs @ W_s
            g -= _take(Y, idx, xp)
            batch_loss = float((g * g).sum())
            if not batch_loss <= limit * b:
                raise _divergence_error(epoch, self._step)
            loss += batch_loss
            a = self._precond.project(Kbs.T @ g)
            H += Kbz.T @ g
            H -= G @ a
            tmp_X[filled : filled + b] = Xb
            tmp_W[filled : filled + b] = -step * g
            W_s += step * self._precond.weights(a)
            filled += b
            pending += 1
            if pending == T:
                self._project(alpha, H, step, epoch)
                filled = pending = 0
                W_s[...] = 0
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss / min(start + m, n) / Y.shape[1]:.4g}")
        if pending:
            self._project(alpha, H, step, epoch)
        return loss / n / Y.shape[1]

    def _project(self, alpha, H, step, epoch):
        theta = self._projector.solve(H)
        xp = get_namespace(theta)
        if not bool(xp.isfinite(theta).all()):
            raise _divergence_error(epoch, self._step)
        alpha -= step * theta
        H[...] = 0

    # -- fit / partial_fit ------------------------------------------------------
    def _fit(self, X, Y):
        # A failed (diverged) fit must leave the estimator as it was: no half-set attributes,
        # and never the old weights next to new centers.
        state = self.__dict__.copy()
        try:
            return self._fit_unguarded(X, Y)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit_unguarded(self, X, Y):
        rng = check_random_state(self.random_state)
        xp = get_namespace(X)
        X_val = Y_val = None
        if self.early_stopping:
            stratify = self._stratify_labels(Y) if self._is_classifier else None
            tr, va = train_test_split(
                np.arange(X.shape[0]),
                test_size=self.validation_fraction,
                random_state=rng,
                stratify=stratify,
            )
            X_val, Y_val = _take(X, np.sort(va), xp), _take(Y, np.sort(va), xp)
            X, Y = _take(X, np.sort(tr), xp), _take(Y, np.sort(tr), xp)
        alpha = self._setup(X, rng)
        n_batches = -(-X.shape[0] // self.batch_size_)
        losses, scores = [], []
        best, no_improve = -np.inf, 0
        epochs_run = 0
        with progress(
            total=self.epochs * n_batches, verbose=self.verbose, desc="EigenPro", unit="batch"
        ) as bar:
            for epoch in range(1, self.epochs + 1):
                losses.append(self._pass(X, Y, alpha, rng, bar, epoch))
                epochs_run = epoch
                if X_val is not None:
                    score = self._validation_score(X_val, Y_val, alpha)
                    scores.append(score)
                    if score > best + self.tol:
                        best, no_improve = score, 0
                    else:
                        no_improve += 1
                    if no_improve >= self.n_iter_no_change:
                        break
        self.dual_coef_ = alpha
        self.n_iter_ = epochs_run
        self.loss_curve_ = losses
        if X_val is not None:
            self.validation_scores_ = scores
            self.best_validation_score_ = float(best)
        self._rng = rng
        return self

    def _partial_fit(self, X, Y, first):
        state = self.__dict__.copy()
        try:
            return self._partial_fit_unguarded(X, Y, first)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _partial_fit_unguarded(self, X, Y, first):
        if first:
            rng = check_random_state(self.random_state)
            alpha = self._setup(X, rng, streaming=True)
            self._rng = rng
            self.n_iter_ = 0
            self.loss_curve_ = []
        else:
            alpha = self.dual_coef_.copy()
            # Later batches may be smaller than the first: the step per sample stays the same.
        with progress(
            total=-(-X.shape[0] // self.batch_size_),
            verbose=self.verbose,
            desc="EigenPro",
            unit="batch",
        ) as bar:
            loss = self._pass(X, Y, alpha, self._rng, bar, self.n_iter_ + 1)
        self.dual_coef_ = alpha
        self.n_iter_ += 1
        self.loss_curve_.append(loss)
        return self

    # -- prediction ----------------------------------------------------------------
    def _decision(self, X, alpha=None):
        alpha = self.dual_coef_ if alpha is None else alpha
        op = KernelOperator(self.kernel_, X, self.centers_.astype(X.dtype, copy=False))
        return op.matmat(alpha.astype(X.dtype, copy=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


class EigenProRegressor(RegressorMixin, _BaseEigenPro):
    """Kernel regression with decoupled centers, trained by EigenPro 3 (or 2).

    The model is f(x) = K(x, Z)·α with ``n_centers`` centers Z. It is fitted
    to the square loss (no ridge term: ``epochs`` and early stopping
    regularise) by stochastic gradient descent with a Nyström preconditioner
    on the data and a projection onto the centers; see :mod:`kernelkit.models`
    and ``docs/eigenpro.md``. Memory is O((p + s)·(d + c + q)) plus the kernel
    block budget (``kernelkit.config_context(working_memory=...)``), never
    n × p.

    Parameters
    ----------
    kernel : {"laplacian", "gaussian", "rbf", "matern", "cauchy", "imq"}, Kernel or \
callable, default="laplacian"
        Kernel name, kernelkit kernel object, or a function ``f(A, B)``
        returning a positive semi-definite kernel block.
    bandwidth : float, {"median", "scale"} or None, default="median"
        Kernel width; a rule is resolved on the training data (``bandwidth_``).
        ``None`` keeps the bandwidth of a kernel object.
    n_centers : int, default=1000
        Number p of centers chosen by ``centers``. With ``n_centers >=
        n_samples`` every training point is a center (EigenPro 2).
    centers : {"uniform", "squeak", "kt", "all"} or array-like of shape \
(p, n_features), default="uniform"
        How to pick the centers: a uniform subset of X, ridge-leverage
        sampling (SQUEAK), kernel thinning, all of X (Z = X, EigenPro 2, no
        projection), or given points.
    epochs : int, default=10
        Passes over the training data.
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
        Multiplies the automatic step size (lower it if a fit diverges).
    projection : {"delayed", "every_batch"}, default="delayed"
        "every_batch" projects every update onto the centers (EigenPro 3);
        "delayed" keeps about p/m batches as temporary centers and projects
        once (EigenPro 4's delayed projection; same fixed point, far fewer
        projections).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the
        validation score has not improved by ``tol`` for ``n_iter_no_change``
        epochs.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
        Minimum improvement of the validation score (R² here).
    random_state : int, RandomState instance or None, default=None
        Seeds the centers, the Nyström subsamples, the batch order and the
        ``"median"`` bandwidth rule.
    verbose : int, default=0
        Show a progress bar with the running training loss.

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_centers_, n_outputs)
        α, in the dtype of the training data (NumPy or CuPy).
    centers_ : ndarray of shape (n_centers_, n_features)
        Z.
    kernel_ : Kernel
        The kernel with its resolved bandwidth.
    bandwidth_ : float
    n_centers_ : int
    n_subsamples_ : int
    preconditioner_rank_ : int
    eigenvalues_ : ndarray of shape (preconditioner_rank_ + 1,)
        Top eigenvalues of K(Xs, Xs)/s; the last is λ_{q+1}.
    beta_ : float
        β = max k(x, x).
    critical_batch_size_ : float
        β/λ_{q+1}.
    batch_size_ : int
    step_size_ : float
        η (the per-sample step is η / batch_size_).
    projection_interval_ : int
        Batches between projections (1 for "every_batch", 0 when Z = X).
    n_iter_ : int
        Epochs run (partial_fit: calls made).
    loss_curve_ : list of float
        Mean squared training residual seen during each epoch (before each update).
    validation_scores_ : list of float
        Validation R² per epoch (only with early stopping).
    best_validation_score_ : float
        Only with early stopping.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.

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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training points (NumPy, pandas or CuPy; float32 stays float32).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : EigenProRegressor
        """
        X, y = self._check_Xy(X, y, reset=True)
        xp = get_namespace(X)
        Y = self._targets(y, xp).astype(X.dtype, copy=False)
        if not bool(xp.isfinite(Y).all()):
            raise ValueError("y contains NaN or infinity.")
        return self._fit(X, Y)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """One pass of EigenPro over a batch of data (for data streamed in chunks).

        The first call picks the centers, the bandwidth and the preconditioner
        from its batch, so it should be representative; with fewer than
        ``n_centers`` rows, all of them become centers. Later calls reuse them.
        k calls on the same data equal ``fit`` with ``epochs=k``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : EigenProRegressor
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
        Y = Y.astype(X.dtype, copy=False)
        if not bool(xp.isfinite(Y).all()):
            raise ValueError("y contains NaN or infinity.")
        return self._partial_fit(X, Y, first)

    def _validation_score(self, X, Y, alpha):
        R = self._decision(X, alpha) - Y
        ss_res = float((R * R).sum())
        ss_tot = float(((Y - Y.mean(axis=0)) ** 2).sum())
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else -ss_res

    def predict(self, X):
        """Predict f(X) = K(X, Z)·α.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            In the dtype and on the device of X.
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        out = self._decision(X)
        return out[:, 0] if self._y_1d else out

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_centers=30, epochs=4, n_subsamples=40, random_state=0),
            cls(kernel="gaussian", centers="all", epochs=3, n_subsamples=30, random_state=0),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class EigenProClassifier(ClassifierMixin, _BaseEigenPro):
    """Kernel classifier with decoupled centers, trained by EigenPro 3 (or 2).

    Least squares on one-hot targets (binary: targets ±1 in one column), as
    in the EigenPro papers; ``predict`` takes the argmax (binary: the sign).
    All parameters are those of :class:`EigenProRegressor`; ``tol`` and
    early stopping use the validation accuracy.

    Parameters
    ----------
    kernel : {"laplacian", "gaussian", "rbf", "matern", "cauchy", "imq"}, Kernel or \
callable, default="laplacian"
    bandwidth : float, {"median", "scale"} or None, default="median"
    n_centers : int, default=1000
    centers : {"uniform", "squeak", "kt", "all"} or array-like, default="uniform"
    epochs : int, default=10
    n_subsamples : int or "auto", default="auto"
    preconditioner_rank : int or "auto", default="auto"
    batch_size : int or "auto", default="auto"
    step_scale : float, default=1.0
    projection : {"delayed", "every_batch"}, default="delayed"
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    dual_coef_ : ndarray of shape (n_centers_, n_classes) or (n_centers_, 1)
        One column per class (one column in the binary case).
    centers_, kernel_, bandwidth_, n_centers_, n_subsamples_, preconditioner_rank_, \
eigenvalues_, beta_, critical_batch_size_, batch_size_, step_size_, projection_interval_, \
n_iter_, loss_curve_, validation_scores_, best_validation_score_, n_features_in_, \
feature_names_in_
        As in :class:`EigenProRegressor`.

    See Also
    --------
    EigenProRegressor

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

    _is_classifier = True
    _multi_output = False

    @property
    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _stratify_labels(self, Y):
        codes = to_numpy(Y).argmax(axis=1) if Y.shape[1] > 1 else (to_numpy(Y)[:, 0] > 0)
        counts = np.bincount(np.asarray(codes, dtype=np.int64))
        return codes if counts[counts > 0].min() >= 2 else None

    def _encode(self, y, xp, dtype):
        """One-hot (or ±1 for two classes) targets from labels already checked against classes_."""
        y_host = to_numpy(y)
        codes = np.searchsorted(self.classes_, y_host)
        if len(self.classes_) == 2:
            Y = np.where(codes == 1, 1.0, -1.0).astype(dtype).reshape(-1, 1)
        else:
            Y = np.zeros((y_host.shape[0], len(self.classes_)), dtype=dtype)
            Y[np.arange(y_host.shape[0]), codes] = 1.0
        return Y if xp is np else xp.asarray(Y)

    def _labels(self, y):
        y_host = to_numpy(y)
        y_host = column_or_1d(y_host, warn=True)
        check_classification_targets(y_host)
        return y_host

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the classifier to (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).

        Returns
        -------
        self : EigenProClassifier
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
        return self._fit(X, Y)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One pass of EigenPro over a batch of data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear; required on the first call.

        Returns
        -------
        self : EigenProClassifier
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
        return self._partial_fit(X, Y, first)

    def _validation_score(self, X, Y, alpha):
        F = to_numpy(self._decision(X, alpha))
        Yh = to_numpy(Y)
        if Yh.shape[1] == 1:
            return float(np.mean((F[:, 0] > 0) == (Yh[:, 0] > 0)))
        return float(np.mean(F.argmax(axis=1) == Yh.argmax(axis=1)))

    def decision_function(self, X):
        """Scores K(X, Z)·α: shape (n_samples,) for two classes, else (n_samples, n_classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

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

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        xp = get_namespace(scores)
        codes = (scores > 0).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1)
        if xp is not np and self.classes_.dtype.kind in "biuf":
            return xp.asarray(self.classes_)[codes]
        return self.classes_[to_numpy(codes)]

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_centers=30, epochs=4, n_subsamples=40, random_state=0),
            cls(kernel="gaussian", centers="all", epochs=3, n_subsamples=30, random_state=0),
        ]
