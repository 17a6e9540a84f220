"""Kernel thinning: KT-SPLIT, KT-SWAP, power/KT+ split kernels and Compress++.

References: Dwivedi & Mackey, "Kernel Thinning" (JMLR 2024) and "Generalized
Kernel Thinning" (ICLR 2022); Shetty, Dwivedi & Mackey, "Distribution
Compression in Near-linear Time" (ICLR 2022). The reference implementation is
the ``goodpoints`` package; where the two differ it is said below.

Memory is O(n·d) plus bounded blocks: kernel values are produced tile by tile by
the CPU engine (centred GEMM, Numba distance pass, NumPy ``finish``, on its
threads) or by :class:`~kernelkit.KernelOperator` for CuPy input and callable
kernels, and consumed by the Numba loops of :mod:`kernelkit._backend.thinning`;
nothing n×n is stored for large n.
"""

import math
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data

from .._backend import cpu, get_namespace, to_numpy
from .._backend import thinning as _nb
from .._config import get_config
from .._utils._progress import progress
from .._utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    _num_samples,
    _safe_indexing,
)
from .._utils._validation import check_points
from ..kernels import (
    KERNEL_NAMES,
    GeneralMatern,
    Kernel,
    Laplacian,
    Matern,
    SumKernel,
    make_kernel,
    min_power,
    power_kernel,
)
from ..linalg import KernelOperator

SPLIT_KERNELS = ("target", "root", "power", "kt+")
# Points per dense kernel block of the Hilbert walk (2048² float64 = 32 MiB); nodes
# this small are halved on one dense block.
_CHUNK_POINTS = 2048
# Kernel values per tile of a threaded kernel product (8 MiB in float64: cache-sized).
_TILE_VALUES = 2**20
# Rows of one band of tiles (a tile is then at least 256 columns wide).
_TILE_ROWS = 4096
# Below this many kernel values a block is filled on the calling thread.
_PARALLEL_MIN_VALUES = 2**18
# Rows of removal candidates computed together during KT-SWAP.
_SWAP_ROWS = 64


# -- random numbers -------------------------------------------------------------
def _generator(random_state):
    """A NumPy Generator: ints and None seed ``default_rng`` like goodpoints does."""
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or a RandomState; "
        f"got {type(random_state).__name__}."
    )


# -- kernel value providers -----------------------------------------------------
class _OperatorRows:
    """Kernel blocks among the rows of one point array, computed by KernelOperator."""

    def __init__(self, X, kernel):
        self.X = X
        self.kernel = kernel
        self.n = X.shape[0]
        self._xp = get_namespace(X)
        self._centred = None

    def _take(self, idx):
        if idx is None:
            return self.X
        if self._xp is np:
            return self.X[idx]
        return self.X[self._xp.asarray(idx)]

    def dense(self, rows, cols=None):
        """K(X[rows], X[cols]) on the host (``cols=None``: ``cols = rows``)."""
        A = self._take(rows)
        B = A if cols is None else self._take(cols)
        return _kernel_block(self.kernel, A, B)

    def matvec(self, rows, cols, v, col_sums=False):
        """K(X[rows], X[cols]) @ v on the host; with ``col_sums`` also 1ᵀK (same pass)."""
        A, B = self._take(rows), self._take(cols)
        if self._xp is not np or not self.kernel.radial or get_config()["engine"] == "numpy":
            op = KernelOperator(self.kernel, A, B)
            vv = v if self._xp is np else self._xp.asarray(v, dtype=op.dtype)
            out = np.asarray(to_numpy(op @ vv), dtype=np.float64)
            if col_sums:
                ones = np.ones(A.shape[0]) if self._xp is np else self._xp.ones(A.shape[0])
                cs = np.asarray(to_numpy(op.rmatvec(ones)), dtype=np.float64)
                return out, cs
            return out
        return _tile_products(self.kernel, A, B, v, col_sums)

    def diag(self):
        return np.asarray(to_numpy(self.kernel.diag(self.X)), dtype=np.float64)

    def full_rows(self, rows):
        """K(X[rows], X) on the host: the KT-SWAP rows, against a cached centred X."""
        if self._xp is not np or not self.kernel.radial or get_config()["engine"] == "numpy":
            return self.dense(rows, np.arange(self.n))
        if self._centred is None:
            shift = self.X.mean(axis=0)
            Xc = np.ascontiguousarray(self.X - shift)
            self._centred = shift, Xc, np.einsum("ij,ij->i", Xc, Xc)
        shift, Xc, zsq = self._centred
        A = np.ascontiguousarray(self.X[rows] - shift)
        T = cpu.distance_block(A, Xc, zsq, self.kernel.squared, self.kernel.distance_scale())
        return self.kernel.finish(T)


