"""Kernel products over Dask arrays: rows of X stay in their partitions.

For data that does not fit one machine: ``X`` is a Dask array chunked by rows
(for example loaded with ``dask.array.from_zarr`` on a cluster); Z and the
right-hand side are small and are sent once to every worker. Each partition
computes its rows with the local :class:`~kernelkit.KernelOperator` (so the
CPU engine's threads and the caller's memory budget and engine apply on every
worker), and Dask schedules the partitions. Results never depend on the
number of workers: the
transposed product adds the partitions' partial sums with Dask's own tree
reduction (``sum``), whose shape depends on the number of partitions only.
"""

import sys
from functools import partial

import numpy as np

from .._backend import get_namespace
from .._utils._parallel import carry_config
from .._utils._sklearn_compat import validate_params
from .._utils._validation import check_points, check_same_features, check_vector_block
from ..kernels import make_kernel
from ..kernels._bandwidth import BANDWIDTH_CONSTRAINT, KERNEL_CONSTRAINT
from ._operator import KernelOperator

DASK_INSTALL = "Dask is needed: pip install 'kernelkit[dask]' (dask[distributed])."


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is a test dependency
        raise ImportError(DASK_INSTALL) from exc
    return dask, da


def is_dask_array(A):
    """Whether ``A`` is a ``dask.array.Array`` (without importing Dask when it is not loaded).

    Parameters
    ----------
    A : object
        Anything.

    Returns
    -------
    answer : bool
        False whenever Dask was never imported: then no Dask array can exist.
    """
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(A, module.Array)


def weighted_normal_product(kernel, X, Z, V, weights=None):
    """K(X, Z)ᵀ W K(X, Z) V in float64 for in-memory X, one kernel evaluation per entry.

    Parameters
    ----------
    kernel : Kernel
        Resolved kernel.
    X : ndarray of shape (n, n_features)
        Rows.
    Z : ndarray of shape (M, n_features)
        Columns.
    V : ndarray of shape (M, k)
        Right-hand side (cast to the operator's dtype).
    weights : ndarray of shape (n,) or None, default=None
        Diagonal of W (None: the identity).

    Returns
    -------
    out : ndarray of shape (M, k), float64
    """
    op = KernelOperator(kernel, X, Z)
    xp = get_namespace(X, V, weights)  # NumPy or CuPy throughout, never mixed
    V = V.astype(op.dtype, copy=False)
    if weights is None:
        return xp.asarray(op.dmmv(V), dtype=xp.float64)
    out = xp.zeros(V.shape, dtype=xp.float64)
    for rows, block in op.blocks():
        inner = block @ V
        inner *= weights[rows, None].astype(op.dtype, copy=False)
        out += block.T @ inner
    return out


def _rows_normal(kernel, X_block, Z, V, w_block=None):
    # One (1, M, k) float64 share per partition; Dask's sum adds the shares up a tree.
    w = None if w_block is None else np.asarray(w_block, dtype=np.float64)
    return weighted_normal_product(kernel, X_block, Z, V, w)[None]


def _rows_product(kernel, X_block, Z, V):
    return KernelOperator(kernel, X_block, Z).matmat(V)


def _rows_rproduct(kernel, X_block, Z, U_block):
    # One (1, m, k) slice per partition, stacked along a new leading axis and summed by Dask.
    return KernelOperator(kernel, X_block, Z).rmatmat(U_block)[None]


def _whole(da, A):
    """A small in-memory array as a one-chunk Dask array (one graph key: shipped once)."""
    return da.from_array(A, chunks=A.shape)


_PARAMS = {
    "kernel": KERNEL_CONSTRAINT,
    "X": ["array-like"],
    "Z": ["array-like"],
    "bandwidth": BANDWIDTH_CONSTRAINT,
}


def check_dask_rows(X, name="X"):
    """A 2-D numeric Dask array rechunked so that each partition holds whole rows.

    Parameters
    ----------
    X : dask.array.Array
        Candidate.
    name : str, default="X"
        Parameter name for error messages.

    Returns
    -------
    X : dask.array.Array
        One chunk along the features.
    """
    _, da = _dask()
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array; got {type(X).__name__}.")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D; got ndim={X.ndim}.")
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numeric; got dtype {X.dtype}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first."
        )
    # One partition must hold whole rows: a kernel value needs every feature.
    return X.rechunk({1: -1})


