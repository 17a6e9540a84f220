"""numba.cuda kernels of kernel thinning: KT-SPLIT's halving and KT-SWAP's refinement.

The CPU loops of :mod:`kernelkit._backend.thinning` are the oracles; these kernels
make the same decisions from the same kernel values and uniforms.

* :func:`halve_nodes` runs the self-balancing Hilbert walk of many independent
  nodes (the 2^j coresets of one KT-SPLIT round, which read one kernel matrix at
  different positions) with one thread block per node. The walk is sequential over
  pairs, but pair i's inner product with the earlier pairs is a sum over i terms:
  the block's threads share it and reduce it in shared memory.
* :func:`refine_dense` is KT-SWAP on a dense kernel matrix: per slot, the update of
  every candidate's statistic and the argmin over candidates are spread over the
  threads of one block (the slots stay sequential, each depends on the previous).

Sums are float64 whatever the dtype of the kernel values, as on the CPU. The
argmin reduces (value, position) pairs lexicographically, which reproduces the
CPU's tie rule (the first candidate in scan order wins). Inputs are NumPy arrays
(copied to the device) or device arrays; results come back as NumPy arrays.
"""

import math

import numba
import numpy as np

# Module-level on purpose: the CUDA simulator patches the ``cuda`` global of the
# kernel's module (see :mod:`kernelkit._backend.cuda`).
from numba import cuda

from .cuda import _simulated
from .cuda import device_view as _device

_REDUCE = 128  # threads per block (a power of two: the tree reductions halve it)
_KERNELS = {}


def _threads():
    # Each simulated thread is a Python thread: small blocks keep the simulator fast.
    return 16 if _simulated() else _REDUCE


def _build_halve(threads):
    @cuda.jit(fastmath=False)
    def halve(K, pos, alpha_prior, uniforms, sig_in, log_multiplier, swapped, sig_out):
        node = cuda.blockIdx.x
        tx = cuda.threadIdx.x
        partial = cuda.shared.array(threads, numba.float64)
        # [0]: threshold of the current pair, [1]: running σ².
        state = cuda.shared.array(2, numba.float64)
        n_pairs = alpha_prior.shape[1]
        if tx == 0:
            state[1] = sig_in[node]
        cuda.syncthreads()
        for i in range(n_pairs):
            q0 = pos[node, 2 * i]
            q1 = pos[node, 2 * i + 1]
            if tx == 0:
                sig_sqd = state[1]
                b_sqd = numba.float64(K[q0, q0]) - 2.0 * numba.float64(K[q0, q1])
                b_sqd += numba.float64(K[q1, q1])
                if b_sqd < 0.0:
                    b_sqd = 0.0
                thresh = math.sqrt(sig_sqd * b_sqd * log_multiplier)
                if b_sqd > thresh:
                    thresh = b_sqd
                if sig_sqd == 0.0:
                    sig_sqd = b_sqd
                elif thresh != 0.0:
                    update = 1.0 + (b_sqd / thresh - 2.0) * sig_sqd / thresh
                    if update > 0.0:
                        sig_sqd += b_sqd * update
                if thresh == 0.0:
                    thresh = 1.0
                state[0] = thresh
                state[1] = sig_sqd
            acc = 0.0
            for ell in range(tx, i, threads):
                if swapped[node, ell]:
                    c0 = pos[node, 2 * ell + 1]
                    c1 = pos[node, 2 * ell]
                else:
                    c0 = pos[node, 2 * ell]
                    c1 = pos[node, 2 * ell + 1]
                acc += numba.float64(K[q0, c1]) - numba.float64(K[q0, c0])
                acc += numba.float64(K[q1, c0]) - numba.float64(K[q1, c1])
            partial[tx] = acc
            cuda.syncthreads()
            stride = threads // 2
            while stride > 0:
                if tx < stride:
                    partial[tx] += partial[tx + stride]
                cuda.syncthreads()
                stride //= 2
            if tx == 0:
                alpha = alpha_prior[node, i] + partial[0]
                swapped[node, i] = uniforms[node, i] <= 0.5 * (1.0 - alpha / state[0])
            cuda.syncthreads()
        if tx == 0:
            sig_out[node] = state[1]

    return halve


