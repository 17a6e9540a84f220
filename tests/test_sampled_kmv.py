"""SampledGaussianOperator and softmax_attention against dense oracles.

The oracle is K = exp(-cdist(X, Z)^2 / (2 σ^2)) from SciPy, independent of
kernelkit's operator. The guarantee under test: ||K x - y|| <= eps ||x|| with
probability >= 1 - delta, for every x.
"""

import warnings

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, aslinearoperator, cg, eigsh
from scipy.spatial.distance import cdist
from scipy.special import softmax

from benchmarks.bench_sampled_kmv import attention_like, clustered
from kernelkit import SampledGaussianOperator, SamplingFallbackWarning, softmax_attention

EPS = 0.05


def dense(X, Z=None, bandwidth=1.0):
    Z = X if Z is None else Z
    return np.exp(-cdist(X, Z, "sqeuclidean") / (2 * bandwidth**2))


def rel_err(y, K, x):
    return np.linalg.norm(y - K @ x) / np.linalg.norm(x)


def vectors(K, rng):
    """The issue's x: Gaussian, all-ones, signed spikes, and x on the heaviest columns."""
    m = K.shape[1]
    spikes = np.zeros(m)
    idx = rng.choice(m, size=5, replace=False)
    spikes[idx] = rng.choice([-1.0, 1.0], size=5) * rng.uniform(1, 10, size=5)
    heavy = np.zeros(m)
    top = np.argsort(K.sum(axis=0))[-20:]
    heavy[top] = rng.normal(size=20)
    return {
        "gaussian": rng.normal(size=m),
        "ones": np.ones(m),
        "spikes": spikes,
        "heaviest": heavy,
    }


@pytest.fixture(scope="module")
def d3():
    X = clustered(3000, 3, random_state=3)
    return X, dense(X)


@pytest.fixture(scope="module")
def d8():
    X = clustered(3000, 8, random_state=8)
    return X, dense(X)


@pytest.fixture(scope="module")
def attention():
    X, Z = attention_like(2000, 2500, random_state=5)
    return X, Z, dense(X, Z)


@pytest.mark.parametrize("resample", [True, False])
@pytest.mark.parametrize("case", ["d3", "d8"])
def test_clustered_within_eps_for_every_kind_of_x(case, resample, request):
    X, K = request.getfixturevalue(case)
    rng = np.random.default_rng(0)
    worst = 0.0
    for seed in range(3):
        op = SampledGaussianOperator(
            X, bandwidth=1.0, eps=EPS, resample=resample, fallback="never", random_state=seed
        )
        assert op.strategy_ == "sampled"
        assert 3 < op.sparsity_ < 30  # the data are built for c ~ 10
        for x in vectors(K, rng).values():
            worst = max(worst, rel_err(op @ x, K, x))
    assert worst <= EPS


def test_attention_like_rectangular(attention):
    X, Z, K = attention
    op = SampledGaussianOperator(X, Z, bandwidth=1.0, eps=EPS, fallback="never", random_state=0)
    assert op.shape == (2000, 2500)
    assert op.heavy_search_ == "lsh" and 0.5 <= op.recall_ <= 1.0
    rng = np.random.default_rng(1)
    for x in vectors(K, rng).values():
        assert rel_err(op @ x, K, x) <= EPS
    # matmat: each column is bounded separately
    V = rng.normal(size=(2500, 2)) * [1.0, 100.0]
    Y = op @ V
    for c in range(2):
        assert rel_err(Y[:, c], K, V[:, c]) <= EPS


def test_two_hundred_seeds_at_least_99_percent_within_eps():
    X = clustered(500, 3, random_state=11)
    K = dense(X)
    ok = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        op = SampledGaussianOperator(
            X, bandwidth=1.0, eps=EPS, fallback="never", random_state=seed
        )
        x = rng.normal(size=500) if seed % 2 else rng.standard_t(1.5, size=500)
        ok += rel_err(op @ x, K, x) <= EPS
    assert ok >= 198


