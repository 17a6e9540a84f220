"""STKR against labeled-only kernel ridge and scikit-learn's semi-supervised peers.

Run from the repository root::

    .venv/bin/python benchmarks/bench_stkr.py                      # digits, 10 draws
    .venv/bin/python benchmarks/bench_stkr.py --fashion --pool 10000 --labels 100

digits (pixels / 16): a pool of 1500 images with 3 labels per class, the other
297 images held out; 10 random draws. Peers: ``KernelRidge`` on the 30
labeled images (RBF, the best (γ, α) of a grid, chosen on the held-out
accuracy averaged over the draws: optimistic for the peer), ``LabelSpreading``
(rbf γ=2; knn k=10), ``SelfTrainingClassifier(SVC(probability=True))``, and
STKR's three transformations. σ = median/6 is the bandwidth the prototype
found (the rbf γ=2 of LabelSpreading is σ = 0.5 ≈ median/6 too); one row
shows the default median bandwidth.

Fashion-MNIST (``--fashion``, pixels in [0, 1]): a pool of the first
``--pool`` training images with ``--labels`` of them labeled (stratified),
scored on the first ``--n-test`` test images. Peers: ``KernelRidge``
(Euclidean Laplacian kernel from kernelkit, labeled only), ``LabelSpreading``
(knn), ``SelfTrainingClassifier(SVC, max_iter=3)``, STKR with the radial
Laplacian kernel, and STKR on the kNN graph kernel (I + D^-1/2 W D^-1/2)/2
(``kernel="precomputed"``, sparse; test points enter through their k
neighbours in the pool). The kernel-product column counts products with
K(X_fit, X_fit) in units of one matrix-vector product (see ``_Counting``).

Accuracy is the mean ± std over draws; fit time the median over draws (wall
time, prediction excluded); peak memory the tracemalloc peak of one fit.
"""

import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scipy.sparse as sp
from _runner import machine_line, parse_args
from sklearn.datasets import load_digits
from sklearn.kernel_ridge import KernelRidge
from sklearn.neighbors import NearestNeighbors
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

import kernelkit.models._stkr_core as core
from kernelkit import KernelOperator, STKRClassifier
from kernelkit.kernels import estimate_bandwidth


def _extra(parser):
    parser.add_argument("--draws", type=int, default=10, help="random label draws (digits)")
    parser.add_argument("--fashion", action="store_true", help="run the Fashion-MNIST part")
    parser.add_argument("--pool", type=int, default=60000, help="Fashion-MNIST pool size")
    parser.add_argument("--labels", type=int, default=600, help="Fashion-MNIST labeled images")
    parser.add_argument("--n-test", type=int, default=10000, help="Fashion-MNIST test images")
    parser.add_argument("--neighbors", type=int, default=10, help="kNN graph degree")
    parser.add_argument("--skip-digits", action="store_true")


def _timed_fit(make, X, y, memory):
    gc.collect()
    if memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    model = make().fit(X, y)
    seconds = time.perf_counter() - t0
    peak = None
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return model, seconds, peak


def _print(rows, title):
    print(f"\n### {title}\n")
    print(f"<!-- {machine_line()} -->")
    print("| method | accuracy (%) | ± std | fit time (s) | peak memory (MiB) | notes |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        peak = f"{r['peak']:.0f}" if r.get("peak") is not None else ""
        print(
            f"| {r['name']} | {100 * r['mean']:.1f} | {100 * r['std']:.1f} | "
            f"{r['time']:.3g} | {peak} | {r.get('notes', '')} |"
        )
    sys.stdout.flush()


def _summary(name, accs, times, peak, notes=""):
    return {
        "name": name,
        "mean": float(np.mean(accs)),
        "std": float(np.std(accs)),
        "time": statistics.median(times),
        "peak": peak,
        "notes": notes,
    }


# -- digits ---------------------------------------------------------------------------------
def _digit_draws(n_draws):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    for seed in range(n_draws):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(X))
        pool, test = order[:1500], order[1500:]
        picked = np.concatenate(
            [rng.choice(np.flatnonzero(y[pool] == c), 3, replace=False) for c in range(10)]
        )
        y_pool = np.full(1500, -1)
        y_pool[picked] = y[pool][picked]
        yield X[pool], y_pool, picked, X[test], y[test]


