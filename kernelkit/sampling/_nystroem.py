"""Leverage-score landmarks: the dictionary size search, the center selector behind
``centers="squeak"`` and the :class:`LeverageNystroem` transformer."""

import numbers
import warnings
from functools import partial

import numpy as np
from scipy import linalg, optimize
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._backend import cpu, get_namespace, to_numpy
from .._utils._device import attributes_to_device
from .._utils._parallel import seed_sequence
from .._utils._sklearn_compat import Interval, StrOptions, _fit_context
from .._utils._validation import validate_points
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, CallableKernel, Kernel, make_kernel
from ..linalg import KernelOperator
from ..linalg._budget import largest_square
from ._squeak import DEFAULT_EPSILON, DEFAULT_QBAR, disqueak
from ._squeak_core import (
    _MATRICES_PER_SHRINK,
    TO_HOST,
    EmptyDictionaryError,
    _as_host_points,
    _kernel64,
    _serial_blas,
)

# --------------------------------------------------------------------------------------
# exactly k landmarks by ridge leverage
#
# Recursive RLS-Nyström (Musco & Musco, NeurIPS 2017, Algorithm 3, last step) draws
# exactly s landmarks without replacement with weights equal to the estimated ridge
# leverage scores at a γ matched to s; BLESS (Rudi, Calandriello, Carratino & Rosasco,
# NeurIPS 2018) matches γ to the budget through d_eff(γ). We follow that step: γ solves
# d̂_eff(γ) = Σ_i τ̂_i(γ) = k, with τ̂ estimated from a DISQUEAK dictionary, and the k
# points are drawn so that each point's inclusion probability IS its estimated score
# (capped at 1 and rescaled to sum to k), by randomized systematic sampling.

#: The d_eff search warns when the estimate at the chosen γ is off by more than this factor.
_DEFF_TOLERANCE = 0.2
#: DISQUEAK runs: a dictionary built at γ₀ is trusted for scores at γ within this factor.
_GAMMA_TRUST = 2.0
_MAX_DICTIONARY_RUNS = 3


@_serial_blas
def _pilot_gamma(X, kernel, k, rng):
    """γ with d_eff(γ) ≈ k predicted from a uniform pilot sample of u points.

    The eigenvalues of K_n are about n/u times those of K_U, so
    d_eff(γ) ≈ Σ_j s·λ_j(K_U) / (s·λ_j(K_U) + γ) with s = n/u.
    """
    n = X.shape[0]
    cap = largest_square(8, matrices=_MATRICES_PER_SHRINK)
    u = min(n, max(1000, 2 * k), max(cap, 2))
    U = np.sort(rng.choice(n, size=u, replace=False)) if u < n else np.arange(n)
    lam = np.clip(linalg.eigvalsh(_kernel64(kernel, X[U], X[U], symmetric=True)), 0.0, None)
    lam = lam * (n / u)
    target = min(k, 0.5 * np.count_nonzero(lam > 0))
    return _solve_log(lambda g: float(np.sum(lam / (lam + g))) - target, lam[-1])


def _solve_log(f, scale, floor=0.0):
    """Root of a function decreasing in γ, by ``brentq`` on log γ around ``scale``.

    γ never goes below ``floor`` (where the estimate is lost in round-off); when
    the root lies outside the bracket, the nearer end is returned.
    """
    scale = max(float(scale), np.finfo(np.float64).tiny ** 0.25)
    lo = max(np.log(scale) - 40.0, np.log(floor) if floor > 0 else -np.inf)
    hi = max(np.log(scale) + 10.0, lo + 1.0)
    if f(np.exp(lo)) <= 0:
        return float(np.exp(lo))
    if f(np.exp(hi)) >= 0:
        return float(np.exp(hi))
    return float(np.exp(optimize.brentq(lambda t: f(np.exp(t)), lo, hi, xtol=1e-6)))


