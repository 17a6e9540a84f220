"""Maximum mean discrepancy: dense references and the one bandwidth default."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from kernelkit import Gaussian, Laplacian, make_kernel, mmd


def _dense_mmd(X, Y, bandwidth, weights=None, name="gaussian"):
    def k(A, B):
        r = cdist(A, B)
        return (
            np.exp(-(r**2) / (2 * bandwidth**2)) if name == "gaussian" else np.exp(-r / bandwidth)
        )

    w = np.full(len(Y), 1 / len(Y)) if weights is None else weights / weights.sum()
    u = np.full(len(X), 1 / len(X))
    value = u @ k(X, X) @ u - 2 * u @ k(X, Y) @ w + w @ k(Y, Y) @ w
    return np.sqrt(max(value, 0.0))


def test_default_bandwidth_is_the_median_rule_on_x(rng):
    X = 3.0 * rng.normal(size=(120, 2))
    Y = X[::4] + 0.1
    resolved = make_kernel("gaussian", None, X=X)
    assert resolved.bandwidth == pytest.approx(np.median(pdist(X)), rel=1e-12)
    # mmd resolves exactly that kernel: same value as with the bandwidth spelled out.
    assert mmd(X, Y) == mmd(X, Y, resolved)
    assert mmd(X, Y) == mmd(X, Y, bandwidth=resolved.bandwidth)
    assert mmd(X, Y) == pytest.approx(_dense_mmd(X, Y, resolved.bandwidth), rel=1e-9)
    # ... and not the kernel of unit width (the old default).
    assert abs(mmd(X, Y) - mmd(X, Y, bandwidth=1.0)) > 1e-3
    # A kernel object keeps its bandwidth; a rule or number overrides it.
    assert mmd(X, Y, Gaussian(0.5)) == pytest.approx(_dense_mmd(X, Y, 0.5), rel=1e-9)
    assert mmd(X, Y, Gaussian(0.5), bandwidth="median") == mmd(X, Y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_laplacian_matches_dense(rng, dtype):
    X = rng.normal(size=(80, 3)).astype(dtype)
    Y = rng.normal(size=(30, 3)).astype(dtype) + 0.5
    w = rng.uniform(size=30)
    got = mmd(X, Y, "laplacian", w, bandwidth=1.3)
    want = _dense_mmd(X.astype(float), Y.astype(float), 1.3, w, name="laplacian")
    assert got == pytest.approx(want, rel=1e-9 if dtype == np.float64 else 1e-4)
    assert mmd(X, X, Laplacian(1.0)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kernel": "poly"}, "'kernel' parameter"),
        ({"bandwidth": -1.0}, "'bandwidth' parameter"),
        ({"bandwidth": "mean"}, "'bandwidth' parameter"),
        ({"weights": "abc"}, "'weights' parameter"),
        ({"weights": np.ones(4)}, "weights must have shape"),
        ({"weights": -np.ones(5)}, "weights must be"),
    ],
)
def test_bad_parameters_are_named(rng, kwargs, match):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match=match):
        mmd(X, X[:5], **kwargs)
    with pytest.raises(ValueError, match="features"):
        mmd(X, np.ones((3, 3)))


def test_cuda_engine_without_device_raises(rng):
    from kernelkit import config_context
    from kernelkit._backend import numba_cuda_usable

    if numba_cuda_usable():
        pytest.skip("a CUDA device (or the simulator) is present")
    X = rng.normal(size=(20, 2))
    with config_context(engine="cuda"), pytest.raises(RuntimeError, match="engine='cuda'"):
        mmd(X, X[:5], bandwidth=1.0)


def test_peak_memory_within_budget():
    import gc
    import tracemalloc

    from kernelkit import config_context

    rng = np.random.default_rng(3)
    X = rng.normal(size=(8000, 2))  # the three kernel matrices would take 650 MB
    Y = rng.normal(size=(3000, 2))
    gc.collect()
    with config_context(working_memory=8):
        tracemalloc.start()
        value = mmd(X, Y, "laplacian", bandwidth=1.0)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert peak < 2 * 8 + 16, peak
    assert 0 <= value < 0.1  # same distribution: a small discrepancy
