"""Kernel functions: objects that compute blocks K(A, B) and diagonals.

Every radial kernel here is k(x, z) = φ(‖x − z‖ / bandwidth). A kernel
computes its values as ``finish(scale · d(x, z))`` where d is the squared or
plain Euclidean distance; engines compute the distance pass and call
``finish`` in place, so adding a radial kernel means writing ``finish``.

Strings accepted wherever a kernel is: see :data:`KERNEL_NAMES`.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ._backend import get_namespace
from ._validation import check_points, check_positive_scalar, check_same_features

BANDWIDTH_RULES = ("median", "scale")

# Pairs whose expanded squared distance ||x||^2 + ||z||^2 - 2<x, z> is below
# tol * (||x||^2 + ||z||^2) are recomputed from coordinates (see _backend/cpu.py).
_CANCELLATION_TOL = {np.dtype(np.float64): 1e-3, np.dtype(np.float32): 3e-2}


def _centre(A, B, xp):
    """Shift A and B by the mean of B: distances are unchanged, cancellation shrinks."""
    shift = xp.mean(B, axis=0)
    return A - shift, B - shift


def squared_distances(A, B):
    """Exact ||a_i - b_j||² for two blocks in their array namespace (the reference path).

    Uses the GEMM expansion, then recomputes from coordinates every pair
    whose expansion lost digits to cancellation.
    """
    xp = get_namespace(A, B)
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
    return xp.maximum(D2, 0.0, out=D2) if xp is np else xp.maximum(D2, 0.0)


class Kernel:
    """Base class of kernelkit kernels.

    Subclasses set ``name`` and implement :meth:`_block` (or, for radial
    kernels, :meth:`finish`). Kernels are immutable value objects: compare
    equal when their parameters are equal and pickle cleanly.
    """

    name = "kernel"
    #: whether ``finish`` expects squared distances (else plain distances)
    squared = True
    #: whether engines may run the fused (never materialised) kernel product
    radial = True

    def __init__(self, bandwidth=1.0):
        self.bandwidth = bandwidth

    # -- parameters -------------------------------------------------------
    #: constructor arguments, in order: what get_params, repr and equality see
    _param_names = ("bandwidth",)

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params):
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
        """A copy of this kernel with another bandwidth."""
        params = self.get_params()
        params["bandwidth"] = bandwidth
        return type(self)(**params)

    # -- values -----------------------------------------------------------
    def _checked_bandwidth(self):
        if isinstance(self.bandwidth, str):
            raise ValueError(
                f"{self!r} has the unresolved bandwidth rule {self.bandwidth!r}; call "
                "kernelkit.make_kernel(kernel, X=data) or kernel.resolve(X) first."
            )
        return check_positive_scalar(self.bandwidth, "bandwidth")

    def distance_scale(self):
        """Factor applied to the (squared) distance before :meth:`finish`."""
        raise NotImplementedError  # pragma: no cover - every radial subclass overrides

    def finish(self, T, xp=np):
        """Map scaled distances T to kernel values, in place when possible; return the result."""
        raise NotImplementedError  # pragma: no cover - every radial subclass overrides

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
        self._checked_bandwidth()
        T = squared_distances(A, B)
        if not self.squared:
            T = xp.sqrt(T, out=T) if xp is np else xp.sqrt(T)
        T *= A.dtype.type(self.distance_scale())
        return self.finish(T, xp)

    def diag(self, A):
        """The diagonal k(a_i, a_i), without forming K(A, A)."""
        A = check_points(A, "A")
        xp = get_namespace(A)
        self._checked_bandwidth()
        zero = xp.zeros((A.shape[0],), dtype=A.dtype)
        return self.finish(zero, xp)

    def max_diagonal(self, A=None):
        """β = max_x k(x, x): 1 for every radial kernel here."""
        return 1.0

    def resolve(self, X=None, random_state=None):
        """Return a copy whose bandwidth rule ("median"/"scale") is replaced by a number."""
        if not isinstance(self.bandwidth, str):
            self._checked_bandwidth()
            return self
        if X is None:
            raise ValueError(f"bandwidth={self.bandwidth!r} needs data X to be resolved.")
        return self.with_bandwidth(
            estimate_bandwidth(X, rule=self.bandwidth, random_state=random_state)
        )


class Gaussian(Kernel):
    """Gaussian (RBF) kernel k(x, z) = exp(−‖x − z‖² / (2·bandwidth²)).

    scikit-learn's ``rbf_kernel(gamma=γ)`` is this kernel with
    ``bandwidth = 1 / sqrt(2γ)``.

    Parameters
    ----------
    bandwidth : float or {"median", "scale"}, default=1.0
        Length scale σ. A rule is resolved on data by :func:`make_kernel`.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Gaussian
    >>> Gaussian(bandwidth=1.0)(np.array([[0.0], [1.0]]))
    array([[1.        , 0.60653066],
           [0.60653066, 1.        ]])
    """

    name = "gaussian"
    squared = True

    def distance_scale(self):
        return -0.5 / self._checked_bandwidth() ** 2

    def finish(self, T, xp=np):
        return xp.exp(T, out=T) if xp is np else xp.exp(T)


class Laplacian(Kernel):
    """Laplacian kernel with the Euclidean norm: k(x, z) = exp(−‖x − z‖₂ / bandwidth).

    This is the kernel of the EigenPro papers. Note that scikit-learn's
    ``laplacian_kernel`` uses the L1 (Manhattan) norm instead, so the two
    differ for more than one feature. It equals ``Matern(nu=0.5)``.

    Parameters
    ----------
    bandwidth : float or {"median", "scale"}, default=1.0
        Length scale.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Laplacian
    >>> float(Laplacian(bandwidth=2.0)(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))[0, 0])
    0.0820849986...
    """

    name = "laplacian"
    squared = False

    def distance_scale(self):
        return -1.0 / self._checked_bandwidth()

    def finish(self, T, xp=np):
        return xp.exp(T, out=T) if xp is np else xp.exp(T)


class Matern(Kernel):
    """Matérn kernel with smoothness ν ∈ {0.5, 1.5, 2.5}.

    With t = √(2ν)·‖x − z‖ / bandwidth: ν=0.5 gives exp(−t) (the
    Laplacian), ν=1.5 gives (1 + t)·exp(−t), ν=2.5 gives
    (1 + t + t²/3)·exp(−t). Same convention as scikit-learn's
    ``gaussian_process.kernels.Matern(length_scale=bandwidth, nu=nu)``.

    Parameters
    ----------
    bandwidth : float or {"median", "scale"}, default=1.0
        Length scale.
    nu : {0.5, 1.5, 2.5}, default=1.5
        Smoothness.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Matern
    >>> round(float(Matern(bandwidth=1.0, nu=1.5)(np.zeros((1, 1)), np.ones((1, 1)))[0, 0]), 6)
    0.483358
    """

    name = "matern"
    squared = False
    _NUS = (0.5, 1.5, 2.5)

    def __init__(self, bandwidth=1.0, nu=1.5):
        self.bandwidth = bandwidth
        self.nu = nu

    _param_names = ("bandwidth", "nu")

    def _checked_nu(self):
        if self.nu not in self._NUS:
            raise ValueError(f"nu must be one of {self._NUS} for Matern; got {self.nu!r}.")
        return float(self.nu)

    def distance_scale(self):
        # finish() receives t = sqrt(2 nu) r / bandwidth (positive; the sign is applied there).
        return np.sqrt(2.0 * self._checked_nu()) / self._checked_bandwidth()

    def finish(self, T, xp=np):
        nu = self._checked_nu()
        decay = xp.exp(-T)
        if nu == 0.5:
            return decay
        if nu == 1.5:
            poly = T + 1.0
        else:
            poly = T * T
            poly *= 1.0 / 3.0
            poly += T
            poly += 1.0
        poly *= decay
        return poly


class Cauchy(Kernel):
    """Cauchy (rational quadratic, α=1) kernel k(x, z) = 1 / (1 + ‖x − z‖² / bandwidth²).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Cauchy
    >>> float(Cauchy(bandwidth=1.0)(np.zeros((1, 1)), np.ones((1, 1)))[0, 0])
    0.5
    """

    name = "cauchy"
    squared = True

    def distance_scale(self):
        return 1.0 / self._checked_bandwidth() ** 2

    def finish(self, T, xp=np):
        T += 1.0
        return xp.reciprocal(T, out=T) if xp is np else xp.reciprocal(T)


class InverseMultiquadric(Kernel):
    """Inverse multiquadric kernel k(x, z) = 1 / sqrt(1 + ‖x − z‖² / bandwidth²).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import InverseMultiquadric
    >>> k = InverseMultiquadric(bandwidth=1.0)
    >>> round(float(k(np.zeros((1, 1)), np.ones((1, 1)))[0, 0]), 6)
    0.707107
    """

    name = "imq"
    squared = True

    def distance_scale(self):
        return 1.0 / self._checked_bandwidth() ** 2

    def finish(self, T, xp=np):
        T += 1.0
        T = xp.sqrt(T, out=T) if xp is np else xp.sqrt(T)
        return xp.reciprocal(T, out=T) if xp is np else xp.reciprocal(T)


class CallableKernel(Kernel):
    """Wrap any function ``f(A, B) -> (len(A), len(B)) array`` as a kernel.

    The function must be symmetric positive semi-definite for the methods
    that assume it (EigenPro, SQUEAK, thinning). Products with it are
    blocked like any other kernel but never fused. ``bandwidth`` is unused.

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
        if K.shape != (A.shape[0], B.shape[0]):
            raise ValueError(
                f"The kernel function returned shape {tuple(K.shape)}; expected "
                f"{(A.shape[0], B.shape[0])}."
            )
        return K.astype(A.dtype, copy=False)

    def diag(self, A, block_size=256):
        A = check_points(A, "A")
        xp = get_namespace(A)
        parts = [
            xp.diagonal(self._block(A[i : i + block_size], A[i : i + block_size]))
            for i in range(0, A.shape[0], block_size)
        ]
        return xp.concatenate(parts)

    def max_diagonal(self, A=None):
        if A is None:
            raise ValueError("A callable kernel needs data to bound its diagonal.")
        return float(self.diag(A).max())

    def resolve(self, X=None, random_state=None):
        return self


