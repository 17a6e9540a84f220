"""Array in, array out: every public estimator and function on device (CuPy) arrays.

Without a GPU the cases run on the fake CuPy of ``tests/_fake_cupy.py``: it refuses
implicit host conversion like CuPy and counts every explicit copy, so each case
checks that

* device input gives device output (predictions, transforms, fitted arrays),
  equal to the NumPy run (rtol 1e-10, float64);
* the device-to-host copies are exactly those documented per estimator
  (``EXPECTED``: ``count_transfers`` keys and counts), and every copy went
  through ``kernelkit._backend.to_numpy`` (the fake's own count agrees).

The numba.cuda kernels cannot run on the fake, so the fixture sends device
products down the blocked path (the one the Matérn and Cauchy kernels take on
a real GPU) and swaps the GPU walker of graph random features, the KDI fit's
CDF sweep and thinning's halving and swap kernels for their CPU twins
(simulator-tested against each other in tests/test_grf.py and
tests/test_cuda_kernels.py).
The ``gpu`` tests at the end run the same cases on real CuPy arrays.
"""

from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp

import kernelkit as kk
from kernelkit._backend import count_transfers, cupy_usable, kdit_fit, thinning
from kernelkit.graph._exact import TO_HOST as GRAPH
from kernelkit.linalg._sampled import RHS_TO_HOST as SAMPLED_RHS
from kernelkit.linalg._sampled import TO_HOST as SAMPLED
from kernelkit.models._falkon_solver import _VALIDATION_TO_HOST as FALKON_VALIDATION
from kernelkit.models._falkon_solver import CENTERS_TO_HOST, PRODUCT_TO_HOST, RHS_TO_HOST
from kernelkit.models._stkr_base import TO_HOST as STKR
from kernelkit.preprocessing._kdit import _FIT_TO_HOST as KDI
from kernelkit.sampling._kt_core import _TO_HOST as THINNING
from kernelkit.sampling._squeak_core import TO_HOST as SQUEAK
from tests import _fake_cupy

LABELS = "labels to the host (LabelBinarizer)"
WEIGHTS = "sample_weight to the host (checks)"
CODES = "labels: class codes to the host (non-numeric classes)"


@dataclass
class Data:
    X: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    A: np.ndarray
    weights: np.ndarray


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=60)
    labels = np.digitize(X[:, 1], [-0.4, 0.4])  # three classes
    A = np.triu((rng.random((30, 30)) < 0.2).astype(float), 1)
    return Data(X, y, labels, A + A.T, rng.integers(1, 4, size=60).astype(float))


@dataclass
class Case:
    """``run(dev, data)`` returns named outputs; ``dev`` moves a host array to the device."""

    run: object
    # count_transfers() of the device run: a dict, or a function of its outputs.
    transfers: object = field(default_factory=dict)
    # Outputs that stay on the host by design (documented in docs/gpu.md).
    host: tuple = ()
    # Whether the device run must equal the NumPy run (False: another solver by design).
    same_values: bool = True


def _fitted(est, *names):
    return {name: getattr(est, name) for name in names}


def _falkon_regressor(dev, d):
    est = kk.FalkonRegressor(n_centers=20, regularization=1e-3, random_state=0)
    est.fit(dev(d.X), dev(d.y))
    out = {"predict": est.predict(dev(d.X)), "n_iter": est.n_iter_}
    return out | _fitted(est, "centers_", "dual_coef_", "intercept_")


def _falkon_classifier(dev, d):
    est = kk.FalkonClassifier(n_centers=20, regularization=1e-3, random_state=0)
    est.fit(dev(d.X), dev(d.labels))
    out = {"predict": est.predict(dev(d.X)), "n_iter": est.n_iter_}
    out["decision"] = est.decision_function(dev(d.X))
    return out | _fitted(est, "centers_", "dual_coef_", "intercept_")


def _falkon_early_stopping(dev, d):
    est = kk.FalkonRegressor(
        n_centers=20, regularization=1e-3, early_stopping=True, max_iter=6, random_state=0
    )
    est.fit(dev(d.X), dev(d.y))
    return {"predict": est.predict(dev(d.X)), "n_iter": est.n_iter_} | _fitted(est, "dual_coef_")


def _falkon_weighted(dev, d):
    est = kk.FalkonRegressor(n_centers=20, regularization=1e-3, random_state=0)
    est.fit(dev(d.X), dev(d.y), sample_weight=dev(d.weights))
    return {"predict": est.predict(dev(d.X)), "n_iter": est.n_iter_} | _fitted(est, "dual_coef_")


