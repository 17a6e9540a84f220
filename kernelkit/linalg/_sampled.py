"""SampledGaussianOperator: Gaussian kernel products with an l2 error guarantee.

An implementation of Indyk, Kapralov, Sheth and Wagner, "Improved algorithms
for kernel matrix-vector multiplication under sparsity assumptions" (ICLR
2025, arXiv 2507.23539). The paper's steps (as its abstract and reviews
describe them; its Algorithms 1-3 were not accessible here), and what is done
here:

1. Large coordinates of x are handled exactly (the paper's first step): a
   column whose importance weight would make the sampler draw it at least
   once in expectation is multiplied exactly.
2. Heavy entries K_ij >= tau are found (LSH in the paper; a kd-tree in low
   dimension, E2LSH otherwise; see ``_sampled_heavy``) and summed exactly
   from a sparse matrix built once.
3. Light entries are estimated by sampling keys; the paper sizes the sample
   per query from a KDE of the squared kernel. Here the columns are sampled
   with probability ~ x_j^2 (shared by all queries), and the sample size
   comes from a Bernstein bound whose variance term is the light mass
   F_L = sum_{K_ij < tau} K_ij^2, estimated on pilot rows and checked on the
   drawn columns themselves (``_sampled_plan`` has the derivation).

tau is chosen per matrix to minimise the predicted work, and when even the
best threshold costs more than half an exact product (the sparsity
assumption fails: the estimated c is large), products are exact.
"""

import math
import numbers
import warnings

import numpy as np
from scipy.sparse.linalg import LinearOperator
from sklearn.utils import check_random_state

from .._backend import get_namespace
from .._utils._device import to_device, to_host
from .._utils._validation import check_positive_scalar, check_vector_block
from ._budget import budget_bytes
from ._operator import KernelOperator
from ._sampled_heavy import heavy_radius, kdtree_heavy, lsh_heavy
from ._sampled_plan import (
    BETA,
    TAUS,
    choose_threshold,
    light_bounds,
    light_statistics,
    pilot_rows,
    pilot_statistics,
    required_samples,
    sample_size,
    variance_and_range,
)

_FALLBACKS = ("warn", "exact", "raise", "never")
#: ``count_transfers`` keys: the points cross once, a right-hand side once per product.
TO_HOST = "sampled product: inputs to the host"
RHS_TO_HOST = "sampled product: right-hand side to the host"
# Dimensions up to which the kd-tree beats LSH for the heavy search.
_KDTREE_MAX_DIM = 6
# Sampling must predict at most this share of an exact product's kernel values.
_WORTH_IT = 0.5
# Safety factor on the variance measured on the drawn columns.
_EMPIRICAL_MARGIN = 1.5


class SamplingFallbackWarning(UserWarning):
    """Warning issued when :class:`SampledGaussianOperator` multiplies exactly.

    The message says why: the estimated sparsity ``c`` and the predicted
    share of an exact product's work.
    """


