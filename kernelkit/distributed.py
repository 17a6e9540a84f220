"""Kernel products over row-chunked Dask arrays (``pip install 'kernelkit[dask]'``).

The implementation lives in :mod:`kernelkit.linalg`; this module keeps the
public name ``kernelkit.distributed``.
"""

from .linalg import kernel_dmmv, kernel_matmat, kernel_rmatmat

__all__ = ["kernel_dmmv", "kernel_matmat", "kernel_rmatmat"]
