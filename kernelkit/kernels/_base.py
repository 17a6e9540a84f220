"""The kernel base class, the reference distance computation and callable kernels.

Kernels are value objects that compute blocks K(A, B) and diagonals; every
product over more than one block goes through :class:`kernelkit.KernelOperator`.
"""

import inspect

import numpy as np

from .._backend import get_namespace
from .._utils._validation import check_points, check_positive_scalar, check_same_features

# Pairs whose expanded squared distance ||x||^2 + ||z||^2 - 2<x, z> is below
# tol * (||x||^2 + ||z||^2) are recomputed from coordinates (see _backend/cpu.py).
_CANCELLATION_TOL = {np.dtype(np.float64): 1e-3, np.dtype(np.float32): 3e-2}


def _centre(A, B, xp):
    """Shift A and B by the mean of B: distances are unchanged, cancellation shrinks."""
    shift = xp.mean(B, axis=0)
    return A - shift, B - shift


def _overflow_scale(A, B, xp, metric="euclidean"):
    """A power of two s such that A/s and B/s have (squared Euclidean or L1) distances far
    from overflow and from subnormal numbers.

    1.0 (no rescaling) for data of ordinary scale. Dividing by a power of two is
    exact, so distances of rescaled data times s² (times s for L1) are the distances.
    """
    largest = max(float(xp.max(xp.abs(A))), float(xp.max(xp.abs(B))))
    info = np.finfo(A.dtype)
    d = max(A.shape[1], 1)
    if metric == "manhattan":
        # A sum of d differences, each at most 2 * largest; distances down to
        # eps * largest must stay normal numbers.
        high, low = info.max / (8.0 * d), info.tiny / info.eps
    else:
        # The expansion adds two squared norms and twice an inner product of centred
        # rows, each at most d * (2 * largest)**2; distances down to eps * largest must
        # keep normal squares.
        high, low = np.sqrt(info.max / (64.0 * d)), np.sqrt(info.tiny) / info.eps
    if largest == 0.0 or low <= largest <= high:
        return 1.0
    return float(2.0 ** np.floor(np.log2(largest)))


def _normalised_squared_distances(A, B):
    """``(D2', s)`` with ||a_i − b_j||² = s² · D2'_ij and s a power of two (1 for ordinary data).

    Keeping s apart lets a kernel fold it into its distance scale: data far
    beyond the dtype's squared range still gives finite scaled distances.
    """
    xp = get_namespace(A, B)
    if A.shape[0] == 0 or B.shape[0] == 0:
        return xp.zeros((A.shape[0], B.shape[0]), dtype=A.dtype), 1.0
    s = _overflow_scale(A, B, xp)
    if s != 1.0:
        A, B = A / A.dtype.type(s), B / B.dtype.type(s)
    A, B = _centre(A, B, xp)
    asq = xp.sum(A * A, axis=1)
    bsq = xp.sum(B * B, axis=1)
    norms = asq[:, None] + bsq[None, :]
    D2 = norms - 2.0 * (A @ B.T)
    tol = _CANCELLATION_TOL[np.dtype(str(A.dtype))]
    rows, cols = xp.nonzero(D2 < tol * norms)
    if rows.shape[0]:
        diff = A[rows] - B[cols]
        D2[rows, cols] = xp.sum(diff * diff, axis=1)
    D2 = xp.maximum(D2, 0.0, out=D2) if xp is np else xp.maximum(D2, 0.0)
    return D2, s


def squared_distances(A, B):
    """Exact ||a_i - b_j||² for two blocks in their array namespace (the reference path).

    Uses the GEMM expansion, then recomputes from coordinates every pair
    whose expansion lost digits to cancellation. Data too large for the
    squared norms to fit the dtype is rescaled by a power of two first;
    distances beyond the dtype's range come out as ``inf``, never NaN.

    Parameters
    ----------
    A : array of shape (n_A, n_features)
        Row points (NumPy or CuPy), float32 or float64.
    B : array of shape (n_B, n_features)
        Column points, same namespace and dtype as ``A``.

    Returns
    -------
    D2 : array of shape (n_A, n_B)
        Squared Euclidean distances, in the dtype of ``A``.
    """
    D2, s = _normalised_squared_distances(A, B)
    if s != 1.0:
        # Two factors of s (each finite in the dtype): a distance past the range is inf.
        with np.errstate(over="ignore"):
            D2 *= D2.dtype.type(s)
            D2 *= D2.dtype.type(s)
    return D2