class SampledGaussianOperator(LinearOperator):
    """Gaussian kernel matrix whose products are sampled with an l2 error bound.

    For queries X, keys Z and K_ij = exp(-||x_i - z_j||^2 / (2 bandwidth^2)),
    each product returns y with ||K x - y||_2 <= eps ||x||_2 with probability
    at least 1 - delta, for any signed x (each column of a matrix
    separately). It pays when most of the kernel's mass sits in few entries
    (Indyk et al.'s sparsity assumption: the entries other than the max(n, m)
    largest sum to at most c times those, for a small c); otherwise products
    are exact (see ``fallback``).

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        Queries (rows of K).
    Z : array-like of shape (n_samples_Z, n_features), default=None
        Keys (columns of K); ``None`` means Z = X.
    bandwidth : float or {"median", "scale"}
        Gaussian length scale σ (a rule is resolved on Z as in
        :func:`kernelkit.make_kernel`).
    eps : float, default=0.1
        Relative l2 error allowed per product.
    delta : float, default=0.01
        Failure probability per product, in (0, 1).
    fallback : {"warn", "exact", "raise", "never"}, default="warn"
        What to do when sampling would cost more than half an exact product:
        exact products with a :class:`SamplingFallbackWarning` (``"warn"``)
        or silently (``"exact"``), a ``ValueError`` (``"raise"``), or sample
        anyway (``"never"``; the light part is then exact when the sample
        would hold every column).
    resample : bool, default=True
        Draw new light columns, weighted by x, at every product. ``False``
        draws uniform columns once: the operator is then a fixed matrix
        (exactly linear, for CG or Lanczos), and the bound holds for each
        fixed x over that draw.
    random_state : int, RandomState instance or None, default=None
        Seeds the pilot rows, the hash functions and the light samples; with
        an int, the sequence of products is reproducible.

    Attributes
    ----------
    strategy_ : {"sampled", "exact"}
        How products are computed.
    sparsity_ : float
        Estimated c of the sparsity assumption (on pilot rows).
    threshold_ : float or None
        Heavy threshold τ (``None`` for exact products).
    n_heavy_pairs_ : int
        Entries stored in the heavy matrix.
    n_light_samples_ : int
        Light columns of the last product (planned ones before any product).
    work_ratio_ : float
        Kernel values computed by construction plus one product, over n·m.
    heavy_search_ : {"kdtree", "lsh"} or None
        How heavy pairs were found.
    recall_ : float or None
        Share of the heavy pairs of the pilot rows that the search found.
    fallback_reason_ : str or None
        Why products are exact, when they are.
    kernel_ : Gaussian
        The resolved kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import KernelOperator, SampledGaussianOperator
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.uniform(0, 60, size=(60, 2))
    >>> X = (centres[:, None] + rng.normal(size=(60, 40, 2))).reshape(-1, 2)
    >>> K = SampledGaussianOperator(X, bandwidth=1.0, eps=0.05, random_state=0)
    >>> K.strategy_
    'sampled'
    >>> x = rng.normal(size=len(X))
    >>> exact = KernelOperator("gaussian", X, bandwidth=1.0) @ x
    >>> bool(np.linalg.norm(K @ x - exact) <= 0.05 * np.linalg.norm(x))
    True
    """

    def __init__(
        self,
        X,
        Z=None,
        *,
        bandwidth,
        eps=0.1,
        delta=0.01,
        fallback="warn",
        resample=True,
        random_state=None,
    ):
        self.eps = check_positive_scalar(eps, "eps")
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
            raise TypeError(f"delta must be a real number; got {type(delta).__name__}.")
        if not 0.0 < float(delta) < 1.0:
            raise ValueError(f"delta must be in (0, 1); got {delta!r}.")
        self.delta = float(delta)
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}; got {fallback!r}.")
        self.fallback = fallback
        if not isinstance(resample, (bool, np.bool_)):
            raise TypeError(f"resample must be a bool; got {type(resample).__name__}.")
        self.resample = bool(resample)
        if bandwidth is None:
            raise ValueError("bandwidth must be given (a float > 0, 'median' or 'scale').")
        if not isinstance(bandwidth, str):
            check_positive_scalar(bandwidth, "bandwidth")
        # The heavy search (kd-tree, LSH) and the sampling run on the host: CuPy points
        # cross once here, each product's right-hand side once per product.
        self._xp, (X, Z) = to_host(TO_HOST, X, Z)
        self._base = KernelOperator("gaussian", X, Z, bandwidth=bandwidth)
        self.kernel_ = self._base.kernel
        self.bandwidth_ = float(self.kernel_.bandwidth)
        self._rng = check_random_state(random_state)
        super().__init__(dtype=self._base.dtype, shape=self._base.shape)
        self._build()

    # -- construction -----------------------------------------------------------
    def _build(self):
        n, m = self.shape
        base = self._base
        exact_work = float(n) * m
        rows = pilot_rows(n, self._rng)
        stats = pilot_statistics(base, rows)
        self.sparsity_ = stats["sparsity"]
        evaluated = stats["evaluated"]
        frozen = not self.resample
        t, work, _ = choose_threshold(
            stats, n, m, self.eps, self.delta / 2, self.dtype.itemsize, frozen=frozen
        )
        if t is None:
            reason = "no threshold's heavy matrix fits in working_memory"
        else:
            reason = self._unprofitable(evaluated + work, exact_work)
        if reason is not None and self.fallback != "never":
            return self._fall_back(reason, evaluated)
        t = 0 if t is None else t
        tau = float(TAUS[t])
        radius = heavy_radius(self.bandwidth_, tau)
        if base.X.shape[1] <= _KDTREE_MAX_DIM:
            H, found_work = kdtree_heavy(base, radius)
            self.heavy_search_ = "kdtree"
        else:
            H, found_work, _ = lsh_heavy(base, radius, tau, stats["n_heavy"][t], self._rng)
            self.heavy_search_ = "lsh"
        row_light, largest, self.recall_, check_work = light_statistics(
            base, rows, H, tau, stats.pop("blocks")
        )
        evaluated += found_work + check_work
        F, lam = light_bounds(row_light, largest, n, m)
        s = sample_size(F, lam, m, self.eps, self.delta / 2, frozen=frozen)
        total = evaluated + min(s, m) * n
        reason = self._unprofitable(total, exact_work)
        if reason is not None and self.fallback != "never":
            return self._fall_back(f"after building the heavy matrix, {reason}", evaluated)
        self._H = H
        self._H_colsq = np.asarray(H.multiply(H).sum(axis=0), dtype=np.float64).ravel()
        self._light = (float(F), float(lam))
        self.light_mass_ = float(F)
        self.threshold_ = tau
        self.n_heavy_pairs_ = int(H.nnz)
        self.n_light_samples_ = int(s)
        self.work_ratio_ = total / exact_work
        self.strategy_ = "sampled"
        self.fallback_reason_ = None
        if frozen:
            self._freeze(s)

    def _unprofitable(self, work, exact_work):
        if work <= _WORTH_IT * exact_work:
            return None
        return (
            f"sampling is predicted to compute {work / exact_work:.0%} of an exact product's "
            f"kernel values (estimated sparsity c = {self.sparsity_:.3g}; it pays when the "
            "kernel's mass sits in few entries, e.g. a smaller bandwidth)"
        )

    def _fall_back(self, reason, evaluated):
        if self.fallback == "raise":
            raise ValueError(
                f"SampledGaussianOperator: {reason}. Pass fallback='exact' to multiply exactly."
            )
        if self.fallback == "warn":
            warnings.warn(
                f"SampledGaussianOperator multiplies exactly: {reason}.",
                SamplingFallbackWarning,
                stacklevel=4,
            )
        n, m = self.shape
        self.strategy_ = "exact"
        self.fallback_reason_ = reason
        self.threshold_ = None
        self.n_heavy_pairs_ = 0
        self.n_light_samples_ = 0
        self.heavy_search_ = None
        self.recall_ = None
        self.light_mass_ = None
        self.work_ratio_ = (evaluated + float(n) * m) / (float(n) * m)

    def _freeze(self, s):
        """Draw the uniform light columns once; keep their light block when it fits."""
        n, m = self.shape
        if s >= m:  # the sample would hold every column: the light part is exact
            cols, weights = np.arange(m), np.ones(m)
        else:
            cols, counts = np.unique(self._rng.randint(0, m, size=s), return_counts=True)
            weights = counts * (m / s)
        self._frozen = (cols, weights, None)
        if n * len(cols) * self.dtype.itemsize <= budget_bytes():
            block = self._base.take(None, cols).to_dense()
            coo = self._H[:, cols].tocoo()
            block[coo.row, coo.col] -= coo.data
            block *= weights.astype(self.dtype)
            self._frozen = (cols, weights, block)

    # -- products ---------------------------------------------------------------
    def matvec(self, x):
        """Sampled K @ x.

        Parameters
        ----------
        x : array-like of shape (n_samples_Z,) or (n_samples_Z, 1)
            Vector to multiply.

        Returns
        -------
        y : ndarray of shape (n_samples_X,) or (n_samples_X, 1)
            With ||K x - y|| <= eps ||x|| with probability >= 1 - delta.
        """
        x = check_vector_block(self._host_rhs(x), self.shape[1], "x", dtype=self.dtype)
        if x.ndim == 2 and x.shape[1] != 1:
            raise ValueError(f"x must be one column; got shape {x.shape}.")
        y = self._product(x.reshape(-1, 1))
        return to_device(self._xp, y if x.ndim == 2 else y[:, 0])

    def matmat(self, V):
        """Sampled K @ V, each column within the bound.

        Parameters
        ----------
        V : array-like of shape (n_samples_Z, k)
            Columns to multiply.

        Returns
        -------
        Y : ndarray of shape (n_samples_X, k)
            ||K V[:, c] - Y[:, c]|| <= eps ||V[:, c]|| for each c, each with
            probability >= 1 - delta.
        """
        V = check_vector_block(self._host_rhs(V), self.shape[1], "V", dtype=self.dtype)
        if V.ndim != 2:
            raise ValueError(f"V must be 2-D for a matrix product; got ndim={V.ndim}.")
        return to_device(self._xp, self._product(V))

    def _host_rhs(self, V):
        """A right-hand side on the host; it must live where the points did."""
        if get_namespace(V) is not self._xp:
            raise TypeError(
                "SampledGaussianOperator: the right-hand side and the points must both be "
                "NumPy or both CuPy arrays."
            )
        return to_host(RHS_TO_HOST, V)[1][0]

    _matvec = matvec
    _matmat = matmat

    def dot(self, x):
        """``self @ x``: SciPy's version would call ``numpy.asarray`` on a CuPy ``x``.

        Parameters
        ----------
        x : array-like of shape (n_samples_Z,) or (n_samples_Z, k), or LinearOperator
            Right-hand side.

        Returns
        -------
        y : ndarray or LinearOperator
            :meth:`matvec` for 1-D ``x``, :meth:`matmat` for 2-D.
        """
        if isinstance(x, LinearOperator) or np.isscalar(x):
            return super().dot(x)
        return self.matvec(x) if getattr(x, "ndim", np.ndim(x)) == 1 else self.matmat(x)

    __matmul__ = dot

    def _product(self, V):
        if self.strategy_ == "exact":
            return self._base.matmat(V)
        if not self.resample:
            return self._frozen_product(V)
        out = np.empty((self.shape[0], V.shape[1]), dtype=self.dtype)
        for c in range(V.shape[1]):
            out[:, c] = self._sampled_vector(np.asarray(V[:, c], dtype=np.float64))
        return out

    def _frozen_product(self, V):
        cols, weights, block = self._frozen
        Y = np.asarray(self._H @ V)
        if block is not None:
            return (Y + block @ V[cols]).astype(self.dtype, copy=False)
        W = np.zeros_like(V)
        W[cols] = weights[:, None] * V[cols]
        Y += self._base.take(None, cols) @ W[cols]
        Y -= self._H @ W
        return Y.astype(self.dtype, copy=False)

    def _sampled_vector(self, x):
        n, m = self.shape
        norm = math.sqrt(float(x @ x))
        if norm == 0.0:
            return np.zeros(n)
        F, lam = self._light
        planned = sample_size(F, lam, m, self.eps, self.delta / 2, frozen=False)
        if planned >= m:
            self.n_light_samples_ = m
            return self._base.matvec(x)
        # Step 1: columns the sampler would draw at least once anyway are exact.
        big = (1.0 - BETA) * (x * x) / norm**2 * planned >= 1.0
        rest = x.copy()
        y = np.zeros(n)
        if big.any():
            cols = np.flatnonzero(big)
            y += self._base.take(None, cols) @ x[cols]
            rest[cols] = 0.0
        y += self._H @ rest
        rest_norm = math.sqrt(float(rest @ rest))
        if rest_norm == 0.0:
            self.n_light_samples_ = 0
            return y
        m_rest = m - int(big.sum())
        p = (1.0 - BETA) * (rest * rest) / rest_norm**2 + BETA / m_rest
        p[big] = 0.0
        p /= p.sum()
        v, R = variance_and_range(F, lam, m_rest, frozen=False)
        allowed = self.eps * norm
        s = required_samples(v * rest_norm**2, R * rest_norm, allowed, self.delta / 2)
        light, v_seen, r_seen = self._light_draw(rest, p, s)
        # The drawn columns' own second moment and largest term guard against a
        # pilot that under-estimated the light mass.
        needed = required_samples(
            max(v * rest_norm**2, _EMPIRICAL_MARGIN * v_seen),
            max(R * rest_norm, _EMPIRICAL_MARGIN * r_seen),
            allowed,
            self.delta / 2,
        )
        if needed > s:
            more, _, _ = self._light_draw(rest, p, needed - s)
            light = (s * light + (needed - s) * more) / needed
            s = needed
        self.n_light_samples_ = int(s)
        return y + light

    def _light_draw(self, x, p, s):
        """Mean of s importance-weighted light columns, their second moment and largest term."""
        n, m = self.shape
        cols, counts = np.unique(self._rng.choice(m, size=s, p=p), return_counts=True)
        weights = x[cols] * counts / (s * p[cols])
        sub = self._base.take(None, cols)
        y = np.zeros(n)
        col_sq = np.zeros(len(cols))
        w = weights.astype(self.dtype)
        for rows, B in sub.blocks():
            y[rows] = B @ w
            col_sq += np.einsum("ij,ij->j", B, B, dtype=np.float64)
        full = np.zeros(m)
        full[cols] = weights
        y -= self._H @ full
        light_sq = np.maximum(col_sq - self._H_colsq[cols], 0.0)
        term_sq = light_sq * (x[cols] / p[cols]) ** 2
        return y, float(np.sum(counts * term_sq)) / s, float(np.sqrt(term_sq.max()))
