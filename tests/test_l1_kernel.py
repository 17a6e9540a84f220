"""The L1 (Manhattan) Laplacian kernel against scikit-learn's ``laplacian_kernel``.

References: ``sklearn.metrics.pairwise.laplacian_kernel`` / ``manhattan_distances``
and SciPy's ``pdist(metric="cityblock")``, in float64 on small inputs.
"""

import pickle

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from sklearn.metrics.pairwise import laplacian_kernel, manhattan_distances

from kernelkit import (
    KERNEL_NAMES,
    CallableKernel,
    EigenProRegressor,
    FalkonRegressor,
    KernelOperator,
    L1Laplacian,
    Laplacian,
    config_context,
    estimate_bandwidth,
    make_kernel,
)
from kernelkit._backend.cpu import l1_distance_block
from kernelkit.kernels import SumKernel, l1_distances, power_kernel


def _sk(A, B, bandwidth):
    return laplacian_kernel(
        np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64), gamma=1.0 / bandwidth
    )


def _mixed(rng, n, n_onehot=3, levels=4, n_numeric=3):
    """Rows with ``n_onehot`` one-hot blocks and a few standardised numeric columns."""
    blocks = [np.eye(levels)[rng.integers(0, levels, size=n)] for _ in range(n_onehot)]
    return np.hstack([*blocks, rng.normal(size=(n, n_numeric))])


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("engine", ["cpu", "numpy"])
def test_values_equal_sklearn_laplacian_kernel(rng, dtype, rtol, engine):
    A = _mixed(rng, 61).astype(dtype)
    B = _mixed(rng, 37).astype(dtype)
    ref = _sk(A, B, 2.5)
    k = L1Laplacian(2.5)
    direct = k(A, B)
    assert direct.dtype == dtype
    np.testing.assert_allclose(direct, ref, rtol=rtol)
    with config_context(engine=engine, working_memory=0.01):
        dense = KernelOperator(k, A, B).to_dense()
    assert dense.dtype == dtype
    np.testing.assert_allclose(dense, ref, rtol=rtol)