def test_light_estimate_is_unbiased(d3):
    X, K = d3
    # A loose eps gives a large threshold, hence a light part worth estimating.
    op = SampledGaussianOperator(X, bandwidth=1.0, eps=1.0, fallback="never", random_state=0)
    x = np.random.default_rng(2).normal(size=len(X))
    light = K @ x - op._H @ x
    p = 0.9 * x**2 / (x @ x) + 0.1 / len(x)  # the operator's importance distribution
    p /= p.sum()
    draws = np.array([op._light_draw(x, p, 100)[0] for _ in range(300)])
    rng = np.random.default_rng(3)
    directions = [light / np.linalg.norm(light), *rng.normal(size=(3, len(X)))]
    for k, u in enumerate(directions):
        proj = draws @ u
        se = proj.std(ddof=1) / np.sqrt(len(proj))
        assert abs(proj.mean() - light @ u) <= 4 * se
        if k == 0:  # the test has power: an estimator biased to zero would fail it
            assert 4 * se < 0.5 * np.linalg.norm(light)


def test_kdtree_heavy_set_is_the_threshold_set(d3):
    X, K = d3
    op = SampledGaussianOperator(X, bandwidth=1.0, eps=EPS, random_state=0)
    assert op.heavy_search_ == "kdtree" and op.recall_ == 1.0
    tau = op.threshold_
    H = op._H.toarray()
    clear = np.abs(K - tau) > 1e-12 * tau  # ignore ties at rounding level
    assert np.array_equal((H > 0)[clear], (K >= tau)[clear])
    assert op.n_heavy_pairs_ == np.count_nonzero(H)
    assert np.allclose(H[H > 0], K[H > 0], rtol=1e-12, atol=0)


