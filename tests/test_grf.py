"""Graph random features: modulation algebra, dense oracles, unbiasedness and engines.

References are independent of the estimator: the kernels' series are checked
against closed forms and Taylor expansions, ``exact_graph_kernel`` against the
eigendecomposition of ``B``, and the walk estimates against ``exact_graph_kernel``.
"""

import math
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from joblib import parallel_config
from scipy.special import ellipk

from kernelkit import GraphRandomFeatures, config_context, exact_graph_kernel
from kernelkit.graph._exact import walk_matrix
from kernelkit.graph._modulation import (
    KERNELS,
    choose_p_halt,
    closed_form_modulation,
    coefficients,
    deconvolve,
    modulation,
    polynomial_radius,
    radius,
    resolve_parameters,
    variance_factor,
)

# Zachary's karate club, 1-based (34 nodes, 78 edges).
KARATE = {
    1: [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 18, 20, 22, 32],
    2: [3, 4, 8, 14, 18, 20, 22, 31],
    3: [4, 8, 9, 10, 14, 28, 29, 33],
    4: [8, 13, 14],
    5: [7, 11],
    6: [7, 11, 17],
    7: [17],
    9: [31, 33, 34],
    10: [34],
    14: [34],
    15: [33, 34],
    16: [33, 34],
    19: [33, 34],
    20: [34],
    21: [33, 34],
    23: [33, 34],
    24: [26, 28, 30, 33, 34],
    25: [26, 28, 32],
    26: [32],
    27: [30, 34],
    28: [34],
    29: [32, 34],
    30: [33, 34],
    31: [33, 34],
    32: [33, 34],
    33: [34],
}
KERNEL_PARAMS = [
    ("diffusion", 1.0, None),
    ("diffusion", 3.0, None),
    ("regularized_laplacian", 1.0, 1.0),
    ("regularized_laplacian", 4.0, 2.0),
    ("regularized_laplacian", 0.5, 1.5),
    ("p_step", 0.5, 2),
    ("p_step", 0.5, 3),
    ("cosine", math.pi / 8, None),
]


def karate():
    rows = [i - 1 for i, js in KARATE.items() for _ in js]
    cols = [j - 1 for js in KARATE.values() for j in js]
    A = sp.coo_array((np.ones(len(rows)), (rows, cols)), shape=(34, 34)).toarray()
    return A + A.T


def erdos_renyi(n, p, seed):
    rng = np.random.default_rng(seed)
    A = np.triu(rng.random((n, n)) < p, 1).astype(float)
    return A + A.T


def weighted_graph():
    """Weighted, self-loops, two components (0-5 and 6-9) and an isolated node (10)."""
    rng = np.random.default_rng(3)
    A = np.zeros((11, 11))
    for block in (range(0, 6), range(6, 10)):
        idx = np.array(block)
        W = np.triu(
            rng.uniform(0.2, 3.0, (idx.size, idx.size)) * (rng.random((idx.size,) * 2) < 0.7)
        )
        W[np.arange(idx.size - 1), np.arange(1, idx.size)] = rng.uniform(0.5, 2, idx.size - 1)
        A[np.ix_(idx, idx)] = W + np.triu(W, 1).T
    return A


def rel_error(K_hat, K):
    return np.linalg.norm(K_hat - K) / np.linalg.norm(K)


def spectral_kernel(A, name, beta, power):
    """The kernel through the eigendecomposition of the (symmetric) normalised adjacency."""
    lam, V = np.linalg.eigh(walk_matrix(sp.csr_array(A), "symmetric").toarray())
    g = {
        "diffusion": lambda x: np.exp(-beta * (1 - x)),
        "regularized_laplacian": lambda x: (1 + beta * (1 - x)) ** -power,
        "p_step": lambda x: (1 + beta * x) ** power,
        "cosine": lambda x: np.cos(beta * (1 - x)),
    }[name]
    return (V * g(lam)) @ V.T


# ----------------------------------------------------------------------------- modulation
@pytest.mark.parametrize(("name", "beta", "power"), KERNEL_PARAMS)
def test_modulation_squares_to_the_coefficients(name, beta, power):
    alpha, f = modulation(name, beta, power)
    assert f.size >= 64 and alpha.size == f.size
    conv = np.convolve(f, f)[: f.size]
    np.testing.assert_allclose(conv, alpha, rtol=0, atol=1e-12 * np.abs(alpha).max())


@pytest.mark.parametrize(("name", "beta", "power"), [p for p in KERNEL_PARAMS if p[0] != "cosine"])
def test_recursion_recovers_the_closed_forms(name, beta, power):
    alpha = coefficients(name, beta, power, 80)
    closed = closed_form_modulation(name, beta, power, 80)
    np.testing.assert_allclose(deconvolve(alpha, 80), closed, rtol=0, atol=1e-12 * alpha.max())


