"""Kernel models: regressors and classifiers built on the kernel operator."""

from ._eigenpro import EigenProClassifier, EigenProRegressor

__all__ = ["EigenProClassifier", "EigenProRegressor"]
