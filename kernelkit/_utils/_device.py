"""The host/device boundary of algorithms that run on the host.

Estimators whose core runs on the CPU (SQUEAK's dictionary algebra, thinning's
swap bookkeeping, the STKR solvers, ...) still take and return CuPy arrays:
the inputs cross to the host once, through :func:`kernelkit._backend.to_numpy`
(so ``count_transfers`` sees each crossing), and the results go back with the
input namespace's ``asarray``. Keeping both directions here gives every
estimator the same rules: ``None`` passes, Python scalars stay scalars, only
numeric arrays go to the device (CuPy holds no strings or objects).
"""

import numpy as np

from .._backend import get_namespace, to_numpy


def to_host(reason, *arrays):
    """The namespace of ``arrays`` and the arrays on the host (one counted copy each).

    Parameters
    ----------
    reason : str
        Why the algorithm needs the host; ``count_transfers`` counts under
        ``f"{reason}"`` (one per device array).
    *arrays : array-like or None
        Inputs of one call; mixing NumPy and CuPy arrays raises ``TypeError``.

    Returns
    -------
    xp : module
        ``numpy`` or ``cupy``: where the results must go back.
    host : list
        The arrays, NumPy for device input and unchanged otherwise.
    """
    xp = get_namespace(*arrays)
    if xp is np:
        return xp, list(arrays)
    return xp, [None if a is None else to_numpy(a, reason) for a in arrays]


def to_device(xp, value):
    """``value`` in namespace ``xp``: numeric NumPy arrays are copied there, the rest kept.

    Parameters
    ----------
    xp : module
        ``numpy`` (nothing happens) or ``cupy``.
    value : object
        An array, or a tuple/list of them; other objects are returned as they are.

    Returns
    -------
    value : object
        The same structure with numeric arrays on the device.
    """
    if xp is np:
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return xp.asarray(value)
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(xp, v) for v in value)
    return value


def attributes_to_device(estimator, xp, names):
    """Move the fitted array attributes ``names`` of ``estimator`` to namespace ``xp``.

    Parameters
    ----------
    estimator : object
        A fitted estimator.
    xp : module
        Target namespace (``numpy``: nothing happens).
    names : iterable of str
        Attribute names; missing ones are skipped.

    Returns
    -------
    estimator : object
        The same estimator.
    """
    for name in names:
        if hasattr(estimator, name):
            setattr(estimator, name, to_device(xp, getattr(estimator, name)))
    return estimator
