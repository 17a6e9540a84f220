"""GPU engine tests.

``cudasim``: the fused numba.cuda kernel runs on Numba's CUDA simulator on the
CPU. The simulator must be switched on before Numba is imported, so the check
runs in a fresh interpreter. ``gpu``: real CuPy arrays; skipped without a device.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import dense_kernel

SIM_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from numba import cuda
    from kernelkit import KernelOperator, config_context, Gaussian, L1Laplacian, Laplacian, Matern
    from kernelkit._backend import select_engine
    from tests.conftest import dense_kernel

    assert cuda.is_available(), "simulator not active"
    rng = np.random.default_rng(0)
    worst = 0.0
    for dtype, rtol in [(np.float64, 1e-10), (np.float32, 1e-4)]:
        for name, kernel in [("gaussian", Gaussian(1.3)), ("laplacian", Laplacian(0.9)),
                             ("laplacian", Matern(0.9, nu=0.5)),
                             ("laplacian_l1", L1Laplacian(4.0))]:
            # d=19 spans two feature chunks, m=37 two Z tiles, n=45 two thread blocks.
            X = rng.normal(size=(45, 19)).astype(dtype)
            Z = rng.normal(size=(37, 19)).astype(dtype)
            V = rng.normal(size=(37, 10)).astype(dtype)
            with config_context(engine="cuda"):
                assert select_engine(X) == "cuda"
                K = KernelOperator(kernel, X, Z)
                got, gotT = K @ V, K.rmatvec(np.ones(45, dtype))
            ref = dense_kernel(name, X, Z, kernel.bandwidth)
            assert got.dtype == dtype and isinstance(got, np.ndarray)
            np.testing.assert_allclose(got, ref @ V.astype(float), rtol=rtol, atol=rtol)
            np.testing.assert_allclose(gotT, ref.T.sum(1), rtol=rtol, atol=rtol)
            worst = max(worst, float(np.abs(got - ref @ V).max()))
    print("CUDASIM OK", worst)
    """
)


@pytest.mark.cudasim
def test_fused_cuda_kernel_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-c", SIM_SCRIPT],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CUDASIM OK" in proc.stdout


def test_cuda_engine_without_device_is_a_clear_error(rng):
    from kernelkit import KernelOperator, config_context
    from kernelkit._backend import numba_cuda_usable

    if numba_cuda_usable():
        pytest.skip("a CUDA device (or the simulator) is present")
    X = rng.normal(size=(4, 2))
    with config_context(engine="cuda"):
        with pytest.raises(RuntimeError, match="no CUDA device"):
            KernelOperator("gaussian", X, bandwidth=1.0) @ np.ones(4)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["gaussian", "laplacian", "laplacian_l1", "matern", "cauchy"])
def test_cupy_arrays_stay_on_device(name):
    import cupy as cp

    from kernelkit import KernelOperator, make_kernel

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 16))
    Z = rng.normal(size=(700, 16))
    V = rng.normal(size=(700, 3))
    K = KernelOperator(make_kernel(name, 2.0), cp.asarray(X), cp.asarray(Z))
    out = K @ cp.asarray(V)
    assert isinstance(out, cp.ndarray)
    ref = dense_kernel(name, X, Z, 2.0) @ V
    np.testing.assert_allclose(cp.asnumpy(out), ref, rtol=1e-10)
    outT = K.rmatmat(cp.asarray(np.ones((3000, 1))))
    np.testing.assert_allclose(
        cp.asnumpy(outT)[:, 0], dense_kernel(name, X, Z, 2.0).sum(0), rtol=1e-10
    )


def test_device_to_host_copies_are_counted(monkeypatch):
    """``to_numpy`` counts copies of device arrays by reason, and nothing else."""
    import sys
    import types

    from kernelkit._backend import count_transfers, to_numpy

    class FakeDeviceArray:
        def __init__(self, data):
            self.data = np.asarray(data)

    fake = types.SimpleNamespace(ndarray=FakeDeviceArray, asnumpy=lambda a: a.data.copy())
    monkeypatch.setitem(sys.modules, "cupy", fake)
    dev = FakeDeviceArray([1.0, 2.0])
    with count_transfers() as outer:
        np.testing.assert_array_equal(to_numpy(dev, "result"), [1.0, 2.0])
        with count_transfers() as inner:
            to_numpy(dev, "pivot")
            to_numpy(dev, "pivot")
            to_numpy(np.ones(2), "pivot")  # host arrays are not transfers
            to_numpy([1.0], "pivot")
    assert inner == {"pivot": 2}
    assert outer == {"result": 1, "pivot": 2}
    to_numpy(dev)
    assert outer == {"result": 1, "pivot": 2}  # closed: no longer counting


@pytest.mark.gpu
def test_kernel_products_on_cupy_make_no_host_copies():
    import cupy as cp

    from kernelkit import KernelOperator
    from kernelkit._backend import count_transfers

    X = cp.asarray(np.random.default_rng(0).normal(size=(500, 8)))
    with count_transfers() as counts:
        K = KernelOperator("gaussian", X, bandwidth=2.0)
        out = K @ cp.ones((500, 2))
        K.rmatmat(cp.ones((500, 1)))
    assert isinstance(out, cp.ndarray)
    assert sum(counts.values()) == 0, counts
