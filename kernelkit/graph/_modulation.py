"""Power-series kernels of a graph and their modulation functions.

A node kernel ``K = sum_k alpha_k B^k`` is estimated without bias by walks that
deposit ``f(k)`` at their k-th node when the modulation ``f`` is a square root
of ``alpha`` under discrete convolution: ``sum_{p<=k} f(p) f(k-p) = alpha_k``
(Reid et al., 2024, Theorem 1). This module gives ``alpha`` and ``f`` of the
built-in kernels in closed form, the general ``f`` by deconvolution, the
convergence radius of ``sum_k f(k) x^k`` and the variance rule that picks the
halting probability.
"""

import math
import warnings

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

KERNELS = ("diffusion", "regularized_laplacian", "p_step", "cosine")
# kernel -> (beta, power) defaults; None: the kernel takes no power.
DEFAULTS = {
    "diffusion": (1.0, None),
    "regularized_laplacian": (1.0, 1.0),
    "p_step": (0.5, 2),
    "cosine": (math.pi / 8, None),
}
MIN_TERMS = 64
_MAX_CLOSED = 1 << 14  # closed forms are cheap: allow long tails (slowly decaying f)
_MAX_RECURSION = 1 << 12  # the deconvolution is quadratic in the number of terms
_TAIL = 1e-17  # |f(k)| below this times max|f| for the last terms: the series is cut there
P_RANGE = (0.01, 0.9)


def resolve_parameters(kernel, beta, power):
    """Defaults and range checks of ``beta`` and ``power`` for a built-in kernel.

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    beta : float or None
        Scale; None for the default.
    power : float or None
        Exponent ``d`` (regularised Laplacian) or ``p`` (p-step); None for the default.

    Returns
    -------
    beta, power : float
        The values in use (``power`` is None for kernels without one).
    """
    default_beta, default_power = DEFAULTS[kernel]
    beta = default_beta if beta is None else float(beta)
    if default_power is None and power is not None:
        raise ValueError(f"power is not a parameter of kernel={kernel!r}; leave it as None.")
    power = default_power if power is None else power
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0; got {beta!r}.")
    if kernel == "p_step":
        if beta > 1:
            raise ValueError(
                f"kernel='p_step' needs beta <= 1 (so that I + beta B is PSD); got {beta}."
            )
        if float(power) != int(power) or int(power) < 1:
            raise ValueError(f"kernel='p_step' needs an integer power >= 1; got {power!r}.")
        power = int(power)
    elif kernel == "cosine" and beta > math.pi / 4:
        raise ValueError(f"kernel='cosine' needs beta <= pi/4 (a PSD kernel); got {beta}.")
    elif kernel == "regularized_laplacian":
        power = float(power)
        if not (math.isfinite(power) and power > 0):
            raise ValueError(f"power must be a finite number > 0; got {power!r}.")
    return beta, power


def _rising_binomial(a, k):
    """C(k + a - 1, k) = Gamma(k + a) / (Gamma(a) k!) for a > 0, in logs."""
    return np.exp(gammaln(k + a) - gammaln(a) - gammaln(k + 1.0))


def _binomial(a, k):
    """Generalised binomial C(a, k) for integer k >= 0 (exact zeros for integer a < k)."""
    ratios = (a - k[:-1]) / (k[:-1] + 1.0)
    return np.concatenate([[1.0], np.cumprod(ratios)])


def coefficients(kernel, beta, power, n_terms):
    """Series coefficients ``alpha_k`` of a built-in kernel in ``B``.

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    beta : float
        Scale.
    power : float or None
        Exponent (``d`` or ``p``).
    n_terms : int
        Number of coefficients.

    Returns
    -------
    alpha : ndarray of shape (n_terms,)
        ``K = sum_k alpha_k B^k``.
    """
    k = np.arange(n_terms, dtype=np.float64)
    if kernel == "diffusion":  # exp(-beta (I - B)) = e^-beta exp(beta B)
        return np.exp(-beta + k * math.log(beta) - gammaln(k + 1.0))
    if kernel == "regularized_laplacian":  # (1 + beta)^-d (I - r B)^-d
        r = beta / (1.0 + beta)
        return (1.0 + beta) ** -power * _rising_binomial(power, k) * r**k
    if kernel == "p_step":
        return _binomial(float(power), k) * beta**k
    # cos(beta (1 - x)) = sum_k beta^k cos(k pi / 2 - beta) x^k / k!
    phase = np.array([math.cos(beta), math.sin(beta), -math.cos(beta), -math.sin(beta)])
    return phase[np.arange(n_terms) % 4] * np.exp(k * math.log(beta) - gammaln(k + 1.0))