KERNELS = {
    "gaussian": Gaussian,
    "rbf": Gaussian,
    "laplacian": Laplacian,
    "matern": Matern,
    "cauchy": Cauchy,
    "imq": InverseMultiquadric,
}
#: Names accepted wherever a kernel is expected.
KERNEL_NAMES = tuple(KERNELS)


def estimate_bandwidth(X, rule="median", *, n_samples=1000, random_state=None):
    """Data-driven bandwidth.

    ``"median"``: median Euclidean distance between distinct pairs of a
    random sample of ``n_samples`` rows (the median heuristic).
    ``"scale"``: sqrt(n_features · Var(X)), the scale that scikit-learn's
    ``gamma="scale"`` implies for the Gaussian kernel (up to the factor 2).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import estimate_bandwidth
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> float(estimate_bandwidth(X, "median"))
    2.0
    """
    X = check_points(X, "X", min_samples=2)
    xp = get_namespace(X)
    if rule == "scale":
        value = float(np.sqrt(X.shape[1] * float(xp.var(X))))
    elif rule == "median":
        rng = check_random_state(random_state)
        n = X.shape[0]
        idx = np.sort(rng.choice(n, size=min(n, n_samples), replace=False))
        sample = X[xp.asarray(idx)] if xp is not np else X[idx]
        D2 = squared_distances(sample, sample)
        iu = np.triu_indices(sample.shape[0], k=1)
        dists = np.sqrt(np.asarray(D2.get() if xp is not np else D2, dtype=np.float64)[iu])
        dists = dists[dists > 0]
        value = float(np.median(dists)) if dists.size else 0.0
    else:
        raise ValueError(f"bandwidth rule must be one of {BANDWIDTH_RULES}; got {rule!r}.")
    if not value > 0:
        raise ValueError(
            f"The {rule!r} bandwidth rule gave {value} (are all rows of X identical?); "
            "pass a numeric bandwidth."
        )
    return value


