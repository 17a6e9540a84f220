"""The memory budget: the one place that reads ``working_memory``.

Every block size in kernelkit comes from here, so a ``config_context``
changes all of them at once and the arithmetic is written once.
"""

import math

from .._config import get_config

MIB = 2**20


def budget_bytes():
    """The configured ``working_memory`` in bytes.

    Returns
    -------
    n_bytes : int
        Bytes that one block of kernel values and its temporaries may occupy.

    Examples
    --------
    >>> from kernelkit import config_context
    >>> from kernelkit.linalg._budget import budget_bytes
    >>> with config_context(working_memory=2):
    ...     budget_bytes()
    2097152
    """
    return int(get_config()["working_memory"] * MIB)


def block_rows(n_columns, itemsize, *, buffers=2, n_rows=None):
    """Rows of a ``(rows, n_columns)`` block that fit the budget ``buffers`` times over.

    Parameters
    ----------
    n_columns : int
        Columns of the block.
    itemsize : int
        Bytes per value.
    buffers : int, default=2
        How many blocks of that shape are alive at once (values and temporaries).
    n_rows : int, default=None
        Upper bound on the answer (the matrix's row count).

    Returns
    -------
    rows : int
        At least 1, at most ``n_rows``.

    Examples
    --------
    >>> from kernelkit import config_context
    >>> from kernelkit.linalg._budget import block_rows
    >>> with config_context(working_memory=1):
    ...     block_rows(1024, 8, buffers=2)
    64
    """
    per_row = max(1, int(n_columns)) * int(itemsize) * int(buffers)
    rows = max(1, budget_bytes() // per_row)
    return int(rows if n_rows is None else max(1, min(rows, n_rows)))


def largest_square(itemsize, *, matrices=1):
    """Largest M such that ``matrices`` dense M×M arrays fit the budget.

    Parameters
    ----------
    itemsize : int
        Bytes per value.
    matrices : int, default=1
        Number of M×M arrays alive at once.

    Returns
    -------
    M : int

    Examples
    --------
    >>> from kernelkit import config_context
    >>> from kernelkit.linalg._budget import largest_square
    >>> with config_context(working_memory=8):
    ...     largest_square(8, matrices=2)
    724
    """
    return int(math.isqrt(budget_bytes() // (int(itemsize) * int(matrices))))


def check_fits(n_bytes, what, *, hint=""):
    """Raise ``MemoryError`` naming ``what`` when ``n_bytes`` exceeds the budget.

    Parameters
    ----------
    n_bytes : int
        Bytes the caller is about to allocate.
    what : str
        What the allocation is for, as the user knows it (e.g. "the 5000×5000
        center kernel").
    hint : str, default=""
        Extra advice appended to the message (e.g. the largest size that fits).

    Examples
    --------
    >>> from kernelkit import config_context
    >>> from kernelkit.linalg._budget import check_fits
    >>> with config_context(working_memory=1):
    ...     check_fits(2**19, "a small block")
    """
    limit = budget_bytes()
    if n_bytes > limit:
        message = (
            f"{what} needs {n_bytes / MIB:.1f} MiB but working_memory is {limit / MIB:.1f} MiB; "
            "raise it with kernelkit.config_context(working_memory=...) or set_config."
        )
        raise MemoryError(f"{message} {hint}".strip())