def _working_dtype(dtype):
    """float32 stays float32; every other dtype is computed in float64."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)


def _check_span(X, metric="euclidean"):
    """Reject data whose distances overflow its dtype in the engines.

    The Euclidean engines centre on the column points' mean and expand
    ||x||² + ||z||² − 2<x, z>; with every coordinate spanning less than the
    limit below, none of the three terms overflows. The L1 engine sums
    n_features differences, each at most the span.
    """
    if X.shape[0] == 0 or X.shape[1] == 0:
        return
    xp = get_namespace(X)
    dtype = _working_dtype(X.dtype)
    high = xp.max(X, axis=0).astype(xp.float64)
    span = float(xp.max(high - xp.min(X, axis=0).astype(xp.float64)))
    top = float(np.finfo(dtype).max)
    if metric == "manhattan":
        limit, what = top / (2.0 * X.shape[1]), "L1 distances"
    else:
        limit, what = float(np.sqrt(top / (4.0 * X.shape[1]))), "squared distances"
    if not span < limit:
        hint = " or convert it to float64" if dtype == np.float32 else ""
        raise ValueError(
            f"X spans {span:.3g} in one coordinate: its {what} overflow {dtype} "
            f"(usable span < {limit:.3g} for {X.shape[1]} features). Rescale X (for "
            f"example with sklearn.preprocessing.StandardScaler){hint}."
        )


class Kernel:
    """Base class of kernelkit kernels.

    Subclasses set ``name`` and implement :meth:`_block` (or, for radial
    kernels, ``_coefficient`` and :meth:`finish`). Kernels are immutable value
    objects: compare equal when their parameters are equal and pickle cleanly.

    Parameters
    ----------
    bandwidth : float or {"median", "scale"}, default=1.0
        Length scale; a rule is resolved on data by :meth:`resolve`.
    """

    name = "kernel"
    #: whether ``finish`` expects squared distances (else plain distances)
    squared = True
    #: the distance engines compute for ``finish``: "euclidean" or "manhattan" (L1)
    metric = "euclidean"
    #: whether engines may run the fused (never materialised) kernel product
    radial = True

    def __init__(self, bandwidth=1.0):
        self.bandwidth = bandwidth

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # An override keeps the base contract: show it (help(), numpydoc) unless the
        # subclass documents its own.
        for name, attr in vars(cls).items():
            base = getattr(Kernel, name, None)
            if inspect.isfunction(attr) and attr.__doc__ is None and base is not None:
                attr.__doc__ = base.__doc__

    # -- parameters -------------------------------------------------------
    #: constructor arguments, in order: what get_params, repr and equality see
    _param_names = ("bandwidth",)

    def get_params(self, deep=True):
        """The constructor arguments, as scikit-learn's ``get_params``.

        Parameters
        ----------
        deep : bool, default=True
            Unused: kernels hold no nested estimators.

        Returns
        -------
        params : dict
            Parameter name -> value.
        """
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params):
        """Set parameters in place, as scikit-learn's ``set_params``.

        Parameters
        ----------
        **params : dict
            Parameter name -> new value; unknown names raise ``ValueError``.

        Returns
        -------
        self : Kernel
            This kernel.
        """
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"Invalid parameter {key!r} for kernel {type(self).__name__}.")
            setattr(self, key, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_params() == other.get_params()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_params().items()))))

    def with_bandwidth(self, bandwidth):
        """A copy of this kernel with another bandwidth.

        Parameters
        ----------
        bandwidth : float or {"median", "scale"}
            The new bandwidth.

        Returns
        -------
        kernel : Kernel
            A new kernel of the same type and other parameters.
        """
        params = self.get_params()
        params["bandwidth"] = bandwidth
        return type(self)(**params)

    # -- values -----------------------------------------------------------
    def _checked_bandwidth(self, dtype=None):
        if isinstance(self.bandwidth, str):
            raise ValueError(
                f"{self!r} has the unresolved bandwidth rule {self.bandwidth!r}; call "
                "kernelkit.make_kernel(kernel, X=data) or kernel.resolve(X) first."
            )
        bandwidth = check_positive_scalar(self.bandwidth, "bandwidth")
        if dtype is not None and self.radial:
            low = self.bandwidth_range(dtype)[0]
            if bandwidth < low:
                dtype = _working_dtype(dtype)
                hint = " or float64 data" if dtype == np.float32 else ""
                raise ValueError(
                    f"bandwidth={bandwidth!r} is too small for {dtype} data with "
                    f"{type(self).__name__}: its distance scale would overflow {dtype} or its "
                    f"distances lose their digits to subnormal numbers. The usable range for "
                    f"{dtype} is {low:.3g} <= bandwidth <= {np.finfo(float).max:.3g}; use a "
                    f"larger bandwidth{hint}."
                )
        return bandwidth

    def _coefficient(self):
        """c in ``distance_scale() = c / bandwidth**p`` (p = 2 for squared distances, else 1)."""
        # A radial kernel is defined by this and ``finish``; the base class has neither.
        raise NotImplementedError(
            f"{type(self).__name__} is radial but does not define _coefficient()."
        )  # pragma: no cover - every radial kernel of the package defines it

    def bandwidth_range(self, dtype=np.float64):
        """The bandwidths that give accurate, finite kernel values in ``dtype``.

        Below ``low`` the distance scale overflows (squared distances) or the
        distances lose digits to subnormal numbers (plain distances).

        Parameters
        ----------
        dtype : dtype, default=np.float64
            Data type of the kernel values (float32; anything else means float64).

        Returns
        -------
        low, high : float
            Smallest and largest usable bandwidth (``high`` is the largest
            finite float). Every bandwidth from ``low`` up gives finite values
            (a huge one a kernel matrix of ones, as it should).
        """
        info = np.finfo(_working_dtype(dtype))
        coef = abs(float(self._coefficient()))
        if self.squared:
            low = np.sqrt(coef) / np.sqrt(float(info.max))
        elif self.metric == "manhattan":
            # L1 distances are summed directly: a subnormal one is off by about the
            # smallest subnormal, which divided by the bandwidth stays within 10 ulps.
            low = max(coef / float(info.max), info.smallest_subnormal / (10 * info.eps))
        else:
            # A plain distance r comes from a squared one that is subnormal below
            # sqrt(tiny): its error is up to sqrt(smallest subnormal), and the kernel's
            # error that divided by the bandwidth; keep that within 10 ulps.
            low = max(coef / float(info.max), np.sqrt(info.smallest_subnormal) / (10 * info.eps))
        # One rounding either way must not let coef / low**p overflow.
        low = float(np.nextafter(np.nextafter(low, np.inf), np.inf))
        return low, float(np.finfo(np.float64).max)

    def distance_scale(self):
        """Factor applied to the (squared) distance before :meth:`finish`.

        Returns
        -------
        scale : float
            ``coefficient / bandwidth**p``, finite for every bandwidth that
            :meth:`bandwidth_range` allows for float64.
        """
        h = self._checked_bandwidth(np.float64)
        # Dividing twice never raises: it overflows to inf (rejected above) or underflows to 0.
        scale = self._coefficient() / h
        return scale / h if self.squared else scale

    def finish(self, T, xp=np):
        """Map scaled distances T to kernel values, in place when possible.

        Parameters
        ----------
        T : array
            Scaled (squared) distances; ``inf`` stands for "too far to matter".
        xp : module, default=numpy
            Array namespace of ``T``.

        Returns
        -------
        K : array
            Kernel values, ``T`` itself when the update ran in place.
        """
        raise NotImplementedError(
            f"{type(self).__name__} is radial but does not define finish()."
        )  # pragma: no cover - every radial kernel of the package defines it

    def exponential_form(self):
        """``(squared, scale)`` when k = exp(scale · d) with d the (squared) distance, else None.

        d is measured in the kernel's :attr:`metric`. Engines that fuse the
        whole product (the CUDA kernel) take these numbers and the metric
        instead of the kernel object.

        Returns
        -------
        form : tuple of (bool, float) or None
            ``(squared, scale)``, or None when the kernel is not a plain exponential.
        """
        return None

    def __call__(self, A, B=None):
        """Kernel matrix K(A, B) (``B=None``: K(A, A)) in the namespace and dtype of A."""
        A = check_points(A, "A")
        B = A if B is None else check_points(B, "B")
        check_same_features(A, B, "A", "B")
        if A.dtype != B.dtype:
            B = B.astype(A.dtype)
        return self._block(A, B)

    def _block(self, A, B):
        """K(A, B) for validated arrays of one dtype (the reference path)."""
        xp = get_namespace(A, B)
        h = self._checked_bandwidth(A.dtype)
        T, s = self._distances(A, B)
        if s == 1.0:
            factor = self.distance_scale()
        else:
            # The scaled form: (s / h)^p folds the data's power-of-two scale into the
            # kernel's, so large data with a matching bandwidth gives ordinary values.
            ratio = s / h
            factor = self._coefficient() * (ratio * ratio if self.squared else ratio)
            big = float(np.finfo(A.dtype).max)
            factor = max(-big, min(big, factor))  # an infinite factor would give 0 · inf
        with np.errstate(over="ignore"):  # beyond the range means "too far": exp(-inf) = 0
            T *= A.dtype.type(factor)
        return self.finish(T, xp)

    def _distances(self, A, B):
        """``(T, s)``: the distances ``finish`` expects, of A/s and B/s (s a power of two)."""
        T, s = _normalised_squared_distances(A, B)
        if not self.squared:
            xp = get_namespace(T)
            T = xp.sqrt(T, out=T) if xp is np else xp.sqrt(T)
        return T, s

    def diag(self, A):
        """The diagonal k(a_i, a_i), without forming K(A, A).

        Parameters
        ----------
        A : array-like of shape (n_samples, n_features)
            Points.

        Returns
        -------
        diag : array of shape (n_samples,)
            Kernel values k(a_i, a_i), in the dtype of ``A``.
        """
        A = check_points(A, "A")
        xp = get_namespace(A)
        self._checked_bandwidth(A.dtype)
        zero = xp.zeros((A.shape[0],), dtype=A.dtype)
        return self.finish(zero, xp)

    def max_diagonal(self, A=None):
        """β = max_x k(x, x): 1 for every radial kernel here.

        Parameters
        ----------
        A : array-like of shape (n_samples, n_features), default=None
            Points over which to take the maximum (unused by radial kernels).

        Returns
        -------
        beta : float
            The largest diagonal value.
        """
        return 1.0

    def resolve(self, X=None):
        """Return a kernel with a numeric bandwidth that is usable on ``X``.

        A bandwidth rule ("median"/"scale") is replaced by its value on ``X``.
        With ``X`` given, the bandwidth is also checked against the range of
        ``X``'s dtype (see :meth:`bandwidth_range`) and ``X`` against the
        largest coordinate span whose squared distances the dtype holds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Data the kernel will be evaluated on (the column points of a
            :class:`~kernelkit.KernelOperator`).

        Returns
        -------
        kernel : Kernel
            This kernel, or a copy with the resolved bandwidth.
        """
        kernel = self
        if isinstance(self.bandwidth, str):
            if X is None:
                raise ValueError(f"bandwidth={self.bandwidth!r} needs data X to be resolved.")
            from ._bandwidth import estimate_bandwidth  # the rules build on this module

            rule = self.bandwidth
            kernel = self.with_bandwidth(estimate_bandwidth(X, rule, metric=self.metric))
        if X is None:
            kernel._checked_bandwidth()
        else:
            dtype = getattr(X, "dtype", np.dtype("O"))
            usable = getattr(X, "ndim", 0) == 2 and dtype.kind in "fiu"
            X = X if usable else check_points(X, "X")
            kernel._checked_bandwidth(X.dtype)
            if kernel.radial:
                _check_span(X, kernel.metric)
        return kernel

    def power(self, alpha, n_features=None):
        """The α-power kernel of this kernel; see :func:`kernelkit.kernels.power_kernel`.

        Parameters
        ----------
        alpha : float
            Power in [1/2, 1].
        n_features : int, default=None
            Dimension of the data (needed for Laplacian, Matérn and IMQ kernels).

        Returns
        -------
        kernel : Kernel
            The power kernel.
        """
        from ._power import power_kernel  # power kernels are built from the subclasses

        return power_kernel(self, alpha, n_features)


class CallableKernel(Kernel):
    """Wrap any function ``f(A, B) -> (len(A), len(B)) array`` as a kernel.

    The function must be symmetric positive semi-definite for the methods
    that assume it (EigenPro, SQUEAK, thinning). Products with it are
    blocked like any other kernel but never fused.

    Parameters
    ----------
    function : callable
        ``function(A, B)`` returns the kernel block of shape ``(len(A), len(B))``.
    bandwidth : None, default=None
        Unused; kept so every kernel has the attribute.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import CallableKernel
    >>> linear = CallableKernel(lambda A, B: A @ B.T)
    >>> linear(np.array([[1.0, 2.0]]))
    array([[5.]])
    """

    name = "callable"
    radial = False

    def __init__(self, function, bandwidth=None):
        self.function = function
        self.bandwidth = bandwidth

    _param_names = ("function", "bandwidth")

    def _block(self, A, B):
        K = self.function(A, B)
        xp = get_namespace(A)
        K = xp.asarray(K)
        name = getattr(self.function, "__name__", type(self.function).__name__)
        if K.shape != (A.shape[0], B.shape[0]):
            raise ValueError(
                f"The kernel function {name} returned shape {tuple(K.shape)}; expected "
                f"{(A.shape[0], B.shape[0])}."
            )
        if K.dtype.kind not in "fiub":
            raise TypeError(f"The kernel function {name} returned non-real dtype {K.dtype}.")
        if not bool(xp.isfinite(K).all()):
            raise ValueError(
                f"The kernel {self!r} returned NaN or infinite values; the function {name} "
                "must return finite numbers."
            )
        return K.astype(A.dtype, copy=False)

    def diag(self, A, block_size=256):
        """The diagonal k(a_i, a_i), from diagonal blocks of the function.

        Parameters
        ----------
        A : array-like of shape (n_samples, n_features)
            Points.
        block_size : int, default=256
            Rows per call of the function.

        Returns
        -------
        diag : array of shape (n_samples,)
            Kernel values k(a_i, a_i), in the dtype of ``A``.
        """
        A = check_points(A, "A")
        xp = get_namespace(A)
        parts = [
            xp.diagonal(self._block(A[i : i + block_size], A[i : i + block_size]))
            for i in range(0, A.shape[0], block_size)
        ]
        return xp.concatenate(parts)

    def max_diagonal(self, A=None):
        """β = max_i k(a_i, a_i) over the given points.

        Parameters
        ----------
        A : array-like of shape (n_samples, n_features)
            Points; required, since a function's diagonal has no known bound.

        Returns
        -------
        beta : float
            The largest diagonal value.
        """
        if A is None:
            raise ValueError("A callable kernel needs data to bound its diagonal.")
        return float(self.diag(A).max())

    def resolve(self, X=None):
        """Return this kernel: a function has no bandwidth to resolve.

        Parameters
        ----------
        X : array-like, default=None
            Unused.

        Returns
        -------
        kernel : CallableKernel
            ``self``.
        """
        return self
