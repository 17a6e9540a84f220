"""Sampled Gaussian kernel products (SampledGaussianOperator) against exact and truncated ones.

For each data set and size, in one process on the same data and x:

- ``exact clamped``: blocked NumPy GEMM + ``exp`` with the exponent clamped at -600
  (the issue's baseline: NumPy's ``exp`` is many times slower on subnormal results,
  which most far pairs of clustered data produce; the clamp changes no output);
  the baseline of the ratios;
- ``KernelOperator``: ``KernelOperator("gaussian") @ x`` as it is today (no clamp);
- ``first``: construction of ``SampledGaussianOperator`` plus its first product;
- ``later``: a later product of the same operator (the heavy matrix is reused);
- peers: ``sklearn.neighbors.KernelDensity(rtol=1e-2)`` (dual tree; x = all-ones
  only, since it sums non-negative weights), and the kd-tree truncation
  K ≈ {K >= 1e-4} (``cKDTree.sparse_distance_matrix``, no light part, no bound).
  pykeops (block-sparse reductions) is not installable here and is skipped.

Data sets (``clustered`` and ``attention_like`` are also used by the tests):
clustered d = 3 and d = 8 (clusters of 50 points, σ at the cluster scale,
c ≈ 10-12) and attention-like d = 64 with Z ≠ X (groups of three matching keys
over a log-normal background, c ≈ 8 at n = 4000).

Exact products above ``--max-exact`` are not run (they take minutes on two
shared cores); their time is extrapolated as n^2 from the largest measured
size and marked ``~``, and no error is reported for them.

Run: ``python benchmarks/bench_sampled_kmv.py [--quick] [--sizes 1e4 3e4 1e5]``.
"""

import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from benchmarks._runner import measure, parse_args, print_table

EPS = 0.05


