"""KDITransformer against independent references: a direct O(n^2) Gaussian-KDE CDF,
scikit-learn's QuantileTransformer / MinMaxScaler limits and the kditransform package."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import ndtr, ndtri
from scipy.stats import gaussian_kde
from sklearn.preprocessing import MinMaxScaler, QuantileTransformer

from kernelkit import KDITransformer


def direct_kdi(train, x, alpha):
    """T(x) for one feature by summing every Phi((x - x_i) / h) (float64, no shortcuts)."""
    train = np.asarray(train, dtype=np.float64)
    h = alpha * np.std(train, ddof=1)

    def cdf(t):
        return ndtr((np.atleast_1d(t)[:, None] - train[None, :]) / h).mean(axis=1)

    lo, hi = cdf(train.min()), cdf(train.max())
    return np.clip((cdf(np.asarray(x, dtype=np.float64)) - lo) / (hi - lo), 0.0, 1.0)


def fit_quiet(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return est.fit(X)


def probe_points(col, rng, n=300):
    """New points spread over (and slightly beyond) the training range."""
    span = col.max() - col.min()
    return rng.uniform(col.min() - 0.05 * span, col.max() + 0.05 * span, size=n)


@pytest.mark.parametrize(
    ("dist", "tol"), [("normal", 1e-6), ("lognormal", 1e-4)], ids=["normal", "lognormal"]
)
@pytest.mark.parametrize("alpha", [0.3, 1.0, 3.0])
def test_matches_direct_kde_cdf(rng, dist, tol, alpha):
    X = rng.normal(size=(600, 2)) if dist == "normal" else rng.lognormal(sigma=1.5, size=(600, 2))
    kdi = fit_quiet(KDITransformer(alpha=alpha), X)
    for j in range(X.shape[1]):
        new = probe_points(X[:, j], rng)
        pts = np.concatenate([X[:, j], new])
        grid = np.zeros((pts.size, X.shape[1]))
        grid[:, j] = pts
        got = kdi.transform(grid)[:, j]
        np.testing.assert_allclose(got, direct_kdi(X[:, j], pts, alpha), rtol=0, atol=tol)
        # The fitted table itself is the exact CDF to the bound promised in the docs.
        table = direct_kdi(X[:, j], kdi.quantiles_[:, j], alpha)
        np.testing.assert_allclose(kdi.references_[:, j], table, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "col",
    [
        # Two clusters 1e4 bandwidths apart: nearly every point is truncated.
        np.concatenate([np.linspace(0, 1, 150), 1e4 + np.linspace(0, 1, 150)]),
        # Heavy ties (integer data) and a lone far point.
        np.concatenate([np.repeat(np.arange(5.0), 40), [60.0]]),
        # Large offset relative to the spread: cancellation in the moments.
        1e6 + np.random.default_rng(3).normal(size=300),
    ],
    ids=["far-clusters", "ties", "offset"],
)
@pytest.mark.parametrize("alpha", [0.01, 1.0, 50.0])
def test_fitted_table_is_exact_on_hard_columns(col, alpha):
    kdi = fit_quiet(KDITransformer(alpha=alpha), col[:, None])
    table = direct_kdi(col, kdi.quantiles_[:, 0], alpha)
    np.testing.assert_allclose(kdi.references_[:, 0], table, rtol=0, atol=1e-9)
    h = alpha * np.std(col, ddof=1)
    assert kdi.bandwidths_[0] == pytest.approx(h, rel=1e-12)
    # Slopes: the normalised KDE density, by direct summation.
    u = (kdi.quantiles_[:, 0][:, None] - col[None, :]) / h
    pdf = np.exp(-0.5 * u**2).sum(axis=1) / (np.sqrt(2 * np.pi) * h * col.size)
    cdf = ndtr((np.array([col.min(), col.max()])[:, None] - col[None, :]) / h).mean(axis=1)
    expected = pdf / (cdf[1] - cdf[0])
    # Points beyond the 6.5-bandwidth window are dropped: phi(6.5) / phi(0) = 6e-10.
    np.testing.assert_allclose(
        kdi.densities_[:, 0], expected, rtol=1e-8, atol=1e-9 * expected.max()
    )


def test_small_alpha_is_the_quantile_transform(rng):
    X = rng.normal(size=(10_000, 2))
    kdi = KDITransformer(alpha=0.01).fit(X)
    qt = QuantileTransformer(n_quantiles=1000, subsample=None).fit(X)
    new = np.column_stack([probe_points(X[:, j], rng, 2000) for j in range(2)])
    for Z in (X, new):
        assert np.abs(kdi.transform(Z) - qt.transform(Z)).max() <= 2e-3
    # On heavy tails std is set by the tail, so the same alpha smooths the bulk more.
    L = rng.lognormal(sigma=1.5, size=(10_000, 1))
    gap = KDITransformer(alpha=0.01).fit(L).transform(L) - qt.fit(L).transform(L)
    assert np.abs(gap).max() > 5e-3


def test_large_alpha_is_min_max_scaling(rng):
    X = rng.lognormal(sigma=1.5, size=(2000, 3))
    kdi = fit_quiet(KDITransformer(alpha=100.0), X)
    mm = MinMaxScaler().fit(X)
    new = np.column_stack([probe_points(X[:, j], rng) for j in range(3)])
    for Z in (X, new):
        expected = np.clip(mm.transform(Z), 0, 1)
        assert np.abs(kdi.transform(Z) - expected).max() <= 2e-3
    # ... and far from it at alpha=1 on such skewed data (the test can fail).
    kdi1 = fit_quiet(KDITransformer(alpha=1.0), X)
    assert np.abs(kdi1.transform(X) - mm.transform(X)).max() > 0.1


def test_monotone_range_and_inverse(rng):
    X = np.column_stack([rng.normal(size=500), rng.lognormal(sigma=1.5, size=500)])
    kdi = fit_quiet(KDITransformer(), X)
    grid = np.column_stack(
        [np.linspace(X[:, j].min() - 1, X[:, j].max() + 1, 5001) for j in [0, 1]]
    )
    T = kdi.transform(grid)
    assert np.all(np.diff(T, axis=0) >= 0)
    assert T.min() == 0.0 and T.max() == 1.0
    # Clipping outside the training range.
    assert np.all(T[grid <= X.min(axis=0)] == 0) and np.all(T[grid >= X.max(axis=0)] == 1)
    np.testing.assert_allclose(kdi.inverse_transform(kdi.transform(X)), X, rtol=1e-12, atol=1e-12)
    inside = np.clip(grid, X.min(axis=0), X.max(axis=0))
    back = kdi.inverse_transform(kdi.transform(inside))
    np.testing.assert_allclose(back, inside, rtol=1e-9, atol=1e-9)
    # inverse of a uniform grid is monotone and spans the range.
    u = np.tile(np.linspace(0, 1, 1001)[:, None], (1, 2))
    inv = kdi.inverse_transform(u)
    assert np.all(np.diff(inv, axis=0) >= 0)
    np.testing.assert_array_equal(inv[[0, -1]], [X.min(axis=0), X.max(axis=0)])


def test_normal_output(rng):
    X = rng.lognormal(sigma=1.5, size=(400, 2))
    uni = fit_quiet(KDITransformer(), X)
    nor = fit_quiet(KDITransformer(output_distribution="normal"), X)
    Z = nor.transform(X)
    assert np.all(np.isfinite(Z))
    bound = -ndtri(1e-7 - np.spacing(1))
    np.testing.assert_allclose(Z.min(axis=0), -bound)
    np.testing.assert_allclose(Z.max(axis=0), bound)
    inner = (Z > -bound) & (Z < bound)
    np.testing.assert_allclose(Z[inner], ndtri(uni.transform(X))[inner], rtol=1e-12)
    np.testing.assert_allclose(nor.inverse_transform(Z), X, rtol=1e-9)
    # Same clipping as QuantileTransformer's normal output.
    qt = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(X)
    np.testing.assert_allclose(qt.transform(X).min(), Z.min())


def test_against_kditransform_gaussian_modes(rng):
    kditransform = pytest.importorskip("kditransform")
    X = np.column_stack([rng.normal(size=400), rng.lognormal(sigma=1.5, size=400)])
    ours = fit_quiet(KDITransformer(alpha=1.0), X)
    new = np.column_stack([probe_points(X[:, j], rng, 100) for j in range(2)])
    # Its exact mode integrates scipy's gaussian_kde at transform time (same bandwidth).
    exact = kditransform.KDITransformer(alpha=1.0, kernel="gaussian", exact=True).fit(X)
    # (it does not clip outside the training range; kernelkit does.)
    np.testing.assert_allclose(
        ours.transform(new), np.clip(exact.transform(new), 0, 1), rtol=0, atol=1e-6
    )
    # Its tabulated Gaussian mode interpolates linearly at n_quantiles points.
    tab = kditransform.KDITransformer(alpha=1.0, kernel="gaussian", n_quantiles=400).fit(X)
    assert np.abs(ours.transform(X) - tab.transform(X)).max() <= 2e-3
    # Default: a polynomial-exponential kernel matched to the Gaussian (not the same KDE).
    poly = kditransform.KDITransformer(alpha=1.0).fit(X)
    assert np.abs(ours.transform(X) - poly.transform(X)).max() <= 1e-2


def test_alpha_per_feature_and_rules(rng):
    X = rng.normal(size=(300, 3)) * [1.0, 5.0, 0.1]
    per = fit_quiet(KDITransformer(alpha=[0.5, 1.0, 2.0]), X)
    for j, a in enumerate([0.5, 1.0, 2.0]):
        single = fit_quiet(KDITransformer(alpha=a), X[:, [j]])
        np.testing.assert_array_equal(per.transform(X)[:, j], single.transform(X[:, [j]])[:, 0])
    for rule in ("scott", "silverman"):
        kdi = fit_quiet(KDITransformer(alpha=rule), X)
        for j in range(3):
            kde = gaussian_kde(X[:, j], bw_method=rule)
            assert kdi.bandwidths_[j] == pytest.approx(np.sqrt(kde.covariance[0, 0]), rel=1e-10)


def test_nan_passthrough(rng):
    X = rng.normal(size=(300, 2))
    X_nan = X.copy()
    X_nan[rng.random(300) < 0.2, 0] = np.nan
    kdi = KDITransformer(n_quantiles=100).fit(X_nan)
    clean = KDITransformer(n_quantiles=100).fit(X[~np.isnan(X_nan[:, 0])][:, [0]])
    np.testing.assert_array_equal(kdi.quantiles_[:, 0], clean.quantiles_[:, 0])
    T = kdi.transform(X_nan)
    np.testing.assert_array_equal(np.isnan(T), np.isnan(X_nan))
    np.testing.assert_array_equal(np.isnan(kdi.inverse_transform(T)), np.isnan(X_nan))


def test_constant_feature_maps_to_zero(rng):
    X = np.column_stack([np.full(50, 3.0), rng.normal(size=50)])
    kdi = fit_quiet(KDITransformer(), X)
    T = kdi.transform(np.array([[2.0, 0.0], [3.0, 0.0], [4.0, 0.0]]))
    np.testing.assert_array_equal(T[:, 0], 0.0)
    assert kdi.bandwidths_[0] == 0.0
    np.testing.assert_array_equal(kdi.inverse_transform(T)[:, 0], 3.0)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_keeps_zeros_and_matches_dense(rng, fmt):
    dense = rng.lognormal(size=(200, 3))
    dense[rng.random((200, 3)) < 0.7] = 0.0
    dense[5, 1] = np.nan
    X = sp.csr_matrix(dense).asformat(fmt)
    kdi_sp = fit_quiet(KDITransformer(), X)
    kdi_de = fit_quiet(KDITransformer(), dense)
    np.testing.assert_allclose(kdi_sp.references_, kdi_de.references_, atol=1e-12)
    T = kdi_sp.transform(X)
    assert sp.issparse(T) and T.nnz == X.nnz
    np.testing.assert_allclose(T.toarray(), kdi_de.transform(dense), atol=1e-12)
    assert np.nanmin(X.data) >= 0 and np.all(T.toarray()[dense == 0] == 0)
    np.testing.assert_allclose(kdi_sp.inverse_transform(T).toarray(), dense, atol=1e-9)


def test_sparse_rejections():
    neg = sp.csr_matrix(np.array([[0.0, -1.0], [1.0, 0.0], [2.0, 3.0]]))
    with pytest.raises(ValueError, match="non-negative sparse X"):
        fit_quiet(KDITransformer(), neg)
    pos = sp.csr_matrix(np.abs(neg.toarray()))
    with pytest.raises(ValueError, match="output_distribution='normal'"):
        fit_quiet(KDITransformer(output_distribution="normal"), pos)


def test_float32_and_inputs_untouched(rng, tmp_path):
    X = rng.lognormal(size=(300, 2))
    kdi64 = fit_quiet(KDITransformer(), X)
    X32 = X.astype(np.float32)
    kdi32 = fit_quiet(KDITransformer(), X32)
    T32 = kdi32.transform(X32)
    assert T32.dtype == np.float32 and kdi32.inverse_transform(T32).dtype == np.float32
    np.testing.assert_allclose(T32, kdi64.transform(X), atol=1e-6)
    # Read-only memmap in fit and transform; the caller's array is never written.
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    T = fit_quiet(KDITransformer(copy=False), mm).transform(mm)
    np.testing.assert_array_equal(T, kdi64.transform(X))
    before = X.copy()
    # Fit sorts a copy: a Fortran-ordered float64 array (whose transpose is contiguous)
    # must come back untouched.
    fortran = np.asfortranarray(X)
    fit_quiet(KDITransformer(), fortran)
    np.testing.assert_array_equal(fortran, before)
    kdi64.transform(X)
    kdi64.inverse_transform(X / X.max())
    np.testing.assert_array_equal(X, before)
    # copy=False writes into a writeable float array, as QuantileTransformer does.
    inplace = fit_quiet(KDITransformer(copy=False), X)
    out = inplace.transform(X)
    assert out is X


def test_bad_input(rng):
    X = rng.normal(size=(30, 2))
    with pytest.raises(ValueError, match="n_quantiles"):
        KDITransformer(n_quantiles=1).fit(X)
    with pytest.warns(UserWarning, match="n_quantiles"):
        kdi = KDITransformer(n_quantiles=100).fit(X)
    assert kdi.n_quantiles_ == 30 and kdi.quantiles_.shape == (60, 2)
    for alpha in (0.0, -1.0):
        with pytest.raises(ValueError, match="alpha"):
            fit_quiet(KDITransformer(alpha=alpha), X)
    with pytest.raises(ValueError, match="alpha"):
        fit_quiet(KDITransformer(alpha=[1.0, 2.0, 3.0]), X)
    with pytest.raises(ValueError, match="alpha"):
        fit_quiet(KDITransformer(alpha=[1.0, 0.0]), X)
    with pytest.raises(ValueError, match="alpha"):
        fit_quiet(KDITransformer(alpha="normal"), X)
    with pytest.raises(ValueError, match="kernel"):
        fit_quiet(KDITransformer(kernel="polyexp"), X)
    with pytest.raises(ValueError, match="subsample"):
        KDITransformer(n_quantiles=20, subsample=10).fit(X)
    X_nan = X.copy()
    X_nan[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\]"):
        fit_quiet(KDITransformer(), X_nan)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        fit_quiet(KDITransformer(), X_inf)
    kdi = fit_quiet(KDITransformer(), X)
    with pytest.raises(ValueError, match="features"):
        kdi.transform(rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match="infinity"):
        kdi.transform(X_inf)


def test_subsample_is_seeded(rng):
    X = rng.lognormal(size=(2000, 1))
    a = KDITransformer(n_quantiles=100, subsample=500, random_state=1).fit(X)
    b = KDITransformer(n_quantiles=100, subsample=500, random_state=1).fit(X)
    c = KDITransformer(n_quantiles=100, subsample=500, random_state=2).fit(X)
    np.testing.assert_array_equal(a.quantiles_, b.quantiles_)
    assert not np.array_equal(a.quantiles_, c.quantiles_)
    rows = np.sort(np.random.RandomState(1).choice(2000, 500, replace=False))
    np.testing.assert_array_equal(
        a.references_, KDITransformer(n_quantiles=100).fit(X[rows]).references_
    )


def test_feature_names_output_and_pickle(rng):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(rng.normal(size=(100, 2)), columns=["age", "income"])
    kdi = fit_quiet(KDITransformer().set_output(transform="pandas"), df)
    out = kdi.transform(df)
    assert list(out.columns) == ["age", "income"]
    np.testing.assert_array_equal(kdi.get_feature_names_out(), ["age", "income"])
    clone = pickle.loads(pickle.dumps(kdi))
    pd.testing.assert_frame_equal(clone.transform(df), out)


@pytest.mark.parametrize("output_distribution", ["uniform", "normal"])
def test_array_namespace_path_matches_numba(rng, output_distribution):
    # The CuPy path is written against an array namespace; run it on NumPy here.
    X = np.column_stack([rng.normal(size=300), rng.lognormal(sigma=1.5, size=300), np.ones(300)])
    kdi = KDITransformer(n_quantiles=50, output_distribution=output_distribution).fit(X)
    Z = np.vstack([X, [[np.nan, -1.0, 2.0], [10.0, 1e3, 0.0]]])
    Z = np.vstack([Z, rng.uniform(-4, 40, size=(200, 3))])
    T = kdi.transform(Z)
    np.testing.assert_allclose(kdi._apply_device(Z, np, inverse=False), T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        kdi._apply_device(T, np, inverse=True), kdi.inverse_transform(T), rtol=1e-10, atol=1e-10
    )
    assert kdi._apply_device(Z.astype(np.float32), np, inverse=False).dtype == np.float32
    with pytest.raises(ValueError, match="features"):
        kdi._apply_device(Z[:, :2], np, inverse=False)


@pytest.mark.gpu
def test_cupy_input_stays_on_device(rng):
    cp = pytest.importorskip("cupy")
    X = rng.lognormal(size=(1000, 3))
    kdi = KDITransformer(n_quantiles=100).fit(X)
    T = kdi.transform(cp.asarray(X))
    assert isinstance(T, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(T), kdi.transform(X), atol=1e-12)
    back = kdi.inverse_transform(T)
    np.testing.assert_allclose(cp.asnumpy(back), X, rtol=1e-9)


def test_thread_count_does_not_change_results(rng):
    from kernelkit import config_context

    X = rng.lognormal(size=(5000, 4))
    ref = KDITransformer().fit(X)
    with config_context(n_threads=1):
        one = KDITransformer().fit(X)
        T1 = one.transform(X)
    np.testing.assert_array_equal(one.references_, ref.references_)
    np.testing.assert_array_equal(T1, ref.transform(X))


def direct_weighted_kdi(train, w, x, alpha):
    """Weighted T(x) by summing every w_i Phi((x - x_i) / h) (frequency-weighted std)."""
    train, w = np.asarray(train, dtype=np.float64), np.asarray(w, dtype=np.float64)
    mean = (w * train).sum() / w.sum()
    h = alpha * np.sqrt((w * (train - mean) ** 2).sum() / (w.sum() - 1.0))

    def cdf(t):
        return (ndtr((np.atleast_1d(t)[:, None] - train[None, :]) / h) * w).sum(axis=1) / w.sum()

    lo, hi = cdf(train.min()), cdf(train.max())
    return np.clip((cdf(np.asarray(x, dtype=np.float64)) - lo) / (hi - lo), 0.0, 1.0), h


@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_sample_weight_matches_direct_weighted_sum(rng, alpha):
    X = np.column_stack([rng.normal(size=400), rng.lognormal(sigma=1.5, size=400)])
    w = rng.uniform(0.1, 3.0, size=400)
    kdi = KDITransformer(alpha=alpha, n_quantiles=200).fit(X, sample_weight=w)
    for j in range(2):
        table, h = direct_weighted_kdi(X[:, j], w, kdi.quantiles_[:, j], alpha)
        assert kdi.bandwidths_[j] == pytest.approx(h, rel=1e-12)
        np.testing.assert_allclose(kdi.references_[:, j], table, rtol=0, atol=1e-9)
    # The weights change the map: the unweighted table differs well beyond the tolerance.
    plain = KDITransformer(alpha=alpha, n_quantiles=200).fit(X)
    assert np.abs(plain.transform(X) - kdi.transform(X)).max() > 1e-3


def test_sample_weight_is_repetition_and_zero_drops(rng):
    X = rng.lognormal(size=(60, 2))
    X[3, 1] = np.nan
    w = rng.integers(0, 4, size=60)
    w[0] = 0
    rep = KDITransformer(n_quantiles=30).fit(np.repeat(X, w, axis=0))
    wtd = KDITransformer(n_quantiles=30).fit(X, sample_weight=w)
    np.testing.assert_allclose(wtd.quantiles_, rep.quantiles_, rtol=1e-13)
    np.testing.assert_allclose(wtd.references_, rep.references_, atol=1e-12)
    np.testing.assert_allclose(wtd.transform(X), rep.transform(X), atol=1e-12)
    ones = KDITransformer(n_quantiles=30).fit(X, sample_weight=np.ones(60))
    np.testing.assert_allclose(ones.references_, KDITransformer(n_quantiles=30).fit(X).references_)


def test_sample_weight_sparse_matches_dense(rng):
    dense = rng.lognormal(size=(120, 3))
    dense[rng.random((120, 3)) < 0.6] = 0.0
    w = rng.uniform(0.5, 2.0, size=120)
    a = KDITransformer(n_quantiles=50).fit(sp.csr_matrix(dense), sample_weight=w)
    b = KDITransformer(n_quantiles=50).fit(dense, sample_weight=w)
    np.testing.assert_allclose(a.quantiles_, b.quantiles_, rtol=1e-13)
    np.testing.assert_allclose(a.references_, b.references_, atol=1e-12)


def test_sample_weight_errors_name_the_argument(rng):
    X = rng.normal(size=(20, 2))
    for bad, exc in [
        (np.ones(19), ValueError),
        (-np.ones(20), ValueError),
        (np.zeros(20), ValueError),
        (np.full(20, np.nan), ValueError),
        (np.array(["a"] * 20), TypeError),
    ]:
        with pytest.raises(exc, match="sample_weight"):
            KDITransformer(n_quantiles=10).fit(X, sample_weight=bad)
    # Frequencies summing to 1 or less have no (n - 1)-normalised spread.
    with pytest.raises(ValueError, match="sample_weight sums to 1 or less"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            KDITransformer(n_quantiles=2).fit(X, sample_weight=np.full(20, 0.04))


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_extreme_scales_give_the_scale_free_map(rng, scale):
    # Issue 11 #5: NaN at 1e200, SystemError from Numba at 1e-200.
    X = np.column_stack([rng.normal(size=200), rng.lognormal(size=200)])
    ref = KDITransformer(n_quantiles=50).fit(X)
    kdi = KDITransformer(n_quantiles=50).fit(X * scale)
    np.testing.assert_allclose(kdi.transform(X * scale), ref.transform(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(kdi.quantiles_, ref.quantiles_ * scale, rtol=1e-14)
    np.testing.assert_allclose(kdi.bandwidths_, ref.bandwidths_ * scale, rtol=1e-14)
    back = kdi.inverse_transform(kdi.transform(X * scale))
    np.testing.assert_allclose(back, X * scale, rtol=1e-9)


def test_subnormal_scale_and_tiny_alpha_are_rejected(rng):
    X = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="Rescale X"):
        KDITransformer(n_quantiles=20).fit(X * 1e-310)
    with pytest.raises(ValueError, match="alpha=1e-300"):
        KDITransformer(alpha=1e-300, n_quantiles=20).fit(X)


@pytest.mark.parametrize("alpha", [1e6, 1e16, 1e300])
def test_huge_alpha_is_exactly_min_max(rng, alpha):
    # At alpha=1e16 the CDF differences used to cancel to garbage (0.43 off).
    X = rng.lognormal(size=(200, 2))
    kdi = KDITransformer(alpha=alpha, n_quantiles=50).fit(X)
    np.testing.assert_allclose(kdi.transform(X), MinMaxScaler().fit_transform(X), atol=1e-14)


def test_large_alpha_near_the_linear_switch_is_exact(rng):
    # Exact reference without cancellation: each Phi difference as an integral of phi.
    from scipy.integrate import quad

    col = rng.lognormal(size=40)
    lo, hi = col.min(), col.max()

    def phi(u):
        return np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi)

    for ratio in (3e4, 2e5):  # h / range on either side of the switch at 1e5
        alpha = ratio * (hi - lo) / col.std(ddof=1)
        kdi = KDITransformer(alpha=alpha, n_quantiles=8).fit(col[:, None])
        h = kdi.bandwidths_[0]

        def mass(t, h=h):
            return sum(quad(phi, (lo - s) / h, (t - s) / h, epsrel=1e-13)[0] for s in col)

        exact = np.array([mass(t) for t in kdi.quantiles_[:, 0]]) / mass(hi)
        np.testing.assert_allclose(kdi.references_[:, 0], exact, rtol=0, atol=1e-10)


def test_float16_is_upcast_to_float64(rng):
    X = rng.lognormal(size=(100, 2)).astype(np.float16)
    kdi = KDITransformer(n_quantiles=20).fit(X)
    T = kdi.transform(X)
    assert T.dtype == np.float64
    ref = KDITransformer(n_quantiles=20).fit(X.astype(np.float64))
    np.testing.assert_array_equal(T, ref.transform(X.astype(np.float64)))
