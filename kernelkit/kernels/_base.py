"""The kernel base class, the reference distance computation and callable kernels.

Kernels are value objects that compute blocks K(A, B) and diagonals; every
product over more than one block goes through :class:`kernelkit.KernelOperator`.
"""

import numpy as np

from .._backend import get_namespace
from .._utils._validation import check_points, check_positive_scalar, check_same_features

# Pairs whose expanded squared distance ||x||^2 + ||z||^2 - 2<x, z> is below
# tol * (||x||^2 + ||z||^2) are recomputed from coordinates (see _backend/cpu.py).
_CANCELLATION_TOL = {np.dtype(np.float64): 1e-3, np.dtype(np.float32): 3e-2}


def _centre(A, B, xp):
    """Shift A and B by the mean of B: distances are unchanged, cancellation shrinks."""
    shift = xp.mean(B, axis=0)
    return A - shift, B - shift


def squared_distances(A, B):
    """Exact ||a_i - b_j||² for two blocks in their array namespace (the reference path).

    Uses the GEMM expansion, then recomputes from coordinates every pair
    whose expansion lost digits to cancellation.
    """
    xp = get_namespace(A, B)
    A, B = _centre(A, B, xp)
    asq = xp.sum(A * A, axis=1)
    bsq = xp.sum(B * B, axis=1)
    norms = asq[:, None] + bsq[None, :]
    D2 = norms - 2.0 * (A @ B.T)
    tol = _CANCELLATION_TOL[np.dtype(str(A.dtype))]
    rows, cols = xp.nonzero(D2 < tol * norms)
    if rows.shape[0]:
        diff = A[rows] - B[cols]
        D2[rows, cols] = xp.sum(diff * diff, axis=1)
    return xp.maximum(D2, 0.0, out=D2) if xp is np else xp.maximum(D2, 0.0)


class Kernel:
    """Base class of kernelkit kernels.

    Subclasses set ``name`` and implement :meth:`_block` (or, for radial
    kernels, :meth:`finish`). Kernels are immutable value objects: compare
    equal when their parameters are equal and pickle cleanly.
    """

    name = "kernel"
    #: whether ``finish`` expects squared distances (else plain distances)
    squared = True
    #: whether engines may run the fused (never materialised) kernel product
    radial = True

    def __init__(self, bandwidth=1.0):
        self.bandwidth = bandwidth

    # -- parameters -------------------------------------------------------
    #: constructor arguments, in order: what get_params, repr and equality see
    _param_names = ("bandwidth",)

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params):
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"Invalid parameter {key!r} for kernel {type(self).__name__}.")
            setattr(self, key, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_params() == other.get_params()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_params().items()))))

    def with_bandwidth(self, bandwidth):
        """A copy of this kernel with another bandwidth."""
        params = self.get_params()
        params["bandwidth"] = bandwidth
        return type(self)(**params)

    # -- values -----------------------------------------------------------
    def _checked_bandwidth(self):
        if isinstance(self.bandwidth, str):
            raise ValueError(
                f"{self!r} has the unresolved bandwidth rule {self.bandwidth!r}; call "
                "kernelkit.make_kernel(kernel, X=data) or kernel.resolve(X) first."
            )
        return check_positive_scalar(self.bandwidth, "bandwidth")

    def distance_scale(self):
        """Factor applied to the (squared) distance before :meth:`finish`."""
        raise NotImplementedError  # pragma: no cover - every radial subclass overrides

    def finish(self, T, xp=np):
        """Map scaled distances T to kernel values, in place when possible; return the result."""
        raise NotImplementedError  # pragma: no cover - every radial subclass overrides

    def exponential_form(self):
        """``(squared, scale)`` when k = exp(scale · d) with d the (squared) distance, else None.

        Engines that fuse the whole product (the CUDA kernel) take these two
        numbers instead of the kernel object.
        """
        return None

    def __call__(self, A, B=None):
        """Kernel matrix K(A, B) (``B=None``: K(A, A)) in the namespace and dtype of A."""
        A = check_points(A, "A")
        B = A if B is None else check_points(B, "B")
        check_same_features(A, B, "A", "B")
        if A.dtype != B.dtype:
            B = B.astype(A.dtype)
        return self._block(A, B)

    def _block(self, A, B):
        """K(A, B) for validated arrays of one dtype (the reference path)."""
        xp = get_namespace(A, B)
        self._checked_bandwidth()
        T = squared_distances(A, B)
        if not self.squared:
            T = xp.sqrt(T, out=T) if xp is np else xp.sqrt(T)
        T *= A.dtype.type(self.distance_scale())
        return self.finish(T, xp)

    def diag(self, A):
        """The diagonal k(a_i, a_i), without forming K(A, A)."""
        A = check_points(A, "A")
        xp = get_namespace(A)
        self._checked_bandwidth()
        zero = xp.zeros((A.shape[0],), dtype=A.dtype)
        return self.finish(zero, xp)

    def max_diagonal(self, A=None):
        """β = max_x k(x, x): 1 for every radial kernel here."""
        return 1.0

    def resolve(self, X=None, random_state=None):
        """Return a copy whose bandwidth rule ("median"/"scale") is replaced by a number."""
        if not isinstance(self.bandwidth, str):
            self._checked_bandwidth()
            return self
        if X is None:
            raise ValueError(f"bandwidth={self.bandwidth!r} needs data X to be resolved.")
        from ._bandwidth import estimate_bandwidth  # the rules build on this module

        return self.with_bandwidth(estimate_bandwidth(X, rule=self.bandwidth))

    def power(self, alpha, n_features=None):
        """The α-power kernel of this kernel; see :func:`kernelkit.kernels.power_kernel`.

        Parameters
        ----------
        alpha : float
            Power in [1/2, 1].
        n_features : int, default=None
            Dimension of the data (needed for Laplacian, Matérn and IMQ kernels).

        Returns
        -------
        kernel : Kernel
            The power kernel.
        """
        from ._power import power_kernel  # power kernels are built from the subclasses

        return power_kernel(self, alpha, n_features)


class CallableKernel(Kernel):
    """Wrap any function ``f(A, B) -> (len(A), len(B)) array`` as a kernel.

    The function must be symmetric positive semi-definite for the methods
    that assume it (EigenPro, SQUEAK, thinning). Products with it are
    blocked like any other kernel but never fused. ``bandwidth`` is unused.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import CallableKernel
    >>> linear = CallableKernel(lambda A, B: A @ B.T)
    >>> linear(np.array([[1.0, 2.0]]))
    array([[5.]])
    """

    name = "callable"
    radial = False

    def __init__(self, function, bandwidth=None):
        self.function = function
        self.bandwidth = bandwidth

    _param_names = ("function", "bandwidth")

    def _block(self, A, B):
        K = self.function(A, B)
        xp = get_namespace(A)
        K = xp.asarray(K)
        if K.shape != (A.shape[0], B.shape[0]):
            raise ValueError(
                f"The kernel function returned shape {tuple(K.shape)}; expected "
                f"{(A.shape[0], B.shape[0])}."
            )
        return K.astype(A.dtype, copy=False)

    def diag(self, A, block_size=256):
        A = check_points(A, "A")
        xp = get_namespace(A)
        parts = [
            xp.diagonal(self._block(A[i : i + block_size], A[i : i + block_size]))
            for i in range(0, A.shape[0], block_size)
        ]
        return xp.concatenate(parts)

    def max_diagonal(self, A=None):
        if A is None:
            raise ValueError("A callable kernel needs data to bound its diagonal.")
        return float(self.diag(A).max())

    def resolve(self, X=None, random_state=None):
        return self
