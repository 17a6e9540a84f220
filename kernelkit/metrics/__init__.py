"""Metrics between samples: the maximum mean discrepancy."""

from ._mmd import mmd

__all__ = ["mmd"]
