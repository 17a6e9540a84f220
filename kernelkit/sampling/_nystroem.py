"""Leverage-score landmarks: the dictionary size search, the center selector behind
``centers="squeak"`` and the :class:`LeverageNystroem` transformer."""

import numbers
import warnings

import numpy as np
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._config import get_config
from .._utils._parallel import seed_sequence
from .._utils._sklearn_compat import Interval, StrOptions, _fit_context
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, Kernel, make_kernel
from ..linalg import KernelOperator
from ._squeak import (
    _MATRICES_PER_SHRINK,
    _MAX_SIZE_RUNS,
    _MIB,
    _SIZE_TOLERANCE,
    DEFAULT_EPSILON,
    DEFAULT_QBAR,
    EmptyDictionaryError,
    _as_host_points,
    _kernel64,
    _serial_blas,
    disqueak,
)

# --------------------------------------------------------------------------------------
# choosing γ for a target dictionary size


@_serial_blas
def _pilot_size_curve(X, kernel, n_target, epsilon, qbar, rng):
    """Expected dictionary size as a function of γ, predicted from a uniform pilot sample.

    Eigenvalues of K_n are about n/u times those of K_U for a uniform sample U of
    u points, so τ_i(γ) on the data ≈ τ_i(γ·u/n) on U, and a point is kept with
    probability 1 − (1 − (1−ε)τ_i)^q̄ (at least one of q̄ copies survives).
    """
    n = X.shape[0]
    budget = get_config()["working_memory"]
    cap = int(np.sqrt(budget * _MIB / (_MATRICES_PER_SHRINK * 8)))
    u = min(n, max(1000, 2 * n_target), max(cap, 2))
    U = np.sort(rng.choice(n, size=u, replace=False)) if u < n else np.arange(n)
    lam, V = linalg.eigh(_kernel64(kernel, X[U], X[U], symmetric=True))
    lam = np.clip(lam, 0.0, None)
    V2 = V * V
    scale = n / u

    def expected_size(gamma):
        tau = V2 @ (lam / (lam + gamma / scale))
        keep = 1.0 - (1.0 - (1.0 - epsilon) * np.clip(tau, 0.0, 1.0)) ** qbar
        return scale * float(np.sum(keep))

    top = max(float(lam[-1]) * scale, 1e-300)
    return expected_size, (top * 1e-12, top * 1e6)


def _solve_size(expected_size, target, bracket):
    """γ with expected_size(γ) = target by bisection in log γ (the curve decreases in γ)."""
    lo, hi = np.log(bracket[0]), np.log(bracket[1])
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if expected_size(np.exp(mid)) > target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))


def _dictionary_for_size(
    X, kernel, n_target, *, qbar, epsilon, block_size, n_jobs, random_state, verbose=0
):
    """DISQUEAK at the γ whose dictionary has about ``n_target`` points.

    A pilot curve predicts γ. The pilot is biased on some data (duplicates,
    clusters), so after the first DISQUEAK run its target is rescaled by the
    observed/predicted size ratio; from the second run on, γ follows a secant
    step on log(size) against log(γ) through the last two runs. At most
    ``_MAX_SIZE_RUNS`` runs; returns the one closest to the target and its γ.
    """
    pilot_seed, run_seed = seed_sequence(random_state).spawn(2)
    expected_size, bracket = _pilot_size_curve(
        X, kernel, n_target, epsilon, qbar, np.random.default_rng(pilot_seed)
    )
    gamma = _solve_size(expected_size, n_target, bracket)
    best = None
    history = []
    for attempt_seed in run_seed.spawn(_MAX_SIZE_RUNS):
        try:
            d = disqueak(
                X,
                kernel,
                gamma,
                qbar=qbar,
                epsilon=epsilon,
                block_size=block_size,
                n_jobs=n_jobs,
                random_state=attempt_seed,
                verbose=verbose,
            )
            size = len(d)
        except EmptyDictionaryError:
            d, size = None, 0
        if d is not None:
            miss = abs(np.log(size / n_target))
            if best is None or miss < best[0]:
                best = (miss, d, gamma)
            if miss < np.log(_SIZE_TOLERANCE):
                break
        history.append((np.log(gamma), np.log(max(size, 0.5))))
        if len(history) == 1:
            bias = np.clip(max(size, 0.5) / expected_size(gamma), 1 / 30, 30)
            gamma = _solve_size(expected_size, n_target / bias, bracket)
        else:
            (g0, s0), (g1, s1) = history[-2], history[-1]
            # Sizes fall with γ roughly like a power law; keep the slope in a sane range.
            slope = (s1 - s0) / (g1 - g0) if g1 != g0 else -1.0
            slope = float(np.clip(slope, -3.0, -0.2))
            gamma = float(np.exp(g1 + (np.log(n_target) - s1) / slope))
    if best is None:
        raise EmptyDictionaryError(
            f"SQUEAK found no regularization giving about n_components={n_target} points."
        )
    return best[1], best[2]