def make_kernel(kernel="gaussian", bandwidth=None, *, X=None, random_state=None):
    """Build a ready-to-use kernel object from a name, an object or a callable.

    Parameters
    ----------
    kernel : str, Kernel or callable
        One of :data:`KERNEL_NAMES`, a :class:`Kernel` instance, or a
        function ``f(A, B)`` returning the kernel matrix.
    bandwidth : float, {"median", "scale"} or None
        Overrides the kernel object's own bandwidth when given; ``None``
        keeps it (1.0 for a kernel named by string).
    X : array of shape (n_samples, n_features), optional
        Data used to resolve a bandwidth rule.
    random_state : int, RandomState or None
        Seeds the sample of the ``"median"`` rule.

    Returns
    -------
    kernel : Kernel
        A kernel with a numeric bandwidth.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import make_kernel
    >>> make_kernel("laplacian", 2.5)
    Laplacian(bandwidth=2.5)
    >>> make_kernel("gaussian", "median", X=np.array([[0.0], [1.0], [3.0]]))
    Gaussian(bandwidth=2.0)
    """
    if isinstance(kernel, CallableKernel):  # no bandwidth to set or resolve
        return kernel
    if isinstance(kernel, Kernel):
        obj = kernel if bandwidth is None else kernel.with_bandwidth(bandwidth)
    elif isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"Unknown kernel {kernel!r}; known kernels are {KERNEL_NAMES}.")
        obj = KERNELS[kernel](bandwidth=1.0 if bandwidth is None else bandwidth)
    elif callable(kernel):
        return CallableKernel(kernel)
    else:
        raise TypeError(
            f"kernel must be a name in {KERNEL_NAMES}, a kernelkit Kernel or a callable; "
            f"got {type(kernel).__name__}."
        )
    bw = obj.bandwidth
    if isinstance(bw, str):
        if bw not in BANDWIDTH_RULES:
            raise ValueError(
                f"bandwidth must be a positive number or one of {BANDWIDTH_RULES}; got {bw!r}."
            )
    elif (
        isinstance(bw, bool)
        or not isinstance(bw, numbers.Real)
        or not (np.isfinite(bw) and bw > 0)
    ):
        raise ValueError(f"bandwidth must be a positive finite number; got {bw!r}.")
    return obj.resolve(X, random_state=random_state)


