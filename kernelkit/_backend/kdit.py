"""Kernels of the kernel density integral (KDI) transform (Numba; an array-namespace
version of the transform for CuPy at the end).

Fit: per feature, the CDF ``F(x) = mean_i Phi((x - s_i) / h)`` of a Gaussian KDE and its
derivative, evaluated exactly (to a bounded error) at a few thousand knots in near-linear
time after a NumPy sort. Transform: monotone cubic Hermite interpolation between the
knots, and its exact inverse.

How the sums are made fast (and why the error stays below 1e-9): the sorted data are
cut into clusters whose points lie in ``[a, a + CLUSTER * h)``. Around the cluster
centre ``c = a + CLUSTER * h / 2`` every offset ``delta = (s - c) / h`` has
``|delta| <= CLUSTER / 2``, so a Taylor series in ``delta`` turns the cluster's sum into
``ORDER`` moments times Hermite functions of ``u = (x - c) / h``. Cramer's inequality
``|He_n(u)| exp(-u^2/4) <= 1.0865 sqrt(n!)`` bounds the remainder per point by
``0.434 |delta|^p / (p sqrt((p-1)!))``, which is 7e-11 for ``p = 10`` and
``|delta| <= 1/4``. Clusters farther than ``WINDOW`` bandwidths count as exactly 1
(to the left) or 0 (to the right); each point so treated is off by at most
``Phi(-6.5) = 4e-11``. The normalised map ``(F(x) - F(min)) / (F(max) - F(min))`` loses
at most a factor 8 on these (the denominator is at least 1/2 whenever a point is
truncated, and the Taylor error is tiny relative to it when the range is shorter than
``h``), which keeps the fitted values within 1e-9 of the exact ones.
"""

import math

import numpy as np
from numba import njit, prange

WINDOW = 6.5
CLUSTER = 0.5
ORDER = 10

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)

# Output codes of a fitted column (stored in ``status``).
OK = 0
CONSTANT = 1
ALL_NAN = 2

RULE_VALUE = 0
RULE_SCOTT = 1
RULE_SILVERMAN = 2


@njit(nogil=True, cache=True)
def _value(vals, n_zeros, i):
    """Element ``i`` of the sorted column: ``n_zeros`` implicit zeros, then ``vals``."""
    if i < n_zeros:
        return 0.0
    return vals[i - n_zeros]


@njit(nogil=True, cache=True)
def _build_clusters(vals, n_zeros, h):
    """Cluster counts, centres and Taylor moments ``sum(delta^k) / k!`` of a sorted column."""
    n = n_zeros + vals.size
    width = CLUSTER * h
    # First pass: how many clusters, so that the moment table is allocated once.
    n_clusters = 0
    i = 0
    while i < n:
        limit = _value(vals, n_zeros, i) + width
        i = max(i + 1, n_zeros) if i < n_zeros else i + 1
        while i < n and _value(vals, n_zeros, i) < limit:
            i += 1
        n_clusters += 1
    centres = np.empty(n_clusters)
    before = np.empty(n_clusters + 1)  # number of points in clusters to the left
    moments = np.zeros((n_clusters, ORDER))
    inv_fact = np.empty(ORDER)
    inv_fact[0] = 1.0
    for k in range(1, ORDER):
        inv_fact[k] = inv_fact[k - 1] / k
    i = 0
    b = 0
    before[0] = 0.0
    while i < n:
        start = _value(vals, n_zeros, i)
        centre = start + 0.5 * width
        limit = start + width
        centres[b] = centre
        count = 0
        if i < n_zeros:
            # The implicit zeros of a sparse column all sit at ``start``: add them at once.
            delta = (0.0 - centre) / h
            power = 1.0
            for k in range(ORDER):
                moments[b, k] += (n_zeros - i) * power
                power *= delta
            count += n_zeros - i
            i = n_zeros
        while i < n:
            s = _value(vals, n_zeros, i)
            if s >= limit and count > 0:
                break
            delta = (s - centre) / h
            power = 1.0
            for k in range(ORDER):
                moments[b, k] += power
                power *= delta
            count += 1
            i += 1
        for k in range(ORDER):
            moments[b, k] *= inv_fact[k]
        before[b + 1] = before[b] + count
        b += 1
    return centres, before, moments


