"""KernelThinning: kernel thinning and Compress++ as a scikit-learn estimator and sampler."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator

from .._backend import get_namespace
from .._utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    _num_samples,
    _safe_indexing,
)
from .._utils._validation import validate_points
from ..kernels import make_kernel
from ._thinning import (
    ROUNDS_CONSTRAINT,
    THINNING_CONSTRAINTS,
    check_rounds,
    compress_pp,
    kernel_thin,
)


class KernelThinning(BaseEstimator):
    """Kernel thinning as a scikit-learn estimator and sampler.

    ``fit(X)`` selects a coreset of about √n rows whose empirical distribution
    is close to the sample's in MMD (far closer than a random subsample);
    ``fit_resample(X, y)`` returns those rows (and their targets), following
    the sampler convention of imbalanced-learn so a pipeline can train on them.

    Parameters
    ----------
    m : int or "sqrt", default="sqrt"
        Halving rounds: the coreset has ``n // 2**m`` points (``"sqrt"``: ≈ √n).
        With ``method="compress++"`` the coreset has about n / 2^m points.
    kernel : str, Kernel or callable, default="gaussian"
        Target kernel.
    bandwidth : float or {"median", "scale"} or None, default=None
        Kernel bandwidth or rule resolved on X; ``None``: the median rule for a
        kernel given by name, the object's own bandwidth otherwise.
    split_kernel : {"target", "root", "power", "kt+"}, default="target"
        KT-SPLIT kernel, see :func:`kernel_thin`.
    power : float in [0.5, 1], default=None
        Power of the "power"/"kt+" split kernels.
    delta : float in (0, 1), default=0.5
        Failure probability of the halving thresholds.
    method : {"kt", "compress++"}, default="kt"
        Full KT (O(n²) kernel evaluations) or Compress++ (near-linear).
    g : int, default=4
        Oversampling parameter of Compress++.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the halving coins (the median bandwidth rule is deterministic).
    verbose : int, default=0
        Progress bar.

    Attributes
    ----------
    indices_ : ndarray of shape (n_coreset,)
        Sorted row indices of the coreset.
    coreset_ : ndarray of shape (n_coreset, n_features)
        The selected rows.
    kernel_ : Kernel
        The resolved target kernel (the one :func:`kernelkit.mmd` resolves on X
        for the same ``kernel`` and ``bandwidth``).
    bandwidth_ : float or None
        Its bandwidth (``None`` for a callable kernel).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import KernelThinning
    >>> X = np.random.default_rng(0).normal(size=(64, 2))
    >>> y = np.arange(64)
    >>> X_small, y_small = KernelThinning(bandwidth=1.0, random_state=0).fit_resample(X, y)
    >>> X_small.shape, y_small.shape
    ((8, 2), (8,))
    """

    _parameter_constraints: dict = {
        "m": ROUNDS_CONSTRAINT,
        "method": [StrOptions({"kt", "compress++"})],
        "g": [Interval(numbers.Integral, 0, None, closed="left")],
        **{k: v for k, v in THINNING_CONSTRAINTS.items() if k != "swap"},
    }

    def __init__(
        self,
        m="sqrt",
        *,
        kernel="gaussian",
        bandwidth=None,
        split_kernel="target",
        power=None,
        delta=0.5,
        method="kt",
        g=4,
        random_state=None,
        verbose=0,
    ):
        self.m = m
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.split_kernel = split_kernel
        self.power = power
        self.delta = delta
        self.method = method
        self.g = g
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _test_instances(cls):
        return [
            cls(random_state=0),
            cls(method="compress++", g=1, split_kernel="kt+", kernel="laplacian", random_state=0),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Select the coreset.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The sample, n_samples ≥ 2.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self : KernelThinning
        """
        X = validate_points(self, X, reset=True, min_samples=2)
        n = X.shape[0]
        m = check_rounds(self.m, n)
        self.kernel_ = make_kernel(self.kernel, self.bandwidth, X=X)
        self.bandwidth_ = self.kernel_.bandwidth
        common = dict(
            kernel=self.kernel_,
            bandwidth=None,
            split_kernel=self.split_kernel,
            power=self.power,
            delta=self.delta,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        if self.method == "kt":
            self.indices_ = kernel_thin(X, m, **common)
        else:
            self.indices_ = compress_pp(X, g=self.g, size=max(1, n >> m), **common)
        self.coreset_ = X[self.indices_]
        return self

    def fit_resample(self, X, y=None):
        """Fit, then return the coreset rows of X (and of y when given).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The sample (a pandas DataFrame stays one).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets resampled with X.

        Returns
        -------
        X_resampled : array-like of shape (n_coreset, n_features)
            Same container type as X (e.g. a pandas DataFrame keeps its index).
        y_resampled : array-like of shape (n_coreset,) or (n_coreset, n_outputs)
            Only when y is given.
        """
        if y is not None and _num_samples(y) != _num_samples(X):
            raise ValueError(
                f"y has {_num_samples(y)} samples but X has {_num_samples(X)}; they must match."
            )
        self.fit(X)
        if get_namespace(X, y) is not np:  # device arrays: indices_ live there too
            return X[self.indices_] if y is None else (X[self.indices_], y[self.indices_])
        X_res = _safe_indexing(X, self.indices_)
        if y is None:
            return X_res
        return X_res, _safe_indexing(y, self.indices_)
