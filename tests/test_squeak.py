"""SQUEAK / DISQUEAK / LeverageNystroem against exact dense references (eigh of K, float64)."""

import pickle
import warnings

import numpy as np
import pytest
from scipy import linalg
from scipy.spatial.distance import cdist
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import kernelkit
from kernelkit import (
    CallableKernel,
    Gaussian,
    LeverageNystroem,
    SqueakDictionary,
    config_context,
    disqueak,
    effective_dimension,
    ridge_leverage_scores,
    squeak,
)
from kernelkit.sampling import select_centers
from kernelkit.sampling._squeak import DEFAULT_QBAR

BW = 0.8


def dense_kernel(name, A, B, bandwidth):
    """Independent dense Gaussian reference (SciPy's cdist, float64)."""
    assert name == "gaussian"
    return np.exp(-cdist(A, B, "sqeuclidean") / (2 * bandwidth**2))


def blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    return centers[rng.integers(4, size=n)] + 0.7 * rng.normal(size=(n, 2))


class Oracle:
    """Exact quantities from eigh of the dense kernel matrix."""

    def __init__(self, X, gamma, bandwidth=BW, kernel="gaussian"):
        self.K = dense_kernel(kernel, X, X, bandwidth)
        lam, self.U = linalg.eigh(self.K)
        self.lam = np.clip(lam, 0.0, None)
        self.gamma = gamma
        self.tau = (self.U**2) @ (self.lam / (self.lam + gamma))
        self.d_eff = float(self.tau.sum())
        # Rows of P = diag(sqrt(λ/(λ+γ))) Uᵀ: (K+γI)^{-1/2} K^{1/2} in the eigenbasis.
        self.P = np.sqrt(self.lam / (self.lam + gamma))[:, None] * self.U.T

    def sketch_error(self, d):
        """‖(K+γI)^{-1/2}(K − K_S)(K+γI)^{-1/2}‖₂ for the weighted dictionary d."""
        PD = self.P[:, d.indices]
        E = np.diag(self.lam / (self.lam + self.gamma)) - (PD * d.weights) @ PD.T
        return float(np.abs(linalg.eigvalsh(E)).max())

    def nystroem_residual(self, idx):
        """K − K_{:,D} K_DD⁺ K_{D,:} with the pseudo-inverse by eigh and a relative cut."""
        KD = self.K[:, idx]
        lam, V = linalg.eigh(KD[idx])
        keep = lam > lam[-1] * len(idx) * np.finfo(float).eps
        W = KD @ (V[:, keep] / np.sqrt(lam[keep]))
        return self.K - W @ W.T


@pytest.fixture(scope="module")
def data():
    X = blobs(1000)
    return X, Oracle(X, gamma=3.0)


# -- ε-accuracy, size, Nyström residual ------------------------------------------------


@pytest.mark.parametrize("algorithm", ["squeak", "disqueak"])
def test_sketch_is_epsilon_accurate_at_large_qbar(data, algorithm):
    X, oracle = data
    eps = 0.5
    if algorithm == "squeak":
        d = squeak(
            X, "gaussian", oracle.gamma, bandwidth=BW, qbar=100, epsilon=eps, random_state=0
        )
    else:
        d = disqueak(
            X, "gaussian", 3.0, bandwidth=BW, qbar=100, epsilon=eps, block_size=200, random_state=0
        )
    assert isinstance(d, SqueakDictionary)
    assert oracle.sketch_error(d) <= eps
    assert len(d) <= 3 * 100 * oracle.d_eff
    # Estimated d_eff of an ε-accurate sketch lies within (1 ± ε) of the truth.
    assert oracle.d_eff * (1 - eps) <= d.effective_dimension <= oracle.d_eff * (1 + eps)


def test_sketch_error_at_default_qbar_regression(data):
    """Empirical ε at the practical default q̄ (recorded: median ≈ 0.6, max ≈ 0.8 here)."""
    X, oracle = data
    errors, sizes = [], []
    for seed in range(3):
        d = disqueak(X, "gaussian", oracle.gamma, bandwidth=BW, block_size=250, random_state=seed)
        errors.append(oracle.sketch_error(d))
        sizes.append(len(d))
        assert len(d) <= 3 * DEFAULT_QBAR * oracle.d_eff
    assert np.median(errors) < 0.9
    assert max(errors) < 1.2
    # Distinct points ≈ q̄(1−ε)d_eff minus collisions: far below n, far above d_eff.
    assert oracle.d_eff < np.mean(sizes) < 0.8 * len(X)


