import pickle

import numpy as np
import pytest
from sklearn.gaussian_process.kernels import Matern as SkMatern
from sklearn.metrics.pairwise import rbf_kernel

from kernelkit import (
    KERNEL_NAMES,
    CallableKernel,
    Cauchy,
    Gaussian,
    InverseMultiquadric,
    L1Laplacian,
    Laplacian,
    Matern,
    estimate_bandwidth,
    make_kernel,
)
from kernelkit.kernels import squared_distances
from tests.conftest import dense_kernel

CASES = [
    ("gaussian", Gaussian, {}),
    ("laplacian", Laplacian, {}),
    ("laplacian_l1", L1Laplacian, {}),
    ("matern", Matern, {"nu": 0.5}),
    ("matern", Matern, {"nu": 1.5}),
    ("matern", Matern, {"nu": 2.5}),
    ("cauchy", Cauchy, {}),
    ("imq", InverseMultiquadric, {}),
]


@pytest.mark.parametrize("name, cls, params", CASES)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_block_matches_closed_form(rng, name, cls, params, dtype, rtol):
    A = rng.normal(size=(37, 4)).astype(dtype)
    B = rng.normal(size=(23, 4)).astype(dtype)
    k = cls(bandwidth=1.7, **params)
    K = k(A, B)
    assert K.dtype == dtype
    ref = dense_kernel(name, A, B, 1.7, **params)
    np.testing.assert_allclose(K, ref, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("name, cls, params", CASES)
def test_diagonal_is_exact_and_self_distance_zero(rng, name, cls, params):
    # Far from the origin the GEMM expansion cancels badly; values must stay exact.
    A = rng.normal(size=(50, 3)) + 1e4
    k = cls(bandwidth=0.5, **params)
    np.testing.assert_allclose(np.diag(k(A)), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(k.diag(A), 1.0)
    np.testing.assert_allclose(k(A), dense_kernel(name, A, A, 0.5, **params), atol=1e-12)


def test_gaussian_matches_sklearn_rbf(rng):
    A = rng.normal(size=(20, 5))
    gamma = 0.3
    np.testing.assert_allclose(
        Gaussian(bandwidth=1 / np.sqrt(2 * gamma))(A), rbf_kernel(A, gamma=gamma), rtol=1e-12
    )


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_matern_matches_sklearn(rng, nu):
    A = rng.normal(size=(15, 3))
    np.testing.assert_allclose(
        Matern(bandwidth=1.3, nu=nu)(A), SkMatern(length_scale=1.3, nu=nu)(A), rtol=1e-10
    )


def test_laplacian_is_euclidean_not_l1():
    a, b = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])
    assert Laplacian(bandwidth=1.0)(a, b)[0, 0] == pytest.approx(np.exp(-5.0))


def test_callable_kernel_and_diag(rng):
    A = rng.normal(size=(300, 2))
    k = CallableKernel(lambda P, Q: (P @ Q.T + 1.0) ** 2)
    np.testing.assert_allclose(k.diag(A), ((A * A).sum(1) + 1) ** 2)
    assert k.max_diagonal(A) == pytest.approx((((A * A).sum(1) + 1) ** 2).max())
    with pytest.raises(ValueError, match="shape"):
        CallableKernel(lambda P, Q: P)(A)


def test_squared_distances_exact_under_cancellation(rng):
    A = rng.normal(size=(40, 6)) * 1e-3 + 1e3
    ref = ((A[:, None] - A[None]) ** 2).sum(-1)
    np.testing.assert_allclose(squared_distances(A, A), ref, rtol=1e-9, atol=1e-20)


def test_make_kernel_strings_objects_and_rules(rng):
    X = rng.normal(size=(200, 3))
    assert set(KERNEL_NAMES) >= {"gaussian", "laplacian", "matern", "cauchy", "imq"}
    assert make_kernel("rbf", 2.0) == Gaussian(2.0)
    assert make_kernel(Laplacian(3.0)) == Laplacian(3.0)
    assert make_kernel(Laplacian(3.0), 1.0) == Laplacian(1.0)
    k = make_kernel("gaussian", "median", X=X)
    d = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))[np.triu_indices(200, 1)]
    assert k.bandwidth == pytest.approx(np.median(d))
    # One default: a name without bandwidth gets the median rule, an object keeps its own.
    assert make_kernel("gaussian", None, X=X) == k
    assert make_kernel("laplacian", X=X) == Laplacian(k.bandwidth)
    assert make_kernel(Gaussian(0.3), X=X) == Gaussian(0.3)
    assert make_kernel(Gaussian(0.3), "median", X=X) == k
    assert make_kernel(Gaussian("scale"), X=X) == Gaussian(np.sqrt(3 * X.var()))
    k = make_kernel("laplacian", "scale", X=X)
    assert k.bandwidth == pytest.approx(np.sqrt(3 * X.var()))
    assert isinstance(make_kernel(lambda a, b: a @ b.T), CallableKernel)


