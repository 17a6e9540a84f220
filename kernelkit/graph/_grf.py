"""General graph random features (Reid, Choromanski, Berger, Weller, ICLR 2024)."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from scipy.sparse.linalg import LinearOperator
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import cpu, select_engine
from .._backend import grf as _walk
from .._config import get_config
from .._utils._device import to_host
from .._utils._parallel import parallel_map, seed_sequence
from .._utils._sklearn_compat import Interval, RealNotInt, StrOptions, _fit_context
from ..linalg._budget import check_fits
from ._exact import TO_HOST, check_adjacency, kernel_spec, walk_matrix
from ._modulation import KERNELS, choose_p_halt, modulation, radius, variance_is_finite

_WALKERS = {"numpy": _walk.walk_numpy, "cpu": _walk.walk_cpu, "cuda": _walk.walk_cuda}


def _walk_range(task):
    """One joblib task: the features of a range of start nodes (a picklable function)."""
    engine, n_threads, node0, node1, args = task
    with cpu.numba_threads(n_threads):
        return _WALKERS[engine](node0, node1, *args)


class GraphRandomFeatures(BaseEstimator):
    """Sparse random-walk features whose products estimate a graph node kernel without bias.

    For a graph with weighted adjacency ``W`` and a kernel
    ``K = sum_k alpha_k B^k`` (``B`` the normalised adjacency), every node
    starts ``n_walks`` random walks that halt with probability ``p_halt`` per
    step. A walk deposits ``load * f(k)`` at the k-th node it visits, where the
    modulation ``f`` satisfies ``f * f = alpha`` (discrete convolution) and the
    load corrects for the sampling probabilities. Two independent walk sets
    give feature matrices ``Phi_1`` (on ``B``) and ``Phi_2`` (on ``B.T``) with
    ``E[Phi_1 Phi_2^T] = K`` exactly, diagonal and directed graphs included,
    in ``O(n_nodes * n_walks / p_halt)`` time and memory.

    Built-in kernels, with ``L = I - B``:

    - ``"diffusion"``: ``exp(-beta L)`` (``beta=1``);
    - ``"regularized_laplacian"``: ``(I + beta L)^-d`` (``beta=1``, ``power=d=1``);
    - ``"p_step"``: ``(I + beta B)^p`` (``beta=0.5``, ``power=p=2``, ``beta <= 1``);
    - ``"cosine"``: ``cos(beta L)`` (``beta=pi/8``, ``beta <= pi/4``).

    Read more in the user guide, ``docs/graph.md``.

    Parameters
    ----------
    kernel : {"diffusion", "regularized_laplacian", "p_step", "cosine"} or array-like, \