def closed_form_modulation(kernel, beta, power, n_terms):
    """``f`` with ``f * f = alpha`` in closed form (None for the cosine kernel).

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    beta : float
        Scale.
    power : float or None
        Exponent (``d`` or ``p``).
    n_terms : int
        Number of terms.

    Returns
    -------
    f : ndarray of shape (n_terms,) or None
        The modulation, or None where only the recursion gives it.
    """
    k = np.arange(n_terms, dtype=np.float64)
    if kernel == "diffusion":
        return np.exp(-beta / 2 + k * math.log(beta / 2) - gammaln(k + 1.0))
    if kernel == "regularized_laplacian":
        r = beta / (1.0 + beta)
        return (1.0 + beta) ** (-power / 2) * _rising_binomial(power / 2, k) * r**k
    if kernel == "p_step":
        return _binomial(power / 2, k) * beta**k
    return None


def deconvolve(alpha, n_terms):
    """The modulation ``f`` with ``f * f = alpha`` by the recursion on its terms.

    ``f(0) = sqrt(alpha_0)``, ``f(k) = (alpha_k - sum_{p=1}^{k-1} f(p) f(k-p)) / (2 f(0))``.
    The error is absolute, about ``1e-16 max|alpha|`` (relative accuracy is lost where
    ``|f(k)|`` is much smaller than ``|alpha_k|``).

    Parameters
    ----------
    alpha : array-like of shape (n_alpha,)
        Coefficients with ``alpha[0] > 0`` (missing terms are zero).
    n_terms : int
        Number of terms of ``f``.

    Returns
    -------
    f : ndarray of shape (n_terms,)
        The modulation.
    """
    a = np.zeros(n_terms)
    m = min(n_terms, len(alpha))
    a[:m] = np.asarray(alpha, dtype=np.float64)[:m]
    f = np.zeros(n_terms)
    f[0] = math.sqrt(a[0])
    two_f0 = 2.0 * f[0]
    for k in range(1, n_terms):
        f[k] = (a[k] - np.dot(f[1:k], f[k - 1 : 0 : -1])) / two_f0
    return f


def polynomial_radius(alpha):
    """Convergence radius of ``sqrt(sum_k alpha_k x^k)``: the smallest |root| of odd multiplicity.

    Parameters
    ----------
    alpha : ndarray of shape (n_alpha,)
        Coefficients (``alpha[0] > 0``).

    Returns
    -------
    radius : float
        ``inf`` when every root has even multiplicity (or there is none).
    """
    trimmed = np.trim_zeros(np.asarray(alpha, dtype=np.float64), "b")
    if trimmed.size <= 1:
        return math.inf
    roots = np.roots(trimmed[::-1])
    radius = math.inf
    used = np.zeros(roots.size, dtype=bool)
    for i, root in enumerate(roots):
        if used[i]:
            continue
        # Multiple roots come back split by ~eps^(1/m); group what is that close.
        close = np.abs(roots - root) <= 1e-5 * max(1.0, abs(root))
        close &= ~used
        used |= close
        if close.sum() % 2:
            radius = min(radius, float(abs(root)))
    return radius


def radius(kernel, beta, power, alpha=None):
    """Convergence radius ``R`` of ``sum_k f(k) x^k``.

    Parameters
    ----------
    kernel : str or None
        One of :data:`KERNELS`, or None for user coefficients.
    beta : float or None
        Scale.
    power : float or None
        Exponent.
    alpha : ndarray or None
        User coefficients (when ``kernel`` is None).

    Returns
    -------
    R : float
        The radius (``inf`` for entire series).
    """
    if kernel is None:
        return polynomial_radius(alpha)
    if kernel == "diffusion":
        return math.inf
    if kernel == "regularized_laplacian":
        return (1.0 + beta) / beta
    if kernel == "p_step":
        return math.inf if power % 2 == 0 else 1.0 / beta
    return math.pi / (2.0 * beta) - 1.0


def _cut(f, n_max):
    """Length of ``f`` worth keeping: >= MIN_TERMS, past the last term above the tail level."""
    big = np.flatnonzero(np.abs(f) > _TAIL * np.max(np.abs(f)))
    return int(min(n_max, max(MIN_TERMS, big[-1] + 2 if big.size else 1)))