class _DictionaryScores:
    """τ̂_i(γ) of every row of X for any γ, from one SQUEAK dictionary D.

    τ̂_i(γ) = (k_ii − g_iᵀ(Λ + γI)⁻¹g_i)/γ with S̄K_DDS̄ = VΛVᵀ and g_i = VᵀS̄k_D(x_i):
    the estimator of :meth:`SqueakDictionary.leverage_scores` with γ free, so the
    d_eff curve Σ_i τ̂_i(γ) = (Σ k_ii − Σ_j c_j/(Λ_j + γ))/γ needs only
    c_j = Σ_i g_ij², accumulated in one blocked pass.
    """

    def __init__(self, dictionary, X):
        self.dictionary = dictionary
        self.X = X
        s = np.sqrt(dictionary.weights)
        K = _kernel64(dictionary.kernel, dictionary.points, dictionary.points, symmetric=True)
        with cpu.single_threaded_blas():  # as in SQUEAK: small, and identical for any thread count
            lam, V = linalg.eigh(s[:, None] * K * s[None, :])
        self.lam = np.clip(lam, 0.0, None)
        self.proj = s[:, None] * V
        self.trace = 0.0
        self.c = np.zeros_like(self.lam)
        for _, G, diag in self._blocks():
            self.c += np.einsum("ij,ij->j", G, G)
            self.trace += float(diag.sum())

    def _blocks(self):
        op = KernelOperator(
            self.dictionary.kernel,
            np.asarray(self.X, np.float64),
            np.asarray(self.dictionary.points, np.float64),
        )
        for rows, block in op.blocks():
            yield rows, block @ self.proj, self.dictionary.kernel.diag(op.X[rows])

    def effective_dimension(self, gamma):
        return (self.trace - float(np.sum(self.c / (self.lam + gamma)))) / gamma

    def scores(self, gamma, clip=True):
        out = np.empty(self.X.shape[0])
        for rows, G, diag in self._blocks():
            out[rows] = (diag - ((G * G) / (self.lam + gamma)).sum(axis=1)) / gamma
        return np.clip(out, 0.0, 1.0) if clip else out


def _capped_probabilities(scores, k):
    """π_i = min(1, c·τ_i) with c ≥ 1 chosen so that Σ π_i = k (PPS with capping)."""
    scores = np.asarray(scores, dtype=np.float64)
    # Points with a zero estimate keep a tiny chance, so k draws always exist.
    floor = max(float(scores.max()), 1.0) * 1e-12
    scores = np.maximum(scores, floor)
    if np.minimum(scores, 1.0).sum() >= k:
        c = optimize.brentq(lambda c: np.minimum(c * scores, 1.0).sum() - k, 0.0, 1.0)
    else:
        c = optimize.brentq(lambda c: np.minimum(c * scores, 1.0).sum() - k, 1.0, 1.0 / floor)
    pi = np.minimum(c * scores, 1.0)
    return pi * (k / pi.sum()) if pi.max() < 1.0 else pi


def _systematic_sample(pi, k, rng):
    """k distinct indices with P(i drawn) = π_i (Σπ = k, π ≤ 1): randomized systematic sampling.

    Points in a random order tile [0, k) with lengths π_i; the ones hit by the
    grid u, u+1, …, u+k−1 (u uniform in [0, 1)) are drawn. No interval is longer
    than 1, so each point is hit at most once and exactly k points come out.
    """
    order = rng.permutation(pi.shape[0])
    edges = np.cumsum(pi[order])
    edges *= k / edges[-1]
    hits = np.searchsorted(edges, rng.uniform() + np.arange(k), side="right")
    hits = np.minimum(hits, pi.shape[0] - 1)
    idx = np.unique(order[hits])
    if idx.shape[0] < k:  # round-off at an interval edge: top up with the likeliest others
        order = np.argsort(-pi, kind="stable")
        rest = order[~np.isin(order, idx)]
        idx = np.concatenate([idx, rest[: k - idx.shape[0]]])
    return np.sort(idx)


def _deff_gap(estimator, target, gamma):
    return estimator.effective_dimension(gamma) - target


