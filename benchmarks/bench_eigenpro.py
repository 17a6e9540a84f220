"""EigenPro vs scikit-learn on Fashion-MNIST (classification) and diamonds (regression).

Run from the repository root::

    .venv/bin/python benchmarks/bench_eigenpro.py --quick
    .venv/bin/python benchmarks/bench_eigenpro.py --n-train 60000 --centers 2000 5000 10000

Table 1, Fashion-MNIST (pixels in [0, 1]): kernelkit EigenPro with the
Euclidean Laplacian kernel at several model sizes p (delayed projection; one
row with EigenPro 3's projection after every batch; one row with
``EigenProClassifier()``'s defaults; optionally Z = X, i.e. EigenPro 2),
against scikit-learn ``Nystroem(n_components=p) + RidgeClassifier`` and
exact ``KernelRidge`` on a subset. scikit-learn has no
Euclidean Laplacian kernel (its "laplacian" is the L1 kernel), so Nystroem
runs its RBF kernel (median-heuristic width) and KernelRidge gets the very
Laplacian kernel matrix EigenPro uses, precomputed by kernelkit.

Table 2, ``diamonds`` (log price, 53940 × 26): EigenProRegressor against
``StandardScaler + Nystroem + Ridge``; test R².

Every method is fitted once (these fits take minutes; repeats would not fit the
time budget of a shared machine); fit time is wall time, peak memory is the
tracemalloc peak of the fit (NumPy allocations included).
"""

import gc
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import parse_args, print_table
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kernelkit import (
    EigenProClassifier,
    EigenProRegressor,
    KernelOperator,
    Laplacian,
    LeverageNystroem,
)
from kernelkit.datasets import load_fashion_mnist, load_rdataset
from kernelkit.kernels import estimate_bandwidth


def _extra(parser):
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--centers", type=int, nargs="+", default=[2000, 5000, 10000, 20000])
    parser.add_argument("--epochs", type=int, default=3, help="EigenPro epochs")
    parser.add_argument("--all-centers", action="store_true", help="add the Z = X row")
    parser.add_argument("--nystroem", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--krr-subset", type=int, default=15000)
    parser.add_argument(
        "--every-batch",
        type=int,
        default=5000,
        help="p of the row with projection='every_batch' (0: none)",
    )
    parser.add_argument("--reg-epochs", type=int, default=10, help="EigenPro epochs, diamonds")
    parser.add_argument("--skip-regression", action="store_true")
    parser.add_argument(
        "--no-defaults", action="store_true", help="skip the EigenProClassifier() row"
    )


def fit_once(fn):
    """Run ``fn`` once under tracemalloc: (result, seconds, peak MiB)."""
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def fashion(args):
    X, y = load_fashion_mnist("train")
    Xt, yt = load_fashion_mnist("test")
    n, n_test = min(args.n_train, len(X)), min(args.n_test, len(Xt))
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(X), size=n, replace=False))
    X, y = X[idx], y[idx]
    Xt, yt = Xt[:n_test], yt[:n_test]
    bandwidth = estimate_bandwidth(X, "median")
    print(f"Fashion-MNIST: n_train={n}, n_test={n_test}, median bandwidth {bandwidth:.3f}")
    rows = []

    def eigenpro(p, projection="delayed", centers="uniform", defaults=False):
        if defaults:
            clf = EigenProClassifier(random_state=0)
        else:
            clf = EigenProClassifier(
                kernel="laplacian",
                bandwidth=bandwidth,
                n_centers=p,
                centers=centers,
                epochs=args.epochs,
                projection=projection,
                random_state=0,
            )
        clf, secs, peak = fit_once(lambda: clf.fit(X, y))
        label = "Z = X" if centers == "all" else f"p={clf.n_centers_}"
        rows.append(
            {
                "method": "EigenProClassifier()" if defaults else f"EigenPro ({projection})",
                "centers": label,
                "accuracy": clf.score(Xt, yt),
                "fit_s": secs,
                "peak_mib": peak,
                "epochs": clf.n_iter_,
            }
        )
        curve = " ".join(f"{v:.4f}" for v in clf.loss_curve_)
        print(
            rows[-1],
            f"batch={clf.batch_size_} q={clf.preconditioner_rank_} "
            f"solver={getattr(clf, 'projection_solver_', '-')} loss_curve=[{curve}]",
            flush=True,
        )

    for p in args.centers:
        if p < n:
            eigenpro(p)
    if 0 < args.every_batch < n:
        eigenpro(args.every_batch, "every_batch")
    if args.all_centers:
        eigenpro(n, centers="all")
    if not args.no_defaults:
        eigenpro(None, defaults=True)

    gamma = 1.0 / (2.0 * bandwidth**2)
    for p in args.nystroem:
        if not 0 < p <= n:
            continue
        # sklearn has no Euclidean Laplacian kernel: its Nystroem runs the RBF kernel. The
        # same-kernel row uses kernelkit's Nystroem with uniform landmarks (sklearn's method).
        peers = [
            (
                "sklearn Nystroem(rbf) + RidgeClassifier",
                Nystroem(kernel="rbf", gamma=gamma, n_components=p, random_state=0),
            ),
            (
                "uniform Nystroem(laplacian) + RidgeClassifier",
                LeverageNystroem(
                    kernel="laplacian",
                    bandwidth=bandwidth,
                    n_components=p,
                    sampler="uniform",
                    random_state=0,
                ),
            ),
        ]
        for label, features in peers:
            model = make_pipeline(features, RidgeClassifier(alpha=1e-3))
            model, secs, peak = fit_once(lambda model=model: model.fit(X, y))
            rows.append(
                {
                    "method": label,
                    "centers": f"p={p}",
                    "accuracy": model.score(Xt, yt),
                    "fit_s": secs,
                    "peak_mib": peak,
                }
            )
            print(rows[-1], flush=True)

    m = min(args.krr_subset, n)
    if m:
        Xs, ys = X[:m].astype(np.float64), y[:m]
        kernel = Laplacian(bandwidth)
        onehot = np.eye(10)[ys]

        def krr():
            K = KernelOperator(kernel, Xs).to_dense()
            return KernelRidge(alpha=1e-3, kernel="precomputed").fit(K, onehot)

        model, secs, peak = fit_once(krr)
        scores = KernelOperator(kernel, Xt.astype(np.float64), Xs) @ model.dual_coef_
        accuracy = float(np.mean(scores.argmax(axis=1) == yt))
        rows.append(
            {
                "method": "sklearn KernelRidge (Laplacian, precomputed)",
                "centers": f"n={m} subset",
                "accuracy": accuracy,
                "fit_s": secs,
                "peak_mib": peak,
            }
        )
        print(rows[-1], flush=True)
    base = rows[0]
    print_table(
        rows,
        ["method", "centers", "epochs", "accuracy", "fit_s", "peak_mib"],
        title="Fashion-MNIST, Laplacian kernel: test accuracy, fit time, peak memory",
        baseline=lambda row: base,
        key="fit_s",
    )


