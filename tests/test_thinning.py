"""Kernel thinning, KT+, Compress++ and MMD against independent references.

References: exact dense MMD from SciPy's cdist (conftest's ``dense_kernel``) and
goodpoints 0.6.3 (golden tests: the same kernel matrix and uniform draws must
give the same coresets).
"""

import numpy as np
import pytest

import kernelkit
import kernelkit.sampling._kt_core as core
from kernelkit import Gaussian, KernelThinning, Laplacian, compress_pp, kernel_thin, mmd
from kernelkit.kernels import GeneralMatern, SumKernel, power_kernel

from .conftest import dense_kernel

kt = pytest.importorskip("goodpoints.kt")


def mixture(n, rng, d=2):
    """Equal mixture of 4 unit Gaussians at (±3, ±3) (the KT paper's MoG), padded to d."""
    centers = np.array([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [-3.0, -3.0]])
    X = rng.normal(size=(n, d))
    X[:, :2] += centers[rng.integers(4, size=n)]
    return X


def exact_mmd(X, Y, name="gaussian", bandwidth=2.0, weights=None, kxx=None):
    w = np.full(len(Y), 1 / len(Y)) if weights is None else weights / weights.sum()
    if kxx is None:
        kxx = dense_kernel(name, X, X, bandwidth).mean()
    kxy = (dense_kernel(name, X, Y, bandwidth) @ w).mean()
    kyy = w @ dense_kernel(name, Y, Y, bandwidth) @ w
    return np.sqrt(max(kxx - 2 * kxy + kyy, 0.0))


@pytest.fixture
def small_chunks(monkeypatch):
    """Force the blocked (chunked, operator-backed) code path on small inputs."""
    monkeypatch.setattr(core, "_CHUNK_POINTS", 32)
    monkeypatch.setattr(core, "_fits_dense", lambda n: False)


