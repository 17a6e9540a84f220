"""Dense Cholesky solves on the host (LAPACK through SciPy) or the device (cuSOLVER via CuPy).

Callers hand in arrays of either namespace and get results in the same one, so
that a model fitted on CuPy arrays keeps its factorisations on the device.
"""

import numpy as np
import scipy.linalg

from . import get_namespace


def cholesky_factor(K):
    """Lower Cholesky factor of the symmetric positive definite ``K`` (overwritten on the host).

    Parameters
    ----------
    K : ndarray of shape (p, p)
        NumPy or CuPy matrix.

    Returns
    -------
    factor : object
        Opaque; pass it to :func:`cholesky_solve`.

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``K`` is not numerically positive definite.
    """
    xp = get_namespace(K)
    if xp is np:
        return scipy.linalg.cho_factor(K, lower=True, overwrite_a=True, check_finite=False)
    # cuSOLVER reports a failed factorisation as NaNs in the factor, not as an error.
    L = xp.linalg.cholesky(K)
    if not bool(xp.isfinite(L).all()):
        raise np.linalg.LinAlgError("The matrix is not positive definite.")
    return L


def cholesky_solve(factor, H):
    """``K⁻¹·H`` from the factor of :func:`cholesky_factor`, in H's namespace and dtype.

    Parameters
    ----------
    factor : object
        From :func:`cholesky_factor`.
    H : ndarray of shape (p, c)
        Right-hand sides.

    Returns
    -------
    theta : ndarray of shape (p, c)
    """
    if get_namespace(H) is np:
        return scipy.linalg.cho_solve(factor, H, check_finite=False).astype(H.dtype, copy=False)
    from cupyx.scipy.linalg import solve_triangular

    inner = solve_triangular(factor, H, lower=True)
    return solve_triangular(factor, inner, lower=True, trans="T").astype(H.dtype, copy=False)