def test_median_rule_is_deterministic(rng):
    X = rng.normal(size=(3000, 2))
    a = estimate_bandwidth(X, n_samples=100)
    # The same rows every time (an internal generator of fixed seed).
    assert a == estimate_bandwidth(X, n_samples=100)
    assert make_kernel("gaussian", X=X) == Gaussian(estimate_bandwidth(X))
    # A subsample of 100 rows estimates the median of all pairs (about 1.67 for 2-D normals).
    d = np.sqrt(((X[:300, None] - X[None, :300]) ** 2).sum(-1))[np.triu_indices(300, 1)]
    assert a == pytest.approx(np.median(d), rel=0.15)
    # At most n_samples rows: every row takes part, as in the dense computation.
    small = X[:50]
    d = np.sqrt(((small[:, None] - small[None]) ** 2).sum(-1))[np.triu_indices(50, 1)]
    assert estimate_bandwidth(small, n_samples=50) == pytest.approx(np.median(d), rel=1e-12)
    with pytest.raises(TypeError):
        estimate_bandwidth(X, random_state=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "'n_samples' parameter"),
        ({"n_samples": 1}, "'n_samples' parameter"),
        ({"n_samples": 2.5}, "'n_samples' parameter"),
        ({"rule": "mean"}, "'rule' parameter"),
    ],
)
def test_estimate_bandwidth_validates(rng, kwargs, match):
    with pytest.raises(ValueError, match=match):
        estimate_bandwidth(rng.normal(size=(10, 2)), **kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"kernel": "poly"}, ValueError, "'kernel' parameter.*gaussian"),
        ({"kernel": 3}, TypeError, "'kernel' parameter"),
        ({"kernel": "gaussian", "bandwidth": 0.0}, ValueError, "'bandwidth' parameter"),
        ({"kernel": "gaussian", "bandwidth": -1}, ValueError, "'bandwidth' parameter"),
        ({"kernel": "gaussian", "bandwidth": np.nan}, ValueError, "'bandwidth' parameter"),
        ({"kernel": "gaussian", "bandwidth": np.inf}, ValueError, "bandwidth"),
        ({"kernel": "gaussian", "bandwidth": True}, ValueError, "bandwidth"),
        ({"kernel": "gaussian", "bandwidth": "mean"}, ValueError, "'bandwidth' parameter"),
        ({"kernel": "gaussian", "bandwidth": "median"}, ValueError, "needs data"),
        ({"kernel": "gaussian"}, ValueError, "median.*needs data X"),
        ({"kernel": "gaussian", "bandwidth": 1.0, "X": 3}, ValueError, "'X' parameter"),
        ({"kernel": "gaussian", "random_state": 0}, TypeError, "random_state"),
    ],
)
def test_make_kernel_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_kernel(**kwargs)


def test_bad_points_are_named(rng):
    k = Gaussian(1.0)
    A = rng.normal(size=(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        k(np.array([[np.nan, 1.0]]), A)
    with pytest.raises(ValueError, match="B"):
        k(A, np.array([[np.inf, 1.0]]))
    with pytest.raises(ValueError, match="features"):
        k(A, rng.normal(size=(3, 5)))
    with pytest.raises(ValueError, match="2D array|2-D"):
        k(np.ones(3))
    with pytest.raises(ValueError, match="0 sample"):
        k(np.ones((0, 2)))
    with pytest.raises(TypeError, match="complex"):
        k(A + 1j)
    with pytest.raises(ValueError, match="nu"):
        Matern(1.0, nu=3.5)(A)
    with pytest.raises(ValueError, match="rule"):
        Gaussian("median")(A)


def test_kernels_pickle_compare_and_repr():
    for k in [Gaussian(2.0), Matern(1.0, nu=2.5), Cauchy(0.3)]:
        assert pickle.loads(pickle.dumps(k)) == k
        assert eval(repr(k)) == k
    assert Gaussian(1.0) != Laplacian(1.0)
    assert len({Gaussian(1.0), Gaussian(1.0)}) == 1


def test_inputs_are_not_modified_and_readonly_ok(rng):
    A = rng.normal(size=(10, 3))
    A.setflags(write=False)
    before = A.copy()
    Gaussian(1.0)(A)
    Laplacian(1.0).diag(A)
    np.testing.assert_array_equal(A, before)
