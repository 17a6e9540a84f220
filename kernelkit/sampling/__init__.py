"""Samplers: ridge-leverage-score dictionaries (SQUEAK, DISQUEAK), the leverage
Nyström transformer, kernel thinning coresets and the center registry of the
kernel models."""

from ._centers import CENTER_SELECTORS, select_centers, uniform_centers
from ._kt_estimator import KernelThinning
from ._nystroem import LeverageNystroem
from ._squeak import (
    SqueakDictionary,
    disqueak,
    effective_dimension,
    ridge_leverage_scores,
    squeak,
)
from ._thinning import compress_pp, kernel_thin

__all__ = [
    "CENTER_SELECTORS",
    "KernelThinning",
    "LeverageNystroem",
    "SqueakDictionary",
    "compress_pp",
    "disqueak",
    "effective_dimension",
    "kernel_thin",
    "ridge_leverage_scores",
    "select_centers",
    "squeak",
    "uniform_centers",
]
