"""Shared fixtures and markers.

``cudasim`` tests run numba.cuda kernels on the CPU simulator; the variable
must be set before numba is imported, so they run in a subprocess (see
tests/test_cuda.py). ``gpu`` tests need a real device and skip without one.
"""

import numpy as np
import pytest

from kernelkit._backend import cupy_usable


def pytest_collection_modifyitems(config, items):
    if cupy_usable():
        return
    skip_gpu = pytest.mark.skip(reason="no CUDA device with CuPy on this machine")
    for item in items:
        # Not ``"gpu" in item.keywords``: keywords hold path parts too (a checkout in
        # a folder named gpu would skip everything).
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip_gpu)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def dense_kernel(name, A, B, bandwidth, **params):
    """Independent dense reference: SciPy's cdist in float64 and the closed forms."""
    from scipy.spatial.distance import cdist

    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if name == "laplacian_l1":
        return np.exp(-cdist(A, B, metric="cityblock") / bandwidth)
    r = cdist(A, B)
    if name in ("gaussian", "rbf"):
        return np.exp(-(r**2) / (2 * bandwidth**2))
    if name == "laplacian":
        return np.exp(-r / bandwidth)
    if name == "matern":
        nu = params.get("nu", 1.5)
        t = np.sqrt(2 * nu) * r / bandwidth
        poly = {0.5: 1.0, 1.5: 1 + t, 2.5: 1 + t + t**2 / 3}[nu]
        return poly * np.exp(-t)
    if name == "cauchy":
        return 1 / (1 + r**2 / bandwidth**2)
    if name == "imq":
        return 1 / np.sqrt(1 + r**2 / bandwidth**2)
    raise KeyError(name)


@pytest.fixture(name="dense_kernel")
def dense_kernel_fixture():
    """The :func:`dense_kernel` reference as a fixture (tests may also import it)."""
    return dense_kernel
