"""Numba kernels of the kernel density integral (KDI) transform.

Fit: per feature, the CDF ``F(x) = mean_i Phi((x - s_i) / h)`` of a Gaussian KDE and its
derivative, evaluated exactly (to a bounded error) at a few thousand knots in near-linear
time. Transform: monotone cubic Hermite interpolation between the knots, and its exact
inverse.

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
def fit_dense(X, alphas, rule, n_quantiles, knots, refs, dens, status, bandwidth):
    """Fit every column of a dense 2-D array (NaN ignored); one feature per thread."""
    n, d = X.shape
    for j in prange(d):
        col = np.empty(n)
        m = 0
        for i in range(n):
            v = X[i, j]
            if not np.isnan(v):
                col[m] = v
                m += 1
        vals = np.sort(col[:m])
        status[j], bandwidth[j] = fit_sorted_column(
            vals, 0, alphas[j], rule, n_quantiles, knots[j], refs[j], dens[j]
        )


@njit(nogil=True, cache=True, parallel=True)
def fit_csc(data, indptr, n_rows, alphas, rule, n_quantiles, knots, refs, dens, status, bandwidth):
    """Fit every column of a non-negative CSC matrix; implicit zeros count as values."""
    d = indptr.size - 1
    for j in prange(d):
        start = indptr[j]
        stop = indptr[j + 1]
        col = np.empty(stop - start)
        m = 0
        n_nan = 0
        for i in range(start, stop):
            v = data[i]
            if np.isnan(v):
                n_nan += 1
            else:
                col[m] = np.float64(v)
                m += 1
        vals = np.sort(col[:m])
        n_zeros = n_rows - (stop - start)
        status[j], bandwidth[j] = fit_sorted_column(
            vals, n_zeros, alphas[j], rule, n_quantiles, knots[j], refs[j], dens[j]
        )


@njit(nogil=True, cache=True)
def _interval(table, x):
    """Largest k with table[k] <= x (table sorted, table[0] <= x < table[-1])."""
    lo = 0
    hi = table.size - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if table[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@njit(nogil=True, cache=True)
def _limited_slopes(knots, refs, dens, k):
    """Interval width, rise and endpoint slopes after the Fritsch-Carlson limiter.

    The exact slopes make the cubic accurate to O(dx^4); the limiter only bites on
    intervals much wider than the bandwidth, where the cubic could overshoot.
    """
    dx = knots[k + 1] - knots[k]
    dy = refs[k + 1] - refs[k]
    if dy <= 0.0:
        return dx, dy, 0.0, 0.0
    secant = dy / dx
    a = dens[k] / secant
    b = dens[k + 1] / secant
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


@njit(nogil=True, cache=True)
def forward_one(x, knots, refs, dens, status):
    if np.isnan(x):
        return x
    if status != OK:
        return 0.0
    last = knots.size - 1
    if x <= knots[0]:
        return 0.0
    if x >= knots[last]:
        return 1.0
    k = _interval(knots, x)
    dx, dy, ma, mb = _limited_slopes(knots, refs, dens, k)
    if dy <= 0.0:
        return refs[k]
    y = refs[k] + _hermite((x - knots[k]) / dx, dy, ma, mb)
    return min(max(y, refs[k]), refs[k + 1])


@njit(nogil=True, cache=True)
def inverse_one(y, knots, refs, dens, status, tol):
    if np.isnan(y):
        return y
    if status != OK:
        return knots[0]
    last = knots.size - 1
    if y <= tol:
        return knots[0]
    if y >= 1.0 - tol:
        return knots[last]
    k = _interval(refs, y)
    dx, dy, ma, mb = _limited_slopes(knots, refs, dens, k)
    target = y - refs[k]
    # The limited cubic is monotone on [0, 1]: safeguarded Newton converges.
    lo = 0.0
    hi = 1.0
    t = target / dy
    for _ in range(60):
        g = _hermite(t, dy, ma, mb) - target
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
    return knots[k] + t * dx


@njit(nogil=True, cache=True, parallel=True)
def transform_dense(X, knots, refs, dens, status, out, inverse, tol):
    """Apply the map (or its inverse) to every entry; rows split across threads."""
    n, d = X.shape
    n_chunks = max(1, min(n, 64))
    chunk = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            for j in range(d):
                if inverse:
                    out[i, j] = inverse_one(X[i, j], knots[j], refs[j], dens[j], status[j], tol)
                else:
                    out[i, j] = forward_one(X[i, j], knots[j], refs[j], dens[j], status[j])


@njit(nogil=True, cache=True, parallel=True)
def transform_values(values, feature, knots, refs, dens, status, out, inverse, tol):
    """Same as :func:`transform_dense` for the stored values of a sparse matrix."""
    n = values.size
    n_chunks = max(1, min(n, 64))
    chunk = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            j = feature[i]
            if inverse:
                out[i] = inverse_one(values[i], knots[j], refs[j], dens[j], status[j], tol)
            else:
                out[i] = forward_one(values[i], knots[j], refs[j], dens[j], status[j])