def rows_like(A, X, name, dtype=None):
    """``A`` (Dask or in-memory, 1-D or 2-D) as a Dask array chunked along the rows of X.

    Parameters
    ----------
    A : dask.array.Array or array-like of shape (n_samples,) or (n_samples, k)
        Per-row values (targets, weights).
    X : dask.array.Array of shape (n_samples, n_features)
        The rows A goes with.
    name : str
        Parameter name for error messages.
    dtype : dtype, default=None
        Cast to this dtype (None: keep).

    Returns
    -------
    A : dask.array.Array
        Chunked like the rows of X, one chunk along any second axis.
    """
    _, da = _dask()
    if not isinstance(A, da.Array):
        A = np.asarray(A)
    if A.ndim not in (1, 2) or A.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} must have {X.shape[0]} rows (one per row of X) and 1 or 2 dimensions; "
            f"got shape {A.shape}."
        )
    if not isinstance(A, da.Array):
        A = da.from_array(A, chunks=(X.chunks[0],) + tuple(A.shape[1:]))
    A = A.rechunk((X.chunks[0],) + ((-1,) if A.ndim == 2 else ()))
    return A if dtype is None else A.astype(dtype)


def _check_inputs(kernel, X, Z, bandwidth):
    """Validated (kernel, X, Z, dtype of the product) for a distributed product."""
    X = check_dask_rows(X)
    Z = check_points(Z, "Z")
    check_same_features(X, Z, "X", "Z")
    kernel = make_kernel(kernel, bandwidth, X=Z)
    dtype = np.result_type(X.dtype, Z.dtype) if X.dtype.kind == "f" else Z.dtype
    return kernel, X, Z, dtype


@validate_params({**_PARAMS, "V": ["array-like"]}, prefer_skip_nested_validation=True)
def kernel_matmat(kernel, X, Z, V, *, bandwidth=None):
    """Lazy K(X, Z) @ V for a Dask array X chunked by rows.

    Parameters
    ----------
    kernel : str, Kernel or callable
        The kernel (see :func:`kernelkit.make_kernel`).
    X : dask.array.Array of shape (n_samples, n_features)
        Row points, chunked along rows.
    Z : array-like of shape (n_centers, n_features)
        Column points (in memory; sent once to each worker).
    V : array-like of shape (n_centers,) or (n_centers, k)
        Right-hand side.
    bandwidth : float or {"median", "scale"}, default=None
        Resolved like :func:`kernelkit.make_kernel` on Z (``None``: the median
        rule for a kernel name, the object's own bandwidth for a Kernel).

    Returns
    -------
    KV : dask.array.Array of shape (n_samples,) or (n_samples, k)
        Lazy; call ``.compute()``. The dtype is float32 when X, Z are float32.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from kernelkit.distributed import kernel_matmat
    >>> X = np.random.default_rng(0).normal(size=(1000, 3))
    >>> y = kernel_matmat("gaussian", da.from_array(X, chunks=(250, 3)), X[:20], np.ones(20),
    ...                   bandwidth=1.0)
    >>> y.shape, y.npartitions
    ((1000,), 4)
    >>> from kernelkit import KernelOperator
    >>> K = KernelOperator("gaussian", X, X[:20], bandwidth=1.0)
    >>> bool(np.allclose(y.compute(), K @ np.ones(20)))
    True
    """
    _, da = _dask()
    kernel, X, Z, dtype = _check_inputs(kernel, X, Z, bandwidth)
    V = check_vector_block(V, Z.shape[0], "V", dtype=dtype)
    vector = V.ndim == 1
    V2 = V.reshape(-1, 1) if vector else V
    # The kernel is bound with partial, not passed as a blockwise keyword: on a distributed
    # cluster the keyword arrived as the first positional argument. The tasks run under the
    # caller's configuration (budget, engine), wherever Dask runs them.
    out = da.blockwise(
        carry_config(partial(_rows_product, kernel)),
        "ik",
        X,
        "if",
        _whole(da, Z),
        "jf",
        _whole(da, V2),
        "jk",
        dtype=dtype,
        concatenate=True,
    )
    return out[:, 0] if vector else out