def leverage_landmarks(
    X, kernel, k, *, qbar, epsilon, block_size, n_jobs, random_state, verbose=0
):
    """Exactly ``k`` distinct rows of X drawn by estimated ridge leverage.

    Returns (indices, dictionary, γ, d̂_eff(γ)). ``qbar`` is lowered for large k so
    that the dictionary (about q̄·(1−ε)·k points, twice that during a merge) stays
    within ``working_memory``.
    """
    n = X.shape[0]
    pilot_seed, run_seed, draw_seed = seed_sequence(random_state).spawn(3)
    gamma = _pilot_gamma(X, kernel, k, np.random.default_rng(pilot_seed))
    affordable = largest_square(8, matrices=_MATRICES_PER_SHRINK) // 2
    qbar = int(max(1, min(qbar, affordable // max(1, (1.0 - epsilon) * k))))
    estimator = None
    for attempt_seed in run_seed.spawn(_MAX_DICTIONARY_RUNS):
        built_at = gamma
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
        except EmptyDictionaryError:
            gamma /= 10.0
            continue
        estimator = _DictionaryScores(d, X)
        # Below ~1e-12·tr(K) the d_eff estimate, a difference of numbers of size tr(K)/γ,
        # is round-off: k is then beyond the numerical rank of K.
        gap = partial(_deff_gap, estimator, min(float(k), 0.999 * n))
        gamma = _solve_log(gap, gamma, floor=1e-12 * estimator.trace)
        if abs(np.log(gamma / built_at)) <= np.log(_GAMMA_TRUST):
            break
    if estimator is None:
        raise EmptyDictionaryError(
            f"SQUEAK found no regularization giving about n_components={k} landmarks."
        )
    d_eff = estimator.effective_dimension(gamma)
    if abs(d_eff - k) > _DEFF_TOLERANCE * k:
        warnings.warn(
            f"The leverage size search reached an estimated effective dimension of {d_eff:.1f} "
            f"for n_components={k} (more than {_DEFF_TOLERANCE:.0%} off); the {k} landmarks "
            "are drawn anyway. Raise qbar or working_memory for a better estimate.",
            ConvergenceWarning,
            stacklevel=3,
        )
    pi = _capped_probabilities(estimator.scores(gamma), k)
    idx = _systematic_sample(pi, k, np.random.default_rng(draw_seed))
    return idx, estimator.dictionary, gamma, d_eff


def select_centers(X, n_centers, *, kernel, random_state=None):
    """Indices of exactly ``n_centers`` rows of X drawn by ridge leverage (``centers="squeak"``).

    The same routine as :class:`LeverageNystroem` with ``n_components``: γ
    is matched to the size through the estimated effective dimension and the
    rows are drawn with inclusion probabilities equal to their estimated
    ridge leverage scores.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    n_centers : int
        Number of rows to return (all rows when it is at least n_samples).
    kernel : str, Kernel or callable
        Kernel (resolved by :func:`~kernelkit.make_kernel`).
    random_state : int, RandomState instance or None, default=None
        Seeds the sampling.

    Returns
    -------
    indices : ndarray of shape (min(n_centers, n_samples),)
        Increasing row indices.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.sampling._nystroem import select_centers
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> idx = select_centers(X, 40, kernel="gaussian", random_state=0)
    >>> len(idx), bool(np.all(np.diff(idx) > 0))
    (40, True)
    """
    X = _as_host_points(X, "X")
    if isinstance(n_centers, bool) or not isinstance(n_centers, numbers.Integral):
        raise TypeError(f"n_centers must be a positive integer; got {n_centers!r}.")
    if n_centers < 1:
        raise ValueError(f"n_centers must be a positive integer; got {n_centers!r}.")
    if n_centers >= X.shape[0]:
        return np.arange(X.shape[0])
    kernel = make_kernel(kernel, None, X=X)
    idx, _, _, _ = leverage_landmarks(
        X,
        kernel,
        int(n_centers),
        qbar=DEFAULT_QBAR,
        epsilon=DEFAULT_EPSILON,
        block_size=None,
        n_jobs=None,
        random_state=random_state,
    )
    return idx


# --------------------------------------------------------------------------------------
# transformer


class LeverageNystroem(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Nyström feature map whose landmarks are drawn by ridge leverage scores.

    A drop-in for :class:`sklearn.kernel_approximation.Nystroem`: it returns
    exactly ``n_components`` landmarks, accepts ``kernel="precomputed"`` and
    ``kernel_params``, but draws the landmarks by their estimated ridge
    leverage scores (RLS) τ_i(γ) = [K(K+γI)⁻¹]_ii, so rare regions of the data
    that carry kernel mass are kept. γ is chosen so that the effective
    dimension d_eff(γ) = Σ_i τ_i(γ) is ``n_components``; the scores come from a
    :func:`disqueak` dictionary, and each point is drawn with probability equal
    to its estimated score (capped at 1, rescaled to sum to ``n_components``),
    the last step of recursive RLS-Nyström (Musco & Musco, 2017).
    ``transform(X) = K(X, D)·K_DD^{-1/2}`` with the inverse square root taken by
    an eigendecomposition that drops eigenvalues below a relative threshold,
    so ⟨φ(x), φ(z)⟩ = K(x, D)K_DD⁺K(D, z).

    Parameters
    ----------
    kernel : str, Kernel or callable, default="gaussian"
        Kernel name (see :data:`kernelkit.KERNEL_NAMES`), object, function
        ``f(A, B, **kernel_params)`` returning a kernel block, or
        ``"precomputed"`` (then ``fit`` takes the n×n training kernel matrix
        and ``transform`` the kernel between new and training points).
    bandwidth : float, {"median", "scale"} or None, default=None
        Kernel bandwidth (a rule is resolved on the training data); ``None``
        keeps a kernel object's own bandwidth (for a name: what
        :func:`~kernelkit.make_kernel` gives).
        Giving it with a callable or precomputed kernel is an error.
    n_components : int, default=100
        Number of landmarks (exactly; all samples when n_samples is smaller).
    regularization : float, default=None
        Ridge γ of the leverage scores. When given (with ``sampler="squeak"``),
        the landmarks are the DISQUEAK dictionary at that γ and
        ``n_components`` is ignored.
    qbar : int, default=20
        Virtual copies per point of the DISQUEAK dictionary that estimates
        the scores (see :func:`squeak`); lowered automatically for large
        ``n_components`` so that the dictionary fits ``working_memory``.
    epsilon : float, default=0.5
        Accuracy parameter of the RLS estimator, in (0, 1).
    sampler : {"squeak", "uniform"}, default="squeak"
        ``"uniform"`` draws landmarks uniformly without replacement, as
        scikit-learn's ``Nystroem`` does (for comparisons).
    kernel_params : dict, default=None
        Extra keyword arguments of a callable kernel.
    block_size : int, default=None
        DISQUEAK leaf size; ``None``: 256.
    n_jobs : int, default=None
        joblib workers for DISQUEAK (results do not depend on it).
    random_state : int, RandomState instance or None, default=None
        Seeds the sampling.
    verbose : int, default=0
        Progress bars while sampling.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        The landmarks (rows of the kernel matrix for ``kernel="precomputed"``).
    component_indices_ : ndarray of shape (n_components_,)
        Their rows in the training data.
    normalization_ : ndarray of shape (n_components_, n_components_)
        K_DD^{-1/2} (pseudo-inverse square root).
    n_components_ : int
        Number of landmarks.
    regularization_ : float or None
        γ used (matched to ``n_components`` when ``regularization`` is None;
        None for the uniform sampler).
    effective_dimension_ : float or None
        Estimated d_eff(γ) at ``regularization_``.
    dictionary_ : SqueakDictionary or None
        The DISQUEAK dictionary behind the scores (None for the uniform sampler).
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
    >>> Z.shape, nys.n_components_
    ((200, 30), 30)
    >>> nys.get_feature_names_out()[:2]
    array(['leveragenystroem0', 'leveragenystroem1'], dtype=object)
    """

    _parameter_constraints: dict = {
        "kernel": [StrOptions(set(KERNEL_NAMES) | {"precomputed"}), Kernel, callable],
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
        "kernel_params": [dict, None],
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
        kernel_params=None,
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
        self.kernel_params = kernel_params
        self.block_size = block_size
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _resolve_kernel(self, X):
        """(kernel, points the samplers see); a precomputed matrix is sampled by row index."""
        precomputed = isinstance(self.kernel, str) and self.kernel == "precomputed"
        named = isinstance(self.kernel, (str, Kernel)) and not precomputed
        if self.bandwidth is not None and not named:
            raise ValueError(
                f"bandwidth={self.bandwidth!r} cannot be used with kernel={self.kernel!r}: a "
                "callable or precomputed kernel has no bandwidth (pass parameters of a callable "
                "through kernel_params)."
            )
        if self.kernel_params and (isinstance(self.kernel, (str, Kernel))):
            raise ValueError(
                "kernel_params is only used with a callable kernel; give a named kernel's "
                "width as bandwidth."
            )
        if precomputed:
            if X.shape[0] != X.shape[1]:
                raise ValueError(
                    f"kernel='precomputed' needs the square training kernel matrix; got X of "
                    f"shape {X.shape}."
                )
            return CallableKernel(_IndexedKernel(X)), np.arange(X.shape[0], dtype=np.float64)[
                :, None
            ]
        if not isinstance(self.kernel, (str, Kernel)):
            function = self.kernel
            if self.kernel_params:
                function = partial(function, **self.kernel_params)
            return CallableKernel(function), X
        return make_kernel(self.kernel, self.bandwidth, X=X), X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the landmarks and compute the normalization.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, n_samples)
            Training data (float32 stays float32 in ``transform``), or the
            training kernel matrix for ``kernel="precomputed"``.
        y : None
            Ignored.

        Returns
        -------
        self : LeverageNystroem
            The fitted transformer.
        """
        xp = get_namespace(X)
        X = to_numpy(validate_points(self, X, reset=True), TO_HOST)
        rng = check_random_state(self.random_state)
        # One integer from the estimator's RNG seeds all sampling, so refits with a fixed
        # random_state agree and a RandomState instance still advances.
        seed = int(rng.randint(np.iinfo(np.int32).max))
        kernel, points = self._resolve_kernel(X)
        n = X.shape[0]
        self.dictionary_ = None
        self.regularization_ = None
        self.effective_dimension_ = None
        sampling = dict(
            qbar=self.qbar,
            epsilon=self.epsilon,
            block_size=self.block_size,
            n_jobs=self.n_jobs,
            random_state=seed,
            verbose=self.verbose,
        )
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
        elif self.regularization is not None:
            d = disqueak(points, kernel, self.regularization, **sampling)
            self.dictionary_, self.regularization_ = d, float(self.regularization)
            self.effective_dimension_ = d.effective_dimension
            idx = d.indices
        else:
            idx, d, gamma, d_eff = leverage_landmarks(
                points, kernel, self.n_components, **sampling
            )
            self.dictionary_, self.regularization_, self.effective_dimension_ = d, gamma, d_eff
        self.kernel_ = kernel
        self.component_indices_ = np.asarray(idx, dtype=np.intp)
        self.components_ = X[self.component_indices_]
        landmarks = points[self.component_indices_]
        self.normalization_ = self._inverse_sqrt(
            _kernel64(kernel, landmarks, landmarks, symmetric=True), np.finfo(X.dtype).eps
        )
        self.n_components_ = int(self.component_indices_.shape[0])
        self._n_features_out = self.n_components_
        # Device input: transform runs its kernel products there.
        return attributes_to_device(self, xp, ["components_", "normalization_"])

    @staticmethod
    def _inverse_sqrt(K, eps):
        # K is float64, so its own round-off is m·eps64·λ_max (a pseudo-inverse's threshold).
        # transform computes kernel rows in the data's dtype, each entry within eps·β: their
        # error has norm up to m·eps·β, and directions below that would amplify it. (A threshold
        # of m·eps·λ_max, λ_max ≈ m·β, dropped every eigenvalue under 0.9 for 5000 float32
        # landmarks on Fashion-MNIST and cost 3 points of accuracy.)
        lam, V = linalg.eigh(K)
        beta = float(np.abs(np.diag(K)).max())
        floor = K.shape[0] * max(eps * beta, np.finfo(np.float64).eps * max(lam[-1], 0.0))
        keep = lam > floor
        Vk = V[:, keep]
        return (Vk / np.sqrt(lam[keep])) @ Vk.T

    def transform(self, X):
        """Map X to the Nyström features K(X, D)·K_DD^{-1/2}.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points, or for ``kernel="precomputed"`` their kernel values with
            the training points, shape (n_samples, n_training_samples).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
            float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self)
        X = validate_points(self, X, reset=False)
        get_namespace(X, self.components_)  # fitted on the other device: a TypeError
        N = self.normalization_.astype(X.dtype, copy=False)
        if isinstance(self.kernel, str) and self.kernel == "precomputed":
            return X[:, self.component_indices_] @ N
        D = self.components_.astype(X.dtype, copy=False)
        return KernelOperator(self.kernel_, X, D) @ N

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.pairwise = isinstance(self.kernel, str) and self.kernel == "precomputed"
        return tags

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_components=8, random_state=0),
            cls(kernel="laplacian", regularization=0.5, random_state=0),
            cls(sampler="uniform", n_components=5, random_state=0),
        ]


class _IndexedKernel:
    """Kernel on row indices that reads a precomputed matrix (picklable, unlike a lambda)."""

    def __init__(self, K):
        self.K = np.asarray(K, dtype=np.float64)

    def __call__(self, A, B):
        rows = np.asarray(A[:, 0], dtype=np.intp)
        cols = np.asarray(B[:, 0], dtype=np.intp)
        return self.K[np.ix_(rows, cols)]
