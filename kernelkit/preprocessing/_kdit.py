"""The kernel density integral (KDI) transform: a drop-in for ``QuantileTransformer``.

Per feature, ``T(x) = (F(x) - F(min)) / (F(max) - F(min))`` where ``F`` is the CDF of a
Gaussian kernel density estimate with bandwidth ``alpha * std``. Small ``alpha`` gives the
empirical CDF (quantile transform), large ``alpha`` gives min-max scaling (McCarter,
"The Kernel Density Integral Transformation", TMLR 2023).
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr, ndtri
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import cpu, get_namespace, select_engine
from .._backend import kdit_fit as _fit
from .._backend import kdit_transform as _kdit
from .._config import get_config
from .._utils._device import to_host
from .._utils._sklearn_compat import Interval, StrOptions, _fit_context
from .._utils._validation import check_points, check_sample_weight

# float16 (and integer) input is converted to float64, as scikit-learn's estimators that
# list only these two dtypes do: Numba has no float16 arithmetic.
_DTYPES = (np.float64, np.float32)

# Same clipping as scikit-learn's QuantileTransformer for output_distribution="normal",
# so that the two give identical tails (about +-5.2) and round-trip alike.
_BOUNDS_THRESHOLD = 1e-7
_RULES = {"scott": _fit.RULE_SCOTT, "silverman": _fit.RULE_SILVERMAN}


_FIT_TO_HOST = "KDITransformer.fit: data to the host (sort and sweep run there)"


class KDITransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Kernel density integral transform: a tunable blend of min-max and quantile scaling.

    Each feature is mapped through the cumulative distribution function of a Gaussian
    kernel density estimate (KDE) of that feature, rescaled so that the training minimum
    goes to 0 and the maximum to 1:
    ``T(x) = (F(x) - F(min)) / (F(max) - F(min))`` with
    ``F(x) = mean_i Phi((x - x_i) / h)`` and bandwidth ``h = alpha * std`` (sample
    standard deviation, ``ddof=1``, as :class:`scipy.stats.gaussian_kde` uses). As
    ``alpha -> 0`` this is the empirical CDF (:class:`~sklearn.preprocessing.
    QuantileTransformer`), as ``alpha -> inf`` it is
    :class:`~sklearn.preprocessing.MinMaxScaler`; ``alpha=1`` is a good untuned default.

    The parameters are named like those of ``QuantileTransformer``, so that swapping one
    for the other in a pipeline is a one-word change.

    Parameters
    ----------
    alpha : float, array-like of shape (n_features,), "scott" or "silverman", default=1.0
        Bandwidth as a multiple of each feature's standard deviation (one value for all
        features, or one per feature). ``"scott"`` uses ``n**(-1/5)`` and
        ``"silverman"`` ``(3n/4)**(-1/5)``, with ``n`` the number of non-NaN values of
        the feature used in fit (the rules of :class:`scipy.stats.gaussian_kde`).
    output_distribution : {"uniform", "normal"}, default="uniform"
        ``"uniform"`` returns ``T(x)`` in [0, 1]; ``"normal"`` returns ``Phi^-1(T(x))``,
        clipped to about +-5.2 exactly as ``QuantileTransformer`` does.
    n_quantiles : int, default=1000
        Resolution of the stored map. The CDF is evaluated exactly at
        ``2 * n_quantiles_`` knots: the ``n_quantiles_`` empirical quantiles and as many
        evenly spaced points between the minimum and the maximum. Clamped, with a
        warning, to the number of samples, as in ``QuantileTransformer``.
    subsample : int or None, default=None
        Fit on at most this many randomly chosen rows (``None``: all rows). The exact
        CDF costs only a sort per feature, so subsampling is rarely needed.
    kernel : {"gaussian"}, default="gaussian"
        The smoothing kernel. Only the Gaussian is implemented; the parameter is there
        so that code written for the ``kditransform`` package reads the same.
    random_state : int, RandomState instance or None, default=None
        Seeds the row subsample (only used when ``subsample`` is smaller than the number
        of samples).
    copy : bool, default=True
        If False, ``transform`` and ``inverse_transform`` write into a writeable
        floating-point input instead of allocating (as ``QuantileTransformer`` does).

    Attributes
    ----------
    n_quantiles_ : int
        Number of quantile knots actually used (after clamping).
    quantiles_ : ndarray of shape (2 * n_quantiles_, n_features)
        The knots of each feature's map, sorted (feature values).
    references_ : ndarray of shape (2 * n_quantiles_, n_features)
        ``T`` at the knots, in [0, 1] (0 at the minimum, 1 at the maximum).
    densities_ : ndarray of shape (2 * n_quantiles_, n_features)
        ``dT/dx`` at the knots (the normalised KDE), the slopes of the interpolant.
    bandwidths_ : ndarray of shape (n_features,)
        KDE bandwidth ``h`` of each feature; 0 for a constant feature.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :term:`fit` (only for input with string column
        names).

    See Also
    --------
    sklearn.preprocessing.QuantileTransformer : the ``alpha -> 0`` limit.
    sklearn.preprocessing.MinMaxScaler : the ``alpha -> inf`` limit.

    Notes
    -----
    **Exactness.** ``F`` and its derivative are computed at the knots in near-linear
    time from the sorted data (clusters of width ``h/2`` summarised by 10 Taylor moments,
    clusters beyond 6.5 bandwidths counted as 0 or 1); the fitted ``references_`` are
    within 1e-9 of the exact Gaussian-KDE values.

    **Interpolation.** ``transform`` evaluates the monotone cubic Hermite interpolant
    through the knots with the exact slopes ``densities_``; on an interval of width
    ``dx`` its error is at most ``1.5e-3 (dx / h)**4 / (F(max) - F(min))``, so doubling
    ``n_quantiles`` divides it by about 16. The knots follow the data (quantiles) and
    bridge gaps (even grid), which keeps ``dx`` small where the map moves; with the
    default grid the transform is typically within 1e-7 of the exact map.
    ``inverse_transform`` inverts that same interpolant (to ~1e-15), so
    ``inverse_transform(transform(X))`` returns ``X`` inside the training range.

    **Missing values and range.** NaN is ignored in fit and passed through in
    transform. Values outside the training range are clipped to 0 or 1. A constant
    feature maps to 0 (its inverse is the constant).

    **Sparse input.** Non-negative CSR/CSC matrices are accepted: implicit zeros count as
    data in fit, and since 0 is then the minimum, ``T(0) = 0`` and zeros stay zeros.
    Negative sparse values, and ``output_distribution="normal"`` (which would send 0 to
    -5.2), raise a ``ValueError``.

    **CuPy.** ``fit`` copies CuPy input to the host; ``transform`` and
    ``inverse_transform`` run on the device and return CuPy arrays.

    **dtype.** float32 input gives float32 output; the map itself is fitted and stored in
    float64. float16 and integer input is converted to float64 (as scikit-learn's
    estimators that support only float64 and float32 do), so its output is float64. The
    input array is never modified unless ``copy=False``.

    **Extreme values.** The map does not depend on the units of a feature, so features
    of any magnitude that float64 holds in its normal range (about 1e-300 to 1e300) give
    the same map as the rescaled feature; a feature whose knots or densities would leave
    that range (for example values of size 1e-310) raises a ``ValueError`` asking to
    rescale. An ``alpha`` so small that the bandwidth is below 1e-280 times the feature's
    magnitude raises too (use ``QuantileTransformer`` for that limit); once the bandwidth
    exceeds 1e5 times the feature's range the map is the straight line of
    ``MinMaxScaler`` (the exact map is within 3e-11 of it there).

    **Sample weights.** ``fit(X, sample_weight=w)`` reads ``w`` as frequencies: the KDE,
    the standard deviation (``sum w - 1`` in the denominator), the ``"scott"`` and
    ``"silverman"`` rules (``n = sum w``) and the quantile knots are those of the data with
    each row repeated ``w`` times, so integer weights equal repeated rows and a zero
    weight drops a row.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import KDITransformer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    >>> kdi = KDITransformer(alpha=1.0, n_quantiles=5).fit(X)
    >>> np.round(kdi.transform(X).ravel(), 3)
    array([0.   , 0.128, 0.26 , 0.392, 1.   ])
    >>> np.allclose(kdi.inverse_transform(kdi.transform(X)), X)
    True
    """

    _parameter_constraints: dict = {
        "alpha": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"scott", "silverman"}),
            "array-like",
        ],
        "output_distribution": [StrOptions({"uniform", "normal"})],
        "n_quantiles": [Interval(Integral, 2, None, closed="left")],
        "subsample": [Interval(Integral, 1, None, closed="left"), None],
        "kernel": [StrOptions({"gaussian"})],
        "random_state": ["random_state"],
        "copy": ["boolean"],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        output_distribution="uniform",
        n_quantiles=1000,
        subsample=None,
        kernel="gaussian",
        random_state=None,
        copy=True,
    ):
        self.alpha = alpha
        self.output_distribution = output_distribution
        self.n_quantiles = n_quantiles
        self.subsample = subsample
        self.kernel = kernel
        self.random_state = random_state
        self.copy = copy

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_quantiles=10),
            cls(alpha="scott", output_distribution="normal", n_quantiles=10),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        # Sparse input is only sparsity-preserving (hence accepted) for uniform output.
        tags.input_tags.sparse = self.output_distribution == "uniform"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _alphas(self, n_features):
        if isinstance(self.alpha, str):
            return np.ones(n_features), _RULES[self.alpha]
        if isinstance(self.alpha, Real):
            return np.full(n_features, float(self.alpha)), _fit.RULE_VALUE
        alphas = np.asarray(self.alpha)
        if alphas.dtype.kind not in "fiu":
            raise TypeError(f"alpha must be numeric; got an array of dtype {alphas.dtype}.")
        alphas = alphas.astype(np.float64).ravel()
        if alphas.shape != (n_features,):
            raise ValueError(
                f"alpha has {alphas.size} values but X has {n_features} features; pass one "
                "value per feature or a single number."
            )
        if not (np.all(np.isfinite(alphas)) and np.all(alphas > 0)):
            raise ValueError(f"alpha must be finite and > 0 for every feature; got {alphas}.")
        return alphas, _fit.RULE_VALUE

    def _check_sparse(self, X):
        if not sp.issparse(X):
            return
        if self.output_distribution == "normal":
            raise ValueError(
                "output_distribution='normal' is not supported for sparse X: it would send "
                "the zeros to -5.2 and make the matrix dense. Use X.toarray() or 'uniform'."
            )
        if X.data.size and np.nanmin(X.data, initial=0.0) < 0:
            raise ValueError(
                "KDITransformer only accepts non-negative sparse X (zeros must be the "
                "minimum to stay zeros); use X.toarray() for data with negative values."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the KDE-CDF map of every feature.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; NaN values are ignored. Sparse input must be non-negative.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights of the rows: the KDE is ``sum_i w_i Phi((x - x_i) / h) /
            sum_i w_i``, the standard deviation and the quantile knots are weighted alike,
            and an integer weight is the same as repeating the row (a zero weight drops
            it). The weights of each feature's non-NaN values must sum to more than 1.

        Returns
        -------
        self : KDITransformer
            The fitted transformer.
        """
        # Device data or engine="cuda": the CDF sweep at the knots runs on the GPU. The sort
        # and the clusters run on the host (the data and the weights cross once), and the
        # small fitted tables go to the device in transform (docs/gpu.md).
        engine = select_engine(X)
        _, (X, sample_weight) = to_host(_FIT_TO_HOST, X, sample_weight)
        X = validate_data(
            self,
            X,
            accept_sparse="csc",
            dtype=_DTYPES,
            ensure_all_finite="allow-nan",
            reset=True,
        )
        self._check_sparse(X)
        n_samples, n_features = X.shape
        sample_weight = check_sample_weight(sample_weight, n_samples)
        alphas, rule = self._alphas(n_features)

        if self.subsample is not None:
            if self.n_quantiles > self.subsample:
                raise ValueError(
                    f"n_quantiles ({self.n_quantiles}) cannot be greater than subsample "
                    f"({self.subsample}), the number of samples used in fit."
                )
            if self.subsample < n_samples:
                rng = check_random_state(self.random_state)
                rows = np.sort(rng.choice(n_samples, size=self.subsample, replace=False))
                X = X[rows]
                sample_weight = None if sample_weight is None else sample_weight[rows]
        # With weights, the rows they stand for (integer weights: the repeated rows).
        n_used = X.shape[0] if sample_weight is None else int(sample_weight.sum())
        if self.n_quantiles > n_used:
            warnings.warn(
                f"n_quantiles ({self.n_quantiles}) is greater than the number of samples "
                f"({n_used}); n_quantiles is set to {max(2, n_used)}.",
                UserWarning,
                stacklevel=2,
            )
        self.n_quantiles_ = max(2, min(self.n_quantiles, n_used))

        n_knots = 2 * self.n_quantiles_
        knots = np.empty((n_features, n_knots))
        refs = np.empty((n_features, n_knots))
        dens = np.empty((n_features, n_knots))
        status = np.empty(n_features, dtype=np.int64)
        bandwidths = np.empty(n_features)
        out = (knots, refs, dens, status, bandwidths)
        with cpu.numba_threads(get_config()["n_threads"]):
            if sp.issparse(X):
                X = X.tocsc()
                _fit.fit_csc(
                    X.data, X.indices, X.indptr, X.shape[0], alphas, rule, self.n_quantiles_,
                    out, sample_weight, engine,
                )  # fmt: skip
            else:
                _fit.fit_dense(X, alphas, rule, self.n_quantiles_, out, sample_weight, engine)
        self._raise_for_status(status, alphas, bandwidths)
        # Feature-major in memory (each feature's table contiguous for the kernels),
        # exposed with QuantileTransformer's (n_knots, n_features) layout.
        self.quantiles_ = knots.T
        self.references_ = refs.T
        self.densities_ = dens.T
        self.bandwidths_ = bandwidths
        return self

    @staticmethod
    def _raise_for_status(status, alphas, bandwidths):
        """Turn the fit's per-feature status codes into errors that say what to change."""
        empty = np.flatnonzero(status == _fit.ALL_NAN)
        if empty.size:
            raise ValueError(
                f"X has no finite value in feature(s) {empty.tolist()}: a NaN-only column "
                "has no distribution to fit."
            )
        light = np.flatnonzero(status == _fit.LOW_WEIGHT)
        if light.size:
            raise ValueError(
                f"sample_weight sums to 1 or less over the non-NaN values of feature(s) "
                f"{light.tolist()}. KDITransformer reads the weights as frequencies (an "
                "integer weight repeats the row), so the weighted standard deviation needs a "
                "total weight above 1; scale the weights up."
            )
        tiny = np.flatnonzero(status == _fit.TINY_BANDWIDTH)
        if tiny.size:
            j = int(tiny[0])
            raise ValueError(
                f"alpha={alphas[j]:.3g} gives feature {j} a KDE bandwidth of "
                f"{bandwidths[j]:.3g} (alpha x std), below {_fit.MIN_BANDWIDTH:.0e} times "
                f"the feature's magnitude: float64 cannot hold its density. Use a larger "
                f"alpha; the alpha -> 0 limit is sklearn's QuantileTransformer."
            )
        extreme = np.flatnonzero(status == _fit.UNREPRESENTABLE)
        if extreme.size:
            raise ValueError(
                f"The values of feature(s) {extreme.tolist()} are too close together or too "
                "extreme in magnitude for float64 (the knots or densities of the map leave "
                "float64's normal range). Rescale X, for example with "
                "sklearn.preprocessing.StandardScaler."
            )

    def _tables(self):
        status = np.where(self.bandwidths_ > 0, _fit.OK, _fit.CONSTANT).astype(np.int64)
        return (
            np.ascontiguousarray(self.quantiles_.T, dtype=np.float64),
            np.ascontiguousarray(self.references_.T, dtype=np.float64),
            np.ascontiguousarray(self.densities_.T, dtype=np.float64),
            status,
        )

    def _apply_device(self, X, xp, inverse):
        X = check_points(X, "X", allow_nan=True)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but KDITransformer is expecting "
                f"{self.n_features_in_} features as input."
            )
        ndtr_, ndtri_ = _kdit.special_functions(xp)
        normal = self.output_distribution == "normal"
        *tables, status = self._tables()
        knots, refs, dens = (xp.asarray(t) for t in tables)  # uploads, per call
        constant = status != _fit.OK
        out = xp.empty(X.shape, dtype=X.dtype)
        for j in range(X.shape[1]):
            col = X[:, j]
            tables = (knots[j], refs[j], dens[j], bool(constant[j]))
            if inverse:
                if normal:
                    col = ndtr_(col.astype(xp.float64))
                tol = _BOUNDS_THRESHOLD if normal else 0.0
                out[:, j] = _kdit.inverse_xp(xp, col, *tables, tol)
            else:
                t = _kdit.forward_xp(xp, col, *tables)
                if normal:
                    eps = _BOUNDS_THRESHOLD - np.spacing(1)
                    t = ndtri_(xp.clip(t, eps, 1 - eps))
                out[:, j] = t
        return out

    def _apply(self, X, inverse):
        check_is_fitted(self)
        xp = get_namespace(X)
        if xp is not np:
            return self._apply_device(X, xp, inverse)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=_DTYPES,
            ensure_all_finite="allow-nan",
            copy=False,
            reset=False,
        )
        self._check_sparse(X)
        normal = self.output_distribution == "normal"
        tol = _BOUNDS_THRESHOLD if normal else 0.0
        tables = self._tables()

        if sp.issparse(X):
            if self.copy:
                X = X.copy()
            values = X.data
            if X.format == "csr":
                feature = X.indices
            else:
                feature = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
            out = values if values.flags.writeable else np.empty_like(values)
            with cpu.numba_threads(get_config()["n_threads"]):
                _kdit.transform_values(values, feature, *tables, out, inverse, tol)
            X.data = out
            return X

        in_place = not self.copy and isinstance(X, np.ndarray) and X.flags.writeable
        out = X if in_place else np.empty(X.shape, dtype=X.dtype)
        source = X
        if inverse and normal:
            source = ndtr(X)
        with cpu.numba_threads(get_config()["n_threads"]):
            _kdit.transform_dense(source, *tables, out, inverse, tol)
        if normal and not inverse:
            # Clip before Phi^-1 exactly as QuantileTransformer does (tails at about +-5.2).
            eps = _BOUNDS_THRESHOLD - np.spacing(1)
            np.clip(out, eps, 1 - eps, out=out)
            ndtri(out, out=out)
        return out

    def transform(self, X):
        """Map each feature through its fitted KDE CDF.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to transform; NaN passes through, values outside the training range
            clip to the ends.

        Returns
        -------
        Xt : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Transformed data, in [0, 1] (or normal scores), with the dtype of ``X``.
        """
        return self._apply(X, inverse=False)

    def inverse_transform(self, X):
        """Map transformed values back to the original feature scale.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Values in [0, 1] (or normal scores for ``output_distribution="normal"``).

        Returns
        -------
        X_original : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Data on the original scale, within the training range.
        """
        return self._apply(X, inverse=True)
