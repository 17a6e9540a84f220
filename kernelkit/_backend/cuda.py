"""GPU engine: a fused numba.cuda kernel product that never stores kernel values.

One thread per row of X; tiles of Z rows are staged in shared memory, feature
chunk by feature chunk, so every Z value read from global memory serves the
whole thread block. Works on CuPy arrays (zero copy through
``__cuda_array_interface__``) and on NumPy arrays (copied to the device and
back). Under ``NUMBA_ENABLE_CUDASIM=1`` the same code runs on the CPU
simulator, which is how CI tests it.
"""

import math

import numba
import numpy as np

# Module-level on purpose: the CUDA simulator swaps the ``cuda`` global of a
# kernel's module for its fake one, which a local import would hide.
from numba import cuda

from . import _cupy_module

_TILE = 32  # rows of Z per shared-memory tile
_FEATURES = 16  # features per shared-memory chunk
_MAX_COLUMNS = 8  # right-hand sides handled by one launch (register accumulators)
_KERNELS = {}


def _simulated():
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def _threads_per_block():
    # Every simulated thread is a Python thread: keep blocks small there.
    return 32 if _simulated() else 128


def _build(dtype, threads):

    nb_dtype = numba.float32 if dtype == np.float32 else numba.float64
    tile, chunk, max_cols = _TILE, _FEATURES, _MAX_COLUMNS

    @cuda.jit(fastmath=False)
    def fused(X, Z, V, out, scale, squared, manhattan, col0, ncols):
        i = cuda.grid(1)
        tx = cuda.threadIdx.x
        n = X.shape[0]
        d = X.shape[1]
        m = Z.shape[0]
        zt = cuda.shared.array((tile, chunk), nb_dtype)
        dist = cuda.local.array(tile, nb_dtype)
        acc = cuda.local.array(max_cols, nb_dtype)
        for c in range(max_cols):
            acc[c] = 0.0
        for t0 in range(0, m, tile):
            for jj in range(tile):
                dist[jj] = 0.0
            for f0 in range(0, d, chunk):
                for idx in range(tx, tile * chunk, threads):
                    r = idx // chunk
                    c = idx - r * chunk
                    if t0 + r < m and f0 + c < d:
                        zt[r, c] = Z[t0 + r, f0 + c]
                    else:
                        zt[r, c] = 0.0
                cuda.syncthreads()
                if i < n:
                    for jj in range(tile):
                        s = dist[jj]
                        for c in range(chunk):
                            if f0 + c < d:
                                diff = X[i, f0 + c] - zt[jj, c]
                                if manhattan:
                                    s += abs(diff)
                                else:
                                    s += diff * diff
                        dist[jj] = s
                cuda.syncthreads()
            if i < n:
                for jj in range(tile):
                    j = t0 + jj
                    if j < m:
                        t = dist[jj]
                        if not (squared or manhattan):
                            t = math.sqrt(t)
                        kval = math.exp(scale * t)
                        for c in range(ncols):
                            acc[c] += kval * V[j, col0 + c]
        if i < n:
            for c in range(ncols):
                out[i, col0 + c] = acc[c]

    return fused


def device_view(a):
    """A device view of ``a``: device arrays pass through, NumPy arrays are copied over.

    Parameters
    ----------
    a : array-like
        NumPy array or any object with ``__cuda_array_interface__`` (CuPy, Numba).

    Returns
    -------
    view : device array
        Usable as a numba.cuda kernel argument.
    """
    if hasattr(a, "__cuda_array_interface__"):
        return a
    return cuda.to_device(np.ascontiguousarray(a))


def _kernel_for(dtype):
    key = (np.dtype(dtype), _threads_per_block(), _simulated())
    fn = _KERNELS.get(key)
    if fn is None:
        fn = _KERNELS[key] = _build(np.dtype(dtype), key[1])
    return fn


def fused_matmat(squared, scale, X, Z, V, *, manhattan):
    """exp(scale · d(X, Z)) @ V on the GPU, d the squared (or plain) Euclidean distance,
    or the L1 distance when ``manhattan`` (then ``squared`` must be False).

    V has shape (m, k); the output lives on the device of the inputs.
    """
    if manhattan and squared:
        raise ValueError("The fused kernel has no squared L1 distance.")
    cp = _cupy_module()
    on_device = cp is not None and isinstance(X, cp.ndarray)
    dtype = np.dtype(str(X.dtype))
    n = X.shape[0]
    k = V.shape[1]
    if on_device:
        out = cp.empty((n, k), dtype=dtype)
        dX, dZ, dV, dout = X, Z, V, out
    else:
        dX = cuda.to_device(np.ascontiguousarray(X))
        dZ = cuda.to_device(np.ascontiguousarray(Z))
        dV = cuda.to_device(np.ascontiguousarray(V))
        dout = cuda.device_array((n, k), dtype=dtype)
    threads = _threads_per_block()
    blocks = (n + threads - 1) // threads
    fn = _kernel_for(dtype)
    for col0 in range(0, k, _MAX_COLUMNS):
        ncols = min(_MAX_COLUMNS, k - col0)
        flags = bool(squared), bool(manhattan)
        fn[blocks, threads](dX, dZ, dV, dout, dtype.type(scale), *flags, col0, ncols)
    if on_device:
        return out
    return dout.copy_to_host()
