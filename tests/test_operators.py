import gc
import pickle
import tracemalloc

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from kernelkit import Gaussian, KernelOperator, Laplacian, Matern, config_context
from tests.conftest import dense_kernel

KERNELS = [
    ("gaussian", {}),
    ("laplacian", {}),
    ("matern", {"nu": 1.5}),
    ("matern", {"nu": 2.5}),
    ("cauchy", {}),
    ("imq", {}),
]
ENGINES = ["numpy", "cpu"]
TOL = {np.float64: 1e-10, np.float32: 1e-4}


def _kernel(name, params, bandwidth):
    from kernelkit import make_kernel

    k = make_kernel(name, bandwidth)
    return k.set_params(**params) if params else k


@pytest.mark.parametrize("name, params", KERNELS)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_products_match_dense(rng, name, params, engine, dtype):
    X = rng.normal(size=(301, 7)).astype(dtype)
    Z = rng.normal(size=(157, 7)).astype(dtype)
    V = rng.normal(size=(157, 3))
    U = rng.normal(size=(301, 2))
    ref = dense_kernel(name, X, Z, 2.0, **params)
    # A tiny budget forces many row and column tiles.
    with config_context(engine=engine, working_memory=0.05):
        K = KernelOperator(_kernel(name, params, 2.0), X, Z)
        KV, Kv, KtU, Ktu = K @ V, K @ V[:, 0], K.rmatmat(U), K.rmatvec(U[:, 0])
    rtol = TOL[dtype]
    for got, want in [
        (KV, ref @ V),
        (Kv, ref @ V[:, 0]),
        (KtU, ref.T @ U),
        (Ktu, ref.T @ U[:, 0]),
    ]:
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "n, m, d",
    [(1, 1, 1), (1, 50, 3), (50, 1, 3), (40, 1, 1), (3, 2000, 2), (2000, 3, 2)],
)
def test_edge_shapes(rng, engine, n, m, d):
    X, Z = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    v = rng.normal(size=m)
    with config_context(engine=engine, working_memory=0.01):
        got = KernelOperator("laplacian", X, Z, bandwidth=0.7) @ v
    np.testing.assert_allclose(got, dense_kernel("laplacian", X, Z, 0.7) @ v, rtol=1e-10)


def test_noncontiguous_readonly_and_memmap(rng, tmp_path):
    base = rng.normal(size=(120, 8))
    X = base[::2, ::2]  # non-contiguous view
    path = tmp_path / "z.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=(30, 4))
    mm[:] = rng.normal(size=(30, 4))
    mm.flush()
    Z = np.memmap(path, dtype=np.float64, mode="r", shape=(30, 4))
    v = rng.normal(size=30)
    v.setflags(write=False)
    before = X.copy()
    got = KernelOperator("gaussian", X, Z, bandwidth=1.0) @ v
    np.testing.assert_allclose(got, dense_kernel("gaussian", X, Z, 1.0) @ v, rtol=1e-10)
    np.testing.assert_array_equal(X, before)


def test_square_operator_far_from_origin_is_exact(rng):
    # Large offsets make ||x||² + ||z||² - 2<x,z> cancel; the diagonal terms must stay 1.
    X = rng.normal(size=(200, 3)) * 1e-2 + 1e5
    v = np.ones(200)
    for dtype, rtol in [(np.float64, 1e-10), (np.float32, 1e-4)]:
        Xd = X.astype(dtype)
        got = KernelOperator("laplacian", Xd - Xd.mean(0) + dtype(1e3), bandwidth=0.01) @ v
        ref = dense_kernel("laplacian", Xd - Xd.mean(0) + dtype(1e3), Xd - Xd.mean(0) + 1e3, 0.01)
        np.testing.assert_allclose(got, ref @ v, rtol=rtol)


