"""Heavy pairs of a Gaussian kernel matrix: every (i, j) with K_ij >= tau.

Step 2 of Indyk, Kapralov, Sheth and Wagner (ICLR 2025, "Improved algorithms
for kernel matrix-vector multiplication under sparsity assumptions"): the
entries above a threshold are few under their sparsity assumption and are
summed exactly; K_ij >= tau is the same as ||x_i - z_j|| <= r with
r = bandwidth * sqrt(2 ln(1/tau)).

Values come from the kernel's own ``finish`` applied to scaled squared
distances computed from coordinates (exact, no cancellation); the two searches:

- ``"kdtree"`` (low dimension): ``scipy.spatial.cKDTree.sparse_distance_matrix``
  returns every pair within r, so the result is exactly {K >= tau}.
- ``"lsh"`` (higher dimension, where kd-trees degrade): the paper's Euclidean
  LSH (E2LSH, Datar et al. 2004): ``n_tables`` tables, each hashing with
  ``n_bits`` projections h(v) = floor((a.v + b) / w). Query-key pairs that
  share a bucket in some table are checked by the Numba engine
  ``kernelkit._backend.sampled.bucket_pairs``. Pairs the hashes miss stay in
  the light part, which the sampler estimates without bias; the caller
  measures the recall on the pilot rows.
"""

import math

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree
from scipy.special import ndtr

from .._backend import cpu
from .._backend.sampled import bucket_pairs
from .._config import get_config

# Target probability that one table separates two points at distance r.
_LSH_RECALL = 0.99
_LSH_MAX_TABLES = 40


def heavy_radius(bandwidth, tau):
    """Distance below which K >= tau: bandwidth * sqrt(2 ln(1/tau))."""
    return float(bandwidth) * math.sqrt(2.0 * math.log(1.0 / tau))


def _heavy_matrix(base, rows, cols, values):
    n, m = base.shape
    H = csr_matrix((values.astype(base.dtype), (rows, cols)), shape=(n, m), dtype=base.dtype)
    H.sort_indices()
    return H


def kdtree_heavy(base, radius):
    """Exact heavy set {K >= tau} from ``cKDTree.sparse_distance_matrix``.

    Parameters
    ----------
    base : KernelOperator
        The full Gaussian operator.
    radius : float
        Heavy radius for the threshold (see :func:`heavy_radius`).

    Returns
    -------
    H : csr_matrix of shape (n_samples_X, n_samples_Z)
        The heavy entries.
    evaluated : int
        Kernel values computed.
    """
    tree_x = cKDTree(base.X)
    tree_z = tree_x if base.Z is base.X else cKDTree(base.Z)
    # "ndarray" keeps the zero distances (x_i = z_j) that a sparse matrix would drop.
    pairs = tree_x.sparse_distance_matrix(tree_z, radius, output_type="ndarray")
    kernel = base.kernel
    values = kernel.finish(kernel.distance_scale() * pairs["v"] ** 2)
    return _heavy_matrix(base, pairs["i"], pairs["j"], values), len(pairs)


def e2lsh_collision(u, width):
    """P[floor((a.x + b)/w) = floor((a.z + b)/w)] for ||x - z|| = u (Datar et al. 2004)."""
    if u <= 0:
        return 1.0
    t = width / u
    return float(
        1.0 - 2.0 * ndtr(-t) - 2.0 / (math.sqrt(2.0 * math.pi) * t) * (1 - math.exp(-t * t / 2))
    )


