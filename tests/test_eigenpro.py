"""Tests of EigenProRegressor / EigenProClassifier against independent references.

References: the exact interpolant K⁻¹y from scipy.linalg.solve on a dense
kernel built with scipy's cdist (tests/conftest.py), KernelRidge with a
precomputed kernel, and the exact solution of K(Z, Z)θ = h.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.linalg
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kernelkit import EigenProClassifier, EigenProRegressor, Gaussian, Laplacian, config_context
from kernelkit.models import _eigenpro_pass
from kernelkit.models._eigenpro_precond import (
    CenterProjector,
    CholeskyProjector,
    NystromPreconditioner,
)
from tests.conftest import dense_kernel


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _regression(rng, n, d=5):
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)
    return X, y


def _rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b))


# -- convergence to independent references -----------------------------------------
def test_all_centers_converge_to_interpolant_and_kernel_ridge(rng):
    X, y = _regression(rng, 1000)
    X_test = rng.normal(size=(200, 5))
    K = dense_kernel("laplacian", X, X, 2.0)
    coef = scipy.linalg.solve(K, y, assume_a="pos")
    interpolant = dense_kernel("laplacian", X_test, X, 2.0) @ coef
    krr = KernelRidge(alpha=1e-9, kernel="precomputed").fit(K, y)
    krr_pred = krr.predict(dense_kernel("laplacian", X_test, X, 2.0))

    model = EigenProRegressor(
        kernel="laplacian", bandwidth=2.0, centers="all", epochs=40, random_state=0
    ).fit(X, y)
    pred = model.predict(X_test)
    assert model.projection_interval_ == 0 and model.n_centers_ == 1000
    assert _rel(pred, interpolant) <= 1e-3
    assert _rel(pred, krr_pred) <= 1e-3
    # The training loss of an interpolating fit goes to zero.
    assert model.loss_curve_[-1] < 1e-4 * model.loss_curve_[0]


def test_binary_classifier_converges_to_sign_interpolant(rng):
    X = rng.normal(size=(400, 3))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=400) > 0, "yes", "no")
    K = dense_kernel("laplacian", X, X, 1.5)
    target = np.where(y == "yes", 1.0, -1.0)
    X_test = rng.normal(size=(100, 3))
    reference = dense_kernel("laplacian", X_test, X, 1.5) @ scipy.linalg.solve(K, target)
    clf = EigenProClassifier(bandwidth=1.5, centers="all", epochs=60, random_state=0).fit(X, y)
    scores = clf.decision_function(X_test)
    assert scores.shape == (100,)
    assert list(clf.classes_) == ["no", "yes"]
    assert _rel(scores, reference) <= 1e-3
    np.testing.assert_array_equal(clf.predict(X_test), np.where(reference > 0, "yes", "no"))


def test_inexact_projection_matches_exact_solve(rng):
    # h as EigenPro produces it: a batch gradient evaluated at the centers.
    Z = rng.normal(size=(400, 4))
    H = dense_kernel("laplacian", Z, rng.normal(size=(300, 4)), 2.0) @ rng.normal(size=(300, 2))
    K = dense_kernel("laplacian", Z, Z, 2.0)
    exact = scipy.linalg.solve(K, H, assume_a="pos")
    kernel = Laplacian(2.0)

    # The default projection (a few EigenPro 2 passes): residual within 1%, RKHS error within 10%.
    theta = CenterProjector(kernel, Z, n_subsamples=400, random_state=0).solve(H)
    err = theta - exact
    assert np.linalg.norm(K @ theta - H) / np.linalg.norm(H) <= 1e-2
    assert np.sqrt(np.trace(err.T @ K @ err) / np.trace(exact.T @ K @ exact)) <= 0.1
    # Run long enough, it converges to K⁻¹h itself (coefficients within 1e-3).
    long = CenterProjector(kernel, Z, n_subsamples=400, random_state=0, epochs=120, tol=0.0)
    assert _rel(long.solve(H), exact) <= 1e-3
    # The exact projection (used when K(Z, Z) fits the budget) is the dense solve.
    assert _rel(CholeskyProjector(kernel, Z).solve(H), exact) <= 1e-8
    # A solve that stops above its tolerance is counted (one ConvergenceWarning per fit).
    short = CenterProjector(kernel, Z, n_subsamples=400, random_state=0, epochs=1, tol=1e-12)
    short.solve(H)
    assert short.misses == 1 and short.worst_residual > 1e-12


def test_preconditioner_matches_dense_eigensystem(rng):
    Xs = rng.normal(size=(300, 3))
    K = dense_kernel("gaussian", Xs, Xs, 1.0) / 300
    lam = np.linalg.eigvalsh(K)[::-1]
    pre = NystromPreconditioner(Gaussian(1.0), Xs, rank=10, max_batch=300)
    np.testing.assert_allclose(pre.eigenvalues, lam[:11], rtol=1e-8, atol=1e-13)
    assert pre.critical_batch == pytest.approx(1.0 / lam[10])
    # Preconditioned operator (K − K·E·D·Eᵀ·K)/s: the top q eigenvalues are flattened to λ_{q+1}.
    Kfull = K * 300
    flattened = (Kfull - Kfull @ pre.weights(pre.project(Kfull))) / 300
    flat = np.linalg.eigvalsh((flattened + flattened.T) / 2)[::-1]
    np.testing.assert_allclose(flat[:12], np.r_[np.full(11, lam[10]), lam[11]], rtol=1e-6)


@pytest.mark.parametrize("max_batch", [50, 300, 1000])
def test_automatic_rank_is_largest_with_critical_batch_within_cap(rng, max_batch):
    # Bandwidth 0.3: 110 and 220 eigenvalues above 1/max_batch, beyond the first 128 pairs.
    Xs = rng.normal(size=(300, 3))
    lam = np.linalg.eigvalsh(dense_kernel("gaussian", Xs, Xs, 0.3) / 300)[::-1]
    expected = max(int(np.count_nonzero(lam >= 1.0 / max_batch)) - 1, 0)
    pre = NystromPreconditioner(Gaussian(0.3), Xs, rank="auto", max_batch=max_batch)
    assert pre.rank == expected
    assert pre.critical_batch <= max_batch or expected == 0
    np.testing.assert_allclose(pre.eigenvalues, lam[: expected + 1], rtol=1e-8)


def test_delayed_and_every_batch_reach_same_test_error(rng):
    X, y = _regression(rng, 600)
    X_test, y_test = _regression(rng, 300)
    common = dict(bandwidth=2.0, n_centers=200, epochs=8, batch_size=100, random_state=0)
    delayed = EigenProRegressor(projection="delayed", **common).fit(X, y)
    every = EigenProRegressor(projection="every_batch", **common).fit(X, y)
    assert delayed.projection_interval_ == 2 and every.projection_interval_ == 1
    mse_delayed = np.mean((delayed.predict(X_test) - y_test) ** 2)
    mse_every = np.mean((every.predict(X_test) - y_test) ** 2)
    # Both approach the least-squares fit on the same centers.
    Z = delayed.centers_
    Kxz = dense_kernel("laplacian", X, Z, 2.0)
    coef = np.linalg.lstsq(Kxz, y, rcond=1e-10)[0]
    mse_ls = np.mean((dense_kernel("laplacian", X_test, Z, 2.0) @ coef - y_test) ** 2)
    assert abs(mse_delayed - mse_every) <= 0.05 * mse_every
    assert mse_delayed <= 1.2 * mse_ls and mse_every <= 1.2 * mse_ls


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_loss_decreases_every_epoch_on_digits(digits, kernel, dtype):
    X, y = digits
    X = X.astype(dtype)
    clf = EigenProClassifier(kernel=kernel, n_centers=200, n_subsamples=400, random_state=0)
    losses = []
    for _ in range(4):
        # Repeated partial_fit on the same data is fit epoch by epoch (tested below).
        clf.partial_fit(X, y, classes=np.arange(10))
        scores = clf.decision_function(X)
        assert scores.dtype == dtype
        onehot = np.eye(10)[y]
        losses.append(np.mean((scores.astype(np.float64) - onehot) ** 2))
    assert clf.dual_coef_.dtype == dtype
    assert np.all(np.diff(losses) < 0), losses
    assert clf.score(X, y) > 0.9


def test_partial_fit_repeated_equals_fit(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    fitted = EigenProClassifier(n_centers=100, epochs=3, batch_size=128, random_state=3).fit(X, y)
    streamed = EigenProClassifier(n_centers=100, batch_size=128, random_state=3)
    for _ in range(3):
        streamed.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_allclose(streamed.dual_coef_, fitted.dual_coef_, rtol=1e-12, atol=1e-12)
    assert streamed.n_iter_ == fitted.n_iter_ == 3


def test_multi_output_is_columnwise(rng):
    X, y = _regression(rng, 300)
    Y = np.column_stack([y, np.cos(X[:, 3])])
    # A step the divergence guard never adjusts: its decisions look at all outputs at once.
    params = dict(n_centers=60, epochs=4, batch_size=50, step_scale=0.5, random_state=1)
    both = EigenProRegressor(**params).fit(X, Y)
    assert both.predict(X).shape == (300, 2)
    for j in range(2):
        single = EigenProRegressor(**params).fit(X, Y[:, j])
        np.testing.assert_allclose(
            both.dual_coef_[:, j], single.dual_coef_[:, 0], rtol=1e-9, atol=1e-12
        )


# -- reproducibility, persistence, composition -------------------------------------
def test_same_random_state_same_model(rng):
    X, y = _regression(rng, 400)
    params = dict(n_centers=80, epochs=3, batch_size=64)
    a = EigenProRegressor(random_state=7, **params).fit(X, y)
    b = EigenProRegressor(random_state=7, **params).fit(X, y)
    c = EigenProRegressor(random_state=8, **params).fit(X, y)
    np.testing.assert_array_equal(a.dual_coef_, b.dual_coef_)
    np.testing.assert_array_equal(a.centers_, b.centers_)
    assert not np.array_equal(a.centers_, c.centers_)


def test_pickle_round_trip(digits):
    X, y = digits
    clf = EigenProClassifier(n_centers=100, epochs=2, random_state=0).fit(X[:500], y[:500])
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        clone.decision_function(X[500:600]), clf.decision_function(X[500:600])
    )
    # The unpickled model keeps training like the original.
    clf.partial_fit(X[:500], y[:500])
    clone.partial_fit(X[:500], y[:500])
    np.testing.assert_array_equal(clone.dual_coef_, clf.dual_coef_)


def test_grid_search_over_bandwidth_in_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(
        StandardScaler(), EigenProClassifier(n_centers=150, epochs=2, random_state=0)
    )
    grid = GridSearchCV(pipe, {"eigenproclassifier__bandwidth": [0.5, 8.0, 30.0]}, cv=3, n_jobs=2)
    grid.fit(X[:450], y[:450])
    assert grid.best_params_["eigenproclassifier__bandwidth"] != 0.5
    assert grid.score(X[600:900], y[600:900]) > 0.85


def test_pandas_input_keeps_feature_names(rng):
    pd = pytest.importorskip("pandas")
    X, y = _regression(rng, 200)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    model = EigenProRegressor(n_centers=40, epochs=2, random_state=0).fit(frame, y)
    plain = EigenProRegressor(n_centers=40, epochs=2, random_state=0).fit(X, y)
    assert list(model.feature_names_in_) == list(frame.columns)
    # A frame converts to a Fortran-ordered array: the same model up to BLAS rounding.
    np.testing.assert_allclose(model.predict(frame), plain.predict(X), rtol=1e-10, atol=1e-12)


# -- automatic choices, memory, options --------------------------------------------------
def test_automatic_choices_are_recorded_and_memory_capped(rng):
    X, y = _regression(rng, 1200)
    with config_context(working_memory=1):
        model = EigenProRegressor(n_centers=200, epochs=1, random_state=0).fit(X, y)
    s, p = model.n_subsamples_, model.n_centers_
    # The Nyström subsample is drawn from the centers (at most p of them).
    assert s == 200 and p == 200
    assert model.batch_size_ * p * 8 * 2 <= 2**20
    assert model.batch_size_ <= model.critical_batch_size_
    assert model.critical_batch_size_ == pytest.approx(model.beta_ / model.eigenvalues_[-1])
    assert len(model.eigenvalues_) == model.preconditioner_rank_ + 1
    # K(Z, Z) fits the budget: exact projection and the full EigenPro 2 step.
    assert model.projection_solver_ == "cholesky"
    assert model.step_size_ == pytest.approx(model.batch_size_ / model.beta_)
    assert model.projection_interval_ == int(np.ceil(p / model.batch_size_))
    # It does not: EigenPro 2 on the centers and EigenPro 3's halved step.
    with config_context(working_memory=0.25), pytest.warns(ConvergenceWarning, match="projection"):
        # So small a budget also cripples the inexact projection's batches.
        small = EigenProRegressor(n_centers=200, epochs=1, random_state=0).fit(X, y)
    assert small.projection_solver_ == "eigenpro"
    assert small.step_size_ == pytest.approx(small.batch_size_ / (2 * small.beta_))


def test_float32_in_float32_out_and_inputs_untouched(rng):
    X, y = _regression(rng, 300)
    X32 = X.astype(np.float32)
    X_copy, y_copy = X32.copy(), y.copy()
    model = EigenProRegressor(n_centers=50, epochs=2, random_state=0).fit(X32, y)
    assert model.dual_coef_.dtype == np.float32 and model.centers_.dtype == np.float32
    assert model.predict(X32).dtype == np.float32
    np.testing.assert_array_equal(X32, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    model64 = EigenProRegressor(n_centers=50, epochs=2, random_state=0).fit(X, y)
    assert _rel(model.predict(X), model64.predict(X)) < 1e-3


def test_user_centers_and_early_stopping(rng):
    X, y = _regression(rng, 600)
    Z = rng.normal(size=(50, 5))
    model = EigenProRegressor(centers=Z, epochs=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.centers_, Z)
    assert model.n_centers_ == 50

    stopper = EigenProRegressor(
        n_centers=80, epochs=20, early_stopping=True, tol=10.0, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    # A tolerance no epoch can meet: the first epoch sets the best score, two more stop.
    assert stopper.n_iter_ == 3
    assert len(stopper.validation_scores_) == 3
    assert stopper.best_validation_score_ == stopper.validation_scores_[0]
    clf = EigenProClassifier(n_centers=80, epochs=4, early_stopping=True, random_state=0)
    # Still improving when the 4 epochs run out.
    with pytest.warns(ConvergenceWarning, match="epochs"):
        clf.fit(X, y > 0)
    assert 0.5 < clf.best_validation_score_ <= 1.0 and clf.n_iter_ == 4


@pytest.mark.parametrize("method", ["squeak", "kt"])
def test_center_selection_registry(rng, method):
    X, y = _regression(rng, 400)
    model = EigenProRegressor(centers=method, n_centers=64, epochs=3, random_state=0).fit(X, y)
    # Both samplers return about n_centers points (their own size rules).
    assert 32 <= model.n_centers_ <= 128 and model.centers_.shape == (model.n_centers_, 5)
    # Centers are rows of X.
    dist = dense_kernel("gaussian", model.centers_, X, 1e-3)
    assert np.all(dist.max(axis=1) > 0.999)
    assert model.score(X, y) > 0.5


def test_verbose_shows_progress_with_loss(rng, capsys):
    X, y = _regression(rng, 200)
    EigenProRegressor(n_centers=40, epochs=2, verbose=1, random_state=0).fit(X, y)
    err = capsys.readouterr().err
    assert "EigenPro" in err and "loss=" in err


# -- bad input ------------------------------------------------------------------------------
def test_bad_input_errors(rng):
    X, y = _regression(rng, 100)
    with pytest.raises(ValueError, match="NaN|infinity"):
        EigenProRegressor(n_centers=10).fit(X, np.where(np.arange(100) == 3, np.nan, y))
    with pytest.raises(ValueError, match="class"):
        EigenProClassifier(n_centers=10).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="centers"):
        EigenProRegressor(centers=np.ones((5, 4))).fit(X, y)
    with pytest.raises(ValueError, match="projection"):
        EigenProRegressor(projection="sometimes").fit(X, y)
    with pytest.raises(ValueError, match="n_centers"):
        EigenProRegressor(n_centers=0).fit(X, y)
    with pytest.raises(ValueError, match="kernel"):
        EigenProRegressor(kernel="polynomial").fit(X, y)
    labels = rng.integers(0, 3, size=100)
    with pytest.raises(ValueError, match="classes must be given"):
        EigenProClassifier(n_centers=10).partial_fit(X, labels)
    clf = EigenProClassifier(n_centers=10).partial_fit(X, labels, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"not in classes"):
        clf.partial_fit(X, np.full(100, 5))


def test_n_centers_larger_than_n_uses_every_point(rng):
    X, y = _regression(rng, 50)
    model = EigenProRegressor(n_centers=500, epochs=2, random_state=0).fit(X, y)
    assert model.n_centers_ == 50 and model.projection_interval_ == 0
    np.testing.assert_array_equal(model.centers_, X)


# -- divergence ------------------------------------------------------------------------------
def _r2(model, X, y):
    return 1 - np.mean((model.predict(X) - y) ** 2) / np.var(y)


@pytest.mark.parametrize(
    "params",
    [dict(step_scale=4, centers="all"), dict(step_scale=10), dict(step_scale=50)],
    ids=["all-4", "uniform-10", "uniform-50"],
)
def test_divergent_step_is_halved_and_loss_never_grows(rng, params):
    # Issue 11's cases: without the guard these ended with train R² of -3.8e4 and -2.35e5.
    X, y = _regression(rng, 60)
    model = EigenProRegressor(n_centers=30, epochs=5, random_state=0, **params)
    with pytest.warns(ConvergenceWarning, match="step_scale"):
        model.fit(X, y)
    zero_loss = np.mean(y**2)
    curve = np.asarray(model.loss_curve_)
    assert len(curve) == model.n_iter_ == 5
    assert np.all(np.isfinite(curve)) and curve[0] <= zero_loss
    assert np.all(np.diff(curve) <= 0), curve
    assert model.step_size_ < params["step_scale"] * model.batch_size_ / model.beta_
    # The returned model fits: its exact training loss is below that of the zero model.
    assert np.mean((model.predict(X) - y) ** 2) < zero_loss and _r2(model, X, y) > 0.3


def test_unrecoverable_divergence_raises_and_keeps_previous_model(rng):
    X, y = _regression(rng, 300)
    # A step 1e30 times too large overflows; ten halvings cannot bring it back.
    model = EigenProRegressor(n_centers=50, epochs=3, step_scale=1e30, random_state=0)
    with pytest.raises(FloatingPointError, match="step_scale"):
        model.fit(X, y)
    assert not hasattr(model, "dual_coef_") and not hasattr(model, "centers_")
    # A diverging refit keeps the previous, consistent model.
    good = EigenProRegressor(n_centers=50, epochs=2, random_state=0).fit(X, y)
    before = good.predict(X)
    with pytest.raises(FloatingPointError, match="step_scale"):
        good.set_params(step_scale=1e30, random_state=1).fit(X, y)
    np.testing.assert_array_equal(good.predict(X), before)


def test_raise_after_max_halvings(rng, monkeypatch):
    X, y = _regression(rng, 60)
    monkeypatch.setattr(_eigenpro_pass, "_MAX_HALVINGS", 0)
    with pytest.raises(FloatingPointError, match="step_scale=10"):
        EigenProRegressor(n_centers=30, epochs=5, step_scale=10, random_state=0).fit(X, y)


@pytest.mark.parametrize("rows", [None, 1], ids=["all-rows", "one-row"])
def test_partial_fit_on_zero_targets_fits(rng, rows):
    # Issue 11: the divergence limit used to scale with the batch's own targets, so a
    # second batch with y = 0 raised "EigenPro diverged".
    X, y = _regression(rng, 400)
    model = EigenProRegressor(n_centers=60, random_state=0).partial_fit(X[:300], y[:300])
    X2 = X[300:] if rows is None else X[300:301]
    before = np.mean(model.predict(X2) ** 2)
    model.partial_fit(X2, np.zeros(len(X2)))
    after = np.mean(model.predict(X2) ** 2)
    assert model.n_iter_ == 2 and np.all(np.isfinite(model.dual_coef_))
    assert after <= before * (1 + 1e-9)
    if rows is None:
        assert after < 0.5 * before


def test_plateau_noise_is_not_reported_as_divergence(rng):
    # Many epochs at a plateau: the loss curve stays monotone without warnings.
    X, y = _regression(rng, 600)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = EigenProRegressor(
            bandwidth=2.0, n_centers=200, epochs=12, batch_size=100, random_state=0
        ).fit(X, y)
    assert np.all(np.diff(model.loss_curve_) <= 0)


# -- sample weights ----------------------------------------------------------------------------
def test_unit_sample_weight_gives_identical_model(digits):
    X, y = digits
    X, y = X[:500], y[:500]
    params = dict(n_centers=100, epochs=2, random_state=0)
    plain = EigenProClassifier(**params).fit(X, y)
    ones = EigenProClassifier(**params).fit(X, y, sample_weight=np.ones(500))
    np.testing.assert_array_equal(ones.dual_coef_, plain.dual_coef_)


def test_integer_sample_weight_matches_repeated_rows(rng):
    X, y = _regression(rng, 300)
    X_test, y_test = _regression(rng, 300)
    weights = rng.integers(1, 4, size=300)
    Z = X[:40]  # the same centers for both fits
    params = dict(bandwidth=2.0, centers=Z, epochs=40, n_subsamples=300, random_state=0)
    weighted = EigenProRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = EigenProRegressor(**params).fit(np.repeat(X, weights, 0), np.repeat(y, weights))
    mse_w = np.mean((weighted.predict(X_test) - y_test) ** 2)
    mse_r = np.mean((repeated.predict(X_test) - y_test) ** 2)
    assert abs(mse_w - mse_r) <= 0.02 * mse_r
    # Both approach the weighted least-squares fit on the centers.
    Kxz = dense_kernel("laplacian", X, Z, 2.0)
    sw = np.sqrt(weights)
    coef = np.linalg.lstsq(Kxz * sw[:, None], y * sw, rcond=1e-10)[0]
    mse_ls = np.mean((dense_kernel("laplacian", X_test, Z, 2.0) @ coef - y_test) ** 2)
    assert mse_w <= 1.05 * mse_ls
    unweighted = EigenProRegressor(**params).fit(X, y)
    assert not np.allclose(unweighted.dual_coef_, weighted.dual_coef_, rtol=1e-3)


def test_bad_sample_weight(rng):
    X, y = _regression(rng, 50)
    model = EigenProRegressor(n_centers=10)
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, sample_weight=np.ones(49))
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, sample_weight=-np.ones(50))
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, sample_weight=np.zeros(50))


def test_projection_missing_its_tolerance_warns(rng, monkeypatch):
    from kernelkit.models import _eigenpro_base

    X, y = _regression(rng, 400)
    monkeypatch.setattr(_eigenpro_base, "_PROJECTION_TOL", 1e-12)
    with config_context(working_memory=0.1), pytest.warns(ConvergenceWarning, match="tolerance"):
        model = EigenProRegressor(n_centers=150, epochs=1, random_state=0).fit(X, y)
    assert model.projection_solver_ == "eigenpro"
