"""Configuration: values checked when set, and carried into joblib and Dask workers."""

import math

import joblib
import numpy as np
import pytest

from kernelkit import config_context, get_config, set_config
from kernelkit._utils._parallel import delayed, parallel_map, tree_map_reduce, tree_reduce

BAD_VALUES = [
    ("working_memory", True),
    ("working_memory", 0),
    ("working_memory", -1.5),
    ("working_memory", math.inf),
    ("working_memory", math.nan),
    ("working_memory", "8"),
    ("n_threads", True),
    ("n_threads", 0),
    ("n_threads", -2),
    ("n_threads", 1.5),
    ("n_threads", "2"),
    ("engine", "tpu"),
    ("engine", 1),
]


@pytest.mark.parametrize("name, value", BAD_VALUES)
def test_bad_values_rejected_when_set(name, value):
    before = get_config()
    with pytest.raises(ValueError, match=f"'{name}' parameter") as info:
        set_config(**{name: value})
    assert isinstance(info.value, TypeError)  # either kind of handler catches it
    with pytest.raises(ValueError, match=name):
        with config_context(**{name: value}):
            pass  # pragma: no cover - never entered
    assert get_config() == before


def test_good_values_accepted():
    with config_context(working_memory=np.float32(0.5), n_threads=np.int64(3), engine="numpy"):
        assert get_config() == {"working_memory": 0.5, "n_threads": 3, "engine": "numpy"}
        with config_context(n_threads=-1):
            assert get_config()["n_threads"] is None
        assert get_config()["n_threads"] == 3
    assert get_config()["n_threads"] is None


def _seen(_=None):
    config = get_config()
    return config["working_memory"], config["engine"], config["n_threads"]


def _leaf(_):
    return [_seen()]


def _merge(a, b, seed):
    return a + b + [_seen()]


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_config_reaches_joblib_workers(backend):
    want = (77, "numpy", 3)
    with config_context(working_memory=77, engine="numpy", n_threads=3):
        with joblib.parallel_config(backend=backend):
            mapped = parallel_map(_seen, range(4), n_jobs=2)
            seeds = np.random.SeedSequence(0)
            merged = tree_reduce([[], [], [], []], _merge, seeds=seeds, n_jobs=2)
            subtrees = tree_map_reduce(_leaf, range(8), _merge, seeds=seeds, n_jobs=2)
    assert mapped == [want] * 4
    assert merged == [want] * 3
    assert subtrees == [want] * 15
    # Without the context the workers see the defaults again.
    with joblib.parallel_config(backend=backend):
        assert parallel_map(_seen, range(2), n_jobs=2) == [(512, "auto", None)] * 2


def test_delayed_captures_config_at_creation():
    with config_context(working_memory=5):
        task = delayed(_seen)(0)
    function, args, kwargs = task
    assert function(*args, **kwargs)[0] == 5
    assert get_config()["working_memory"] == 512


@pytest.mark.dask
def test_config_reaches_dask_cluster_workers():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
        config_context(working_memory=33, engine="numpy"),
    ):
        got = parallel_map(_seen, range(4))
    assert got == [(33, "numpy", None)] * 4