@njit(nogil=True, cache=True)
def _cluster_sums(x, h, centres, before, moments, first, last):
    """Sum of Phi((x - s)/h) and of phi((x - s)/h) over clusters ``first..last-1``."""
    cdf = 0.0
    pdf = 0.0
    he = np.empty(ORDER)
    for b in range(first, last):
        u = (x - centres[b]) / h
        big_phi = 0.5 * math.erfc(-u * _INV_SQRT_2)
        small_phi = _INV_SQRT_2PI * math.exp(-0.5 * u * u)
        he[0] = 1.0
        if ORDER > 1:
            he[1] = u
        for k in range(1, ORDER - 1):
            he[k + 1] = u * he[k] - k * he[k - 1]
        # Phi(u - d) = Phi(u) - phi(u) sum_{k>=1} d^k He_{k-1}(u) / k!
        # phi(u - d) = phi(u) sum_{k>=0} d^k He_k(u) / k!
        corr = 0.0
        dens = moments[b, 0]
        for k in range(1, ORDER):
            corr += moments[b, k] * he[k - 1]
            dens += moments[b, k] * he[k]
        count = before[b + 1] - before[b]
        cdf += count * big_phi - small_phi * corr
        pdf += small_phi * dens
    return cdf, pdf


@njit(nogil=True, cache=True)
def _kde_cdf_pdf(points, h, centres, before, moments, n, cdf_out, pdf_out):
    """F and F' of the KDE at sorted ``points`` by a sweep over the clusters."""
    reach = (WINDOW + 0.5 * CLUSTER) * h
    n_clusters = centres.size
    first = 0
    last = 0
    for q in range(points.size):
        x = points[q]
        while first < n_clusters and centres[first] < x - reach:
            first += 1
        if last < first:
            last = first
        while last < n_clusters and centres[last] <= x + reach:
            last += 1
        cdf, pdf = _cluster_sums(x, h, centres, before, moments, first, last)
        cdf_out[q] = (before[first] + cdf) / n
        pdf_out[q] = pdf / (n * h)


@njit(nogil=True, cache=True)
def fit_sorted_column(vals, n_zeros, alpha, rule, n_quantiles, knots, refs, dens):
    """Fit one feature from its sorted finite values (after ``n_zeros`` implicit zeros).

    Fills ``knots`` (``2 * n_quantiles`` sorted feature values: the empirical quantiles
    merged with an even grid on [min, max]), ``refs`` (the normalised KDE CDF there, in
    [0, 1]) and ``dens`` (its derivative). Returns ``(status, bandwidth)``.
    """
    n = n_zeros + vals.size
    if n == 0:
        knots[:] = np.nan
        refs[:] = np.nan
        dens[:] = np.nan
        return ALL_NAN, np.nan
    lo = _value(vals, n_zeros, 0)
    hi = _value(vals, n_zeros, n - 1)
    if not hi > lo:
        knots[:] = lo
        refs[:] = 0.0
        dens[:] = 0.0
        return CONSTANT, 0.0
    mean = 0.0
    for v in vals:
        mean += v
    mean /= n
    ss = n_zeros * mean * mean
    for v in vals:
        ss += (v - mean) * (v - mean)
    std = math.sqrt(ss / (n - 1))
    if rule == RULE_SCOTT:
        factor = n ** (-0.2)
    elif rule == RULE_SILVERMAN:
        factor = (0.75 * n) ** (-0.2)
    else:
        factor = alpha
    h = factor * std

    # Knots: empirical quantiles (dense where the data are) merged with an even grid
    # (dense across gaps), so that every interval is short in both x and the CDF.
    quant = np.empty(n_quantiles)
    even = np.empty(n_quantiles)
    for k in range(n_quantiles):
        pos = k * (n - 1) / (n_quantiles - 1)
        j = min(int(pos), n - 2)
        frac = pos - j
        a = _value(vals, n_zeros, j)
        quant[k] = a + frac * (_value(vals, n_zeros, j + 1) - a)
        even[k] = lo + (hi - lo) * (k / (n_quantiles - 1))
    quant[0] = lo
    quant[n_quantiles - 1] = hi
    even[n_quantiles - 1] = hi
    ia = 0
    ib = 0
    for k in range(2 * n_quantiles):
        if ib >= n_quantiles or (ia < n_quantiles and quant[ia] <= even[ib]):
            knots[k] = min(max(quant[ia], lo), hi)
            ia += 1
        else:
            knots[k] = even[ib]
            ib += 1

    centres, before, moments = _build_clusters(vals, n_zeros, h)
    ends = np.array([lo, hi])
    end_cdf = np.empty(2)
    end_pdf = np.empty(2)
    _kde_cdf_pdf(ends, h, centres, before, moments, n, end_cdf, end_pdf)
    _kde_cdf_pdf(knots, h, centres, before, moments, n, refs, dens)
    mass = end_cdf[1] - end_cdf[0]
    running = 0.0
    for k in range(knots.size):
        if knots[k] <= lo:
            t = 0.0
        elif knots[k] >= hi:
            t = 1.0
        else:
            t = min(max((refs[k] - end_cdf[0]) / mass, 0.0), 1.0)
        # Round-off must not break monotonicity, which the inverse relies on.
        running = max(running, t)
        refs[k] = running
        dens[k] = dens[k] / mass
    return OK, h


