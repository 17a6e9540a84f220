"""Radial kernels: each computes its values as ``finish(scale · d(x, z))``.

d is the squared or the plain Euclidean distance (the L1 one for the kernels
of ``_l1.py``); engines run the distance pass and call ``finish`` in place, so
adding a radial kernel means writing ``distance_scale`` and ``finish``.
"""

import numpy as np

from .._backend import to_numpy
from .._utils._validation import check_positive_scalar
from ._base import Kernel


class ExponentialKernel(Kernel):
    """A kernel k = exp(c·d/bandwidth^p) of a (squared) distance d: finished by one exp.

    The fused CUDA product runs such kernels from :meth:`exponential_form`.
    """

    def finish(self, T, xp=np):
        return xp.exp(T, out=T) if xp is np else xp.exp(T)

    def exponential_form(self):
        return self.squared, self.distance_scale()


class Gaussian(ExponentialKernel):
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

    def _coefficient(self):
        return -0.5


class Laplacian(ExponentialKernel):
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

    def _coefficient(self):
        return -1.0


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

    def exponential_form(self):
        if type(self) is Matern and self._checked_nu() == 0.5:  # the Laplacian
            return False, -self.distance_scale()
        return None

    def _coefficient(self):
        # finish() receives t = sqrt(2 nu) r / bandwidth (positive; the sign is applied there).
        return float(np.sqrt(2.0 * self._checked_nu()))

    def finish(self, T, xp=np):
        nu = self._checked_nu()
        # Past t = 1e4 the value is 0 in any dtype; capping keeps inf * 0 out of poly * decay.
        T = xp.minimum(T, _T_FAR, out=T) if xp is np else xp.minimum(T, _T_FAR)
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

    Parameters
    ----------
    bandwidth : float or {"median", "scale"}, default=1.0
        Length scale.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Cauchy
    >>> float(Cauchy(bandwidth=1.0)(np.zeros((1, 1)), np.ones((1, 1)))[0, 0])
    0.5
    """

    name = "cauchy"
    squared = True

    def _coefficient(self):
        return 1.0

    def finish(self, T, xp=np):
        T += 1.0
        return xp.reciprocal(T, out=T) if xp is np else xp.reciprocal(T)


class InverseMultiquadric(Kernel):
    """Inverse multiquadric kernel k(x, z) = 1 / sqrt(1 + ‖x − z‖² / bandwidth²).

    Parameters
    ----------
    bandwidth : float or {"median", "scale"}, default=1.0
        Length scale.

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

    def _coefficient(self):
        return 1.0

    def finish(self, T, xp=np):
        T += 1.0
        T = xp.sqrt(T, out=T) if xp is np else xp.sqrt(T)
        return xp.reciprocal(T, out=T) if xp is np else xp.reciprocal(T)


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
        # Bessel K_ν has no CuPy version: a device block visits the host (counted).
        host = to_numpy(T, "matern_general: kernel block to the host (Bessel K)")
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


# exp(-1e4) is 0 in float64: capping t there changes no value and keeps inf out of Matérn's
# polynomial factor.
_T_FAR = 1e4
_MATERN_TABLE_MIN = 2**16
_MATERN_T0 = 0.05
# For ν ≤ 5 the profile at t = 50 is below 1e-15 (~e^-50·50^(ν−1/2)): 0 in float64 terms.
_MATERN_TMAX = 50.0
_MATERN_TABLE_MAX_NU = 5.0
_MATERN_KNOTS = 200_001
_MATERN_SPLINES = {}


def _matern_exact(t, nu):
    """2^(1−ν)/Γ(ν) · t^ν · K_ν(t), with the limit 1 at t = 0 and 0 at t = inf."""
    from scipy.special import gammaln, kve

    out = np.ones_like(t)
    # Far out the profile is below 1e-300 (and SciPy's kve returns NaN past ~1e9).
    far = t > _T_FAR + 10.0 * nu
    out[far] = 0.0
    # Below ~1e-8 the profile 1 − O(t^min(2ν, 2)) rounds to 1 for the ν of interest,
    # and kv(ν, t) would overflow.
    pos = (t > 1e-8) & ~far
    tp = t[pos]
    log_coef = (1.0 - nu) * np.log(2.0) - gammaln(nu)
    # K_ν(t) = kve(ν, t)·e^(−t); keeping e^(−t) in the exponent avoids inf · 0 at large t.
    out[pos] = np.exp(log_coef + nu * np.log(tp) - tp) * kve(nu, tp)
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

    Parameters
    ----------
    bandwidth : float, default=1.0
        Length scale.
    exponent : float, default=0.5
        Decay exponent, > 0 (1: Cauchy, 0.5: inverse multiquadric).

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

    def _coefficient(self):
        return 1.0

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

    Parameters
    ----------
    kernels : list of Kernel
        Radial summands, all on squared or all on plain distances of one metric.
    bandwidth : float, default=1.0
        Unused (each summand has its own); kept so every kernel has the attribute.

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
        kinds = {(k.squared, k.metric) for k in self.kernels}
        if len(kinds) != 1 or not all(k.radial for k in self.kernels):
            raise ValueError(
                "SumKernel needs radial kernels that all use squared or all use plain "
                "distances, all of one metric."
            )
        self.squared, self.metric = kinds.pop()

    _param_names = ("kernels", "bandwidth")

    def __hash__(self):
        return hash((type(self).__name__, tuple(self.kernels)))

    def _checked_bandwidth(self, dtype=None):
        for k in self.kernels:
            k._checked_bandwidth(dtype)
        return 1.0

    def _coefficient(self):
        return 1.0

    def distance_scale(self):
        """1: the engines hand the plain (or squared) distance to :meth:`finish`.

        Returns
        -------
        scale : float
            Always 1.0; each summand applies its own scale in :meth:`finish`.
        """
        return 1.0

    def _block(self, A, B):
        # One block per summand: each folds the data's scale into its own bandwidth.
        total = self.kernels[0]._block(A, B)
        for k in self.kernels[1:]:
            total += k._block(A, B)
        return total

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
        """β = the number of summands (each has sup-norm 1).

        Parameters
        ----------
        A : array-like, default=None
            Unused.

        Returns
        -------
        beta : float
            ``len(kernels)``.
        """
        return float(len(self.kernels))

    def resolve(self, X=None):
        """Resolve every summand on ``X`` (see :meth:`Kernel.resolve`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Data the kernel will be evaluated on.

        Returns
        -------
        kernel : SumKernel
            A sum of resolved kernels.
        """
        return SumKernel([k.resolve(X) for k in self.kernels], self.bandwidth)
