"""Engines: the only package that knows about Numba and CuPy.

``get_namespace`` tells NumPy from CuPy arrays without importing CuPy when it
is not already loaded; ``select_engine`` turns the configured engine and the
input arrays into the engine that runs a kernel product.
"""

import sys
from collections import Counter
from contextlib import contextmanager

import numpy as np

from .._config import get_config


def _cupy_module():
    """CuPy if it is already imported by the caller, else None (never imports it)."""
    return sys.modules.get("cupy")


def get_namespace(*arrays):
    """Return ``numpy`` or ``cupy`` according to the arrays (NumPy wins for lists, pandas...).

    Parameters
    ----------
    *arrays : array-like or None
        The arrays of one computation; ``None`` entries are ignored.

    Returns
    -------
    xp : module
        ``numpy``, or ``cupy`` when every array is a CuPy array.
    """
    cp = _cupy_module()
    if cp is not None:
        is_device = [isinstance(a, cp.ndarray) for a in arrays if a is not None]
        if any(is_device):
            if not all(is_device):
                raise TypeError(
                    "Mixed CuPy and NumPy inputs: move all arrays to one device "
                    "(cupy.asarray or cupy.asnumpy) before calling."
                )
            return cp
    return np


def cupy_usable():
    """True when CuPy imports *and* a CUDA device answers.

    An installed CuPy wheel imports fine without a driver and fails on the
    first array, so ``import cupy`` alone proves nothing.

    Returns
    -------
    usable : bool
        Whether CuPy arrays can be created on a device.
    """
    try:
        import cupy
    except ImportError:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:
        return False


def numba_cuda_usable():
    """True when numba.cuda can launch kernels (a real GPU or the CUDA simulator).

    Returns
    -------
    usable : bool
        Whether the fused CUDA kernels can run.
    """
    try:
        from numba import cuda
    except ImportError:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:
        return False


# Device-to-host copies made by ``to_numpy`` per reason, while ``count_transfers`` is open.
_TRANSFER_COUNTERS = []


def to_numpy(a, reason="unspecified"):
    """Copy a device array to the host; NumPy arrays pass through unchanged.

    Every device-to-host copy of the package should go through here, so that
    ``count_transfers`` sees it (a fit that stays on the device makes none).

    Parameters
    ----------
    a : array-like
        NumPy or CuPy array (or anything ``numpy.asarray`` accepts).
    reason : str, default="unspecified"
        Why the copy is needed; the key under which ``count_transfers`` counts it.

    Returns
    -------
    host : ndarray
        ``a`` itself when it is a NumPy array.
    """
    # Device arrays first: a test double may subclass numpy.ndarray.
    cp = _cupy_module()
    if cp is not None and isinstance(a, cp.ndarray):
        for counter in _TRANSFER_COUNTERS:
            counter[reason] += 1
        return cp.asnumpy(a)
    if isinstance(a, np.ndarray):
        return a
    return np.asarray(a)


@contextmanager
def count_transfers():
    """Count the device-to-host copies made through :func:`to_numpy` inside the block.

    Yields
    ------
    counts : collections.Counter
        Copies per ``reason``; filled while the block runs.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit._backend import count_transfers, to_numpy
    >>> with count_transfers() as counts:
    ...     _ = to_numpy(np.ones(3), "host arrays are not copied")
    >>> sum(counts.values())
    0
    """
    counts = Counter()
    _TRANSFER_COUNTERS.append(counts)
    try:
        yield counts
    finally:
        _TRANSFER_COUNTERS.remove(counts)


def select_engine(*arrays):
    """Engine for the current configuration and inputs: "numpy", "cpu" or "cuda".

    Parameters
    ----------
    *arrays : array-like or None
        The arrays of the computation.

    Returns
    -------
    engine : {"numpy", "cpu", "cuda"}
        ``RuntimeError`` instead when ``engine="cuda"`` is configured for
        NumPy arrays and no CUDA device (or simulator) is available.
    """
    engine = get_config()["engine"]
    xp = get_namespace(*arrays)
    if engine == "auto":
        return "cuda" if xp is not np else "cpu"
    if engine == "cpu" and xp is not np:
        raise ValueError(
            "engine='cpu' needs NumPy arrays; got CuPy arrays. Use engine='cuda' or "
            "move the data to the host with cupy.asnumpy."
        )
    if engine == "cuda" and xp is np and not numba_cuda_usable():
        raise RuntimeError(
            "engine='cuda' was requested but no CUDA device is available (install "
            "kernelkit[gpu] on a machine with an NVIDIA driver, or set "
            "NUMBA_ENABLE_CUDASIM=1 to run the CUDA kernels in the simulator)."
        )
    return engine


def engines_available():
    """Mapping engine name -> availability, for ``python -m kernelkit info``.

    Returns
    -------
    available : dict of str to bool
        One entry per engine.
    """
    return {
        "numpy": True,
        "cpu": True,
        "cuda (numba.cuda)": numba_cuda_usable(),
        "cuda (cupy)": cupy_usable(),
    }


def runtime_report():
    """Lines describing Numba's threading and the GPU, for ``python -m kernelkit info``.

    Returns
    -------
    lines : list of str
        Human-readable lines.
    """
    import numba

    lines = [
        f"numba {numba.__version__}, threading layer {numba.config.THREADING_LAYER}, "
        f"threads {numba.get_num_threads()}"
    ]
    if cupy_usable():
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        lines.append(f"GPU: {props['name'].decode()}, {props['totalGlobalMem'] / 2**30:.0f} GiB")
    return lines
