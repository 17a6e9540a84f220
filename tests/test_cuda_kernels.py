"""numba.cuda kernels of thinning and KDI on Numba's CUDA simulator, against the CPU engine.

Each check runs in a fresh interpreter with ``NUMBA_ENABLE_CUDASIM=1`` (the
simulator must be on before Numba is imported; see tests/test_cuda.py) at tiny
sizes: the simulator runs every thread as a Python thread.
"""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

THINNING = textwrap.dedent(
    """
    import numpy as np
    from numba import cuda
    from kernelkit._backend import thinning as cpu, thinning_cuda as gpu
    from tests.conftest import dense_kernel

    assert cuda.is_available(), "simulator not active"
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        X = rng.normal(size=(40, 3))
        K = dense_kernel("gaussian", X, X, 1.5).astype(dtype)
        # Three nodes reading one matrix, 12 pairs each (> 1 pass of the 16 simulated
        # threads is not needed for the reduction; 2 nodes start mid-walk).
        pos = np.stack([rng.permutation(40)[:24] for _ in range(3)])
        alpha = rng.normal(size=(3, 12)) * 0.1
        u = rng.random((3, 12))
        sig0 = np.array([0.0, 0.3, 1.0])
        swapped, sig = gpu.halve_nodes(K, pos, alpha, u, sig0, 7.0)
        for r in range(3):
            ref = np.zeros(12, dtype=bool)
            s = cpu.halve_chunk(K, pos[r], alpha[r], u[r], sig0[r], 7.0, ref)
            assert (ref == swapped[r]).all(), (dtype, r, ref, swapped[r])
            assert abs(s - sig[r]) <= 1e-12 * max(1.0, abs(s)), (s, sig[r])
        # A whole round of KT-SPLIT through the drop-in, then KT-SWAP.
        ref = np.zeros(20, dtype=bool)
        got = np.zeros(20, dtype=bool)
        uu = rng.random(20)
        local = np.arange(40)
        cpu.halve_chunk(K, local, np.zeros(20), uu, 0.0, 5.0, ref)
        gpu.halve_chunk(K, local, np.zeros(20), uu, 0.0, 5.0, got)
        assert (ref == got).all()
        mean_k = K.astype(float).mean(axis=1)
        for unique in (True, False):
            core = rng.permutation(40)[:10]
            others = cpu.complement(40, core)
            others_gpu = others.copy()
            want = cpu.refine_dense(K, core.copy(), mean_k, unique, others)
            have = gpu.refine_dense(K, core.copy(), mean_k, unique, others_gpu)
            assert (want == have).all(), (unique, want, have)
            assert (others == others_gpu).all()
            assert not (want == core).all(), "refinement moved nothing: the test is void"
    print("CUDASIM THINNING OK")
    """
)

KDI = textwrap.dedent(
    """
    import numpy as np
    from numba import cuda
    from scipy.stats import norm
    from kernelkit._backend import kdit_fit as cpu, kdit_cuda as gpu

    assert cuda.is_available(), "simulator not active"
    rng = np.random.default_rng(1)
    data = np.sort(np.concatenate([rng.normal(size=150), rng.normal(4, 0.3, size=50)]))
    h = 0.35
    centres, before, moments = cpu._build_clusters(data, None, 0, h)
    # Sorted for the CPU sweep; the GPU gets them shuffled (it needs no order).
    points = np.sort(rng.uniform(-4.0, 6.0, size=70))
    cdf_ref, pdf_ref = np.empty(70), np.empty(70)
    cpu._kde_cdf_pdf(points, h, centres, before, moments, 200.0, cdf_ref, pdf_ref)
    u = (points[:, None] - data[None, :]) / h
    np.testing.assert_allclose(cdf_ref, norm.cdf(u).mean(1), atol=1e-9)
    np.testing.assert_allclose(pdf_ref, norm.pdf(u).mean(1) / h, atol=1e-9)
    order = rng.permutation(70)
    for dtype, tol in [(np.float64, 1e-12), (np.float32, 1e-6)]:
        cdf, pdf = gpu.kde_cdf_pdf(
            points[order].astype(dtype), h, centres.astype(dtype), before,
            moments.astype(dtype), 200.0,
        )
        for got, want in [(cdf, cdf_ref[order]), (pdf, pdf_ref[order])]:
            assert np.abs(got - want).max() <= tol, (dtype, np.abs(got - want).max())
    print("CUDASIM KDI OK")
    """
)


def _simulate(script):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    return subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.cudasim
def test_thinning_kernels_match_cpu_engine_under_simulator():
    proc = _simulate(THINNING)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CUDASIM THINNING OK" in proc.stdout


@pytest.mark.cudasim
def test_kdi_sweep_matches_cpu_engine_under_simulator():
    proc = _simulate(KDI)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CUDASIM KDI OK" in proc.stdout
