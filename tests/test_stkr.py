"""STKR against a dense eigendecomposition oracle, KernelRidge, and its own identities.

The oracle (numpy ``eigh`` of G/N = UΛUᵀ on N = 300 points) gives
K̂_s = N·U s(Λ) Uᵀ at the fitted points and K̂_s(x, X_fit) = v(x) U diag(s(λ)/λ) Uᵀ
for new points; predictions are K̂_s(·, Xₙ)(K̂_s(Xₙ, Xₙ) + nβI)⁻¹y.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_circles, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from threadpoolctl import threadpool_limits

from kernelkit import STKRClassifier, STKRRegressor, config_context
from tests.conftest import dense_kernel

N_FIT, N_LAB, BW, BETA, ETA = 300, 40, 0.6, 1e-2, 0.9


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # LAPACK on 300×300 matrices gains nothing from threads, and on a shared two-core machine
    # spinning BLAS threads make each eigh a thousand times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _base(X_fit, X_new, normalize):
    G = dense_kernel("gaussian", X_fit, X_fit, BW)
    V = dense_kernel("gaussian", X_new, X_fit, BW)
    if normalize:
        d, d_new = G.mean(axis=1), V.mean(axis=1)
        G = G / np.sqrt(np.outer(d, d))
        V = V / np.sqrt(np.outer(d_new, d))
    return G, V


def _spectral_gap(lam, lo=3, hi=20):
    ratios = lam[lo - 1 : hi] / lam[lo : hi + 1]
    return lo + int(np.argmax(ratios))


def oracle(X_fit, X_new, labeled, Y, transform, normalize, *, coefs=None, d=None):
    G, V = _base(X_fit, X_new, normalize)
    N = G.shape[0]
    lam, U = np.linalg.eigh(G / N)
    lam, U = lam[::-1], U[:, ::-1]
    if transform == "polynomial":
        s_over = sum(c * lam**p for p, c in enumerate(coefs))
    elif transform == "inverse_laplacian":
        s_over = 1 / (1 - ETA / lam[0] * lam)
    else:
        s_over = np.zeros_like(lam)
        s_over[:d] = 1 / lam[:d]
    K_fit = N * (U * (s_over * lam)) @ U.T
    K_new = (V @ U * s_over) @ U.T
    A = K_fit[np.ix_(labeled, labeled)] + len(labeled) * BETA * np.eye(len(labeled))
    alpha = np.linalg.solve(A, Y)
    return K_fit[:, labeled] @ alpha, K_new[:, labeled] @ alpha, lam


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(N_FIT // 2, 2)), rng.normal(size=(N_FIT // 2, 2)) + 3])
    X_new = rng.normal(size=(50, 2)) * 2 + 1.5
    y = np.sin(X[:, 0]) + (X[:, 1] > 1.5)
    labeled = np.sort(rng.choice(N_FIT, N_LAB, replace=False))
    return X, X_new, y, labeled


def _semi(y, labeled):
    out = np.full(y.shape, np.nan)
    out[labeled] = y[labeled]
    return out


@pytest.mark.parametrize("eigen_solver", ["auto", "dense", "arpack", "lobpcg"])
@pytest.mark.parametrize("solver", ["direct", "cg"])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("transform", ["inverse_laplacian", "polynomial", "kpca"])
def test_dense_oracle(data, transform, normalize, solver, eigen_solver):
    X, X_new, y, labeled = data
    coefs = (0.5, 1.0, 2.0)
    d = None
    if transform == "kpca":
        _, _, lam = oracle(X, X_new, labeled, y[labeled], "polynomial", normalize, coefs=coefs)
        d = _spectral_gap(lam)
    f_fit, f_new, _ = oracle(X, X_new, labeled, y[labeled], transform, normalize, coefs=coefs, d=d)
    model = STKRRegressor(
        bandwidth=BW,
        transformation=transform,
        eta=ETA,
        coefs=coefs,
        n_components=d or 100,
        normalize=normalize,
        regularization=BETA,
        solver=solver,
        eigen_solver=eigen_solver,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
    ).fit(X, _semi(y, labeled))
    np.testing.assert_allclose(model.transduction_, f_fit, atol=1e-8)
    np.testing.assert_allclose(model.predict(X_new), f_new, atol=1e-8)
    np.testing.assert_allclose(model.predict(X), f_fit, atol=1e-8)
    assert model.solver_ == ("direct" if transform == "kpca" else solver)
    if transform == "inverse_laplacian":
        lam1 = 1.0 if normalize else np.linalg.eigvalsh(_base(X, X, False)[0] / N_FIT)[-1]
        assert model.top_eigenvalue_ == pytest.approx(lam1, rel=1e-10)
        assert model.eta_ == pytest.approx(ETA / lam1, rel=1e-10)


@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_kernel_ridge_limit(data, solver):
    X, X_new, y, labeled = data
    krr = KernelRidge(alpha=N_LAB * BETA, kernel="rbf", gamma=1 / (2 * BW**2))
    krr.fit(X[labeled], y[labeled])
    params = dict(
        bandwidth=BW,
        transformation="polynomial",
        coefs=(1.0,),
        normalize=False,
        regularization=BETA,
        solver=solver,
        tol=1e-14,
    )
    only = STKRRegressor(**params).fit(X[labeled], y[labeled])
    semi = STKRRegressor(**params).fit(X, _semi(y, labeled))
    for model in (only, semi):
        np.testing.assert_allclose(model.predict(X_new), krr.predict(X_new), atol=1e-10)
    np.testing.assert_allclose(semi.transduction_, krr.predict(X), atol=1e-10)


@pytest.mark.parametrize("transform", ["inverse_laplacian", "polynomial", "kpca"])
def test_unlabeled_rows_two_ways_and_any_order(data, transform):
    X, X_new, y, labeled = data
    params = dict(
        bandwidth=BW, transformation=transform, n_components=5, tol=1e-12, random_state=0
    )
    a = STKRRegressor(**params).fit(X, _semi(y, labeled))
    unl = np.setdiff1d(np.arange(N_FIT), labeled)
    b = STKRRegressor(**params).fit(X[labeled], y[labeled], X_unlabeled=X[unl])
    perm = np.random.default_rng(3).permutation(N_FIT)
    c = STKRRegressor(**params).fit(X[perm], _semi(y, labeled)[perm])
    ref = a.predict(X_new)
    for other in (b, c):
        np.testing.assert_allclose(other.predict(X_new), ref, atol=1e-8)
    np.testing.assert_allclose(b.transduction_[N_LAB:], a.transduction_[unl], atol=1e-8)
    np.testing.assert_allclose(c.transduction_, a.transduction_[perm], atol=1e-8)
    np.testing.assert_allclose(a.predict(X), a.transduction_, atol=1e-8)


def test_kpca_eigenfunctions_are_orthonormal(data):
    X, _, y, labeled = data
    model = STKRRegressor(bandwidth=BW, transformation="kpca", n_components=6).fit(
        X, _semi(y, labeled)
    )
    G, _ = _base(X, X, True)
    lam = model.eigenvalues_
    psi = G @ model._eigenvectors / (np.sqrt(N_FIT) * lam)
    np.testing.assert_allclose(psi.T @ psi / N_FIT, np.eye(6), atol=1e-10)
    assert model.n_components_ == 6 and lam[0] == pytest.approx(1.0)


def _two_class_problem(make, seed):
    X, y = make(n_samples=500, noise=0.05, random_state=seed)
    X_test, y_test = make(n_samples=500, noise=0.05, random_state=seed + 1)
    y_train = np.full_like(y, -1)
    picked = np.concatenate([np.flatnonzero(y == c)[:3] for c in (0, 1)])
    y_train[picked] = y[picked]
    return X, y_train, picked, X_test, y_test


@pytest.mark.parametrize(
    "make",
    [lambda **kw: make_circles(factor=0.5, **kw), make_moons],
    ids=["circles", "moons"],
)
def test_unlabeled_data_must_help(make):
    X, y_train, picked, X_test, y_test = _two_class_problem(make, 0)
    stkr = STKRClassifier(bandwidth=0.1).fit(X, y_train)
    accuracy = stkr.score(X_test, y_test)
    best_krr = 0.0
    signs = np.where(y_train[picked] == 1, 1.0, -1.0)
    for gamma in (0.1, 1.0, 10.0, 100.0):
        for alpha in (1e-3, 1e-1, 10.0):
            krr = KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma).fit(X[picked], signs)
            best_krr = max(best_krr, np.mean((krr.predict(X_test) > 0) == (y_test == 1)))
    assert accuracy >= 0.95
    assert best_krr < accuracy - 0.05


def test_classifier_multiclass_and_labels(data):
    X, X_new, y, labeled = data
    labels = np.array(["a", "b", "c"])[np.digitize(y, [0.0, 1.0])]
    clf = STKRClassifier(bandwidth=BW).fit(X[labeled], labels[labeled], X_unlabeled=X)
    assert list(clf.classes_) == ["a", "b", "c"]
    scores = clf.decision_function(X_new)
    assert scores.shape == (50, 3)
    np.testing.assert_array_equal(clf.predict(X_new), clf.classes_[scores.argmax(1)])
    assert clf.transduction_.shape == (N_LAB + N_FIT,)
    assert clf.score(X[labeled], labels[labeled]) > 0.9


def test_precomputed_dense_and_sparse_equal_the_kernel(data):
    X, X_new, y, labeled = data
    ys = _semi(y, labeled)
    ref = STKRRegressor(bandwidth=BW, tol=1e-12).fit(X, ys)
    K = dense_kernel("gaussian", X, X, BW)
    K_new = dense_kernel("gaussian", X_new, X, BW)
    for matrix in (K, sp.csr_matrix(K)):
        model = STKRRegressor(kernel="precomputed", tol=1e-12).fit(matrix, ys)
        np.testing.assert_allclose(model.predict(K_new), ref.predict(X_new), atol=1e-8)
    assert model.solver_ == "direct"
    with config_context(working_memory=0.05):  # the 300×40 block no longer fits
        assert STKRRegressor(kernel="precomputed").fit(K, ys).solver_ == "cg"


def test_multi_output_float32_and_inputs_unmodified(data):
    X, X_new, y, labeled = data
    Y = np.column_stack([_semi(y, labeled), _semi(-2 * y, labeled)])
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    before = (X32.copy(), Y32.copy())
    model = STKRRegressor(bandwidth=BW).fit(X32, Y32)
    np.testing.assert_array_equal(X32, before[0])
    np.testing.assert_array_equal(Y32, before[1])
    out = model.predict(X_new.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (50, 2)
    assert model.dual_coef_.dtype == np.float32 and model.transduction_.dtype == np.float32
    np.testing.assert_allclose(out[:, 1], -2 * out[:, 0], rtol=1e-4, atol=1e-5)
    ref = STKRRegressor(bandwidth=BW).fit(X, Y[:, 0]).predict(X_new)
    np.testing.assert_allclose(out[:, 0], ref, atol=1e-3)


def test_clone_pickle_and_convergence_warning(data):
    X, X_new, y, labeled = data
    model = STKRRegressor(bandwidth=BW, solver="cg", verbose=1).fit(X, _semi(y, labeled))
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X_new), model.predict(X_new))
    assert clone(model).get_params() == model.get_params()
    with pytest.warns(ConvergenceWarning, match="conjugate gradients"):
        STKRRegressor(bandwidth=BW, max_iter=2, tol=1e-12).fit(X, _semi(y, labeled))


def _bad(X, y, labeled):
    ys = _semi(y, labeled)
    X_nan, X_inf = X.copy(), X.copy()
    X_nan[0, 0], X_inf[1, 1] = np.nan, np.inf
    y_inf, y_2 = ys.copy(), np.column_stack([ys, ys])
    y_inf[labeled[0]] = np.inf
    y_2[labeled[0], 1] = np.nan
    return [
        ({}, X, np.full(len(X), np.nan), {}, "labeled"),
        ({}, X_nan, ys, {}, "X"),
        ({}, X_inf, ys, {}, "X"),
        ({}, X, y_inf, {}, "y"),
        ({}, X, y_2, {}, "y"),
        ({}, X, ys, {"X_unlabeled": X[:, :1]}, "X_unlabeled"),
        ({"eta": 1.0}, X, ys, {}, "eta"),
        ({"eta": 0.0}, X, ys, {}, "eta"),
        ({"transformation": "polynomial", "coefs": (1.0, -0.5)}, X, ys, {}, "coefs"),
        ({"transformation": "kpca", "n_components": N_FIT + 1}, X, ys, {}, "n_components"),
        ({"kernel": "precomputed"}, X, ys, {}, "square"),
        ({"solver": "qr"}, X, ys, {}, "solver"),
    ]


def test_bad_input_names_the_argument(data):
    X, _, y, labeled = data
    for params, X_bad, y_bad, fit_kw, match in _bad(X, y, labeled):
        copies = (X_bad.copy(), y_bad.copy())
        with pytest.raises(ValueError, match=match):
            STKRRegressor(bandwidth=BW, **params).fit(X_bad, y_bad, **fit_kw)
        np.testing.assert_array_equal(X_bad, copies[0])
        np.testing.assert_array_equal(y_bad, copies[1])
    model = STKRRegressor(bandwidth=BW).fit(X, _semi(y, labeled))
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :1])
    with pytest.raises(ValueError, match="class"):
        STKRClassifier(bandwidth=BW).fit(X, np.where(np.arange(N_FIT) < 5, 1, -1))
    with pytest.raises(ValueError, match="labeled"):
        STKRClassifier(bandwidth=BW).fit(X, np.full(N_FIT, -1))
