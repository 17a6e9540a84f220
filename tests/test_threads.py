"""Concurrent kernel products leave the process's BLAS thread count as they found it."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from kernelkit import KernelOperator, config_context
from kernelkit._backend import cpu
from tests.conftest import dense_kernel


def _blas_threads():
    return [m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas"]


def test_concurrent_products_restore_blas_threads():
    if not _blas_threads():
        pytest.skip("no BLAS library visible to threadpoolctl")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 3))
    v = rng.normal(size=1500)
    K = KernelOperator("gaussian", X, bandwidth=1.0)
    want = dense_kernel("gaussian", X, X, 1.0) @ v
    errors = []

    def worker():
        try:
            # Two pool threads per product and many row blocks: every call enters the scope.
            with config_context(n_threads=2):
                for _ in range(20):
                    np.testing.assert_allclose(K @ v, want, rtol=1e-10)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    original = _blas_threads()
    if max(original) < 2:
        pytest.skip("BLAS runs one thread here: a lost restore would not show")
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = _blas_threads()
    assert not errors, errors
    assert after == original
    assert cpu._BLAS_SCOPE["depth"] == 0


def test_scope_nests_and_limits_inside():
    original = _blas_threads()
    if not original or max(original) < 2:
        pytest.skip("BLAS runs one thread here")
    with cpu.single_threaded_blas():
        with cpu.single_threaded_blas():
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == original