# -- golden tests against goodpoints ------------------------------------------------
@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("blocked", [False, True])
def test_split_matches_goodpoints_split_K(m, blocked, rng, monkeypatch):
    if blocked:
        monkeypatch.setattr(core, "_CHUNK_POINTS", 32)
    n = 256
    X = rng.normal(size=(n, 2))
    K = dense_kernel("gaussian", X, X, 2.0)
    rows = core._LazyRows.of(X, Gaussian(2.0))
    for seed in range(4):
        expected = kt.split_K(K, m, delta=0.5, seed=seed)
        # goodpoints draws uniform(size=(m, n//2)) and consumes row j in round j.
        u = np.random.default_rng(seed).uniform(size=(m, n // 2))
        got = core._kt_split(rows, np.arange(n), m, 0.5, u, schedule="goodpoints")
        np.testing.assert_array_equal(got, expected)


def test_thin_matches_goodpoints_thin_K(rng):
    n, m = 512, 4
    X = mixture(n, rng)
    K = dense_kernel("gaussian", X, X, 2.0)
    k = Gaussian(2.0)
    for seed in range(3):
        expected = kt.thin_K(K, K, m, delta=0.5, seed=seed, unique=True)
        got = core.thin_node(
            core._LazyRows.of(X, k), k, m, 0.5, np.random.default_rng(seed), schedule="goodpoints"
        )
        assert set(got) == set(expected)
        assert exact_mmd(X, X[got]) == pytest.approx(exact_mmd(X, X[expected]), rel=1e-12)


def test_kernel_thin_equals_goodpoints_thin_K(rng):
    """Public API, n a power of two: the same coreset as thin_K(unique=True) for each seed."""
    X = mixture(1024, rng)
    K = dense_kernel("gaussian", X, X, 2.0)
    for seed in range(3):
        ref = kt.thin_K(K, K, 5, delta=0.5, seed=seed, unique=True)
        idx = kernel_thin(X, 5, kernel="gaussian", bandwidth=2.0, random_state=seed)
        np.testing.assert_array_equal(idx, np.sort(ref))
        assert mmd(X, X[idx], "gaussian", bandwidth=2.0) == pytest.approx(
            exact_mmd(X, X[ref]), rel=1e-9
        )


@pytest.mark.parametrize("g, n", [(1, 256), (2, 1024), (1, 1024)])
def test_compress_matches_goodpoints_compress_kt(g, n):
    """Compress(g) with symmetrized KT halving: the same indices as goodpoints (one bin).

    A half and its complement have the same MMD, so when the walk's half 0 is the
    complement of the standard-thinning half (likely for 8- and 16-point halves)
    the choice between them is an exact tie that the last bit of the kernel
    values decides; those differ between goodpoints' per-pair loop and the GEMM
    engine. The data below meet no such tie (g = 0, with 8-point halves, does).
    """
    from goodpoints import compress

    X = np.random.default_rng(int(np.log2(n))).normal(size=(n, 2))
    for seed in range(3):
        ref = compress.compress_kt(
            X, b"gaussian", k_params=np.array([8.0]), g=g, num_bins=1, delta=0.5, seed=seed
        )
        halve_prob = 0.5 / 4 ** (g + 1) / (np.log2(n) / 2 - g) / n
        rows = core._LazyRows.of(X, Gaussian(2.0))
        rng = np.random.default_rng(seed)
        got = core.compress(rows, np.arange(n), g, Gaussian(2.0), halve_prob, rng, True, None)
        np.testing.assert_array_equal(got, ref)


# -- quality against i.i.d. subsampling ------------------------------------------------
def test_kt_beats_iid_and_decays_like_one_over_s():
    sizes, kt_mmd, iid_mmd = [], [], []
    for n in (256, 1024, 4096):
        s = int(np.sqrt(n))
        ours, iid = [], []
        for seed in range(3):
            r = np.random.default_rng(seed)
            X = mixture(n, r)
            idx = kernel_thin(X, kernel="gaussian", bandwidth=2.0, random_state=seed)
            assert idx.shape == (s,)
            kxx = dense_kernel("gaussian", X, X, 2.0).mean()
            ours.append(exact_mmd(X, X[idx], kxx=kxx))
            iid.extend(exact_mmd(X, X[r.choice(n, s, replace=False)], kxx=kxx) for _ in range(5))
        sizes.append(s)
        kt_mmd.append(np.median(ours))
        iid_mmd.append(np.median(iid))
    kt_mmd, iid_mmd = np.array(kt_mmd), np.array(iid_mmd)
    assert np.all(kt_mmd < iid_mmd / 3)
    kt_slope = np.polyfit(np.log(sizes), np.log(kt_mmd), 1)[0]
    iid_slope = np.polyfit(np.log(sizes), np.log(iid_mmd), 1)[0]
    # KT: MMD ~ 1/s up to logs; i.i.d.: 1/sqrt(s).
    assert kt_slope < -0.75
    assert -0.8 < iid_slope < -0.2


def test_compress_pp_within_factor_of_kt():
    ratios = []
    for seed in range(3):
        X = mixture(4096, np.random.default_rng(seed))
        idx_kt = kernel_thin(X, kernel="gaussian", bandwidth=2.0, random_state=seed)
        idx_c = compress_pp(X, g=3, kernel="gaussian", bandwidth=2.0, random_state=seed)
        assert idx_c.shape == (64,)
        assert np.unique(idx_c).size == 64
        ratios.append(exact_mmd(X, X[idx_c]) / exact_mmd(X, X[idx_kt]))
    assert np.median(ratios) < 2.0


def test_compress_pp_matches_goodpoints_compresspp_quality():
    from goodpoints import compress

    ours, theirs = [], []
    for seed in range(3):
        X = mixture(4096, np.random.default_rng(seed))
        ref = compress.compresspp_kt(X, b"gaussian", k_params=np.array([8.0]), g=2, seed=seed)
        idx = compress_pp(X, g=2, kernel="gaussian", bandwidth=2.0, random_state=seed)
        ours.append(exact_mmd(X, X[idx]))
        theirs.append(exact_mmd(X, X[ref]))
    assert np.median(ours) < 1.5 * np.median(theirs)


# -- structure -------------------------------------------------------------------------
@pytest.mark.parametrize("n", [256, 250])
def test_split_partitions_its_input(n, rng, small_chunks):
    X = rng.normal(size=(n, 3))
    m = 3
    s = n >> m
    points = np.sort(rng.choice(n, size=s << m, replace=False))
    u = rng.random((m, len(points) // 2))
    rows = core._LazyRows.of(X, Gaussian(1.0))
    for schedule in ("goodpoints", "paper"):
        coresets = core._kt_split(rows, points, m, 0.5, u, schedule=schedule)
        assert coresets.shape == (2**m, s)
        np.testing.assert_array_equal(np.sort(coresets.ravel()), points)


@pytest.mark.parametrize("n", [100, 257, 777, 1000])
def test_any_n_and_unique_sorted_output(n, rng):
    X = rng.normal(size=(n, 2))
    idx = kernel_thin(X, 3, kernel="gaussian", bandwidth=1.0, random_state=0)
    assert idx.shape == (n // 8,)
    assert np.all(np.diff(idx) > 0) and idx.min() >= 0 and idx.max() < n
    idx_c = compress_pp(X, g=1, kernel="gaussian", bandwidth=1.0, random_state=0)
    assert np.unique(idx_c).size == idx_c.size
    assert 0.5 * np.sqrt(n) <= idx_c.size <= 2 * np.sqrt(n)


def test_remainder_points_still_count_for_swap(rng):
    """n = 2^m·s + r: KT-SWAP targets all n points, so a small far cluster is represented."""
    X = np.vstack([rng.normal(size=(64, 1)), np.full((3, 1), 8.0)])
    for seed in range(10):
        idx = kernel_thin(X, 2, kernel="gaussian", bandwidth=1.0, random_state=seed)
        assert idx.size == 16
        assert np.sum(idx >= 64) == 1


def test_blocked_path_matches_dense_path(rng, monkeypatch):
    X = mixture(300, rng)
    dense = kernel_thin(X, 4, kernel="gaussian", bandwidth=2.0, random_state=3)
    monkeypatch.setattr(core, "_CHUNK_POINTS", 64)
    monkeypatch.setattr(core, "_fits_dense", lambda n: False)
    blocked = kernel_thin(X, 4, kernel="gaussian", bandwidth=2.0, random_state=3)
    np.testing.assert_array_equal(dense, blocked)
    # Unfused row means (a split kernel other than the target) give the same answer.
    blocked_kt_plus = kernel_thin(X, 4, bandwidth=2.0, split_kernel="kt+", random_state=3)
    monkeypatch.undo()
    dense_kt_plus = kernel_thin(X, 4, bandwidth=2.0, split_kernel="kt+", random_state=3)
    np.testing.assert_array_equal(dense_kt_plus, blocked_kt_plus)


def test_reproducible_and_seed_dependent(rng):
    X = mixture(512, rng)
    a = kernel_thin(X, bandwidth=2.0, random_state=7)
    b = kernel_thin(X, bandwidth=2.0, random_state=7)
    c = kernel_thin(X, bandwidth=2.0, random_state=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(
        compress_pp(X, 2, bandwidth=2.0, random_state=np.random.default_rng(1)),
        compress_pp(X, 2, bandwidth=2.0, random_state=np.random.default_rng(1)),
    )


def test_no_swap_returns_a_split_candidate(rng):
    X = rng.normal(size=(128, 2))
    idx = kernel_thin(X, 2, bandwidth=1.0, swap=False, random_state=0)
    u = np.random.default_rng(0).random((2, 64))
    cands = core._kt_split(core._LazyRows.of(X, Gaussian(1.0)), np.arange(128), 2, 0.5, u)
    assert any(np.array_equal(idx, np.sort(c)) for c in cands)


def test_float32_and_input_unchanged(rng):
    X = mixture(600, rng).astype(np.float32)
    before = X.copy()
    idx32 = kernel_thin(X, bandwidth=2.0, random_state=0)
    np.testing.assert_array_equal(X, before)
    assert exact_mmd(X, X[idx32]) < 0.3 * exact_mmd(X, X[: idx32.size])
    est = KernelThinning(bandwidth=2.0, random_state=0).fit(X)
    assert est.coreset_.dtype == np.float32


# -- MMD -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gaussian", "laplacian", "matern"])
def test_mmd_matches_dense_reference(name, rng):
    X, Y = rng.normal(size=(300, 3)), rng.normal(size=(40, 3)) + 0.3
    w = rng.random(40)
    assert mmd(X, Y, name, bandwidth=1.5) == pytest.approx(exact_mmd(X, Y, name, 1.5), rel=1e-9)
    assert mmd(X, Y, name, w, bandwidth=1.5) == pytest.approx(
        exact_mmd(X, Y, name, 1.5, weights=w), rel=1e-9
    )
    assert mmd(X, X, name, bandwidth=1.5) < 1e-6


def test_mmd_float32(rng):
    X = rng.normal(size=(200, 2)).astype(np.float32)
    Y = X[:20]
    assert mmd(X, Y, "gaussian", bandwidth=1.0) == pytest.approx(
        exact_mmd(X, Y, bandwidth=1.0), rel=1e-3
    )


# -- power kernels, KT+ ----------------------------------------------------------------
def test_power_kernels_values(rng):
    from sklearn.gaussian_process.kernels import Matern as SkMatern

    X = rng.normal(size=(30, 2))
    for nu in (0.3, 0.5, 1.5, 2.7):
        ours = GeneralMatern(1.3, nu)(X)
        np.testing.assert_allclose(ours, SkMatern(length_scale=1.3, nu=nu)(X), atol=1e-12)
    assert power_kernel(Gaussian(2.0), 0.5) == Gaussian(np.sqrt(2.0))
    # Laplacian = Matérn(ν=1/2): in d=2, the α-power has ν' = α·3/2 − 1.
    k = power_kernel(Laplacian(1.0), 0.9, n_features=2)
    assert k.nu == pytest.approx(0.35) and k.bandwidth == 1.0
    s = SumKernel([Gaussian(1.0), Gaussian(0.5)])
    np.testing.assert_allclose(
        kernelkit.KernelOperator(s, X).to_dense(),
        dense_kernel("gaussian", X, X, 1.0) + dense_kernel("gaussian", X, X, 0.5),
        atol=1e-12,
    )


@pytest.mark.parametrize("split_kernel", ["root", "power", "kt+"])
def test_split_kernels_beat_iid_laplacian(split_kernel):
    rng = np.random.default_rng(5)
    X = mixture(1024, rng)
    if split_kernel == "root":
        kernel, name = "gaussian", "gaussian"
    else:
        kernel, name = "laplacian", "laplacian"
    idx = kernel_thin(X, kernel=kernel, bandwidth=2.0, split_kernel=split_kernel, random_state=0)
    iid = np.median([exact_mmd(X, X[rng.choice(1024, 32, replace=False)], name) for _ in range(9)])
    assert exact_mmd(X, X[idx], name) < 0.5 * iid


# -- estimator -------------------------------------------------------------------------
def test_estimator_fit_and_resample(rng):
    pd = pytest.importorskip("pandas")
    X = mixture(400, rng)
    y = rng.integers(3, size=400)
    est = KernelThinning(bandwidth=2.0, random_state=0)
    Xr, yr = est.fit_resample(X, y)
    np.testing.assert_array_equal(Xr, X[est.indices_])
    np.testing.assert_array_equal(yr, y[est.indices_])
    np.testing.assert_array_equal(
        est.indices_, kernel_thin(X, kernel="gaussian", bandwidth=2.0, random_state=0)
    )
    df = pd.DataFrame(X, columns=["a", "b"])
    out = KernelThinning(bandwidth=2.0, random_state=0).fit_resample(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["a", "b"]
    cpp = KernelThinning(method="compress++", g=2, bandwidth=2.0, random_state=0).fit(X)
    assert cpp.indices_.size == 400 >> 4  # m='sqrt' gives 4 rounds for n=400
    with pytest.raises(ValueError, match="y has"):
        est.fit_resample(X, y[:10])


def test_estimator_kernel_is_the_kernel_mmd_resolves(rng):
    """bandwidth=None means one thing everywhere: KT's MMD is measured in KT's own kernel."""
    X = mixture(300, rng)
    est = KernelThinning(random_state=0).fit(X)
    assert est.kernel_ == kernelkit.make_kernel("gaussian", None, X=X)
    assert est.bandwidth_ == est.kernel_.bandwidth
    Y = est.coreset_
    assert mmd(X, Y) == pytest.approx(mmd(X, Y, kernel=est.kernel_), rel=1e-12)
    # The median rule itself, from its definition (deterministic: every pair of 300 rows).
    d = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))[np.triu_indices(300, 1)]
    assert est.bandwidth_ == pytest.approx(np.median(d), rel=1e-12)


def test_center_registry(rng):
    from kernelkit.sampling import select_centers

    X = mixture(1000, rng)
    idx = select_centers("kt", X, 60, kernel=Gaussian(2.0), random_state=0)
    assert np.unique(idx).size == idx.size
    assert 40 <= idx.size <= 90


def test_verbose_progress(rng, capsys):
    X = rng.normal(size=(64, 2))
    kernel_thin(X, bandwidth=1.0, random_state=0, verbose=1)
    assert "kernel thinning" in capsys.readouterr().err


# -- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"m": 7}, ValueError, "m must be between 0 and floor"),
        ({"m": -1}, ValueError, "'m' parameter"),
        ({"m": "half"}, ValueError, "'m' parameter"),
        ({"m": 1.5}, TypeError, "'m' parameter"),
        ({"delta": 0.0}, ValueError, "'delta' parameter"),
        ({"delta": 1.0}, ValueError, "'delta' parameter"),
        ({"split_kernel": "cube"}, ValueError, "'split_kernel' parameter"),
        ({"split_kernel": "power", "power": 0.4}, ValueError, "'power' parameter"),
        ({"split_kernel": "power", "power": 1.2}, ValueError, "'power' parameter"),
        ({"kernel": "laplacian", "split_kernel": "root"}, ValueError, "power must exceed"),
        ({"kernel": "laplacian", "split_kernel": "kt+", "power": 0.6}, ValueError, "power"),
        ({"kernel": "cauchy", "split_kernel": "power", "power": 0.7}, ValueError, "square root"),
        ({"kernel": lambda A, B: A @ B.T, "split_kernel": "kt+"}, ValueError, "No power kernel"),
        ({"kernel": "sigmoid"}, ValueError, "'kernel' parameter"),
        ({"random_state": "x"}, TypeError, "'random_state' parameter"),
        ({"random_state": -1}, ValueError, "'random_state' parameter"),
        ({"swap": "no"}, ValueError, "'swap' parameter"),
        ({"unique": None}, ValueError, "'unique' parameter"),
        ({"bandwidth": -1.0}, ValueError, "'bandwidth' parameter"),
        ({"verbose": -1}, ValueError, "'verbose' parameter"),
    ],
)
def test_bad_arguments(kwargs, err, match, rng):
    X = rng.normal(size=(100, 2))
    with pytest.raises(err, match=match):
        kernel_thin(X, **{"bandwidth": 1.0, **kwargs})


def test_bad_points():
    with pytest.raises(ValueError, match="NaN"):
        kernel_thin(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match="infinity|inf"):
        compress_pp(np.array([[0.0], [np.inf], [1.0]]))
    with pytest.raises(ValueError, match="at least 2"):
        kernel_thin(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="'g' parameter"):
        compress_pp(np.ones((8, 1)), g=-1)
    with pytest.raises(ValueError, match="'random_state' parameter"):
        compress_pp(np.ones((8, 1)), random_state=-1)
    with pytest.raises(ValueError, match="'swap' parameter"):
        compress_pp(np.ones((8, 1)), swap="no")
    with pytest.raises(ValueError, match="size"):
        compress_pp(np.arange(8.0)[:, None], size=9)
    with pytest.raises(ValueError, match="features"):
        mmd(np.ones((3, 2)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="weights"):
        mmd(np.ones((3, 1)), np.ones((2, 1)), "gaussian", weights=[1.0, -1.0])


@pytest.mark.gpu
def test_cupy_matches_numpy(rng):
    cp = pytest.importorskip("cupy")
    X = mixture(3000, rng)
    host = kernel_thin(X, bandwidth=2.0, random_state=0)
    dev = kernel_thin(cp.asarray(X), bandwidth=2.0, random_state=0)
    np.testing.assert_array_equal(host, dev)
    assert mmd(cp.asarray(X), cp.asarray(X[host]), "gaussian", bandwidth=2.0) == pytest.approx(
        exact_mmd(X, X[host]), rel=1e-9
    )


def test_mmd_many_rows_uses_row_bands(rng):
    X = rng.normal(size=(4596, 2))
    Y = rng.normal(size=(30, 2))
    assert mmd(X, Y, "gaussian", bandwidth=1.0) == pytest.approx(
        exact_mmd(X, Y, bandwidth=1.0), rel=1e-9
    )


def test_general_matern_large_blocks_match_bessel(rng):
    """Blocks above the table threshold use a spline of the profile: check it against K_ν."""
    from sklearn.gaussian_process.kernels import Matern as SkMatern

    from kernelkit.kernels._radial import _MATERN_TABLE_MIN

    X = rng.normal(size=(300, 2)) * 3
    assert X.shape[0] ** 2 >= _MATERN_TABLE_MIN
    for nu in (0.25, 0.8):
        np.testing.assert_allclose(
            GeneralMatern(1.0, nu)(X), SkMatern(length_scale=1.0, nu=nu)(X), atol=1e-10
        )
