"""Kernel linear algebra: the lazy kernel operator and the products built on it.

:class:`KernelOperator` is the one engine for kernel products in kernelkit;
everything above this package computes kernel values through it.
"""

from ._distributed import kernel_matmat, kernel_rmatmat
from ._operator import KernelOperator

__all__ = ["KernelOperator", "kernel_matmat", "kernel_rmatmat"]