def diamonds(args):
    X, y, _ = load_rdataset("ggplot2", "diamonds", log_target=True)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if args.quick:
        X, y = X[:8000], y[:8000]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    Xtr_s, Xte_s = scaler.transform(Xtr), scaler.transform(Xte)
    bandwidth = estimate_bandwidth(Xtr_s, "median")
    print(f"diamonds: n_train={len(Xtr)}, n_test={len(Xte)}, median bandwidth {bandwidth:.3f}")
    rows = []
    sizes = [500, 2000] if args.quick else [1000, 4000]
    for p in sizes:
        reg = EigenProRegressor(
            kernel="laplacian",
            bandwidth=bandwidth,
            n_centers=p,
            epochs=args.reg_epochs,
            random_state=0,
        )
        reg, secs, peak = fit_once(lambda reg=reg: reg.fit(Xtr_s, ytr))
        rows.append(
            {
                "method": "EigenPro (Laplacian)",
                "centers": f"p={p}",
                "r2": reg.score(Xte_s, yte),
                "fit_s": secs,
                "peak_mib": peak,
            }
        )
        print(rows[-1], flush=True)
        for kernel, gamma in (("rbf", 1.0 / (2 * bandwidth**2)), ("laplacian", None)):
            nys = make_pipeline(
                Nystroem(kernel=kernel, gamma=gamma, n_components=p, random_state=0),
                Ridge(alpha=1e-3),
            )
            nys, secs, peak = fit_once(lambda nys=nys: nys.fit(Xtr_s, ytr))
            rows.append(
                {
                    "method": f"sklearn Nystroem({kernel}) + Ridge",
                    "centers": f"p={p}",
                    "r2": nys.score(Xte_s, yte),
                    "fit_s": secs,
                    "peak_mib": peak,
                }
            )
            print(rows[-1], flush=True)
    base = rows[0]
    print_table(
        rows,
        ["method", "centers", "r2", "fit_s", "peak_mib"],
        title="diamonds (log price): test R², fit time, peak memory",
        baseline=lambda row: base,
        key="fit_s",
    )


def main():
    args = parse_args(__doc__.splitlines()[0], _extra)
    if args.quick:
        args.n_train, args.n_test = 6000, 2000
        args.centers, args.nystroem = [500, 1000], [500, 1000]
        args.krr_subset, args.every_batch, args.epochs = 3000, 1000, 2
    fashion(args)
    if not args.skip_regression:
        diamonds(args)


if __name__ == "__main__":
    main()
