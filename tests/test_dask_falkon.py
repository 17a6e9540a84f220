"""Falkon on Dask arrays: equal to the in-memory fit, config on the workers, out-of-core bench."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from kernelkit import FalkonClassifier, FalkonRegressor, Gaussian, config_context, get_config
from kernelkit.kernels import squared_distances

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

N_WORKERS = 2
# Converged, well-conditioned fits: the dask and in-memory sums differ in order only.
PARAMS = dict(kernel="gaussian", n_centers=40, regularization=1e-2, tol=1e-8, max_iter=100)


def _cluster(n_workers):
    return distributed.LocalCluster(
        host="127.0.0.1",
        n_workers=n_workers,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",
    )


@pytest.fixture(scope="module")
def client():
    with _cluster(N_WORKERS) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(600, 3))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=600)
    w = rng.uniform(0.2, 2.0, size=600)
    return X, y, w


def _chunked(A, per_worker):
    rows = -(-A.shape[0] // (N_WORKERS * per_worker))
    return da.from_array(A, chunks=(rows,) + A.shape[1:])


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.dask
@pytest.mark.parametrize("per_worker", [1, 2, 4])
def test_regressor_equals_in_memory_fit(client, data, per_worker):
    X, y, w = data
    ref = FalkonRegressor(**PARAMS, random_state=0).fit(X, y, sample_weight=w)
    Xd = _chunked(X, per_worker)
    assert Xd.npartitions == N_WORKERS * per_worker
    got = FalkonRegressor(**PARAMS, random_state=0).fit(
        Xd, _chunked(y, per_worker), sample_weight=_chunked(w, per_worker)
    )
    np.testing.assert_array_equal(got.centers_, ref.centers_)
    assert got.bandwidth_ == ref.bandwidth_
    assert _rel(got.dual_coef_, ref.dual_coef_) < 1e-6
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-12)
    pred = got.predict(Xd)
    assert isinstance(pred, da.Array) and pred.shape == (600,)
    assert _rel(pred.compute(), ref.predict(X)) < 1e-6
    assert got.n_features_in_ == 3 and not got.kernel_cached_


@pytest.mark.dask
def test_regressor_multi_output_and_in_memory_y(client, data):
    X, y, _ = data
    Y = np.column_stack([y, X[:, 2] ** 3 + 5.0])
    ref = FalkonRegressor(**PARAMS, random_state=1).fit(X, Y)
    got = FalkonRegressor(**PARAMS, random_state=1).fit(_chunked(X, 2), Y)  # y in memory
    assert _rel(got.dual_coef_, ref.dual_coef_) < 1e-6
    assert got.predict(_chunked(X, 1)).shape == (600, 2)
    assert _rel(got.predict(_chunked(X, 1)).compute(), ref.predict(X)) < 1e-6


@pytest.mark.dask
def test_classifier_equals_in_memory_fit(client, data):
    X, _, _ = data
    labels = np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    ref = FalkonClassifier(**PARAMS, random_state=0).fit(X, labels)
    got = FalkonClassifier(**PARAMS, random_state=0).fit(_chunked(X, 2), _chunked(labels, 2))
    np.testing.assert_array_equal(got.classes_, ref.classes_)
    assert _rel(got.dual_coef_, ref.dual_coef_) < 1e-6
    Xd = _chunked(X, 4)
    assert _rel(got.decision_function(Xd).compute(), ref.decision_function(X)) < 1e-6
    pred = got.predict(Xd)
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), ref.predict(X))


def _checked_gaussian(A, B):
    # Runs inside the tasks: fails the fit unless the caller's configuration arrived.
    config = get_config()
    if (config["working_memory"], config["engine"], config["n_threads"]) != (1, "numpy", 1):
        raise AssertionError(f"kernelkit configuration not carried to the task: {config}")
    return np.exp(-np.asarray(squared_distances(A, B)) / 2.0)


@pytest.mark.dask
def test_configuration_reaches_the_workers(client, data):
    X, y, _ = data
    params = dict(PARAMS, kernel=_checked_gaussian, n_centers=30)
    with pytest.raises(Exception, match="not carried"):  # the check can fail
        FalkonRegressor(**params, random_state=0).fit(_chunked(X, 1), y)
    with config_context(working_memory=1, engine="numpy", n_threads=1):
        got = FalkonRegressor(**params, random_state=0).fit(_chunked(X, 2), y)
        scores = got.predict(_chunked(X, 2))
        pred = scores.compute()
    ref = FalkonRegressor(**dict(params, kernel=Gaussian(1.0)), random_state=0).fit(X, y)
    assert _rel(got.dual_coef_, ref.dual_coef_) < 1e-6
    assert _rel(pred, ref.predict(X)) < 1e-6


@pytest.mark.dask
def test_results_do_not_depend_on_the_number_of_workers(client, data):
    dask = pytest.importorskip("dask")
    X, y, w = data
    Xd, yd, wd = _chunked(X, 4), _chunked(y, 4), _chunked(w, 4)

    def fit():
        return FalkonRegressor(**PARAMS, random_state=3).fit(Xd, yd, sample_weight=wd).dual_coef_

    two = fit()  # the module's two-worker cluster
    with dask.config.set(scheduler="threads", num_workers=3):
        three_threads = fit()
    with dask.config.set(scheduler="sync"):  # one worker, in this process
        one = fit()
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(three_threads, two)


def test_selectors_and_errors_without_a_cluster(data):
    dask = pytest.importorskip("dask")
    X, y, _ = data
    Xd = _chunked(X, 2)
    with dask.config.set(scheduler="sync"):
        kt = FalkonRegressor(**dict(PARAMS, centers="kt", n_centers=32), random_state=0)
        kt.fit(Xd, y)
        # Thinning ran on a sample brought to the client: its centers are rows of X, and the
        # fit equals the in-memory fit with those centers.
        assert 16 <= kt.n_centers_ <= 64  # "about" n_centers: thinning halves the sample
        assert all((X == z).all(axis=1).any() for z in kt.centers_)
        ref = FalkonRegressor(**dict(PARAMS, centers=kt.centers_, kernel=kt.kernel_)).fit(X, y)
        assert _rel(kt.dual_coef_, ref.dual_coef_) < 1e-6
        with pytest.raises(ValueError, match="centers='all'"):
            FalkonRegressor(centers="all").fit(Xd, y)
        with pytest.raises(ValueError, match="early_stopping"):
            FalkonRegressor(early_stopping=True).fit(Xd, y)
        with pytest.raises(ValueError, match="y must have 600 rows"):
            FalkonRegressor(n_centers=10).fit(Xd, y[:10])
        bad = X.copy()
        bad[5, 1] = np.nan
        with pytest.raises(ValueError, match="X contains NaN"):
            FalkonRegressor(**PARAMS).fit(_chunked(bad, 2), y)
        with pytest.raises(ValueError, match="non-negative"):
            FalkonRegressor(**PARAMS).fit(Xd, y, sample_weight=-np.ones(600))
        with pytest.raises(ValueError, match="2 features"):
            kt.predict(Xd[:, :2])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = FalkonRegressor(n_centers=20, max_iter=2, random_state=0)
            model.fit(Xd.astype(np.float32), y)
        assert model.dual_coef_.dtype == np.float32
        assert model.predict(Xd.astype(np.float32)).dtype == np.float32


def test_missing_dask_names_the_extra(monkeypatch):
    from kernelkit.linalg._distributed import _dask

    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"kernelkit\[dask\]"):
        _dask()


def test_kernel_dmmv_matches_dense(data):
    from kernelkit.distributed import kernel_dmmv
    from tests.conftest import dense_kernel

    X, _, w = data
    Z, V = X[:25], np.random.default_rng(1).normal(size=(25, 2))
    K = dense_kernel("laplacian", X, Z, 0.7)
    Xd = _chunked(X, 3)
    got = kernel_dmmv("laplacian", Xd, Z, V, weights=_chunked(w, 3), bandwidth=0.7)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.compute(scheduler="sync"), K.T @ (w[:, None] * (K @ V)))
    vec = kernel_dmmv("laplacian", Xd, Z, V[:, 0], bandwidth=0.7).compute(scheduler="sync")
    np.testing.assert_allclose(vec, K.T @ (K @ V[:, 0]))
    names = {key[0] if isinstance(key, tuple) else key for key in dict(got.dask)}
    assert any(name.startswith("sum") for name in names)  # Dask's own tree reduction


@pytest.mark.dask
def test_out_of_core_benchmark_quick(capsys):
    from benchmarks.bench_dask_falkon import main

    on_dask, in_memory = main(["--quick"])
    assert on_dask["partitions"] > 2 and on_dask["rows"] > in_memory["rows"]
    # The generated target is learnable and both fits learn it about equally well.
    assert on_dask["test R²"] > 0.5
    assert abs(on_dask["test R²"] - in_memory["test R²"]) < 0.05
    assert "| Dask, all rows |" in capsys.readouterr().out
