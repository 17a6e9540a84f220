"""The L1 (Manhattan) Laplacian: kernelkit's engine against SciPy and scikit-learn.

Three tables, every peer in the same process on the same data:

1. L1 distance blocks D_ij = ‖x_i − z_j‖₁ (n × m, float64 and float32):
   kernelkit's Numba engine (``kernelkit._backend.cpu.l1_distance_block``, all
   cores and one thread), ``scipy.spatial.distance.cdist(metric="cityblock")``,
   ``sklearn.metrics.pairwise.manhattan_distances`` and scikit-learn's
   ``pairwise_distances(metric="manhattan", n_jobs=-1)``. Features: one-hot
   blocks and a few numeric columns, like diamonds.
2. The kernel product K(X, Z) @ V: ``KernelOperator(L1Laplacian)`` against
   ``laplacian_kernel(X, Z) @ V`` and against the same operator on a
   ``CallableKernel`` wrapping ``laplacian_kernel`` (what
   ``bench_models.py`` used before ``L1Laplacian`` existed).
3. ``--diamonds``: ``FalkonRegressor`` on diamonds (the split of
   ``bench_models.py --quick``) with ``L1Laplacian(20)`` and with the
   ``CallableKernel``: fit time and test R².

Ratios are time / time of kernelkit in the same group of rows (for distance
blocks: kernelkit on one thread, as SciPy and ``manhattan_distances`` are
single-threaded; the ``n_jobs=-1`` peer compares with kernelkit on all cores).

Run: ``python benchmarks/bench_l1.py [--quick] [--n N] [--m M] [--diamonds]``.
"""

import os
import sys
import warnings
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import laplacian_kernel, manhattan_distances, pairwise_distances

from benchmarks._runner import measure, parse_args, print_table
from kernelkit import CallableKernel, FalkonRegressor, KernelOperator, L1Laplacian
from kernelkit._backend.cpu import l1_distance_block


def _extra(parser):
    parser.add_argument("--n", type=int, default=4000, help="rows of X")
    parser.add_argument("--m", type=int, default=4000, help="rows of Z")
    parser.add_argument("--diamonds", action="store_true", help="also fit Falkon on diamonds")
    parser.add_argument("--diamonds-m", type=int, default=2000, help="Falkon centers")


def mixed(rng, n, n_onehot, levels, n_numeric):
    blocks = [np.eye(levels)[rng.integers(0, levels, size=n)] for _ in range(n_onehot)]
    return np.hstack([*blocks, rng.normal(size=(n, n_numeric))])


class SklearnL1:
    """``laplacian_kernel`` with a fixed gamma, picklable (a CallableKernel's function)."""

    def __init__(self, gamma):
        self.gamma = gamma

    def __call__(self, A, B):
        return laplacian_kernel(A, B, gamma=self.gamma)


def dense_product(X, Z, V, gamma):
    return laplacian_kernel(X, Z, gamma=gamma) @ V


def distance_table(args, rng):
    rows = []
    shapes = [(3, 6, 8), (10, 8, 20)]  # (one-hot blocks, levels, numeric): d = 26, 100
    for n_onehot, levels, n_numeric in shapes:
        X0 = mixed(rng, args.n, n_onehot, levels, n_numeric)
        Z0 = mixed(rng, args.m, n_onehot, levels, n_numeric)
        d = X0.shape[1]
        for dtype in (np.float64, np.float32):
            X, Z = X0.astype(dtype), Z0.astype(dtype)
            ref = cdist(X0, Z0, metric="cityblock")
            peers = [
                ("kernelkit Numba, 1 thread", partial(l1_distance_block, X, Z)),
                ("kernelkit Numba, all cores", partial(l1_distance_block, X, Z, parallel=True)),
                ("scipy cdist cityblock", partial(cdist, X, Z, metric="cityblock")),
                ("sklearn manhattan_distances", partial(manhattan_distances, X, Z)),
                (
                    "sklearn pairwise_distances n_jobs=-1",
                    partial(pairwise_distances, X, Z, metric="manhattan", n_jobs=-1),
                ),
            ]
            group = []
            for name, fn in peers:
                r = measure(fn, repeats=args.repeats)
                err = float(np.max(np.abs(r["result"] - ref) / np.maximum(ref, 1e-300)))
                group.append(
                    {
                        "shape": f"{args.n}×{args.m}, d={d}",
                        "dtype": np.dtype(dtype).name,
                        "method": name,
                        "out dtype": r["result"].dtype.name,
                        "min_s": r["min"],
                        "max rel err": f"{err:.1e}",
                        "min": r["min"],
                    }
                )
            for row in group:
                row["_base"] = group[0]
            rows += group
    print_table(
        rows,
        ["shape", "dtype", "method", "out dtype", "min_s", "max rel err"],
        title="L1 distance blocks (ratio: time / kernelkit on 1 thread)",
        baseline=lambda r: r["_base"],
    )


