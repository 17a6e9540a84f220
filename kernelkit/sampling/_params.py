"""Parameter constraints shared by the samplers' front ends."""

import numbers

from .._utils._sklearn_compat import Interval, StrOptions
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, Kernel

#: ``kernel`` of every sampler: a name, a Kernel object or a callable f(A, B).
KERNEL_CONSTRAINT = [StrOptions(set(KERNEL_NAMES)), Kernel, callable]
#: ``bandwidth``: a positive number, a rule, or None (see :func:`kernelkit.make_kernel`).
BANDWIDTH_CONSTRAINT = [
    Interval(numbers.Real, 0, None, closed="neither"),
    StrOptions(set(BANDWIDTH_RULES)),
    None,
]
