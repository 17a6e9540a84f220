"""numba.cuda kernels of thinning and KDI on Numba's CUDA simulator, against the CPU engine.

Each check runs in a fresh interpreter with ``NUMBA_ENABLE_CUDASIM=1`` (the
simulator must be on before Numba is imported; see tests/test_cuda.py) at tiny
sizes: the simulator runs every thread as a Python thread.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
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
    # End to end: kernel_thin on a dense node picks the same points on both engines
    # (the "cuda" engine runs KT-SPLIT's rounds and KT-SWAP with these kernels).
    from kernelkit import config_context, kernel_thin

    calls = []
    for name in ("halve_nodes", "refine_dense"):
        def counted(*args, _fn=getattr(gpu, name), _name=name):
            calls.append(_name)
            return _fn(*args)
        setattr(gpu, name, counted)
    Y = rng.normal(size=(32, 2))
    for unique in (True, False):
        want = kernel_thin(Y, 2, bandwidth=1.0, unique=unique, random_state=3)
        with config_context(engine="cuda"):
            have = kernel_thin(Y, 2, bandwidth=1.0, unique=unique, random_state=3)
        assert np.array_equal(want, have), (unique, want, have)
    # Two rounds and one refinement per run on the GPU path.
    assert calls == ["halve_nodes", "halve_nodes", "refine_dense"] * 2, calls
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


KDI_FIT = textwrap.dedent(
    """
    import numpy as np
    import scipy.sparse as sp
    from numba import cuda
    from kernelkit import KDITransformer, config_context
    from kernelkit._backend import kdit_cuda

    assert cuda.is_available(), "simulator not active"
    launches = []
    sweep = kdit_cuda.kde_cdf_pdf
    kdit_cuda.kde_cdf_pdf = lambda *args: launches.append(1) or sweep(*args)
    rng = np.random.default_rng(2)
    X = np.column_stack([
        rng.normal(size=120), rng.exponential(size=120), np.r_[np.zeros(60), rng.random(60)]
    ])
    X[3, 0] = np.nan
    w = rng.integers(1, 4, size=120).astype(float)
    worst = 0.0
    for data, weights in [(X, None), (X, w), (sp.csc_array(np.abs(X[:, 1:])), None)]:
        kw = dict(sample_weight=weights)
        cpu = KDITransformer(n_quantiles=15).fit(data, **kw)
        with config_context(engine="cuda"):
            gpu = KDITransformer(n_quantiles=15).fit(data, **kw)
        for name in ("quantiles_", "references_", "densities_", "bandwidths_"):
            a, b = getattr(gpu, name), getattr(cpu, name)
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)
            worst = max(worst, float(np.nanmax(np.abs(a - b))))
    assert len(launches) == 3 + 3 + 2, launches  # one sweep per fitted column
    print("CUDASIM KDI FIT OK", worst)
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
def test_kdi_fit_with_cuda_engine_matches_cpu_engine_under_simulator():
    """KDITransformer.fit under engine="cuda" sweeps on the (simulated) device: same tables."""
    proc = _simulate(KDI_FIT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CUDASIM KDI FIT OK" in proc.stdout


@pytest.mark.cudasim
def test_kdi_sweep_matches_cpu_engine_under_simulator():
    proc = _simulate(KDI)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CUDASIM KDI OK" in proc.stdout


# -- compile check without a device ---------------------------------------------------
def _nvvm_missing():
    """Why Numba cannot compile to PTX here, or None when it can."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return "NUMBA_ENABLE_CUDASIM=1 is set: the simulator has no compiler"
    try:
        from numba.cuda.cudadrv.nvvm import NVVM

        NVVM()
    except Exception as exc:
        return (
            f"libNVVM not found ({type(exc).__name__}: {exc}); it ships with the CUDA "
            "toolkit (or the nvidia-cuda-nvcc-cu12 wheel, about 38 MiB)"
        )
    return None


def _specimens():
    """(name, Python function, signature) of every numba.cuda kernel in kernelkit._backend."""
    from numba import types

    from kernelkit._backend import cuda as fused
    from kernelkit._backend import grf, kdit_cuda, thinning_cuda

    f64, f32, i64, u64, b1 = types.float64, types.float32, types.int64, types.uint64, types.boolean
    out = []
    for dtype in (f32, f64):
        m2 = types.Array(dtype, 2, "C")
        m1 = types.Array(dtype, 1, "C")
        kernel = fused._build(np.dtype(str(dtype)), 128)
        out.append((f"fused_{dtype}", kernel, (m2, m2, m2, m2, dtype, b1, b1, i64, i64)))
        halve = thinning_cuda._build_halve(128)
        sig = (m2, i64[:, ::1], f64[:, ::1], f64[:, ::1], f64[::1], f64, b1[:, ::1], f64[::1])
        out.append((f"halve_{dtype}", halve, sig))
        refine = thinning_cuda._build_refine(128)
        out.append(
            (f"refine_{dtype}", refine, (m2, i64[::1], f64[::1], b1, i64[::1], i64, f64[::1]))
        )
        sweep = kdit_cuda._build()
        sig = (m1, f64, m1, f64[::1], m2, f64, f64[::1], f64[::1])
        out.append((f"kdi_sweep_{dtype}", sweep, sig))
    lengths, deposits = grf._cuda_kernels()
    common = (i64, i64, i64, u64, i64[::1], i64[::1], f64[::1])
    out.append(("grf_lengths", lengths, (*common, f64, b1, i64, i64[::1])))
    sig = (*common, f64[::1], f64[::1], f64, b1, i64[::1], i64[::1], f64[::1])
    out.append(("grf_deposits", deposits, sig))
    return out


def test_every_cuda_kernel_compiles_to_ptx_without_a_device(monkeypatch):
    reason = _nvvm_missing()
    if reason is not None:
        pytest.skip(reason)
    from pathlib import Path
    from types import SimpleNamespace

    import numba.cuda.dispatcher
    from numba import cuda

    # Numba's built-in CUDA target compiles a kernel's device functions for the
    # *current device's* compute capability, which needs a driver; without one, tell
    # it the capability we compile for (the kernel itself takes ``cc`` directly).
    fake = SimpleNamespace(compute_capability=(9, 0))
    monkeypatch.setattr(numba.cuda.dispatcher, "get_current_device", lambda: fake)

    specimens = _specimens()
    # Every @cuda.jit kernel (not device function) in _backend must be in the list.
    backend = Path(ROOT) / "kernelkit" / "_backend"
    n_kernels = sum(
        src.count("@cuda.jit\n") + src.count("@cuda.jit(fastmath")
        for src in (p.read_text() for p in backend.glob("*.py"))
    )
    names = {name.rsplit("_f", 1)[0] for name, _, _ in specimens}
    assert len(names) == n_kernels, (sorted(names), n_kernels)
    for name, kernel, sig in specimens:
        ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
        assert ".target sm_90" in ptx, name
        assert ".entry" in ptx, name
