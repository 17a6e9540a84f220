"""scikit-learn's estimator checks over every estimator that kernelkit exports.

New estimators are picked up automatically from ``kernelkit.__all__``; each
module may give small, fast constructor arguments through a
``_test_instances()`` class method returning a list of instances.
"""

import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import kernelkit


def _public_estimators():
    out = []
    for name in sorted(kernelkit.__all__):
        obj = getattr(kernelkit, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            make = getattr(obj, "_test_instances", None)
            out.extend(make() if make is not None else [obj()])
    return out


ESTIMATORS = _public_estimators()


def _expected_failed_checks(estimator):
    return getattr(estimator, "_expected_failed_checks", lambda: {})()


def test_every_public_class_is_collected():
    names = {type(e).__name__ for e in ESTIMATORS}
    exported = {
        n
        for n in kernelkit.__all__
        if inspect.isclass(getattr(kernelkit, n))
        and issubclass(getattr(kernelkit, n), BaseEstimator)
    }
    assert names == exported


if ESTIMATORS:

    @parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
    def test_sklearn_compatible(estimator, check):
        check(estimator)
else:  # pragma: no cover - before any estimator exists

    @pytest.mark.skip(reason="no public estimators yet")
    def test_sklearn_compatible():
        pass
