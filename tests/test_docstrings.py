"""numpydoc validation of every public object and public method.

Covers the names in ``kernelkit.__all__``, the ``__all__`` of every subpackage and the
public functions of the ``datasets``, ``distributed`` and ``cli`` modules; for classes, every
public method defined in kernelkit (methods inherited from scikit-learn or SciPy are
theirs to document). Objects added later are picked up automatically.
"""

import importlib
import inspect

import pytest

import kernelkit

numpydoc_validate = pytest.importorskip("numpydoc.validate")

CHECKED = {"PR01", "PR02", "PR07", "RT01", "GL08"}
SUBPACKAGES = (
    "kernelkit.kernels",
    "kernelkit.linalg",
    "kernelkit.sampling",
    "kernelkit.preprocessing",
    "kernelkit.metrics",
    "kernelkit.models",
    "kernelkit.graph",
)
MODULES = ("kernelkit.datasets", "kernelkit.distributed", "kernelkit.cli")


def _module_names(module_name):
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # a subpackage that does not exist yet
        return []
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", "") == module_name
        ]
    return [(f"{module_name}.{n}", getattr(module, n)) for n in names]


def _own_methods(path, cls):
    out = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("kernelkit"):
            continue
        attr = vars(owner)[name]
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if inspect.isfunction(attr):
            out.append(f"{path}.{name}")
    return out


def _public_objects():
    found = [(f"kernelkit.{n}", getattr(kernelkit, n)) for n in kernelkit.__all__]
    for module_name in SUBPACKAGES + MODULES:
        found.extend(_module_names(module_name))
    paths, seen = [], set()
    for path, obj in found:
        if inspect.ismodule(obj) or not callable(obj):
            continue  # constants such as KERNEL_NAMES; modules are listed by their members
        key = (id(obj), path.rsplit(".", 1)[-1])
        if key in seen:
            continue  # the same object re-exported under the same name
        seen.add(key)
        paths.append(path)
        if inspect.isclass(obj):
            paths.extend(_own_methods(path, obj))
    return paths


@pytest.mark.parametrize("path", _public_objects())
def test_numpydoc(path):
    result = numpydoc_validate.validate(path)
    errors = [f"{code}: {msg}" for code, msg in result["errors"] if code in CHECKED]
    assert not errors, f"{path}:\n" + "\n".join(errors)