@pytest.mark.parametrize(("name", "beta", "power"), KERNEL_PARAMS)
def test_coefficients_are_the_taylor_series(name, beta, power):
    x = 0.37
    series = np.polynomial.polynomial.polyval(x, coefficients(name, beta, power, 200))
    L = 1 - x
    exact = {
        "diffusion": math.exp(-beta * L),
        "regularized_laplacian": (1 + beta * L) ** -(power or 1),
        "p_step": (1 + beta * x) ** (power or 1),
        "cosine": math.cos(beta * L),
    }[name]
    assert series == pytest.approx(exact, rel=1e-13)


def test_user_coefficients_and_radii():
    # (1 + x/2)^2 has a double root: its square root is a polynomial (infinite radius).
    alpha = np.array([1.0, 1.0, 0.25])
    a, f = modulation(None, None, None, alpha)
    np.testing.assert_allclose(f[:3], [1.0, 0.5, 0.0], atol=1e-15)
    np.testing.assert_allclose(np.convolve(f, f)[: a.size], a, atol=1e-12)
    assert polynomial_radius(alpha) == math.inf
    assert polynomial_radius([1.0, -0.5]) == pytest.approx(2.0)
    assert polynomial_radius([2.0, 0.0, -0.5]) == pytest.approx(2.0)
    assert radius("cosine", math.pi / 4, None) == pytest.approx(1.0)
    assert radius("regularized_laplacian", 4.0, 1.0) == pytest.approx(1.25)
    assert radius("p_step", 0.5, 3) == 2.0 and radius("p_step", 0.5, 2) == math.inf


def test_auto_p_halt_minimises_variance_times_work():
    _, f = modulation("regularized_laplacian", 4.0, 1.0)
    p = choose_p_halt(f, 1.25, 1.0)
    grid = np.linspace(0.01, 0.35, 400)
    cost = [variance_factor(f, 1 / (1 - q)) ** 2 / q for q in grid]
    assert variance_factor(f, 1 / (1 - p)) ** 2 / p <= min(cost) * (1 + 1e-3)
    # d=1: f(k)^2 = (C(2k,k)/4^k)^2 r^2k / (1+beta), and sum_k (C(2k,k)/4^k)^2 m^k = 2K(m)/pi.
    m = 0.8**2 / (1 - 0.2)
    V = variance_factor(f, 1 / (1 - 0.2))
    assert V == pytest.approx(2 * ellipk(m) / math.pi / 5, rel=1e-10)


# ----------------------------------------------------------------------------- exact oracle
@pytest.mark.parametrize(("name", "beta", "power"), KERNEL_PARAMS)
def test_exact_kernel_matches_the_spectral_formula(name, beta, power):
    A = weighted_graph()
    K = exact_graph_kernel(A, name, beta=beta, power=power)
    np.testing.assert_allclose(K, spectral_kernel(A, name, beta, power), rtol=0, atol=1e-10)


def test_exact_kernel_of_coefficients_and_of_a_directed_graph():
    A = karate()
    alpha = coefficients("diffusion", 2.0, None, 40)
    np.testing.assert_allclose(
        exact_graph_kernel(sp.csr_array(A), alpha), exact_graph_kernel(A, beta=2.0), atol=1e-10
    )
    W = np.triu(erdos_renyi(30, 0.2, 1)) * 0.2  # a DAG
    K = exact_graph_kernel(W, "p_step", beta=0.5, power=3, normalize=None)
    M = np.eye(30) + 0.5 * W
    np.testing.assert_allclose(K, M @ M @ M, atol=1e-12)


# ----------------------------------------------------------------------------- estimates
@pytest.mark.parametrize(
    ("graph", "kernel", "beta"),
    [
        (karate, "diffusion", 1.0),
        (lambda: erdos_renyi(100, 0.08, 0), "regularized_laplacian", 1.0),
        (weighted_graph, "diffusion", 2.0),
    ],
)
def test_error_falls_with_walks(graph, kernel, beta):
    A = graph()
    K = exact_graph_kernel(A, kernel, beta=beta)
    errors = [
        rel_error(
            GraphRandomFeatures(kernel, beta=beta, n_walks=m, random_state=5)
            .fit(A)
            .kernel_estimate(),
            K,
        )  # fmt: skip
        for m in (16, 256)
    ]
    assert errors[0] >= 3 * errors[1], errors
    assert errors[1] < 0.1


