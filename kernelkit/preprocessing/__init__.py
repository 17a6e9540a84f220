"""Preprocessing transformers: the kernel density integral transform."""

from ._kdit import KDITransformer

__all__ = ["KDITransformer"]