@njit(nogil=True, cache=True, parallel=True)
def _fit_sorted_columns(
    values,
    starts,
    counts,
    n_zeros,
    alphas,
    rule,
    n_quantiles,
    knots,
    refs,
    dens,
    status,
    bandwidth,
):
    """Fit every feature from its sorted finite values; one feature per thread."""
    for j in prange(starts.size):
        vals = values[starts[j] : starts[j] + counts[j]]
        status[j], bandwidth[j] = fit_sorted_column(
            vals, n_zeros[j], alphas[j], rule, n_quantiles, knots[j], refs[j], dens[j]
        )


def fit_dense(X, alphas, rule, n_quantiles, knots, refs, dens, status, bandwidth):
    """Fit every column of a dense 2-D array (NaN ignored).

    The sort runs in NumPy: its vectorised sort is >10x faster than Numba's, and the sort
    is most of the fit.
    """
    n, d = X.shape
    cols = np.array(X.T, dtype=np.float64, order="C")  # always a copy: sorted in place
    cols.sort(axis=1)  # NaN sorts last
    counts = n - np.count_nonzero(np.isnan(cols), axis=1)
    starts = np.arange(d, dtype=np.int64) * n
    _fit_sorted_columns(
        cols.ravel(),
        starts,
        counts.astype(np.int64),
        np.zeros(d, dtype=np.int64),
        alphas,
        rule,
        n_quantiles,
        knots,
        refs,
        dens,
        status,
        bandwidth,
    )


def fit_csc(data, indptr, n_rows, alphas, rule, n_quantiles, knots, refs, dens, status, bandwidth):
    """Fit every column of a non-negative CSC matrix; implicit zeros count as values."""
    d = indptr.size - 1
    values = np.asarray(data, dtype=np.float64).copy()
    counts = np.empty(d, dtype=np.int64)
    for j in range(d):
        segment = values[indptr[j] : indptr[j + 1]]
        segment.sort()
        counts[j] = segment.size - np.count_nonzero(np.isnan(segment))
    stored = np.diff(indptr).astype(np.int64)
    _fit_sorted_columns(
        values,
        np.asarray(indptr[:-1], dtype=np.int64),
        counts,
        n_rows - stored,
        alphas,
        rule,
        n_quantiles,
        knots,
        refs,
        dens,
        status,
        bandwidth,
    )


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
    """Same as :func:`transform_dense` for the stored values of a sparse matrix."""
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
# ``forward_one``/``inverse_one``, written as whole-column array operations.
# ---------------------------------------------------------------------------------------


def special_functions(xp):
    """``(ndtr, ndtri)`` for the namespace: SciPy's on the host, cupyx's on the device."""
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
    """T at the values ``col`` of one feature (float64 result, NaN kept)."""
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
    """Feature values whose T is ``col``: bracketed Newton on the interval's cubic."""
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
