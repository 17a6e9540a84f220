"""Training machinery shared by ``EigenProRegressor`` and ``EigenProClassifier``.

The model is f(x) = K(x, Z)·α with p centers Z, trained on the (weighted)
square loss by projected, preconditioned stochastic gradient descent
(EigenPro 3, Abedsoltan, Belkin & Pandit, "Toward Large Kernel Models", ICML
2023):

- a Nyström preconditioner from a subsample Xs of the data flattens the top q
  eigendirections of the kernel operator, which fixes the batch size
  m = min(β/λ_{q+1}, memory cap) and the step η;
- each batch gives g = f(X_b) − Y_b and the preconditioned gradient evaluated
  at the centers, h = K(Z, X_b)·g − G·Eᵀ·K(Xs, X_b)·g with G = K(Z, Xs)·E·diag(D);
- the update is projected back onto span{k(·, z)}: α ← α − (η/m)·K(Z, Z)⁻¹·h.

``projection="delayed"`` (the default) follows EigenPro 4 ("delayed
projections"): batches are kept as temporary centers for about p/m steps and
projected once. ``centers="all"`` (Z = X) needs no projection and is
EigenPro 2 (Ma & Belkin, SysML 2019).

Divergence policy (one for ``fit`` and ``partial_fit``): after each pass the
training loss of the model is measured exactly (on every row, or on a fixed
uniform sample of 2000 rows for larger data) and compared with the model's
before the pass. A pass whose loss is NaN/inf, whose running loss passes 100
times that reference, or whose model ends with a higher loss is undone and the
step halved. Growth to more than twice the reference (divergence) is retried
with the smaller step; smaller growth is SGD noise or a step slightly too
large: the epoch keeps the previous model and the smaller step. One
``ConvergenceWarning`` naming ``step_scale`` reports divergences when
``step_scale > 1`` or the step fell below a quarter of the automatic one. After
10 failed passes in a row the fit raises ``FloatingPointError`` and leaves the
estimator unchanged. The limit comes from the model, never from the batch's
targets alone.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state

from .._backend import get_namespace
from .._utils._progress import progress
from .._utils._sklearn_compat import Interval, StrOptions
from .._utils._validation import check_points, check_same_features, validate_points
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, Kernel, make_kernel
from ..linalg import KernelOperator
from ..linalg._budget import block_rows
from ..sampling import CENTER_SELECTORS, select_centers
from ._common import check_Xy
from ._eigenpro_pass import _EigenProPasses, monitor_rows, weighted_loss
from ._eigenpro_precond import (
    CenterProjector,
    CholeskyProjector,
    NystromPreconditioner,
    auto_subsamples,
    ep2_step_size,
)

_CENTER_CHOICES = (*CENTER_SELECTORS, "all")
# At most this many passes of EigenPro 2 over the centers per inexact projection (EigenPro 3
# runs 2), stopping once the relative residual is below _PROJECTION_TOL.
_PROJECTION_EPOCHS = 3
_PROJECTION_TOL = 0.05


def _take(A, idx, xp):
    return A[idx] if xp is np else A[xp.asarray(idx)]


def _check_sample_weight(sample_weight, n, xp):
    """Non-negative finite weights of length n, scaled to mean 1 (None: unit weights)."""
    if sample_weight is None:
        return None
    w = check_array(
        np.asarray(sample_weight) if np.ndim(sample_weight) else np.full(n, sample_weight),
        ensure_2d=False,
        dtype=np.float64,
        input_name="sample_weight",
    )
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},); got {w.shape}.")
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative.")
    if not w.sum() > 0:
        raise ValueError("sample_weight must not be all zero (its sum must be positive).")
    # Scaled to mean 1 so that the automatic step, made for unit weights, stays right.
    w = w / w.mean()
    return xp.asarray(w)


class _BaseEigenPro(_EigenProPasses, BaseEstimator):
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
        bandwidth=None,
        *,
        n_centers=5000,
        centers="uniform",
        epochs=5,
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

    # -- input handling (shared with Falkon) -----------------------------------
    def _check_X(self, X, reset):
        return validate_points(self, X, reset=reset)

    def _check_Xy(self, X, y, reset):
        return check_Xy(
            self,
            X,
            y,
            reset=reset,
            classifier=self._is_classifier,
            multi_output=self._multi_output,
        )

    # -- model set-up --------------------------------------------------------
    def _choose_centers(self, X, rng, streaming):
        xp = get_namespace(X)
        n = X.shape[0]
        every_row = isinstance(self.centers, str) and (
            self.centers == "all" or self.n_centers >= n
        )
        if isinstance(self.centers, str) and not every_row:
            # SQUEAK and kernel thinning return about n_centers indices; duplicates would
            # make K(Z, Z) singular.
            idx = np.unique(
                select_centers(
                    self.centers, X, self.n_centers, kernel=self.kernel_, random_state=rng
                )
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
        # partial_fit: later batches are other points, so even when every row of the first
        # batch is a center the model is trained with projections.
        self._all_points = bool(every_row and not streaming)
        return Z

    def _setup(self, X, rng, streaming=False):
        """Resolve the kernel, choose centers, build the preconditioners; return α = 0."""
        xp = get_namespace(X)
        n = X.shape[0]
        kernel = make_kernel(self.kernel, self.bandwidth, X=X)
        self.kernel_ = kernel
        self.bandwidth_ = kernel.bandwidth
        self.beta_ = float(kernel.max_diagonal() if kernel.radial else kernel.max_diagonal(X))
        Z = self._choose_centers(X, rng, streaming)
        p = Z.shape[0]
        self.centers_ = Z
        self.n_centers_ = p

        s = auto_subsamples(n) if self.n_subsamples == "auto" else min(self.n_subsamples, n)
        # With projections the Nyström subsample is drawn from the centers: the preconditioner
        # then maps span{k(·, z)} to itself, so the least-squares fit on the centers stays the
        # fixed point (a subsample of X outside Z biases it). Its correction is a change of α.
        s = s if self._all_points else min(s, p)
        self.n_subsamples_ = int(s)
        self._sample = np.sort(rng.choice(n if self._all_points else p, size=s, replace=False))
        Xs = _take(X if self._all_points else Z, self._sample, xp)
        cap = block_rows(p, X.dtype.itemsize, n_rows=n)
        precond = NystromPreconditioner(
            kernel, Xs, rank=self.preconditioner_rank, max_batch=min(cap, s), beta=self.beta_
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
        eta = ep2_step_size(m, self.beta_, precond.tail)
        projector = None
        if not self._all_points:
            projector = self._make_projector(kernel, Z, rng)
            if not isinstance(projector, CholeskyProjector):
                eta /= 2.0  # EigenPro 3's step η = m/(2β): the projections are inexact
        self._auto_step_size = float(eta)
        eta *= self.step_scale
        self._set_step(eta)
        self._projector = projector
        if self._all_points:
            self.projection_interval_ = 0
        else:
            interval = 1 if self.projection == "every_batch" else max(1, int(np.ceil(p / m)))
            self.projection_interval_ = interval
        return xp.zeros((p, self._n_outputs), dtype=X.dtype)

    def _make_projector(self, kernel, Z, rng):
        p = Z.shape[0]
        if CholeskyProjector.fits(p, Z.dtype.itemsize):
            try:
                projector = CholeskyProjector(kernel, Z, beta=self.beta_)
            except np.linalg.LinAlgError:
                projector = None
            else:
                self.projection_solver_ = "cholesky"
                return projector
        self.projection_solver_ = "eigenpro"
        return CenterProjector(
            kernel,
            Z,
            n_subsamples=auto_subsamples(p),
            rank="auto",
            random_state=rng,
            epochs=_PROJECTION_EPOCHS,
            tol=_PROJECTION_TOL,
        )

    def _set_step(self, eta):
        self.step_size_ = float(eta)
        self._step = eta / self.batch_size_

    # -- the epoch loop and its divergence policy ---------------------------------
    @staticmethod
    def _monitor(X, Y, w):
        rows = monitor_rows(X.shape[0])
        xp = get_namespace(X)
        return _take(X, rows, xp), _take(Y, rows, xp), None if w is None else _take(w, rows, xp)

    def _zero_loss(self, Y, w):
        return weighted_loss(Y, w) / (float(Y.shape[0] if w is None else w.sum()) * Y.shape[1])

    def _warn_halvings(self):
        # A divergence the guard fixed warns when the user asked for a larger step than the
        # automatic one, or when the automatic step itself was far (over 4×) too large; one or
        # two halvings of the automatic step are a calibration of its Nyström estimate.
        if not self._halvings or (
            self.step_scale <= 1 and self.step_size_ >= self._auto_step_size / 4
        ):
            return
        epoch, loss, reference = self._halved_at[0]
        warnings.warn(
            f"EigenPro's training loss grew (epoch {epoch}: {loss:.4g} > {reference:.4g}); "
            f"the pass was undone and the step halved ({self._halvings} time(s) in this call, "
            f"per-sample step now {self._step:.3g}). Lower `step_scale` (now "
            f"{self.step_scale}) to avoid the retries.",
            ConvergenceWarning,
            stacklevel=4,
        )

    def _warn_projection(self):
        projector = self._projector
        if projector is None or not projector.misses:
            return
        warnings.warn(
            f"The projection onto the centers stopped above its tolerance {projector.tol:g} "
            f"in {projector.misses} solve(s) (worst relative residual "
            f"{projector.worst_residual:.3g}); the model is an approximate EigenPro 3 fit. "
            "Raise `working_memory` so that K(Z, Z) fits and the projection is exact, or "
            "use fewer `n_centers`.",
            ConvergenceWarning,
            stacklevel=4,
        )
        projector.misses = 0
        projector.worst_residual = 0.0

    def _guarded(self, method, *args):
        # A failed fit must leave the estimator as it was: no half-set attributes, and
        # never the old weights next to new centers.
        state = self.__dict__.copy()
        try:
            return method(*args)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit(self, X, Y, sample_weight):
        return self._guarded(self._fit_unguarded, X, Y, sample_weight)

    def _fit_unguarded(self, X, Y, sample_weight):
        rng = check_random_state(self.random_state)
        xp = get_namespace(X)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        X_val = Y_val = w_val = None
        if self.early_stopping:
            stratify = self._stratify_labels(Y) if self._is_classifier else None
            tr, va = train_test_split(
                np.arange(X.shape[0]),
                test_size=self.validation_fraction,
                random_state=rng,
                stratify=stratify,
            )
            tr, va = np.sort(tr), np.sort(va)
            X_val, Y_val = _take(X, va, xp), _take(Y, va, xp)
            X, Y = _take(X, tr, xp), _take(Y, tr, xp)
            if sw is not None:
                w_val, sw = sw[va], sw[tr]
        w = _check_sample_weight(sw, X.shape[0], xp)
        alpha = self._setup(X, rng)
        self._loss_scale = self._zero_loss(Y, w)
        monitor = self._monitor(X, Y, w)
        reference = self._zero_loss(monitor[1], monitor[2])
        self._halvings, self._halved_at = 0, []
        n_batches = -(-X.shape[0] // self.batch_size_)
        losses, scores = [], []
        best, no_improve = -np.inf, 0
        stopped = False
        with progress(
            total=self.epochs * n_batches, verbose=self.verbose, desc="EigenPro", unit="batch"
        ) as bar:
            for epoch in range(1, self.epochs + 1):
                reference = self._guarded_pass(X, Y, w, alpha, rng, bar, epoch, monitor, reference)
                losses.append(reference)
                if X_val is not None:
                    score = self._validation_score(X_val, Y_val, alpha, w_val)
                    scores.append(score)
                    if score > best + self.tol:
                        best, no_improve = score, 0
                    else:
                        no_improve += 1
                    if no_improve >= self.n_iter_no_change:
                        stopped = True
                        break
        self.dual_coef_ = alpha
        self.n_iter_ = len(losses)
        self.loss_curve_ = losses
        if X_val is not None:
            self.validation_scores_ = scores
            self.best_validation_score_ = float(best)
        self._rng = rng
        self._warn_halvings()
        self._warn_projection()
        if X_val is not None and not stopped:
            warnings.warn(
                f"Early stopping used all {self.epochs} epochs and the validation score was "
                f"still improving by more than tol={self.tol}; raise `epochs`.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _partial_fit(self, X, Y, first, sample_weight):
        return self._guarded(self._partial_fit_unguarded, X, Y, first, sample_weight)

    def _partial_fit_unguarded(self, X, Y, first, sample_weight):
        xp = get_namespace(X)
        w = _check_sample_weight(sample_weight, X.shape[0], xp)
        if first:
            rng = check_random_state(self.random_state)
            alpha = self._setup(X, rng, streaming=True)
            self._rng = rng
            self.n_iter_ = 0
            self.loss_curve_ = []
            self._loss_scale = self._zero_loss(Y, w)
        else:
            # Later batches may be smaller than the first: the step per sample stays the same.
            alpha = self.dual_coef_.copy()
        monitor = self._monitor(X, Y, w)
        reference = self._monitored_loss(monitor, alpha)
        self._halvings, self._halved_at = 0, []
        with progress(
            total=-(-X.shape[0] // self.batch_size_),
            verbose=self.verbose,
            desc="EigenPro",
            unit="batch",
        ) as bar:
            loss = self._guarded_pass(
                X, Y, w, alpha, self._rng, bar, self.n_iter_ + 1, monitor, reference
            )
        self.dual_coef_ = alpha
        self.n_iter_ += 1
        self.loss_curve_.append(loss)
        self._warn_halvings()
        self._warn_projection()
        return self

    # -- prediction ----------------------------------------------------------------
    def _decision(self, X, alpha=None):
        alpha = self.dual_coef_ if alpha is None else alpha
        op = KernelOperator(self.kernel_, X, self.centers_.astype(X.dtype, copy=False))
        return op.matmat(alpha.astype(X.dtype, copy=False))

    @staticmethod
    def _expected_failed_checks():
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "stochastic gradient descent: weights equal repeated rows only in expectation "
                "(tests/test_eigenpro.py checks the test error within 2%)"
            )
        }

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_centers=30, epochs=4, n_subsamples=40, random_state=0),
            cls(kernel="gaussian", centers="all", epochs=3, n_subsamples=30, random_state=0),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