def lsh_parameters(Xc, Zc, expected_heavy, radius, rng):
    """Bucket width, bits per table and number of tables for the E2LSH search.

    The width is 4r (a pair at distance r collides with probability 0.80 per
    bit). The number of bits is the smallest even number for which one trial
    table yields at most 4 candidate pairs per expected heavy pair (or per
    query): measured on the data, since how fast buckets shrink depends on
    the spread of the points. The number of tables then brings the recall of
    a pair at distance r to 99 %, at most 40 tables (closer pairs, which carry
    most of the mass, are found more often; what is missed stays light).

    Parameters
    ----------
    Xc, Zc : ndarray
        Queries and keys, centred on a common point.
    expected_heavy : float
        Predicted number of heavy pairs.
    radius : float
        Heavy radius.
    rng : numpy.random.RandomState
        Draws the trial projections.

    Returns
    -------
    width : float
    n_bits : int
    n_tables : int
    """
    width = 4.0 * radius
    p = e2lsh_collision(radius, width)
    budget = 4.0 * max(expected_heavy, len(Xc))
    n_bits = 2
    while n_bits < 24:
        A, b, mult = _projections(rng, Xc.shape[1], n_bits, width, Xc.dtype)
        kx = _bucket_keys(Xc, A, b, width, mult)
        kz = _bucket_keys(Zc, A, b, width, mult)
        ux, cx = np.unique(kx, return_counts=True)
        uz, cz = np.unique(kz, return_counts=True)
        _, ix, iz = np.intersect1d(ux, uz, assume_unique=True, return_indices=True)
        if float(np.dot(cx[ix].astype(float), cz[iz])) <= budget:
            break
        n_bits += 2
    hit = p**n_bits
    n_tables = math.ceil(math.log(1 - _LSH_RECALL) / math.log1p(-hit)) if hit < 1 else 1
    return width, n_bits, int(min(max(n_tables, 1), _LSH_MAX_TABLES))


def _projections(rng, d, n_bits, width, dtype):
    A = rng.normal(size=(d, n_bits)).astype(dtype)
    b = rng.uniform(0, width, size=n_bits).astype(dtype)
    mult = rng.randint(1, 2**62, size=n_bits, dtype=np.int64) | 1
    return A, b, mult


def _bucket_keys(P, A, b, width, mult):
    codes = np.floor((P @ A + b) / width).astype(np.int64)
    return codes @ mult  # wraps modulo 2**64: a hash of the code vector


def lsh_heavy(base, radius, tau, expected_heavy, rng):
    """Heavy pairs found by Euclidean LSH (missed pairs stay in the light part).

    Parameters
    ----------
    base : KernelOperator
        The full Gaussian operator.
    radius : float
        Heavy radius for ``tau``.
    tau : float
        Threshold.
    expected_heavy : float
        Predicted number of heavy pairs (sets the hash length).
    rng : numpy.random.RandomState
        Draws the projections.

    Returns
    -------
    H : csr_matrix of shape (n_samples_X, n_samples_Z)
        Heavy entries found (a subset of {K >= tau}).
    evaluated : int
        Kernel values computed.
    n_tables : int
        Hash tables used.
    """
    X, Z = base.X, base.Z
    n, m = base.shape
    d = X.shape[1]
    centre = Z.mean(axis=0)
    Xc = np.ascontiguousarray(X - centre)
    Zc = np.ascontiguousarray(Z - centre)
    width, n_bits, n_tables = lsh_parameters(Xc, Zc, expected_heavy, radius, rng)
    kernel = base.kernel
    scale, cut = kernel.distance_scale(), math.log(tau)
    H = csr_matrix((n, m), dtype=base.dtype)
    evaluated = 0
    n_threads = get_config()["n_threads"]
    for _ in range(n_tables):
        A, b, mult = _projections(rng, d, n_bits, width, X.dtype)
        kx = _bucket_keys(Xc, A, b, width, mult)
        kz = _bucket_keys(Zc, A, b, width, mult)
        xo = np.argsort(kx, kind="stable")
        zo = np.argsort(kz, kind="stable")
        common = np.intersect1d(kx, kz)
        qs = np.searchsorted(kx[xo], common, side="left")
        qe = np.searchsorted(kx[xo], common, side="right")
        zs = np.searchsorted(kz[zo], common, side="left")
        ze = np.searchsorted(kz[zo], common, side="right")
        with cpu.numba_threads(n_threads):
            r, c, v, work = bucket_pairs(Xc[xo], Zc[zo], qs, qe, zs, ze, scale, cut)
        # Tables overlap; a pair found twice has the same value, so the maximum dedupes.
        H = H.maximum(_heavy_matrix(base, xo[r], zo[c], kernel.finish(v)))
        evaluated += work
    H.sort_indices()
    return H, evaluated, n_tables
