"""KernelOperator: the lazy kernel matrix K(X, Z) as a SciPy LinearOperator.

Products are computed block by block; a block of kernel values never takes
more than ``working_memory`` MiB per worker thread (see
:func:`kernelkit.config_context`), so an n×m kernel matrix is never stored.
Every estimator in kernelkit computes its kernel products through here.
"""

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .._backend import cpu, get_namespace, select_engine
from .._config import get_config
from .._utils._validation import check_points, check_same_features, check_vector_block
from ..kernels import make_kernel

_MIB = 2**20
_CACHE_FRIENDLY_TILE = 32 * _MIB


class KernelOperator(LinearOperator):
    """Lazy kernel matrix K(X, Z) of shape (n_samples_X, n_samples_Z).

    Supports ``@``, ``matvec``, ``matmat``, ``rmatvec``, ``rmatmat``, ``.T``,
    :meth:`diagonal` and :meth:`blocks`, for NumPy arrays (CPU engine) and
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
        Overrides the kernel's bandwidth; a rule is resolved on Z.
    random_state : int, RandomState or None, default=None
        Seeds the ``"median"`` bandwidth rule.

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

    def __init__(self, kernel, X, Z=None, *, bandwidth=None, random_state=None):
        X = check_points(X, "X")
        Z = X if Z is None else check_points(Z, "Z")
        check_same_features(X, Z, "X", "Z")
        get_namespace(X, Z)  # rejects mixed NumPy/CuPy
        dtype = np.result_type(X.dtype, Z.dtype)
        if X.dtype != dtype:
            X = X.astype(dtype)
        if Z.dtype != dtype:
            Z = Z.astype(dtype)
        self.kernel = make_kernel(kernel, bandwidth, X=Z, random_state=random_state)
        self.X = X
        self.Z = Z
        self._prepared = None
        super().__init__(dtype=np.dtype(dtype), shape=(X.shape[0], Z.shape[0]))

    # -- public products (overriding SciPy's so CuPy arrays pass unconverted) ---
    def matmat(self, V):
        """K(X, Z) @ V for V of shape (n_samples_Z, k)."""
        return self._checked_product(V, "V", transpose=False, columns="many")

    def matvec(self, v):
        """K(X, Z) @ v for v of shape (n_samples_Z,) or (n_samples_Z, 1)."""
        return self._checked_product(v, "v", transpose=False, columns="one")

    def rmatmat(self, U):
        """K(X, Z).T @ U = K(Z, X) @ U for U of shape (n_samples_X, k)."""
        return self._checked_product(U, "U", transpose=True, columns="many")

    def rmatvec(self, u):
        """K(X, Z).T @ u for u of shape (n_samples_X,) or (n_samples_X, 1)."""
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

    def dmmv(self, v, w=None):
        """Kᵀ(K v + w) in one pass over the rows of K (Falkon's and EigenPro's normal equations).

        Each budget-sized row block of K is computed once and used twice, so the
        product costs one kernel evaluation per entry, not two.

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
        one = getattr(v, "ndim", np.ndim(v)) == 1
        V = check_vector_block(v, self.shape[1], "v", dtype=self.dtype)
        V = V.reshape(-1, 1) if V.ndim == 1 else V
        W = None
        if w is not None:
            W = check_vector_block(w, self.shape[0], "w", dtype=self.dtype)
            W = W.reshape(-1, 1) if W.ndim == 1 else W
            if W.shape[1] != V.shape[1]:
                raise ValueError(
                    f"w has {W.shape[1]} columns but v has {V.shape[1]}; they must match."
                )
        xp = get_namespace(self.X, V)
        out = xp.zeros((self.shape[1], V.shape[1]), dtype=self.dtype)
        for rs, block in self.blocks():
            inner = block @ V
            if W is not None:
                inner += W[rs]
            out += block.T @ inner
        return out[:, 0] if one else out

    def dot(self, x):
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
        return KernelOperator(self.kernel, self.Z, self.X)

    _adjoint = _transpose

    def diagonal(self):
        """k(x_i, z_i) for i < min(n_X, n_Z); for Z = X, the kernel's diagonal."""
        if self.Z is self.X:
            return self.kernel.diag(self.X)
        r = min(self.shape)
        xp = get_namespace(self.X)
        A, B = self.X[:r], self.Z[:r]
        return (
            xp.concatenate(
                [
                    xp.diagonal(self.kernel._block(A[s : s + 256], B[s : s + 256]))
                    for s in range(0, r, 256)
                ]
            )
            if r
            else xp.zeros((0,), dtype=self.dtype)
        )

    def to_dense(self):
        """Materialise K(X, Z) (n_X × n_Z values: for small problems)."""
        return self._dense_rows(slice(0, self.shape[0]))

    # -- blocking ------------------------------------------------------------
    def _n_threads(self):
        n = get_config()["n_threads"]
        return n if n is not None else cpu.default_n_threads()

    def _tiles(self):
        """Row and column block sizes that keep each worker's tile in budget.

        They depend on the budget and the machine's core count, never on the
        ``n_threads`` setting, so results are identical for any thread count.
        """
        n, m = self.shape
        cores = cpu.default_n_threads()
        budget = get_config()["working_memory"] * _MIB / cores
        # Tiles that stay in cache run the distance pass and exp ~25% faster than huge ones.
        budget = min(budget, _CACHE_FRIENDLY_TILE)
        # Two tile-sized buffers: the kernel values and one temporary (Matérn, rmatmat).
        per_value = 2 * self.dtype.itemsize
        cols = int(min(m, max(1, budget // per_value)))
        rows = int(min(n, max(1, budget // (per_value * cols))))
        # About four tiles per core balance the load of a big product.
        rows = min(rows, max(1, -(-n // (4 * cores))))
        return rows, cols

    def blocks(self, rows=None):
        """Yield ``(row_slice, K[row_slice, :])`` over X in budget-sized row blocks.

        For consumers that need kernel values themselves (thinning, SQUEAK).
        ``rows`` forces the number of rows per block.
        """
        if rows is None:
            budget = get_config()["working_memory"] * _MIB
            rows = int(max(1, budget // (2 * self.dtype.itemsize * max(self.shape[1], 1))))
        for s in range(0, self.shape[0], rows):
            sl = slice(s, min(s + rows, self.shape[0]))
            yield sl, self._dense_rows(sl)

    def _dense_rows(self, rs):
        """K[rs, :], its row tiles computed on the CPU engine's threads."""
        engine = select_engine(self.X)
        n_threads = self._n_threads() if engine == "cpu" else 1
        start, stop = rs.start, rs.stop
        step = max(1, self._tiles()[0])
        if n_threads == 1 or stop - start <= step:
            return self._values(rs, slice(0, self.shape[1]), engine)
        out = np.empty((stop - start, self.shape[1]), dtype=self.dtype)

        def fill(s):
            e = min(s + step, stop)
            out[s - start : e - start] = self._values(slice(s, e), slice(0, self.shape[1]), engine)

        with cpu.single_threaded_blas():
            list(cpu.executor(n_threads).map(fill, range(start, stop, step)))
        return out

    def _prepare(self):
        """Centred copies for the CPU engine (centring on mean(Z) limits cancellation)."""
        if self._prepared is None:
            shift = self.Z.mean(axis=0)
            Zc = np.ascontiguousarray(self.Z - shift)
            zsq = np.einsum("ij,ij->i", Zc, Zc)
            self._prepared = shift, Zc, zsq
        return self._prepared

    def _values(self, rs, cs, engine=None):
        engine = engine or select_engine(self.X)
        kernel = self.kernel
        if engine == "cpu" and kernel.radial:
            shift, Zc, zsq = self._prepare()
            Xb = np.ascontiguousarray(self.X[rs] - shift)
            T = cpu.distance_block(Xb, Zc[cs], zsq[cs], kernel.squared, kernel.distance_scale())
            return kernel.finish(T)
        return kernel._block(self.X[rs], self.Z[cs])

    def _product(self, V, transpose):
        engine = select_engine(self.X, V)
        n, m = self.shape
        xp = get_namespace(self.X, V)
        if engine == "cuda" and self._fused_cuda_ok():
            from .._backend import cuda  # numba.cuda loads only when the GPU engine runs

            squared, scale = self.kernel.exponential_form()
            if transpose:
                return cuda.fused_matmat(squared, scale, self.Z, self.X, V)
            return cuda.fused_matmat(squared, scale, self.X, self.Z, V)
        n_threads = self._n_threads() if engine == "cpu" else 1
        rows, cols = self._tiles()
        row_blocks = [slice(s, min(s + rows, n)) for s in range(0, n, rows)]
        col_blocks = [slice(s, min(s + cols, m)) for s in range(0, m, cols)]

        def work(rs):
            acc = None
            for cs in col_blocks:
                T = self._values(rs, cs, engine)
                if transpose:
                    part = T.T @ V[rs]
                    if len(col_blocks) == 1:
                        return part
                    acc = xp.zeros((m, V.shape[1]), dtype=self.dtype) if acc is None else acc
                    acc[cs] += part
                else:
                    part = T @ V[cs]
                    acc = part if acc is None else acc + part
            return acc

        if n_threads > 1 and len(row_blocks) > 1:
            # BLAS would otherwise start its own threads inside every worker.
            with cpu.single_threaded_blas():
                results = list(cpu.executor(n_threads).map(work, row_blocks))
        else:
            results = [work(rs) for rs in row_blocks]
        if transpose:
            out = results[0]
            for part in results[1:]:  # fixed order: results never depend on thread timing
                out += part
            return out
        return xp.concatenate(results, axis=0) if len(results) > 1 else results[0]

    def _fused_cuda_ok(self):
        if self.kernel.exponential_form() is not None:
            return True
        if get_namespace(self.X) is np:
            raise ValueError(
                f"The fused CUDA kernel supports the Gaussian and Laplacian kernels; got "
                f"{self.kernel!r}. Pass CuPy arrays to use the blocked GPU path instead."
            )
        return False
