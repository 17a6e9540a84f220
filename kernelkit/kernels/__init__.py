"""Kernel functions: value objects that compute blocks K(A, B) and diagonals.

Every radial kernel here is k(x, z) = φ(‖x − z‖ / bandwidth), with the Euclidean
norm or, for :class:`L1Laplacian`, the L1 norm (the ``metric`` attribute). Strings accepted
wherever a kernel is: see :data:`KERNEL_NAMES`.
"""

from ._bandwidth import (
    BANDWIDTH_RULES,
    KERNEL_NAMES,
    KERNELS,
    METRICS,
    estimate_bandwidth,
    make_kernel,
)
from ._base import CallableKernel, Kernel, squared_distances
from ._l1 import L1Laplacian, l1_distances
from ._power import min_power, power_kernel
from ._radial import (
    Cauchy,
    Gaussian,
    GeneralMatern,
    InverseMultiquadric,
    InverseMultiquadricPower,
    Laplacian,
    Matern,
    SumKernel,
)

__all__ = [
    "BANDWIDTH_RULES",
    "KERNELS",
    "KERNEL_NAMES",
    "METRICS",
    "CallableKernel",
    "Cauchy",
    "Gaussian",
    "GeneralMatern",
    "InverseMultiquadric",
    "InverseMultiquadricPower",
    "Kernel",
    "L1Laplacian",
    "Laplacian",
    "Matern",
    "SumKernel",
    "estimate_bandwidth",
    "l1_distances",
    "make_kernel",
    "min_power",
    "power_kernel",
    "squared_distances",
]