@validate_params({**_PARAMS, "U": ["array-like"]}, prefer_skip_nested_validation=True)
def kernel_rmatmat(kernel, X, Z, U, *, bandwidth=None):
    """Lazy K(Z, X) @ U = K(X, Z).T @ U for a Dask array X chunked by rows.

    Each partition contributes K(Z, X_part) @ U_part; Dask's ``sum`` adds
    the partial products up a tree whose shape depends on the number of
    partitions only, so the result is the same for any number of workers.

    Parameters
    ----------
    kernel : str, Kernel or callable
        The kernel (see :func:`kernelkit.make_kernel`).
    X : dask.array.Array of shape (n_samples, n_features)
        Row points, chunked along rows.
    Z : array-like of shape (n_centers, n_features)
        Column points (in memory; sent once to each worker).
    U : dask.array.Array or array-like of shape (n_samples,) or (n_samples, k)
        Right-hand side with the rows of X (rechunked like X).
    bandwidth : float or {"median", "scale"}, default=None
        Resolved like :func:`kernelkit.make_kernel` on Z (``None``: the median
        rule for a kernel name, the object's own bandwidth for a Kernel).

    Returns
    -------
    KtU : dask.array.Array of shape (n_centers,) or (n_centers, k)
        Lazy; call ``.compute()``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from kernelkit.distributed import kernel_rmatmat
    >>> X = np.random.default_rng(0).normal(size=(600, 2))
    >>> out = kernel_rmatmat("laplacian", da.from_array(X, chunks=(200, 2)), X[:5], np.ones(600),
    ...                      bandwidth=1.0)
    >>> out.shape
    (5,)
    """
    _, da = _dask()
    kernel, X, Z, dtype = _check_inputs(kernel, X, Z, bandwidth)
    if not isinstance(U, da.Array):
        U = check_vector_block(U, X.shape[0], "U", dtype=dtype)
        U = da.from_array(U, chunks=(X.chunks[0],) + ((U.shape[1],) if U.ndim == 2 else ()))
    elif U.shape[0] != X.shape[0]:
        raise ValueError(f"U has {U.shape[0]} rows but X has {X.shape[0]}.")
    vector = U.ndim == 1
    U2 = (U[:, None] if vector else U).rechunk((X.chunks[0], -1)).astype(dtype)
    partials = da.blockwise(
        carry_config(partial(_rows_rproduct, kernel)),
        "bjk",
        X,
        "bf",
        _whole(da, Z),
        "jf",
        U2,
        "bk",
        adjust_chunks={"b": 1},
        dtype=dtype,
        concatenate=True,
    )
    out = partials.sum(axis=0, dtype=dtype)
    return out[:, 0] if vector else out


@validate_params(
    {**_PARAMS, "V": ["array-like"], "weights": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def kernel_dmmv(kernel, X, Z, V, *, weights=None, bandwidth=None):
    """Lazy K(X, Z)ᵀ W K(X, Z) V for a Dask array X chunked by rows (float64).

    The normal-equation product of Nyström kernel ridge (Falkon): each
    partition computes its share K_pᵀ W_p K_p V on its worker with
    :meth:`~kernelkit.KernelOperator.dmmv` (one kernel evaluation per entry,
    blocks bounded by ``working_memory``), and Dask's ``sum`` adds the
    (M, k) shares up a tree whose shape depends on the number of partitions
    only: the same bits for any number of workers.

    Parameters
    ----------
    kernel : str, Kernel or callable
        The kernel (see :func:`kernelkit.make_kernel`).
    X : dask.array.Array of shape (n_samples, n_features)
        Row points, chunked along rows.
    Z : array-like of shape (n_centers, n_features)
        Column points (in memory; sent once to each worker).
    V : array-like of shape (n_centers,) or (n_centers, k)
        Right-hand side.
    weights : dask.array.Array or array-like of shape (n_samples,), default=None
        Diagonal of W (None: the identity).
    bandwidth : float or {"median", "scale"}, default=None
        Resolved like :func:`kernelkit.make_kernel` on Z.

    Returns
    -------
    KtWKV : dask.array.Array of shape (n_centers,) or (n_centers, k)
        Lazy, float64; call ``.compute()``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from kernelkit.distributed import kernel_dmmv
    >>> from kernelkit import KernelOperator
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> out = kernel_dmmv("gaussian", da.from_array(X, chunks=(100, 3)), X[:10], np.ones(10),
    ...                   bandwidth=1.0)
    >>> K = KernelOperator("gaussian", X, X[:10], bandwidth=1.0).to_dense()
    >>> bool(np.allclose(out.compute(), K.T @ (K @ np.ones(10))))
    True
    """
    _, da = _dask()
    kernel, X, Z, dtype = _check_inputs(kernel, X, Z, bandwidth)
    V = check_vector_block(V, Z.shape[0], "V", dtype=dtype)
    vector = V.ndim == 1
    V2 = V.reshape(-1, 1) if vector else V
    args = [X, "bf", _whole(da, Z), "jf", _whole(da, V2), "jk"]
    if weights is not None:
        w = rows_like(weights, X, "weights", dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights must be 1-D; got shape {w.shape}.")
        args += [w, "b"]
    shares = da.blockwise(
        carry_config(partial(_rows_normal, kernel)),
        "bjk",
        *args,
        adjust_chunks={"b": 1},
        dtype=np.float64,
        concatenate=True,
    )
    out = shares.sum(axis=0, dtype=np.float64)
    return out[:, 0] if vector else out
