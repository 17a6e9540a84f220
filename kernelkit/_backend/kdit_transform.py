"""Transform of the kernel density integral (KDI) transform: monotone cubic Hermite
interpolation between the fitted knots (see :mod:`kdit_fit`) and its exact inverse, in
Numba, and the same interpolant written with array operations for CuPy at the end.
"""

import math

import numpy as np
from numba import njit, prange

from .kdit_fit import OK


@njit(nogil=True, cache=True)
def _interval(table, j, first, last, x):
    """Largest k in [first, last) with table[j, k] <= x, given
    table[j, first] <= x < table[j, last].

    Branch-free halving (a conditional move per step): a mispredicted branch per level
    costs more than the compare. Rows are indexed rather than sliced so that the
    per-value helpers create no array views.
    """
    base = first
    size = last - first
    while size > 1:
        half = size >> 1
        base = base + half if table[j, base + half] <= x else base
        size -= half
    return base


@njit(nogil=True, cache=True)
def _limited_slopes(knots, refs, dens, j, k):
    """Interval width, rise and endpoint slopes after the Fritsch-Carlson limiter.

    The exact slopes make the cubic accurate to O(dx^4); the limiter only bites on
    intervals much wider than the bandwidth, where the cubic could overshoot.
    """
    dx = knots[j, k + 1] - knots[j, k]
    dy = refs[j, k + 1] - refs[j, k]
    if dy <= 0.0:
        return dx, dy, 0.0, 0.0
    secant = dy / dx
    a = dens[j, k] / secant
    b = dens[j, k + 1] / secant
    s = a * a + b * b
    if s > 9.0:
        tau = 3.0 / math.sqrt(s)
        a *= tau
        b *= tau
    return dx, dy, a * dy, b * dy


@njit(nogil=True, cache=True)
def _hermite(t, dy, ma, mb):
    """Rise of the cubic Hermite on [0, 1] with end slopes ``ma``, ``mb`` (rise dy)."""
    t2 = t * t
    t3 = t2 * t
    return dy * (3.0 * t2 - 2.0 * t3) + ma * (t3 - 2.0 * t2 + t) + mb * (t3 - t2)


@njit(nogil=True, cache=True, parallel=True)
def cubic_coefficients(knots, refs, dens):
    """Per interval: ``(T_k, c1, c2, c3, 1/dx)`` with ``T = T_k + c1 t + c2 t^2 + c3 t^3``,
    ``t = (x - x_k) / dx``: the limited Hermite cubic in power form, built once per call
    so that a value costs one multiply-add chain instead of divisions and a square root.

    Parameters
    ----------
    knots : ndarray of shape (n_features, n_knots)
        Sorted knots of every feature (float64).
    refs : ndarray of shape (n_features, n_knots)
        The map at the knots, non-decreasing in [0, 1].
    dens : ndarray of shape (n_features, n_knots)
        The map's slopes at the knots.

    Returns
    -------
    coef : ndarray of shape (n_features, n_knots - 1, 5)
        The five numbers of every interval (zeros on flat intervals).
    """
    d, size = knots.shape
    coef = np.zeros((d, size - 1, 5))
    for j in prange(d):
        for k in range(size - 1):
            dx, dy, ma, mb = _limited_slopes(knots, refs, dens, j, k)
            coef[j, k, 0] = refs[j, k]
            if dy > 0.0:
                coef[j, k, 1] = ma
                coef[j, k, 2] = 3.0 * dy - 2.0 * ma - mb
                coef[j, k, 3] = ma + mb - 2.0 * dy
                coef[j, k, 4] = 1.0 / dx
    return coef


@njit(nogil=True, cache=True)
def _forward_at(x, knots, refs, coef, status, j, k):
    """T(x) for feature j, given the interval k that holds x (any k if x is outside)."""
    if np.isnan(x):
        return x
    if status[j] != OK or x <= knots[j, 0]:
        return 0.0
    if x >= knots[j, knots.shape[1] - 1]:
        return 1.0
    t = (x - knots[j, k]) * coef[j, k, 4]
    y = coef[j, k, 0] + t * (coef[j, k, 1] + t * (coef[j, k, 2] + t * coef[j, k, 3]))
    return min(max(y, refs[j, k]), refs[j, k + 1])


@njit(nogil=True, cache=True)
def _inverse_at(y, knots, refs, dens, status, j, k, tol):
    """The x with T(x) = y for feature j, given the interval k of ``refs`` that holds y."""
    if np.isnan(y):
        return y
    last = knots.shape[1] - 1
    if status[j] != OK or y <= tol:
        return knots[j, 0]
    if y >= 1.0 - tol:
        return knots[j, last]
    dx, dy, ma, mb = _limited_slopes(knots, refs, dens, j, k)
    target = y - refs[j, k]
    # The limited cubic is monotone on [0, 1]: safeguarded Newton converges.
    lo = 0.0
    hi = 1.0
    t = target / dy
    for _ in range(60):
        g = _hermite(t, dy, ma, mb) - target
        if g == 0.0:
            break
        if g > 0.0:
            hi = t
        else:
            lo = t
        t2 = t * t
        slope = (
            dy * (6.0 * t - 6.0 * t2) + ma * (3.0 * t2 - 4.0 * t + 1.0) + mb * (3.0 * t2 - 2.0 * t)
        )
        step_ok = slope > 0.0
        if step_ok:
            t_new = t - g / slope
            step_ok = lo < t_new < hi
        if not step_ok:
            t_new = 0.5 * (lo + hi)
        if abs(t_new - t) <= 1e-15:
            t = t_new
            break
        t = t_new
    return knots[j, k] + t * dx


