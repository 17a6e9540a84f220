"""Maximum mean discrepancy between samples, computed through the kernel operator."""

import math

import numpy as np

from .._backend import get_namespace, to_numpy
from .._utils._sklearn_compat import validate_params
from .._utils._validation import check_points
from ..kernels import make_kernel
from ..kernels._bandwidth import BANDWIDTH_CONSTRAINT, KERNEL_CONSTRAINT
from ..linalg import KernelOperator


def _quadratic_form(kernel, X, w):
    """wᵀ K(X, X) w in float64 on the host."""
    return _dot64(w, KernelOperator(kernel, X) @ _device(w, X))


def _dot64(w, Kv):
    """wᵀ(Kv) in float64, reduced where Kv lives: only the scalar comes back."""
    xp = get_namespace(Kv)
    w = w if xp is np else xp.asarray(w)
    return float(w @ Kv.astype(xp.float64))


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "kernel": KERNEL_CONSTRAINT,
        "weights": ["array-like", None],
        "bandwidth": BANDWIDTH_CONSTRAINT,
    },
    prefer_skip_nested_validation=True,
)
def mmd(X, Y, kernel="gaussian", weights=None, *, bandwidth=None):
    """Maximum mean discrepancy between the empirical measures of X and (weighted) Y.

    MMD² = mean k(X, X) − 2·mean_w k(X, Y) + mean_{w,w} k(Y, Y), each term computed
    by a blocked kernel product (memory O((n + m)·d)).

    Parameters
    ----------
    X : array-like of shape (n, d)
        First sample (uniform weights).
    Y : array-like of shape (m, d)
        Second sample.
    kernel : str, Kernel or callable, default="gaussian"
        The kernel.
    weights : array-like of shape (m,), default=None
        Non-negative weights of Y, normalised to sum to one; ``None`` is uniform.
    bandwidth : float or {"median", "scale"}, default=None
        Resolved like :func:`kernelkit.make_kernel` on X: ``None`` gives a kernel
        named by string the median rule on X and keeps a kernel object's own
        bandwidth; a number or a rule overrides either.

    Returns
    -------
    mmd : float
        The (non-negative) maximum mean discrepancy.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import mmd
    >>> X = np.array([[0.0], [1.0]])
    >>> round(mmd(X, X[:1], "gaussian", bandwidth=1.0), 6)
    0.443548
    """
    X = check_points(X, "X")
    Y = check_points(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but Y has {Y.shape[1]}; they must match.")
    m = Y.shape[0]
    if weights is None:
        w = np.full(m, 1.0 / m)
    else:
        # Validated on the host (m values, counted once); the products stay on the device.
        w = np.asarray(to_numpy(weights, "mmd: weights to the host for checks"), np.float64)
        if w.shape != (m,):
            raise ValueError(f"weights must have shape ({m},); got {w.shape}.")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("weights must be finite, non-negative and not all zero.")
        w = w / w.sum()
    k = make_kernel(kernel, bandwidth, X=X)  # after the cheap checks: the rule costs O(n²)
    n = X.shape[0]
    u = np.full(n, 1.0 / n)
    xx = _quadratic_form(k, X, u)
    kxy = KernelOperator(k, X, Y.astype(X.dtype, copy=False)).matvec(_device(w, X))
    xy = _dot64(u, kxy)
    yy = _quadratic_form(k, Y, w)
    return float(math.sqrt(max(float(xx) - 2.0 * xy + float(yy), 0.0)))


def _device(v, like):
    xp = get_namespace(like)
    return v.astype(like.dtype) if xp is np else xp.asarray(v, dtype=like.dtype)
