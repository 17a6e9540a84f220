"""Parameter constraints and kernel resolution shared by the samplers' front ends."""

import numbers

from .._utils._sklearn_compat import Interval, StrOptions
from ..kernels import BANDWIDTH_RULES, KERNEL_NAMES, Kernel, make_kernel

#: ``kernel`` of every sampler: a name, a Kernel object or a callable f(A, B).
KERNEL_CONSTRAINT = [StrOptions(set(KERNEL_NAMES)), Kernel, callable]
#: ``bandwidth``: a positive number, a rule, or None (see :func:`resolve_kernel`).
BANDWIDTH_CONSTRAINT = [
    Interval(numbers.Real, 0, None, closed="neither"),
    StrOptions(set(BANDWIDTH_RULES)),
    None,
]


def resolve_kernel(kernel, bandwidth, X):
    """The kernel resolved on X as every kernelkit front end resolves it.

    ``bandwidth=None`` means the median rule on X for a kernel given by name
    and the object's own bandwidth otherwise; the rule is deterministic.

    Parameters
    ----------
    kernel : str, Kernel or callable
        The kernel as the user gave it.
    bandwidth : float, {"median", "scale"} or None
        The bandwidth as the user gave it.
    X : ndarray of shape (n_samples, n_features)
        Data the rules are resolved on.

    Returns
    -------
    kernel : Kernel
        A kernel with a numeric bandwidth (callables keep none).
    """
    if isinstance(kernel, str) and bandwidth is None:
        # make_kernel's own default once the median rule is its default for names.
        bandwidth = "median"
    return make_kernel(kernel, bandwidth, X=X)
