"""LeverageNystroem with an exact landmark count, against dense eigendecompositions."""

import pickle
import warnings

import numpy as np
import pytest
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from kernelkit import Gaussian, KernelOperator, LeverageNystroem, effective_dimension, squeak
from kernelkit.sampling import select_centers
from kernelkit.sampling._nystroem import (
    _capped_probabilities,
    _DictionaryScores,
    _systematic_sample,
)


def coherent_data(seed=0):
    """A dense 2-D blob plus five isolated points far (≫ bandwidth) from everything else."""
    rng = np.random.default_rng(seed)
    blob = rng.normal(scale=0.5, size=(800, 2))
    far = np.array([[8.0, 0.0], [0.0, 8.0], [-8.0, 0.0], [0.0, -8.0], [8.0, 8.0]])
    return np.vstack([blob, far]), np.arange(800, 805)


@pytest.fixture(autouse=True)
def serial_blas():
    # The dense references are small; threaded BLAS on a busy 2-core machine is far slower.
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def coherent():
    X, isolated = coherent_data()
    return X, isolated, KernelOperator(Gaussian(1.0), X).to_dense()


def spectral_error(K, idx):
    """‖K − K_{:,D}K_DD⁺K_{D,:}‖₂ by dense linear algebra."""
    C = K[:, idx]
    R = K - C @ linalg.pinvh(K[np.ix_(idx, idx)]) @ C.T
    return linalg.eigvalsh(R)[-1]


@pytest.mark.parametrize("k", [2, 10, 60, 1000])
def test_exact_number_of_distinct_landmarks(k):
    # A Laplacian kernel on a uniform square: d_eff(γ) reaches any k < n for some γ.
    X = np.random.default_rng(0).uniform(size=(1200, 2))
    est = LeverageNystroem("laplacian", bandwidth=0.3, n_components=k, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X)
    assert est.n_components_ == k == len(np.unique(est.component_indices_))
    assert est.transform(X[:3]).shape == (3, k)


def test_coherent_data_keeps_isolated_points_and_beats_uniform(coherent):
    X, isolated, K = coherent
    kept, lev_err, uni_err = [], [], []
    for seed in range(4):
        lev = LeverageNystroem(bandwidth=1.0, n_components=60, random_state=seed).fit(X)
        uni = LeverageNystroem(bandwidth=1.0, n_components=60, sampler="uniform")
        uni.set_params(random_state=seed).fit(X)
        kept.append(np.isin(isolated, lev.component_indices_).sum())
        lev_err.append(spectral_error(K, lev.component_indices_))
        uni_err.append(spectral_error(K, uni.component_indices_))
    assert np.mean(kept) >= 4
    # A missed isolated point alone leaves an eigenvalue k(x, x) = 1 in the residual.
    assert np.median(lev_err) <= 0.7 * np.median(uni_err)


def test_effective_dimension_matches_target(coherent):
    X, _, _ = coherent
    est = LeverageNystroem(bandwidth=1.0, n_components=60, random_state=0).fit(X)
    exact = effective_dimension(X, "gaussian", est.regularization_, bandwidth=1.0)
    assert est.effective_dimension_ == pytest.approx(60, rel=1e-3)
    assert 0.8 * 60 <= exact <= 1.25 * 60


def test_dictionary_scores_equal_the_dictionary_estimator(coherent):
    X, _, _ = coherent
    d = squeak(X, "gaussian", 0.5, bandwidth=1.0, random_state=0)
    est = _DictionaryScores(d, X)
    np.testing.assert_allclose(est.scores(0.5), np.clip(d.leverage_scores(X), 0, 1), atol=1e-8)
    for gamma in (0.1, 0.5, 3.0):
        raw_sum = est.effective_dimension(gamma)
        assert raw_sum == pytest.approx(est.scores(gamma, clip=False).sum(), rel=1e-6)


