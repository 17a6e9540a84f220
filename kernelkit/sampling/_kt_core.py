"""The kernel-thinning core: KT-SPLIT halving, KT-SWAP refinement and Compress.

Kernel values come from one :class:`~kernelkit.KernelOperator` per point set
and from its views (``take``): dense blocks for the Hilbert walk's chunks and
for small nodes, products for the walk's inner products with earlier chunks,
and ``K @ V`` together with ``Kᵀ @ U`` in one sweep where the first halving
round also collects KT-SWAP's row means. The Numba loops of
:mod:`kernelkit._backend.thinning` only consume those values. Every block is
sized by the memory budget (:mod:`kernelkit.linalg._budget`), so nothing n×n
is held for large n.
"""

import math

import numpy as np

from .._backend import get_namespace, select_engine, to_numpy
from .._backend import thinning as _nb
from ..linalg import KernelOperator
from ..linalg._budget import block_rows, largest_square

# Points per dense block of the Hilbert walk when the budget allows (2048² float64 =
# 32 MiB): inside a chunk the walk reads the block in Numba, across chunks it needs
# one kernel product per chunk, so larger chunks trade memory for fewer products.
_CHUNK_POINTS = 2048
# Rows of removal candidates computed together during KT-SWAP, at most.
_SWAP_ROWS = 64
# Dense float64 n×n matrices a small node may hold (split and target kernels, with room
# for the products' temporaries).
_DENSE_MATRICES = 4