def test_components_and_isolated_nodes():
    A = weighted_graph()
    assert np.diag(A).any() and not A[10].any()  # self-loops, and node 10 is isolated
    grf = GraphRandomFeatures(beta=2.0, n_walks=8, random_state=0).fit(A)
    K_hat = grf.kernel_estimate()
    assert np.all(K_hat[:6, 6:] == 0) and np.all(K_hat[6:, :6] == 0)
    assert K_hat[10, 10] == pytest.approx(grf.coefficients_[0], rel=1e-15)
    assert K_hat[10, 10] == pytest.approx(math.exp(-2.0), rel=1e-15)
    assert grf.features_[[10]].nnz == 1


def test_mean_over_seeds_is_the_kernel():
    A = weighted_graph()
    K = exact_graph_kernel(A, "regularized_laplacian", beta=2.0)
    estimates = [
        GraphRandomFeatures("regularized_laplacian", beta=2.0, n_walks=4, random_state=s)
        .fit(A)
        .kernel_estimate()
        for s in range(200)
    ]
    single = np.mean([rel_error(E, K) for E in estimates])
    mean = np.mean(estimates, axis=0)
    off = ~np.eye(11, dtype=bool)
    # Independent walk sets: unbiased off the diagonal *and* on it.
    assert rel_error(mean, K) < 0.25 * single
    assert np.abs(mean - K)[off].max() < 0.25 * np.abs(K)[off].max()
    np.testing.assert_allclose(np.diag(mean), np.diag(K), rtol=0.1)


def test_uniform_sampling_is_unbiased_too():
    A = weighted_graph()
    K = exact_graph_kernel(A, beta=2.0)
    grf = GraphRandomFeatures(beta=2.0, n_walks=4000, sampling="uniform", random_state=1)
    assert rel_error(grf.fit(A).kernel_estimate(), K) < 0.05


def test_directed_graph():
    rng = np.random.default_rng(2)
    W = (rng.random((25, 25)) < 0.15) * rng.uniform(0.05, 0.25, (25, 25))
    alpha = coefficients("diffusion", 1.0, None, 30)
    K = exact_graph_kernel(W, alpha, normalize=None)
    assert rel_error(K, K.T) > 0.05
    grf = GraphRandomFeatures(alpha, normalize=None, n_walks=3000, random_state=0).fit(W)
    K_hat = grf.kernel_estimate()
    assert rel_error(K_hat, K) < 0.03
    assert rel_error(K_hat, K.T) > 2 * rel_error(K_hat, K)


def test_kernel_operator_products():
    A = karate()
    grf = GraphRandomFeatures(n_walks=256, random_state=0).fit(A)
    v = np.random.default_rng(0).normal(size=(34, 3))
    K_hat = grf.kernel_estimate()
    np.testing.assert_allclose(grf.kernel_operator() @ v, K_hat @ v, atol=1e-12)
    np.testing.assert_allclose(
        grf.kernel_operator().rmatvec(v[:, 0]), K_hat.T @ v[:, 0], atol=1e-12
    )
    K_sym = grf.kernel_estimate(symmetric=True)
    np.testing.assert_allclose(K_sym, K_sym.T, atol=1e-15)
    np.testing.assert_allclose(grf.kernel_operator(symmetric=True) @ v, K_sym @ v, atol=1e-12)
    np.testing.assert_allclose(grf.kernel_estimate([3, 5], slice(10, 20)), K_hat[[3, 5], 10:20])
    K = exact_graph_kernel(A)
    assert rel_error(grf.kernel_operator() @ v, K @ v) < 0.1