def modulation(kernel, beta, power, alpha=None):
    """Coefficients and modulation of a kernel, long enough that the dropped tail is negligible.

    Parameters
    ----------
    kernel : str or None
        One of :data:`KERNELS`, or None for user coefficients ``alpha``.
    beta : float or None
        Scale (built-ins).
    power : float or None
        Exponent (built-ins).
    alpha : ndarray or None
        User coefficients.

    Returns
    -------
    alpha : ndarray
        Coefficients, as many as ``f`` has terms.
    f : ndarray
        Modulation, at least :data:`MIN_TERMS` terms.
    """
    if kernel is None:
        n = max(MIN_TERMS, len(alpha))
        f = deconvolve(alpha, n)
        while n < _MAX_RECURSION and _cut(f, n) >= n - 1:
            n = min(2 * n, _MAX_RECURSION)
            f = deconvolve(alpha, n)
        n = max(_cut(f, n), len(alpha))
        a = np.zeros(n)
        a[: len(alpha)] = alpha
        return a, f[:n]
    n = 256
    f = closed_form_modulation(kernel, beta, power, n)
    while f is not None and n < _MAX_CLOSED and _cut(f, n) >= n - 1:
        n *= 4
        f = closed_form_modulation(kernel, beta, power, n)
    if f is None:
        a = coefficients(kernel, beta, power, _MAX_RECURSION)
        f = deconvolve(a, _MAX_RECURSION)
    n = _cut(f, f.size)
    return coefficients(kernel, beta, power, n), f[:n]


def variance_factor(f, x):
    """``V = sum_k f(k)^2 x^k`` (inf where the terms do not decay).

    Parameters
    ----------
    f : ndarray
        Modulation.
    x : float
        ``s^2 / (1 - p_halt)``: the squared load growth per step.

    Returns
    -------
    V : float
        The sum over the stored terms.
    """
    k = np.arange(f.size)
    with np.errstate(over="ignore", divide="ignore"):
        logs = 2.0 * np.log(np.abs(f)) + k * math.log(x)
    logs = logs[np.isfinite(logs)]
    top = logs.max()
    return float(math.exp(top) * np.exp(logs - top).sum()) if math.isfinite(top) else math.inf


def variance_is_finite(R, s, p_halt):
    """Whether the walk estimate has finite variance: ``R^2 (1 - p) / s^2 > 1``.

    Parameters
    ----------
    R : float
        Convergence radius of the modulation's series.
    s : float
        Largest absolute row sum of ``B`` (1 for the normalised adjacency).
    p_halt : float
        Halting probability.

    Returns
    -------
    finite : bool
        True when the variance rule holds.
    """
    return R**2 * (1.0 - p_halt) > s**2


def choose_p_halt(f, R, s):
    """``argmin_p V(p)^2 / p`` (variance times work) over ``P_RANGE``.

    Parameters
    ----------
    f : ndarray
        Modulation.
    R : float
        Convergence radius of its series.
    s : float
        Largest absolute row sum of ``B`` (1 for the normalised adjacency).

    Returns
    -------
    p_halt : float
        The chosen halting probability (0.5, with a warning, when the variance is
        infinite for every p in the range).
    """
    lo, hi = P_RANGE
    if math.isfinite(R):
        # Finite variance needs p < 1 - s^2 / R^2; stay a hair inside the boundary.
        hi_ok = 1.0 - s**2 / R**2
        if hi_ok <= lo:
            warnings.warn(
                f"infinite variance: no halting probability in {P_RANGE} gives the walk "
                f"estimate a finite variance (series radius {R:.3g}, row-sum bound {s:.3g}); "
                "using p_halt=0.5. Reduce beta (or rescale the graph).",
                UserWarning,
                stacklevel=5,
            )
            return 0.5
        lo = lo
        hi = min(hi, hi_ok - 1e-3 * (hi_ok - lo))

    def objective(logp):
        p = math.exp(logp)
        v = variance_factor(f, s**2 / (1.0 - p))
        return 2.0 * math.log(v) - logp if math.isfinite(v) and v > 0 else math.inf

    grid = np.linspace(math.log(lo), math.log(hi), 64)
    values = np.array([objective(g) for g in grid])
    i = int(np.argmin(values))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    if b <= a:
        return float(math.exp(grid[i]))
    best = minimize_scalar(objective, bounds=(a, b), method="bounded", options={"xatol": 1e-4})
    p = best.x if best.fun <= values[i] else grid[i]
    return float(math.exp(p))