def test_name_and_sklearn_gamma_correspondence(rng):
    assert "laplacian_l1" in KERNEL_NAMES
    assert make_kernel("laplacian_l1", 4.0) == L1Laplacian(4.0)
    X = rng.normal(size=(20, 5))
    np.testing.assert_allclose(L1Laplacian(1 / 0.3)(X), laplacian_kernel(X, gamma=0.3), rtol=1e-12)
    # Not the Euclidean Laplacian: |3| + |4| = 7, not 5.
    a, b = np.array([[0.0, 0.0]]), np.array([[3.0, -4.0]])
    assert L1Laplacian(1.0)(a, b)[0, 0] == pytest.approx(np.exp(-7.0), rel=1e-15)
    assert L1Laplacian(1.0) != Laplacian(1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numba_engine_matches_sklearn_distances(rng, dtype):
    X = rng.normal(size=(130, 11)).astype(dtype)
    Z = rng.normal(size=(70, 11)).astype(dtype)
    ref = manhattan_distances(X.astype(np.float64), Z.astype(np.float64))
    serial = l1_distance_block(X, Z, -0.5)
    parallel = l1_distance_block(X, Z, -0.5, parallel=True)
    assert serial.dtype == dtype and parallel.dtype == dtype
    np.testing.assert_array_equal(serial, parallel)  # same sums in the same order
    # f32 sums stay f32: within d/2 ulps of the exact distance.
    rtol = 1e-15 if dtype == np.float64 else 11 * np.finfo(np.float32).eps
    np.testing.assert_allclose(serial, -0.5 * ref, rtol=rtol)
    out = np.empty((130, 70), dtype=dtype)
    assert l1_distance_block(X, Z, out=out) is out
    np.testing.assert_allclose(out, ref, rtol=rtol)
    np.testing.assert_allclose(l1_distances(X, Z), ref, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_operator_products_equal_dense_reference(rng, dtype):
    X = _mixed(rng, 300).astype(dtype)
    Z = _mixed(rng, 170).astype(dtype)
    V = rng.normal(size=(170, 3)).astype(dtype)
    U = rng.normal(size=(300, 2)).astype(dtype)
    K = _sk(X, Z, 3.0)
    tol = {"rtol": 1e-11, "atol": 1e-11} if dtype == np.float64 else {"rtol": 2e-4, "atol": 2e-4}
    # A small budget makes many tiles; two threads run them.
    with config_context(working_memory=0.05, n_threads=2):
        op = KernelOperator("laplacian_l1", X, Z, bandwidth=3.0)
        assert op.kernel == L1Laplacian(3.0)
        results = {
            "matvec": (op.matvec(V[:, 0]), K @ V[:, 0]),
            "matmat": (op @ V, K @ V),
            "rmatvec": (op.rmatvec(U[:, 0]), K.T @ U[:, 0]),
            "rmatmat": (op.rmatmat(U), K.T @ U),
            "T": (op.T @ U, K.T @ U),
            "dmmv": (op.dmmv(V, U[:, :1].repeat(3, 1)), K.T @ (K @ V + U[:, :1])),
            "to_dense": (op.to_dense(), K),
            "blocks": (np.vstack([b for _, b in op.blocks(rows=64)]), K),
            "take": (
                op.take(rows=[5, 0, 77], cols=slice(10, 40)).to_dense(),
                K[[5, 0, 77], 10:40],
            ),
            "diagonal": (op.diagonal(), np.diag(K[:170, :170])),
        }
        KV, KtU = op.matmat_rmatmat(V, U)
        results["matmat_rmatmat"] = (
            np.hstack([KV.ravel(), KtU.ravel()]),
            np.hstack([(K @ V).ravel(), (K.T @ U).ravel()]),
        )
        square = KernelOperator(L1Laplacian(3.0), X)
        results["square diagonal"] = (square.diagonal(), np.ones(300))
        results["square matvec"] = (square @ U[:, 0], _sk(X, X, 3.0) @ U[:, 0])
    for name, (got, ref) in results.items():
        assert got.dtype == dtype, name
        np.testing.assert_allclose(got, ref, err_msg=name, **tol)


def test_median_and_scale_rules_measure_l1_distances(rng):
    X = _mixed(rng, 40)
    median = np.median(pdist(X, metric="cityblock"))
    assert estimate_bandwidth(X, metric="manhattan") == pytest.approx(median, rel=1e-12)
    rule = estimate_bandwidth(X, metric="manhattan")
    assert make_kernel("laplacian_l1", X=X) == L1Laplacian(rule)
    assert make_kernel(L1Laplacian("median"), X=X).bandwidth == pytest.approx(median, rel=1e-12)
    # The Euclidean rule is a different number on the same data.
    assert abs(make_kernel("laplacian", X=X).bandwidth - median) > 0.1 * median
    # "scale": n_features standard deviations (the L1 length of a vector of them).
    scale = make_kernel("laplacian_l1", "scale", X=X).bandwidth
    assert scale == pytest.approx(X.shape[1] * X.std(), rel=1e-12)
    # Subsampled median: the rule is deterministic and close to the full median.
    big = _mixed(rng, 1500)
    a = estimate_bandwidth(big, n_samples=300, metric="manhattan")
    assert a == estimate_bandwidth(big, n_samples=300, metric="manhattan")
    assert a == pytest.approx(np.median(pdist(big[:500], metric="cityblock")), rel=0.05)
    with pytest.raises(ValueError, match="'metric' parameter"):
        estimate_bandwidth(X, metric="chebyshev")


def test_bandwidth_range_and_errors(rng):
    X = rng.normal(size=(10, 3))
    for dtype in (np.float32, np.float64):
        info = np.finfo(dtype)
        low, high = L1Laplacian(1.0).bandwidth_range(dtype)
        # 1/low must not overflow; distances are summed, never square-rooted.
        assert 1.0 / info.max <= low <= 1.01 / info.max
        assert high == np.finfo(np.float64).max
        k = L1Laplacian(low)(X.astype(dtype), X.astype(dtype) + 1)
        assert np.isfinite(k).all()
        with pytest.raises(ValueError, match="too small"):
            L1Laplacian(low / 2)(X.astype(dtype))
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="bandwidth"):
            L1Laplacian(bad)(X)
        with pytest.raises(ValueError, match="bandwidth"):
            make_kernel("laplacian_l1", bad)
    with pytest.raises(ValueError, match="'bandwidth' parameter"):
        make_kernel("laplacian_l1", "mean")
    with pytest.raises(ValueError, match="rule"):
        L1Laplacian("median")(X)
    with pytest.raises(ValueError, match="median.*needs data X"):
        make_kernel("laplacian_l1")
    with pytest.raises(ValueError, match="bandwidth"):
        FalkonRegressor("laplacian_l1", bandwidth=-2.0).fit(X, X[:, 0])


def test_huge_data_is_scale_free_and_span_check_is_l1():
    X = np.random.default_rng(1).normal(size=(12, 3))
    unit = L1Laplacian(1.5)(X)
    for dtype, c in [(np.float64, 1e306), (np.float32, 1e37)]:
        scaled = L1Laplacian(1.5 * c)((X * c).astype(dtype))
        assert np.isfinite(scaled).all()
        np.testing.assert_allclose(scaled, unit, atol=1e-4 if dtype == np.float32 else 1e-9)
    # The L1 engine accepts spans whose squares overflow (the Euclidean one cannot).
    Y = X * 1e200
    op = KernelOperator(L1Laplacian(1e200), Y)
    np.testing.assert_allclose(op.to_dense(), unit ** (1.5), rtol=1e-9)
    with pytest.raises(ValueError, match="squared distances overflow"):
        KernelOperator(Laplacian(1e200), Y)
    with pytest.raises(ValueError, match="L1 distances overflow"):
        KernelOperator(L1Laplacian(1e300), np.array([[0.0, 0.0, 0.0], [1e308, 0.0, 0.0]]))


def test_power_sum_cuda_form_and_pickle():
    k = L1Laplacian(2.0)
    with pytest.raises(ValueError, match="No power kernel is known for L1Laplacian"):
        power_kernel(k, 0.5, n_features=3)
    # A sum needs one metric: its engines compute one distance per pair.
    with pytest.raises(ValueError, match="one metric"):
        SumKernel([k, Laplacian(2.0)])
    total = SumKernel([k, L1Laplacian(5.0)])
    X = np.random.default_rng(2).normal(size=(30, 4))
    ref = _sk(X, X, 2.0) + _sk(X, X, 5.0)
    np.testing.assert_allclose(KernelOperator(total, X).to_dense(), ref, rtol=1e-12)
    np.testing.assert_allclose(total(X), ref, rtol=1e-12)
    # The fused CUDA kernel gets the scale and the metric (an L1 mode; see test_cuda.py).
    assert k.exponential_form() == (False, -0.5)
    assert k.metric == "manhattan" and Laplacian(2.0).metric == "euclidean"
    assert pickle.loads(pickle.dumps(k)) == k
    assert eval(repr(k)) == k
    assert len({k, L1Laplacian(2.0)}) == 1
    assert k.diag(X).tolist() == [1.0] * 30 and k.max_diagonal() == 1.0
    before = X.copy()
    k(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_falkon_equals_falkon_with_sklearn_callable(rng):
    X = _mixed(rng, 400, n_onehot=4, levels=5, n_numeric=2)
    y = X[:, :5] @ rng.normal(size=5) + np.sin(X[:, -1]) + 0.05 * rng.normal(size=400)
    params = {"n_centers": 80, "regularization": 1e-5, "max_iter": 30, "random_state": 0}
    named = FalkonRegressor("laplacian_l1", bandwidth=4.0, **params).fit(X, y)
    wrapped = CallableKernel(lambda A, B: laplacian_kernel(A, B, gamma=0.25))
    peer = FalkonRegressor(wrapped, **params).fit(X, y)
    assert named.kernel_ == L1Laplacian(4.0)
    Xt = _mixed(rng, 100, n_onehot=4, levels=5, n_numeric=2)
    np.testing.assert_allclose(named.predict(Xt), peer.predict(Xt), rtol=1e-8, atol=1e-10)
    # The default bandwidth rule measures L1 distances too.
    auto = FalkonRegressor("laplacian_l1", **params).fit(X, y)
    assert auto.kernel_ == L1Laplacian(np.median(pdist(X, metric="cityblock")))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_eigenpro_accepts_the_name(rng):
    X = _mixed(rng, 300)
    y = X[:, 0] - X[:, 4] + 0.1 * rng.normal(size=300)
    model = EigenProRegressor("laplacian_l1", bandwidth=6.0, n_centers=100, epochs=3)
    model.set_params(random_state=0).fit(X, y)
    assert model.kernel_ == L1Laplacian(6.0)
    assert model.score(X, y) > 0.5


def test_dask_kernel_matmat(rng):
    da = pytest.importorskip("dask.array")
    from kernelkit.distributed import kernel_matmat

    X = _mixed(rng, 240)
    Z, V = X[:30], rng.normal(size=(30, 2))
    out = kernel_matmat(
        "laplacian_l1", da.from_array(X, chunks=(80, X.shape[1])), Z, V, bandwidth=3.0
    )
    np.testing.assert_allclose(out.compute(), _sk(X, Z, 3.0) @ V, rtol=1e-11)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("bandwidth", [None, "scale"])
def test_dask_falkon_resolves_rules_in_the_l1_metric(rng, bandwidth):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    X = _mixed(rng, 200)
    y = X[:, 0] + 0.1 * rng.normal(size=200)
    params = {"n_centers": 20, "max_iter": 5, "random_state": 0, "bandwidth": bandwidth}
    ref = FalkonRegressor("laplacian_l1", **params).fit(X, y)
    with dask.config.set(scheduler="sync"):
        model = FalkonRegressor("laplacian_l1", **params).fit(da.from_array(X, chunks=50), y)
    expected = X.shape[1] * X.std() if bandwidth == "scale" else np.median(pdist(X, "cityblock"))
    assert ref.kernel_.bandwidth == pytest.approx(expected, rel=1e-12)
    assert model.kernel_.bandwidth == pytest.approx(expected, rel=1e-12)
