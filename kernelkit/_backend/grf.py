"""Random-walk engines of graph random features: one generator, three walkers.

A walk is identified by ``walk = node * n_walks + j``. Every random number it
draws is ``SplitMix64(key, walk, counter)`` (the counter is ``2k`` for the
halting draw at step ``k`` and ``2k + 1`` for the neighbour draw), so a walk's
path depends on nothing but its key and its id: not on the engine, the
thread that runs it, how nodes are split between threads or joblib workers,
or which other walks exist. The three walkers below share that generator and
the per-step rule (:func:`_generator`: one Python source compiled by
Numba for the CPU and by ``numba.cuda`` for the GPU; the NumPy reference is its
vectorised transcription).

Features are the sums of the deposits ``load * f[k]`` of all walks of a start
node, divided by ``n_walks``. Floating-point sums depend on their order, so
every engine adds the deposits of one (row, column) entry in walk order
(``j``, then ``k``) starting from 0.0, and the deposit and load updates are
plain products (nothing a compiler could fuse). Hence the features are bit
for bit the same on every engine.

The walker takes precomputed per-edge numbers, nothing about kernels:
``cum`` (the row-normalised cumulative ``|B|``, last entry exactly 1) for
weighted neighbour draws and ``mult`` (the factor ``B_vw / (P(w|v)(1 - p))``
that multiplies the load along the edge).
"""

import math
import warnings

import numba
import numpy as np

# Module-level on purpose: the CUDA simulator swaps the ``cuda`` global of a
# kernel's module for its fake one, which a local import would hide.
from numba import cuda, njit, prange

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_INV_2_53 = 1.0 / 9007199254740992.0


# ----------------------------------------------------------------------------- generator
def _generator(jit):
    """The hash, the per-walk stream and the step rule, compiled by ``jit``.

    One Python source for every engine: with the identity it runs on NumPy
    uint64 arrays (the reference), with ``numba.njit`` on the CPU and with
    ``cuda.jit(device=True)`` on the GPU. Every integer operand is uint64,
    because Numba turns int64 op uint64 into float64.
    """

    @jit
    def mix(z):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)

    @jit
    def walk_base(key, walk):
        return mix(key ^ mix((walk + _ONE) * _GAMMA))

    @jit
    def uniform(base, counter):
        return (mix(base + (counter + _ONE) * _GAMMA) >> _S11) * _INV_2_53

    @jit
    def next_edge(v, base, k, indptr, cum, p_halt, uniform_draw):
        """Edge taken from node v at step k, or -1 when the walk halts there."""
        lo = indptr[v]
        hi = indptr[v + 1]
        if lo == hi:
            return -1
        counter = np.uint64(k) * _TWO
        if uniform(base, counter) < p_halt:
            return -1
        u = uniform(base, counter + _ONE)
        if uniform_draw:
            return lo + np.int64(u * (hi - lo))
        hi -= 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] > u:
                hi = mid
            else:
                lo = mid + 1
        return lo

    return walk_base, uniform, next_edge


_walk_base, _uniform, _ = _generator(lambda fn: fn)
_walk_base_cpu, _, _next_edge_cpu = _generator(njit(inline="always"))


def splitmix_uniform(key, walk, counter):
    """Uniform draw in [0, 1) number ``counter`` of walk ``walk`` (NumPy, vectorised).

    Parameters
    ----------
    key : int
        The 64-bit key of the walk set.
    walk : array-like of int
        Walk ids.
    counter : array-like of int
        Draw numbers within each walk.

    Returns
    -------
    u : ndarray of float64
        The draws, multiples of 2**-53.
    """
    walk = np.atleast_1d(np.asarray(walk, dtype=np.uint64))
    counter = np.atleast_1d(np.asarray(counter, dtype=np.uint64))
    return _uniform(_walk_base(np.uint64(key), walk), counter)


@njit(cache=True)
def _edge_tables(indptr, data, p_halt, uniform, cum, mult):
    for v in range(indptr.size - 1):
        lo, hi = indptr[v], indptr[v + 1]
        total = 0.0
        for e in range(lo, hi):
            total += abs(data[e])
        running = 0.0
        for e in range(lo, hi):
            running += abs(data[e])
            cum[e] = running / total
            if uniform:
                mult[e] = data[e] * (hi - lo) / (1.0 - p_halt)
            else:
                mult[e] = math.copysign(total, data[e]) / (1.0 - p_halt)
        if hi > lo:
            cum[hi - 1] = 1.0  # rounding must never leave u in [cum[-1], 1) unassigned