def test_nystroem_residual_is_psd_and_bounded(data):
    X, oracle = data
    eps = 0.5
    d = squeak(X, "gaussian", oracle.gamma, bandwidth=BW, qbar=100, epsilon=eps, random_state=1)
    R = oracle.nystroem_residual(d.indices)
    tol = 1e-8
    assert linalg.eigvalsh(R).min() >= -tol
    bound = (
        oracle.gamma
        / (1 - eps)
        * (oracle.U * (oracle.lam / (oracle.lam + oracle.gamma)))
        @ (oracle.U.T)
    )
    assert linalg.eigvalsh(bound - R).min() >= -tol
    # At the default q̄ the same bound still held in every run recorded in docs/squeak.md.
    d = disqueak(X, "gaussian", oracle.gamma, bandwidth=BW, block_size=250, random_state=1)
    assert linalg.eigvalsh(bound - oracle.nystroem_residual(d.indices)).min() >= -tol


# -- leverage scores and effective dimension ------------------------------------------


def test_exact_leverage_scores_match_eigh(data):
    X, oracle = data
    tau = ridge_leverage_scores(X, "gaussian", oracle.gamma, bandwidth=BW)
    np.testing.assert_allclose(tau, oracle.tau, rtol=1e-9, atol=1e-12)
    d_eff = effective_dimension(X, Gaussian(BW), oracle.gamma)
    assert d_eff == pytest.approx(oracle.d_eff, rel=1e-10)


def test_squeak_leverage_scores_within_factor(data):
    X, oracle = data
    eps = 0.5
    tau = ridge_leverage_scores(
        X,
        "gaussian",
        oracle.gamma,
        method="squeak",
        bandwidth=BW,
        qbar=100,
        epsilon=eps,
        block_size=250,
        random_state=0,
    )
    ratio = tau / oracle.tau
    # Under ε-accuracy: τ/(1+ε) ≤ τ̂ ≤ τ/(1−ε).
    assert ratio.min() >= 1 / (1 + eps) and ratio.max() <= 1 / (1 - eps)
    # At the default q̄ the estimates are looser but still within a factor 3.
    tau = ridge_leverage_scores(
        X, "gaussian", oracle.gamma, method="squeak", bandwidth=BW, random_state=0
    )
    assert 1 / 3 < (tau / oracle.tau).min() and (tau / oracle.tau).max() < 3
    d_eff = effective_dimension(
        X, "gaussian", oracle.gamma, method="squeak", bandwidth=BW, random_state=0
    )
    assert d_eff == pytest.approx(oracle.d_eff, rel=0.25)


@pytest.mark.parametrize("algorithm", ["squeak", "disqueak"])
def test_bookkeeping_is_unbiased_over_seeds(algorithm):
    """E[s_i²·1{i∈D}] = 1 for every i: a martingale that the min/Binomial update must keep."""
    X = blobs(40, seed=3)
    n_seeds = 400
    total = np.zeros((n_seeds, len(X)))
    for seed in range(n_seeds):
        if algorithm == "squeak":
            d = squeak(X, "gaussian", 1.0, bandwidth=BW, qbar=2, block_size=8, random_state=seed)
        else:
            d = disqueak(
                X, "gaussian", 1.0, bandwidth=BW, qbar=2, block_size=5, n_jobs=1, random_state=seed
            )
        total[seed, d.indices] = d.weights
    mean = total.mean(axis=0)
    se = total.std(axis=0, ddof=1) / np.sqrt(n_seeds)
    # Some points are dropped in some runs: the check is not vacuous.
    assert (total == 0).mean() > 0.2
    z = (mean - 1.0) / np.maximum(se, 1e-12)
    assert np.abs(z).max() < 4.5, (mean, se)
    assert abs(mean.mean() - 1.0) < 0.05


# -- DISQUEAK determinism -------------------------------------------------------------


def _same(a, b):
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.multiplicities, b.multiplicities)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.points, b.points)


def test_disqueak_same_output_for_1_2_4_workers():
    X = blobs(1200, seed=5)
    runs = [
        disqueak(X, "gaussian", 2.0, bandwidth=BW, block_size=150, n_jobs=j, random_state=7)
        for j in (1, 2, 4)
    ]
    _same(runs[0], runs[1])
    _same(runs[0], runs[2])
    other = disqueak(X, "gaussian", 2.0, bandwidth=BW, block_size=150, random_state=8)
    assert not np.array_equal(other.indices, runs[0].indices)