def _krr_grid(draws):
    """Labeled-only KernelRidge: accuracy of each (γ, α) averaged over the draws."""
    grid = [(g, a) for g in (0.5, 1.0, 2.0, 4.0, 8.0) for a in (1e-3, 1e-2, 1e-1, 1.0)]
    scores = {key: [] for key in grid}
    times = {key: [] for key in grid}
    for X, y_pool, picked, X_test, y_test in draws:
        Y = np.eye(10)[y_pool[picked]]
        for gamma, alpha in grid:
            t0 = time.perf_counter()
            krr = KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma).fit(X[picked], Y)
            times[(gamma, alpha)].append(time.perf_counter() - t0)
            scores[(gamma, alpha)].append(np.mean(krr.predict(X_test).argmax(1) == y_test))
    best = max(grid, key=lambda k: np.mean(scores[k]))
    return best, scores[best], times[best]


def run_digits(n_draws):
    draws = list(_digit_draws(n_draws))
    median = estimate_bandwidth(draws[0][0])
    sigma = median / 6
    methods = [
        ("LabelSpreading rbf γ=2", lambda: LabelSpreading(kernel="rbf", gamma=2, max_iter=1000)),
        ("LabelSpreading knn k=10", lambda: LabelSpreading(kernel="knn", n_neighbors=10)),
        (
            "SelfTraining(SVC(probability=True))",
            lambda: SelfTrainingClassifier(SVC(probability=True, random_state=0)),
        ),
        (
            "STKR inverse Laplacian, normalised, σ=median/6",
            lambda: STKRClassifier(bandwidth=sigma),
        ),
        (
            "STKR inverse Laplacian, unnormalised, σ=median/6",
            lambda: STKRClassifier(bandwidth=sigma, normalize=False, random_state=0),
        ),
        ("STKR inverse Laplacian, normalised, default σ=median", lambda: STKRClassifier()),
        (
            "STKR polynomial λ², normalised, σ=median/6",
            lambda: STKRClassifier(bandwidth=sigma, transformation="polynomial"),
        ),
        (
            "STKR polynomial λ⁸, normalised, σ=median/6",
            lambda: STKRClassifier(
                bandwidth=sigma, transformation="polynomial", coefs=(0,) * 7 + (1,)
            ),
        ),
        (
            "STKR kPCA d=50 (dense eigh), normalised, σ=median/6",
            lambda: STKRClassifier(
                bandwidth=sigma, transformation="kpca", n_components=50, eigen_solver="dense"
            ),
        ),
    ]
    rows = []
    best, accs, times = _krr_grid(draws)
    rows.append(
        _summary(
            "KernelRidge rbf, labeled only (best of grid)",
            accs,
            times,
            None,
            f"γ={best[0]}, α={best[1]}",
        )
    )
    for name, make in methods:
        accs, times, peak = [], [], None
        for i, (X, y_pool, _, X_test, y_test) in enumerate(draws):
            model, seconds, p = _timed_fit(make, X, y_pool, memory=i == 0)
            peak = p if i == 0 else peak
            accs.append(np.mean(model.predict(X_test) == y_test))
            times.append(seconds)
        notes = ""
        if isinstance(model, STKRClassifier):
            notes = f"solver_={model.solver_}, n_iter_={model.n_iter_}"
        rows.append(_summary(name, accs, times, peak, notes))
        print(f"  done: {name}", file=sys.stderr)
    _print(rows, f"digits: 1500 pool, 297 held out, 3 labels per class, {n_draws} draws")
    krr, ls_rbf = rows[0]["mean"], rows[1]["mean"]
    stkr = rows[4]["mean"]
    print(
        f"\nSTKR (normalised inverse Laplacian) − KernelRidge: {100 * (stkr - krr):+.1f} points "
        f"(target ≥ +5); − LabelSpreading rbf: {100 * (stkr - ls_rbf):+.1f} points "
        "(target ≥ −1)."
    )


# -- Fashion-MNIST --------------------------------------------------------------------------
class _Counting(KernelOperator):
    """Counts products with the square K(X_fit, X_fit): passes (each computes its N² kernel
    values once, about one K·v at d = 784) and columns multiplied. Installed in place of
    the STKR core's KernelOperator for the radial STKR rows only (instrumentation)."""

    passes = 0
    columns = 0

    @classmethod
    def reset(cls):
        cls.passes = cls.columns = 0

    def _product(self, V, transpose):
        if self.shape[0] == self.shape[1]:
            _Counting.passes += 1
            _Counting.columns += V.shape[1]
        return super()._product(V, transpose)


def _knn_graph_kernel(X_pool, X_test, k):
    """(I + D^-1/2 W D^-1/2)/2 on the pool, and its rows for the test points."""
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X_pool)
    ind = nn.kneighbors(X_pool, return_distance=False)[:, 1:]
    n = len(X_pool)
    W = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), ind.ravel())), (n, n))
    W = W.maximum(W.T)
    d = np.asarray(W.sum(axis=1)).ravel()
    s = sp.diags(1 / np.sqrt(d))
    K = ((sp.identity(n) + s @ W @ s) / 2).tocsr()
    ind_t = nn.kneighbors(X_test, n_neighbors=k, return_distance=False)
    m = len(X_test)
    W_t = sp.csr_matrix((np.ones(m * k), (np.repeat(np.arange(m), k), ind_t.ravel())), (m, n))
    K_t = (W_t @ s / (2 * np.sqrt(k))).tocsr()
    return K, K_t