def _falkon_centers(centers):
    def run(dev, d):
        est = kk.FalkonRegressor(
            n_centers=16, centers=centers, regularization=1e-3, random_state=0
        ).fit(dev(d.X), dev(d.y))
        return {"predict": est.predict(dev(d.X)), "n_iter": est.n_iter_} | _fitted(est, "centers_")

    return run


def _falkon_string_labels(dev, d):
    # CuPy holds no strings: the labels stay on the host, and so do the predicted labels.
    labels = np.array(["low", "mid", "high"])[d.labels]
    est = kk.FalkonClassifier(n_centers=20, regularization=1e-3, random_state=0)
    est.fit(dev(d.X), labels)
    out = {"predict": est.predict(dev(d.X)), "decision": est.decision_function(dev(d.X))}
    return out | {"n_iter": est.n_iter_}


def _falkon_transfers(out, labels=0):
    counts = {CENTERS_TO_HOST: 1, RHS_TO_HOST: 1, PRODUCT_TO_HOST: out["n_iter"]}
    return counts | ({LABELS: labels} if labels else {})


def _stkr_regressor(dev, d):
    est = kk.STKRRegressor(bandwidth=1.0).fit(dev(d.X[:30]), dev(d.y[:30]), dev(d.X[30:]))
    return {"predict": est.predict(dev(d.X))} | _fitted(
        est, "X_fit_", "dual_coef_", "transduction_"
    )


def _stkr_classifier(dev, d):
    est = kk.STKRClassifier(bandwidth=1.0).fit(dev(d.X[:30]), dev(d.labels[:30]), dev(d.X[30:]))
    out = {"predict": est.predict(dev(d.X)), "decision": est.decision_function(dev(d.X))}
    return out | _fitted(est, "X_fit_", "dual_coef_", "transduction_")


def _eigenpro(classifier):
    def run(dev, d):
        cls = kk.EigenProClassifier if classifier else kk.EigenProRegressor
        est = cls(n_centers=30, epochs=2, random_state=0)
        est.fit(dev(d.X), dev(d.labels if classifier else d.y))
        return {"predict": est.predict(dev(d.X))} | _fitted(est, "centers_", "dual_coef_")

    return run


def _nystroem(dev, d):
    est = kk.LeverageNystroem(n_components=10, random_state=0).fit(dev(d.X))
    return {"transform": est.transform(dev(d.X))} | _fitted(est, "components_", "normalization_")


def _squeak(function):
    def run(dev, d):
        D = function(dev(d.X), "gaussian", 0.1, bandwidth=1.0, random_state=0)
        return {"indices": D.indices, "scores": D.leverage_scores(dev(d.X))}

    return run


def _kernel_thinning(dev, d):
    est = kk.KernelThinning(bandwidth=1.0, random_state=0)
    Xr, yr = est.fit_resample(dev(d.X[:32]), dev(d.y[:32]))
    return {"X": Xr, "y": yr} | _fitted(est, "indices_", "coreset_")


def _kdi(dev, d):
    est = kk.KDITransformer(n_quantiles=20).fit(dev(d.X))
    Xt = est.transform(dev(d.X))
    return {"transform": Xt, "inverse": est.inverse_transform(Xt)}


def _grf(dev, d):
    est = kk.GraphRandomFeatures(n_walks=20, random_state=0)
    return {"features": est.fit_transform(dev(d.A)).toarray()}


def _sampled(dev, d):
    op = kk.SampledGaussianOperator(dev(d.X), bandwidth=1.0, fallback="exact", random_state=0)
    return {"product": op @ dev(d.y)}


def _operator(dev, d):
    K = kk.KernelOperator("matern", dev(d.X), bandwidth=1.0)
    return {"matvec": K @ dev(d.y), "rmatmat": K.rmatmat(dev(d.X)), "diag": K.diagonal()}


