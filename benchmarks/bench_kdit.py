"""KDITransformer vs kditransform, QuantileTransformer and MinMaxScaler.

Same data, same process: n x 10 features (5 standard normal, 5 lognormal with sigma=1.5),
float64 and float32. Reports fit and transform wall times (min over repeats, JIT warm-up
excluded), the process CPU time of fit + transform (all threads; steadier than wall time
on a shared machine) and the largest deviation from the exact Gaussian-KDE CDF (alpha=1),
measured on one normal and one lognormal feature at 100 random training points by direct
summation over every training value. For kernelkit and kditransform this deviation is an
error; for QuantileTransformer and MinMaxScaler it says how far the two limits are from KDI.

kditransform's exact Gaussian mode is O(n_quantiles * n) per feature (203 s at 1e5 x 10
measured before): it runs here with ``subsample=10_000`` and a single repeat, so its
deviation includes the subsampling error.

Run from the repository root: ``python benchmarks/bench_kdit.py [--quick]``.
"""

import os
import sys
import time
import warnings

import numpy as np
from scipy.special import ndtr

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._runner import measure, parse_args, print_table
from kernelkit import KDITransformer

PROBES = 100
CHECKED = (0, 5)  # one normal and one lognormal feature
GAUSS_SUBSAMPLE = 10_000


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(size=(n, 5)), rng.lognormal(sigma=1.5, size=(n, 5))])


def exact_kdi(col, points, alpha=1.0, chunk=2_000_000):
    """T at ``points`` by summing Phi((x - x_i) / h) over every training value."""
    col = np.asarray(col, dtype=np.float64)
    h = alpha * col.std(ddof=1)
    pts = np.concatenate([[col.min(), col.max()], points])
    total = np.zeros(pts.size)
    step = max(1, chunk // pts.size)
    for start in range(0, col.size, step):
        total += ndtr((pts[:, None] - col[None, start : start + step]) / h).sum(axis=1)
    cdf = total / col.size
    return (cdf[2:] - cdf[0]) / (cdf[1] - cdf[0])


def reference(X, rng):
    rows = rng.choice(X.shape[0], size=PROBES, replace=False)
    exact = {j: exact_kdi(X[:, j], X[rows, j]) for j in CHECKED}
    return rows, exact


def max_deviation(Xt, rows, exact):
    return max(np.abs(np.asarray(Xt[rows, j], dtype=np.float64) - exact[j]).max() for j in CHECKED)


def methods(quick):
    from sklearn.preprocessing import MinMaxScaler, QuantileTransformer

    out = [
        ("kernelkit KDITransformer", lambda: KDITransformer(), None),
        ("QuantileTransformer(subsample=None)", lambda: QuantileTransformer(subsample=None), None),
        ("QuantileTransformer()", lambda: QuantileTransformer(), None),
        ("MinMaxScaler", lambda: MinMaxScaler(), None),
    ]
    try:
        import kditransform
    except ImportError:
        print("kditransform is not installed: its rows are skipped.")
        return out
    out.insert(1, ("kditransform default (polyexp)", lambda: kditransform.KDITransformer(), None))
    out.insert(
        2,
        (
            f"kditransform gaussian, subsample={GAUSS_SUBSAMPLE}",
            lambda: kditransform.KDITransformer(
                kernel="gaussian", subsample=GAUSS_SUBSAMPLE, random_state=0
            ),
            1,
        ),
    )
    return out


def warm_up(entries):
    small = make_data(2000, seed=1)
    for _, make, _ in entries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for dtype in (np.float64, np.float32):
                Xs = small.astype(dtype)
                make().fit(Xs).transform(Xs)


def cpu_timed(fn, record):
    """``fn`` that also appends its process CPU time (all threads) to ``record``.

    On a shared machine wall times swing with the load; CPU time, the work done, is
    steadier, and for multithreaded code it is the honest single-core cost.
    """

    def run():
        t0 = time.process_time()
        result = fn()
        record.append(time.process_time() - t0)
        return result

    return run


def main():
    args = parse_args(__doc__.splitlines()[0])
    sizes = [20_000] if args.quick else [100_000, 1_000_000]
    entries = methods(args.quick)
    warm_up(entries)
    rows = []
    baselines = {}
    for n in sizes:
        data = make_data(n)
        probe_rows, exact = reference(data, np.random.default_rng(1))
        for dtype in (np.float64, np.float32):
            X = data.astype(dtype)
            for name, make, repeats in entries:
                reps = repeats or args.repeats
                fit_cpu, tr_cpu = [], []
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = measure(
                        cpu_timed(lambda make=make, X=X: make().fit(X), fit_cpu), reps, False
                    )
                    est = fit["result"]
                    tr = measure(
                        cpu_timed(lambda est=est, X=X: est.transform(X), tr_cpu), reps, False
                    )
                Xt = tr["result"]
                row = {
                    "n x d": f"{n:.0e} x {X.shape[1]}",
                    "dtype": np.dtype(dtype).name,
                    "method": name,
                    "fit (s)": fit["min"],
                    "transform (s)": tr["min"],
                    "total (s)": fit["min"] + tr["min"],
                    "total CPU (s)": min(fit_cpu) + min(tr_cpu),
                    "out dtype": np.asarray(Xt).dtype.name,
                    "max |T - exact|": max_deviation(Xt, probe_rows, exact),
                }
                rows.append(row)
                if name.startswith("QuantileTransformer(subsample=None)"):
                    baselines[(n, row["dtype"])] = row
                print(f"  done: {row['n x d']} {row['dtype']} {name}", file=sys.stderr)
    for row in rows:
        row["max |T - exact|"] = f"{row['max |T - exact|']:.1e}"
    print_table(
        rows,
        ["n x d", "dtype", "method", "fit (s)", "transform (s)", "total (s)", "total CPU (s)"]
        + ["out dtype", "max |T - exact|"],
        title="KDI transform (ratio: total time / QuantileTransformer(subsample=None))",
        baseline=lambda r: baselines.get((int(float(r["n x d"].split()[0])), r["dtype"])),
        key="total (s)",
    )


if __name__ == "__main__":
    main()