def clustered(n, d, *, per_cluster=50, spread=None, spacing=6.0, random_state=0):
    """Gaussian clusters of ``per_cluster`` points, std ``spread``, centres ~``spacing`` apart.

    With bandwidth 1 and the default spread (1 for d <= 4, 0.5 above) the
    sparsity c of Indyk et al. is about 10-12 at every n.
    """
    rng = np.random.default_rng(random_state)
    spread = (1.0 if d <= 4 else 0.5) if spread is None else spread
    k = max(1, n // per_cluster)
    centres = rng.uniform(0, spacing * k ** (1.0 / d), size=(k, d))
    return centres[rng.integers(0, k, size=n)] + spread * rng.normal(size=(n, d))


def attention_like(n, m, d=64, *, matches=3, random_state=0):
    """Queries and keys: groups of ``matches`` near-identical keys, log-normal norms.

    Each query sits near one key group; every other key is a background
    entry. Scaled for bandwidth 1 (c ≈ 8 at n = m = 4000).
    """
    rng = np.random.default_rng(random_state)
    groups = max(1, m // matches)
    base = rng.normal(size=(groups, d)) * np.exp(0.25 * rng.normal(size=(groups, 1)))
    Z = base[rng.integers(0, groups, size=m)] + 0.3 * rng.normal(size=(m, d))
    X = base[rng.integers(0, groups, size=n)] + 0.3 * rng.normal(size=(n, d))
    return X / 2.75, Z / 2.75


def _fit(points):
    """Exponent and log-intercept of time = e^b n^a over (n, time) points."""
    if len(points) < 2:
        return np.nan, np.nan
    ns, ts = np.asarray(points, dtype=float).T
    slope, intercept = np.polyfit(np.log(ns), np.log(ts), 1)
    return float(slope), float(intercept)


def clamped_exact(X, Z, x, block=2048):
    """Exact K x for bandwidth 1, exponents clamped at -600 (no subnormal exp)."""
    shift = Z.mean(axis=0)
    Zc = Z - shift
    zsq = np.einsum("ij,ij->i", Zc, Zc)
    out = np.empty(len(X))
    for s in range(0, len(X), block):
        Xb = X[s : s + block] - shift
        G = Xb @ Zc.T
        # x.z - |x|^2/2 - |z|^2/2 = -|x - z|^2 / 2, in place
        G -= 0.5 * np.einsum("ij,ij->i", Xb, Xb)[:, None]
        G -= 0.5 * zsq[None, :]
        np.minimum(G, 0.0, out=G)
        np.maximum(G, -600.0, out=G)
        np.exp(G, out=G)
        out[s : s + block] = G @ x
    return out


def _kde_peer(X, Z, x):
    from sklearn.neighbors import KernelDensity

    kde = KernelDensity(bandwidth=1.0, rtol=1e-2).fit(Z)
    norm = (2 * np.pi) ** (X.shape[1] / 2) / len(Z)
    return lambda: np.exp(kde.score_samples(X)) / norm * x[0]


def _truncation_peer(X, Z, x):
    from scipy.spatial import cKDTree

    def run():
        tx = cKDTree(X)
        tz = tx if Z is X else cKDTree(Z)
        pairs = tx.sparse_distance_matrix(tz, np.sqrt(2 * np.log(1e4)), output_type="ndarray")
        y = np.zeros(len(X))
        np.add.at(y, pairs["i"], np.exp(-0.5 * pairs["v"] ** 2) * x[pairs["j"]])
        return y

    return run


def run_case(name, X, Z, x, args, exact_anchor):
    from kernelkit import KernelOperator, SampledGaussianOperator

    n = len(X)
    Zk = X if Z is None else Z
    K = KernelOperator("gaussian", X, Z, bandwidth=1.0)
    row = {"data": name, "n": n}
    if n <= args.max_exact:
        ex = measure(lambda: clamped_exact(X, Zk, x), repeats=1, warmup=False)
        row["exact (s)"], y_exact = ex["min"], ex["result"]
        row["KernelOperator (s)"] = measure(lambda: K @ x, repeats=1, warmup=False)["min"]
    else:
        # n^2 from the largest measured size: the exact product's operation count.
        n0, t0 = exact_anchor
        row["exact (s)"], y_exact = t0 * (n / n0) ** 2, None
        row["note"] = "~exact (n^2)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        op = SampledGaussianOperator(X, Z, bandwidth=1.0, eps=EPS, random_state=0)
        y = op @ x
        row["first (s)"] = time.perf_counter() - t0
    later = measure(lambda: op @ x, repeats=args.repeats, warmup=False)
    row["later (s)"] = later["min"]
    row["first x"] = row["exact (s)"] / row["first (s)"]
    row["later x"] = row["exact (s)"] / row["later (s)"]
    if y_exact is not None:
        row["err/‖x‖"] = float(np.linalg.norm(y - y_exact) / np.linalg.norm(x))
    row["c"] = op.sparsity_
    row["strategy"] = op.strategy_
    row["heavy/row"] = op.n_heavy_pairs_ / n
    row["s"] = op.n_light_samples_
    row["work"] = op.work_ratio_
    if n <= args.max_peer:
        ones = np.ones(len(Zk))
        tr = measure(_truncation_peer(X, Zk, x), repeats=1, warmup=False)
        row["kd trunc (s)"] = tr["min"]
        if y_exact is not None:
            row["trunc err"] = float(np.linalg.norm(tr["result"] - y_exact) / np.linalg.norm(x))
        if name != "attention d=64":
            kd = measure(_kde_peer(X, Zk, ones), repeats=1, warmup=False)
            ex1 = measure(lambda: K @ ones, repeats=1, warmup=False)
            row["KDE(1) (s)"] = kd["min"]
            row["KDE/exact(1)"] = kd["min"] / ex1["min"]
    return row


def main():
    args = parse_args(
        __doc__.splitlines()[0],
        extra=lambda p: (
            p.add_argument("--sizes", type=float, nargs="+", default=None),
            p.add_argument("--max-exact", type=float, default=3e4),
            p.add_argument("--max-peer", type=float, default=3e4),
            p.add_argument("--datasets", nargs="+", default=["d3", "d8", "att"]),
        ),
    )
    sizes = [int(s) for s in (args.sizes or ([2000, 5000] if args.quick else [1e4, 3e4, 1e5]))]
    makers = {
        "d3": ("clustered d=3", lambda n: (clustered(n, 3), None)),
        "d8": ("clustered d=8", lambda n: (clustered(n, 8), None)),
        "att": ("attention d=64", lambda n: attention_like(n, n)),
    }
    columns = [
        "data", "n", "exact (s)", "KernelOperator (s)", "first (s)", "later (s)",
        "first x", "later x", "err/‖x‖", "c", "strategy", "heavy/row", "s", "work",
        "kd trunc (s)", "trunc err", "KDE(1) (s)", "KDE/exact(1)", "note",
    ]  # fmt: skip
    fits = []
    for key in args.datasets:
        name, make = makers[key]
        rows, exact_pts = [], []
        for n in sizes:
            X, Z = make(n)
            x = np.random.default_rng(1).normal(size=len(X if Z is None else Z))
            row = run_case(name, X, Z, x, args, exact_pts[-1] if exact_pts else (n, np.nan))
            if "note" not in row:
                exact_pts.append((n, row["exact (s)"]))
            rows.append(row)
            print(f"# {name} n={n}: done", file=sys.stderr, flush=True)
        print_table(rows, columns, title=f"{name}, eps={EPS}, delta=0.01")
        e_slope, e_icpt = _fit(exact_pts)
        f_slope, f_icpt = _fit([(r["n"], r["first (s)"]) for r in rows])
        l_slope, _ = _fit([(r["n"], r["later (s)"]) for r in rows])
        cross = np.exp((f_icpt - e_icpt) / (e_slope - f_slope)) if e_slope > f_slope else np.nan
        fits.append(
            {
                "data": name,
                "exact exponent": e_slope,
                "first exponent": f_slope,
                "later exponent": l_slope,
                "crossover n (first = exact)": float(cross),
            }
        )
    print_table(fits, list(fits[0]), title="fitted exponents (log-log least squares)")


if __name__ == "__main__":
    main()