def _chunk_points():
    """Points per chunk of the walk: two chunk² blocks must fit the memory budget."""
    return max(2, min(_CHUNK_POINTS, largest_square(8, matrices=2)) // 2 * 2)


def _fits_dense(n):
    """Whether a node of n points is halved on whole n×n kernel matrices."""
    return n <= largest_square(8, matrices=_DENSE_MATRICES)


# Kernel values are computed where the points live; the swap and halving bookkeeping
# runs on the host (or in thinning_cuda's kernels on host-held matrices).
_TO_HOST = "thinning: kernel values to the host"


def _to_dense(op, out=None):
    """Dense K of ``op`` on the host, written into ``out`` (a NumPy buffer) when it is given."""
    if out is not None and get_namespace(op.X) is np:
        return op.to_dense(out=out)
    return to_numpy(op.to_dense(), _TO_HOST)


def _host64(a):
    return np.asarray(to_numpy(a, _TO_HOST), dtype=np.float64)


class _LazyRows:
    """Kernel values among the points of one square KernelOperator, through its views."""

    def __init__(self, op):
        self.op = op
        self.n = op.shape[0]
        self._xp = get_namespace(op.X)

    @classmethod
    def of(cls, X, kernel):
        """The provider for all rows of X under ``kernel`` (a resolved Kernel)."""
        return cls(KernelOperator(kernel, X))

    def subset(self, nodes):
        """The provider for the points ``nodes`` (local indices 0..len(nodes)-1)."""
        return _LazyRows(self.op.take(nodes, nodes))

    def dense(self, rows=None, cols=None, out=None):
        """K(X[rows], X[cols]) on the host (``cols=None``: ``cols = rows``)."""
        if rows is None and cols is None:
            return _to_dense(self.op, out)
        cols = rows if cols is None else cols
        return _to_dense(self.op.take(rows, cols), out)

    def matvec(self, rows, cols, v, col_sums=False):
        """K(X[rows], X[cols]) @ v in float64; with ``col_sums`` also 1ᵀK (same sweep)."""
        view = self.op if rows is None and cols is None else self.op.take(rows, cols)
        V = self._xp.asarray(v, dtype=view.dtype)
        if not col_sums:
            return _host64(view @ V)
        one = V.ndim == 1
        ones = self._xp.ones((view.shape[0], 1), dtype=view.dtype)
        KV, KtU = view.matmat_rmatmat(V.reshape(V.shape[0], -1), ones)
        KV = _host64(KV)
        return (KV[:, 0] if one else KV), _host64(KtU)[:, 0]

    def diag(self):
        return _host64(self.op.diagonal())

    def full_rows(self, rows):
        """K(X[rows], X) on the host: the KT-SWAP rows."""
        return _to_dense(self.op.take(rows, None))

    def dense_rows(self):
        """All values as :class:`_DenseRows`; for device points the device copy is kept.

        The GPU kernels then read the matrix where it was computed, and the host
        bookkeeping reads the one host copy (one transfer, not one per round).
        """
        if self._xp is np:
            return _DenseRows(self.dense())
        K = self.op.to_dense()
        return _DenseRows(to_numpy(K, _TO_HOST), device=K)


class _DenseRows:
    """The same interface over a precomputed dense kernel matrix (small nodes).

    ``device``: the same matrix on the GPU, when the points live there.
    """

    def __init__(self, K, device=None):
        self.K = K
        self.device = device
        self.n = K.shape[0]

    def for_gpu(self):
        """The matrix for the numba.cuda kernels: the device copy when there is one."""
        return self.K if self.device is None else self.device

    def dense(self, rows=None, cols=None, out=None):
        if rows is None:
            return self.K
        cols = rows if cols is None else cols
        return self.K[np.ix_(rows, cols)]

    def matvec(self, rows, cols, v, col_sums=False):
        if rows is None and cols is None:
            out = self.K @ v
            return (out, self.K.sum(axis=0, dtype=np.float64)) if col_sums else out
        rows = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        cols = np.arange(self.n) if cols is None else np.asarray(cols, dtype=np.int64)
        V = np.asarray(v, dtype=np.float64)
        sums = np.zeros(cols.shape[0] if col_sums else 0)
        out = _nb.gather_matmat(self.K, rows, cols, V.reshape(V.shape[0], -1), sums)
        out = out.reshape((rows.shape[0],) + V.shape[1:])
        return (out, sums) if col_sums else out

    def diag(self):
        return np.asarray(np.diagonal(self.K), dtype=np.float64)

    def full_rows(self, rows):
        return self.K[rows]


# -- KT-SPLIT ----------------------------------------------------------------------
def _halve(rows, points, log_multiplier, uniforms, row_sums=None):
    """Kernel halving of ``points`` (even length) by the self-balancing Hilbert walk.

    Pairs are consecutive points. The walk runs chunk by chunk: the inner
    products with pairs of earlier chunks come from one kernel product against
    ±1 signs, those inside the chunk from the chunk's dense block in Numba.
    With ``row_sums`` (an array over all rows), the same kernel values also give
    Σ_j k(x_i, x_j) for every point halved here: every pair is seen exactly once.
    """
    half = points.shape[0] // 2
    child0 = np.empty(half, dtype=np.int64)
    child1 = np.empty(half, dtype=np.int64)
    sig_sqd = 0.0
    pairs = _chunk_points() // 2
    dense = isinstance(rows, _DenseRows)
    if not dense:
        size = min(2 * pairs, points.shape[0])
        buffer = np.empty(size * size, dtype=rows.op.dtype)
    for a in range(0, half, pairs):
        b = min(a + pairs, half)
        chunk = points[2 * a : 2 * b]
        if dense:
            Kc, pos = rows.K, chunk
        else:
            c = chunk.shape[0]
            Kc = rows.dense(chunk, out=buffer[: c * c].reshape(c, c))
            pos = np.arange(c)
            if row_sums is not None:
                row_sums[chunk] += Kc.sum(axis=1, dtype=np.float64)
        if a == 0:
            alpha_prior = np.zeros(b - a)
        else:
            placed = np.concatenate([child0[:a], child1[:a]])
            signs = np.concatenate([-np.ones(a), np.ones(a)])
            if row_sums is None:
                g = rows.matvec(chunk, placed, signs)
            else:
                V = np.stack([signs, np.ones(2 * a)], axis=1)
                G, col = rows.matvec(chunk, placed, V, col_sums=True)
                g = G[:, 0]
                row_sums[chunk] += G[:, 1]
                row_sums[placed] += col
            alpha_prior = g[0::2] - g[1::2]
        swapped = np.zeros(b - a, dtype=np.bool_)
        sig_sqd = _nb.halve_chunk(
            Kc, pos, alpha_prior, uniforms[a:b], sig_sqd, log_multiplier, swapped
        )
        _nb.assign_children(chunk, swapped, child0, child1, a)
    return child0, child1


def _round_log_multiplier(n_split, m, j, delta, schedule):
    """2·log(2/δ') of the walk's threshold in halving round j (0-based) of m.

    ``"goodpoints"`` (default): goodpoints' compiled ``split_K`` (behind
    ``thin_K`` and Compress++) halves each size-n/2^j coreset with δ·2^j/m and
    δ_i = δ/(its size), i.e. δ' = δ·4^j/(m·n). ``"paper"``: δ' = δ·2^j/(m·n),
    i.e. δ_i = δ/n scaled by 2^(j−1)/m with 1-based rounds (goodpoints'
    pure-Python ``split_X``). The paper's thresholds are larger from round 1 on,
    so its coins are closer to fair: over 10 seeds at n = 4096 (benchmark data)
    its coresets had 14% larger MMD, hence the default.
    """
    power = 2**j if schedule == "paper" else 4**j
    return 2.0 * math.log(2.0 * n_split * m / (delta * power))


def _on_gpu(rows):
    """The numba.cuda kernels of thinning for a dense node of device points or engine="cuda"."""
    if isinstance(rows, _DenseRows) and (
        rows.device is not None or select_engine(rows.K) == "cuda"
    ):
        from .._backend import thinning_cuda

        return thinning_cuda
    return None


def _kt_split(rows, points, m, delta, uniforms, schedule="goodpoints", bar=None, row_sums=None):
    """2^m candidate coresets (rows of the result) partitioning ``points``.

    ``row_sums`` is filled during the first round (see :func:`_halve`).
    """
    coresets = points[None, :]
    n_split = points.shape[0]
    gpu = _on_gpu(rows)
    for j in range(m):
        n_in = coresets.shape[1]
        half = n_in // 2
        log_multiplier = _round_log_multiplier(n_split, m, j, delta, schedule)
        out = np.empty((2 * coresets.shape[0], half), dtype=np.int64)
        if gpu is not None:
            # The round's nodes are independent: one launch, one thread block per node.
            n_nodes = coresets.shape[0]
            swapped, _ = gpu.halve_nodes(
                rows.for_gpu(),
                coresets,
                np.zeros((n_nodes, half)),
                uniforms[j, : n_nodes * half].reshape(n_nodes, half),
                np.zeros(n_nodes),
                log_multiplier,
            )
        for ell in range(coresets.shape[0]):
            if gpu is not None:
                _nb.assign_children(coresets[ell], swapped[ell], out[2 * ell], out[2 * ell + 1], 0)
                continue
            c0, c1 = _halve(
                rows,
                coresets[ell],
                log_multiplier,
                uniforms[j, ell * half : (ell + 1) * half],
                row_sums if j == 0 else None,
            )
            out[2 * ell] = c0
            out[2 * ell + 1] = c1
        coresets = out
        if bar is not None:
            bar.update(1)
    return coresets


# -- KT-SWAP -----------------------------------------------------------------------
def _row_means(rows):
    return rows.matvec(None, None, np.full(rows.n, 1.0 / rows.n))


def _relative_mmd2(rows, members, mean_k):
    """MMD²(P_n, Q_C) − mean(K): mean of K over C×C minus twice the mean of mean_k over C."""
    block = rows.dense(members)
    s = members.shape[0]
    return float(np.sum(block, dtype=np.float64)) / (s * s) - 2.0 * float(np.mean(mean_k[members]))


def _standard_thinning(n, s):
    """Every (n // s)-th point counted back from the last one (goodpoints' baseline)."""
    return np.arange(n - 1, -1, -(n // s), dtype=np.int64)[:s][::-1].copy()


def _best(rows, coresets, mean_k):
    """The candidate (or the standard-thinning baseline, which wins ties) with least MMD."""
    s = coresets.shape[1]
    best = _standard_thinning(rows.n, s)
    best_value = _relative_mmd2(rows, best, mean_k)
    for candidate in coresets:
        value = _relative_mmd2(rows, candidate, mean_k)
        if value < best_value:
            best, best_value = candidate, value
    return best.copy()


def _refine(rows, coreset, mean_k, unique, bar=None):
    """KT-SWAP refinement: each slot in turn takes the point that minimises MMD to P_n."""
    n = rows.n
    s = coreset.shape[0]
    two_over_s = 2.0 / s
    stat = rows.diag() / s + two_over_s * rows.matvec(None, coreset, np.ones(s)) - 2.0 * mean_k
    in_coreset = np.zeros(n, dtype=np.bool_)
    in_coreset[coreset] = True
    batch = min(_SWAP_ROWS, block_rows(n, 8, buffers=2))
    for start in range(0, s, batch):
        stop = min(start + batch, s)
        # A slot still holds its original point when its turn comes, so the rows of
        # the points to swap out can be computed a batch at a time.
        out_rows = rows.full_rows(coreset[start:stop])
        for a in range(start, stop):
            current = coreset[a]
            _nb.axpy_row(stat, out_rows[a - start], -two_over_s)
            in_coreset[current] = False
            best = _nb.pick_swap(stat, in_coreset, current, unique)
            if best == current:
                in_row = out_rows[a - start]
            else:
                in_row = rows.full_rows(np.array([best]))[0]
            _nb.axpy_row(stat, in_row, two_over_s)
            coreset[a] = best
            in_coreset[best] = True
        if bar is not None:
            bar.update(stop - start)
    return coreset


# -- the thinning procedures on a node -------------------------------------------
def thin_node(
    rows, splitter, m, delta, rng, *, swap=True, unique=True, schedule="goodpoints", bar=None
):
    """Kernel thinning of all points of ``rows``: local indices of floor(n / 2^m) points.

    ``rows`` is the target kernel's provider (:class:`_LazyRows`); ``splitter``
    the KT-SPLIT kernel (the same object as the target's kernel for plain KT).
    """
    n = rows.n
    if m == 0:
        return np.arange(n, dtype=np.int64)
    s = n >> m
    n_split = s << m
    uniforms = rng.random((m, n_split // 2))
    points = np.arange(n, dtype=np.int64)
    if n_split < n:
        # KT-SPLIT needs 2^m·s points; the n − 2^m·s < 2^m others sit out of the split
        # only (chosen at random, so no end of the sample is favoured). KT-SWAP still
        # targets all n points and may swap any of them in.
        points = np.sort(rng.choice(n, size=n_split, replace=False))
    same = splitter == rows.op.kernel
    split_rows = rows if same else _LazyRows(KernelOperator(splitter, rows.op.X))
    dense = _fits_dense(n)
    if dense:
        split_rows = split_rows.dense_rows()
        swap_rows = split_rows if same else rows.dense_rows()
    else:
        swap_rows = rows
    # With the target kernel splitting a large sample, the first halving round sees
    # every kernel value once: KT-SWAP's row means come with it at no extra cost.
    fuse = swap and not dense and same
    row_sums = np.zeros(n) if fuse else None
    coresets = _kt_split(split_rows, points, m, delta, uniforms, schedule, bar, row_sums)
    if not swap:
        # Without KT-SWAP a uniformly chosen candidate keeps the output unbiased.
        return coresets[rng.integers(coresets.shape[0])].copy()
    if fuse:
        if n_split < n:
            out = np.setdiff1d(np.arange(n), points)
            part, col = swap_rows.matvec(out, points, np.ones(n_split), col_sums=True)
            row_sums[out] += part + swap_rows.dense(out).sum(axis=1)
            row_sums[points] += col
        mean_k = row_sums / n
    else:
        mean_k = _row_means(swap_rows)
    coreset = _best(swap_rows, coresets, mean_k)
    if dense:
        others = _nb.complement(n, coreset)
        gpu = _on_gpu(swap_rows)
        if gpu is not None:
            return gpu.refine_dense(swap_rows.for_gpu(), coreset, mean_k, unique, others)
        return _nb.refine_dense(swap_rows.K, coreset, mean_k, unique, others)
    return _refine(swap_rows, coreset, mean_k, unique, bar)


def _halve_node(rows, nodes, splitter, log_multiplier, rng, swap):
    """Compress's Halve: symmetrized KT with one round (unique) on ``nodes``; global indices."""
    n = nodes.shape[0]
    sub = rows.subset(nodes)
    if n == 4:
        # As goodpoints' thin_K: four points are halved exactly, with one draw.
        return nodes[_nb.opt_halve4(sub.dense(), rng.random())]
    half = n // 2
    uniforms = rng.random(half)
    coin = rng.random()
    same = splitter == rows.op.kernel
    if _fits_dense(n) and same:
        local = _nb.kt_halve_dense(sub.dense(), log_multiplier, uniforms, coin, swap, True, True)
        return nodes[local]
    split_rows = sub if same else _LazyRows(KernelOperator(splitter, sub.op.X))
    swap_rows = sub
    if _fits_dense(n):
        split_rows = _DenseRows(split_rows.dense())
        swap_rows = _DenseRows(swap_rows.dense())
    points = np.arange(n, dtype=np.int64)
    fuse = swap and same and not isinstance(split_rows, _DenseRows)
    row_sums = np.zeros(n) if fuse else None
    c0, c1 = _halve(split_rows, points, log_multiplier, uniforms, row_sums)
    chosen = c0
    if swap:
        mean_k = row_sums / n if fuse else _row_means(swap_rows)
        chosen = _best(swap_rows, np.stack([c0, c1]), mean_k)
        chosen = _refine(swap_rows, chosen, mean_k, True)
    if coin > 0.5:
        chosen = _nb.complement(n, np.ascontiguousarray(chosen))
    return nodes[chosen]


def compress(rows, nodes, g, splitter, halve_prob, rng, swap, bar):
    """Compress(g) of ``nodes``: about 2^g·√n global indices (all of them if n ≤ 4^g)."""
    n = nodes.shape[0]
    if n <= 4**g:
        return nodes
    parts = np.array_split(nodes, 4)
    merged = np.concatenate(
        [compress(rows, p, g, splitter, halve_prob, rng, swap, bar) for p in parts]
    )
    if merged.shape[0] % 2:
        # Only when n is not a power of 4: Halve needs an even count, one random
        # point of this node (out of ≥ 2^(g+1)) is left out.
        merged = np.delete(merged, rng.integers(merged.shape[0]))
    size = merged.shape[0]
    # Compress++ (Shetty et al.) and goodpoints: Halve on ℓ points runs KT with
    # δ = halve_prob·ℓ², hence threshold log-multiplier 2·log(2ℓ/δ).
    log_multiplier = 2.0 * math.log(2.0 * size / (halve_prob * size * size))
    out = _halve_node(rows, merged, splitter, log_multiplier, rng, swap)
    if bar is not None:
        bar.update(1)
    return out