def _argmin_block(values, where, tx, threads):
    """Tree reduction of (value, position) pairs in shared memory; the result sits at [0]."""
    stride = threads // 2
    while stride > 0:
        if tx < stride:
            other = values[tx + stride]
            if other < values[tx] or (other == values[tx] and where[tx + stride] < where[tx]):
                values[tx] = other
                where[tx] = where[tx + stride]
        cuda.syncthreads()
        stride //= 2


def _build_refine(threads):
    argmin_block = cuda.jit(device=True)(_argmin_block)

    @cuda.jit(fastmath=False)
    def refine(K, coreset, mean_k, unique, non_coreset, n_others, stat):
        tx = cuda.threadIdx.x
        n = K.shape[0]
        s = coreset.shape[0]
        values = cuda.shared.array(threads, numba.float64)
        where = cuda.shared.array(threads, numba.int64)
        best_slot = cuda.shared.array(1, numba.int64)
        two_over_s = 2.0 / s
        # The CPU engine's operation order, candidate by candidate (see refine_dense).
        for i in range(tx, n, threads):
            acc = 0.0
            for a in range(s):
                acc += numba.float64(K[i, coreset[a]])
            acc /= s
            stat[i] = numba.float64(K[i, i]) / s
            stat[i] += 2.0 * (acc - mean_k[i])
        cuda.syncthreads()
        for a in range(s):
            current = coreset[a]
            for i in range(tx, n, threads):
                stat[i] -= two_over_s * numba.float64(K[current, i])
            cuda.syncthreads()
            n_candidates = n_others if unique else n
            best_value = math.inf
            best_where = n + 1
            for t in range(tx, n_candidates, threads):
                i = non_coreset[t] if unique else t
                if stat[i] < best_value:
                    best_value = stat[i]
                    best_where = t
            values[tx] = best_value
            where[tx] = best_where
            cuda.syncthreads()
            argmin_block(values, where, tx, threads)
            if tx == 0:
                if unique:
                    # The point being swapped out keeps its slot unless strictly beaten.
                    if values[0] < stat[current]:
                        best_slot[0] = non_coreset[where[0]]
                        non_coreset[where[0]] = current
                    else:
                        best_slot[0] = current
                else:
                    best_slot[0] = where[0]
                coreset[a] = best_slot[0]
            cuda.syncthreads()
            best = best_slot[0]
            for i in range(tx, n, threads):
                stat[i] += two_over_s * numba.float64(K[best, i])
            cuda.syncthreads()

    return refine


def _kernel(name, build):
    key = (name, _threads(), _simulated())
    fn = _KERNELS.get(key)
    if fn is None:
        fn = _KERNELS[key] = build(key[1])
    return fn


