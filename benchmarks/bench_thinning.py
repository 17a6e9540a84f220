"""Kernel thinning and Compress++: kernelkit vs goodpoints in the same process.

Data (issue 5): an equal mixture of 4 unit Gaussians at (±3, ±3); Gaussian kernel
with σ² = 2d (= 4 in 2-D); coreset size s = √n (m = log₄ n halving rounds).
MMD(P_n) is the exact MMD between the coreset and all n points (blocked, exact);
MMD(P) is the closed-form MMD to the mixture itself. Times are the minimum of
``--repeats`` runs (one run for cases that take more than a few seconds).

Run from the repository root: ``python benchmarks/bench_thinning.py [--quick]``.
"""

import math
import os
import sys

import numpy as np
from scipy.spatial.distance import cdist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _runner import measure, parse_args, print_table

from kernelkit import Gaussian, KernelOperator, Laplacian, compress_pp, kernel_thin
from kernelkit.kernels import power_kernel

try:
    from goodpoints import compress as gp_compress
    from goodpoints import kt as gp_kt
except ImportError:  # pragma: no cover - goodpoints is a bench extra
    gp_kt = gp_compress = None

CENTERS2 = np.array([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [-3.0, -3.0]])


def mixture(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[:, :2] += CENTERS2[rng.integers(4, size=n)]
    return X


def mmd_to_mixture(Y, var):
    """Closed-form MMD between the mixture and the points Y (Gaussian kernel of variance var)."""
    d = Y.shape[1]
    mus = np.zeros((4, d))
    mus[:, :2] = CENTERS2
    # E k(X, y) for X ~ N(μ, I): (var/(var+1))^{d/2} exp(-|y-μ|²/(2(var+1)));
    # E k(X, X') for independent components: (var/(var+2))^{d/2} exp(-|μi-μj|²/(2(var+2))).
    pk = (var / (var + 1)) ** (d / 2) * np.exp(-cdist(Y, mus, "sqeuclidean") / (2 * (var + 1)))
    ppk = (var / (var + 2)) ** (d / 2) * np.exp(-cdist(mus, mus, "sqeuclidean") / (2 * (var + 2)))
    kyy = np.exp(-cdist(Y, Y, "sqeuclidean") / (2 * var)).mean()
    return math.sqrt(max(ppk.mean() - 2 * pk.mean() + kyy, 0.0))


class MMD:
    """MMD to a fixed sample, with mean k(X, X) computed once (the n² part)."""

    def __init__(self, X, kernel):
        self.X, self.kernel = X, kernel
        n = X.shape[0]
        self.kxx = float(np.mean(KernelOperator(kernel, X) @ np.full(n, 1.0 / n)))

    def __call__(self, Y):
        w = np.full(len(Y), 1.0 / len(Y))
        kxy = float(np.mean(KernelOperator(self.kernel, self.X, Y) @ w))
        kyy = float(np.mean(self.kernel(Y)))
        return math.sqrt(max(self.kxx - 2 * kxy + kyy, 0.0))


def gp_gauss(var):
    """goodpoints' row-paired kernel convention: kernel(y, X) -> k(y, x_j) for all j."""

    def k(y, X):
        return np.exp(-0.5 / var * np.sum((y - X) ** 2, axis=-1))

    return k


def dense_K(kernel, X):
    return kernel(X)


def iid_mmd(mmd, X, s, draws, seed=0):
    rng = np.random.default_rng(seed)
    values = [mmd(X[rng.choice(len(X), s, replace=False)]) for _ in range(draws)]
    return float(np.median(values))


def size_rows(logn, quick, k, var):
    """Rows of the main table for n = 2^logn."""
    rows = []
    n, m = 2**logn, logn // 2
    X = mixture(n, 2, 1000)
    mmd = MMD(X, k)
    s = n >> m
    big = n > 2**14

    def add(method, fn, seeds=3):
        # Time: min over the seeds' runs; MMD: mean over the seeds.
        times, mmds_n, mmds_p, distinct = [], [], [], []
        for seed in range(seeds):
            res = measure(lambda seed=seed: fn(seed), repeats=1, warmup=False)
            idx = np.asarray(res["result"])
            times.append(res["min"])
            mmds_n.append(mmd(X[idx]))
            mmds_p.append(mmd_to_mixture(X[idx], var))
            distinct.append(np.unique(idx).size)
        rows.append(
            {
                "n": f"2^{logn}",
                "method": method,
                "time_s": min(times),
                "MMD(P_n)": float(np.mean(mmds_n)),
                "MMD(P)": float(np.mean(mmds_p)),
                "distinct/s": f"{np.mean(distinct):.1f}/{s}",
                "seeds": seeds,
            }
        )

    rows.append(
        {
            "n": f"2^{logn}",
            "method": "i.i.d. (median of 20)",
            "time_s": 0.0,
            "MMD(P_n)": iid_mmd(mmd, X, s, 20),
            "MMD(P)": float(
                np.median(
                    [
                        mmd_to_mixture(X[np.random.default_rng(r).choice(n, s, False)], var)
                        for r in range(20)
                    ]
                )
            ),
            "distinct/s": f"{s}/{s}",
        }
    )
    # Warm the Numba caches once so no seed pays for compilation.
    kernel_thin(X[:4096], kernel=k, random_state=0)
    compress_pp(X[:4096], 4, kernel=k, random_state=0)
    add(
        "kernelkit kernel_thin",
        lambda seed: kernel_thin(X, m, kernel=k, random_state=seed),
        seeds=2 if big else 3,
    )
    add(
        "kernelkit compress_pp g=4",
        lambda seed: compress_pp(X, 4, kernel=k, random_state=seed),
    )
    if gp_kt is None:
        return rows
    add(
        "goodpoints compresspp_kt g=4",
        lambda seed: gp_compress.compresspp_kt(
            X, b"gaussian", k_params=np.array([2 * var]), g=4, seed=seed
        ),
    )
    if n <= 2**14:

        def gp_thin_K(seed):
            K = np.exp(-cdist(X, X, "sqeuclidean") / (2 * var))
            return gp_kt.thin_K(K, K, m, delta=0.5, seed=seed)

        add(
            "goodpoints thin_K (K built with cdist, timed)",
            gp_thin_K,
            seeds=1 if n > 2**12 else 3,
        )
    if n <= 2**12 or (n <= 2**14 and not quick):
        add(
            "goodpoints kt.thin store_K=True",
            lambda seed: gp_kt.thin(X, m, gp_gauss(var), gp_gauss(var), seed=seed, store_K=True),
            seeds=1,
        )
    return rows


def main_table(args):
    logns = (10, 12) if args.quick else (12, 14, 16)
    var = 4.0
    k = Gaussian(bandwidth=math.sqrt(var))
    rows = []
    for logn in logns:
        rows.extend(size_rows(logn, args.quick, k, var))
    print_table(
        rows,
        ["n", "method", "time_s", "MMD(P_n)", "MMD(P)", "distinct/s", "seeds"],
        title="2-D mixture of 4 Gaussians, Gaussian kernel σ²=4, s=√n",
        baseline=lambda r: next(
            (b for b in rows if b["n"] == r["n"] and b["method"] == "kernelkit kernel_thin"), None
        ),
        key="time_s",
    )
    if not args.quick:
        n = 2**20
        X = mixture(n, 2, 1000)
        res = measure(lambda: compress_pp(X, 4, kernel=k, random_state=0), repeats=1, warmup=False)
        idx = res["result"]
        big = [
            {
                "n": "2^20",
                "method": "kernelkit compress_pp g=4",
                "time_s": res["min"],
                "MMD(P)": mmd_to_mixture(X[idx], var),
                "coreset": idx.size,
            },
            {
                "n": "2^20",
                "method": "i.i.d. (median of 20)",
                "time_s": 0.0,
                "MMD(P)": float(
                    np.median(
                        [
                            mmd_to_mixture(X[np.random.default_rng(r).choice(n, 1024, False)], var)
                            for r in range(20)
                        ]
                    )
                ),
                "coreset": 1024,
            },
        ]
        print_table(
            big, ["n", "method", "time_s", "MMD(P)", "coreset"], title="Compress++ at 2^20"
        )


def kernel_choice_table(args, d, kernel, title):
    """Target KT, power KT and KT+ for one kernel, with goodpoints thin_K as reference."""
    logn = 10 if args.quick else 13
    n, m = 2**logn, logn // 2
    s = n >> m
    X = mixture(n, d, 2000)
    mmd = MMD(X, kernel)
    rows = [{"method": "i.i.d. (median of 20)", "time_s": 0.0, "MMD(P_n)": iid_mmd(mmd, X, s, 20)}]
    for split in ("target", "power", "kt+"):
        res = measure(
            lambda split=split: kernel_thin(
                X, m, kernel=kernel, split_kernel=split, random_state=0
            ),
            repeats=1,
        )
        rows.append(
            {
                "method": f"kernelkit {split} KT",
                "time_s": res["min"],
                "MMD(P_n)": mmd(X[res["result"]]),
            }
        )
    if gp_kt is not None:
        K = dense_K(kernel, X)
        res = measure(lambda: gp_kt.thin_K(K, K, m, delta=0.5, seed=0), repeats=1, warmup=False)
        rows.append(
            {
                "method": "goodpoints thin_K target (K prebuilt, not timed)",
                "time_s": res["min"],
                "MMD(P_n)": mmd(X[res["result"]]),
            }
        )
        alpha = 0.5 if isinstance(kernel, Gaussian) else 0.5 * (d / (d + 1) + 1)
        K_split = K + dense_K(power_kernel(kernel, alpha, d), X)
        res = measure(
            lambda: gp_kt.thin_K(K_split, K, m, delta=0.5, seed=0), repeats=1, warmup=False
        )
        rows.append(
            {
                "method": f"goodpoints thin_K KT+ (α={alpha:.3g}, K prebuilt)",
                "time_s": res["min"],
                "MMD(P_n)": mmd(X[res["result"]]),
            }
        )
    print_table(rows, ["method", "time_s", "MMD(P_n)"], title=f"{title}, n=2^{logn}, s={s}")


def main():
    args = parse_args(
        "Kernel thinning / Compress++: kernelkit vs goodpoints (mixture of Gaussians)."
    )
    main_table(args)
    kernel_choice_table(
        args, 10, Gaussian(bandwidth=math.sqrt(20.0)), "10-D mixture, Gaussian σ²=20"
    )
    kernel_choice_table(args, 2, Laplacian(bandwidth=2.0), "2-D mixture, Laplacian σ=2")


if __name__ == "__main__":
    main()
