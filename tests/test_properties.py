"""Property-based tests (hypothesis): shapes, dtypes and scales drawn at random.

Kernel products through :class:`~kernelkit.KernelOperator` against a dense float64 oracle
(SciPy's ``cdist`` and the closed forms), the scale-free form of the kernels, and
:class:`~kernelkit.KDITransformer` against direct summation of the (weighted) Gaussian
KDE CDF. Example counts are bounded so the module runs in well under 30 s.
"""

import numpy as np
import pytest
from scipy.special import ndtr

from kernelkit import KDITransformer, KernelOperator, make_kernel
from tests.conftest import dense_kernel

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KERNELS = [
    ("gaussian", {}),
    ("laplacian", {}),
    ("laplacian_l1", {}),
    ("matern", {"nu": 0.5}),
    ("matern", {"nu": 1.5}),
    ("matern", {"nu": 2.5}),
    ("cauchy", {}),
    ("imq", {}),
]


@st.composite
def operator_problems(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(1, 40))
    m = draw(st.integers(1, 40))
    d = draw(st.integers(1, 6))
    k = draw(st.integers(1, 3))
    scale = 10.0 ** draw(st.integers(-30, 30) if dtype == np.float64 else st.integers(-8, 8))
    # An offset far from the spread makes the GEMM expansion cancel (f64 only: float32
    # data that far out has lost the digits the oracle would compare).
    offset = draw(st.sampled_from([0.0, 3.0, 1e4] if dtype == np.float64 else [0.0, 3.0]))
    rel_bw = draw(st.sampled_from([0.1, 0.5, 1.0, 3.0, 30.0]))
    name, params = draw(st.sampled_from(KERNELS))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = (scale * (rng.normal(size=(n, d)) + offset)).astype(dtype)
    Z = (scale * (rng.normal(size=(m, d)) + offset)).astype(dtype)
    V = rng.normal(size=(m, k)).astype(dtype)
    U = rng.normal(size=(n, k)).astype(dtype)
    return name, params, rel_bw * scale * np.sqrt(d), X, Z, V, U


@SETTINGS
@given(operator_problems())
def test_kernel_operator_matches_dense_oracle(problem):
    name, params, bandwidth, X, Z, V, U = problem
    kernel = make_kernel(name, bandwidth)
    if params:
        kernel = type(kernel)(bandwidth=bandwidth, **params)
    op = KernelOperator(kernel, X, Z)
    K = dense_kernel(name, X, Z, bandwidth, **params)
    # float32: kernel values to ~1e-5 (distances in single precision); float64 to ~1e-10
    # (the cancellation fallback keeps distances exact to ~1e-12 relative).
    tol = 2e-4 if X.dtype == np.float32 else 1e-9
    KV, KtU = op @ V, op.T @ U
    assert KV.dtype == X.dtype and KV.shape == (X.shape[0], V.shape[1])
    # Per column: each entry of K is off by at most tol.
    assert np.all(np.abs(KV - K @ V) <= tol * (np.abs(V).sum(0) + 1))
    assert np.all(np.abs(KtU - K.T @ U) <= tol * (np.abs(U).sum(0) + 1))
    np.testing.assert_allclose(op.to_dense(), K, rtol=0, atol=tol)
    square = KernelOperator(kernel, X)
    np.testing.assert_array_equal(square.diagonal(), np.ones(X.shape[0], dtype=X.dtype))


@SETTINGS
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    exponent=st.integers(-300, 300),
    name=st.sampled_from(["gaussian", "laplacian", "laplacian_l1", "matern", "cauchy", "imq"]),
    seed=st.integers(0, 2**16),
)
def test_kernel_values_are_scale_free(dtype, exponent, name, seed):
    # k(cx, cz; c h) = k(x, z; h) for every c whose bandwidth c h is in the dtype's usable
    # range: the reference path folds the data's scale into the bandwidth's, so neither
    # the data's squares nor the scale overflow.
    c = 10.0 ** min(exponent, int(np.log10(np.finfo(dtype).max)) - 2)
    assume(1.5 * c >= make_kernel(name, 1.0).bandwidth_range(dtype)[0])
    X = np.random.default_rng(seed).normal(size=(12, 3))
    unit = make_kernel(name, 1.5)(X.astype(dtype))
    scaled = make_kernel(name, 1.5 * c)((X * c).astype(dtype))
    assert np.isfinite(scaled).all()
    np.testing.assert_allclose(scaled, unit, rtol=0, atol=1e-4 if dtype == np.float32 else 1e-9)


def direct_table(col, w, points, h):
    """Normalised weighted KDE CDF at ``points`` by summing every w_i Phi((x - x_i) / h)."""

    def cdf(t):
        return (ndtr((np.atleast_1d(t)[:, None] - col[None, :]) / h) * w).sum(1) / w.sum()

    lo, hi = cdf(col.min()), cdf(col.max())
    return np.clip((cdf(points) - lo) / (hi - lo), 0.0, 1.0)


@st.composite
def kdi_problems(draw):
    n = draw(st.integers(5, 150))
    kind = draw(st.sampled_from(["normal", "lognormal", "ties", "clusters"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    col = {
        "normal": lambda: rng.normal(size=n),
        "lognormal": lambda: rng.lognormal(sigma=1.5, size=n),
        "ties": lambda: np.round(rng.normal(size=n) * 2),
        "clusters": lambda: rng.normal(size=n) + 50.0 * (rng.random(n) < 0.3),
    }[kind]()
    if np.ptp(col) == 0:
        col[0] += 1.0
    weights = draw(st.sampled_from(["none", "integer", "real"]))
    w = {
        "none": lambda: None,
        "integer": lambda: rng.integers(1, 4, size=n).astype(float),
        "real": lambda: rng.uniform(0.2, 3.0, size=n),
    }[weights]()
    scale = 10.0 ** draw(st.integers(-250, 250))
    alpha = draw(st.sampled_from([0.1, 0.5, 1.0, 3.0, 20.0]))
    return col, w, scale, alpha


@SETTINGS
@given(kdi_problems())
def test_kdi_table_matches_direct_summation_at_any_scale(problem):
    col, w, scale, alpha = problem
    n_quantiles = min(50, col.size)
    X = (col * scale)[:, None]
    kdi = KDITransformer(alpha=alpha, n_quantiles=n_quantiles).fit(X, sample_weight=w)
    # The oracle runs at unit scale (the map is scale-free; its sums would overflow at
    # 1e250): bandwidth and knots are divided by the scale.
    weights = np.ones(col.size) if w is None else w
    mean = (weights * col).sum() / weights.sum()
    h = alpha * np.sqrt((weights * (col - mean) ** 2).sum() / (weights.sum() - 1))
    np.testing.assert_allclose(kdi.bandwidths_[0], h * scale, rtol=1e-10)
    table = direct_table(col, weights, kdi.quantiles_[:, 0] / scale, h)
    np.testing.assert_allclose(kdi.references_[:, 0], table, rtol=0, atol=1e-9)
    # The map is monotone, in [0, 1] and the same as at unit scale.
    T = kdi.transform(np.sort(X, axis=0))
    assert np.all(np.diff(T[:, 0]) >= 0) and T.min() == 0.0 and T.max() == 1.0
    unit = KDITransformer(alpha=alpha, n_quantiles=n_quantiles)
    unit.fit(col[:, None], sample_weight=w)
    np.testing.assert_allclose(T, unit.transform(np.sort(col)[:, None]), rtol=0, atol=1e-9)