def edge_tables(indptr, data, p_halt, uniform):
    """Per-edge sampling table and load multiplier shared by every walker.

    Parameters
    ----------
    indptr : ndarray of int64
        CSR row pointers of the walk matrix ``B``.
    data : ndarray of float64
        Its values (no explicit zeros).
    p_halt : float
        Halting probability.
    uniform : bool
        Uniform neighbour draws (else proportional to ``|B_vw|``).

    Returns
    -------
    cum : ndarray of float64
        Cumulative ``|B_vw| / sum_u |B_vu|`` within each row, ending at exactly 1.
    mult : ndarray of float64
        ``B_vw / (P(w | v) (1 - p_halt))``.
    """
    cum = np.empty(data.size)
    mult = np.empty(data.size)
    _edge_tables(indptr, data, float(p_halt), bool(uniform), cum, mult)
    return cum, mult


# ----------------------------------------------------------------------------- NumPy
def _reduce_in_walk_order(rows, cols, vals, row0, n_rows, n_cols, n_walks):
    """CSR pieces from deposits listed in walk order, each entry summed in that order."""
    key = (rows - row0).astype(np.int64) * n_cols + cols
    uniq, inverse = np.unique(key, return_inverse=True)
    acc = np.zeros(uniq.size)
    np.add.at(acc, inverse, vals)  # unbuffered and in order, unlike reduceat's pairwise sums
    acc /= n_walks
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(uniq // n_cols, minlength=n_rows), out=indptr[1:])
    return indptr, uniq % n_cols, acc


def walk_numpy(node0, node1, n_walks, key, indptr, indices, cum, mult, f, p_halt, uniform):
    """Features of start nodes ``node0:node1``: the vectorised reference walker.

    Parameters
    ----------
    node0, node1 : int
        Range of start nodes.
    n_walks : int
        Walks per start node.
    key : int
        64-bit key of this walk set.
    indptr, indices : ndarray of int64
        CSR structure of the walk matrix.
    cum, mult : ndarray of float64
        Per-edge cumulative sampling fractions and load multipliers.
    f : ndarray of float64
        Modulation ``f(k)``; walks stop after ``len(f)`` deposits.
    p_halt : float
        Halting probability per step.
    uniform : bool
        Uniform (else weighted) neighbour draws.

    Returns
    -------
    indptr, indices, data : ndarray
        CSR pieces of the ``node1 - node0`` feature rows (sorted columns).
    """
    n_cols = indptr.size - 1
    key = np.uint64(key)
    walks = np.arange(node0 * n_walks, node1 * n_walks, dtype=np.int64)
    base = _walk_base(key, walks.astype(np.uint64))
    node = walks // n_walks
    load = np.ones(walks.size)
    out_walk, out_col, out_val = [], [], []
    for k in range(f.size):
        out_walk.append(walks)
        out_col.append(node)
        out_val.append(load * f[k])
        if k + 1 == f.size:
            break
        lo, hi = indptr[node], indptr[node + 1]
        counter = np.full(1, 2 * k, dtype=np.uint64)  # an array: scalars warn on wrap-around
        go = (lo < hi) & ~(_uniform(base, counter) < p_halt)
        if not go.any():
            break
        walks, base, node, load, lo, hi = (a[go] for a in (walks, base, node, load, lo, hi))
        u = _uniform(base, counter + _ONE)
        if uniform:
            edge = lo + (u * (hi - lo)).astype(np.int64)
        else:
            edge, hi = lo.copy(), hi - 1
            while True:
                todo = np.flatnonzero(edge < hi)
                if todo.size == 0:
                    break
                mid = (edge[todo] + hi[todo]) // 2
                right = cum[mid] > u[todo]
                hi[todo[right]] = mid[right]
                edge[todo[~right]] = mid[~right] + 1
        load = load * mult[edge]
        node = indices[edge]
    order = np.argsort(np.concatenate(out_walk), kind="stable")
    return _reduce_in_walk_order(
        np.concatenate(out_walk)[order] // n_walks,
        np.concatenate(out_col)[order],
        np.concatenate(out_val)[order],
        node0,
        node1 - node0,
        n_cols,
        n_walks,
    )


# ----------------------------------------------------------------------------- Numba CPU
def _walk_blocks_source(
    bounds, slots, n_walks, key, indptr, indices, cum, mult, f, p_halt, uniform, counts, cols, vals
):
    n_nodes = indptr.size - 1
    n_blocks = bounds.size - 1
    used = np.zeros(n_blocks, dtype=np.int64)
    nw = np.uint64(n_walks)
    for b in prange(n_blocks):
        acc = np.zeros(n_nodes)
        mark = np.full(n_nodes, -1, dtype=np.int64)
        pos = slots[b]
        end = slots[b + 1]
        full = False
        for i in range(bounds[b], bounds[b + 1]):
            start = pos
            for j in range(n_walks):
                base = _walk_base_cpu(key, np.uint64(i) * nw + np.uint64(j))
                v = i
                load = 1.0
                for k in range(f.size):
                    if mark[v] != i:
                        if pos == end:
                            full = True
                            break
                        mark[v] = i
                        cols[pos] = v
                        pos += 1
                    acc[v] += load * f[k]
                    if k + 1 == f.size:
                        break
                    e = _next_edge_cpu(v, base, k, indptr, cum, p_halt, uniform)
                    if e < 0:
                        break
                    load = load * mult[e]
                    v = indices[e]
                if full:
                    break
            if full:
                break
            for t in range(start, pos):
                c = cols[t]
                vals[t] = acc[c] / n_walks
                acc[c] = 0.0
            counts[i - bounds[0]] = pos - start
        used[b] = -1 if full else pos - slots[b]
    return used


# Small inputs would spend more time waking the thread pool than walking.
_walk_blocks_parallel = njit(nogil=True, cache=True, parallel=True)(_walk_blocks_source)
_walk_blocks_serial = njit(nogil=True, cache=True)(_walk_blocks_source)
_SERIAL_BELOW = 1 << 16  # expected deposits


def walk_cpu(node0, node1, n_walks, key, indptr, indices, cum, mult, f, p_halt, uniform):
    """Features of start nodes ``node0:node1`` with the Numba walker (same output as NumPy).

    Parameters
    ----------
    node0, node1 : int
        Range of start nodes.
    n_walks : int
        Walks per start node.
    key : int
        64-bit key of this walk set.
    indptr, indices : ndarray of int64
        CSR structure of the walk matrix.
    cum, mult : ndarray of float64
        Per-edge cumulative sampling fractions and load multipliers.
    f : ndarray of float64
        Modulation ``f(k)``; walks stop after ``len(f)`` deposits.
    p_halt : float
        Halting probability per step.
    uniform : bool
        Uniform (else weighted) neighbour draws.

    Returns
    -------
    indptr, indices, data : ndarray
        CSR pieces of the ``node1 - node0`` feature rows (sorted columns).
    """
    n_rows, n_cols = node1 - node0, indptr.size - 1
    serial = n_rows * n_walks * min(1.0 / p_halt, f.size) < _SERIAL_BELOW
    walk_blocks = _walk_blocks_serial if serial else _walk_blocks_parallel
    # Any cut of the rows gives the same values; ~8 blocks per thread balance the load.
    per_block = n_rows if serial else max(64, -(-n_rows // (8 * numba.get_num_threads())))
    bounds = np.append(np.arange(node0, node1, per_block, dtype=np.int64), np.int64(node1))
    # A slot per block sized for the deposits it will most likely make (one pass); the
    # rare block that overflows is walked again, alone, in a slot of the exact size.
    n_dep = np.diff(bounds) * n_walks
    mean = n_dep * min(1.0 / p_halt, f.size)
    sd = np.sqrt(n_dep * (1.0 - p_halt)) / p_halt
    cap = np.minimum(np.ceil(1.1 * mean + 6.0 * sd + 64.0), np.diff(bounds) * n_cols)
    slots = np.zeros(bounds.size, dtype=np.int64)
    np.cumsum(cap.astype(np.int64), out=slots[1:])
    counts = np.zeros(n_rows, dtype=np.int64)
    col_dtype = np.int32 if n_cols < 2**31 else np.int64
    cols = np.empty(slots[-1], dtype=col_dtype)
    vals = np.empty(slots[-1])
    args = (n_walks, np.uint64(key), indptr, indices, cum, mult, f, float(p_halt), bool(uniform))
    used = walk_blocks(bounds, slots, *args, counts, cols, vals)
    pieces = []
    for b in range(bounds.size - 1):
        if used[b] >= 0:
            pieces.append(
                (cols[slots[b] : slots[b] + used[b]], vals[slots[b] : slots[b] + used[b]])
            )
            continue
        sub = np.array([bounds[b], bounds[b + 1]], dtype=np.int64)
        sub_counts = np.zeros(sub[1] - sub[0], dtype=np.int64)
        size = int(cap[b])
        while True:
            size = min(2 * size, int(sub[1] - sub[0]) * n_cols)
            c_b, v_b = np.empty(size, dtype=col_dtype), np.empty(size)
            sub_slots = np.array([0, size], dtype=np.int64)
            u_b = walk_blocks(sub, sub_slots, *args, sub_counts, c_b, v_b)[0]
            if u_b >= 0:
                break
        counts[sub[0] - node0 : sub[1] - node0] = sub_counts
        pieces.append((c_b[:u_b], v_b[:u_b]))
    out_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=out_indptr[1:])
    out_cols = np.concatenate([p[0] for p in pieces])
    out_vals = np.concatenate([p[1] for p in pieces])
    return out_indptr, out_cols, out_vals


# ----------------------------------------------------------------------------- numba.cuda
_CUDA_KERNELS = {}


def _simulated():
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def _cuda_kernels():
    sim = _simulated()
    if sim in _CUDA_KERNELS:
        return _CUDA_KERNELS[sim]
    base_fn, _, step_fn = _generator(cuda.jit(device=True))

    @cuda.jit
    def lengths(walk0, n_total, n_walks, key, indptr, indices, cum, p_halt, uniform, n_f, out):
        t = cuda.grid(1)
        if t >= n_total:
            return
        walk = np.uint64(walk0) + np.uint64(t)
        base = base_fn(key, walk)
        v = np.int64(walk // np.uint64(n_walks))
        k = 0
        while k + 1 < n_f:
            e = step_fn(v, base, k, indptr, cum, p_halt, uniform)
            if e < 0:
                break
            v = indices[e]
            k += 1
        out[t] = k + 1

    @cuda.jit
    def deposits(
        walk0, n_total, n_walks, key, indptr, indices, cum, mult, f, p_halt, uniform, offsets,
        out_col, out_val,
    ):  # fmt: skip
        t = cuda.grid(1)
        if t >= n_total:
            return
        walk = np.uint64(walk0) + np.uint64(t)
        base = base_fn(key, walk)
        v = np.int64(walk // np.uint64(n_walks))
        load = 1.0
        pos = offsets[t]
        for k in range(f.size):
            out_col[pos] = v
            out_val[pos] = load * f[k]
            pos += 1
            if k + 1 == f.size:
                break
            e = step_fn(v, base, k, indptr, cum, p_halt, uniform)
            if e < 0:
                break
            load = load * mult[e]
            v = indices[e]

    _CUDA_KERNELS[sim] = (lengths, deposits)
    return _CUDA_KERNELS[sim]


def walk_cuda(node0, node1, n_walks, key, indptr, indices, cum, mult, f, p_halt, uniform):
    """Features of start nodes ``node0:node1`` with one GPU thread per walk.

    A first launch counts each walk's deposits, a prefix sum gives every walk
    its slot, and a second launch (same counter-based draws, so the same walks)
    writes them. The deposits come back in walk order and are summed on the host
    exactly as the other engines sum them, so the features are bit-identical.

    Parameters
    ----------
    node0, node1 : int
        Range of start nodes.
    n_walks : int
        Walks per start node.
    key : int
        64-bit key of this walk set.
    indptr, indices : ndarray of int64
        CSR structure of the walk matrix.
    cum, mult : ndarray of float64
        Per-edge cumulative sampling fractions and load multipliers.
    f : ndarray of float64
        Modulation ``f(k)``; walks stop after ``len(f)`` deposits.
    p_halt : float
        Halting probability per step.
    uniform : bool
        Uniform (else weighted) neighbour draws.

    Returns
    -------
    indptr, indices, data : ndarray
        CSR pieces of the ``node1 - node0`` feature rows (sorted columns).
    """
    lengths, deposits = _cuda_kernels()
    n_total = (node1 - node0) * n_walks
    threads = 32 if _simulated() else 256
    blocks = max(1, math.ceil(n_total / threads))
    dev = [cuda.to_device(np.ascontiguousarray(a)) for a in (indptr, indices, cum, mult, f)]
    d_indptr, d_indices, d_cum, d_mult, d_f = dev
    lens = cuda.device_array(n_total, dtype=np.int64)
    common = (node0 * n_walks, n_total, n_walks, np.uint64(key), d_indptr, d_indices, d_cum)
    with warnings.catch_warnings():
        # The simulator runs the uint64 hash on NumPy scalars, which warn on the wrap-around
        # that the hash relies on; compiled code wraps silently.
        warnings.simplefilter("ignore", RuntimeWarning)
        lengths[blocks, threads](*common, float(p_halt), bool(uniform), f.size, lens)
        host_lens = lens.copy_to_host()
        offsets = np.zeros(n_total + 1, dtype=np.int64)
        np.cumsum(host_lens, out=offsets[1:])
        out_col = cuda.device_array(int(offsets[-1]), dtype=np.int64)
        out_val = cuda.device_array(int(offsets[-1]), dtype=np.float64)
        deposits[blocks, threads](
            *common, d_mult, d_f, float(p_halt), bool(uniform), cuda.to_device(offsets),
            out_col, out_val,
        )  # fmt: skip
    rows = np.repeat(np.repeat(np.arange(node0, node1, dtype=np.int64), n_walks), host_lens)
    return _reduce_in_walk_order(
        rows,
        out_col.copy_to_host(),
        out_val.copy_to_host(),
        node0,
        node1 - node0,
        indptr.size - 1,
        n_walks,
    )
