"""Graph input checks, the walk matrix ``B`` and the exact (dense) graph kernels."""

from numbers import Real

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import check_non_negative

from .._utils._device import to_device, to_host
from .._utils._sklearn_compat import Interval, StrOptions, validate_params
from ._modulation import KERNELS, resolve_parameters

_ASYMMETRY_TOL = 1e-10


#: ``count_transfers`` key of the one copy of a CuPy adjacency matrix to the host.
TO_HOST = "graph: adjacency to the host"


def check_adjacency(A, normalize, *, whom="GraphRandomFeatures"):
    """Validated float64 CSR copy of an adjacency matrix (duplicates summed, zeros dropped).

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n_nodes, n_nodes)
        Weighted adjacency matrix.
    normalize : {"symmetric"} or None
        Under ``"symmetric"`` the weights must be non-negative and symmetric.
    whom : str
        Name used in error messages.

    Returns
    -------
    W : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        A new matrix; ``A`` is never modified.
    """
    if sp.issparse(A):
        if A.ndim != 2:
            raise ValueError(f"A must be a 2-D square adjacency matrix; got shape {A.shape}.")
        W = sp.csr_array(A, dtype=np.float64, copy=True)
        W.sum_duplicates()
    else:
        W = check_array(A, dtype=np.float64, ensure_2d=True, input_name="A")
        W = sp.csr_array(W)
    if W.shape[0] != W.shape[1]:
        raise ValueError(
            f"A must be a square adjacency matrix (n_nodes, n_nodes); got shape {W.shape}."
        )
    if W.shape[0] == 0:
        raise ValueError("A is empty: a graph needs at least one node.")
    if not np.all(np.isfinite(W.data)):
        raise ValueError("A contains NaN or infinity; edge weights must be finite.")
    W.eliminate_zeros()
    if normalize == "symmetric":
        check_non_negative(W, f"{whom} (normalize='symmetric')")
        gap = abs(W - W.T)
        scale = max(float(abs(W).max()), 1.0) if W.nnz else 1.0
        if gap.nnz and float(gap.max()) > _ASYMMETRY_TOL * scale:
            raise ValueError(
                f"A must be symmetric under normalize='symmetric' (max |A - A.T| = "
                f"{float(gap.max()):.3g}); for a directed graph use normalize=None."
            )
        W = ((W + W.T) * 0.5).tocsr()  # exactly symmetric, so B.T == B bit for bit
        W.eliminate_zeros()
    W.sort_indices()
    return W


def walk_matrix(W, normalize):
    """``B = D^-1/2 W D^-1/2`` (``normalize="symmetric"``) or ``B = W`` (None).

    ``D`` holds the row sums (a self-loop counts once); isolated nodes get zero rows.

    Parameters
    ----------
    W : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        Validated adjacency (see :func:`check_adjacency`).
    normalize : {"symmetric"} or None
        The normalisation.

    Returns
    -------
    B : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        The matrix whose powers the kernel series sums.
    """
    if normalize is None:
        return W
    d = np.asarray(W.sum(axis=1)).ravel()
    scale = np.zeros_like(d)
    np.divide(1.0, np.sqrt(d), out=scale, where=d > 0)
    B = sp.csr_array(sp.diags_array(scale) @ W @ sp.diags_array(scale))
    B.sort_indices()
    return B


def kernel_spec(kernel, beta, power):
    """``(name, beta, power, alpha)``: a built-in kernel, or user coefficients (name None).

    Parameters
    ----------
    kernel : str or array-like
        Built-in name or coefficients ``alpha``.
    beta : float or None
        Scale of a built-in kernel.
    power : float or None
        Exponent of a built-in kernel.

    Returns
    -------
    spec : tuple
        ``(name, beta, power, alpha)`` with ``alpha`` None for built-ins.
    """
    if isinstance(kernel, str):
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS} or an array; got {kernel!r}.")
        beta, power = resolve_parameters(kernel, beta, power)
        return kernel, beta, power, None
    if beta is not None or power is not None:
        raise ValueError("beta and power only apply to named kernels; leave them as None.")
    alpha = np.asarray(kernel)
    if alpha.dtype.kind not in "fiu" or alpha.ndim != 1 or alpha.size == 0:
        raise ValueError(
            f"kernel coefficients must be a non-empty 1-D numeric array; got {kernel!r}."
        )
    alpha = alpha.astype(np.float64)
    if not np.all(np.isfinite(alpha)):
        raise ValueError("kernel coefficients must be finite.")
    if not alpha[0] > 0:
        raise ValueError(
            f"kernel coefficients need alpha_0 > 0 (f(0) = sqrt(alpha_0)); got {alpha[0]}."
        )
    return None, None, None, alpha


