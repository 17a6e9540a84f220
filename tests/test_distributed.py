"""Kernel products over Dask arrays, on the threaded scheduler and on a LocalCluster."""

import numpy as np
import pytest

from tests.conftest import dense_kernel

da = pytest.importorskip("dask.array")

from kernelkit.distributed import kernel_matmat, kernel_rmatmat  # noqa: E402


def test_matches_dense_on_threaded_scheduler(rng):
    X = rng.normal(size=(700, 4))
    Z = rng.normal(size=(60, 4))
    V = rng.normal(size=(60, 2))
    U = rng.normal(size=(700, 3))
    Xd = da.from_array(X, chunks=(150, 2))  # feature chunks are merged internally
    K = dense_kernel("laplacian", X, Z, 1.5)
    got = kernel_matmat("laplacian", Xd, Z, V, bandwidth=1.5).compute()
    np.testing.assert_allclose(got, K @ V, rtol=1e-10)
    got = kernel_rmatmat("laplacian", Xd, Z, da.from_array(U, chunks=(100, 3)), bandwidth=1.5)
    np.testing.assert_allclose(got.compute(), K.T @ U, rtol=1e-10)
    vec = kernel_rmatmat("laplacian", Xd, Z, U[:, 0], bandwidth=1.5).compute()
    np.testing.assert_allclose(vec, K.T @ U[:, 0], rtol=1e-10)


def test_float32_stays_float32(rng):
    X = rng.normal(size=(100, 3)).astype(np.float32)
    out = kernel_matmat("gaussian", da.from_array(X, chunks=50), X[:7], np.ones(7), bandwidth=1.0)
    assert out.dtype == np.float32 and out.compute().dtype == np.float32


def test_bad_inputs(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(TypeError, match="dask.array"):
        kernel_matmat("gaussian", X, X, np.ones(10))
    with pytest.raises(ValueError, match="features"):
        kernel_matmat("gaussian", da.from_array(X), rng.normal(size=(3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="V has 4 rows"):
        kernel_matmat("gaussian", da.from_array(X), X, np.ones(4))
    with pytest.raises(ValueError, match="U has"):
        kernel_rmatmat("gaussian", da.from_array(X), X, da.ones(3))


@pytest.mark.dask
def test_local_cluster_gives_identical_results(rng):
    distributed = pytest.importorskip("distributed")
    X = rng.normal(size=(2000, 5)).astype(np.float32)
    Z = X[:100]
    u = rng.normal(size=2000).astype(np.float32)
    Xd = da.from_array(X, chunks=(250, 5))
    local = kernel_rmatmat("gaussian", Xd, Z, u, bandwidth=2.0).compute(scheduler="sync")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_cluster = client.compute(kernel_rmatmat("gaussian", Xd, Z, u, bandwidth=2.0)).result()
        rows = client.compute(kernel_matmat("gaussian", Xd, Z, u[:100], bandwidth=2.0)).result()
    np.testing.assert_array_equal(on_cluster, local)
    ref = dense_kernel("gaussian", X, Z, 2.0)
    np.testing.assert_allclose(rows, ref @ u[:100], rtol=1e-4)
    np.testing.assert_allclose(local, ref.T @ u, rtol=1e-4, atol=1e-3)


def test_transposed_sum_is_a_dask_reduction(rng):
    X = rng.normal(size=(400, 3))
    Xd = da.from_array(X, chunks=(50, 3))
    out = kernel_rmatmat("gaussian", Xd, X[:30], np.ones(400), bandwidth=1.0)
    names = {key[0] if isinstance(key, tuple) else key for key in dict(out.dask)}
    assert any(name.startswith("sum") for name in names)  # Dask's own tree reduction
    # The same bits for any scheduler and any number of threads.
    a = out.compute(scheduler="sync")
    b = out.compute(scheduler="threads", num_workers=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, dense_kernel("gaussian", X, X[:30], 1.0).T.sum(1), rtol=1e-10)


def test_parameters_are_validated(rng):
    X = da.from_array(rng.normal(size=(10, 2)))
    Z = rng.normal(size=(4, 2))
    with pytest.raises(ValueError, match="'kernel' parameter"):
        kernel_matmat("poly", X, Z, np.ones(4))
    with pytest.raises(ValueError, match="'bandwidth' parameter"):
        kernel_rmatmat("gaussian", X, Z, np.ones(10), bandwidth=-2.0)
    with pytest.raises(ValueError, match="'V' parameter"):
        kernel_matmat("gaussian", X, Z, 3.0, bandwidth=1.0)
    # bandwidth=None with a kernel name: the median rule on Z, as everywhere.
    from kernelkit import KernelOperator

    got = kernel_matmat("gaussian", X, Z, np.ones(4)).compute()
    np.testing.assert_allclose(got, KernelOperator("gaussian", X.compute(), Z) @ np.ones(4))


def test_products_run_under_the_callers_config(rng):
    from kernelkit import config_context
    from kernelkit._backend import numba_cuda_usable

    if numba_cuda_usable():
        pytest.skip("a CUDA device (or the simulator) is present")
    X = da.from_array(rng.normal(size=(40, 2)), chunks=(10, 2))
    Z = rng.normal(size=(5, 2))
    with config_context(engine="cuda"):  # the graph is built here, run on scheduler threads
        lazy = kernel_matmat("gaussian", X, Z, np.ones(5), bandwidth=1.0)
        rlazy = kernel_rmatmat("gaussian", X, Z, np.ones(40), bandwidth=1.0)
    for product in (lazy, rlazy):
        with pytest.raises(RuntimeError, match="engine='cuda'"):
            product.compute(scheduler="threads")
