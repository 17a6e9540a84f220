"""FalkonRegressor on a Dask array: the same model as in memory, fitted on two workers.

Starts a two-worker ``LocalCluster`` on loopback, fits ``FalkonRegressor``
on a row-chunked Dask array (8 partitions) and in memory on the same rows,
and plots both predictions (computed lazily, one task per partition) against
the true function, with the residual's relative difference in the title.
Point the same code at a real cluster with ``Client("tcp://scheduler:8786")``.

Run: ``.venv/bin/python examples/plot_dask_falkon.py [--out docs/img/dask_falkon.png]``
"""

import argparse

import matplotlib

matplotlib.use("Agg")
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from kernelkit import FalkonRegressor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/img/dask_falkon.png")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(4000, 1))
    y = np.sin(2 * X[:, 0]) * np.exp(-0.1 * X[:, 0] ** 2) + 0.2 * rng.normal(size=4000)
    grid = np.linspace(-3, 3, 400)[:, None]
    params = dict(kernel="gaussian", n_centers=100, regularization=1e-4, random_state=0)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        Client(cluster),
    ):
        Xd = da.from_array(X, chunks=(500, 1))
        on_dask = FalkonRegressor(**params).fit(Xd, da.from_array(y, chunks=500))
        pred_dask = on_dask.predict(da.from_array(grid, chunks=(100, 1))).compute()
    in_memory = FalkonRegressor(**params).fit(X, y)
    pred = in_memory.predict(grid)
    rel = np.max(np.abs(pred_dask - pred)) / np.max(np.abs(pred))

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=90)
    ax.scatter(X[::8, 0], y[::8], s=3, color="0.7", label="data (every 8th row)")
    ax.plot(grid[:, 0], pred, lw=3, color="C0", label="in memory")
    ax.plot(grid[:, 0], pred_dask, "--", lw=1.5, color="C3", label="Dask, 2 workers, 8 partitions")
    ax.set_title(f"FalkonRegressor, M=100: max relative difference {rel:.1e}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"saved {args.out}; max relative difference {rel:.2e}")


if __name__ == "__main__":
    main()