@validate_params(
    {
        "A": ["array-like", "sparse matrix"],
        "kernel": [StrOptions(set(KERNELS)), "array-like"],
        "beta": [Interval(Real, 0, None, closed="neither"), None],
        "power": [Interval(Real, 0, None, closed="neither"), None],
        "normalize": [StrOptions({"symmetric"}), None],
    },
    prefer_skip_nested_validation=True,
)
def exact_graph_kernel(A, kernel="diffusion", *, beta=None, power=None, normalize="symmetric"):
    """The exact node kernel ``K = sum_k alpha_k B^k`` as a dense matrix (small graphs).

    The oracle that :class:`GraphRandomFeatures` estimates: ``expm`` for the
    diffusion kernel, a linear solve (or a fractional power) for the regularised
    Laplacian, a matrix power for the p-step kernel, ``cosm`` for the cosine
    kernel and Horner's rule for user coefficients. ``O(n_nodes^3)`` time and
    ``O(n_nodes^2)`` memory.

    Parameters
    ----------
    A : {array-like, sparse matrix} of shape (n_nodes, n_nodes)
        Weighted adjacency matrix.
    kernel : {"diffusion", "regularized_laplacian", "p_step", "cosine"} or array-like, \
default="diffusion"
        The kernel (see :class:`GraphRandomFeatures`), or coefficients ``alpha``.
    beta : float, default=None
        Scale ``beta`` (None: the kernel's default).
    power : float, default=None
        ``d`` of the regularised Laplacian or ``p`` of the p-step kernel.
    normalize : {"symmetric"} or None, default="symmetric"
        ``B = D^-1/2 W D^-1/2`` or ``B = W``.

    Returns
    -------
    K : ndarray of shape (n_nodes, n_nodes)
        The kernel matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import exact_graph_kernel
    >>> A = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    >>> K = exact_graph_kernel(A, "p_step", beta=0.5, power=1)
    >>> np.round(K, 3)
    array([[1.   , 0.354, 0.   ],
           [0.354, 1.   , 0.354],
           [0.   , 0.354, 1.   ]])
    """
    # Dense matrix functions (expm, cosm, fractional powers) run on the host: a dense CuPy
    # adjacency crosses once and the kernel goes back to the device.
    xp, (A,) = to_host(TO_HOST, A)
    name, beta, power, alpha = kernel_spec(kernel, beta, power)
    B = walk_matrix(check_adjacency(A, normalize, whom="exact_graph_kernel"), normalize)
    return to_device(xp, _dense_kernel(B.toarray(), name, beta, power, alpha))


def _dense_kernel(B, name, beta, power, alpha):
    """The node kernel of the dense walk matrix ``B``."""
    eye = np.eye(B.shape[0])
    laplacian = eye - B
    if name == "diffusion":
        return sla.expm(-beta * laplacian)
    if name == "regularized_laplacian":
        M = eye + beta * laplacian
        if power == int(power):
            return np.linalg.matrix_power(np.linalg.solve(M, eye), int(power))
        return np.real(sla.fractional_matrix_power(M, -power))
    if name == "p_step":
        return np.linalg.matrix_power(eye + beta * B, power)
    if name == "cosine":
        return sla.cosm(beta * laplacian)
    return series_kernel(B, alpha)


def series_kernel(B, alpha):
    """``sum_k alpha_k B^k`` for a dense ``B`` by Horner's rule.

    Parameters
    ----------
    B : ndarray of shape (n, n)
        Dense walk matrix.
    alpha : ndarray of shape (n_terms,)
        Coefficients.

    Returns
    -------
    K : ndarray of shape (n, n)
        The truncated series.
    """
    eye = np.eye(B.shape[0])
    K = alpha[-1] * eye
    for a in alpha[-2::-1]:
        K = K @ B + a * eye
    return K


__all__ = ["check_adjacency", "exact_graph_kernel", "kernel_spec", "series_kernel", "walk_matrix"]
