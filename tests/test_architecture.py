"""The package's layering, checked on the source with ``ast``.

Floors (docs/architecture.md): a module imports only lower floors or its own
subpackage. Function-local imports count too; the top floor (the package's
public face) may import itself. Numba and CuPy live in
``_backend`` alone, ``importlib`` only in ``__init__.py`` files, and no module
is longer than 600 lines.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kernelkit"
MAX_LINES = 600

# Top-level part of the package -> floor. Several parts can share a floor; parts
# on one floor are siblings and must not import each other.
FLOORS = {
    "_config": 0,
    "_backend": 1,
    "_utils": 2,
    "kernels": 3,
    "linalg": 4,
    "sampling": 5,
    "preprocessing": 5,
    "metrics": 5,
    "graph": 5,
    "models": 6,
    "datasets": 7,
    "cli": 7,
    "distributed": 7,
    "__init__": 7,
    "__main__": 7,
}
HEAVY = ("numba", "cupy", "cupyx")
# The public face (package, command line, data sets) may use each other.
TOP = 7


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _part(path):
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path):
    """(line, absolute module name) for every import in the file, nested ones included."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    package = ["kernelkit", *rel.parts[:-1]]
    if rel.name == "__init__":
        package = ["kernelkit", *rel.parts[:-1]]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.module == "importlib":
                for alias in node.names:
                    yield node.lineno, f"importlib.{alias.name}"
                continue
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    for alias in node.names:
                        yield node.lineno, f"{target}.{alias.name}"
                    continue
            else:
                target = node.module
            yield node.lineno, target


def _floor_of(module):
    parts = module.split(".")
    if parts[0] != "kernelkit":
        return None, None
    if len(parts) == 1:
        return "__init__", FLOORS["__init__"]
    return parts[1], FLOORS.get(parts[1])


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layering(path):
    part = _part(path)
    assert part in FLOORS, f"{part} has no floor in FLOORS (and in docs/architecture.md)"
    floor = FLOORS[part]
    problems = []
    for line, module in _imports(path):
        root = module.split(".")[0]
        if root in HEAVY and part != "_backend":
            problems.append(f"line {line}: {module} outside _backend")
        dynamic = module in ("importlib", "importlib.import_module")
        if dynamic and path.name != "__init__.py":
            problems.append(f"line {line}: importlib outside __init__.py")
        target, target_floor = _floor_of(module)
        if target is None or target == part:
            continue
        if target_floor is None:
            problems.append(f"line {line}: {module} is in no floor")
        elif target_floor > floor:
            problems.append(f"line {line}: {module} (floor {target_floor}) above {part}")
        elif target_floor == floor and floor != TOP:
            problems.append(f"line {line}: {module} is a sibling of {part}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_short(path):
    n_lines = len(path.read_text().splitlines())
    assert n_lines <= MAX_LINES, f"{n_lines} lines; split it by role"


def test_checker_catches_violations(tmp_path, monkeypatch):
    # The checker must see a nested upward import and a numba import outside _backend.
    fake = tmp_path / "kernelkit"
    (fake / "kernels").mkdir(parents=True)
    bad = fake / "kernels" / "_bad.py"
    bad.write_text("def f():\n    from ..models import x\n    import numba\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match="above kernels"):
        test_module_respects_layering(bad)
    with pytest.raises(AssertionError, match="numba"):
        test_module_respects_layering(bad)