@pytest.mark.dask
def test_disqueak_same_output_on_dask_cluster():
    distributed = pytest.importorskip("distributed")
    import joblib

    X = blobs(1200, seed=5)
    reference = disqueak(
        X, "gaussian", 2.0, bandwidth=BW, block_size=150, n_jobs=1, random_state=7
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cluster start-up chatter
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
                processes=True,
            ) as cluster,
            distributed.Client(cluster),
            joblib.parallel_config(backend="dask"),
        ):
            on_dask = disqueak(X, "gaussian", 2.0, bandwidth=BW, block_size=150, random_state=7)
    _same(reference, on_dask)


# -- high coherence --------------------------------------------------------------------


def coherent_data(seed=0):
    """A dense blob plus five isolated points, each far (≫ bandwidth) from everything else."""
    rng = np.random.default_rng(seed)
    blob = rng.normal(scale=0.5, size=(1500, 2))
    far = np.array([[8.0, 0.0], [0.0, 8.0], [-8.0, 0.0], [0.0, -8.0], [8.0, 8.0]])
    X = np.vstack([blob, far])
    return X, np.arange(1500, 1505)


def test_high_coherence_squeak_keeps_isolated_points_uniform_misses_them():
    X, isolated = coherent_data()
    gamma = 1.0
    tau = ridge_leverage_scores(X, "gaussian", gamma, bandwidth=1.0)
    # An isolated point's RLS is k/(k+γ) = 1/2, the maximum here; blob points are far smaller.
    assert np.all(tau[isolated] > 0.49) and np.median(tau[:1500]) < 0.05
    kept, uniform_hits, sizes = 0, 0, []
    for seed in range(3):
        d = squeak(X, "gaussian", gamma, bandwidth=1.0, random_state=seed)
        kept += np.isin(isolated, d.indices).sum()
        sizes.append(len(d))
        u = LeverageNystroem(bandwidth=1.0, n_components=len(d), sampler="uniform")
        u.set_params(random_state=seed).fit(X)
        uniform_hits += np.isin(isolated, u.component_indices_).sum()
    assert kept == 15
    # Uniform sampling of the same size expects 5·m/n isolated points per draw.
    assert 5 * np.mean(sizes) / len(X) < 0.5
    assert uniform_hits <= 2
    # Each isolated point is kept w.p. 1 − (1 − (1−ε)·τ)^q̄ = 1 − 0.75^q̄ (0.997 at q̄ = 20,
    # so 5 points in 4 runs miss one ~6% of the time); q̄ = 40 makes it 1 − 1e-5.
    # Through the transformer: isolated points are represented exactly, not at all by uniform.
    lev = LeverageNystroem(bandwidth=1.0, regularization=gamma, qbar=40, random_state=0).fit(X)
    uni = LeverageNystroem(
        bandwidth=1.0, n_components=lev.n_components_, sampler="uniform", random_state=0
    ).fit(X)
    Zl, Zu = lev.transform(X[isolated]), uni.transform(X[isolated])
    np.testing.assert_allclose((Zl**2).sum(1), 1.0, atol=1e-6)
    assert (Zu**2).sum(1).max() < 1e-6


# -- LeverageNystroem ------------------------------------------------------------------


def test_leverage_nystroem_transform_matches_dense_reference(data):
    X, oracle = data
    est = LeverageNystroem(bandwidth=BW, regularization=oracle.gamma, random_state=0).fit(X)
    idx = est.component_indices_
    assert np.array_equal(idx, est.dictionary_.indices)
    np.testing.assert_array_equal(est.components_, X[idx])
    Z = est.transform(X)
    assert Z.shape == (len(X), est.n_components_) == (len(X), len(idx))
    R = oracle.nystroem_residual(idx)
    np.testing.assert_allclose(Z @ Z.T, oracle.K - R, atol=1e-8)
    # normalization_ is the pseudo-inverse square root: K_DD N² K_DD = K_DD.
    KDD = oracle.K[np.ix_(idx, idx)]
    N = est.normalization_
    np.testing.assert_allclose(N, N.T, atol=1e-10)
    np.testing.assert_allclose(KDD @ N @ N @ KDD, KDD, atol=1e-8)
    names = est.get_feature_names_out()
    assert names[0] == "leveragenystroem0" and len(names) == len(idx)


