"""Engine for the LSH heavy-pair search of the sampled Gaussian product.

Buckets of an LSH table hold a few queries and a few keys each; building a
kernel block per bucket would cost more in Python overhead than in
arithmetic. Here one Numba pass visits every bucket, computes the scaled
squared distances of its query-key pairs from the coordinates (exact, no
cancellation) and keeps those above a cut. Like ``cpu.distance_block`` it
takes numbers and arrays, never kernel objects; the caller applies the
kernel's ``finish`` to the kept values.
"""

import numpy as np
from numba import njit, prange


@njit(nogil=True, cache=True)
def _pair_value(Xs, Zs, i, j, scale):
    acc = 0.0
    for k in range(Xs.shape[1]):
        diff = Xs[i, k] - Zs[j, k]
        acc += diff * diff
    return scale * acc


@njit(nogil=True, cache=True, parallel=True)
def _count(Xs, Zs, qs, qe, zs, ze, scale, cut):
    counts = np.zeros(len(qs), dtype=np.int64)
    for b in prange(len(qs)):
        c = 0
        for i in range(qs[b], qe[b]):
            for j in range(zs[b], ze[b]):
                if _pair_value(Xs, Zs, i, j, scale) >= cut:
                    c += 1
        counts[b] = c
    return counts


@njit(nogil=True, cache=True, parallel=True)
def _fill(Xs, Zs, qs, qe, zs, ze, scale, cut, offsets, rows, cols, vals):
    for b in prange(len(qs)):
        k = offsets[b]
        for i in range(qs[b], qe[b]):
            for j in range(zs[b], ze[b]):
                t = _pair_value(Xs, Zs, i, j, scale)
                if t >= cut:
                    rows[k] = i
                    cols[k] = j
                    vals[k] = t
                    k += 1


def bucket_pairs(Xs, Zs, qs, qe, zs, ze, scale, cut):
    """Pairs (i, j) inside buckets with scale * ||Xs[i] - Zs[j]||^2 >= cut.

    Parameters
    ----------
    Xs, Zs : ndarray of shape (n, d), (m, d)
        Queries and keys, each sorted by bucket (C-contiguous, same dtype).
    qs, qe, zs, ze : ndarray of int64
        Bucket b holds queries ``qs[b]:qe[b]`` and keys ``zs[b]:ze[b]``.
    scale : float
        Multiplies the squared distance (negative for a Gaussian).
    cut : float
        Smallest scaled value kept (log of the threshold for a Gaussian).

    Returns
    -------
    rows, cols : ndarray of int64
        Positions in ``Xs`` and ``Zs``.
    vals : ndarray
        ``scale * ||Xs[i] - Zs[j]||^2`` for each kept pair.
    evaluated : int
        Pairs visited.
    """
    counts = _count(Xs, Zs, qs, qe, zs, ze, scale, cut)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    rows = np.empty(total, dtype=np.int64)
    cols = np.empty(total, dtype=np.int64)
    vals = np.empty(total, dtype=Xs.dtype)
    _fill(Xs, Zs, qs, qe, zs, ze, scale, cut, offsets[:-1], rows, cols, vals)
    evaluated = int(np.sum((qe - qs) * (ze - zs)))
    return rows, cols, vals, evaluated
