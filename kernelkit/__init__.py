"""kernelkit: scalable kernel methods in the scikit-learn style.

Every public name is importable from here; the modules are implementation
details. Estimator modules are imported lazily so that ``import kernelkit``
stays fast.
"""

import importlib

from ._config import config_context, get_config, set_config
from .kernels import (
    KERNEL_NAMES,
    CallableKernel,
    Cauchy,
    Gaussian,
    InverseMultiquadric,
    Kernel,
    L1Laplacian,
    Laplacian,
    Matern,
    estimate_bandwidth,
    make_kernel,
)
from .linalg import KernelOperator

__version__ = "0.1.0"

# Public name -> module that defines it (imported on first access).
_LAZY = {
    "datasets": "kernelkit.datasets",
    "distributed": "kernelkit.distributed",
    "load_fashion_mnist": "kernelkit.datasets",
    "load_rdataset": "kernelkit.datasets",
    "make_classification_blobs": "kernelkit.datasets",
    "EigenProRegressor": "kernelkit.models",
    "EigenProClassifier": "kernelkit.models",
    "STKRRegressor": "kernelkit.models",
    "STKRClassifier": "kernelkit.models",
    "FalkonRegressor": "kernelkit.models",
    "FalkonClassifier": "kernelkit.models",
    "squeak": "kernelkit.sampling",
    "disqueak": "kernelkit.sampling",
    "ridge_leverage_scores": "kernelkit.sampling",
    "effective_dimension": "kernelkit.sampling",
    "SqueakDictionary": "kernelkit.sampling",
    "LeverageNystroem": "kernelkit.sampling",
    "kernel_thin": "kernelkit.sampling",
    "compress_pp": "kernelkit.sampling",
    "KernelThinning": "kernelkit.sampling",
    "mmd": "kernelkit.metrics",
    "KDITransformer": "kernelkit.preprocessing",
    "GraphRandomFeatures": "kernelkit.graph",
    "exact_graph_kernel": "kernelkit.graph",
    "SampledGaussianOperator": "kernelkit.linalg",
    "SamplingFallbackWarning": "kernelkit.linalg",
    "softmax_attention": "kernelkit.linalg",
}

__all__ = [
    "KERNEL_NAMES",
    "Cauchy",
    "CallableKernel",
    "Gaussian",
    "InverseMultiquadric",
    "Kernel",
    "KernelOperator",
    "L1Laplacian",
    "Laplacian",
    "Matern",
    "config_context",
    "estimate_bandwidth",
    "get_config",
    "make_kernel",
    "set_config",
    *_LAZY,
]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kernelkit' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = getattr(mod, name, mod)  # "datasets" and "distributed" are modules
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
