"""FalkonRegressor on a Dask array bigger than a worker's memory limit.

A ``LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=...)`` on
loopback; X (``--gib`` GiB of float64, default 3) is generated per partition
on the workers by a seeded generator (``map_blocks``; never materialised in
the client, not persisted: every pass over the data regenerates its
partitions, as a real job would re-read them from storage). The target is a
known smooth function plus N(0, 0.1²) noise. The same model is fitted in
memory on a subsample that fits the client, and both are scored on the same
held-out test set.

Printed: fit time, passes over the data, the workers' peak RSS (``ru_maxrss``
of each worker process, via ``client.run``) against their memory limit, the
client's peak RSS during the Dask fit, and the test R² / RMSE of both fits.

Run: ``python benchmarks/bench_dask_falkon.py [--quick] [--gib G] [--memory-limit 1GiB]``.
``--quick``: a few MB, under a minute (the test suite runs it).
"""

import argparse
import os
import resource
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from benchmarks._runner import print_table
from kernelkit import FalkonRegressor, config_context, estimate_bandwidth

NOISE = 0.1


def target(X):
    """The known regression function (the noise-free part of y)."""
    return np.sin(2.0 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * np.cos(3.0 * X[:, 3])


def make_rows(seed, rows, n_features):
    """``rows`` points uniform in [-1, 1]^d and their noisy targets, as one (rows, d + 1) block."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(rows, n_features))
    y = target(X) + NOISE * rng.normal(size=rows)
    return np.column_stack([X, y])


def _block(seed, n_features, block_info=None):
    info = block_info[None]
    index = info["chunk-location"][0]
    rows = info["chunk-shape"][0]
    # Each partition has its own child seed: the data depend on the layout only, not on
    # which worker generates a partition or when.
    return make_rows([seed, index], rows, n_features)


def dask_data(n_rows, n_features, rows_per_chunk, seed):
    """Lazy (X, y) Dask arrays generated partition by partition on the workers."""
    import dask.array as da

    n_chunks = -(-n_rows // rows_per_chunk)
    sizes = (rows_per_chunk,) * (n_chunks - 1) + (n_rows - rows_per_chunk * (n_chunks - 1),)
    A = da.map_blocks(
        _block, seed, n_features, chunks=(sizes, (n_features + 1,)), dtype=np.float64
    )
    return A[:, :n_features], A[:, n_features]


def _peak_rss_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scores(model, X, y):
    pred = model.predict(X)
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    return float(model.score(X, y)), rmse


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few MB, under a minute")
    parser.add_argument("--gib", type=float, default=3.0, help="size of X in GiB (float64)")
    parser.add_argument("--memory-limit", default="1GiB", help="per-worker memory limit")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--centers", type=int, default=200)
    parser.add_argument("--max-iter", type=int, default=8)
    parser.add_argument("--chunk-mib", type=float, default=32.0, help="MiB of X per partition")
    parser.add_argument("--working-memory", type=float, default=64.0, help="MiB per kernel block")
    parser.add_argument("--subsample", type=int, default=200_000, help="rows of the in-memory fit")
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.gib, args.chunk_mib, args.centers, args.max_iter = 0.004, 0.5, 50, 5
        args.subsample, args.n_test = 8000, 2000
    return args


def main(argv=None):
    """Run the benchmark; returns the table rows (a list of dicts)."""
    import distributed

    # max_iter is the budget of passes here, not a convergence target.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    args = parse(argv)
    d = args.features
    n = int(args.gib * 2**30 / (8 * d))
    rows_per_chunk = max(1, int(args.chunk_mib * 2**20 / (8 * d)))
    test = make_rows([args.seed, 2**31], args.n_test, d)
    X_test, y_test = test[:, :d], test[:, d]
    # A fixed bandwidth (the median rule on the test rows, same distribution) keeps the
    # Dask fit from spending a pass over the data on the rule's 1000-row sample.
    params = dict(
        kernel="gaussian",
        bandwidth=estimate_bandwidth(X_test),
        n_centers=args.centers,
        regularization=1e-6,
        max_iter=args.max_iter,
        tol=1e-6,
        random_state=args.seed,
    )
    print(
        f"X: {n} rows x {d} features = {n * d * 8 / 2**30:.3f} GiB in partitions of "
        f"{rows_per_chunk} rows; workers: 2 x 1 thread, memory_limit={args.memory_limit}; "
        f"M={args.centers}, max_iter={args.max_iter}",
        flush=True,
    )
    rows = []
    with (
        distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
        config_context(working_memory=args.working_memory, n_threads=1),
    ):
        X, y = dask_data(n, d, rows_per_chunk, args.seed)
        t0 = time.perf_counter()
        model = FalkonRegressor(**params).fit(X, y)
        seconds = time.perf_counter() - t0
        workers = client.run(_peak_rss_mib)
        limit = min(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
    client_peak = _peak_rss_mib()
    r2, rmse = _scores(model, X_test, y_test)
    rows.append(
        {
            "fit": "Dask, all rows",
            "rows": n,
            "GiB of X": n * d * 8 / 2**30,
            "partitions": X.npartitions,
            "fit time (s)": seconds,
            "passes": model.n_iter_ + 2,
            "worker peak RSS (MiB)": max(workers.values()),
            "worker limit (MiB)": limit / 2**20,
            "client peak RSS (MiB)": client_peak,
            "test R²": r2,
            "test RMSE": rmse,
        }
    )
    sub = make_rows([args.seed, 2**31 + 1], min(args.subsample, n), d)
    t0 = time.perf_counter()
    with config_context(working_memory=args.working_memory):
        local = FalkonRegressor(**params).fit(sub[:, :d], sub[:, d])
    seconds = time.perf_counter() - t0
    r2, rmse = _scores(local, X_test, y_test)
    rows.append(
        {
            "fit": "in memory, subsample",
            "rows": sub.shape[0],
            "GiB of X": sub.shape[0] * d * 8 / 2**30,
            "partitions": "",
            "fit time (s)": seconds,
            "passes": local.n_iter_ + 1,
            "worker peak RSS (MiB)": "",
            "worker limit (MiB)": "",
            "client peak RSS (MiB)": _peak_rss_mib(),
            "test R²": r2,
            "test RMSE": rmse,
        }
    )
    print_table(rows, list(rows[0]), title="FalkonRegressor on a Dask array bigger than a worker")
    print(f"noise floor: RMSE {NOISE}", flush=True)
    return rows


if __name__ == "__main__":
    main()
