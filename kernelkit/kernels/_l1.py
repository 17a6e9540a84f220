"""The Laplacian kernel with the L1 (Manhattan) norm, scikit-learn's ``laplacian_kernel``.

Its distances cannot come from the Euclidean GEMM expansion: the CPU engine
sums absolute differences with a Numba kernel (``kernelkit._backend.cpu``),
chosen by ``KernelOperator`` from the kernel's ``metric``; this module holds the
reference path (SciPy's ``cdist`` for NumPy, a loop over features for CuPy).
"""

import numpy as np

from .._backend import get_namespace
from ._base import _overflow_scale
from ._radial import ExponentialKernel


def _normalised_l1_distances(A, B):
    """``(D, s)`` with ||a_i − b_j||₁ = s · D_ij and s a power of two (1 for ordinary data)."""
    xp = get_namespace(A, B)
    if A.shape[0] == 0 or B.shape[0] == 0:
        return xp.zeros((A.shape[0], B.shape[0]), dtype=A.dtype), 1.0
    s = _overflow_scale(A, B, xp, metric="manhattan")
    if s != 1.0:
        A, B = A / A.dtype.type(s), B / B.dtype.type(s)
    if xp is np:
        from scipy.spatial.distance import cdist

        return cdist(A, B, metric="cityblock").astype(A.dtype, copy=False), s
    # One (n_A, n_B) temporary whatever the number of features.
    D = xp.zeros((A.shape[0], B.shape[0]), dtype=A.dtype)
    diff = xp.empty_like(D)
    for k in range(A.shape[1]):
        xp.subtract(A[:, k, None], B[None, :, k], out=diff)
        xp.abs(diff, out=diff)
        D += diff
    return D, s


def l1_distances(A, B):
    """||a_i − b_j||₁ for two blocks in their array namespace (the reference path).

    Data whose sums would overflow the dtype is rescaled by a power of two
    first; distances beyond the dtype's range come out as ``inf``.

    Parameters
    ----------
    A : array of shape (n_A, n_features)
        Row points (NumPy or CuPy), float32 or float64.
    B : array of shape (n_B, n_features)
        Column points, same namespace and dtype as ``A``.

    Returns
    -------
    D : array of shape (n_A, n_B)
        Manhattan distances, in the dtype of ``A``.
    """
    D, s = _normalised_l1_distances(A, B)
    if s != 1.0:
        with np.errstate(over="ignore"):
            D *= D.dtype.type(s)
    return D


class L1Laplacian(ExponentialKernel):
    """Laplacian kernel with the L1 norm: k(x, z) = exp(−‖x − z‖₁ / bandwidth).

    scikit-learn's ``laplacian_kernel(gamma=γ)`` is this kernel with
    ``bandwidth = 1 / γ``. It is the product over features of one-dimensional
    Laplacian kernels, so each feature contributes on its own scale: on one-hot
    and other mixed discrete features it often fits better than the Euclidean
    :class:`Laplacian` or the :class:`Gaussian`. Not rotation invariant; its
    ``"median"`` and ``"scale"`` bandwidth rules measure L1 distances (see
    :func:`kernelkit.estimate_bandwidth`). No power kernel is known for it.

    Parameters
    ----------
    bandwidth : float or {"median", "scale"}, default=1.0
        Length scale. A rule is resolved on data by :func:`make_kernel`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics.pairwise import laplacian_kernel
    >>> from kernelkit import L1Laplacian
    >>> X = np.array([[0.0, 1.0], [2.0, -1.0], [1.0, 1.0]])
    >>> K = L1Laplacian(bandwidth=2.0)(X)
    >>> round(float(K[0, 1]), 12)  # exp(-(2 + 2) / 2)
    0.135335283237
    >>> bool(np.allclose(K, laplacian_kernel(X, gamma=1 / 2.0), rtol=1e-12))
    True
    """

    name = "laplacian_l1"
    squared = False
    metric = "manhattan"

    def _coefficient(self):
        return -1.0

    def _distances(self, A, B):
        return _normalised_l1_distances(A, B)