def select_centers(X, n_centers, *, kernel, random_state=None):
    """Indices of about ``n_centers`` rows of X chosen by DISQUEAK ridge-leverage sampling.

    The registry entry behind ``centers="squeak"`` of the EigenPro estimators;
    γ is found automatically for the requested size (as for
    :class:`LeverageNystroem` with ``n_components``).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.sampling._nystroem import select_centers
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> idx = select_centers(X, 40, kernel="gaussian", random_state=0)
    >>> bool(20 <= len(idx) <= 80), bool(np.all(np.diff(idx) > 0))
    (True, True)
    """
    X = _as_host_points(X, "X")
    if isinstance(n_centers, bool) or not isinstance(n_centers, numbers.Integral):
        raise TypeError(f"n_centers must be a positive integer; got {n_centers!r}.")
    if n_centers < 1:
        raise ValueError(f"n_centers must be a positive integer; got {n_centers!r}.")
    if n_centers >= X.shape[0]:
        return np.arange(X.shape[0])
    kernel = make_kernel(kernel, None, X=X)
    d, _ = _dictionary_for_size(
        X,
        kernel,
        int(n_centers),
        qbar=DEFAULT_QBAR,
        epsilon=DEFAULT_EPSILON,
        block_size=None,
        n_jobs=None,
        random_state=random_state,
    )
    return d.indices.copy()


# --------------------------------------------------------------------------------------
# transformer


