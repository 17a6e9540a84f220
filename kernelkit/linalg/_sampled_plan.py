"""Pilot statistics and sample sizes for :class:`SampledGaussianOperator`.

The error bound
---------------
Split K = H + L into its heavy entries H (K_ij >= tau, summed exactly) and
the light rest L. The light product L x is estimated from s columns j_1..j_s
drawn independently with probabilities p_j:

    y_L = (1/s) sum_t L[:, j_t] x_{j_t} / p_{j_t},       E[y_L] = L x.

The terms T_t = L[:, j_t] x_{j_t} / p_{j_t} are independent vectors with
E||T||^2 = v = sum_j ||L_j||^2 x_j^2 / p_j and ||T|| <= R. Pinelis' Bernstein
inequality for sums of independent zero-mean vectors in a Hilbert space
(Pinelis 1994, Theorem 3.3; with ||T - E T|| <= 2R and variance <= v/s) gives

    P(||y_L - L x|| >= t) <= 2 exp(-s t^2 / (2 v + 4 R t / 3)),

so ||y_L - L x|| <= eps ||x|| with probability >= 1 - delta' as soon as

    s >= 2 ln(2/delta') (v / (eps ||x||)^2 + 2 R / (3 eps ||x||)).      (*)

Two samplers, two (v, R):

- ``resample=True`` draws p_j = (1 - beta) x_j^2 / ||x||^2 + beta / m for each
  product (the importance sampling of Drineas, Kannan and Mahoney, mixed with
  a uniform share beta that bounds R). Then v <= ||x||^2 F_L / (1 - beta), with
  F_L = sum_{K_ij < tau} K_ij^2 = ||L||_F^2, and
  R <= ||x|| sqrt(Lambda m) / (2 sqrt(beta (1 - beta))), Lambda = max_j ||L_j||^2.
- ``resample=False`` draws p_j = 1/m once (so the operator is a fixed matrix).
  Then v <= m Lambda ||x||^2 and R <= m sqrt(Lambda) ||x||.

In both, ||x|| cancels from (*): the sample size depends only on F_L, Lambda,
m, eps and delta'. F_L and Lambda come from the pilot rows (an upper
confidence bound, see :func:`light_bounds`); delta' = delta / 2, the other half
being the pilot's allowance. With ``resample=True`` each product also checks
its own sample: the empirical v of the drawn columns replaces the pilot's
when larger, and more columns are drawn when (*) asks for them.
"""

import math

import numpy as np

from ._budget import block_rows, budget_bytes

# Candidate thresholds: half-decades from 1e-1 to 1e-7 (the 1e-2..1e-6, widened).
TAUS = 10.0 ** -np.arange(1.0, 7.01, 0.5)
# Entries below this are bounded by it (their squares are < 1e-16 each).
FLOOR = 1e-8
# Uniform share of the importance distribution (bounds the largest term).
BETA = 0.1
# Kernel values per heavy pair spent finding it (candidate blocks are larger
# than the heavy set); used only to compare thresholds before building.
HEAVY_OVERHEAD = 8.0


