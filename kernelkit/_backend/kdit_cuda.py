"""numba.cuda kernel of the KDI fit: the KDE's CDF and density at many points.

The CPU sweep (:func:`kernelkit._backend.kdit_fit._kde_cdf_pdf`) walks sorted
points with two pointers into the clusters; here each thread owns one
evaluation point and finds its window of clusters by binary search, which gives
the same window (the first cluster with centre ≥ x − reach, the first with
centre > x + reach) without needing sorted points. The per-cluster Hermite
expansion is the CPU engine's, term for term, so the two agree to rounding.
Values may be float32 or float64; the sums are float64 either way.
"""

import math

import numba
import numpy as np

# Module-level on purpose: the CUDA simulator patches the ``cuda`` global.
from numba import cuda

from .cuda import _simulated
from .cuda import device_view as _device
from .kdit_fit import (
    CLUSTER,
    OK,
    ORDER,
    SWEEP,
    WINDOW,
    _build_clusters,
    finish_column,
    prepare_column,
)

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_KERNELS = {}


@cuda.jit(device=True)
def _bisect(centres, x, right):
    """Number of centres < x (``right`` False) or ≤ x (``right`` True)."""
    lo = 0
    hi = centres.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        c = numba.float64(centres[mid])
        if c < x or (right and c == x):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _build():
    order = ORDER
    reach_factor = WINDOW + 0.5 * CLUSTER

    @cuda.jit(fastmath=False)
    def cdf_pdf(points, h, centres, before, moments, n, cdf_out, pdf_out):
        q = cuda.grid(1)
        if q >= points.shape[0]:
            return
        x = numba.float64(points[q])
        reach = reach_factor * h
        first = _bisect(centres, x - reach, False)
        last = _bisect(centres, x + reach, True)
        if last < first:
            last = first
        he = cuda.local.array(order, numba.float64)
        cdf = 0.0
        pdf = 0.0
        for b in range(first, last):
            u = (x - numba.float64(centres[b])) / h
            big_phi = 0.5 * math.erfc(-u * _INV_SQRT_2)
            small_phi = _INV_SQRT_2PI * math.exp(-0.5 * u * u)
            he[0] = 1.0
            he[1] = u
            for k in range(1, order - 1):
                he[k + 1] = u * he[k] - k * he[k - 1]
            corr = 0.0
            dens = numba.float64(moments[b, 0])
            for k in range(1, order):
                corr += numba.float64(moments[b, k]) * he[k - 1]
                dens += numba.float64(moments[b, k]) * he[k]
            count = numba.float64(before[b + 1]) - numba.float64(before[b])
            cdf += count * big_phi - small_phi * corr
            pdf += small_phi * dens
        cdf_out[q] = (numba.float64(before[first]) + cdf) / n
        pdf_out[q] = pdf / (n * h)

    return cdf_pdf


def _threads():
    return 32 if _simulated() else 256


def kde_cdf_pdf(points, h, centres, before, moments, n):
    """F and F' of the clustered Gaussian KDE at ``points``, one thread per point.

    Parameters
    ----------
    points : array of shape (q,)
        Evaluation points (any order), float32 or float64.
    h : float
        Bandwidth.
    centres, before, moments : arrays
        The clusters of :func:`kernelkit._backend.kdit_fit._build_clusters`.
    n : float
        Total weight of the column.

    Returns
    -------
    cdf, pdf : float64 arrays of shape (q,)
        As ``cdf_out`` and ``pdf_out`` of the CPU sweep.
    """
    if ORDER < 2:
        raise ValueError("the GPU sweep expects ORDER >= 2")
    n_points = np.shape(points)[0]
    cdf = cuda.device_array(n_points, dtype=np.float64)
    pdf = cuda.device_array(n_points, dtype=np.float64)
    key = _simulated()
    fn = _KERNELS.get(key)
    if fn is None:
        fn = _KERNELS[key] = _build()
    threads = _threads()
    blocks = max(1, (n_points + threads - 1) // threads)
    fn[blocks, threads](
        _device(points),
        float(h),
        _device(centres),
        _device(before),
        _device(moments),
        float(n),
        cdf,
        pdf,
    )
    return cdf.copy_to_host(), pdf.copy_to_host()


def fit_sorted_columns(
    values,
    weights,
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
    """The KDI fit of every column with the CDF sweep on the device (``engine="cuda"``).

    Same arguments and results as the CPU engine's
    :func:`kernelkit._backend.kdit_fit._fit_sorted_columns`, and the same host code
    for everything but the sweep: :func:`~kernelkit._backend.kdit_fit.prepare_column`
    (statistics, bandwidth, knots), the clusters, then one launch of
    :func:`kde_cdf_pdf` per column at its two ends and its knots, and
    :func:`~kernelkit._backend.kdit_fit.finish_column`. Columns run one after the
    other: a column's sweep is 2·n_quantiles + 2 threads, so the launches are small
    and the sort on the host dominates the fit (see docs/gpu.md).

    Parameters
    ----------
    values : ndarray of float64
        Sorted finite values, column after column.
    weights : ndarray of float64 or None
        Their weights (None: unit weights).
    starts, counts, n_zeros : ndarray of int64
        Segment of each column in ``values`` and its implicit zeros.
    alphas : ndarray of shape (n_columns,)
        Bandwidth over standard deviation per column.
    rule : int
        Bandwidth rule code.
    n_quantiles : int
        Quantile knots per column.
    knots, refs, dens : ndarray of shape (n_columns, 2 * n_quantiles)
        Filled with each column's tables.
    status : ndarray of int64, shape (n_columns,)
        Filled with each column's status code.
    bandwidth : ndarray of shape (n_columns,)
        Filled with each column's KDE bandwidth.
    """
    for j in range(starts.size):
        part = slice(starts[j], starts[j] + counts[j])
        vals = values[part]
        w = None if weights is None else weights[part]
        code, h, total, lo, hi = prepare_column(
            vals, w, n_zeros[j], alphas[j], rule, n_quantiles, knots[j], refs[j], dens[j]
        )
        bandwidth[j] = h
        if code != SWEEP:
            status[j] = code
            continue
        centres, before, moments = _build_clusters(vals, w, n_zeros[j], h)
        points = np.concatenate([[lo, hi], knots[j]])
        cdf, pdf = kde_cdf_pdf(points, h, centres, before, moments, total)
        refs[j], dens[j] = cdf[2:], pdf[2:]
        finish_column(knots[j], refs[j], dens[j], lo, hi, cdf[:2])
        status[j] = OK
