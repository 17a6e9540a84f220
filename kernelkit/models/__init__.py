"""Kernel models: regressors and classifiers built on the kernel operator."""

from ._eigenpro import EigenProClassifier, EigenProRegressor
from ._falkon import FalkonClassifier, FalkonRegressor
from ._stkr import STKRClassifier, STKRRegressor

__all__ = [
    "EigenProClassifier",
    "EigenProRegressor",
    "FalkonClassifier",
    "FalkonRegressor",
    "STKRClassifier",
    "STKRRegressor",
]