# ---------------------------------------------------------------------------
# Power kernels for generalized kernel thinning (Dwivedi & Mackey, ICLR 2022).
# A power kernel k_α has the eigenvalues of k raised to α ∈ [1/2, 1]; α = 1/2
# is the square-root kernel of the original KT paper. Like goodpoints, every
# kernel below has sup-norm 1, so "k + k_α" (KT+) needs no rescaling.


class GeneralMatern(Matern):
    """Matérn kernel with any smoothness ν > 0 (modified Bessel function form).

    With t = √(2ν)·‖x − z‖ / bandwidth, k = 2^(1−ν)/Γ(ν) · t^ν · K_ν(t), which
    equals :class:`Matern` for ν ∈ {0.5, 1.5, 2.5} (scikit-learn's convention).
    Power kernels of the Laplacian and Matérn kernels are of this form.

    Parameters
    ----------
    bandwidth : float, default=1.0
        Length scale.
    nu : float, default=1.5
        Smoothness, > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import GeneralMatern
    >>> k = GeneralMatern(bandwidth=1.0, nu=1.5)
    >>> round(float(k(np.zeros((1, 1)), np.ones((1, 1)))[0, 0]), 6)
    0.483358
    """

    name = "matern_general"

    def _checked_nu(self):
        return check_positive_scalar(self.nu, "nu")

    def finish(self, T, xp=np):
        nu = self._checked_nu()
        host = T if xp is np else T.get()
        t = np.asarray(host, dtype=np.float64)
        if t.size < _MATERN_TABLE_MIN or nu > _MATERN_TABLE_MAX_NU:
            out = _matern_exact(t, nu)
        else:
            # Bessel K_ν costs ~0.7 µs a value; large blocks use a cubic spline of the
            # profile on [t0, t_max] (error < 1e-11, checked in the tests), exact
            # values below t0 (where the profile has a t^2ν cusp) and 0 beyond t_max.
            out = np.zeros_like(t)
            low = t < _MATERN_T0
            mid = ~low & (t < _MATERN_TMAX)
            out[low] = _matern_exact(t[low], nu)
            out[mid] = _matern_spline(nu)(t[mid])
        out = out.astype(host.dtype, copy=False)
        if xp is np:
            T[...] = out
            return T
        return xp.asarray(out)


_MATERN_TABLE_MIN = 2**16
_MATERN_T0 = 0.05
# For ν ≤ 5 the profile at t = 50 is below 1e-15 (~e^-50·50^(ν−1/2)): 0 in float64 terms.
_MATERN_TMAX = 50.0
_MATERN_TABLE_MAX_NU = 5.0
_MATERN_KNOTS = 200_001
_MATERN_SPLINES = {}