def halve_nodes(K, pos, alpha_prior, uniforms, sig_sqd, log_multiplier):
    """Hilbert walk of independent nodes, one thread block each.

    Parameters
    ----------
    K : array of shape (n, n)
        Kernel values; node ``r``'s pair ``i`` is points ``pos[r, 2i]``, ``pos[r, 2i+1]``.
    pos : int64 array of shape (n_nodes, 2 * n_pairs)
        Positions of each node's points in ``K``.
    alpha_prior : float64 array of shape (n_nodes, n_pairs)
        The walk's inner products with pairs placed before the chunk (zeros for a
        whole node).
    uniforms : float64 array of shape (n_nodes, n_pairs)
        The walk's uniform draws.
    sig_sqd : float64 array of shape (n_nodes,)
        Sub-Gaussian parameter σ² at the start of each node's chunk.
    log_multiplier : float
        2·log(2/δ') of the round's threshold.

    Returns
    -------
    swapped : bool array of shape (n_nodes, n_pairs)
        As ``swapped`` of :func:`kernelkit._backend.thinning.halve_chunk`.
    sig_sqd : float64 array of shape (n_nodes,)
        Updated σ² per node.
    """
    n_nodes, n_pairs = np.shape(alpha_prior)
    d_swapped = cuda.device_array((n_nodes, n_pairs), dtype=np.bool_)
    d_sig = cuda.device_array(n_nodes, dtype=np.float64)
    threads = _threads()
    _kernel("halve", _build_halve)[n_nodes, threads](
        _device(K),
        _device(np.asarray(pos, dtype=np.int64)),
        _device(np.asarray(alpha_prior, dtype=np.float64)),
        _device(np.asarray(uniforms, dtype=np.float64)),
        _device(np.asarray(sig_sqd, dtype=np.float64)),
        float(log_multiplier),
        d_swapped,
        d_sig,
    )
    return d_swapped.copy_to_host(), d_sig.copy_to_host()


def halve_chunk(Kc, pos, alpha_prior, uniforms, sig_sqd, log_multiplier, swapped):
    """Drop-in for :func:`kernelkit._backend.thinning.halve_chunk` (one node) on the GPU.

    Parameters
    ----------
    Kc : array of shape (c, c) or (n, n)
        Kernel values read at ``pos``.
    pos : int64 array of shape (2 * n_pairs,)
        Positions of the chunk's points in ``Kc``.
    alpha_prior : float64 array of shape (n_pairs,)
        Inner products with the pairs placed before the chunk.
    uniforms : float64 array of shape (n_pairs,)
        The walk's uniform draws.
    sig_sqd : float
        σ² at the start of the chunk.
    log_multiplier : float
        2·log(2/δ') of the round's threshold.
    swapped : bool array of shape (n_pairs,)
        Written in place.

    Returns
    -------
    sig_sqd : float
        Updated σ².
    """
    got, sig = halve_nodes(
        Kc,
        np.asarray(pos)[None, :],
        np.asarray(alpha_prior)[None, :],
        np.asarray(uniforms)[None, :],
        np.array([sig_sqd], dtype=np.float64),
        log_multiplier,
    )
    swapped[:] = got[0]
    return float(sig[0])


def refine_dense(K, coreset, mean_k, unique, non_coreset):
    """KT-SWAP refinement on a dense kernel matrix; one thread block, candidates in parallel.

    Parameters
    ----------
    K : array of shape (n, n)
        Target kernel matrix (local positions).
    coreset : int64 array of shape (s,)
        Starting coreset; a refined copy is returned.
    mean_k : float64 array of shape (n,)
        Row means of ``K``.
    unique : bool
        Whether only points outside the coreset may enter.
    non_coreset : int64 array
        With ``unique``, the other points in scan order (updated in place).

    Returns
    -------
    coreset : int64 array of shape (s,)
        The refined coreset, equal to the CPU engine's for equal inputs.
    """
    n = np.shape(K)[0]
    d_coreset = cuda.to_device(np.asarray(coreset, dtype=np.int64).copy())
    others = np.asarray(non_coreset, dtype=np.int64)
    # A zero-length device array is not a valid kernel argument everywhere: pad it.
    d_others = cuda.to_device(others if others.size else np.zeros(1, dtype=np.int64))
    if not unique:
        d_others = cuda.to_device(np.zeros(1, dtype=np.int64))
    _kernel("refine", _build_refine)[1, _threads()](
        _device(K),
        d_coreset,
        _device(np.asarray(mean_k, dtype=np.float64)),
        bool(unique),
        d_others,
        others.size if unique else 0,
        cuda.device_array(n, dtype=np.float64),
    )
    if unique and others.size:
        non_coreset[:] = d_others.copy_to_host()
    return d_coreset.copy_to_host()
