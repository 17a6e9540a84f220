"""The samplers obey the configuration: the engine they are told to use, and the memory budget.

Every kernel value of the samplers comes from KernelOperator, so under
``engine="cuda"`` without a device they raise the operator's error instead of
running on the CPU, and under ``working_memory=8`` their tracemalloc peak
stays below 2 × budget + 16 MiB (inputs and outputs here are under 4 MiB).
"""

import gc
import tracemalloc

import numpy as np
import pytest

from kernelkit import (
    KernelThinning,
    compress_pp,
    config_context,
    disqueak,
    effective_dimension,
    kernel_thin,
    ridge_leverage_scores,
    squeak,
)
from kernelkit._backend import numba_cuda_usable

BUDGET_MIB = 8
PEAK_LIMIT_MIB = 2 * BUDGET_MIB + 16

CALLS = {
    "kernel_thin": lambda X: kernel_thin(X, bandwidth=1.0, random_state=0),
    "compress_pp": lambda X: compress_pp(X, g=1, bandwidth=1.0, random_state=0),
    "KernelThinning.fit": lambda X: KernelThinning(random_state=0).fit(X),
    "squeak": lambda X: squeak(X, "gaussian", 1.0, bandwidth=1.0, random_state=0),
    "disqueak": lambda X: disqueak(X, "gaussian", 1.0, bandwidth=1.0, random_state=0),
    "ridge_leverage_scores": lambda X: ridge_leverage_scores(X, "gaussian", 1.0),
    "ridge_leverage_scores squeak": lambda X: ridge_leverage_scores(
        X, "gaussian", 1.0, method="squeak", random_state=0
    ),
    "effective_dimension": lambda X: effective_dimension(X, "gaussian", 1.0),
}


@pytest.mark.skipif(numba_cuda_usable(), reason="a CUDA device (or simulator) is available")
@pytest.mark.parametrize("name", list(CALLS))
def test_cuda_engine_without_device_raises(name):
    X = np.random.default_rng(0).normal(size=(64, 2))
    with config_context(engine="cuda"), pytest.raises(RuntimeError, match="engine='cuda'"):
        CALLS[name](X)
    # The same call runs on the default engine (the error came from the engine choice).
    CALLS[name](X)


def _peak_mib(function):
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def warm():
    """Compile the Numba loops before any peak is measured (compilation allocates too)."""
    X = np.random.default_rng(1).normal(size=(1024, 2))
    with config_context(working_memory=BUDGET_MIB):
        kernel_thin(X, bandwidth=1.0, random_state=0)
        compress_pp(X, g=1, bandwidth=1.0, random_state=0)
        squeak(X, "gaussian", 10.0, bandwidth=1.0, random_state=0)


def test_kernel_thin_peak_within_budget(warm):
    X = np.random.default_rng(0).normal(size=(16384, 2))
    with config_context(working_memory=BUDGET_MIB):
        peak = _peak_mib(lambda: kernel_thin(X, bandwidth=1.0, random_state=0))
    # Without the budget the walk's chunk alone is 32 MiB (2048² float64).
    assert peak < PEAK_LIMIT_MIB


def test_compress_pp_peak_within_budget(warm):
    X = np.random.default_rng(0).normal(size=(16384, 2))
    with config_context(working_memory=BUDGET_MIB):
        peak = _peak_mib(lambda: compress_pp(X, g=2, bandwidth=1.0, random_state=0))
    assert peak < PEAK_LIMIT_MIB


@pytest.mark.parametrize("name", ["squeak", "disqueak", "ridge_leverage_scores"])
def test_squeak_family_peak_within_budget(name, warm):
    X = np.random.default_rng(0).normal(size=(8000, 3))
    calls = {
        "squeak": lambda: squeak(X, "gaussian", 100.0, bandwidth=1.0, random_state=0),
        "disqueak": lambda: disqueak(X, "gaussian", 100.0, bandwidth=1.0, random_state=0),
        "ridge_leverage_scores": lambda: ridge_leverage_scores(
            X, "gaussian", 100.0, method="squeak", bandwidth=1.0, random_state=0
        ),
    }
    with config_context(working_memory=BUDGET_MIB):
        peak = _peak_mib(calls[name])
    assert peak < PEAK_LIMIT_MIB


def test_exact_scores_refuse_what_the_budget_cannot_hold():
    X = np.random.default_rng(0).normal(size=(800, 2))
    # 2 × 800² float64 = 9.8 MiB > 8 MiB: refused before anything n×n is allocated.
    with config_context(working_memory=BUDGET_MIB), pytest.raises(MemoryError, match="squeak"):
        ridge_leverage_scores(X, "gaussian", 1.0)


def test_disqueak_workers_see_the_callers_budget():
    """A budget too small for one leaf fails inside the workers too (joblib processes)."""
    X = np.random.default_rng(0).normal(size=(600, 2))
    with config_context(working_memory=0.5), pytest.raises(MemoryError, match="SQUEAK"):
        disqueak(X, "gaussian", 1.0, bandwidth=1.0, block_size=300, n_jobs=2, random_state=0)
    d = disqueak(X, "gaussian", 1.0, bandwidth=1.0, block_size=300, n_jobs=2, random_state=0)
    assert len(d) > 0
