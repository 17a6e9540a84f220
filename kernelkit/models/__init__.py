"""Kernel models: regressors and classifiers built on the kernel operator."""

from ._eigenpro import EigenProClassifier, EigenProRegressor
from ._falkon import FalkonClassifier, FalkonRegressor

__all__ = ["EigenProClassifier", "EigenProRegressor", "FalkonClassifier", "FalkonRegressor"]