@njit(nogil=True, cache=True)
def _search_batch(table, j, xs, base, m):
    """:func:`_interval` over the whole row j for ``m`` values at once.

    Every value takes the same number of halving steps, so the steps of the batch are
    independent loads that overlap, with no data-dependent branch: 5x faster than one
    search after the other (the search is most of the transform).
    """
    for e in range(m):
        base[e] = 0
    size = table.shape[1] - 1
    while size > 1:
        half = size >> 1
        for e in range(m):
            probe = base[e] + half
            base[e] = probe if table[j, probe] <= xs[e] else base[e]
        size -= half


_BLOCK = 2048
_BATCH = 16


@njit(nogil=True, cache=True, parallel=True)
def transform_dense(X, knots, refs, dens, status, out, inverse, tol):
    """Apply the map (or its inverse) to every entry.

    Row blocks go to threads; inside a block, one feature at a time (its tables stay in
    L1), in batches of values searched together.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Values to map (NaN passes through).
    knots : ndarray of shape (n_features, n_knots)
        Sorted knots of every feature (float64).
    refs : ndarray of shape (n_features, n_knots)
        The map at the knots, non-decreasing in [0, 1].
    dens : ndarray of shape (n_features, n_knots)
        The map's slopes at the knots.
    status : ndarray of shape (n_features,)
        ``OK`` for a fitted feature; anything else maps to 0 (forward) or the constant.
    out : ndarray of shape (n_samples, n_features)
        Filled with the result (may be ``X`` itself).
    inverse : bool
        Apply the inverse map instead.
    tol : float
        Inverse only: values within ``tol`` of 0 or 1 map to the ends of the range.
    """
    n, d = X.shape
    searched = refs if inverse else knots
    coef = cubic_coefficients(knots, refs, dens)
    for c in prange((n + _BLOCK - 1) // _BLOCK):
        xs = np.empty(_BATCH)
        base = np.empty(_BATCH, dtype=np.int64)
        stop = min(n, (c + 1) * _BLOCK)
        for j in range(d):
            for start in range(c * _BLOCK, stop, _BATCH):
                m = min(_BATCH, stop - start)
                for e in range(m):
                    xs[e] = X[start + e, j]
                _search_batch(searched, j, xs, base, m)
                for e in range(m):
                    if inverse:
                        out[start + e, j] = _inverse_at(
                            xs[e], knots, refs, dens, status, j, base[e], tol
                        )
                    else:
                        out[start + e, j] = _forward_at(
                            xs[e], knots, refs, coef, status, j, base[e]
                        )


@njit(nogil=True, cache=True, parallel=True)
def transform_values(values, feature, knots, refs, dens, status, out, inverse, tol):
    """Same as :func:`transform_dense` for the stored values of a sparse matrix.

    Parameters
    ----------
    values : ndarray of shape (nnz,)
        Stored values.
    feature : ndarray of shape (nnz,)
        Feature (column) of every stored value.
    knots : ndarray of shape (n_features, n_knots)
        Sorted knots of every feature (float64).
    refs : ndarray of shape (n_features, n_knots)
        The map at the knots, non-decreasing in [0, 1].
    dens : ndarray of shape (n_features, n_knots)
        The map's slopes at the knots.
    status : ndarray of shape (n_features,)
        ``OK`` for a fitted feature.
    out : ndarray of shape (nnz,)
        Filled with the result (may be ``values`` itself).
    inverse : bool
        Apply the inverse map instead.
    tol : float
        Inverse only: values within ``tol`` of 0 or 1 map to the ends of the range.
    """
    n = values.size
    last = knots.shape[1] - 1
    coef = cubic_coefficients(knots, refs, dens)
    for c in prange((n + _BLOCK - 1) // _BLOCK):
        for i in range(c * _BLOCK, min(n, (c + 1) * _BLOCK)):
            j = feature[i]
            v = np.float64(values[i])
            if inverse:
                k = _interval(refs, j, 0, last, v) if 0.0 < v < 1.0 else 0
                out[i] = _inverse_at(v, knots, refs, dens, status, j, k, tol)
            else:
                inside = knots[j, 0] < v < knots[j, last]
                k = _interval(knots, j, 0, last, v) if inside else 0
                out[i] = _forward_at(v, knots, refs, coef, status, j, k)


# ---------------------------------------------------------------------------------------
# Array-namespace path (CuPy on the device; NumPy in the tests). The same interpolant as
# ``_forward_at``/``_inverse_at``, written as whole-column array operations.
# ---------------------------------------------------------------------------------------


def special_functions(xp):
    """``(ndtr, ndtri)`` for the namespace: SciPy's on the host, cupyx's on the device.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.

    Returns
    -------
    ndtr, ndtri : callable
        The normal CDF and its inverse for arrays of that namespace.
    """
    if xp is np:
        from scipy.special import ndtr, ndtri
    else:
        from cupyx.scipy.special import ndtr, ndtri
    return ndtr, ndtri


def _segments_xp(xp, knots, refs, dens, k):
    """Vectorised :func:`_limited_slopes` for interval indices ``k``."""
    x0 = knots[k]
    dx = knots[k + 1] - x0
    y0 = refs[k]
    dy = refs[k + 1] - y0
    rising = dy > 0
    safe_dx = xp.where(dx > 0, dx, 1.0)
    secant = xp.where(rising, dy / safe_dx, 1.0)
    a = dens[k] / secant
    b = dens[k + 1] / secant
    s = a * a + b * b
    tau = xp.where(s > 9.0, 3.0 / xp.sqrt(xp.maximum(s, 9.0)), 1.0)
    ma = xp.where(rising, a * tau * dy, 0.0)
    mb = xp.where(rising, b * tau * dy, 0.0)
    return x0, safe_dx, y0, dy, ma, mb


def forward_xp(xp, col, knots, refs, dens, constant):
    """T at the values ``col`` of one feature (float64 result, NaN kept).

    Parameters
    ----------
    xp : module
        Array namespace of ``col`` and the tables.
    col : array of shape (n_samples,)
        Values of the feature.
    knots, refs, dens : array of shape (n_knots,)
        That feature's knots, map values and slopes.
    constant : bool
        Whether the feature was constant in fit (everything maps to 0).

    Returns
    -------
    T : array of shape (n_samples,)
        The map at ``col``.
    """
    x = col.astype(xp.float64)
    if constant:
        return xp.where(xp.isnan(x), x, 0.0)
    last = knots.shape[0] - 1
    k = xp.clip(xp.searchsorted(knots, x, side="right") - 1, 0, last - 1)
    x0, dx, y0, dy, ma, mb = _segments_xp(xp, knots, refs, dens, k)
    t = xp.clip((x - x0) / dx, 0.0, 1.0)
    y = y0 + _hermite.py_func(t, dy, ma, mb)
    y = xp.clip(y, y0, y0 + dy)
    y = xp.where(x <= knots[0], 0.0, xp.where(x >= knots[last], 1.0, y))
    return xp.where(xp.isnan(x), x, y)


def inverse_xp(xp, col, knots, refs, dens, constant, tol, iterations=60):
    """Feature values whose T is ``col``: bracketed Newton on the interval's cubic.

    Parameters
    ----------
    xp : module
        Array namespace of ``col`` and the tables.
    col : array of shape (n_samples,)
        Values of the map, in [0, 1].
    knots, refs, dens : array of shape (n_knots,)
        That feature's knots, map values and slopes.
    constant : bool
        Whether the feature was constant in fit (everything maps to the constant).
    tol : float
        Values within ``tol`` of 0 or 1 map to the ends of the range.
    iterations : int, default=60
        Newton/bisection steps (vectorised, so a fixed count).

    Returns
    -------
    X : array of shape (n_samples,)
        Feature values.
    """
    y = col.astype(xp.float64)
    last = knots.shape[0] - 1
    if constant:
        return xp.where(xp.isnan(y), y, knots[0])
    k = xp.clip(xp.searchsorted(refs, y, side="right") - 1, 0, last - 1)
    x0, dx, y0, dy, ma, mb = _segments_xp(xp, knots, refs, dens, k)
    target = y - y0
    rising = dy > 0
    safe_dy = xp.where(rising, dy, 1.0)
    t = xp.clip(target / safe_dy, 0.0, 1.0)
    lo = xp.zeros_like(t)
    hi = xp.ones_like(t)
    for _ in range(iterations):
        g = _hermite.py_func(t, dy, ma, mb) - target
        above = g > 0
        hi = xp.where(above, t, hi)
        lo = xp.where(above, lo, t)
        t2 = t * t
        slope = (
            dy * (6.0 * t - 6.0 * t2) + ma * (3.0 * t2 - 4.0 * t + 1.0) + mb * (3.0 * t2 - 2.0 * t)
        )
        newton = t - g / xp.where(slope > 0, slope, 1.0)
        ok = (slope > 0) & (newton > lo) & (newton < hi)
        t = xp.where(ok, newton, 0.5 * (lo + hi))
    x = xp.where(rising, x0 + t * dx, x0)
    x = xp.where(y <= tol, knots[0], xp.where(y >= 1.0 - tol, knots[last], x))
    return xp.where(xp.isnan(y), y, x)