def test_leverage_nystroem_n_components_target_and_dtypes(data):
    X, _ = data
    for target in (40, 150):
        est = LeverageNystroem(bandwidth=BW, n_components=target, random_state=0).fit(X)
        assert 0.75 * target <= est.n_components_ <= 1.33 * target
        assert est.regularization_ > 0
    Z32 = est.transform(X.astype(np.float32))
    assert Z32.dtype == np.float32
    est32 = LeverageNystroem(bandwidth=BW, n_components=40, random_state=0)
    assert est32.fit_transform(X.astype(np.float32)).dtype == np.float32
    uni = LeverageNystroem(bandwidth=BW, n_components=37, sampler="uniform", random_state=0)
    assert uni.fit(X).n_components_ == 37 and uni.regularization_ is None
    # Same seed, same landmarks; the object pickles with its dictionary.
    again = LeverageNystroem(bandwidth=BW, n_components=150, random_state=0).fit(X)
    np.testing.assert_array_equal(again.component_indices_, est.component_indices_)
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.transform(X[:5]), est.transform(X[:5]))


def test_leverage_nystroem_in_pipeline_and_grid_search(data):
    X, _ = data
    rng = np.random.default_rng(0)
    y = np.sin(X[:, 0]) + np.cos(X[:, 1]) + 0.05 * rng.normal(size=len(X))
    pipe = make_pipeline(LeverageNystroem(n_components=60, random_state=0), Ridge(alpha=1e-3))
    grid = GridSearchCV(pipe, {"leveragenystroem__bandwidth": [0.05, 1.0]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["leveragenystroem__bandwidth"] == 1.0
    assert grid.best_score_ > 0.95
    frame = LeverageNystroem(n_components=20, random_state=0).set_output(transform="pandas")
    out = frame.fit_transform(X)
    assert list(out.columns) == list(frame.get_feature_names_out())
    labels = (y > np.median(y)).astype(int)
    # The bandwidth the grid search chose (the median rule's is wider and scores 0.88).
    clf = make_pipeline(
        LeverageNystroem(bandwidth=1.0, n_components=60, random_state=0), RidgeClassifier()
    )
    assert clf.fit(X, labels).score(X, labels) > 0.9


def test_leverage_nystroem_matches_sklearn_nystroem_on_same_landmarks(data):
    """With the landmarks fixed, the feature map is scikit-learn's up to a rotation."""
    X, _ = data
    est = LeverageNystroem(bandwidth=BW, n_components=50, random_state=0).fit(X)
    ref = Nystroem(gamma=1 / (2 * BW**2), n_components=est.n_components_).fit(X)
    ref.components_ = est.components_
    K = dense_kernel("gaussian", est.components_, est.components_, BW)
    U, S, Vt = linalg.svd(K)
    ref.normalization_ = (U / np.sqrt(np.maximum(S, 1e-12))) @ Vt
    A, B = est.transform(X[:200]), ref.transform(X[:200])
    np.testing.assert_allclose(A @ A.T, B @ B.T, atol=1e-6)


def test_leverage_nystroem_kernel_objects_keep_their_bandwidth(data):
    X, _ = data
    a = LeverageNystroem(Gaussian(BW), regularization=3.0, random_state=0).fit(X)
    b = LeverageNystroem("gaussian", bandwidth=BW, regularization=3.0, random_state=0).fit(X)
    assert a.kernel_ == Gaussian(BW)
    np.testing.assert_array_equal(a.component_indices_, b.component_indices_)

    def gauss(A, B):
        return dense_kernel("gaussian", A, B, BW)

    for kernel in (gauss, CallableKernel(gauss)):
        c = LeverageNystroem(kernel, regularization=3.0, random_state=0).fit(X)
        np.testing.assert_array_equal(c.component_indices_, b.component_indices_)
        # Features are defined up to the conditioning of K_DD; their Gram matrix is not.
        Zc, Zb = c.transform(X[:50]), b.transform(X[:50])
        np.testing.assert_allclose(Zc @ Zc.T, Zb @ Zb.T, atol=1e-8)


def test_select_centers_through_registry(data):
    X, _ = data
    idx = select_centers("squeak", X, 60, kernel=Gaussian(BW), random_state=0)
    assert idx.dtype.kind == "i" and len(np.unique(idx)) == len(idx)
    assert 40 <= len(idx) <= 90 and idx.max() < len(X)


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(regularization=0.0), ValueError, "regularization"),
        (dict(regularization=-1.0), ValueError, "regularization"),
        (dict(regularization="big"), TypeError, "regularization"),
        (dict(epsilon=0.0), ValueError, "epsilon"),
        (dict(epsilon=1.0), ValueError, "epsilon"),
        (dict(qbar=0), ValueError, "qbar"),
        (dict(qbar=2.5), TypeError, "qbar"),
        (dict(block_size=0), ValueError, "block_size"),
        (dict(kernel="nope"), ValueError, "kernel"),
        (dict(random_state=-1), ValueError, "'random_state' parameter"),
        (dict(block_size=2.5), TypeError, "'block_size' parameter"),
        (dict(bandwidth=0.0), ValueError, "'bandwidth' parameter"),
        (dict(regularization=np.inf), ValueError, "regularization"),
    ],
)
@pytest.mark.parametrize("function", [squeak, disqueak])
def test_bad_parameters(function, kwargs, exc, match):
    X = blobs(50)
    params = dict(kernel="gaussian", regularization=1.0) | kwargs
    with pytest.raises(exc, match=match):
        function(X, params.pop("kernel"), params.pop("regularization"), **params)


