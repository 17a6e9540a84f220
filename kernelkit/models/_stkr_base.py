"""Shared machinery of the STKR estimators: parameters, input checks, fit and prediction.

The public classes and their docstrings are in ``_stkr``; the numerics in ``_stkr_core``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import get_namespace
from .._utils._device import attributes_to_device
from .._utils._progress import progress
from .._utils._sklearn_compat import Interval, StrOptions
from .._utils._validation import (
    FLOAT_DTYPES,
    check_points,
    check_same_features,
    validate_points,
)
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, Kernel, make_kernel
from ..linalg import KernelOperator
from ..linalg._budget import budget_bytes
from ..linalg._solvers import EIGEN_SOLVERS
from ._stkr_core import BaseGram, fit_inverse_laplacian, fit_kpca, fit_polynomial

# The parameter is not called "transform": scikit-learn (estimator checks, Pipeline) takes any
# estimator with a ``transform`` attribute for a transformer.
TRANSFORMATIONS = ("inverse_laplacian", "polynomial", "kpca")
# solver="auto" keeps the direct solvers' N×n blocks (about five alive at once) under this.
_DIRECT_BYTES = 2**30
_DIRECT_BLOCKS = 5


#: ``count_transfers`` key: STKR's solvers (CG, eigensolvers, n×n factorisations) run on
#: the host, so device data crosses once per fit; predictions run on the device.
TO_HOST = "stkr: data to the host (the fit's solvers run there)"


class _BaseSTKR(BaseEstimator):
    """Shared fit/predict machinery of the STKR estimators (not public)."""

    _parameter_constraints: dict = {
        "kernel": [StrOptions({*KERNEL_NAMES, "precomputed"}), Kernel, callable],
        "bandwidth": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions(set(BANDWIDTH_RULES)),
            None,
        ],
        "transformation": [StrOptions(set(TRANSFORMATIONS))],
        "eta": [Interval(Real, 0, 1, closed="neither")],
        "coefs": ["array-like"],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "regularization": [Interval(Real, 0, None, closed="neither")],
        "solver": [StrOptions({"auto", "direct", "cg"})],
        "eigen_solver": [StrOptions(set(EIGEN_SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        kernel="gaussian",
        bandwidth=None,
        *,
        transformation="inverse_laplacian",
        eta=0.99,
        coefs=(0.0, 1.0),
        n_components=100,
        normalize=True,
        regularization=1e-3,
        solver="auto",
        eigen_solver="auto",
        tol=1e-6,
        max_iter=None,
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.transformation = transformation
        self.eta = eta
        self.coefs = coefs
        self.n_components = n_components
        self.normalize = normalize
        self.regularization = regularization
        self.solver = solver
        self.eigen_solver = eigen_solver
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose

    # -- input handling ------------------------------------------------------
    @property
    def _precomputed(self):
        return isinstance(self.kernel, str) and self.kernel == "precomputed"

    def _check_X(self, X, reset):
        if get_namespace(X) is not np:  # predict on the device (the fit moved X to the host)
            return validate_points(self, X, reset=reset)
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=FLOAT_DTYPES,
            accept_sparse=("csr", "csc") if self._precomputed else False,
        )
        if reset and self._precomputed and X.shape[0] != X.shape[1]:
            raise ValueError(
                f"X must be a square N×N kernel matrix when kernel='precomputed'; got shape "
                f"{X.shape}."
            )
        return X

    def _checked_coefs(self):
        coefs = np.asarray(self.coefs, dtype=np.float64)
        if coefs.ndim != 1 or coefs.size == 0 or not np.all(np.isfinite(coefs)):
            raise ValueError(
                f"coefs must be a non-empty 1-D sequence of finite numbers (π₁, π₂, ...); got "
                f"{self.coefs!r}."
            )
        if np.any(coefs < 0) or not np.any(coefs > 0):
            raise ValueError(
                f"coefs must be >= 0 with at least one positive value, so that s(λ) = Σ π_p λ^p "
                f"is a valid transform; got {self.coefs!r}."
            )
        return np.trim_zeros(coefs, "b")

    def _fit_points(self, X, X_unlabeled):
        if X_unlabeled is None:
            return X if self._precomputed else X.copy()
        if self._precomputed:
            raise ValueError(
                "X_unlabeled cannot be used with kernel='precomputed': pass the kernel over all "
                "points as X and mark the unlabeled rows in y (-1 for the classifier, NaN for "
                "the regressor)."
            )
        X_unlabeled = check_points(X_unlabeled, "X_unlabeled")
        check_same_features(X, X_unlabeled, "X", "X_unlabeled")
        return np.concatenate([X, X_unlabeled.astype(X.dtype, copy=False)], axis=0)

    def _choose_solver(self, N, n, itemsize):
        if self.transformation == "kpca":
            return "direct"
        if self.solver != "auto":
            return self.solver
        # Sparse kernels too: "cg" nests a CG per product with M⁻¹ for the inverse Laplacian,
        # so the propagated N×n block is cheaper whenever it fits.
        block = N * n * itemsize
        fits = _DIRECT_BLOCKS * block <= _DIRECT_BYTES and block <= budget_bytes()
        return "direct" if fits else "cg"

    # -- the fit ---------------------------------------------------------------
    def _fit(self, X, Y, labeled, X_unlabeled):
        """Fit on rows ``labeled`` of X (targets Y, n×c); the other rows are unlabeled."""
        X_fit = self._fit_points(X, X_unlabeled)
        if labeled.size == 0:
            raise ValueError(
                "y has no labeled row (every row is marked unlabeled); STKR needs at least one "
                "labeled sample."
            )
        N, n = X_fit.shape[0], labeled.size
        transform = self.transformation
        coefs = self._checked_coefs() if transform == "polynomial" else None
        if transform == "kpca" and self.n_components > N:
            raise ValueError(
                f"n_components={self.n_components} must be at most the number of fitted points; "
                f"got {N} sample(s) in X and X_unlabeled."
            )
        if self._precomputed:
            self.kernel_ = "precomputed"
        else:
            self.kernel_ = make_kernel(self.kernel, self.bandwidth, X=X_fit)
            self.bandwidth_ = self.kernel_.bandwidth
        self.X_fit_ = X_fit
        self.labeled_ = labeled
        base = BaseGram(self.kernel_, X_fit, labeled, self.normalize)
        self.degrees_ = base.degrees
        self.solver_ = self._choose_solver(N, n, base.dtype.itemsize)
        rng = check_random_state(self.random_state)
        nbeta = n * float(self.regularization)
        Y = Y.astype(base.dtype, copy=False)
        with progress(verbose=self.verbose, desc=f"STKR ({transform})", unit="iter") as bar:

            def callback(_, residuals):
                bar.update(1)
                bar.set_postfix(residual=f"{residuals.max():.3g}")

            if transform == "polynomial":
                sol = fit_polynomial(
                    base,
                    Y,
                    coefs,
                    nbeta,
                    solver=self.solver_,
                    tol=self.tol,
                    maxiter=self.max_iter,
                    callback=callback,
                )
            elif transform == "inverse_laplacian":
                sol = fit_inverse_laplacian(
                    base,
                    Y,
                    float(self.eta),
                    nbeta,
                    solver=self.solver_,
                    eigen_solver=self.eigen_solver,
                    tol=self.tol,
                    maxiter=self.max_iter,
                    random_state=rng,
                    callback=callback,
                )
            else:
                sol = fit_kpca(
                    base,
                    Y,
                    self.n_components,
                    nbeta,
                    eigen_solver=self.eigen_solver,
                    tol=self.tol,
                    maxiter=self.max_iter,
                    random_state=rng,
                )
                self.n_components_ = sol.eigenvalues.size
                self._eigenvectors = sol.eigenvectors
        for name, value in sol.extra.items():
            setattr(self, name, value)
        self.dual_coef_ = sol.dual
        self.eigenvalues_ = sol.eigenvalues
        self.n_iter_ = sol.n_iter
        # Prediction needs g(x, X_fit) θ: with normalisation that is k(x, X_fit) D^-1/2 θ over
        # sqrt(d(x)), and d(x) = k(x, X_fit) 1/N rides along as one more column.
        if base.scale is None:
            self._coef = sol.dual
        else:
            ones = np.full((N, 1), 1.0 / N, dtype=base.dtype)
            self._coef = np.concatenate([base.scale[:, None] * sol.dual, ones], axis=1)
        return sol.fitted

    def _decision(self, X):
        """f(X) as an (n_samples, c) array."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        coef = self._coef
        xp = get_namespace(X, coef)  # fitted on the other device: a TypeError
        if self._precomputed:
            V = X @ coef.astype(np.result_type(X.dtype, coef.dtype), copy=False)
        else:
            V = KernelOperator(self.kernel_, X, self.X_fit_).matmat(coef.astype(X.dtype))
        V = np.asarray(V) if xp is np else V  # sparse @ dense may give np.matrix
        if self.degrees_ is None:
            return V
        c = V.shape[1] - 1
        tiny = np.finfo(V.dtype).tiny
        return V[:, :c] / xp.sqrt(xp.maximum(V[:, c:], tiny))

    def _to_namespace(self, xp):
        """After a host fit of device data: the arrays predict needs go to the device."""
        return attributes_to_device(
            self, xp, ("X_fit_", "labeled_", "dual_coef_", "_coef", "degrees_", "transduction_")
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self._precomputed
        tags.input_tags.sparse = self._precomputed
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        return tags


_PARAMETERS = """\
    kernel : {"gaussian", "rbf", "laplacian", "laplacian_l1", "matern", "cauchy", "imq", \
"precomputed"}, Kernel or callable, default="gaussian"
        Base kernel: a name, a kernelkit kernel object, a function ``f(A, B)``
        returning a positive semi-definite kernel block, or "precomputed"
        (X is then the N×N base kernel over all points, dense or sparse,
        e.g. a normalised kNN graph; ``predict`` takes K(X_new, X_fit)).
    bandwidth : float, {"median", "scale"} or None, default=None
        Kernel width. ``None`` applies the median rule on all fitted points
        for a kernel given by name and keeps a kernel object's own width.
        With ``normalize=True`` widths well below the median (about 1/6 of
        it on digits) usually work better; see docs/stkr.md.
    transformation : {"inverse_laplacian", "polynomial", "kpca"}, default="inverse_laplacian"
        Spectral transform s: λ/(1 - ηλ) (Algorithm 2 of the paper),
        Σ π_p λ^p with ``coefs`` (Algorithm 1), or the top ``n_components``
        kernel PCA eigenfunctions (the paper's SP-topd).
    eta : float, default=0.99
        For "inverse_laplacian": η·λ₁ in (0, 1), where λ₁ is the top
        eigenvalue of G/N (1 with ``normalize=True``). Near 1, labels spread
        further along the data.
    coefs : array-like of shape (q,), default=(0.0, 1.0)
        For "polynomial": π₁, …, π_q >= 0, not all zero. The default is s(λ) = λ².
    n_components : int, default=100
        For "kpca": the number d of eigenfunctions (at most the number of
        fitted points).
    normalize : bool, default=True
        Use k(x, x')/sqrt(d(x) d(x')) with d(x) the mean of k(x, ·) over the
        fitted points (one extra kernel product; then λ₁ = 1 and no
        eigenvalue is computed for the inverse Laplacian).
    regularization : float, default=1e-3
        Ridge β > 0; the n×n system is K̂_s(Xₙ, Xₙ) + nβI for n labeled points.
    solver : {"auto", "direct", "cg"}, default="auto"
        "direct" propagates the n labeled kernel columns and factors the n×n
        system (memory O(N·n)); "cg" runs conjugate gradients with O(N·c)
        memory (for the inverse Laplacian it nests a CG for every product with
        M⁻¹ and costs far more products). "auto" takes "direct" when its N×n
        blocks fit in 1 GiB and one of them in ``working_memory``. Ignored by "kpca".
    eigen_solver : {"auto", "dense", "arpack", "lobpcg"}, default="auto"
        How eigenvalues of G/N are computed (λ₁ for the unnormalised inverse
        Laplacian, the top d pairs for "kpca"): dense ``eigh`` (N×N values),
        ARPACK's ``eigsh`` or ``lobpcg``; "auto" is dense up to 500 points,
        then ARPACK for d < 10 and LOBPCG above.
    tol : float, default=1e-6
        Relative tolerance of conjugate gradients and of the eigen solvers.
    max_iter : int, default=None
        Iteration limit of the iterative solvers (``None``: 10·size for CG,
        SciPy's limit for ARPACK, 500 for LOBPCG). A solver that stops above
        ``tol`` raises a ``ConvergenceWarning``.
    random_state : int, RandomState instance or None, default=None
        Seeds the starting vectors of the iterative eigen solvers.
    verbose : int, default=0
        Show a progress bar over the solver's iterations.
"""

_ATTRIBUTES = """\
    X_fit_ : ndarray of shape (N, n_features) or (N, N)
        The fitted points: the rows of X, then those of X_unlabeled (for
        kernel="precomputed", the kernel matrix).
    labeled_ : ndarray of shape (n,)
        Rows of ``X_fit_`` that carry a label.
    dual_coef_ : ndarray of shape (N, c)
        θ: f(x) = g(x, X_fit_) θ for the (normalised) base kernel g, in the
        dtype of X.
    kernel_ : Kernel or "precomputed"
        The base kernel with its resolved bandwidth.
    bandwidth_ : float
        The resolved bandwidth (not set for kernel="precomputed").
    degrees_ : ndarray of shape (N,) or None
        d(x_i) = mean_j k(x_i, x_j) when ``normalize=True``.
    eigenvalues_ : ndarray
        Eigenvalues of G/N the fit used: λ₁ for the inverse Laplacian, the
        top ``n_components_`` for "kpca", none for "polynomial".
    top_eigenvalue_ : float
        λ₁(G/N) (inverse Laplacian only).
    eta_ : float
        η = eta/λ₁ (inverse Laplacian only).
    n_components_ : int
        Eigenfunctions kept by "kpca" (numerically null directions are dropped).
    n_iter_ : int
        Iterations of the fit's iterative solver: conjugate gradients (the
        slowest column; for the inverse Laplacian with solver="cg", the inner
        iterations summed), or the eigen solver for "kpca"; 0 when none ran.
    solver_ : {"direct", "cg"}
        The solver used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.
"""
