"""Global configuration: memory budget for kernel blocks and the compute engine.

Mirrors :func:`sklearn.get_config` / :func:`sklearn.set_config` /
:func:`sklearn.config_context`: settings are thread-local so that a
``config_context`` in one thread never leaks into another (joblib threads
inherit nothing, which is also what scikit-learn does).
"""

import threading
from contextlib import contextmanager

_ENGINES = ("auto", "numpy", "cpu", "cuda")

_global_config = {
    # MiB that one kernel block (plus its temporaries) may occupy.
    "working_memory": 512,
    # "auto" follows the input arrays: NumPy -> "cpu", CuPy -> "cuda".
    "engine": "auto",
    # Threads the CPU engine runs blocks on; None means all cores.
    "n_threads": None,
}
_threadlocal = threading.local()


def _get_threadlocal_config():
    if not hasattr(_threadlocal, "config"):
        _threadlocal.config = _global_config.copy()
    return _threadlocal.config


def get_config():
    """Return a copy of the current kernelkit configuration.

    Returns
    -------
    config : dict
        Keys: ``working_memory`` (MiB per kernel block), ``engine``
        (``"auto"``, ``"numpy"``, ``"cpu"`` or ``"cuda"``) and ``n_threads``.

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.get_config()["engine"]
    'auto'
    """
    return _get_threadlocal_config().copy()


def set_config(working_memory=None, engine=None, n_threads=None):
    """Set kernelkit configuration for the current thread.

    Parameters
    ----------
    working_memory : float, default=None
        Memory budget in MiB for one block of kernel values and its
        temporaries. Kernel operators never hold more than this many MiB
        of kernel values per worker thread. ``None`` leaves it unchanged.
    engine : {"auto", "numpy", "cpu", "cuda"}, default=None
        ``"auto"`` picks from the input arrays (NumPy -> ``"cpu"``, CuPy ->
        ``"cuda"``); ``"numpy"`` is the single-threaded reference path.
    n_threads : int, default=None
        Worker threads of the CPU engine (``None``: unchanged; ``-1``: all
        cores).

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.set_config(working_memory=256)
    >>> kernelkit.get_config()["working_memory"]
    256
    >>> kernelkit.set_config(working_memory=512)
    """
    config = _get_threadlocal_config()
    if working_memory is not None:
        if not isinstance(working_memory, (int, float)) or not working_memory > 0:
            raise ValueError(
                f"working_memory must be a positive number of MiB, got {working_memory!r}."
            )
        config["working_memory"] = working_memory
    if engine is not None:
        if engine not in _ENGINES:
            raise ValueError(f"engine must be one of {_ENGINES}, got {engine!r}.")
        config["engine"] = engine
    if n_threads is not None:
        if not isinstance(n_threads, int) or (n_threads < 1 and n_threads != -1):
            raise ValueError(f"n_threads must be a positive int or -1, got {n_threads!r}.")
        config["n_threads"] = None if n_threads == -1 else n_threads


@contextmanager
def config_context(*, working_memory=None, engine=None, n_threads=None):
    """Temporarily change the kernelkit configuration.

    Parameters are those of :func:`set_config`; the previous values come
    back when the block exits, even on error.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import Gaussian, KernelOperator, config_context
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> with config_context(working_memory=1, engine="numpy"):
    ...     y = KernelOperator(Gaussian(bandwidth=2.0), X) @ np.ones(6)
    >>> y.shape
    (6,)
    """
    old = get_config()
    set_config(working_memory=working_memory, engine=engine, n_threads=n_threads)
    try:
        yield
    finally:
        _get_threadlocal_config().update(old)