CASES = {
    "KernelOperator": Case(_operator),
    "FalkonRegressor": Case(_falkon_regressor, _falkon_transfers),
    "FalkonClassifier": Case(_falkon_classifier, lambda out: _falkon_transfers(out, labels=1)),
    "FalkonRegressor(early_stopping)": Case(
        _falkon_early_stopping,
        # The validation targets and intercept once, then one prediction per iteration.
        lambda out: _falkon_transfers(out) | {FALKON_VALIDATION: 2 + out["n_iter"]},
    ),
    "FalkonRegressor(sample_weight)": Case(
        _falkon_weighted, lambda out: _falkon_transfers(out) | {WEIGHTS: 1}
    ),
    "FalkonRegressor(centers='kt')": Case(
        _falkon_centers("kt"), lambda out: _falkon_transfers(out) | {THINNING: 1}
    ),
    "FalkonRegressor(centers='squeak')": Case(
        _falkon_centers("squeak"), lambda out: _falkon_transfers(out) | {SQUEAK: 1}
    ),
    "FalkonClassifier(string labels on the host)": Case(
        _falkon_string_labels,
        lambda out: _falkon_transfers(out) | {CODES: 1},  # predict's codes
        host=("predict",),
    ),
    "STKRRegressor": Case(_stkr_regressor, {STKR: 3}),
    "STKRClassifier": Case(_stkr_classifier, {STKR: 3}),
    "EigenProRegressor": Case(_eigenpro(False), {"preconditioner": 1}),
    "EigenProClassifier": Case(_eigenpro(True), {"preconditioner": 1, "labels": 1}),
    "LeverageNystroem": Case(_nystroem, {SQUEAK: 1}),
    "squeak": Case(_squeak(kk.squeak), {SQUEAK: 2}, host=("indices",)),
    "disqueak": Case(_squeak(kk.disqueak), {SQUEAK: 2}, host=("indices",)),
    "ridge_leverage_scores": Case(
        lambda dev, d: {"scores": kk.ridge_leverage_scores(dev(d.X), "gaussian", 0.1)},
        {SQUEAK: 1},
    ),
    "effective_dimension": Case(
        lambda dev, d: {
            "d_eff": kk.effective_dimension(
                dev(d.X), "gaussian", 0.1, method="squeak", random_state=0
            )
        },
        {SQUEAK: 1},
    ),
    "kernel_thin": Case(
        lambda dev, d: {"indices": kk.kernel_thin(dev(d.X[:32]), bandwidth=1.0, random_state=0)},
        {THINNING: 1},
    ),
    "compress_pp": Case(
        lambda dev, d: {
            "indices": kk.compress_pp(dev(d.X[:32]), g=1, bandwidth=1.0, random_state=0)
        },
        {THINNING: 1},
    ),
    "KernelThinning": Case(_kernel_thinning, {THINNING: 1}),
    "KDITransformer": Case(_kdi, {KDI: 1}),
    "KDITransformer(sample_weight)": Case(
        lambda dev, d: {
            "transform": kk.KDITransformer(n_quantiles=20)
            .fit(dev(d.X), sample_weight=dev(d.weights))
            .transform(dev(d.X))
        },
        {KDI: 2},
    ),
    "mmd": Case(lambda dev, d: {"mmd": kk.mmd(dev(d.X), dev(d.X[:20]), bandwidth=1.0)}),
    "mmd(weights)": Case(
        lambda dev, d: {"mmd": kk.mmd(dev(d.X), dev(d.X[:20]), weights=dev(d.weights[:20]))},
        {"mmd: weights to the host for checks": 1},
    ),
    "estimate_bandwidth": Case(lambda dev, d: {"h": kk.estimate_bandwidth(dev(d.X))}),
    "GraphRandomFeatures": Case(_grf, {GRAPH: 1}, host=("features",)),
    "exact_graph_kernel": Case(lambda dev, d: {"K": kk.exact_graph_kernel(dev(d.A))}, {GRAPH: 1}),
    "SampledGaussianOperator": Case(_sampled, {SAMPLED: 1, SAMPLED_RHS: 1}),
    "softmax_attention": Case(
        lambda dev, d: {
            "out": kk.softmax_attention(
                dev(d.X), dev(d.X), dev(d.y), fallback="exact", random_state=0
            )
        },
        {SAMPLED: 3},
    ),
}


@pytest.fixture
def fake_cupy(monkeypatch):
    from kernelkit._backend import grf, kdit_cuda, thinning_cuda
    from kernelkit.graph import _grf
    from kernelkit.linalg import KernelOperator

    cp = _fake_cupy.install(monkeypatch)
    monkeypatch.setattr(KernelOperator, "_fused_cuda_ok", lambda self: False)
    monkeypatch.setitem(_grf._WALKERS, "cuda", grf.walk_cpu)
    monkeypatch.setattr(kdit_cuda, "kde_cdf_pdf", _cpu_sweep)
    monkeypatch.setattr(thinning_cuda, "halve_nodes", _cpu_halve_nodes)
    monkeypatch.setattr(thinning_cuda, "refine_dense", _cpu_refine_dense)
    return cp


