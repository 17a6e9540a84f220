"""Falkon against dense references: the Nyström KRR normal equations solved directly."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import LabelBinarizer

from kernelkit import (
    FalkonClassifier,
    FalkonRegressor,
    Gaussian,
    KernelOperator,
    Laplacian,
    config_context,
)
from kernelkit.models._falkon_solver import NormalProduct

KERNEL = Laplacian(2.0)


def dense_solution(kernel, X, Z, Y, lam, w=None, centred=True):
    """a = (K_nMᵀWK_nM + λ·Σw·K_MM)⁻¹K_nMᵀW(Y − Ȳ_w) by a dense solve in float64.

    ``centred=False``: the same with Y itself (no intercept).
    """
    K = KernelOperator(kernel, X, Z).to_dense()
    Kmm = KernelOperator(kernel, Z).to_dense()
    w = np.ones(len(X)) if w is None else w
    if centred:
        Y = Y - np.average(Y, axis=0, weights=w)
    H = K.T @ (w[:, None] * K) + lam * w.sum() * Kmm
    return np.linalg.solve(H, K.T @ (w[:, None] * Y))


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    Y = np.column_stack([np.sin(2 * X[:, 0]) + X[:, 1], np.cos(X[:, 2])])
    Y += 0.1 * rng.normal(size=Y.shape)
    Z = X[rng.choice(2000, 300, replace=False)]
    return X, Y, Z


def test_matches_dense_normal_equations(regression):
    X, Y, Z = regression
    lam = 1e-5
    Y = Y + 3.0  # a mean far from 0, so that an intercept matters
    # Default: the system (K_nMᵀK_nM + λnK_MM) a = K_nMᵀy on y itself.
    model = FalkonRegressor(KERNEL, centers=Z, regularization=lam, max_iter=50, tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol is below round-off on purpose
        model.fit(X, Y)
    reference = dense_solution(KERNEL, X, Z, Y, lam, centred=False)
    assert rel(model.dual_coef_, reference) <= 1e-6
    np.testing.assert_array_equal(model.intercept_, 0.0)
    np.testing.assert_allclose(model.predict(X[:5]), KernelOperator(KERNEL, X[:5], Z) @ reference)
    # fit_intercept=True: the unpenalised weighted mean, and the system on y − ȳ.
    centred = FalkonRegressor(
        KERNEL, centers=Z, regularization=lam, fit_intercept=True, max_iter=50, tol=1e-12
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        centred.fit(X, Y)
    reference = dense_solution(KERNEL, X, Z, Y, lam)
    assert rel(centred.dual_coef_, reference) <= 1e-6
    expected = KernelOperator(KERNEL, X[:5], Z) @ reference + Y.mean(axis=0)
    np.testing.assert_allclose(centred.predict(X[:5]), expected)
    np.testing.assert_allclose(centred.intercept_, Y.mean(axis=0))
    # One output alone gives its column of the joint solve.
    single = FalkonRegressor(
        KERNEL, centers=Z, regularization=lam, fit_intercept=True, max_iter=50, tol=1e-10
    )
    single.fit(X, Y[:, 0])
    assert single.predict(X[:3]).shape == (3,)
    assert rel(single.dual_coef_[:, 0], reference[:, 0]) <= 1e-6


def test_streamed_product_equals_cached_and_chunks_add_up(regression):
    X, Y, Z = regression
    X, Y, Z = X[:1000], Y[:1000], Z[:150]
    kw = dict(centers=Z, regularization=1e-4, max_iter=30, tol=1e-6)
    cached = FalkonRegressor(KERNEL, **kw).fit(X, Y)
    streamed = FalkonRegressor(KERNEL, cache_size=0, **kw).fit(X, Y)
    assert cached.kernel_cached_ and not streamed.kernel_cached_
    assert rel(streamed.dual_coef_, cached.dual_coef_) <= 1e-8
    # The per-chunk product is what a distributed fit would sum.
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(X))
    product = NormalProduct(KERNEL, X, Z, w, cache_bytes=0)
    V = np.random.default_rng(2).normal(size=(len(Z), 2))
    parts = sum(product.chunk_product(X[s : s + 400], w[s : s + 400], V) for s in (0, 400, 800))
    K = KernelOperator(KERNEL, X, Z).to_dense()
    np.testing.assert_allclose(parts, K.T @ (w[:, None] * (K @ V)), rtol=1e-10)


def test_preconditioned_residual_falls_100x_in_10_iterations_on_digits():
    X, y = load_digits(return_X_y=True)
    clf = FalkonClassifier(n_centers=500, max_iter=10, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=10"):
        clf.fit(X[:1500] / 16, y[:1500])
    assert clf.n_iter_ == 10 and len(clf.residuals_) == 11
    assert clf.residuals_[10] <= 1e-2 * clf.residuals_[0]
    assert clf.score(X[1500:] / 16, y[1500:]) > 0.93


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_sample_weights_unit_and_integer(regression, fit_intercept):
    X, Y, Z = regression
    X, Y = X[:600], Y[:600, 0] + 1.0
    kw = dict(
        centers=Z[:80], regularization=1e-4, max_iter=60, tol=1e-11, fit_intercept=fit_intercept
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = FalkonRegressor(KERNEL, **kw).fit(X, Y)
        unit = FalkonRegressor(KERNEL, **kw).fit(X, Y, sample_weight=np.ones(len(X)))
        counts = np.random.default_rng(0).integers(0, 4, size=len(X))
        weighted = FalkonRegressor(KERNEL, **kw).fit(X, Y, sample_weight=counts)
        repeated = FalkonRegressor(KERNEL, **kw).fit(np.repeat(X, counts, 0), np.repeat(Y, counts))
    np.testing.assert_allclose(unit.dual_coef_, plain.dual_coef_, rtol=1e-12)
    assert rel(weighted.dual_coef_, repeated.dual_coef_) <= 1e-6
    reference = dense_solution(
        KERNEL, X, Z[:80], Y[:, None], 1e-4, counts.astype(float), centred=fit_intercept
    )
    assert rel(weighted.dual_coef_, reference) <= 1e-6
    # Same seed, uniform centers: the weights do not change which centers are drawn.
    a = FalkonClassifier(n_centers=50, random_state=3).fit(X, Y > 0)
    b = FalkonClassifier(n_centers=50, random_state=3).fit(X, Y > 0, sample_weight=np.ones(600))
    np.testing.assert_allclose(a.dual_coef_, b.dual_coef_, rtol=1e-12)


def test_classifier_encoding_and_outputs():
    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "8", "9"])
    names = labels[y[:400]]
    kw = dict(kernel="gaussian", bandwidth=3.0, n_centers=100, random_state=0)
    clf = FalkonClassifier(**kw).fit(X, names)
    # Multi-class = the regressor on LabelBinarizer's one-hot targets.
    onehot = LabelBinarizer().fit(clf.classes_).transform(names)
    reg = FalkonRegressor(**kw).fit(X, onehot)
    np.testing.assert_allclose(clf.decision_function(X), reg.predict(X), rtol=1e-10, atol=1e-10)
    assert set(clf.predict(X)) <= set(labels) and clf.score(X, names) > 0.9
    assert not hasattr(clf, "predict_proba")
    binary = FalkonClassifier(**kw).fit(X, names == "two")
    scores = binary.decision_function(X)
    assert scores.shape == (400,) and binary.dual_coef_.shape == (100, 1)
    np.testing.assert_array_equal(binary.predict(X), binary.classes_[(scores > 0).astype(int)])


def test_float32_stays_float32_and_inputs_are_not_modified(regression):
    X, Y, Z = regression
    X32, y32 = X[:500].astype(np.float32), Y[:500, 0].astype(np.float32)
    w = np.linspace(0.5, 1.5, 500)
    copies = [a.copy() for a in (X32, y32, w, Z)]
    model = FalkonRegressor(KERNEL, centers=Z, max_iter=5, tol=0.1).fit(X32, y32, w)
    assert model.dual_coef_.dtype == np.float32 and model.predict(X32).dtype == np.float32
    for before, after in zip(copies, (X32, y32, w, Z), strict=True):
        np.testing.assert_array_equal(before, after)
    X32[0] = 100.0  # the model keeps its own copy of the centers
    m2 = FalkonRegressor(KERNEL, n_centers=50, max_iter=5, tol=0.1, random_state=0)
    m2.fit(X32[:100], y32[:100])
    before = m2.centers_.copy()
    X32[:100] = 0.0
    np.testing.assert_array_equal(m2.centers_, before)


@pytest.mark.parametrize(
    "fit_args, kwargs, exc, match",
    [
        ("nan_X", {}, ValueError, "NaN"),
        ("inf_X", {}, ValueError, "infinity"),
        ("inf_y", {}, ValueError, "infinity|NaN"),
        (None, dict(n_centers=500), ValueError, "n_centers=500 exceeds n_samples=200.*'all'"),
        (None, dict(regularization=-1.0), ValueError, "regularization"),
        (None, dict(centers="kmeans"), ValueError, "centers"),
        ("weights_negative", {}, ValueError, "sample_weight must be non-negative"),
        ("weights_shape", {}, ValueError, r"sample_weight must have shape \(200,\)"),
        ("centers_features", {}, ValueError, "X has 3 features but centers has 2"),
    ],
)
def test_bad_input(fit_args, kwargs, exc, match):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    w = None
    if fit_args == "nan_X":
        X[3, 1] = np.nan
    elif fit_args == "inf_X":
        X[3, 1] = np.inf
    elif fit_args == "inf_y":
        y[5] = np.inf
    elif fit_args == "weights_negative":
        w = -np.ones(200)
    elif fit_args == "weights_shape":
        w = np.ones(10)
    elif fit_args == "centers_features":
        kwargs = dict(centers=np.zeros((5, 2)))
    with pytest.raises(exc, match=match):
        FalkonRegressor(**kwargs).fit(X, y, sample_weight=w)


def test_memory_budget_is_checked_before_allocating():
    X = np.random.default_rng(0).normal(size=(3000, 2))
    with config_context(working_memory=1):  # 1 MiB: two 256×256 float64 matrices at most
        with pytest.raises(MemoryError, match="n_centers=2000.*that fits is 256"):
            FalkonRegressor(n_centers=2000).fit(X, X[:, 0])
        assert FalkonRegressor(max_iter=3, tol=0.5).fit(X, X[:, 0]).n_centers_ == 256


def test_all_centers_is_exact_kernel_ridge():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = np.sin(X[:, 0])
    kernel, lam = Gaussian(1.0), 1e-3
    y = np.sin(X[:, 0]) + 2.0
    kw = dict(centers="all", regularization=lam, max_iter=100, tol=1e-10)
    K = KernelOperator(kernel, X).to_dense()
    # With Z = X the model is scikit-learn's KernelRidge with alpha = λ·n ...
    model = FalkonRegressor(kernel, **kw).fit(X, y)
    krr = KernelRidge(alpha=lam * len(X), kernel="precomputed").fit(K, y)
    np.testing.assert_allclose(model.predict(X), krr.predict(K), atol=1e-6)
    # ... and with an intercept, kernel ridge on centred targets: f = ȳ + K(K + λnI)⁻¹(y − ȳ).
    model = FalkonRegressor(kernel, fit_intercept=True, **kw).fit(X, y)
    fitted = y.mean() + K @ np.linalg.solve(K + lam * len(X) * np.eye(len(X)), y - y.mean())
    np.testing.assert_allclose(model.predict(X), fitted, atol=1e-6)


def test_convergence_warning_early_stopping_and_warm_start(regression):
    X, Y, Z = regression
    y = Y[:, 0]
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        FalkonRegressor(KERNEL, centers=Z, max_iter=2, tol=1e-12).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # early stopping never warns
        early = FalkonRegressor(
            KERNEL, centers=Z, early_stopping=True, max_iter=30, tol=0.0, random_state=0
        ).fit(X, y)
    assert len(early.validation_scores_) == early.n_iter_ <= 30
    assert early.best_validation_score_ == max(early.validation_scores_) > 0.9
    warm = FalkonRegressor(KERNEL, centers=Z, regularization=1e-5, max_iter=4, tol=0.0)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    first_end = warm.residuals_[-1]
    warm.set_params(warm_start=True, max_iter=40, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
    # The restart begins where the first fit stopped, and reaches the same solution.
    assert warm.residuals_[0] == pytest.approx(first_end, rel=1e-3)
    reference = dense_solution(KERNEL, X, Z, y[:, None], 1e-5, centred=False)
    assert rel(warm.dual_coef_, reference) <= 1e-6


def test_leverage_and_thinning_centers():
    X, y = load_digits(return_X_y=True)
    X, y = X[:500] / 16, y[:500]
    lev = FalkonClassifier(n_centers=60, centers="squeak", random_state=0).fit(X, y)
    assert lev.n_centers_ == 60 and len(np.unique(lev.centers_, axis=0)) == 60
    kt = FalkonClassifier(n_centers=60, centers="kt", random_state=0).fit(X, y)
    assert 30 <= kt.n_centers_ <= 120
    assert lev.score(X, y) > 0.9 and kt.score(X, y) > 0.9


def test_pickle_clone_and_grid_search():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    clf = FalkonClassifier(n_centers=60, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.decision_function(X), clf.decision_function(X))
    assert clone(clf).get_params() == clf.get_params()
    search = GridSearchCV(
        FalkonClassifier(n_centers=60, random_state=0),
        {"regularization": [1e-6, 1e-3]},
        cv=2,
        n_jobs=2,
    ).fit(X, y)
    assert search.best_score_ > 0.8