def test_dense_kernel_falls_back_with_a_warning():
    X = clustered(1500, 3, random_state=1)
    with pytest.warns(SamplingFallbackWarning, match="sparsity c"):
        op = SampledGaussianOperator(X, bandwidth=20.0, random_state=0)
    assert op.strategy_ == "exact" and op.sparsity_ > 1000
    x = np.random.default_rng(0).normal(size=1500)
    np.testing.assert_allclose(op @ x, dense(X, bandwidth=20.0) @ x, rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SampledGaussianOperator(X, bandwidth=20.0, fallback="exact").strategy_ == "exact"
    with pytest.raises(ValueError, match="fallback='exact'"):
        SampledGaussianOperator(X, bandwidth=20.0, fallback="raise")


def test_frozen_operator_is_linear_and_cg_and_eigsh_run():
    X = clustered(1500, 3, random_state=6)
    K = dense(X)
    op = SampledGaussianOperator(
        X, bandwidth=1.0, eps=EPS, resample=False, fallback="never", random_state=0
    )
    rng = np.random.default_rng(0)
    x, z = rng.normal(size=(2, len(X)))
    lhs = op @ (2.0 * x - 3.0 * z)
    rhs = 2.0 * (op @ x) - 3.0 * (op @ z)
    assert np.linalg.norm(lhs - rhs) <= 1e-12 * np.linalg.norm(rhs)
    M = op @ np.eye(len(X))
    lam = 1.0
    A = op + aslinearoperator(lam * np.eye(len(X)))
    b = rng.normal(size=len(X))
    sol, info = cg(A, b, rtol=1e-10, maxiter=2000)
    assert info == 0
    np.testing.assert_allclose(sol, np.linalg.solve(M + lam * np.eye(len(X)), b), atol=1e-6)
    top = eigsh(op, k=1, which="LM", return_eigenvectors=False)[0]
    reference = eigsh(K, k=1, which="LM", return_eigenvectors=False)[0]
    # ||(M - K) v|| <= eps for the top unit eigenvector v of K, over the frozen draw
    assert abs(top - reference) <= 2 * EPS


def test_determinism_and_seeds(d8):
    X, K = d8
    x = np.random.default_rng(0).normal(size=len(X))
    a = SampledGaussianOperator(X, bandwidth=1.0, eps=0.2, fallback="never", random_state=7)
    b = SampledGaussianOperator(X, bandwidth=1.0, eps=0.2, fallback="never", random_state=7)
    ya, yb = [a @ x, a @ x], [b @ x, b @ x]
    np.testing.assert_array_equal(ya[0], yb[0])
    np.testing.assert_array_equal(ya[1], yb[1])
    assert not np.array_equal(ya[0], ya[1])  # resample=True draws anew


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1.0}, ValueError, "eps"),
        ({"delta": 0.0}, ValueError, "delta"),
        ({"delta": 1.0}, ValueError, "delta"),
        ({"delta": "a"}, TypeError, "delta"),
        ({"fallback": "sometimes"}, ValueError, "fallback"),
        ({"bandwidth": -1.0}, ValueError, "bandwidth"),
        ({"bandwidth": None}, ValueError, "bandwidth"),
        ({"resample": "yes"}, TypeError, "resample"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    X = clustered(200, 2)
    params = {"bandwidth": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        SampledGaussianOperator(X, **params)


def test_bad_arrays():
    X = clustered(300, 3)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X"):
        SampledGaussianOperator(bad, bandwidth=1.0)
    with pytest.raises(ValueError, match="Z"):
        SampledGaussianOperator(X, bad, bandwidth=1.0)
    with pytest.raises(ValueError, match="features"):
        SampledGaussianOperator(X, X[:, :2], bandwidth=1.0)
    op = SampledGaussianOperator(X, bandwidth=1.0, fallback="exact")
    with pytest.raises(ValueError, match="x has 299 rows"):
        op @ np.ones(299)
    with pytest.raises(ValueError, match="x contains NaN"):
        op.matvec(np.full(300, np.nan))
    with pytest.raises(ValueError, match="V must be 2-D"):
        op.matmat(np.ones(300))


def test_read_only_inputs_are_left_unmodified():
    X = clustered(1200, 3, random_state=2)
    x = np.random.default_rng(0).normal(size=1200)
    X0, x0 = X.copy(), x.copy()
    X.setflags(write=False)
    x.setflags(write=False)
    for resample in (True, False):
        op = SampledGaussianOperator(
            X, bandwidth=1.0, resample=resample, fallback="never", random_state=0
        )
        op @ x
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(x, x0)


def test_float32_stays_float32():
    X = clustered(1500, 3, random_state=4)
    op = SampledGaussianOperator(
        X.astype(np.float32), bandwidth=1.0, eps=EPS, fallback="never", random_state=0
    )
    x = np.random.default_rng(0).normal(size=1500).astype(np.float32)
    y = op @ x
    assert op.dtype == np.float32 and y.dtype == np.float32 and op._H.dtype == np.float32
    assert rel_err(y, dense(X), x) <= EPS + 1e-5


def test_linear_operator_interface(d3):
    X, K = d3
    op = SampledGaussianOperator(X, bandwidth=1.0, eps=EPS, random_state=0)
    assert isinstance(op, LinearOperator) and op.shape == K.shape
    x = np.ones(len(X))
    assert op.matvec(x).shape == (len(X),)
    assert op.matvec(x[:, None]).shape == (len(X), 1)
    assert 0 < op.work_ratio_ < 0.5 and op.n_light_samples_ >= 1
    assert op.dot(x).shape == (len(X),)


def attention_data(n_keys, n_queries, rng):
    """Keys of norm 4 (as after a layer norm) in clustered directions; queries near keys."""
    K = clustered(n_keys, 16, spread=0.2, random_state=0)
    K -= K.mean(axis=0)
    K *= 4.0 / np.linalg.norm(K, axis=1, keepdims=True)
    Q = K[rng.integers(0, n_keys, size=n_queries)] + 0.05 * rng.normal(size=(n_queries, 16))
    return Q, K


def test_softmax_attention_matches_exact_softmax():
    rng = np.random.default_rng(0)
    Q, K = attention_data(2000, 1500, rng)
    V = rng.normal(size=(2000, 3))
    exact = softmax(Q @ K.T, axis=1) @ V
    out = softmax_attention(Q, K, V, eps=EPS, random_state=0, fallback="exact")
    np.testing.assert_allclose(out, exact, atol=1e-10)
    out = softmax_attention(Q, K, V[:, 0], eps=EPS, random_state=0, fallback="never")
    assert out.shape == (1500,)
    error = np.abs(out - exact[:, 0])
    assert 1e-12 < error.max() <= 0.05 * np.abs(V).max()  # sampled, and close
    with pytest.raises(ValueError, match="V must have 2000 rows"):
        softmax_attention(Q, K, V[:5])
    with pytest.raises(ValueError, match="eps"):
        softmax_attention(Q, K, V, eps=0)
