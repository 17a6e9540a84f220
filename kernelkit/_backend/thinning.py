"""Numba loops of kernel thinning: the self-balancing Hilbert walk and the KT-SWAP statistics.

The kernel values themselves come from the kernel operator (blocked, threaded,
CuPy-capable); these loops only consume small dense blocks and vectors. Sums
are accumulated in float64 whatever the dtype of the kernel block.
"""

import numpy as np
from numba import njit, prange


@njit(nogil=True, cache=True)
def halve_chunk(Kc, pos, alpha_prior, uniforms, sig_sqd, log_multiplier, swapped):
    """Run the self-balancing Hilbert walk over the consecutive pairs of one chunk.

    ``Kc[pos[q], pos[r]]`` is the kernel value between the chunk's points q and r
    (pair i = points 2i, 2i+1): ``Kc`` is either the chunk's own block with
    ``pos = arange`` or a node's whole kernel matrix, read in place.
    ``alpha_prior[i]`` the walk's inner product with the pairs placed before the
    chunk: <ψ, k(x0,·) − k(x1,·)> where ψ = (sum over child 1) − (sum over child 0).
    Writes ``swapped[i] = True`` when x1 goes to child 0 (and x0 to child 1), and
    returns the updated sub-Gaussian parameter σ².
    """
    n_pairs = alpha_prior.shape[0]
    for i in range(n_pairs):
        q0 = pos[2 * i]
        q1 = pos[2 * i + 1]
        b_sqd = float(Kc[q0, q0]) - 2.0 * float(Kc[q0, q1]) + float(Kc[q1, q1])
        if b_sqd < 0.0:
            # Rounding of an indefinite-looking 2x2 block: the pair is a duplicate.
            b_sqd = 0.0
        thresh = np.sqrt(sig_sqd * b_sqd * log_multiplier)
        if b_sqd > thresh:
            thresh = b_sqd
        if sig_sqd == 0.0:
            sig_sqd = b_sqd
        elif thresh != 0.0:
            update = 1.0 + (b_sqd / thresh - 2.0) * sig_sqd / thresh
            if update > 0.0:
                sig_sqd += b_sqd * update
        if thresh == 0.0:
            # b = 0 means the two points coincide in the RKHS: either choice is exact.
            thresh = 1.0
        alpha = alpha_prior[i]
        for ell in range(i):
            if swapped[ell]:
                c0 = pos[2 * ell + 1]
                c1 = pos[2 * ell]
            else:
                c0 = pos[2 * ell]
                c1 = pos[2 * ell + 1]
            alpha += float(Kc[q0, c1]) - float(Kc[q0, c0]) + float(Kc[q1, c0]) - float(Kc[q1, c1])
        swapped[i] = uniforms[i] <= 0.5 * (1.0 - alpha / thresh)
    return sig_sqd


@njit(nogil=True, cache=True)
def assign_children(points, swapped, child0, child1, offset):
    """Write the pair members to the two children according to ``swapped``."""
    for i in range(swapped.shape[0]):
        if swapped[i]:
            child0[offset + i] = points[2 * i + 1]
            child1[offset + i] = points[2 * i]
        else:
            child0[offset + i] = points[2 * i]
            child1[offset + i] = points[2 * i + 1]


@njit(nogil=True, cache=True)
def relative_mmd2_dense(K, members, meanK):
    """mean(K[C][:, C]) − 2·mean(meanK[C]) for local positions C (MMD² minus a constant)."""
    s = members.shape[0]
    total = 0.0
    for a in range(s):
        ca = members[a]
        row = 0.0
        for b in range(s):
            row += float(K[ca, members[b]])
        total += row / (s * s) - 2.0 * meanK[ca] / s
    return total


@njit(nogil=True, cache=True)
def pick_swap(stat, in_coreset, current, unique):
    """The point whose entry into the coreset lowers MMD the most.

    With ``unique`` only points outside the coreset compete with ``current``
    (the point being swapped out), which wins ties so that nothing moves
    without a strict improvement.
    """
    best = current
    best_value = stat[current]
    if unique:
        for i in range(stat.shape[0]):
            if not in_coreset[i] and stat[i] < best_value:
                best_value = stat[i]
                best = i
    else:
        best = 0
        best_value = stat[0]
        for i in range(1, stat.shape[0]):
            if stat[i] < best_value:
                best_value = stat[i]
                best = i
    return best


@njit(nogil=True, cache=True)
def axpy_row(stat, row, coef):
    """stat += coef · row, accumulated in float64."""
    for i in range(stat.shape[0]):
        stat[i] += coef * float(row[i])