def _matern_exact(t, nu):
    """2^(1−ν)/Γ(ν) · t^ν · K_ν(t), with the limit 1 at t = 0."""
    from scipy.special import gammaln, kv

    out = np.ones_like(t)
    # Below ~1e-8 the profile 1 − O(t^min(2ν, 2)) rounds to 1 for the ν of interest,
    # and kv(ν, t) would overflow.
    pos = t > 1e-8
    tp = t[pos]
    log_coef = (1.0 - nu) * np.log(2.0) - gammaln(nu)
    out[pos] = np.exp(log_coef + nu * np.log(tp)) * kv(nu, tp)
    return out


def _matern_spline(nu):
    """Evaluator of a cubic spline of the profile on a uniform grid over [t0, t_max]."""
    table = _MATERN_SPLINES.get(nu)
    if table is None:
        from scipy.interpolate import CubicSpline

        grid = np.linspace(_MATERN_T0, _MATERN_TMAX, _MATERN_KNOTS)
        coefs = CubicSpline(grid, _matern_exact(grid, nu)).c
        table = _MATERN_SPLINES[nu] = np.ascontiguousarray(coefs)
    step = (_MATERN_TMAX - _MATERN_T0) / (_MATERN_KNOTS - 1)

    def evaluate(t):
        # Uniform knots: the interval is found by one division, not a binary search.
        x = (t - _MATERN_T0) / step
        i = np.minimum(x.astype(np.intp), table.shape[1] - 1)
        dx = (x - i) * step
        return ((table[0, i] * dx + table[1, i]) * dx + table[2, i]) * dx + table[3, i]

    return evaluate


class InverseMultiquadricPower(Kernel):
    """k(x, z) = (1 + ‖x − z‖² / bandwidth²)^(−exponent): the IMQ family and its roots.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import InverseMultiquadricPower
    >>> float(InverseMultiquadricPower(1.0, exponent=1.0)(np.zeros((1, 1)), np.ones((1, 1)))[0, 0])
    0.5
    """

    name = "imq_power"
    squared = True

    def __init__(self, bandwidth=1.0, exponent=0.5):
        self.bandwidth = bandwidth
        self.exponent = exponent

    _param_names = ("bandwidth", "exponent")

    def distance_scale(self):
        return 1.0 / self._checked_bandwidth() ** 2

    def finish(self, T, xp=np):
        e = check_positive_scalar(self.exponent, "exponent")
        T += 1.0
        if xp is np:
            np.log(T, out=T)
            T *= -e
            return np.exp(T, out=T)
        return xp.exp(-e * xp.log(T))


class SumKernel(Kernel):
    """Sum of radial kernels that share the distance type (used for KT+).

    Its value block is computed in one distance pass: ``finish`` maps the plain
    (or squared) distance through each summand. Radial summands with sup-norm 1
    make ``max_diagonal`` the number of summands.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Gaussian
    >>> from kernelkit.kernels import SumKernel
    >>> k = SumKernel([Gaussian(1.0), Gaussian(2.0)])
    >>> float(k(np.zeros((1, 1)))[0, 0])
    2.0
    """

    name = "sum"

    def __init__(self, kernels, bandwidth=1.0):
        self.kernels = list(kernels)
        self.bandwidth = bandwidth
        if not self.kernels:
            raise ValueError("kernels must contain at least one kernel.")
        kinds = {k.squared for k in self.kernels}
        if len(kinds) != 1 or not all(k.radial for k in self.kernels):
            raise ValueError(
                "SumKernel needs radial kernels that all use squared or all use plain distances."
            )
        self.squared = kinds.pop()

    _param_names = ("kernels", "bandwidth")

    def __hash__(self):
        return hash((type(self).__name__, tuple(self.kernels)))

    def _checked_bandwidth(self):
        for k in self.kernels:
            k._checked_bandwidth()
        return 1.0

    def distance_scale(self):
        return 1.0

    def finish(self, T, xp=np):
        total = None
        for k in self.kernels:
            part = T * T.dtype.type(k.distance_scale())
            part = k.finish(part, xp)
            total = part if total is None else total + part
        if xp is np:
            T[...] = total
            return T
        return total

    def max_diagonal(self, A=None):
        return float(len(self.kernels))

    def resolve(self, X=None, random_state=None):
        return SumKernel([k.resolve(X, random_state) for k in self.kernels], self.bandwidth)