def pilot_rows(n, rng):
    """Indices of the pilot queries: 100 to 500, about 1/40 of the rows.

    Parameters
    ----------
    n : int
        Number of queries.
    rng : numpy.random.RandomState
        Source of the draw.

    Returns
    -------
    rows : ndarray of int
        Sorted, without repeats.
    """
    p = int(min(n, max(100, min(500, n // 40))))
    return np.sort(rng.choice(n, size=p, replace=False))


def pilot_statistics(base, rows):
    """One pass over the pilot rows: sparsity, heavy counts and light masses per threshold.

    Parameters
    ----------
    base : KernelOperator
        The full Gaussian operator K(X, Z).
    rows : ndarray of int
        Pilot queries.

    Returns
    -------
    stats : dict
        ``sparsity`` (c: sum of all entries but the max(n, m) largest over the
        sum of those, estimated from the pilot rows as the paper defines it for
        square K), ``n_heavy`` (estimated heavy pairs per threshold in
        ``TAUS``), ``row_light`` (p × len(TAUS) light squared mass per pilot
        row), ``evaluated`` (kernel values computed) and ``blocks`` (the
        pilot's kernel rows as ``(start, block)`` pairs when they fit in half of
        ``working_memory``, for :func:`light_statistics`; else ``None``).
    """
    n, m = base.shape
    p = len(rows)
    taus = TAUS[::-1]  # ascending
    nb = len(taus) + 1
    row_sq = np.zeros((p, nb))
    row_cnt = np.zeros((p, nb))
    below = np.zeros(p)
    k_head = max(1, round(p * max(n, m) / n))
    head = np.zeros(0)
    total = 0.0
    step = block_rows(m, base.dtype.itemsize, buffers=3, n_rows=p)
    keep = p * m * base.dtype.itemsize <= budget_bytes() // 2
    blocks = [] if keep else None
    for s in range(0, p, step):
        B = base.take(rows[s : s + step]).to_dense()
        if keep:
            blocks.append((s, B))
        total += float(B.sum(dtype=np.float64))
        ri, cj = np.nonzero(B >= FLOOR)
        v = B[ri, cj].astype(np.float64)
        bins = np.searchsorted(taus, v, side="right")
        ri_global = ri + s
        row_sq += np.bincount(ri_global * nb + bins, weights=v * v, minlength=p * nb).reshape(
            p, nb
        )
        row_cnt += np.bincount(ri_global * nb + bins, minlength=p * nb).reshape(p, nb)
        below[s : s + len(B)] += m - np.bincount(ri, minlength=len(B))
        head = np.concatenate([head, v])
        if len(head) > k_head:
            head = np.partition(head, len(head) - k_head)[-k_head:]
    head_sum = float(head.sum()) + (k_head - len(head)) * FLOOR * (len(head) < k_head)
    sparsity = (total - head_sum) / head_sum if head_sum > 0 else math.inf
    # Light at taus[t]: bins 0..t (values < taus[t]); entries below FLOOR count as FLOOR.
    light_rows = np.cumsum(row_sq, axis=1)[:, :-1] + (below * FLOOR**2)[:, None]
    heavy_rows = np.cumsum(row_cnt[:, ::-1], axis=1)[:, ::-1][:, 1:]
    order = np.arange(len(taus))[::-1]  # back to TAUS order (descending)
    return {
        "sparsity": float(sparsity),
        "n_heavy": heavy_rows.sum(axis=0)[order] * (n / p),
        "row_light": light_rows[:, order],
        "evaluated": p * m,
        "blocks": blocks,
    }


def light_bounds(row_light, largest, n, m):
    """Upper estimates of F_L = ||L||_F^2 and Lambda = max_j ||L_j||^2.

    F_L is n times the mean pilot row mass plus three standard errors, plus
    the largest row mass over p (room for a kind of row the pilot missed).
    Lambda is not estimable column by column from a row sample (one pilot
    entry scaled by n/p is pure noise), so it is taken as four times the
    larger of the average column mass F_L / m and the square of the largest
    light entry seen. Both are estimates, not certainties; each product with
    ``resample=True`` re-checks v and R on the columns it draws.

    Parameters
    ----------
    row_light : ndarray of shape (p,) or (p, k)
        Light squared mass of each pilot row (for k thresholds).
    largest : float or ndarray of shape (k,)
        Largest light entry seen (or its bound, the threshold).
    n, m : int
        Shape of K.

    Returns
    -------
    F : float or ndarray
    Lambda : float or ndarray
    """
    p = row_light.shape[0]
    mean = row_light.mean(axis=0)
    sd = row_light.std(axis=0, ddof=1) if p > 1 else mean
    F = n * (mean + 3.0 * sd / math.sqrt(p) + row_light.max(axis=0) / p)
    lam = 4.0 * np.maximum(F / m, np.asarray(largest) ** 2)
    return F, lam


def variance_and_range(F, lam, m, *, frozen):
    """(v, R) of one sampled term for ||x|| = 1 (see the module docstring).

    Parameters
    ----------
    F : float
        Upper bound on the light Frobenius mass ||L||_F^2.
    lam : float
        Upper bound on the largest light column mass max_j ||L_j||^2.
    m : int
        Number of columns sampled from.
    frozen : bool
        Uniform columns drawn once (``True``) or x-weighted columns per product.

    Returns
    -------
    v : float
        Bound on E||T||^2.
    R : float
        Bound on ||T||.
    """
    if frozen:
        return m * lam, m * math.sqrt(lam)
    return F / (1.0 - BETA), math.sqrt(lam * m) / (2.0 * math.sqrt(BETA * (1.0 - BETA)))


def required_samples(v, R, t, delta):
    """Smallest s with 2 exp(-s t^2 / (2 v + 4 R t / 3)) <= delta (bound (*)).

    Parameters
    ----------
    v : float
        Bound on the second moment of one term.
    R : float
        Bound on the norm of one term.
    t : float
        Allowed error norm.
    delta : float
        Failure probability.

    Returns
    -------
    s : int
        At least 1.

    Examples
    --------
    >>> from kernelkit.linalg._sampled_plan import required_samples
    >>> required_samples(1.0, 0.0, 0.1, 0.01)
    1060
    """
    s = 2.0 * math.log(2.0 / delta) * (v / t**2 + 2.0 * R / (3.0 * t))
    return int(max(1, math.ceil(min(s, 1e18))))


def sample_size(F, lam, m, eps, delta, *, frozen):
    """Columns to sample so that the light error is <= eps ||x|| w.p. >= 1 - delta.

    Parameters
    ----------
    F : float
        Upper bound on ||L||_F^2.
    lam : float
        Upper bound on max_j ||L_j||^2.
    m : int
        Number of columns.
    eps : float
        Relative error.
    delta : float
        Failure probability of this sample.
    frozen : bool
        Sampler (see :func:`variance_and_range`).

    Returns
    -------
    s : int
        At least 1.
    """
    v, R = variance_and_range(F, lam, m, frozen=frozen)
    return required_samples(v, R, eps, delta)


def choose_threshold(stats, n, m, eps, delta, itemsize, *, frozen):
    """The threshold in ``TAUS`` with the least predicted work for the first product.

    Work counts kernel values: HEAVY_OVERHEAD per predicted heavy pair to find
    it, plus n per sampled column. Thresholds whose heavy CSR matrix would not
    fit in ``working_memory`` are skipped.

    Parameters
    ----------
    stats : dict
        From :func:`pilot_statistics`.
    n, m : int
        Shape of K.
    eps, delta : float
        Accuracy of the light sample.
    itemsize : int
        Bytes per kernel value.
    frozen : bool
        Sampler (see :func:`sample_size`).

    Returns
    -------
    index : int or None
        Index into ``TAUS``; ``None`` when no threshold fits the memory budget.
    work : float
        Predicted kernel values of construction plus one product.
    samples : int
        Planned light columns at that threshold.
    """
    F, lam = light_bounds(stats["row_light"], TAUS, n, m)
    best = (None, math.inf, 0)
    for t in range(len(TAUS)):
        if stats["n_heavy"][t] * (itemsize + 4) > budget_bytes():
            continue
        s = sample_size(F[t], lam[t], m, eps, delta, frozen=frozen)
        work = HEAVY_OVERHEAD * stats["n_heavy"][t] + min(s, m) * n
        if work < best[1]:
            best = (t, work, s)
    return best


def light_statistics(base, rows, H, tau, blocks=None):
    """Exact light masses of the pilot rows once the heavy matrix H is built.

    L = K - H on the pilot rows, so pairs the LSH missed count as light.

    Parameters
    ----------
    base : KernelOperator
        The full operator.
    rows : ndarray of int
        Pilot queries.
    H : csr_matrix
        Heavy entries found.
    tau : float
        The threshold H was built for.
    blocks : list of (int, ndarray) or None, default=None
        The pilot rows' kernel blocks kept by :func:`pilot_statistics`
        (overwritten); ``None`` computes them again.

    Returns
    -------
    row_light : ndarray of shape (p,)
        ||L_i||^2 per pilot row.
    largest : float
        Largest |L_ij| on the pilot rows.
    recall : float
        Heavy pairs found / heavy pairs present, on the pilot rows (K >= tau).
    evaluated : int
        Kernel values computed.
    """
    n, m = base.shape
    p = len(rows)
    row_light = np.zeros(p)
    largest = 0.0
    found = present = 0
    evaluated = 0
    if blocks is None:
        step = block_rows(m, base.dtype.itemsize, buffers=3, n_rows=p)
        blocks = ((s, base.take(rows[s : s + step]).to_dense()) for s in range(0, p, step))
        evaluated = p * m
    for s, B in blocks:
        r = rows[s : s + len(B)]
        present += int(np.count_nonzero(B >= tau))
        Hr = H[r].tocoo()
        found += Hr.nnz
        B[Hr.row, Hr.col] -= Hr.data
        largest = max(largest, float(np.abs(B).max()))
        B *= B
        row_light[s : s + len(r)] = B.sum(axis=1)
    recall = found / present if present else 1.0
    return row_light, largest, min(recall, 1.0), evaluated