def test_bad_n_jobs_and_method():
    with pytest.raises(TypeError, match="'n_jobs' parameter"):
        disqueak(blobs(50), "gaussian", 1.0, n_jobs=1.5)
    with pytest.raises(ValueError, match="'method' parameter"):
        effective_dimension(blobs(10), "gaussian", 1.0, method="fast")


def test_bad_input_data_and_method():
    with pytest.raises(ValueError, match="X"):
        squeak(np.array([[np.nan, 1.0]]), "gaussian", 1.0)
    with pytest.raises(ValueError, match="method"):
        ridge_leverage_scores(blobs(10), "gaussian", 1.0, method="fast")
    with pytest.raises(ValueError, match="n_components"):
        LeverageNystroem(n_components=0).fit(blobs(10))
    with pytest.raises(ValueError, match="sampler"):
        LeverageNystroem(sampler="kmeans").fit(blobs(10))


def test_memory_budget_error_names_parameters():
    X = blobs(600)
    with config_context(working_memory=1), pytest.raises(MemoryError, match="working_memory") as e:
        squeak(X, "gaussian", 1e-3, bandwidth=BW, block_size=300)
    assert "regularization" in str(e.value) and "qbar" in str(e.value)
    with config_context(working_memory=1), pytest.raises(MemoryError, match="method='squeak'"):
        ridge_leverage_scores(X, "gaussian", 1.0)


def test_empty_dictionary_raises():
    with pytest.raises(ValueError, match="empty.*regularization"):
        squeak(blobs(200), "gaussian", 1e9, bandwidth=BW, qbar=1, random_state=0)


def test_negative_estimates_are_clipped_counted_and_warned_once():
    # A Gaussian minus 0.3 on the diagonal is indefinite (eigenvalues down to -0.3) yet
    # K + γI stays positive definite, so the Cholesky path yields negative estimates.
    def indefinite(A, B):
        d2 = cdist(A, B, "sqeuclidean")
        return np.exp(-d2 / 0.01) - 0.3 * (d2 == 0)

    X = np.random.default_rng(0).uniform(size=(60, 2))
    with pytest.warns(RuntimeWarning, match="clipped") as record:
        d = squeak(X, indefinite, 1.0, random_state=0)
    assert d.n_clipped > 0
    assert sum("clipped" in str(w.message) for w in record) == 1


def test_inputs_are_not_modified(data):
    X, _ = data
    X32 = X.astype(np.float32)
    before = X32.copy()
    squeak(X32, "gaussian", 3.0, bandwidth=BW, random_state=0)
    disqueak(X32, "gaussian", 3.0, bandwidth=BW, block_size=300, random_state=0)
    LeverageNystroem(bandwidth=BW, n_components=30, random_state=0).fit(X32).transform(X32)
    np.testing.assert_array_equal(X32, before)


def test_top_level_names():
    assert callable(kernelkit.squeak) and kernelkit.disqueak is disqueak
    d = kernelkit.squeak(blobs(100), "gaussian", 1.0, bandwidth=BW, random_state=0)
    assert isinstance(d, SqueakDictionary) and "SqueakDictionary(size=" in repr(d)


def _concat_with_seed(a, b, seed):
    return f"({a}+{b}:{seed.spawn_key[-1]})"


@pytest.mark.parametrize("n_items", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("tasks_per_job", [1, 2, 100])
def test_tree_map_reduce_equals_map_then_tree_reduce(n_items, tasks_per_job):
    from kernelkit._utils._parallel import tree_map_reduce, tree_reduce

    items = list(range(n_items))
    # spawn() advances a SeedSequence: each call gets a fresh parent with the same entropy.
    expected = tree_reduce(
        [str(i) for i in items], _concat_with_seed, seeds=np.random.SeedSequence(3)
    )
    got = tree_map_reduce(
        str,
        items,
        _concat_with_seed,
        seeds=np.random.SeedSequence(3),
        n_jobs=1,
        tasks_per_job=tasks_per_job,
    )
    assert got == expected
    assert got.count("+") == n_items - 1
