"""The shared iterative solvers: lockstep block CG and the top-eigenpair wrapper.

Block CG is checked column by column against SciPy's ``cg`` (same iterates,
same iteration counts); the eigen wrapper against LAPACK's dense ``eigh``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator, cg
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from kernelkit import config_context
from kernelkit.linalg._solvers import block_cg, top_eigenpairs


@pytest.fixture(autouse=True, scope="module")
def _serial_lapack():
    """Small dense factorisations: threaded BLAS only adds contention on a shared machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _spd(n, rng, cond=1e3):
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    w = np.geomspace(1.0, 1.0 / cond, n)
    return (Q * w) @ Q.T


def _scipy_columns(A, B, **kwargs):
    xs, infos, iters = [], [], []
    for j in range(B.shape[1]):
        count = [0]

        def cb(_, count=count):
            count[0] += 1

        x, info = cg(A, B[:, j], callback=cb, **kwargs)
        xs.append(x)
        infos.append(info)
        iters.append(count[0])
    return np.column_stack(xs), np.array(infos), np.array(iters)


@pytest.mark.parametrize("precondition", [False, True])
def test_block_cg_matches_scipy_cg_column_by_column(rng, precondition):
    n, k = 200, 5
    A = _spd(n, rng, cond=30)  # well conditioned: CG stays far from its rounding floor
    B = rng.normal(size=(n, k))
    B[:, 3] *= 1e-3  # columns converge at different iterations
    M = np.diag(1.0 / np.diag(A)) if precondition else None
    X, info, n_iter = block_cg(A, B, M=M, rtol=1e-10)
    X_ref, info_ref, it_ref = _scipy_columns(A, B, M=M, rtol=1e-10)
    # Blocked products sum in another order: agreement to rounding, relative to the scale.
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-10 * np.abs(X_ref).max())
    np.testing.assert_array_equal(info, info_ref)
    # Iteration counts agree up to one step where a residual lands on the tolerance.
    assert np.abs(n_iter - it_ref).max() <= 1
    np.testing.assert_allclose(A @ X, B, atol=1e-8)


def test_block_cg_counts_one_product_per_iteration_for_all_columns(rng):
    n, k = 60, 4
    A = _spd(n, rng, cond=50)
    calls = []

    def matmat(V):
        calls.append(V.shape[1])
        return A @ V

    op = LinearOperator((n, n), matvec=lambda v: A @ v, matmat=matmat, dtype=np.float64)
    X, info, n_iter = block_cg(op, rng.normal(size=(n, k)), rtol=1e-8)
    assert not info.any()
    assert len(calls) == n_iter.max()
    assert calls[0] == k and all(c <= k for c in calls)


def test_block_cg_maxiter_and_x0_match_scipy(rng):
    n = 50
    A = _spd(n, rng, cond=1e4)
    B = rng.normal(size=(n, 2))
    x0 = rng.normal(size=(n, 2))
    X, info, n_iter = block_cg(A, B, x0=x0, maxiter=7, rtol=1e-12)
    for j in range(2):
        x_ref, info_ref = cg(A, B[:, j], x0=x0[:, j], maxiter=7, rtol=1e-12)
        np.testing.assert_allclose(X[:, j], x_ref, rtol=1e-10)
        assert info[j] == info_ref == 7
    assert n_iter.tolist() == [7, 7]


def test_block_cg_vector_zero_rhs_sparse_and_float32(rng):
    n = 40
    A = sp.csr_matrix(_spd(n, rng, cond=10))
    b = rng.normal(size=n)
    x, info, _ = block_cg(A, b, rtol=1e-10)
    assert x.shape == (n,) and info.tolist() == [0]
    np.testing.assert_allclose(A @ x, b, atol=1e-8)
    X, info, n_iter = block_cg(A, np.zeros((n, 2)))
    assert not X.any() and info.tolist() == [0, 0] and n_iter.tolist() == [0, 0]
    A32 = A.astype(np.float32)
    X32, info, _ = block_cg(A32, rng.normal(size=(n, 2)).astype(np.float32), rtol=1e-4)
    assert X32.dtype == np.float32 and not info.any()


def test_block_cg_rejects_shape_mismatch(rng):
    with pytest.raises(ValueError, match="B has 3 rows"):
        block_cg(np.eye(4), np.ones((3, 1)))


@pytest.mark.parametrize("method", ["dense", "arpack", "lobpcg", "auto"])
def test_top_eigenpairs_match_dense_eigh(rng, method):
    n, k = 120, 4
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    w = np.concatenate([[10.0, 8.0, 6.0, 4.0], np.geomspace(1.0, 1e-3, n - 4)])
    A = (Q * w) @ Q.T
    vals, vecs, _ = top_eigenpairs(
        aslinearoperator(A), k, method=method, tol=1e-12, maxiter=2000, random_state=0
    )
    np.testing.assert_allclose(vals, w[:k], rtol=1e-9)
    for j in range(k):  # eigenvectors up to sign
        assert abs(abs(vecs[:, j] @ Q[:, j]) - 1) < 1e-8
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(k), atol=1e-8)


def test_top_eigenpairs_dense_respects_working_memory(rng):
    A = aslinearoperator(np.eye(300))
    with config_context(working_memory=0.1), pytest.raises(MemoryError, match="eigen_solver"):
        top_eigenpairs(A, 1, method="dense")


def test_top_eigenpairs_warns_when_lobpcg_stops_early(rng):
    n = 200
    A = np.diag(np.linspace(1.0, 1.01, n))  # no gap: LOBPCG cannot converge in 2 steps
    with pytest.warns(ConvergenceWarning, match="lobpcg"):
        top_eigenpairs(A, 3, method="lobpcg", tol=1e-14, maxiter=2, random_state=0)


def test_top_eigenpairs_bad_arguments():
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(np.eye(3), 4)
    with pytest.raises(ValueError, match="method"):
        top_eigenpairs(np.eye(3), 1, method="power")