@njit(nogil=True, cache=True)
def refine_dense(K, coreset, meanK, unique, non_coreset):
    """KT-SWAP refinement on a dense kernel matrix (local positions), in place.

    For each slot in turn, the point that minimises MMD(P_n, coreset) with the
    other slots fixed replaces the slot's point. The statistic of candidate x is
    k(x,x)/s + (2/s)·Σ_{c in coreset minus slot} k(x,c) − 2·meanK(x).
    With ``unique``, ``non_coreset`` lists the other points; it is scanned in
    its order (ties go to the earlier entry, the slot's own point first) and
    kept the complement of the coreset, as goodpoints' refine_K does.
    """
    n = K.shape[0]
    s = coreset.shape[0]
    two_over_s = 2.0 / s
    stat = np.empty(n)
    for i in range(n):
        acc = 0.0
        for a in range(s):
            acc += float(K[i, coreset[a]])
        # The operation order of goodpoints' refine_K: with an even n the two halves
        # tie exactly in MMD, so rounding decides near-ties and must match.
        acc /= s
        stat[i] = float(K[i, i]) / s
        stat[i] += 2.0 * (acc - meanK[i])
    for a in range(s):
        current = coreset[a]
        for i in range(n):
            stat[i] -= two_over_s * float(K[current, i])
        best = current
        if unique:
            best_value = stat[current]
            slot = -1
            for t in range(non_coreset.shape[0]):
                if stat[non_coreset[t]] < best_value:
                    best_value = stat[non_coreset[t]]
                    slot = t
            if slot >= 0:
                best = non_coreset[slot]
                non_coreset[slot] = current
        else:
            best_value = stat[0]
            best = 0
            for i in range(1, n):
                if stat[i] < best_value:
                    best_value = stat[i]
                    best = i
        coreset[a] = best
        for i in range(n):
            stat[i] += two_over_s * float(K[best, i])
    return coreset


@njit(nogil=True, cache=True)
def complement(n, members):
    """Positions in range(n) that are not in ``members``, in increasing order."""
    mask = np.ones(n, dtype=np.bool_)
    for a in range(members.shape[0]):
        mask[members[a]] = False
    out = np.empty(n - members.shape[0], dtype=np.int64)
    j = 0
    for i in range(n):
        if mask[i]:
            out[j] = i
            j += 1
    return out


@njit(nogil=True, cache=True)
def kt_halve_dense(K, log_multiplier, uniforms, coin, swap, unique, symmetrize):
    """One symmetrized KT round (Halve of Compress) on a small dense kernel matrix.

    Splits positions 0..n−1 (n even) by the Hilbert walk, keeps the better of
    child 0 and the standard-thinning baseline (odd positions) by MMD, refines
    it by KT-SWAP, and with ``symmetrize`` returns the complement when
    ``coin > 0.5``. Returns local positions of n/2 points.
    """
    n = K.shape[0]
    half = n // 2
    swapped = np.zeros(half, dtype=np.bool_)
    local = np.arange(n)
    halve_chunk(K, local, np.zeros(half), uniforms, 0.0, log_multiplier, swapped)
    child0 = np.empty(half, dtype=np.int64)
    child1 = np.empty(half, dtype=np.int64)
    assign_children(local, swapped, child0, child1, 0)
    coreset = child0
    other = child1
    if swap:
        meanK = np.empty(n)
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += float(K[i, j])
            meanK[i] = acc / n
        baseline = np.arange(1, n, 2)
        if relative_mmd2_dense(K, baseline, meanK) <= relative_mmd2_dense(K, child0, meanK):
            coreset = baseline
            other = np.arange(0, n, 2)
        coreset = refine_dense(K, coreset.copy(), meanK, unique, other)
    if symmetrize and coin > 0.5:
        if swap and unique:
            return other
        return complement(n, coreset)
    return coreset


@njit(nogil=True, cache=True)
def opt_halve4(K, coin):
    """Best 2-of-4 halving (Domingo-Enrich, Dwivedi & Mackey's CTT; goodpoints' Halve at n=4).

    The three ways to pair up four points give complementary coresets of equal
    MMD; the one with the largest cross sum K[a,c] + K[b,d] between the kept and
    dropped halves is best. ``coin < 0.5`` keeps the half holding point 0.
    """
    s03_12 = float(K[1, 2]) + float(K[0, 3])
    s01_23 = float(K[0, 1]) + float(K[2, 3])
    s02_13 = float(K[0, 2]) + float(K[1, 3])
    out = np.empty(2, dtype=np.int64)
    if s03_12 < s01_23:
        if s03_12 < s02_13:
            first, second = (0, 3), (1, 2)
        else:
            first, second = (0, 2), (1, 3)
    elif s01_23 < s02_13:
        first, second = (0, 1), (2, 3)
    else:
        first, second = (0, 2), (1, 3)
    pick = first if coin < 0.5 else second
    out[0] = pick[0]
    out[1] = pick[1]
    return out


@njit(nogil=True, cache=True, parallel=True)
def gather_matmat(K, rows, cols, V, col_sums):
    """K[rows][:, cols] @ V read in place (no copied sub-block), float64 sums.

    With ``col_sums`` of length len(cols) (else an empty array), also adds the
    sub-block's column sums to it. Small thinning nodes keep their whole kernel
    matrix; copying a 2048 × 2048 sub-block per chunk cost 10× this loop.
    """
    n_rows = rows.shape[0]
    n_cols = cols.shape[0]
    k = V.shape[1]
    out = np.zeros((n_rows, k))
    for i in prange(n_rows):
        r = rows[i]
        for j in range(n_cols):
            value = float(K[r, cols[j]])
            for c in range(k):
                out[i, c] += value * V[j, c]
    if col_sums.shape[0]:
        for j in prange(n_cols):
            c = cols[j]
            acc = 0.0
            for i in range(n_rows):
                acc += float(K[rows[i], c])
            col_sums[j] += acc
    return out
