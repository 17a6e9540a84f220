"""Which kernel model: Falkon, EigenPro and scikit-learn peers on diamonds and Fashion-MNIST.

Run from the repository root::

    .venv/bin/python benchmarks/bench_models.py --quick      # a few minutes
    .venv/bin/python benchmarks/bench_models.py              # the recorded tables

Table 1, ``diamonds`` (ggplot2, 26 standardised features, log price, the split
of ``bench_eigenpro.py``): ``FalkonRegressor`` against ``Nystroem + Ridge``
with the same kernel and the same λ (Ridge's α = λ·n, since Falkon's
objective is Σ(f(x_i) − y_i)² + λ·n·‖f‖²; Falkon runs with
``fit_intercept=True``, the unpenalised intercept that Ridge fits), for a
Gaussian kernel (bandwidth 4), the Euclidean Laplacian and scikit-learn's L1 Laplacian (kernelkit's
``L1Laplacian``; Nyström uses ``sklearn.metrics.pairwise.laplacian_kernel``),
plus EigenPro.

Table 2, Fashion-MNIST (pixels in [0, 1], Euclidean Laplacian kernel,
bandwidth 10): ``FalkonClassifier`` at several M with uniform and leverage
centers, the exact Nyström kernel ridge solution with the same centers and
λ (a dense solve of the normal equations), ``Nystroem + RidgeClassifier``
(kernelkit's uniform Nyström with the same kernel, as sklearn has no
Euclidean Laplacian), EigenPro at several p and with centers="all", exact
``KernelRidge`` on a subset, and ``FalkonClassifier()`` with no arguments.

Every method is fitted once (fits take minutes on a shared machine); fit time
is wall time. ``--plot`` writes accuracy (R²) against fit time to
docs/img/models.png.
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import linalg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import parse_args, print_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from kernelkit import (
    EigenProClassifier,
    EigenProRegressor,
    FalkonClassifier,
    FalkonRegressor,
    Gaussian,
    KernelOperator,
    L1Laplacian,
    Laplacian,
    LeverageNystroem,
)
from kernelkit.datasets import load_fashion_mnist, load_rdataset

LAMBDA = 1e-6


def _extra(parser):
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--falkon", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--leverage", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--eigenpro", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--eigenpro-all", action="store_true", help="EigenPro with Z = X")
    parser.add_argument("--nystroem", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--krr-subset", type=int, default=10000)
    parser.add_argument("--diamonds-m", type=int, default=4000)
    parser.add_argument("--skip-fashion", action="store_true")
    parser.add_argument("--skip-diamonds", action="store_true")
    parser.add_argument("--plot", default="docs/img/models.png", help="'' for no plot")


def timed(fn):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        out = fn()
    return out, time.perf_counter() - t0


def nystroem_krr(kernel, X, Z, Y, lam):
    """Dense solve of (K_nMᵀK_nM + λnK_MM) a = K_nMᵀY: the optimum Falkon iterates toward."""
    # float64 throughout: K_nMᵀK_nM formed in float32 loses the small eigenvalues that λ
    # (1e-6·n) barely lifts, and the normal matrix is then numerically singular.
    Z = Z.astype(np.float64)
    K = KernelOperator(kernel, X.astype(np.float64), Z).to_dense()
    H = K.T @ K
    H += lam * len(X) * KernelOperator(kernel, Z).to_dense()
    return linalg.solve(H, K.T @ Y.astype(np.float64), assume_a="pos")


def diamonds(args, rows):
    X, y, _ = load_rdataset("ggplot2", "diamonds", log_target=True)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if args.quick:
        X, y = X[:8000], y[:8000]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    n, M = len(Xtr), min(args.diamonds_m, len(Xtr))
    print(f"diamonds: n_train={n}, n_test={len(Xte)}, M={M}, λ={LAMBDA:g}", flush=True)
    table = []
    kernels = [
        ("Gaussian bw 4", Gaussian(4.0), dict(kernel="rbf", gamma=1 / 32)),
        ("Laplacian (L2) bw 4", Laplacian(4.0), None),
        ("L1 Laplacian bw 20", L1Laplacian(20.0), dict(kernel="laplacian", gamma=1 / 20)),
    ]
    for name, kernel, sk in kernels:
        falkon, secs = timed(
            lambda k=kernel: FalkonRegressor(
                k, n_centers=M, regularization=LAMBDA, fit_intercept=True, random_state=0
            ).fit(Xtr, ytr)
        )
        base = {"data": "diamonds", "kernel": name, "method": f"FalkonRegressor M={M}"}
        table.append(
            {**base, "score": falkon.score(Xte, yte), "fit_s": secs, "iter": falkon.n_iter_}
        )
        print(table[-1], flush=True)
        if sk is not None:
            features = Nystroem(n_components=M, random_state=0, **sk)
        else:
            features = LeverageNystroem(kernel, n_components=M, sampler="uniform", random_state=0)
        peer = make_pipeline(features, Ridge(alpha=LAMBDA * n))
        peer, secs = timed(lambda p=peer: p.fit(Xtr, ytr))
        label = "sklearn Nystroem" if sk is not None else "uniform LeverageNystroem"
        table.append(
            {
                **base,
                "method": f"{label}({M}) + Ridge",
                "score": peer.score(Xte, yte),
                "fit_s": secs,
            }
        )
        print(table[-1], flush=True)
    for p in (1000, M):
        ep, secs = timed(
            lambda p=p: EigenProRegressor(
                kernel=Laplacian(4.0), n_centers=p, epochs=10, random_state=0
            ).fit(Xtr, ytr)
        )
        table.append(
            {
                "data": "diamonds",
                "kernel": "Laplacian (L2) bw 4",
                "method": f"EigenProRegressor p={p}",
                "score": ep.score(Xte, yte),
                "fit_s": secs,
                "iter": ep.n_iter_,
            }
        )
        print(table[-1], flush=True)
    print_table(
        table,
        ["kernel", "method", "score", "fit_s", "iter"],
        title=f"diamonds (log price): test R², fit time (n_train={n}, λ={LAMBDA:g})",
    )
    rows.extend(table)


def fashion(args, rows):
    X, y = load_fashion_mnist("train")
    Xt, yt = load_fashion_mnist("test")
    n, n_test = min(args.n_train, len(X)), min(args.n_test, len(Xt))
    idx = np.sort(np.random.default_rng(0).choice(len(X), size=n, replace=False))
    X, y, Xt, yt = X[idx], y[idx], Xt[:n_test], yt[:n_test]
    kernel = Laplacian(10.0)
    print(f"Fashion-MNIST: n_train={n}, n_test={n_test}, Laplacian bw 10, λ={LAMBDA:g}")
    table = []

    def add(method, model, secs, **extra):
        acc = model.score(Xt, yt) if hasattr(model, "score") else model
        table.append({"data": "fashion", "method": method, "score": acc, "fit_s": secs, **extra})
        print(table[-1], flush=True)

    for M in args.falkon:
        if M > n:
            continue
        clf, secs = timed(
            lambda M=M: FalkonClassifier(
                kernel, n_centers=M, regularization=LAMBDA, fit_intercept=True, random_state=0
            ).fit(X, y)
        )
        add(f"FalkonClassifier M={M} uniform", clf, secs, iter=clf.n_iter_)
        if M == max(m for m in args.falkon if m <= n):
            Y = LabelBinarizer().fit_transform(y).astype(np.float32)
            mean = Y.mean(axis=0)  # Falkon's intercept: the targets' mean, unpenalised
            coef, secs = timed(
                lambda Z=clf.centers_, Y=Y - mean: nystroem_krr(kernel, X, Z, Y, LAMBDA)
            )
            scores = KernelOperator(kernel, Xt, clf.centers_) @ coef.astype(np.float32) + mean
            add(
                f"Nyström KRR, same {M} centers (dense solve)",
                float(np.mean(scores.argmax(1) == yt)),
                secs,
            )
    for M in args.leverage:
        if M > n:
            continue
        clf, secs = timed(
            lambda M=M: FalkonClassifier(
                kernel,
                n_centers=M,
                centers="squeak",
                regularization=LAMBDA,
                fit_intercept=True,
                random_state=0,
            ).fit(X, y)
        )
        add(f"FalkonClassifier M={M} leverage", clf, secs, iter=clf.n_iter_)
    for M in args.nystroem:
        if M > n:
            continue
        pipe = make_pipeline(
            LeverageNystroem(kernel, n_components=M, sampler="uniform", random_state=0),
            RidgeClassifier(alpha=LAMBDA * n),
        )
        pipe, secs = timed(lambda p=pipe: p.fit(X, y))
        add(f"Nystroem({M}) + RidgeClassifier", pipe, secs)
    for p in args.eigenpro:
        if p > n:
            continue
        ep, secs = timed(
            lambda p=p: EigenProClassifier(kernel, n_centers=p, epochs=4, random_state=0).fit(X, y)
        )
        add(f"EigenProClassifier p={p}, 4 epochs", ep, secs, iter=ep.n_iter_)
    if args.eigenpro_all:
        ep, secs = timed(
            lambda: EigenProClassifier(kernel, centers="all", epochs=2, random_state=0).fit(X, y)
        )
        add("EigenProClassifier centers='all', 2 epochs", ep, secs, iter=ep.n_iter_)
    m = min(args.krr_subset, n)
    if m:

        def krr():
            K = KernelOperator(kernel, X[:m].astype(np.float64)).to_dense()
            return KernelRidge(alpha=LAMBDA * m, kernel="precomputed").fit(K, np.eye(10)[y[:m]])

        model, secs = timed(krr)
        scores = KernelOperator(kernel, Xt.astype(np.float64), X[:m]) @ model.dual_coef_
        add(f"KernelRidge on {m} rows", float(np.mean(scores.argmax(1) == yt)), secs)
    default, secs = timed(lambda: FalkonClassifier().fit(X, y))
    add("FalkonClassifier() (defaults)", default, secs, iter=default.n_iter_)
    print_table(
        table,
        ["method", "score", "fit_s", "iter"],
        title=f"Fashion-MNIST: test accuracy, fit time (n_train={n}, Laplacian bw 10)",
    )
    rows.extend(table)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    families = ["Falkon", "leverage", "Nyström KRR", "Nystroem", "EigenPro", "KernelRidge"]
    markers = dict(zip(families, "os^vDx", strict=True))
    for ax, data, label in (
        (axes[0], "fashion", "test accuracy"),
        (axes[1], "diamonds", "test R²"),
    ):
        for family in families:
            pts = [
                r
                for r in rows
                if r["data"] == data
                and family in r["method"]
                and not (family == "Falkon" and "leverage" in r["method"])
            ]
            if pts:
                ax.scatter(
                    [r["fit_s"] for r in pts],
                    [r["score"] for r in pts],
                    marker=markers[family],
                    label=family,
                )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("fit time (s)")
        ax.set_ylabel(label)
        ax.set_title("Fashion-MNIST" if data == "fashion" else "diamonds")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main():
    args = parse_args(__doc__.splitlines()[0], _extra)
    if args.quick:
        args.n_train, args.n_test, args.krr_subset = 10000, 2000, 3000
        args.falkon, args.leverage, args.nystroem = [1000, 2000], [1000], [1000, 2000]
        args.eigenpro, args.diamonds_m = [2000], 2000
    rows = []
    if not args.skip_diamonds:
        diamonds(args, rows)
    if not args.skip_fashion:
        fashion(args, rows)
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
