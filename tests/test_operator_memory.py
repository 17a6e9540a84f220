"""KernelOperator products: memory bounded by the budget, bits independent of threads and cores,
and the engine error when the CUDA engine is asked for without a device."""

import gc
import os
import tracemalloc

import numpy as np
import pytest

from kernelkit import Gaussian, KernelOperator, Laplacian, config_context
from kernelkit._backend import cpu, numba_cuda_usable
from tests.conftest import dense_kernel

BUDGET_MIB = 8
LIMIT_MIB = 2 * BUDGET_MIB + 16


def _peak_mib(fn):
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return peak, result


def test_rmatvec_peak_within_budget_at_20000():
    # 20000 × 20000 kernel values: 3.2 GB dense; one (m,) partial per row block was 239 MiB.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 2))
    u = rng.normal(size=20_000)
    K = KernelOperator(Gaussian(1.0), X)
    with config_context(working_memory=BUDGET_MIB):
        peak, got = _peak_mib(lambda: K.rmatvec(u))
    assert peak < LIMIT_MIB, peak
    rows = np.arange(0, 20_000, 997)
    want = dense_kernel("gaussian", X[rows], X, 1.0) @ u  # K symmetric: (Kᵀu)_j = (K u)_j
    np.testing.assert_allclose(got[rows], want, rtol=1e-10)


@pytest.mark.parametrize("product", ["matvec", "rmatmat", "dmmv", "matmat_rmatmat", "blocks"])
def test_other_products_peak_within_budget(product):
    rng = np.random.default_rng(1)
    n, m = 6000, 5000
    X = rng.normal(size=(n, 3))
    Z = rng.normal(size=(m, 3))
    K = KernelOperator(Laplacian(2.0), X, Z)
    v, u = rng.normal(size=m), rng.normal(size=(n, 2))
    calls = {
        "matvec": lambda: K.matvec(v),
        "rmatmat": lambda: K.rmatmat(u),
        "dmmv": lambda: K.dmmv(v, u[:, 0]),
        "matmat_rmatmat": lambda: K.matmat_rmatmat(v, u),
        "blocks": lambda: sum(float(b.sum()) for _, b in K.blocks()),
    }
    with config_context(working_memory=BUDGET_MIB):
        peak, _ = _peak_mib(calls[product])
    assert peak < LIMIT_MIB, (product, peak)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_products_bit_identical_for_any_threads_and_cores(monkeypatch, dtype):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(900, 4)).astype(dtype)
    Z = rng.normal(size=(500, 4)).astype(dtype)
    v = rng.normal(size=500).astype(dtype)
    u = rng.normal(size=(900, 2)).astype(dtype)

    def products():
        K = KernelOperator(Gaussian(1.5), X, Z)
        return [K @ v, K.rmatmat(u), K.dmmv(v, u[:, 0]), *K.matmat_rmatmat(v, u), K.to_dense()]

    results = []
    for cores in (1, 64):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        monkeypatch.setattr(cpu, "default_n_threads", lambda cores=cores: cores)
        for n_threads in (None, 1, 3):
            for budget in (0.05, 2):
                with config_context(n_threads=n_threads, working_memory=budget):
                    results.append((budget, products()))
    for budget in (0.05, 2):
        first = next(r for b, r in results if b == budget)
        for b, other in results:
            if b == budget:
                for a, c in zip(first, other, strict=True):
                    np.testing.assert_array_equal(a, c)


@pytest.mark.skipif(numba_cuda_usable(), reason="a CUDA device (or the simulator) is present")
def test_cuda_engine_without_device_raises_for_every_product(rng):
    X = rng.normal(size=(20, 2))
    Z = rng.normal(size=(10, 2))
    K = KernelOperator(Gaussian(1.0), X, Z)
    calls = [
        lambda: K @ np.ones(10),
        lambda: K.matmat(np.ones((10, 2))),
        lambda: K.rmatvec(np.ones(20)),
        lambda: K.rmatmat(np.ones((20, 2))),
        lambda: K.T @ np.ones(20),
        lambda: K.dmmv(np.ones(10)),
        lambda: K.matmat_rmatmat(np.ones(10), np.ones(20)),
        lambda: K.to_dense(),
        lambda: next(K.blocks()),
        lambda: K.take(slice(0, 5)) @ np.ones(10),
        lambda: K.diagonal(),
    ]
    with config_context(engine="cuda"):
        for call in calls:
            with pytest.raises(RuntimeError, match="engine='cuda'"):
                call()
