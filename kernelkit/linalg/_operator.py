"""KernelOperator: the lazy kernel matrix K(X, Z) as a SciPy LinearOperator.

Products are computed tile by tile (see :mod:`kernelkit.linalg._tiles`): all
tiles alive at once never take more than ``working_memory`` MiB (see
:func:`kernelkit.config_context`), so an n×m kernel matrix is never stored,
and the tiles and the order of every sum depend on the budget and the shape
alone, so products are bit-identical for any number of threads. Every
estimator in kernelkit computes its kernel products through here.
"""

import numbers

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .._backend import cpu, get_namespace, select_engine
from .._config import get_config
from .._utils._validation import check_points, check_same_features, check_vector_block
from ..kernels import make_kernel
from ._budget import block_rows
from ._tiles import (
    batches,
    plan_tiles,
    run_tasks,
    sweep_both,
    sweep_dmmv,
    sweep_forward,
    sweep_transposed,
)


class KernelOperator(LinearOperator):
    """Lazy kernel matrix K(X, Z) of shape (n_samples_X, n_samples_Z).

    Supports ``@``, ``matvec``, ``matmat``, ``rmatvec``, ``rmatmat``, ``.T``,
    :meth:`diagonal`, :meth:`blocks`, :meth:`to_dense`, :meth:`take`,
    :meth:`dmmv` and :meth:`matmat_rmatmat`, for NumPy arrays (CPU engine) and
    CuPy arrays (GPU engine; results stay on the device). Products are
    computed and returned in the operator's dtype: float32 when X and Z are
    both float32, float64 otherwise.

    Parameters
    ----------
    kernel : str, Kernel or callable
        Kernel name (see :data:`kernelkit.kernels.KERNEL_NAMES`), kernel
        object, or a function ``f(A, B)`` returning a kernel block.
    X : array-like of shape (n_samples_X, n_features)
        Row points.
    Z : array-like of shape (n_samples_Z, n_features), default=None
        Column points; ``None`` means Z = X (a square, symmetric operator).
    bandwidth : float or {"median", "scale"}, default=None
        Resolved like :func:`kernelkit.make_kernel` on Z: ``None`` gives a
        kernel named by string the median rule on Z and keeps a kernel
        object's own bandwidth; a number or a rule overrides either.

    Attributes
    ----------
    kernel : Kernel
        The resolved kernel.
    X, Z : ndarray
        The validated points (not copied when already valid).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import KernelOperator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> K = KernelOperator("gaussian", X, bandwidth=1.5)
    >>> y = K @ np.ones(500)
    >>> y.shape
    (500,)
    >>> dense = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / (2 * 1.5**2))
    >>> bool(np.allclose(y, dense.sum(1), rtol=1e-12))
    True
    """

    def __init__(self, kernel, X, Z=None, *, bandwidth=None):
        X = check_points(X, "X")
        Z = X if Z is None else check_points(Z, "Z")
        check_same_features(X, Z, "X", "Z")
        get_namespace(X, Z)  # rejects mixed NumPy/CuPy
        dtype = np.result_type(X.dtype, Z.dtype)
        if X.dtype != dtype:
            X = X.astype(dtype)
        if Z.dtype != dtype:
            Z = Z.astype(dtype)
        self.kernel = make_kernel(kernel, bandwidth, X=Z)
        self.X = X
        self.Z = Z
        self._prepared = None
        super().__init__(dtype=np.dtype(dtype), shape=(X.shape[0], Z.shape[0]))

    @classmethod
    def _from_parts(cls, kernel, X, Z, prepared):
        """An operator on already validated arrays of one dtype (no checks, no centring)."""
        op = cls.__new__(cls)
        op.kernel, op.X, op.Z, op._prepared = kernel, X, Z, prepared
        LinearOperator.__init__(op, dtype=np.dtype(X.dtype), shape=(X.shape[0], Z.shape[0]))
        return op

    # -- views -----------------------------------------------------------------
    def take(self, rows=None, cols=None):
        """The sub-operator K(X[rows], Z[cols]), reusing this operator's checked data.

        Nothing is validated or centred again: the sub-operator shares the
        kernel, the arrays (views for slices, gathered copies for index arrays)
        and the centred columns of this one.

        Parameters
        ----------
        rows : slice, array of int or bool, or None, default=None
            Rows of X to keep; ``None`` keeps all.
        cols : slice, array of int or bool, or None, default=None
            Rows of Z to keep; ``None`` keeps all.

        Returns
        -------
        op : KernelOperator
            Shape ``(len(X[rows]), len(Z[cols]))``.

        Examples
        --------
        >>> import numpy as np
        >>> from kernelkit import KernelOperator
        >>> X = np.arange(10.0).reshape(5, 2)
        >>> K = KernelOperator("gaussian", X, bandwidth=2.0)
        >>> sub = K.take(rows=[0, 2], cols=slice(1, 4))
        >>> sub.shape
        (2, 3)
        >>> bool(np.allclose(sub.to_dense(), K.to_dense()[[0, 2]][:, 1:4]))
        True
        """
        rows = _check_index(rows, self.shape[0], "rows")
        cols = _check_index(cols, self.shape[1], "cols")
        xp = get_namespace(self.X)
        X = self.X[_on(xp, rows)]
        Z = self.Z[_on(xp, cols)]
        if self.Z is self.X and _same_index(rows, cols):
            Z = X
        prepared = None
        if xp is np and self.kernel.radial:
            shift, Zc, zsq = self._prepare()
            prepared = shift, np.ascontiguousarray(Zc[cols]), zsq[cols]
        return type(self)._from_parts(self.kernel, X, Z, prepared)

    # -- public products (overriding SciPy's so CuPy arrays pass unconverted) ---
    def matmat(self, V):
        """K(X, Z) @ V.

        Parameters
        ----------
        V : array of shape (n_samples_Z, k)
            Right-hand sides.

        Returns
        -------
        out : array of shape (n_samples_X, k)
            In the operator's dtype.
        """
        return self._checked_product(V, "V", transpose=False, columns="many")

    def matvec(self, v):
        """K(X, Z) @ v.

        Parameters
        ----------
        v : array of shape (n_samples_Z,) or (n_samples_Z, 1)
            Right-hand side.

        Returns
        -------
        out : array of shape (n_samples_X,) or (n_samples_X, 1)
            In the operator's dtype.
        """
        return self._checked_product(v, "v", transpose=False, columns="one")

    def rmatmat(self, U):
        """K(X, Z).T @ U = K(Z, X) @ U.

        Parameters
        ----------
        U : array of shape (n_samples_X, k)
            Right-hand sides.

        Returns
        -------
        out : array of shape (n_samples_Z, k)
            In the operator's dtype.
        """
        return self._checked_product(U, "U", transpose=True, columns="many")

    def rmatvec(self, u):
        """K(X, Z).T @ u.

        Parameters
        ----------
        u : array of shape (n_samples_X,) or (n_samples_X, 1)
            Right-hand side.

        Returns
        -------
        out : array of shape (n_samples_Z,) or (n_samples_Z, 1)
            In the operator's dtype.
        """
        return self._checked_product(u, "u", transpose=True, columns="one")

    def _checked_product(self, V, name, *, transpose, columns):
        V = check_vector_block(V, self.shape[0 if transpose else 1], name, dtype=self.dtype)
        if columns == "many":
            if V.ndim != 2:
                raise ValueError(f"{name} must be 2-D for a matrix product; got ndim={V.ndim}.")
            return self._product(V, transpose=transpose)
        if V.ndim == 2 and V.shape[1] != 1:
            raise ValueError(f"{name} must be one column; got shape {tuple(V.shape)}.")
        out = self._product(V.reshape(-1, 1), transpose=transpose)
        return out if V.ndim == 2 else out[:, 0]

    def _columns(self, V, n_rows, name):
        """(V as a 2-D block in the operator's dtype, whether it was 1-D)."""
        V = check_vector_block(V, n_rows, name, dtype=self.dtype)
        return (V.reshape(-1, 1), True) if V.ndim == 1 else (V, False)

    def matmat_rmatmat(self, V, U):
        """(K @ V, Kᵀ @ U) in one sweep: each kernel tile is computed once and used twice.

        Parameters
        ----------
        V : array of shape (n_samples_Z,) or (n_samples_Z, k1)
            Multiplied by K.
        U : array of shape (n_samples_X,) or (n_samples_X, k2)
            Multiplied by Kᵀ.

        Returns
        -------
        KV : array of shape (n_samples_X,) or (n_samples_X, k1)
            K @ V, in the operator's dtype.
        KtU : array of shape (n_samples_Z,) or (n_samples_Z, k2)
            Kᵀ @ U, in the operator's dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from kernelkit import KernelOperator
        >>> X = np.random.default_rng(0).normal(size=(50, 2))
        >>> K = KernelOperator("laplacian", X, X[:20], bandwidth=1.0)
        >>> KV, KtU = K.matmat_rmatmat(np.ones(20), np.ones(50))
        >>> bool(np.allclose(KV, K @ np.ones(20))), bool(np.allclose(KtU, K.T @ np.ones(50)))
        (True, True)
        """
        V2, v_one = self._columns(V, self.shape[1], "V")
        U2, u_one = self._columns(U, self.shape[0], "U")
        KV, KtU = sweep_both(self, V2, U2)
        return (KV[:, 0] if v_one else KV), (KtU[:, 0] if u_one else KtU)

    def dmmv(self, v, w=None):
        """Kᵀ(K v + w) in one pass over the rows of K (Falkon's and EigenPro's normal equations).

        Each budget-sized row stripe of K is computed once and used twice, so the
        product costs one kernel evaluation per entry, not two. Stripes run on
        the CPU engine's threads, each group of stripes summing into its own
        accumulator; the accumulators are added in a fixed order.

        Parameters
        ----------
        v : array of shape (n_samples_Z,) or (n_samples_Z, k)
            Right-hand side multiplied by K.
        w : array of shape (n_samples_X,) or (n_samples_X, k), default=None
            Added to K v before the transpose product; ``None`` means zero.

        Returns
        -------
        out : array of shape (n_samples_Z,) or (n_samples_Z, k)
            Kᵀ(K v + w), in the operator's dtype.
        """
        V, one = self._columns(v, self.shape[1], "v")
        W = None
        if w is not None:
            W, _ = self._columns(w, self.shape[0], "w")
            if W.shape[1] != V.shape[1]:
                raise ValueError(
                    f"w has {W.shape[1]} columns but v has {V.shape[1]}; they must match."
                )
        out = sweep_dmmv(self, V, W)
        return out[:, 0] if one else out

    def dot(self, x):
        """K @ x for a vector or a matrix (or the product with another LinearOperator).

        Parameters
        ----------
        x : array, scalar or LinearOperator
            Right operand.

        Returns
        -------
        out : array or LinearOperator
            The product.
        """
        if isinstance(x, LinearOperator):
            return super().dot(x)
        if np.isscalar(x):
            return super().dot(x)
        return self.matvec(x) if getattr(x, "ndim", np.ndim(x)) == 1 else self.matmat(x)

    __matmul__ = dot

    def __call__(self, x):
        return self.dot(x)

    _matvec = matvec
    _matmat = matmat
    _rmatvec = rmatvec
    _rmatmat = rmatmat

    def _transpose(self):
        return type(self)._from_parts(self.kernel, self.Z, self.X, None)

    _adjoint = _transpose

    def diagonal(self):
        """k(x_i, z_i) for i < min(n_X, n_Z); for Z = X, the kernel's diagonal.

        Returns
        -------
        diag : array of shape (min(n_samples_X, n_samples_Z),)
            In the operator's dtype.
        """
        if self.Z is self.X:
            return self.kernel.diag(self.X)
        r = min(self.shape)
        xp = get_namespace(self.X)
        engine = select_engine(self.X)
        parts = [xp.diagonal(self._values(s, s, engine)) for s in batches(r, 256)]
        return xp.concatenate(parts) if parts else xp.zeros((0,), dtype=self.dtype)

    def to_dense(self, out=None):
        """Materialise K(X, Z) (n_X × n_Z values: for small problems).

        Parameters
        ----------
        out : array of shape (n_samples_X, n_samples_Z), default=None
            Filled in place when given; it must have the operator's dtype and
            live on the same device as X.

        Returns
        -------
        K : array of shape (n_samples_X, n_samples_Z)
            ``out`` when given.
        """
        if out is not None:
            xp = get_namespace(self.X, out)
            if tuple(out.shape) != self.shape:
                raise ValueError(f"out must have shape {self.shape}; got {tuple(out.shape)}.")
            if out.dtype != self.dtype:
                raise ValueError(f"out must have dtype {self.dtype}; got {out.dtype}.")
            if xp is np and not out.flags.writeable:
                raise ValueError("out is read-only.")
        return self._dense_rows(slice(0, self.shape[0]), out)

    # -- blocking ------------------------------------------------------------
    def _n_threads(self):
        n = get_config()["n_threads"]
        return n if n is not None else cpu.default_n_threads()

    def blocks(self, rows=None):
        """Yield ``(row_slice, K[row_slice, :])`` over X in budget-sized row blocks.

        For consumers that need kernel values themselves (thinning, SQUEAK).

        Parameters
        ----------
        rows : int, default=None
            Rows per block; ``None`` takes as many as fit ``working_memory``.

        Yields
        ------
        row_slice : slice
            Rows of X in the block.
        block : array of shape (n_rows_in_block, n_samples_Z)
            The kernel values of those rows.
        """
        if rows is None:
            rows = block_rows(self.shape[1], self.dtype.itemsize, n_rows=self.shape[0])
        elif isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 1:
            raise ValueError(f"rows must be a positive integer or None; got {rows!r}.")
        for sl in batches(self.shape[0], rows):
            yield sl, self._dense_rows(sl)

    def _engine_and_workers(self, *arrays):
        engine = select_engine(self.X, *arrays)
        if engine != "cpu":
            return engine, 1
        if self.kernel.radial:
            self._prepare()  # once, before the workers need it
        return engine, self._n_threads()

    def _dense_rows(self, rs, out=None):
        """K[rs, :], its tiles computed on the CPU engine's threads (into ``out`` if given)."""
        engine, n_threads = self._engine_and_workers()
        xp = get_namespace(self.X)
        n_rows, m = rs.stop - rs.start, self.shape[1]
        plan = plan_tiles(n_rows, m, self.dtype.itemsize)
        if out is None:
            out = xp.empty((n_rows, m), dtype=self.dtype)
        col_tiles = batches(m, plan.cols)

        def fill(tile):
            for cs in col_tiles:
                rows = slice(rs.start + tile.start, rs.start + tile.stop)
                self._values(rows, cs, engine, out=out[tile, cs])

        run_tasks(
            fill, batches(n_rows, plan.rows), min(n_threads, plan.max_live), n_values=n_rows * m
        )
        return out

    def _prepare(self):
        """Centred copies for the CPU engine (centring on mean(Z) limits cancellation)."""
        if self._prepared is None:
            if self.kernel.metric == "manhattan":
                # Sums of |x - z| have no expansion to cancel: no shift, no norms.
                shift = np.zeros(self.Z.shape[1], dtype=self.Z.dtype)
                Zc = np.ascontiguousarray(self.Z)
                zsq = np.zeros(self.Z.shape[0], dtype=self.Z.dtype)
            else:
                shift = self.Z.mean(axis=0)
                Zc = np.ascontiguousarray(self.Z - shift)
                zsq = np.einsum("ij,ij->i", Zc, Zc)
            self._prepared = shift, Zc, zsq
        return self._prepared

    def _values(self, rs, cs, engine=None, out=None):
        """K[rs, cs] (written into ``out`` when given, which is then returned)."""
        engine = engine or select_engine(self.X)
        kernel = self.kernel
        if engine == "cpu" and kernel.radial:
            shift, Zc, zsq = self._prepare()
            direct = out if out is not None and out.flags.c_contiguous else None
            if kernel.metric == "manhattan":
                T = cpu.l1_distance_block(self.X[rs], Zc[cs], kernel.distance_scale(), out=direct)
            else:
                Xb = np.ascontiguousarray(self.X[rs] - shift)
                T = cpu.distance_block(
                    Xb, Zc[cs], zsq[cs], kernel.squared, kernel.distance_scale(), out=direct
                )
            T = kernel.finish(T)
        else:
            T = kernel._block(self.X[rs], self.Z[cs])  # a callable kernel checks its output
        if out is None:
            return T
        if T is not out:
            out[...] = T
        return out

    # -- sweeps ----------------------------------------------------------------
    def _fused(self, engine, V, transpose):
        """The fused CUDA product when it applies, else None."""
        if engine != "cuda" or not self._fused_cuda_ok():
            return None
        from .._backend import cuda  # numba.cuda loads only when the GPU engine runs

        squared, scale = self.kernel.exponential_form()
        manhattan = self.kernel.metric == "manhattan"
        A, B = (self.Z, self.X) if transpose else (self.X, self.Z)
        return cuda.fused_matmat(squared, scale, A, B, V, manhattan=manhattan)

    def _product(self, V, transpose):
        engine, n_threads = self._engine_and_workers(V)
        fused = self._fused(engine, V, transpose)
        if fused is not None:
            return fused
        if transpose:
            return sweep_transposed(self, V, engine, n_threads)
        return sweep_forward(self, V, engine, n_threads)

    def _fused_cuda_ok(self):
        if self.kernel.exponential_form() is not None:
            return True
        if get_namespace(self.X) is np:
            raise ValueError(
                f"The fused CUDA kernel supports the Gaussian and the (Euclidean and L1) "
                f"Laplacian kernels; got "
                f"{self.kernel!r}. Pass CuPy arrays to use the blocked GPU path instead."
            )
        return False