default="diffusion"
        The kernel, or its coefficients ``alpha`` (finite, ``alpha[0] > 0``).
    beta : float, default=None
        Scale of a named kernel (None: its default).
    power : float, default=None
        ``d`` of the regularised Laplacian or the integer ``p`` of the p-step kernel.
    normalize : {"symmetric"} or None, default="symmetric"
        ``"symmetric"``: ``B = D^-1/2 W D^-1/2`` with ``D`` the row sums (``W``
        must be symmetric and non-negative; isolated nodes get zero rows).
        None: ``B = W`` (directed and signed graphs).
    n_walks : int, default=32
        Walks per node and per feature matrix. The squared error falls like
        ``1 / n_walks``.
    p_halt : "auto" or float, default="auto"
        Halting probability in (0, 1). ``"auto"`` minimises variance times work,
        ``V(p)^2 / p`` with ``V(p) = sum_k f(k)^2 (s^2 / (1 - p))^k``, over
        ``[0.01, 0.9]``. A value for which ``V`` is infinite warns.
    sampling : {"weighted", "uniform"}, default="weighted"
        Neighbours drawn with probability proportional to ``|B_vw|``, or uniformly
        (the paper's choice; more variance on weighted graphs).
    random_state : int, RandomState instance or None, default=None
        Seeds both walk sets. The same seed gives the same features on every
        engine (``kernelkit.config_context(engine=...)``), thread count and ``n_jobs``.
    n_jobs : int, default=None
        joblib workers, each walking a range of start nodes (None: joblib's context).
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        dtype of the feature matrices (walks are always computed in float64).

    Attributes
    ----------
    features_ : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        ``Phi_1``, walks on ``B``; row ``i`` is node ``i``'s feature vector.
    features_right_ : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
        ``Phi_2``, independent walks on ``B.T``.
    modulation_ : ndarray of shape (n_terms,)
        ``f(k)``; walks stop after ``n_terms`` (at least 64) steps.
    coefficients_ : ndarray of shape (n_terms,)
        ``alpha_k`` of the kernel.
    p_halt_ : float
        The halting probability used.
    n_features_in_ : int
        Number of nodes seen during :term:`fit`.

    See Also
    --------
    exact_graph_kernel : the dense kernel that the features estimate.
    sklearn.manifold.SpectralEmbedding : spectral node features from the same ``A``.

    Notes
    -----
    Unbiasedness holds for the stored number of terms; the dropped tail of the
    series is below ``1e-17 max|f|`` per term, except for the cosine kernel at
    ``beta = pi/4`` (and user coefficients) where the deconvolution stops at 4096
    terms. Under ``normalize="symmetric"`` the variance rule uses ``s = 1``
    (the spectral radius of ``B``); it is a guide, not a bound, on graphs with
    very uneven degrees.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import GraphRandomFeatures, exact_graph_kernel
    >>> A = np.ones((5, 5)) - np.eye(5)
    >>> grf = GraphRandomFeatures(n_walks=2000, random_state=0).fit(A)
    >>> K = exact_graph_kernel(A)
    >>> bool(np.abs(grf.kernel_estimate() - K).max() < 0.05)
    True
    """

    _parameter_constraints: dict = {
        "kernel": [StrOptions(set(KERNELS)), "array-like"],
        "beta": [Interval(Real, 0, None, closed="neither"), None],
        "power": [Interval(Real, 0, None, closed="neither"), None],
        "normalize": [StrOptions({"symmetric"}), None],
        "n_walks": [Interval(Integral, 1, None, closed="left")],
        "p_halt": [StrOptions({"auto"}), Interval(RealNotInt, 0, 1, closed="neither")],
        "sampling": [StrOptions({"weighted", "uniform"})],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "dtype": "no_validation",
    }

    def __init__(
        self,
        kernel="diffusion",
        beta=None,
        power=None,
        normalize="symmetric",
        n_walks=32,
        p_halt="auto",
        sampling="weighted",
        random_state=None,
        n_jobs=None,
        dtype=np.float64,
    ):
        self.kernel = kernel
        self.beta = beta
        self.power = power
        self.normalize = normalize
        self.n_walks = n_walks
        self.p_halt = p_halt
        self.sampling = sampling
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.dtype = dtype

    @classmethod
    def _test_instances(cls):
        return [
            cls(n_walks=4, random_state=0),
            cls(kernel="regularized_laplacian", n_walks=3, p_halt=0.5, random_state=0),
            cls(kernel=[1.0, 0.5, 0.1], sampling="uniform", n_walks=2, random_state=0),
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = True
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = self.normalize == "symmetric"
        tags.non_deterministic = self.random_state is None
        return tags

    def _dtype(self):
        dtype = np.dtype(self.dtype)
        if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise ValueError(f"dtype must be numpy.float64 or numpy.float32; got {self.dtype!r}.")
        return dtype

    def _modulation(self, s):
        name, beta, power, alpha = kernel_spec(self.kernel, self.beta, self.power)
        coefficients, f = modulation(name, beta, power, alpha)
        R = radius(name, beta, power, alpha)
        if self.p_halt == "auto":
            p_halt = choose_p_halt(f, R, s)
        else:
            p_halt = float(self.p_halt)
            if not variance_is_finite(R, s, p_halt):
                warnings.warn(
                    f"infinite variance: p_halt={p_halt} breaks R^2 (1 - p_halt) > s^2 "
                    f"(series radius R={R:.3g}, row-sum bound s={s:.3g}); estimates will have "
                    "heavy tails. Use p_halt < 1 - s^2/R^2, p_halt='auto' or a smaller beta.",
                    UserWarning,
                    stacklevel=4,
                )
        return coefficients, f, p_halt

    def _walks(self, B, key, f, engine):
        indptr = B.indptr.astype(np.int64)
        indices = B.indices.astype(np.int64)
        uniform = self.sampling == "uniform"
        cum, mult = _walk.edge_tables(indptr, B.data, self.p_halt_, uniform)
        # Trailing zeros of f (polynomial kernels) would only make walks longer.
        nonzero = np.flatnonzero(f)
        f_walk = np.ascontiguousarray(f[: nonzero[-1] + 1])
        args = (self.n_walks, int(key), indptr, indices, cum, mult, f_walk, self.p_halt_, uniform)
        n = B.shape[0]
        n_jobs = effective_n_jobs(self.n_jobs)
        n_threads = get_config()["n_threads"]
        if n_threads is None or n_threads < 0:
            # Several workers on one machine would each start a thread per core.
            n_threads = None if n_jobs == 1 else max(1, cpu.default_n_threads() // n_jobs)
        cuts = np.linspace(0, n, min(n, n_jobs) + 1).astype(np.int64)
        tasks = [
            (engine, n_threads, int(a), int(b), args)
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
            if b > a
        ]
        if len(tasks) == 1:  # no joblib round trip for the common single-worker case
            parts = [_walk_range(tasks[0])]
        else:
            parts = parallel_map(_walk_range, tasks, n_jobs=self.n_jobs)
        counts = [np.diff(p[0]) for p in parts]
        indptr_out = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.concatenate(counts), out=indptr_out[1:])
        Phi = sp.csr_array(
            (
                np.concatenate([p[2] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                indptr_out,
            ),
            shape=(n, n),
        )
        Phi.sort_indices()
        Phi.eliminate_zeros()
        return Phi.astype(self._dtype(), copy=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, A, y=None):
        """Walk from every node and store the two feature matrices.

        Parameters
        ----------
        A : {array-like, sparse matrix} of shape (n_nodes, n_nodes)
            Weighted adjacency matrix. Sparse input is copied (duplicates summed,
            explicit zeros dropped); it is never modified.
        y : None
            Ignored.

        Returns
        -------
        self : GraphRandomFeatures
            The fitted estimator.
        """
        self._dtype()
        # A dense CuPy adjacency selects the GPU walker; the walks read a CSR copy on the
        # host (the walkers copy it to the device), and the sparse features stay on the
        # host (scipy.sparse): see docs/gpu.md.
        engine = select_engine(A)
        _, (A,) = to_host(TO_HOST, A)
        A = validate_data(self, A, accept_sparse=("csr", "csc", "coo"), dtype=np.float64)
        W = check_adjacency(A, self.normalize)
        B = walk_matrix(W, self.normalize)
        s = (
            1.0
            if self.normalize == "symmetric"
            else float(np.max(abs(B).sum(axis=1), initial=0.0))
        )
        self.coefficients_, self.modulation_, self.p_halt_ = self._modulation(max(s, 1e-300))
        keys = seed_sequence(self.random_state).generate_state(2, dtype=np.uint64)
        self.features_ = self._walks(B, keys[0], self.modulation_, engine)
        BT = B if self.normalize == "symmetric" else sp.csr_array(B.T)
        BT.sort_indices()
        self.features_right_ = self._walks(BT, keys[1], self.modulation_, engine)
        return self

    def fit_transform(self, A, y=None):
        """Fit and return the node features ``Phi_1``.

        Parameters
        ----------
        A : {array-like, sparse matrix} of shape (n_nodes, n_nodes)
            Weighted adjacency matrix.
        y : None
            Ignored.

        Returns
        -------
        features : scipy.sparse.csr_array of shape (n_nodes, n_nodes)
            ``features_``.
        """
        return self.fit(A, y).features_

    def kernel_estimate(self, rows=None, cols=None, *, symmetric=False):
        """Dense block ``Phi_1[rows] Phi_2[cols]^T`` of the kernel estimate.

        Parameters
        ----------
        rows : array-like of int, slice or None, default=None
            Node indices of the rows (None: all nodes).
        cols : array-like of int, slice or None, default=None
            Node indices of the columns (None: all nodes).
        symmetric : bool, default=False
            Return ``(Phi_1 Phi_2^T + Phi_2 Phi_1^T) / 2`` instead (symmetric for
            ``rows == cols``, still unbiased).

        Returns
        -------
        K : ndarray of shape (n_rows, n_cols)
            The estimate.
        """
        check_is_fitted(self)
        n = self.n_features_in_
        rows = slice(None) if rows is None else rows
        cols = slice(None) if cols is None else cols
        n_rows = len(range(n)[rows]) if isinstance(rows, slice) else len(np.atleast_1d(rows))
        n_cols = len(range(n)[cols]) if isinstance(cols, slice) else len(np.atleast_1d(cols))
        check_fits(
            n_rows * n_cols * 8 * (2 if symmetric else 1),
            "the dense kernel estimate",
            hint="pass fewer rows/cols, or use kernel_operator() for products",
        )
        P1, P2 = self.features_, self.features_right_
        K = (P1[rows] @ P2[cols].T).toarray()
        if symmetric:
            K += (P2[rows] @ P1[cols].T).toarray()
            K *= 0.5
        return K

    def kernel_operator(self, *, symmetric=False):
        """The estimate as a linear operator, ``v -> Phi_1 (Phi_2^T v)``, never formed.

        Parameters
        ----------
        symmetric : bool, default=False
            Use ``(Phi_1 Phi_2^T + Phi_2 Phi_1^T) / 2``.

        Returns
        -------
        operator : scipy.sparse.linalg.LinearOperator of shape (n_nodes, n_nodes)
            Products cost ``O(nnz(Phi))`` each.
        """
        check_is_fitted(self)
        P1, P2 = self.features_, self.features_right_
        n = self.n_features_in_

        def matmat(V):
            out = P1 @ (P2.T @ V)
            if symmetric:
                out = 0.5 * (out + P2 @ (P1.T @ V))
            return out

        def rmatmat(V):
            out = P2 @ (P1.T @ V)
            if symmetric:
                out = 0.5 * (out + P1 @ (P2.T @ V))
            return out

        return LinearOperator(
            (n, n),
            matvec=matmat,
            rmatvec=rmatmat,
            matmat=matmat,
            rmatmat=rmatmat,
            dtype=self.features_.dtype,
        )


__all__ = ["GraphRandomFeatures"]