def run_fashion(pool, n_labels, n_test, k):
    from kernelkit.datasets import load_fashion_mnist

    X_all, y_all = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    X, y = X_all[:pool], y_all[:pool]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    rng = np.random.default_rng(0)
    per = n_labels // 10
    picked = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per, replace=False) for c in range(10)]
    )
    y_pool = np.full(pool, -1)
    y_pool[picked] = y[picked]
    median = estimate_bandwidth(X, random_state=0)
    # Warm-up: the first kernel product compiles the Numba engine (seconds, not the fit's cost).
    KernelOperator("laplacian", X[:50], bandwidth=median) @ np.ones(50, dtype=X.dtype)
    core.KernelOperator = _Counting
    rows = []

    def add(name, fit, predict, notes=""):
        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        model = fit()
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        acc = np.mean(predict(model) == y_test)
        rows.append(_summary(name, [acc], [seconds], peak, notes(model) if notes else ""))
        print(f"  done: {name} ({seconds:.1f} s)", file=sys.stderr)

    Y = np.eye(10)[y[picked]]
    for factor in (1.0, 0.5):
        bw = median * factor
        op_lab = KernelOperator("laplacian", X[picked], bandwidth=bw)
        add(
            f"KernelRidge Laplacian σ={factor:g}·median, labeled only",
            lambda bw=bw, op_lab=op_lab: KernelRidge(alpha=1e-3, kernel="precomputed").fit(
                op_lab.to_dense(), Y
            ),
            lambda m, bw=bw: m.predict(
                KernelOperator("laplacian", X_test, X[picked], bandwidth=bw).to_dense()
            ).argmax(1),
        )
    add(
        f"LabelSpreading knn k={k}",
        lambda: LabelSpreading(kernel="knn", n_neighbors=k, max_iter=100).fit(X, y_pool),
        lambda m: m.predict(X_test),
    )
    add(
        "SelfTraining(SVC, max_iter=3)",
        lambda: SelfTrainingClassifier(SVC(probability=True, random_state=0), max_iter=3).fit(
            X[picked.tolist() + list(range(min(pool, 5000)))],
            y_pool[picked.tolist() + list(range(min(pool, 5000)))],
        ),
        lambda m: m.predict(X_test),
        notes=lambda m: "unlabeled part capped at 5000 rows (SVC is O(n²))",
    )
    for transformation, kw in (
        ("inverse_laplacian", {}),
        ("polynomial", {"coefs": (0.0, 1.0)}),
        ("kpca", {"n_components": 100}),
    ):

        def fit(transformation=transformation, kw=kw):
            _Counting.reset()
            return STKRClassifier(
                kernel="laplacian",
                bandwidth=median / 2,
                transformation=transformation,
                random_state=0,
                **kw,
            ).fit(X, y_pool)

        add(
            f"STKR {transformation} Laplacian σ=median/2 (radial)",
            fit,
            lambda m: m.predict(X_test),
            notes=lambda m: (
                f"solver_={m.solver_}, n_iter_={m.n_iter_}, "
                f"{_Counting.passes} passes over K(X_fit, X_fit) ({_Counting.columns} columns)"
            ),
        )
    t0 = time.perf_counter()
    K, K_t = _knn_graph_kernel(X, X_test, k)
    graph_seconds = time.perf_counter() - t0
    add(
        f"STKR inverse Laplacian on the kNN graph kernel k={k}",
        lambda: STKRClassifier(kernel="precomputed", normalize=False).fit(K, y_pool),
        lambda m: m.predict(K_t),
        notes=lambda m: (
            f"solver_={m.solver_}, n_iter_={m.n_iter_}; graph build "
            f"{graph_seconds:.1f} s not in the fit time"
        ),
    )
    _print(
        rows,
        f"Fashion-MNIST: pool {pool} ({n_labels} labeled), {n_test} test images",
    )


def main():
    args = parse_args(__doc__.splitlines()[0], _extra)
    with threadpool_limits(limits=1, user_api="blas"):
        if not args.skip_digits:
            run_digits(3 if args.quick else args.draws)
        if args.fashion:
            pool = 3000 if args.quick else args.pool
            run_fashion(pool, args.labels, args.n_test, args.neighbors)


if __name__ == "__main__":
    main()