class LeverageNystroem(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Nyström feature map whose landmarks are a SQUEAK ridge-leverage dictionary.

    A drop-in for :class:`sklearn.kernel_approximation.Nystroem`: landmarks D
    come from :func:`disqueak` instead of a uniform sample, so rare regions of
    the data that carry kernel mass (high-leverage points) are kept.
    ``transform(X) = K(X, D)·K_DD^{-1/2}`` with the inverse square root taken
    by an eigendecomposition that drops eigenvalues below a relative
    threshold, so ⟨φ(x), φ(z)⟩ = K(x, D)K_DD⁺K(D, z).

    Parameters
    ----------
    kernel : str, Kernel or callable, default="gaussian"
        Kernel name (see :data:`kernelkit.KERNEL_NAMES`), object or function.
    bandwidth : float, {"median", "scale"} or None, default=None
        Kernel bandwidth (a rule is resolved on the training data); ``None``
        keeps a kernel object's own bandwidth, 1.0 for a kernel name.
    n_components : int, default=100
        Target number of landmarks when ``regularization`` is None: γ is then
        chosen automatically so that the dictionary has about this many points
        (within ~20 % unless five runs did not get there; the exact count is
        ``n_components_``). With
        ``sampler="uniform"`` exactly this many points are drawn.
    regularization : float, default=None
        Ridge γ of the leverage scores. When given (with ``sampler="squeak"``),
        it fixes the dictionary and ``n_components`` is ignored.
    qbar : int, default=20
        Virtual copies per point (see :func:`squeak`). At the default the sketch
        error ‖(K+γI)^{-1/2}(K−K_S)(K+γI)^{-1/2}‖₂ is typically 0.5–1 (measured in
        docs/squeak.md); raise it for a certified ε-accurate dictionary.
    epsilon : float, default=0.5
        Accuracy parameter of the RLS estimator, in (0, 1).
    sampler : {"squeak", "uniform"}, default="squeak"
        ``"uniform"`` draws landmarks uniformly without replacement, as
        scikit-learn's ``Nystroem`` does (for comparisons).
    block_size : int, default=None
        DISQUEAK leaf size; ``None``: 256.
    n_jobs : int, default=None
        joblib workers for DISQUEAK (results do not depend on it).
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Progress bars while sampling.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        The landmarks.
    component_indices_ : ndarray of shape (n_components_,)
        Their rows in the training data.
    normalization_ : ndarray of shape (n_components_, n_components_)
        K_DD^{-1/2} (pseudo-inverse square root).
    n_components_ : int
        Number of landmarks.
    regularization_ : float or None
        γ used (found automatically when ``regularization`` is None; None for
        the uniform sampler).
    dictionary_ : SqueakDictionary or None
        The SQUEAK dictionary (None for the uniform sampler).
    kernel_ : Kernel
        The resolved kernel.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import LeverageNystroem
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> nys = LeverageNystroem(n_components=30, random_state=0).fit(X)
    >>> Z = nys.transform(X)
    >>> Z.shape[1] == nys.n_components_ == len(nys.component_indices_)
    True
    >>> nys.get_feature_names_out()[:2]
    array(['leveragenystroem0', 'leveragenystroem1'], dtype=object)
    """

    _parameter_constraints: dict = {
        "kernel": [StrOptions(set(KERNEL_NAMES)), Kernel, callable],
        "bandwidth": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions(set(BANDWIDTH_RULES)),
            None,
        ],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "regularization": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "qbar": [Interval(numbers.Integral, 1, None, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, 1, closed="neither")],
        "sampler": [StrOptions({"squeak", "uniform"})],
        "block_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        kernel="gaussian",
        *,
        bandwidth=None,
        n_components=100,
        regularization=None,
        qbar=DEFAULT_QBAR,
        epsilon=DEFAULT_EPSILON,
        sampler="squeak",
        block_size=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.n_components = n_components
        self.regularization = regularization
        self.qbar = qbar
        self.epsilon = epsilon
        self.sampler = sampler
        self.block_size = block_size
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the landmarks and compute the normalization.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (float32 stays float32 in ``transform``).
        y : None
            Ignored.

        Returns
        -------
        self : LeverageNystroem
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        rng = check_random_state(self.random_state)
        # One integer from the estimator's RNG seeds all sampling, so refits with a fixed
        # random_state agree and a RandomState instance still advances.
        seed = int(rng.randint(np.iinfo(np.int32).max))
        kernel = make_kernel(self.kernel, self.bandwidth, X=X)
        n = X.shape[0]
        self.dictionary_ = None
        self.regularization_ = None
        if self.sampler == "uniform" or (self.regularization is None and self.n_components >= n):
            if self.n_components > n and self.regularization is None:
                warnings.warn(
                    f"n_components={self.n_components} > n_samples={n}: every sample is used "
                    "as a landmark.",
                    UserWarning,
                    stacklevel=2,
                )
            size = min(self.n_components, n)
            gen = np.random.default_rng(seed)
            idx = np.sort(gen.choice(n, size=size, replace=False)) if size < n else np.arange(n)
        else:
            block = self.block_size
            if self.regularization is not None:
                d = disqueak(
                    X,
                    kernel,
                    self.regularization,
                    qbar=self.qbar,
                    epsilon=self.epsilon,
                    block_size=block,
                    n_jobs=self.n_jobs,
                    random_state=seed,
                    verbose=self.verbose,
                )
                gamma = float(self.regularization)
            else:
                d, gamma = _dictionary_for_size(
                    X,
                    kernel,
                    self.n_components,
                    qbar=self.qbar,
                    epsilon=self.epsilon,
                    block_size=block,
                    n_jobs=self.n_jobs,
                    random_state=seed,
                    verbose=self.verbose,
                )
            self.dictionary_ = d
            self.regularization_ = gamma
            idx = d.indices
        self.kernel_ = kernel
        self.component_indices_ = np.asarray(idx, dtype=np.intp)
        self.components_ = X[self.component_indices_]
        self.normalization_ = self._inverse_sqrt(
            _kernel64(kernel, self.components_, self.components_, symmetric=True),
            np.finfo(X.dtype).eps,
        )
        self.n_components_ = int(self.component_indices_.shape[0])
        self._n_features_out = self.n_components_
        return self

    @staticmethod
    def _inverse_sqrt(K, eps):
        # Relative threshold as in a pseudo-inverse: eigenvalues below m·eps·λ_max are noise,
        # and inverting them would amplify kernel round-off in transform.
        lam, V = linalg.eigh(K)
        keep = lam > max(lam[-1], 0.0) * K.shape[0] * eps
        Vk = V[:, keep]
        return (Vk / np.sqrt(lam[keep])) @ Vk.T

    def transform(self, X):
        """Map X to the Nyström features K(X, D)·K_DD^{-1/2}.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
            float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        D = self.components_.astype(X.dtype, copy=False)
        op = KernelOperator(self.kernel_, X, D)
        return op @ self.normalization_.astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_components=8, random_state=0),
            cls(kernel="laplacian", regularization=0.5, random_state=0),
            cls(sampler="uniform", n_components=5, random_state=0),
        ]