def test_inclusion_probabilities_and_systematic_sampling():
    rng = np.random.default_rng(0)
    scores = np.concatenate([[0.9, 2.0, 0.0], rng.uniform(0, 0.05, size=97)])
    pi = _capped_probabilities(scores, 10)
    assert pi.sum() == pytest.approx(10) and pi.max() <= 1 and pi[1] == 1.0
    # Uncapped entries stay proportional to the scores.
    free = (pi < 1) & (scores > 0)
    ratio = pi[free] / scores[free]
    np.testing.assert_allclose(ratio, ratio[0])
    counts = np.zeros(100)
    draws = 4000
    for _ in range(draws):
        idx = _systematic_sample(pi, 10, rng)
        assert len(idx) == 10 == len(np.unique(idx))
        counts[idx] += 1
    # Each point is drawn with probability π_i (binomial standard error ≤ 0.008).
    np.testing.assert_allclose(counts / draws, pi, atol=0.035)


def test_precomputed_kernel_and_callables(coherent):
    X, _, K = coherent
    X, K = X[:400], K[:400, :400]
    pre = LeverageNystroem(kernel="precomputed", n_components=30, random_state=0).fit(K)
    assert pre.n_components_ == 30
    F = pre.transform(K[:50])
    D = pre.component_indices_
    reference = K[:50, D] @ linalg.pinvh(K[np.ix_(D, D)]) @ K[D, :50]
    np.testing.assert_allclose(F @ F.T, reference, atol=1e-8)

    def gauss(A, B, width):
        return np.exp(-((A[:, None] - B[None]) ** 2).sum(-1) / (2 * width**2))

    call = LeverageNystroem(gauss, kernel_params={"width": 1.0}, n_components=30, random_state=0)
    Z = call.fit(X).transform(X[:50])
    D = call.component_indices_
    reference = K[:50, D] @ linalg.pinvh(K[np.ix_(D, D)]) @ K[D, :50]
    np.testing.assert_allclose(Z @ Z.T, reference, atol=1e-8)
    clone = pickle.loads(pickle.dumps(pre))
    np.testing.assert_array_equal(clone.transform(K[:5]), pre.transform(K[:5]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel=lambda A, B: A @ B.T, bandwidth=2.0), "bandwidth=2.0 cannot be used"),
        (
            dict(kernel="precomputed", bandwidth="median"),
            "cannot be used with kernel='precomputed'",
        ),
        (dict(kernel="gaussian", kernel_params={"a": 1}), "kernel_params is only used"),
        (dict(kernel="precomputed"), "square training kernel matrix"),
    ],
)
def test_parity_errors(kwargs, match):
    X = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(ValueError, match=match):
        LeverageNystroem(n_components=5, **kwargs).fit(X)


def test_size_search_warns_when_target_is_out_of_reach():
    # Three distinct points repeated: d_eff(γ) < 3 for every γ, so 12 cannot be reached.
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]), 40, axis=0)
    with pytest.warns(ConvergenceWarning, match="effective dimension"):
        est = LeverageNystroem(bandwidth=1.0, n_components=12, random_state=0).fit(X)
    assert est.n_components_ == 12


def test_select_centers_is_the_same_routine(coherent):
    X, _, _ = coherent
    idx = select_centers("squeak", X, 60, kernel=Gaussian(1.0), random_state=0)
    assert len(idx) == 60 == len(np.unique(idx)) and np.all(np.diff(idx) > 0)


def test_float32_data_keep_the_well_conditioned_spectrum():
    # The landmark matrix is float64; only eigenvalues below the float32 round-off of the
    # transform's kernel rows (m·eps32·β) may be dropped, not those below m·eps32·λ_max.
    X = np.random.default_rng(0).uniform(size=(1500, 8)).astype(np.float32)
    est = LeverageNystroem("laplacian", bandwidth=5.0, n_components=600, sampler="uniform")
    est.set_params(random_state=0).fit(X)
    D = X[est.component_indices_].astype(np.float64)
    K_DD = KernelOperator("laplacian", D, bandwidth=5.0).to_dense()
    lam = linalg.eigvalsh(K_DD)
    kept = np.linalg.matrix_rank(est.normalization_, tol=0)
    assert kept == np.count_nonzero(lam > 600 * np.finfo(np.float32).eps)
    assert lam.min() < 600 * np.finfo(np.float32).eps * lam.max()  # the old rule dropped some
    Z = est.transform(X[:200]).astype(np.float64)
    K_XD = KernelOperator("laplacian", X[:200].astype(np.float64), D, bandwidth=5.0).to_dense()
    reference = K_XD @ linalg.pinvh(K_DD) @ K_XD.T
    np.testing.assert_allclose(Z @ Z.T, reference, atol=2e-3)