# CPU twins of the thinning kernels; they read the fake's "device memory" directly, as a
# kernel reads the GPU's (no transfer).
def _cpu_halve_nodes(K, pos, alpha_prior, uniforms, sig_sqd, log_multiplier):
    K = _fake_cupy._unwrap(K)
    swapped = np.zeros(np.shape(alpha_prior), dtype=bool)
    sig = np.array(sig_sqd, dtype=np.float64)
    for r in range(len(pos)):
        args = (alpha_prior[r], uniforms[r], sig[r], log_multiplier, swapped[r])
        sig[r] = thinning.halve_chunk(K, pos[r], *args)
    return swapped, sig


def _cpu_refine_dense(K, coreset, mean_k, unique, non_coreset):
    return thinning.refine_dense(_fake_cupy._unwrap(K), coreset, mean_k, unique, non_coreset)


def _cpu_sweep(points, h, centres, before, moments, n):
    """The CPU engine's twin of ``kdit_cuda.kde_cdf_pdf`` (which sorts nothing)."""
    order = np.argsort(points, kind="stable")
    cdf, pdf = np.empty(len(points)), np.empty(len(points))
    kdit_fit._kde_cdf_pdf(points[order], h, centres, before, moments, n, cdf, pdf)
    out_cdf, out_pdf = np.empty_like(cdf), np.empty_like(pdf)
    out_cdf[order], out_pdf[order] = cdf, pdf
    return out_cdf, out_pdf


def _check_case(case, cp, rtol):
    d = _data()
    host = case.run(lambda a: a, d)
    cp.COPIES.clear() if hasattr(cp, "COPIES") else None
    with count_transfers() as counts:
        device = case.run(cp.asarray, d)
    expected = case.transfers(device) if callable(case.transfers) else case.transfers
    assert dict(counts) == expected
    if hasattr(cp, "COPIES"):  # the fake: no download bypassed to_numpy
        assert cp.COPIES["device_to_host"] == sum(counts.values())
    assert host.keys() == device.keys()
    for name, ref in host.items():
        got = device[name]
        if isinstance(ref, np.ndarray) and ref.dtype.kind in "biuf" and name not in case.host:
            assert isinstance(got, cp.ndarray), f"{name} left the device"
            got = cp.asnumpy(got)
        else:
            assert not isinstance(got, cp.ndarray), name
        if not case.same_values:
            assert np.shape(got) == np.shape(ref), name
        elif isinstance(ref, np.ndarray) and ref.dtype.kind not in "fc":
            np.testing.assert_array_equal(got, ref, err_msg=name)
        elif isinstance(ref, (np.ndarray, float)):
            np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol, err_msg=name)
        else:
            assert got == ref, name


@pytest.mark.parametrize("name", list(CASES))
def test_device_in_device_out(fake_cupy, name):
    _check_case(CASES[name], fake_cupy, rtol=1e-10)


def test_every_public_estimator_and_function_has_a_case():
    """A new public estimator or function must say how it handles device arrays."""
    not_array_apis = {
        "KERNEL_NAMES",
        "config_context",
        "get_config",
        "set_config",
        "make_kernel",
        "datasets",
        "distributed",
        "load_fashion_mnist",
        "load_rdataset",
        "make_classification_blobs",
        "SamplingFallbackWarning",
        "SqueakDictionary",  # made by squeak/disqueak, covered there
    }
    kernels = {"Cauchy", "CallableKernel", "Gaussian", "InverseMultiquadric", "Kernel"}
    # Kernel objects: exercised through KernelOperator.
    kernels |= {"Laplacian", "L1Laplacian", "Matern"}
    covered = {name.split("(")[0] for name in CASES}
    assert set(kk.__all__) - not_array_apis - kernels == covered