def _kernel_block(kernel, A, B):
    """Dense K(A, B) on the host: row blocks on the CPU engine's threads for NumPy input.

    The same centred GEMM + Numba distance pass + ``finish`` as KernelOperator,
    but filling one preallocated matrix, which KernelOperator.blocks does on a
    single thread.
    """
    if get_namespace(A) is not np or not kernel.radial or get_config()["engine"] == "numpy":
        return to_numpy(kernel._block(A, B))
    shift = B.mean(axis=0)
    Bc = np.ascontiguousarray(B - shift)
    Ac = np.ascontiguousarray(A - shift)
    zsq = np.einsum("ij,ij->i", Bc, Bc)
    out = np.empty((A.shape[0], B.shape[0]), dtype=A.dtype)
    scale = kernel.distance_scale()

    def work(rs):
        T = cpu.distance_block(Ac[rs], Bc, zsq, kernel.squared, scale, out=out[rs])
        values = kernel.finish(T)
        if values is not T:
            out[rs] = values

    n_threads = get_config()["n_threads"] or cpu.default_n_threads()
    if n_threads == 1 or out.size < _PARALLEL_MIN_VALUES:
        work(slice(0, A.shape[0]))
        return out
    # Cache-sized row blocks: the distance pass and exp then run on data in cache.
    step = max(1, min(-(-A.shape[0] // (2 * n_threads)), _TILE_VALUES // B.shape[0]))
    blocks = [slice(r, min(r + step, A.shape[0])) for r in range(0, A.shape[0], step)]
    with cpu.single_threaded_blas():
        list(cpu.executor(n_threads).map(work, blocks))
    return out


def _tile_products(kernel, A, B, V, col_sums):
    """K(A, B) @ V (and 1ᵀK(A, B)) from cache-sized column tiles on the CPU engine's threads.

    Each task fills one tile (centred GEMM, Numba distance pass, ``finish``) and
    reduces it while it is still in cache; partial products are summed in a
    fixed order, so results do not depend on thread timing.
    """
    if A.shape[0] > _TILE_ROWS:
        # Row blocks keep every tile at _TILE_VALUES, whatever the number of rows.
        parts = [
            _tile_products(kernel, A[r : r + _TILE_ROWS], B, V, col_sums)
            for r in range(0, A.shape[0], _TILE_ROWS)
        ]
        if not col_sums:
            return np.concatenate(parts, axis=0)
        return np.concatenate([p[0] for p in parts], axis=0), sum(p[1] for p in parts)
    shift = B.mean(axis=0)
    Ac = np.ascontiguousarray(A - shift)
    Bc = np.ascontiguousarray(B - shift)
    zsq = np.einsum("ij,ij->i", Bc, Bc)
    V = np.asarray(V, dtype=A.dtype)
    scale = kernel.distance_scale()
    width = int(min(B.shape[0], max(64, _TILE_VALUES // max(A.shape[0], 1))))
    tiles = [slice(c, min(c + width, B.shape[0])) for c in range(0, B.shape[0], width)]

    def work(cs):
        T = cpu.distance_block(Ac, Bc[cs], zsq[cs], kernel.squared, scale)
        T = kernel.finish(T)
        part = T @ V[cs]
        return part, (T.sum(axis=0, dtype=np.float64) if col_sums else None)

    n_threads = get_config()["n_threads"] or cpu.default_n_threads()
    if n_threads == 1 or len(tiles) == 1:
        results = [work(cs) for cs in tiles]
    else:
        with cpu.single_threaded_blas():
            results = list(cpu.executor(n_threads).map(work, tiles))
    out = np.zeros((A.shape[0],) + V.shape[1:], dtype=np.float64)
    for part, _ in results:
        out += part
    if not col_sums:
        return out
    return out, np.concatenate([c for _, c in results])


class _DenseRows:
    """The same interface over a precomputed dense kernel matrix (small nodes)."""

    def __init__(self, K):
        self.K = K
        self.n = K.shape[0]

    def dense(self, rows, cols=None):
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


def _fits_dense(n):
    """Whether an n×n float64 kernel matrix fits in a quarter of the working memory."""
    return n <= _CHUNK_POINTS or 8 * n * n <= get_config()["working_memory"] * 2**20 / 4


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
    pairs = _CHUNK_POINTS // 2
    for a in range(0, half, pairs):
        b = min(a + pairs, half)
        chunk = points[2 * a : 2 * b]
        if isinstance(rows, _DenseRows):
            Kc, pos = rows.K, chunk
        else:
            Kc, pos = rows.dense(chunk), np.arange(chunk.shape[0])
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


def _kt_split(rows, points, m, delta, uniforms, schedule="goodpoints", bar=None, row_sums=None):
    """2^m candidate coresets (rows of the result) partitioning ``points``.

    ``row_sums`` is filled during the first round (see :func:`_halve`).
    """
    coresets = points[None, :]
    n_split = points.shape[0]
    for j in range(m):
        n_in = coresets.shape[1]
        half = n_in // 2
        log_multiplier = _round_log_multiplier(n_split, m, j, delta, schedule)
        out = np.empty((2 * coresets.shape[0], half), dtype=np.int64)
        for ell in range(coresets.shape[0]):
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
    for start in range(0, s, _SWAP_ROWS):
        stop = min(start + _SWAP_ROWS, s)
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


# -- parameters --------------------------------------------------------------------
def _sqrt_rounds(n):
    """Halving rounds whose output size n/2^m is closest to √n (ties: more points)."""
    return max(0, math.ceil(math.log2(n) / 2.0 - 0.5))


def _check_rounds(m, n):
    if isinstance(m, str):
        if m != "sqrt":
            raise ValueError(f"m must be 'sqrt' or a non-negative int; got {m!r}.")
        return _sqrt_rounds(n)
    if isinstance(m, bool) or not isinstance(m, numbers.Integral):
        raise TypeError(f"m must be 'sqrt' or a non-negative int; got {type(m).__name__}.")
    m = int(m)
    max_m = int(math.floor(math.log2(n)))
    if m < 0 or m > max_m:
        raise ValueError(
            f"m must be between 0 and floor(log2(n)) = {max_m} for n={n} points (the "
            f"coreset n/2^m must keep at least one point); got {m}."
        )
    return m


def _check_delta(delta):
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
        raise TypeError(f"delta must be a real number in (0, 1); got {type(delta).__name__}.")
    if not 0.0 < float(delta) < 1.0:
        raise ValueError(f"delta must lie in the open interval (0, 1); got {delta!r}.")
    return float(delta)


def _default_power(kernel, n_features):
    """α = 1/2 (the square root) where admissible, else the midpoint of (α_min, 1]."""
    if isinstance(kernel, (Laplacian, Matern, GeneralMatern)):
        low = min_power(kernel, n_features)
        return 0.5 if low < 0.5 else 0.5 * (low + 1.0)
    return 0.5


def _make_split_kernel(kernel, split_kernel, power, n_features):
    """The kernel that drives KT-SPLIT for a target kernel and a split-kernel choice."""
    if split_kernel not in SPLIT_KERNELS:
        raise ValueError(f"split_kernel must be one of {SPLIT_KERNELS}; got {split_kernel!r}.")
    if split_kernel == "target":
        return kernel
    if split_kernel == "root":
        if power is not None and power != 0.5:
            raise ValueError(
                f"split_kernel='root' is power=0.5; got power={power!r} (use 'power')."
            )
        alpha = 0.5
    else:
        alpha = _default_power(kernel, n_features) if power is None else power
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"power must be a real number; got {type(alpha).__name__}.")
        if not 0.5 <= float(alpha) <= 1.0:
            raise ValueError(f"power must lie in [0.5, 1]; got {alpha!r}.")
    k_alpha = power_kernel(kernel, float(alpha), n_features)
    if split_kernel == "kt+":
        # KT+ splits with k/‖k‖∞ + k_α/‖k_α‖∞; both radial kernels here have sup 1.
        return SumKernel([kernel, k_alpha])
    return k_alpha


def _resolve_kernel(kernel, bandwidth, X, random_state):
    if isinstance(kernel, str):
        if kernel not in KERNEL_NAMES:
            raise ValueError(f"Unknown kernel {kernel!r}; known kernels are {KERNEL_NAMES}.")
        if bandwidth is None:
            bandwidth = "median"
    return make_kernel(kernel, bandwidth, X=X)


# -- the thinning procedures on a node -------------------------------------------
def _thin_node(
    X,
    target,
    splitter,
    m,
    delta,
    rng,
    *,
    swap=True,
    unique=True,
    schedule="goodpoints",
    uniforms=None,
    verbose=0,
):
    """Kernel thinning of all rows of X: local indices of floor(n / 2^m) points."""
    n = X.shape[0]
    if m == 0:
        return np.arange(n, dtype=np.int64)
    s = n >> m
    n_split = s << m
    if uniforms is None:
        uniforms = rng.random((m, n_split // 2))
    points = np.arange(n, dtype=np.int64)
    if n_split < n:
        # KT-SPLIT needs 2^m·s points; the n − 2^m·s < 2^m others sit out of the split
        # only (chosen at random, so no end of the sample is favoured). KT-SWAP still
        # targets all n points and may swap any of them in.
        points = np.sort(rng.choice(n, size=n_split, replace=False))
    dense = _fits_dense(n)
    if dense:
        K_split = _OperatorRows(X, splitter).dense(None)
        split_rows = _DenseRows(K_split)
        swap_rows = (
            split_rows if splitter == target else _DenseRows(_OperatorRows(X, target).dense(None))
        )
    else:
        split_rows = _OperatorRows(X, splitter)
        swap_rows = _OperatorRows(X, target)
    # With the target kernel splitting a large sample, the first halving round sees
    # every kernel value once: KT-SWAP's row means come with it at no extra cost.
    fuse = swap and not dense and splitter == target
    row_sums = np.zeros(n) if fuse else None
    with progress(total=m + (s if swap else 0), verbose=verbose, desc="kernel thinning") as bar:
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
            return _nb.refine_dense(swap_rows.K, coreset, mean_k, unique, others)
        return _refine(swap_rows, coreset, mean_k, unique, bar)


def _halve_node(X, nodes, target, splitter, log_multiplier, rng, swap):
    """Compress's Halve: symmetrized KT with one round (unique) on X[nodes]; global indices."""
    n = nodes.shape[0]
    Xn = X[nodes] if get_namespace(X) is np else X[get_namespace(X).asarray(nodes)]
    if n == 4:
        # As goodpoints' thin_K: four points are halved exactly, with one draw.
        return nodes[_nb.opt_halve4(_OperatorRows(Xn, target).dense(None), rng.random())]
    half = n // 2
    uniforms = rng.random(half)
    coin = rng.random()
    if _fits_dense(n) and splitter == target:
        K = _OperatorRows(Xn, target).dense(None)
        local = _nb.kt_halve_dense(K, log_multiplier, uniforms, coin, swap, True, True)
        return nodes[local]
    split_rows = _OperatorRows(Xn, splitter)
    swap_rows = _OperatorRows(Xn, target)
    if _fits_dense(n):
        split_rows = _DenseRows(split_rows.dense(None))
        swap_rows = _DenseRows(swap_rows.dense(None))
    points = np.arange(n, dtype=np.int64)
    fuse = swap and splitter == target and not isinstance(split_rows, _DenseRows)
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


def _compress(X, nodes, g, target, splitter, halve_prob, rng, swap, bar):
    """Compress(g) of X[nodes]: about 2^g·√n global indices (all of them if n ≤ 4^g)."""
    n = nodes.shape[0]
    if n <= 4**g:
        return nodes
    parts = np.array_split(nodes, 4)
    merged = np.concatenate(
        [_compress(X, p, g, target, splitter, halve_prob, rng, swap, bar) for p in parts]
    )
    if merged.shape[0] % 2:
        # Only when n is not a power of 4: Halve needs an even count, one random
        # point of this node (out of ≥ 2^(g+1)) is left out.
        merged = np.delete(merged, rng.integers(merged.shape[0]))
    size = merged.shape[0]
    # Compress++ (Shetty et al.) and goodpoints: Halve on ℓ points runs KT with
    # δ = halve_prob·ℓ², hence threshold log-multiplier 2·log(2ℓ/δ).
    log_multiplier = 2.0 * math.log(2.0 * size / (halve_prob * size * size))
    out = _halve_node(X, merged, target, splitter, log_multiplier, rng, swap)
    bar.update(1)
    return out


# -- public functions --------------------------------------------------------------
def kernel_thin(
    X,
    m="sqrt",
    *,
    kernel="gaussian",
    bandwidth=None,
    split_kernel="target",
    power=None,
    delta=0.5,
    swap=True,
    unique=True,
    random_state=None,
    verbose=0,
):
    """Kernel thinning (KT-SPLIT + KT-SWAP): indices of a coreset of n // 2^m points.

    KT-SPLIT halves the sample m times with the self-balancing Hilbert walk,
    giving 2^m candidate coresets that partition it; KT-SWAP keeps the
    candidate (or the standard-thinning coreset) nearest to the sample in MMD
    and greedily swaps each point for the one that lowers the MMD most.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The sample (NumPy or CuPy; float32 stays float32 in the kernel blocks).
    m : int or "sqrt", default="sqrt"
        Halving rounds; the coreset has ``n // 2**m`` points. ``"sqrt"`` picks
        the m for which that is closest to √n. At most ``floor(log2(n))``.
    kernel : str, Kernel or callable, default="gaussian"
        Target kernel (the MMD that KT-SWAP minimises).
    bandwidth : float or {"median", "scale"} or None, default=None
        Bandwidth of ``kernel`` (a rule is resolved on X). ``None``: the median
        rule for a kernel given by name, the object's own bandwidth otherwise.
    split_kernel : {"target", "root", "power", "kt+"}, default="target"
        Kernel of KT-SPLIT: the target k, its square root (power 1/2), its
        power ``power``, or KT+ (k + k_power, each of sup-norm one).
    power : float in [0.5, 1], default=None
        Power α of the "power" and "kt+" split kernels. ``None``: 1/2 where the
        square root exists (Gaussian), else the midpoint of the admissible
        range (d/(2ν + d), 1] for Laplacian/Matérn kernels.
    delta : float in (0, 1), default=0.5
        Failure probability of the walk's thresholds, shared between rounds as
        in goodpoints' compiled ``split_K`` (see the user guide).
    swap : bool, default=True
        Run KT-SWAP; without it, a uniformly chosen KT-SPLIT candidate is returned.
    unique : bool, default=True
        Forbid KT-SWAP from selecting a point twice (goodpoints' default allows it).
    random_state : int, Generator, RandomState or None, default=None
        An int seeds ``numpy.random.default_rng`` like goodpoints' ``seed``.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    indices : ndarray of shape (n // 2**m,)
        Row indices into X (sorted), unique when ``unique``.

    Notes
    -----
    Any n works: KT-SPLIT runs on 2^m·(n // 2^m) points and the remaining
    fewer-than-2^m points, drawn at random, sit out of the split only; KT-SWAP
    still measures the MMD to all n points and may pick any of them.
    goodpoints' ``kt.thin`` always leaves the last points out of the split.
    Time O(n²) kernel evaluations, memory O(n·d).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import kernel_thin, mmd
    >>> X = np.random.default_rng(0).normal(size=(256, 2))
    >>> idx = kernel_thin(X, kernel="gaussian", bandwidth=1.0, random_state=0)
    >>> idx.shape
    (16,)
    >>> bool(mmd(X, X[idx], "gaussian", bandwidth=1.0) < mmd(X, X[:16], "gaussian", bandwidth=1.0))
    True
    """
    X = check_points(X, "X", min_samples=1)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X must have at least 2 points to thin; got n={n}.")
    m = _check_rounds(m, n)
    delta = _check_delta(delta)
    rng = _generator(random_state)
    target = _resolve_kernel(kernel, bandwidth, X, random_state)
    splitter = _make_split_kernel(target, split_kernel, power, X.shape[1])
    local = _thin_node(
        X, target, splitter, m, delta, rng, swap=swap, unique=unique, verbose=verbose
    )
    return np.sort(local)


def compress_pp(
    X,
    g=4,
    *,
    kernel="gaussian",
    bandwidth=None,
    split_kernel="target",
    power=None,
    delta=0.5,
    size=None,
    swap=True,
    random_state=None,
    verbose=0,
):
    """Compress++: a √n-point kernel-thinning coreset in O(4^g·n·log n) kernel evaluations.

    Compress(g) splits a sample in four, compresses each quarter recursively
    and halves the concatenation with symmetrized one-round KT, leaving about
    2^g·√n points. As in goodpoints' ``compresspp_kt``, the sample's four
    consecutive bins are compressed separately (2^(g+1)·√n points in all) and
    kernel thinning with g + 1 rounds returns about √n.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The sample.
    g : int, default=4
        Oversampling parameter (g ≥ 0): larger is closer to full KT and slower
        (Shetty et al. advise g ≈ log₂log n; g = 4 matches KT's MMD here).
    kernel, bandwidth, split_kernel, power, delta, swap, random_state, verbose
        As in :func:`kernel_thin`. The failure probability δ is shared between
        Compress and the final thinning as in goodpoints.
    size : int, default=None
        Target coreset size (default √n); the final thinning uses the number of
        halving rounds that comes closest. Compress keeps at least 2^g·size points.

    Returns
    -------
    indices : ndarray
        Sorted unique row indices into X, about √n (or ``size``) of them.

    Notes
    -----
    For n = 4^k the procedure and its δ bookkeeping follow goodpoints'
    ``compresspp_kt`` (four bins). Other n are not
    cut down to a power of four (goodpoints standard-thins to the largest power
    of four, discarding up to 3/4 of the sample): quarters differ by at most one
    point and a Halve with an odd input leaves out one random point, so at most
    one point per Compress node is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import compress_pp
    >>> X = np.random.default_rng(0).normal(size=(1024, 2))
    >>> compress_pp(X, g=1, bandwidth=1.0, random_state=0).shape
    (32,)
    """
    X = check_points(X, "X", min_samples=1)
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X must have at least 2 points to compress; got n={n}.")
    if isinstance(g, bool) or not isinstance(g, numbers.Integral) or g < 0:
        raise ValueError(f"g must be a non-negative int; got {g!r}.")
    g = int(g)
    delta = _check_delta(delta)
    if size is None:
        size = max(1, int(round(math.sqrt(n))))
    elif isinstance(size, bool) or not isinstance(size, numbers.Integral) or not 1 <= size <= n:
        raise ValueError(f"size must be an int in [1, n={n}]; got {size!r}.")
    rng = _generator(random_state)
    target = _resolve_kernel(kernel, bandwidth, X, random_state)
    splitter = _make_split_kernel(target, split_kernel, power, X.shape[1])
    # Compress must keep 2^g·size points: for √n that is 2^g·√n (Compress(g)'s output).
    g_eff = g + max(0, math.ceil(math.log2(size / math.sqrt(n))))
    # As goodpoints' compresspp_kt: four consecutive bins are compressed separately
    # and the final thinning does one more round (m = g + log₂√bins).
    bins = 4
    m_thin = g_eff + 1
    log2_sqrtn = math.log2(n) / 2.0
    nodes = np.arange(n, dtype=np.int64)
    thin_delta = delta
    if log2_sqrtn > m_thin:
        # goodpoints' split of δ between the Compress halvings and the final thinning.
        thin_frac = m_thin / (m_thin + 2**m_thin * (log2_sqrtn - m_thin))
        thin_delta = delta * thin_frac
        compress_delta = delta * (1.0 - thin_frac)
        parts = np.array_split(nodes, bins)
        n_halves = max(1, int(round(n / 4**g_eff)) // 3)
        with progress(total=n_halves, verbose=verbose, desc="Compress") as bar:
            outs = []
            for part in parts:
                levels = math.log2(part.shape[0]) / 2.0 - g_eff
                if levels <= 0:
                    outs.append(part)
                    continue
                halve_prob = compress_delta / 4 ** (g_eff + 1) / levels / n
                outs.append(
                    _compress(X, part, g_eff, target, splitter, halve_prob, rng, swap, bar)
                )
        nodes = np.concatenate(outs)
    rounds = max(0, int(round(math.log2(nodes.shape[0] / size))))
    rounds = min(rounds, int(math.floor(math.log2(nodes.shape[0]))))
    Xc = X[nodes] if get_namespace(X) is np else X[get_namespace(X).asarray(nodes)]
    local = _thin_node(Xc, target, splitter, rounds, thin_delta, rng, swap=swap, verbose=verbose)
    return np.sort(nodes[local])


def select_centers(X, n_centers, *, kernel, random_state=None):
    """Center selection for EigenPro's ``centers="kt"``: about n_centers KT indices.

    Up to 2^14 points, full kernel thinning with the number of halving rounds
    whose output n // 2^m is nearest to ``n_centers`` (so the result has between
    ~0.7× and ~1.4× n_centers points). Above, Compress++ (g = 2 plus what the
    size needs) to the same nearest feasible size, to stay near-linear.
    """
    X = check_points(X, "X", min_samples=2)
    n = X.shape[0]
    if isinstance(n_centers, bool) or not isinstance(n_centers, numbers.Integral):
        raise TypeError(f"n_centers must be an int; got {type(n_centers).__name__}.")
    if not 1 <= n_centers <= n:
        raise ValueError(f"n_centers must be in [1, {n}]; got {n_centers}.")
    if n_centers == n:
        return np.arange(n)
    if n <= 2**14:
        m = min(int(round(math.log2(n / n_centers))), int(math.log2(n)))
        return kernel_thin(X, m, kernel=kernel, random_state=random_state)
    return compress_pp(X, g=2, kernel=kernel, size=n_centers, random_state=random_state)


# -- estimator -----------------------------------------------------------------------
class KernelThinning(BaseEstimator):
    """Kernel thinning as a scikit-learn estimator and sampler.

    ``fit(X)`` selects a coreset of about √n rows whose empirical distribution
    is close to the sample's in MMD (far closer than a random subsample);
    ``fit_resample(X, y)`` returns those rows (and their targets), following
    the sampler convention of imbalanced-learn so a pipeline can train on them.

    Parameters
    ----------
    m : int or "sqrt", default="sqrt"
        Halving rounds: the coreset has ``n // 2**m`` points (``"sqrt"``: ≈ √n).
        With ``method="compress++"`` the coreset has about n / 2^m points.
    kernel : str, Kernel or callable, default="gaussian"
        Target kernel.
    bandwidth : float or {"median", "scale"} or None, default=None
        Kernel bandwidth or rule resolved on X; ``None``: the median rule for a
        kernel given by name, the object's own bandwidth otherwise.
    split_kernel : {"target", "root", "power", "kt+"}, default="target"
        KT-SPLIT kernel, see :func:`kernel_thin`.
    power : float in [0.5, 1], default=None
        Power of the "power"/"kt+" split kernels.
    delta : float in (0, 1), default=0.5
        Failure probability of the halving thresholds.
    method : {"kt", "compress++"}, default="kt"
        Full KT (O(n²) kernel evaluations) or Compress++ (near-linear).
    g : int, default=4
        Oversampling parameter of Compress++.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the halving coins (and the median bandwidth rule).
    verbose : int, default=0
        Progress bar.

    Attributes
    ----------
    indices_ : ndarray of shape (n_coreset,)
        Sorted row indices of the coreset.
    coreset_ : ndarray of shape (n_coreset, n_features)
        The selected rows.
    kernel_ : Kernel
        The resolved target kernel.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import KernelThinning
    >>> X = np.random.default_rng(0).normal(size=(64, 2))
    >>> y = np.arange(64)
    >>> X_small, y_small = KernelThinning(bandwidth=1.0, random_state=0).fit_resample(X, y)
    >>> X_small.shape, y_small.shape
    ((8, 2), (8,))
    """

    _parameter_constraints: dict = {
        "m": [Interval(numbers.Integral, 0, None, closed="left"), StrOptions({"sqrt"})],
        "kernel": [StrOptions(set(KERNEL_NAMES)), Kernel, callable],
        "bandwidth": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"median", "scale"}),
            None,
        ],
        "split_kernel": [StrOptions(set(SPLIT_KERNELS))],
        "power": [Interval(numbers.Real, 0.5, 1, closed="both"), None],
        "delta": [Interval(numbers.Real, 0, 1, closed="neither")],
        "method": [StrOptions({"kt", "compress++"})],
        "g": [Interval(numbers.Integral, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        m="sqrt",
        *,
        kernel="gaussian",
        bandwidth=None,
        split_kernel="target",
        power=None,
        delta=0.5,
        method="kt",
        g=4,
        random_state=None,
        verbose=0,
    ):
        self.m = m
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.split_kernel = split_kernel
        self.power = power
        self.delta = delta
        self.method = method
        self.g = g
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _test_instances(cls):
        return [
            cls(random_state=0),
            cls(method="compress++", g=1, split_kernel="kt+", kernel="laplacian", random_state=0),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Select the coreset.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The sample, n_samples ≥ 2.
        y : ignored

        Returns
        -------
        self : KernelThinning
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n = X.shape[0]
        m = _check_rounds(self.m, n)
        self.kernel_ = _resolve_kernel(self.kernel, self.bandwidth, X, self.random_state)
        common = dict(
            kernel=self.kernel_,
            bandwidth=None,
            split_kernel=self.split_kernel,
            power=self.power,
            delta=self.delta,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        if self.method == "kt":
            self.indices_ = kernel_thin(X, m, **common)
        else:
            self.indices_ = compress_pp(X, g=self.g, size=max(1, n >> m), **common)
        self.coreset_ = X[self.indices_]
        return self

    def fit_resample(self, X, y=None):
        """Fit, then return the coreset rows of X (and of y when given).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None

        Returns
        -------
        X_resampled : array-like of shape (n_coreset, n_features)
            Same container type as X (e.g. a pandas DataFrame keeps its index).
        y_resampled : array-like of shape (n_coreset,) or (n_coreset, n_outputs)
            Only when y is given.
        """
        if y is not None and _num_samples(y) != _num_samples(X):
            raise ValueError(
                f"y has {_num_samples(y)} samples but X has {_num_samples(X)}; they must match."
            )
        self.fit(X)
        X_res = _safe_indexing(X, self.indices_)
        if y is None:
            return X_res
        return X_res, _safe_indexing(y, self.indices_)