def test_linear_operator_interface(rng):
    X, Z = rng.normal(size=(60, 2)), rng.normal(size=(40, 2))
    K = KernelOperator(Gaussian(1.0), X, Z)
    dense = dense_kernel("gaussian", X, Z, 1.0)
    assert isinstance(K, LinearOperator)
    assert K.shape == (60, 40) and K.dtype == np.float64
    np.testing.assert_allclose(K.T @ np.ones(60), dense.T.sum(1), rtol=1e-12)
    np.testing.assert_allclose(K.H.matvec(np.ones(60)), dense.T.sum(1), rtol=1e-12)
    np.testing.assert_allclose((K * 2.0) @ np.ones(40), 2 * dense.sum(1), rtol=1e-12)
    np.testing.assert_allclose(aslinearoperator(K).matmat(np.eye(40)), dense, rtol=1e-12)
    np.testing.assert_allclose(K.to_dense(), dense, rtol=1e-12)
    np.testing.assert_allclose(K.diagonal(), np.diag(dense), rtol=1e-12)
    np.testing.assert_allclose(K(np.ones(40)), dense.sum(1), rtol=1e-12)
    Ks = KernelOperator("gaussian", X, bandwidth=1.0)
    np.testing.assert_allclose(Ks.diagonal(), 1.0)
    blocks = list(KernelOperator(Gaussian(1.0), X, Z).blocks(rows=25))
    assert [b[0] for b in blocks] == [slice(0, 25), slice(25, 50), slice(50, 60)]
    np.testing.assert_allclose(np.vstack([b for _, b in blocks]), dense, rtol=1e-12)


def test_symmetric_operator_with_scipy_solver(rng):
    from scipy.sparse.linalg import cg

    X = rng.normal(size=(80, 2))
    y = rng.normal(size=80)
    K = KernelOperator("gaussian", X, bandwidth=0.5)
    A = K + 0.1 * aslinearoperator(np.eye(80))
    alpha, info = cg(A, y, rtol=1e-12, maxiter=1000)
    assert info == 0
    ref = np.linalg.solve(dense_kernel("gaussian", X, X, 0.5) + 0.1 * np.eye(80), y)
    np.testing.assert_allclose(alpha, ref, rtol=1e-6, atol=1e-8)


def test_results_do_not_depend_on_thread_count(rng):
    X = rng.normal(size=(3000, 5)).astype(np.float32)
    v = rng.normal(size=3000).astype(np.float32)
    outs = []
    for n_threads in (1, 2):
        with config_context(n_threads=n_threads, working_memory=4):
            K = KernelOperator("gaussian", X, bandwidth=1.0)
            outs.append((K @ v, K.rmatvec(v)))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_mixed_dtypes_promote_and_pickle(rng):
    X = rng.normal(size=(10, 2)).astype(np.float32)
    Z = rng.normal(size=(12, 2))
    K = KernelOperator("gaussian", X, Z, bandwidth=1.0)
    assert K.dtype == np.float64
    K32 = KernelOperator("gaussian", X, bandwidth=1.0)
    assert (K32 @ np.ones(10)).dtype == np.float32
    K2 = pickle.loads(pickle.dumps(K))
    np.testing.assert_array_equal(K2 @ np.ones(12), K @ np.ones(12))


def test_median_bandwidth_resolves_on_z(rng):
    from scipy.spatial.distance import pdist

    X = rng.normal(size=(60, 2))
    Z = 4.0 * rng.normal(size=(40, 2)) + 10.0  # a median distance far from X's and from 1
    want = float(np.median(pdist(Z)))
    assert abs(want - 1.0) > 1 and abs(want - np.median(pdist(X))) > 1
    v = rng.normal(size=40)
    for bandwidth in ("median", None):  # a kernel name without bandwidth means the median rule
        K = KernelOperator("gaussian", X, Z, bandwidth=bandwidth)
        assert K.kernel.bandwidth == pytest.approx(want, rel=1e-12)
        np.testing.assert_allclose(K @ v, dense_kernel("gaussian", X, Z, want) @ v, rtol=1e-10)
    # A kernel object keeps its bandwidth unless one is given.
    assert KernelOperator(Gaussian(0.7), X, Z).kernel == Gaussian(0.7)
    assert KernelOperator(Gaussian(0.7), X, Z, bandwidth="median").kernel.bandwidth == want


