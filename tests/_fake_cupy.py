"""A small stand-in for CuPy, so that "device in, device out" is testable without a GPU.

Installed as ``sys.modules["cupy"]`` by the ``fake_cupy`` fixture of
``tests/test_device_arrays.py``. ``ndarray`` wraps a NumPy array (the "device
memory") and behaves like a CuPy array where it matters to kernelkit:

* operators, NumPy ufuncs and NumPy functions on it return device arrays
  (``__array_ufunc__``/``__array_function__``, as CuPy implements them), and
  reductions return 0-d device arrays, not Python scalars;
* **implicit conversion raises** ``TypeError`` as in CuPy: ``np.asarray``,
  ``np.array``, scikit-learn's ``check_array`` and Numba's CPU functions all
  refuse it, so a host round trip that bypasses ``to_numpy`` fails loudly;
* mixing it with a host array of one or more dimensions in a ufunc or a
  namespace function raises ``TypeError`` (CuPy does the same);
* every explicit copy to the host (``cupy.asnumpy``, ``ndarray.get``) is
  counted in :data:`COPIES` under ``"device_to_host"``, and every upload
  (``cupy.asarray`` of host data) under ``"host_to_device"``, so a test can
  check that all downloads went through ``kernelkit._backend.to_numpy``.

Limits, on purpose: it is not a NumPy subclass (a subclass cannot refuse
``np.asarray``, which views it as a base-class array without calling any hook),
so NumPy functions that the array does not dispatch (``np.asarray`` and
friends) fail, exactly as with CuPy. What it does not model: host index arrays
and host values in indexing and item assignment are accepted without counting
an upload; ``float``/``int``/``bool`` of a 0-d array are allowed and not
counted (CuPy synchronises the same way); numba.cuda kernels cannot read it
(the fixture swaps the fused product for the blocked path, which on a real GPU
serves the Matérn and Cauchy kernels, and the other kernels for their CPU
twins); there are no streams or devices, and of ``cupyx`` only
``cupyx.scipy.special``/``linalg`` (SciPy's, forwarded). Memory-pool numbers
are zeros.
"""

import collections
import sys
import types

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

#: Explicit copies between "host" and "device", by direction.
COPIES = collections.Counter()

_UPLOADS = {"asarray", "array", "ascontiguousarray"}


class ndarray(NDArrayOperatorsMixin):
    """A "device" array: a NumPy array that refuses implicit conversion."""

    __slots__ = ("_data",)

    def __init__(self, data):
        self._data = data

    # CuPy's message, so that tests see what users would see.
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly."
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o) for o in out)
        result = getattr(ufunc, method)(*_unwrap_checked(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(func(*_unwrap_checked(args), **_unwrap_checked(kwargs)))

    def get(self):
        """Copy to the host (counted)."""
        COPIES["device_to_host"] += 1
        return self._data.copy()

    def __getattr__(self, name):
        if name.startswith("__"):
            # Hide __array_interface__, __array_struct__, __dlpack__...: NumPy would read the
            # host buffer through them without calling __array__.
            raise AttributeError(name)
        value = getattr(self._data, name)
        if callable(value):
            return lambda *a, **k: _wrap(value(*_unwrap_checked(a), **_unwrap_checked(k)))
        return _wrap(value)

    def __getitem__(self, index):
        return _wrap(self._data[_unwrap(index)])

    def __setitem__(self, index, value):
        self._data[_unwrap(index)] = _unwrap(value)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (_wrap(row) for row in self._data)

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __index__(self):
        return self._data.__index__()

    def __bool__(self):
        return bool(self._data)

    def __format__(self, spec):
        return format(self._data, spec) if self._data.ndim == 0 else repr(self)

    def __repr__(self):
        return f"fake_cupy.{self._data!r}"

    __hash__ = None


def _wrap(value):
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic):
        return ndarray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _unwrap(value):
    if isinstance(value, ndarray):
        return value._data
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _unwrap_checked(value):
    """Unwrap device arrays; a host array of ndim >= 1 among them is a TypeError (as in CuPy)."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        raise TypeError(
            f"Unsupported type {type(value)}: a host array was mixed with device arrays."
        )
    if isinstance(value, (tuple, list)):
        return type(value)(_unwrap_checked(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap_checked(v) for k, v in value.items()}
    return _unwrap(value)


def asnumpy(a):
    """Copy a device array to the host (counted); host input is returned as an array.

    Parameters
    ----------
    a : ndarray or array-like
        The array.

    Returns
    -------
    host : numpy.ndarray
    """
    if isinstance(a, ndarray):
        return a.get()
    return np.asarray(a)


def _upload(func):
    def upload(a, *args, **kwargs):
        if isinstance(a, ndarray):
            return _wrap(func(a._data, *args, **kwargs))
        if isinstance(a, np.ndarray) or (
            isinstance(a, (list, tuple)) and any(isinstance(v, np.ndarray) for v in a)
        ):
            COPIES["host_to_device"] += 1
        return _wrap(func(np.array(_unwrap(a), copy=True), *args, **kwargs))

    return upload


def _forward(func):
    def forwarded(*args, **kwargs):
        return _wrap(func(*_unwrap_checked(args), **_unwrap_checked(kwargs)))

    return forwarded


class _Namespace(types.ModuleType):
    """Forwards every NumPy name; functions return device arrays."""

    def __init__(self, name, target):
        super().__init__(name)
        self._target = target

    def __getattr__(self, name):
        value = getattr(self._target, name)
        if isinstance(value, (type, types.ModuleType)) or not callable(value):
            return value
        return _forward(value)


class _Pool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        return None


def make_module():
    """A fresh fake ``cupy`` module (``linalg``, ``random``, ``cuda`` included).

    Returns
    -------
    cupy : module
    """
    cp = _Namespace("cupy", np)
    cp.ndarray = ndarray
    cp.asnumpy = asnumpy
    for name in _UPLOADS:
        setattr(cp, name, _upload(getattr(np, name)))
    cp.linalg = _Namespace("cupy.linalg", np.linalg)
    cp.random = _Namespace("cupy.random", np.random)
    cp.cuda = types.SimpleNamespace(is_available=lambda: True)
    pool = _Pool()
    cp.get_default_memory_pool = lambda: pool
    cp.COPIES = COPIES
    cp._kernelkit_fake = True
    return cp


def make_cupyx():
    """A fake ``cupyx`` with ``cupyx.scipy.special`` and ``cupyx.scipy.linalg`` (SciPy's).

    Returns
    -------
    cupyx : module
    """
    import scipy.linalg
    import scipy.special

    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = types.ModuleType("cupyx.scipy")
    cupyx.scipy.special = _Namespace("cupyx.scipy.special", scipy.special)
    cupyx.scipy.linalg = _Namespace("cupyx.scipy.linalg", scipy.linalg)
    return cupyx


def install(monkeypatch):
    """Put a fake ``cupy`` (and ``cupyx``) into ``sys.modules`` for one test.

    The copy counts of :data:`COPIES` restart at zero.

    Parameters
    ----------
    monkeypatch : pytest.MonkeyPatch
        Undoes the installation after the test.

    Returns
    -------
    cupy : module
    """
    COPIES.clear()
    cp = make_module()
    monkeypatch.setitem(sys.modules, "cupy", cp)
    cupyx = make_cupyx()
    for name, module in [
        ("cupyx", cupyx),
        ("cupyx.scipy", cupyx.scipy),
        ("cupyx.scipy.special", cupyx.scipy.special),
        ("cupyx.scipy.linalg", cupyx.scipy.linalg),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    return cp
