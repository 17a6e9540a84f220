"""Graph node kernels: random-walk features (GRFs) and the exact dense oracle."""

from ._exact import exact_graph_kernel
from ._grf import GraphRandomFeatures

__all__ = ["GraphRandomFeatures", "exact_graph_kernel"]
