"""Kernel linear algebra: the lazy kernel operator and the products built on it.

:class:`KernelOperator` is the one engine for kernel products in kernelkit;
everything above this package computes kernel values through it.
"""

from ._distributed import kernel_dmmv, kernel_matmat, kernel_rmatmat
from ._operator import KernelOperator
from ._sampled import SampledGaussianOperator, SamplingFallbackWarning
from ._sampled_attention import softmax_attention

__all__ = [
    "KernelOperator",
    "SampledGaussianOperator",
    "SamplingFallbackWarning",
    "kernel_dmmv",
    "kernel_matmat",
    "kernel_rmatmat",
    "softmax_attention",
]