def _check_index(index, n, name):
    """A slice or a 1-D array of row positions (booleans: a mask of length n).

    Device index arrays are checked on the device (only scalars come back), so
    that a fit drawing its batches there never copies them to the host.
    """
    if index is None:
        return slice(0, n)
    if isinstance(index, slice):
        return index
    xp = get_namespace(index)
    arr = np.asarray(index) if xp is np else index
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a slice or a 1-D index array; got ndim={arr.ndim}.")
    if arr.dtype == bool:
        if arr.shape[0] != n:
            raise ValueError(f"{name} is a mask of length {arr.shape[0]}; expected {n}.")
        return xp.flatnonzero(arr)
    if arr.size == 0:
        return arr.astype(xp.intp)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer positions; got dtype {arr.dtype}.")
    if int(arr.min()) < -n or int(arr.max()) >= n:
        raise ValueError(f"{name} has positions outside [-{n}, {n}).")
    return arr.astype(xp.intp, copy=False)


def _on(xp, index):
    return index if xp is np or isinstance(index, slice) else xp.asarray(index)


def _same_index(a, b):
    if isinstance(a, slice) or isinstance(b, slice):
        return isinstance(a, slice) and isinstance(b, slice) and a == b
    if a is b:
        return True
    xp = get_namespace(a)
    if get_namespace(b) is not xp:  # one host, one device index: compare nothing
        return False
    return a.shape == b.shape and bool(xp.array_equal(a, b))