def _same(a, b):
    return (
        np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def test_same_features_on_every_engine_thread_count_and_n_jobs():
    A = sp.csr_array(
        erdos_renyi(150, 0.05, 4) * np.random.default_rng(0).uniform(1, 2, (150, 150))
    )
    A = (A + A.T).tocsr()
    runs = []
    for engine, threads, n_jobs in [("numpy", None, None), ("cpu", 1, None), ("cpu", 2, 3)]:
        with config_context(engine=engine, n_threads=threads), parallel_config("threading"):
            grf = GraphRandomFeatures("cosine", n_walks=5, random_state=9, n_jobs=n_jobs).fit(A)
        runs.append((grf.features_, grf.features_right_))
    for other in runs[1:]:
        assert _same(runs[0][0], other[0]) and _same(runs[0][1], other[1])
    assert not _same(runs[0][0], runs[0][1])


SIM_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from numba import cuda
    from kernelkit import GraphRandomFeatures, config_context
    assert cuda.is_available(), "simulator not active"
    rng = np.random.default_rng(0)
    A = rng.uniform(0.5, 2, (14, 14)) * (rng.random((14, 14)) < 0.3)
    A = np.triu(A, 1); A = A + A.T
    W = rng.uniform(0.1, 0.3, (9, 9)) * (rng.random((9, 9)) < 0.4)
    for X, kw in [(A, {}), (W, {"normalize": None, "sampling": "uniform", "p_halt": 0.4})]:
        fits = {}
        for engine in ("numpy", "cuda"):
            with config_context(engine=engine):
                fits[engine] = GraphRandomFeatures(n_walks=3, random_state=2, **kw).fit(X)
        for name in ("features_", "features_right_"):
            a, b = getattr(fits["numpy"], name), getattr(fits["cuda"], name)
            assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
            assert np.array_equal(a.data, b.data)
    print("CUDASIM OK")
    """
)


@pytest.mark.cudasim
def test_cuda_walker_under_simulator_is_bit_identical():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-c", SIM_SCRIPT], env=env, cwd=root, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CUDASIM OK" in proc.stdout


def test_pickle_dtype_and_sparse_input_left_alone():
    A = karate()
    rows, cols = np.nonzero(A)
    # Duplicated entries (halves that must be summed), an explicit zero, COO input.
    coo = sp.coo_array(
        (np.r_[np.full(rows.size, 0.5), np.full(rows.size, 0.5), 0.0],
         (np.r_[rows, rows, 0], np.r_[cols, cols, 0])), shape=(34, 34))  # fmt: skip
    before = (coo.data.copy(), coo.row.copy(), coo.col.copy())
    dense = A.copy()
    grf = GraphRandomFeatures(n_walks=8, random_state=3, dtype=np.float32)
    sparse_fit = grf.fit(coo)
    assert all(
        np.array_equal(a, b) for a, b in zip(before, (coo.data, coo.row, coo.col), strict=True)
    )
    ref = GraphRandomFeatures(n_walks=8, random_state=3, dtype=np.float32).fit(dense)
    assert np.array_equal(dense, A)
    assert _same(sparse_fit.features_, ref.features_)
    assert ref.features_.dtype == np.float32 and ref.features_right_.dtype == np.float32
    again = pickle.loads(pickle.dumps(ref))
    np.testing.assert_array_equal(again.kernel_estimate(), ref.kernel_estimate())
    assert _same(GraphRandomFeatures(n_walks=8, random_state=3).fit_transform(A),
                 GraphRandomFeatures(n_walks=8, random_state=3).fit(A).features_)  # fmt: skip


def test_infinite_variance_warnings():
    A = karate()
    with pytest.warns(UserWarning, match="infinite variance"):
        GraphRandomFeatures("cosine", beta=math.pi / 4, n_walks=2, random_state=0).fit(A)
    with pytest.warns(UserWarning, match="infinite variance"):
        GraphRandomFeatures("regularized_laplacian", beta=4.0, p_halt=0.5, n_walks=2).fit(A)
    grf = GraphRandomFeatures("regularized_laplacian", beta=4.0, n_walks=2, random_state=0).fit(A)
    assert 0.01 <= grf.p_halt_ < 1 - 1 / 1.25**2


@pytest.mark.parametrize(
    ("A", "params", "match"),
    [
        (np.ones((3, 4)), {}, "square"),
        (np.ones(4), {}, "2D"),
        (np.zeros((0, 0)), {}, "0 sample"),
        (np.array([[0, np.nan], [np.nan, 0]]), {}, "NaN"),
        (sp.csr_array(np.array([[0, np.inf], [1, 0]])), {}, "infinity"),
        (np.array([[0, -1.0], [-1.0, 0]]), {}, "Negative values"),
        (np.array([[0, 1.0], [2.0, 0]]), {}, "symmetric"),
        (karate(), {"n_walks": 0}, "n_walks"),
        (karate(), {"p_halt": 1.0}, "p_halt"),
        (karate(), {"p_halt": 0.0}, "p_halt"),
        (karate(), {"kernel": [0.0, 1.0]}, "alpha_0 > 0"),
        (karate(), {"kernel": [1.0, np.nan]}, "finite"),
        (karate(), {"kernel": "p_step", "beta": 2.0}, "beta <= 1"),
        (karate(), {"kernel": "p_step", "power": 1.5}, "integer power"),
        (karate(), {"kernel": "cosine", "beta": 1.0}, "pi/4"),
        (karate(), {"kernel": "diffusion", "power": 2}, "power"),
        (karate(), {"dtype": np.int64}, "dtype"),
    ],
)
def test_bad_inputs(A, params, match):
    with pytest.raises(ValueError, match=match):
        GraphRandomFeatures(**params).fit(A)


def test_resolve_defaults_and_names():
    assert resolve_parameters("p_step", None, None) == (0.5, 2)
    assert set(KERNELS) == {"diffusion", "regularized_laplacian", "p_step", "cosine"}
    with pytest.raises(ValueError, match="symmetric"):
        exact_graph_kernel(np.array([[0, 1.0], [0, 0]]))