def product_table(args, rng):
    rows = []
    X = mixed(rng, args.n, 3, 6, 8)
    Z = mixed(rng, args.m, 3, 6, 8)
    V = rng.normal(size=(args.m, 4))
    bw = 20.0
    ref = laplacian_kernel(X, Z, gamma=1 / bw) @ V
    for dtype in (np.float64, np.float32):
        Xd, Zd, Vd = X.astype(dtype), Z.astype(dtype), V.astype(dtype)
        op = KernelOperator(L1Laplacian(bw), Xd, Zd)
        wrapped = KernelOperator(CallableKernel(SklearnL1(1 / bw)), Xd, Zd)
        peers = [
            ("KernelOperator(L1Laplacian) @ V", partial(op.matmat, Vd)),
            ("KernelOperator(CallableKernel(laplacian_kernel)) @ V", partial(wrapped.matmat, Vd)),
            ("sklearn laplacian_kernel(X, Z) @ V", partial(dense_product, Xd, Zd, Vd, 1 / bw)),
        ]
        group = []
        for name, fn in peers:
            r = measure(fn, repeats=args.repeats)
            err = float(np.max(np.abs(r["result"] - ref)) / np.max(np.abs(ref)))
            group.append(
                {
                    "shape": f"{args.n}×{args.m}, d={X.shape[1]}, 4 columns",
                    "dtype": np.dtype(dtype).name,
                    "method": name,
                    "min_s": r["min"],
                    "rel err": f"{err:.1e}",
                    "min": r["min"],
                }
            )
        for row in group:
            row["_base"] = group[0]
        rows += group
    print_table(
        rows,
        ["shape", "dtype", "method", "min_s", "rel err"],
        title="L1 Laplacian kernel products (ratio: time / KernelOperator(L1Laplacian))",
        baseline=lambda r: r["_base"],
    )


def diamonds_table(args):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from kernelkit.datasets import load_rdataset

    X, y, _ = load_rdataset("ggplot2", "diamonds", log_target=True)
    X, y = np.asarray(X, dtype=np.float64)[:8000], np.asarray(y, dtype=np.float64)[:8000]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    M = min(args.diamonds_m, len(Xtr))
    rows = []
    kernels = [
        ("L1Laplacian(20)", L1Laplacian(20.0)),
        ("CallableKernel(laplacian_kernel, gamma=1/20)", CallableKernel(SklearnL1(1 / 20))),
    ]
    preds = []
    # cache_size=0: K_nM is recomputed in every CG iteration (as when n·M does not fit).
    for cache in (2048, 0):
        group = []
        for name, kernel in kernels:
            model = FalkonRegressor(
                kernel, n_centers=M, regularization=1e-6, cache_size=cache, random_state=0
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                r = measure(lambda m=model: m.fit(Xtr, ytr), repeats=args.repeats)
            preds.append(model.predict(Xte))
            group.append(
                {
                    "data": f"diamonds 8000 rows, n_train={len(Xtr)}, d={X.shape[1]}",
                    "kernel": name,
                    "method": f"FalkonRegressor M={M}, cache_size={cache}",
                    "test R²": model.score(Xte, yte),
                    "fit_s": r["min"],
                    "min": r["min"],
                }
            )
        for row in group:
            row["_base"] = group[0]
        rows += group
    gap = float(max(np.max(np.abs(p - preds[0])) for p in preds))
    print_table(
        rows,
        ["data", "kernel", "method", "test R²", "fit_s"],
        title=f"Falkon on diamonds (ratio: fit time / L1Laplacian; max |Δ prediction| {gap:.1e})",
        baseline=lambda r: r["_base"],
    )


def main():
    args = parse_args(__doc__.splitlines()[0], _extra)
    if args.quick:
        args.n, args.m = min(args.n, 1000), min(args.m, 1000)
    rng = np.random.default_rng(0)
    distance_table(args, rng)
    product_table(args, rng)
    if args.diamonds:
        diamonds_table(args)


if __name__ == "__main__":
    main()