def test_memory_stays_within_budget():
    """A 200000 × 2000 product (3.2 GB as a dense f64 matrix) within a 64 MiB budget."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200_000, 16))
    Z = X[:2000]
    v = rng.normal(size=2000)
    budget_mib = 64
    gc.collect()
    with config_context(working_memory=budget_mib):
        K = KernelOperator(Laplacian(4.0), X, Z)
        tracemalloc.start()
        y = K @ v
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    # Output (1.5 MiB) + per-block centred copies and norms: well under budget + 16 MiB.
    assert peak < budget_mib + 16, peak
    np.testing.assert_allclose(y[:5], dense_kernel("laplacian", X[:5], Z, 4.0) @ v, rtol=1e-10)


def test_bad_inputs_are_named(rng):
    X = rng.normal(size=(5, 2))
    K = KernelOperator("gaussian", X, bandwidth=1.0)
    with pytest.raises(ValueError, match="v has 4 rows"):
        K @ np.ones(4)
    with pytest.raises(ValueError, match="NaN"):
        K @ np.array([1.0, np.nan, 0, 0, 0])
    with pytest.raises(ValueError, match="ndim|2-D"):
        K @ np.ones((5, 1, 1))
    with pytest.raises(TypeError, match="numeric"):
        K @ np.array(["a"] * 5)
    with pytest.raises(ValueError, match="features"):
        KernelOperator("gaussian", X, np.ones((3, 3)))
    with pytest.raises(ValueError, match="Z"):
        KernelOperator("gaussian", X, np.full((3, 2), np.inf))
    with pytest.raises(ValueError, match="'kernel' parameter"):
        KernelOperator("sigmoid", X)
    with pytest.raises(ValueError, match="engine"):
        with config_context(engine="tpu"):
            pass
    with pytest.raises(ValueError, match="working_memory"):
        with config_context(working_memory=-1):
            pass
    with pytest.raises(ValueError, match="fused CUDA kernel"):
        KernelOperator(Matern(1.0, nu=2.5), X)._fused_cuda_ok()


# -- views, dense output, one-sweep products ------------------------------------------------
DTYPES = [np.float64, np.float32]


def _gaussian_ref(X, Z, bandwidth):
    from scipy.spatial.distance import cdist

    r2 = cdist(X.astype(np.float64), Z.astype(np.float64), "sqeuclidean")
    return np.exp(-r2 / (2 * bandwidth**2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", ENGINES)
def test_take_matches_dense_and_reuses_centring(rng, dtype, engine):
    X = rng.normal(size=(90, 3)).astype(dtype) + 5
    Z = rng.normal(size=(70, 3)).astype(dtype) + 5
    K = KernelOperator(Gaussian(1.3), X, Z)
    ref = _gaussian_ref(X, Z, 1.3)
    rows = np.array([5, 0, 89, 17, 17])
    cases = [
        (rows, slice(3, 60, 2)),
        (slice(10, 40), np.arange(69, -1, -3)),
        (None, slice(0, 7)),
        (np.arange(90) % 3 == 0, None),
    ]
    with config_context(engine=engine, working_memory=0.02):
        for r, c in cases:
            sub = K.take(r, c)
            want = ref[np.arange(90)[r] if r is not None else slice(None)]
            want = want[:, np.arange(70)[c] if c is not None else slice(None)]
            assert sub.shape == want.shape and sub.dtype == dtype
            v = rng.normal(size=want.shape[1])
            np.testing.assert_allclose(sub @ v, want @ v, rtol=TOL[dtype], atol=TOL[dtype])
            np.testing.assert_allclose(sub.to_dense(), want, rtol=TOL[dtype], atol=TOL[dtype])
    # No re-validation or re-centring: the views share the kernel and the centre.
    sub = K.take(rows, slice(3, 60, 2))
    assert sub.kernel is K.kernel
    if engine == "cpu":
        assert sub._prepared[0] is K._prepare()[0]
    assert K.take(slice(0, 20)).X.base is not None  # a slice is a view, not a copy


def test_take_keeps_symmetry_and_checks_indices(rng):
    X = rng.normal(size=(30, 2))
    K = KernelOperator("laplacian", X, bandwidth=1.0)
    sub = K.take(slice(5, 15), slice(5, 15))
    assert sub.Z is sub.X
    np.testing.assert_allclose(sub.diagonal(), 1.0)
    assert K.take(slice(0, 5), slice(1, 6)).Z is not K.take(slice(0, 5), slice(1, 6)).X
    with pytest.raises(ValueError, match="rows"):
        K.take(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="cols"):
        K.take(cols=[0, 30])
    with pytest.raises(TypeError, match="rows"):
        K.take(rows=[0.5])
    with pytest.raises(ValueError, match="mask"):
        K.take(rows=np.ones(3, dtype=bool))


@pytest.mark.parametrize("dtype", DTYPES)
def test_to_dense_fills_out(rng, dtype):
    X = rng.normal(size=(123, 4)).astype(dtype)
    Z = rng.normal(size=(77, 4)).astype(dtype)
    K = KernelOperator(Gaussian(2.0), X, Z)
    out = np.full((123, 77), np.nan, dtype=dtype)
    with config_context(working_memory=0.01):
        got = K.to_dense(out=out)
    assert got is out
    np.testing.assert_allclose(out, _gaussian_ref(X, Z, 2.0), rtol=TOL[dtype], atol=TOL[dtype])
    # A Fortran-ordered or strided out is filled through a temporary tile.
    outf = np.zeros((123, 77), dtype=dtype, order="F")
    with config_context(working_memory=0.01):
        np.testing.assert_array_equal(K.to_dense(out=outf), out)
    with pytest.raises(ValueError, match="shape"):
        K.to_dense(out=np.empty((77, 123), dtype=dtype))
    with pytest.raises(ValueError, match="dtype"):
        K.to_dense(out=np.empty((123, 77), dtype=np.float16))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("budget", [0.01, 512])
def test_matmat_rmatmat_one_sweep(rng, dtype, engine, budget):
    X = rng.normal(size=(211, 3)).astype(dtype)
    Z = rng.normal(size=(97, 3)).astype(dtype)
    V = rng.normal(size=(97, 2))
    U = rng.normal(size=(211, 3))
    ref = _gaussian_ref(X, Z, 1.1)
    K = KernelOperator(Gaussian(1.1), X, Z)
    with config_context(engine=engine, working_memory=budget):
        KV, KtU = K.matmat_rmatmat(V, U)
        kv, ktu = K.matmat_rmatmat(V[:, 0], U[:, 0])
    wanted = [(KV, ref @ V), (KtU, ref.T @ U), (kv, ref @ V[:, 0]), (ktu, ref.T @ U[:, 0])]
    for got, want in wanted:
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * 10)
    with pytest.raises(ValueError, match="U has 5 rows"):
        K.matmat_rmatmat(V, np.ones(5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("budget", [0.01, 512])
def test_dmmv_matches_dense(rng, dtype, budget):
    X = rng.normal(size=(260, 3)).astype(dtype)
    Z = rng.normal(size=(40, 3)).astype(dtype)
    v = rng.normal(size=40)
    W = rng.normal(size=(260, 2))
    ref = _gaussian_ref(X, Z, 0.9)
    K = KernelOperator(Gaussian(0.9), X, Z)
    with config_context(working_memory=budget, n_threads=2):
        got_v = K.dmmv(v)
        got_m = K.dmmv(np.column_stack([v, -v]), W)
    tol = TOL[dtype] * 10
    np.testing.assert_allclose(got_v, ref.T @ (ref @ v), rtol=tol, atol=tol)
    want = ref.T @ (ref @ np.column_stack([v, -v]) + W)
    np.testing.assert_allclose(got_m, want, rtol=tol, atol=tol)
    assert got_v.dtype == dtype and got_v.shape == (40,)
    with pytest.raises(ValueError, match="w has 1 columns"):
        K.dmmv(np.ones((40, 2)), np.ones(260))


@pytest.mark.parametrize("rows", [0, -1, 2.5, True, "3"])
def test_blocks_rejects_bad_rows(rng, rows):
    K = KernelOperator(Gaussian(1.0), rng.normal(size=(6, 2)))
    with pytest.raises(ValueError, match="rows"):
        list(K.blocks(rows=rows))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_callable_kernel_returning_nonfinite_is_named(rng, bad):
    def broken(A, B):
        K = A @ B.T
        K[0, 0] = bad
        return K

    X = rng.normal(size=(8, 2))
    K = KernelOperator(broken, X)
    for call in (lambda: K @ np.ones(8), lambda: K.to_dense(), lambda: K.dmmv(np.ones(8))):
        with pytest.raises(ValueError, match="kernel CallableKernel.*broken.*NaN or infinite"):
            call()
    linear = KernelOperator(lambda A, B: A @ B.T, X)
    np.testing.assert_allclose(linear @ np.ones(8), X @ X.sum(0), rtol=1e-12)
