"""Global configuration: memory budget for kernel blocks and the compute engine.

Mirrors :func:`sklearn.get_config` / :func:`sklearn.set_config` /
:func:`sklearn.config_context`: settings are thread-local so that a
``config_context`` in one thread never leaks into another (joblib threads
inherit nothing, which is also what scikit-learn does).
"""

import math
import numbers
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
        Memory budget in MiB (finite, > 0) for the kernel values and
        temporaries of one kernel product, all worker threads together: tiles
        are sized from it, and at most as many run at once as fit in it.
        ``None`` leaves it unchanged.
    engine : {"auto", "numpy", "cpu", "cuda"}, default=None
        ``"auto"`` picks from the input arrays (NumPy -> ``"cpu"``, CuPy ->
        ``"cuda"``); ``"numpy"`` is the single-threaded reference path.
    n_threads : int, default=None
        Worker threads of the CPU engine, a positive int or ``-1`` (all
        cores); ``None`` leaves it unchanged. Results do not depend on it.

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.set_config(working_memory=256)
    >>> kernelkit.get_config()["working_memory"]
    256
    >>> kernelkit.set_config(working_memory=512)
    """
    checked = _checked(working_memory=working_memory, engine=engine, n_threads=n_threads)
    _get_threadlocal_config().update(checked)


class _InvalidConfigError(ValueError, TypeError):
    """A configuration value of the wrong type or out of range (a ValueError and a TypeError,
    like scikit-learn's ``InvalidParameterError``)."""


def _checked(*, working_memory, engine, n_threads):
    """The settings to change (None means unchanged), validated; raises naming the parameter.

    This floor sits below ``kernelkit._utils``, so it cannot use ``validate_params``; the
    checks mirror its ``Interval(Real, 0, None, closed="neither")`` and ``StrOptions``.
    """
    out = {}
    if working_memory is not None:
        real = isinstance(working_memory, numbers.Real) and not isinstance(working_memory, bool)
        if not real or not (math.isfinite(working_memory) and working_memory > 0):
            raise _InvalidConfigError(
                "The 'working_memory' parameter must be a finite real number > 0 (MiB); "
                f"got {working_memory!r}."
            )
        out["working_memory"] = working_memory
    if engine is not None:
        if not isinstance(engine, str) or engine not in _ENGINES:
            raise _InvalidConfigError(
                f"The 'engine' parameter must be one of {_ENGINES}; got {engine!r}."
            )
        out["engine"] = engine
    if n_threads is not None:
        integral = isinstance(n_threads, numbers.Integral) and not isinstance(n_threads, bool)
        if not integral or (n_threads < 1 and n_threads != -1):
            raise _InvalidConfigError(
                f"The 'n_threads' parameter must be a positive int or -1 (all cores); "
                f"got {n_threads!r}."
            )
        out["n_threads"] = None if n_threads == -1 else int(n_threads)
    return out


@contextmanager
def config_context(*, working_memory=None, engine=None, n_threads=None):
    """Temporarily change the kernelkit configuration.

    The previous values come back when the block exits, even on error.
    kernelkit's joblib tasks (and through joblib, Dask tasks) run under the
    configuration in force where they were created.

    Parameters
    ----------
    working_memory : float, default=None
        Memory budget in MiB (finite, > 0) for one kernel product; see
        :func:`set_config`. ``None`` leaves it unchanged.
    engine : {"auto", "numpy", "cpu", "cuda"}, default=None
        Compute engine; ``None`` leaves it unchanged.
    n_threads : int, default=None
        Worker threads of the CPU engine, a positive int or ``-1`` (all
        cores); ``None`` leaves it unchanged.

    Yields
    ------
    None
        The body of the ``with`` block runs with the new settings.

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
    checked = _checked(working_memory=working_memory, engine=engine, n_threads=n_threads)
    config = _get_threadlocal_config()
    old = config.copy()
    config.update(checked)
    try:
        yield
    finally:
        _get_threadlocal_config().update(old)