def _matern_power(bandwidth, nu, alpha, n_features):
    # Generalized KT, appendix on power kernels (and goodpoints' examples): with the
    # Sobolev-order smoothness ν_s = ν + d/2, the α-power of Matérn(ν_s) is
    # Matérn(α·ν_s) at the same length scale; it exists iff α·ν_s > d/2.
    if n_features is None:
        raise ValueError("n_features is needed for the power of a Laplacian/Matérn kernel.")
    nu_s = nu + n_features / 2.0
    alpha_min = n_features / (2.0 * nu_s)
    if not alpha > alpha_min:
        raise ValueError(
            f"power must exceed d/(2ν + d) = {alpha_min:.4g} for a Matérn kernel with "
            f"ν={nu} in d={n_features} dimensions (the power kernel must be positive "
            f"definite); got {alpha}."
        )
    # Rounding keeps ν = 1.5 exact when it is one of Matern's closed forms.
    new_nu = round(alpha * nu_s - n_features / 2.0, 12)
    if new_nu in Matern._NUS:
        return Matern(bandwidth=bandwidth, nu=new_nu)
    return GeneralMatern(bandwidth=bandwidth, nu=new_nu)


def min_power(kernel, n_features):
    """Smallest admissible power α (exclusive for Matérn, inclusive 1/2 otherwise)."""
    if isinstance(kernel, Laplacian):
        return n_features / (1.0 + n_features)
    if isinstance(kernel, (Matern, GeneralMatern)):
        return n_features / (2.0 * float(kernel.nu) + n_features)
    return 0.5


def power_kernel(kernel, alpha, n_features=None):
    """The α-power kernel k_α of a kernel (α ∈ [1/2, 1]; α = 1/2 is the square root).

    Gaussian(σ) → Gaussian(σ·√α); Laplacian(σ) = Matérn(σ, ν=1/2) and Matérn(σ, ν)
    → Matérn(σ, α·(ν + d/2) − d/2), which needs α > d/(2ν + d); IMQ/Cauchy
    (exponent β) have the square root (α = 1/2 only) with exponent d/4 + β/2.
    Kernels are defined up to a positive factor, which kernel thinning ignores.

    Parameters
    ----------
    kernel : Kernel
        A resolved kernel (numeric bandwidth).
    alpha : float
        Power in [1/2, 1].
    n_features : int, optional
        Dimension d; needed for Laplacian, Matérn and IMQ kernels.

    Returns
    -------
    Kernel

    Examples
    --------
    >>> from kernelkit import Gaussian, Laplacian
    >>> from kernelkit.kernels import power_kernel
    >>> round(float(power_kernel(Gaussian(2.0), 0.5).bandwidth) ** 2, 12)  # variance 4 -> 2
    2.0
    >>> power_kernel(Laplacian(1.0), 0.75, n_features=1)
    GeneralMatern(bandwidth=1.0, nu=0.25)
    """
    alpha = check_positive_scalar(alpha, "power")
    if not 0.5 <= alpha <= 1.0:
        raise ValueError(f"power must lie in [0.5, 1]; got {alpha}.")
    if alpha == 1.0:
        return kernel
    bw = kernel.bandwidth
    if isinstance(kernel, Gaussian):
        return Gaussian(bandwidth=bw * np.sqrt(alpha))
    if isinstance(kernel, Laplacian):
        return _matern_power(bw, 0.5, alpha, n_features)
    if isinstance(kernel, (Matern, GeneralMatern)):
        return _matern_power(bw, float(kernel.nu), alpha, n_features)
    if isinstance(kernel, (Cauchy, InverseMultiquadric, InverseMultiquadricPower)):
        if alpha != 0.5:
            raise ValueError(
                f"Only the square root (power=0.5) of {type(kernel).__name__} is known; "
                f"got power={alpha}."
            )
        if n_features is None:
            raise ValueError("n_features is needed for the root of an IMQ-type kernel.")
        beta = {Cauchy: 1.0, InverseMultiquadric: 0.5}.get(type(kernel))
        if beta is None:
            beta = float(kernel.exponent)
        return InverseMultiquadricPower(bandwidth=bw, exponent=n_features / 4.0 + beta / 2.0)
    raise ValueError(
        f"No power kernel is known for {type(kernel).__name__}; use split_kernel='target'."
    )


def _kernel_power(self, alpha, n_features=None):
    """The α-power kernel of this kernel; see :func:`power_kernel`."""
    return power_kernel(self, alpha, n_features)


Kernel.power = _kernel_power