def test_fake_refuses_implicit_conversion_and_counts_copies(fake_cupy):
    cp = fake_cupy
    a = cp.asarray(np.arange(6.0).reshape(3, 2))
    assert cp.COPIES["host_to_device"] == 1
    for convert in (np.asarray, np.ascontiguousarray, lambda x: np.array(x, dtype=float)):
        with pytest.raises(TypeError, match="Implicit conversion"):
            convert(a)
    with pytest.raises(TypeError, match="host array"):
        a + np.ones((3, 2))
    assert isinstance(a.sum(), cp.ndarray) and isinstance(np.exp(a), cp.ndarray)
    assert isinstance(cp.concatenate([a, a]), cp.ndarray)
    np.testing.assert_array_equal(cp.asnumpy(a * 2), np.arange(6.0).reshape(3, 2) * 2)
    assert cp.COPIES["device_to_host"] == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda cp, d: kk.FalkonRegressor(n_centers=10).fit(cp.asarray(d.X), d.y),
        lambda cp, d: kk.STKRRegressor().fit(cp.asarray(d.X), d.y),
        lambda cp, d: kk.KDITransformer().fit(cp.asarray(d.X), sample_weight=np.ones(60)),
        lambda cp, d: kk.mmd(cp.asarray(d.X), d.X),
        lambda cp, d: kk.KernelThinning().fit_resample(cp.asarray(d.X[:32]), d.y[:32]),
        lambda cp, d: (
            kk.SampledGaussianOperator(cp.asarray(d.X), bandwidth=1.0, fallback="exact") @ d.y
        ),
        lambda cp, d: kk.LeverageNystroem(n_components=5).fit(cp.asarray(d.X)).transform(d.X),
        lambda cp, d: kk.FalkonRegressor(n_centers=10).fit(d.X, d.y).predict(cp.asarray(d.X)),
        lambda cp, d: kk.STKRRegressor().fit(d.X, d.y).predict(cp.asarray(d.X)),
    ],
    ids=[
        "falkon-y",
        "stkr-y",
        "kdi-weights",
        "mmd",
        "thinning-y",
        "sampled-rhs",
        "nystroem-transform",
        "falkon-predict",
        "stkr-predict",
    ],
)
def test_mixing_host_and_device_is_a_type_error(fake_cupy, call):
    with pytest.raises(TypeError, match="(?i)numpy|cupy|device"):
        call(fake_cupy, _data())


def test_sparse_graph_input_stays_a_host_path(fake_cupy):
    """SciPy sparse adjacency (host) gives the same features and no transfers."""
    d = _data()
    with count_transfers() as counts:
        sparse = kk.GraphRandomFeatures(n_walks=20, random_state=0).fit_transform(
            sp.csr_array(d.A)
        )
    dense = kk.GraphRandomFeatures(n_walks=20, random_state=0).fit_transform(
        fake_cupy.asarray(d.A)
    )
    assert sum(counts.values()) == 0
    assert (sparse != dense).nnz == 0


# -- real GPU ------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(CASES))
def test_device_in_device_out_on_gpu(name):
    """The same cases on CuPy arrays (fused CUDA products, GPU walker).

    Products on the device sum in another order than the CPU engine, and Falkon's
    and STKR's solvers amplify that by their conditioning: rtol 1e-6.
    """
    if not cupy_usable():
        pytest.skip("needs CuPy and a CUDA device")
    import cupy

    _check_case(CASES[name], cupy, rtol=1e-6)


def test_device_points_select_the_gpu_kernels(fake_cupy, monkeypatch):
    """Device input alone (engine="auto") routes thinning's dense nodes and the KDI fit's
    sweep to their numba.cuda kernels, on the device copy of the kernel matrix."""
    from kernelkit._backend import kdit_cuda, thinning_cuda

    calls = []

    def counting(name, function):
        def counted(*args):
            if name != "kde_cdf_pdf":  # the kernels read the matrix where it was computed
                assert isinstance(args[0], fake_cupy.ndarray)
            calls.append(name)
            return function(*args)

        return counted

    for module, name in [
        (thinning_cuda, "halve_nodes"),
        (thinning_cuda, "refine_dense"),
        (kdit_cuda, "kde_cdf_pdf"),
    ]:
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    d = _data()
    want = kk.kernel_thin(d.X[:32], 2, bandwidth=1.0, random_state=3)
    assert calls == []
    have = kk.kernel_thin(fake_cupy.asarray(d.X[:32]), 2, bandwidth=1.0, random_state=3)
    np.testing.assert_array_equal(fake_cupy.asnumpy(have), want)
    assert calls == ["halve_nodes", "halve_nodes", "refine_dense"]
    calls.clear()
    kk.KDITransformer(n_quantiles=10).fit(fake_cupy.asarray(d.X))
    assert calls == ["kde_cdf_pdf"] * d.X.shape[1]
