"""Graph random features: accuracy, the published estimator, scaling and a downstream task.

Sections (``--section``, default all):

- ``fig2``: the paper's Fig. 2. Relative squared Frobenius error ||K_hat - K||^2 / ||K||^2
  of five kernels (the paper's sigma = 0.5 is beta = 0.25, or beta = 1/3 for the
  Laplacians) against walks per node on karate, ER(100, degree 4), a 10 x 10 grid and a
  planted partition (N = 200); mean over seeds and the log-log slope (about -1).
- ``baseline``: the estimator as published (pure Python walks on adjacency lists, dense
  feature rows, one walk set, uniform neighbours), re-implemented here, against
  ``GraphRandomFeatures`` with the same walks per node and halting probability, on ER
  graphs of degree 10, with both errors.
- ``scaling``: grid, ER (degree 10) and a triangulated torus, N = 1e3 ... ``--max-n``:
  fit time (both feature matrices), ns per deposit, nnz per row, the time of one K v and
  its error against ``scipy.sparse.linalg.expm_multiply``; the log-log time exponent;
  Numba on 1 vs 2 threads and against the NumPy reference engine.
- ``phalt``: ``p_halt="auto"`` against fixed halting probabilities, squared error
  times work, for diffusion and regularised-Laplacian kernels.
- ``longrange``: where GRFs lose: diffusion with beta up to 160 on a 2025-node
  triangulated torus mesh, 64 walks, against ``expm_multiply``.
- ``downstream``: planted partition, 4 classes, mean degree 8, 2% labels: kernel ridge
  (precomputed) on the exact diffusion kernel (beta=5), on the symmetric GRF estimate and
  RidgeClassifier on adjacency rows. ``--large`` adds N = 1e5 (exact route: expm_multiply
  on the labelled columns); ``--section downstream-large`` runs that part alone.

Run from the repository root: ``python benchmarks/bench_grf.py [--quick] [--section S]``.
"""

import os
import random
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import expm_multiply
from scipy.special import factorial

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._runner import measure, parse_args, print_table
from kernelkit import GraphRandomFeatures, config_context, exact_graph_kernel
from kernelkit.graph._exact import walk_matrix
from tests.test_grf import karate


def timed(fn, repeats, warmup=True):
    """Least wall and least process CPU time (all threads) of ``fn()`` over ``repeats`` runs.

    On a shared machine a short run is often descheduled, which inflates wall time;
    CPU time counts only the work done. Returns ``(wall, cpu, result)``.
    """
    result = fn() if warmup else None
    wall = cpu = np.inf
    for _ in range(max(1, repeats)):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu, result


# ----------------------------------------------------------------------------- graphs
def _symmetric(rows, cols, n):
    keep = rows != cols
    A = sp.coo_array((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    A = A + A.T
    A.data[:] = 1.0
    return A.tocsr()


def grid(n):
    side = int(round(np.sqrt(n)))
    path = sp.diags_array([np.ones(side - 1), np.ones(side - 1)], offsets=[-1, 1])
    eye = sp.eye_array(side)
    return sp.csr_array(sp.kron(path, eye) + sp.kron(eye, path))


def erdos_renyi(n, degree, seed=0):
    rng = np.random.default_rng(seed)
    m = n * degree // 2
    return _symmetric(rng.integers(0, n, m), rng.integers(0, n, m), n)


def torus(n):
    side = int(round(np.sqrt(n)))
    idx = np.arange(side * side).reshape(side, side)
    right, down = np.roll(idx, -1, axis=1), np.roll(idx, -1, axis=0)
    diag = np.roll(right, -1, axis=0)
    rows = np.concatenate([idx.ravel()] * 3)
    cols = np.concatenate([right.ravel(), down.ravel(), diag.ravel()])
    return _symmetric(rows, cols, side * side)


def planted_partition(n, degree_in, degree_out, k=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), -(-n // k))[:n]
    rng.shuffle(labels)
    by_class = [np.flatnonzero(labels == c) for c in range(k)]
    m_in, m_out = n * degree_in // 2, n * degree_out // 2
    cls = rng.integers(0, k, m_in)
    rows = np.concatenate(
        [by_class[c][rng.integers(0, by_class[c].size, (cls == c).sum())] for c in range(k)]
    )
    cols = np.concatenate(
        [by_class[c][rng.integers(0, by_class[c].size, (cls == c).sum())] for c in range(k)]
    )
    a, b = rng.integers(0, n, m_out), rng.integers(0, n, m_out)
    cross = labels[a] != labels[b]
    A = _symmetric(np.r_[rows, a[cross]], np.r_[cols, b[cross]], n)
    return A, labels


# ----------------------------------------------------------------------------- published
def published_estimator(A_dense, f, p_halt, n_walks, seed):
    """The paper's code path, rewritten: Python walks, dense rows, one walk set for both sides.

    As published, ``f`` (a Python function of the step) is evaluated afresh for every start
    node up to its longest walk, and every feature row is dense.
    """
    rnd = random.Random(seed)
    n = A_dense.shape[0]
    d = A_dense.sum(1)
    scale = np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0)
    U = A_dense * scale[:, None] * scale[None, :]
    adjacency = [list(np.flatnonzero(U[i])) for i in range(n)]
    Phi = np.zeros((n, n))
    for start in range(n):
        row = Phi[start]
        walks = []
        for _ in range(n_walks):
            walk = [start]
            v = start
            while rnd.random() > p_halt and adjacency[v]:
                v = adjacency[v][int(rnd.random() * len(adjacency[v]))]
                walk.append(v)
            walks.append(walk)
        f_vec = [f(k) for k in range(max(len(w) for w in walks))]
        for walk in walks:
            weight, prob = 1.0, 1.0
            for step, node in enumerate(walk):
                row[node] += weight / prob * f_vec[step]
                if step + 1 < len(walk):
                    weight *= U[node, walk[step + 1]]
                    prob *= (1 - p_halt) / len(adjacency[node])
        row /= n_walks
    return Phi @ Phi.T


def rel_sq(K_hat, K):
    return float(np.sum((K_hat - K) ** 2) / np.sum(K**2))


# ----------------------------------------------------------------------------- sections
FIG2_KERNELS = [
    ("1-reg. Laplacian", "regularized_laplacian", 1 / 3, 1),
    ("2-reg. Laplacian", "regularized_laplacian", 1 / 3, 2),
    ("diffusion", "diffusion", 0.25, None),
    ("2-step", "p_step", 0.25, 2),
    ("cosine", "cosine", 0.25, None),
]


def section_fig2(args):
    graphs = {
        "karate": sp.csr_array(karate()),
        "ER(100)": erdos_renyi(100, 4, seed=1),
        "grid 10x10": grid(100),
        "planted(200)": planted_partition(200, 6, 2, seed=1)[0],
    }
    walks = [2, 4, 8, 16, 32, 64, 128]
    seeds = range(3 if args.quick else 10)
    rows = []
    for gname, A in graphs.items():
        for label, kernel, beta, power in FIG2_KERNELS:
            K = exact_graph_kernel(A, kernel, beta=beta, power=power)
            errs = []
            for m in walks:
                e = [
                    rel_sq(
                        GraphRandomFeatures(
                            kernel, beta=beta, power=power, n_walks=m, p_halt=0.5, random_state=s
                        )
                        .fit(A)
                        .kernel_estimate(),
                        K,
                    )
                    for s in seeds
                ]
                errs.append(np.mean(e))
            slope = np.polyfit(np.log(walks), np.log(errs), 1)[0]
            row = {"graph": gname, "kernel": label}
            row.update({f"m={m}": f"{e:.1e}" for m, e in zip(walks, errs, strict=True)})
            row["slope"] = f"{slope:.2f}"
            rows.append(row)
    cols = ["graph", "kernel", *[f"m={m}" for m in walks], "slope"]
    print_table(rows, cols, title="Fig. 2: relative squared Frobenius error, p_halt = 0.5")


def section_baseline(args):
    sizes = [34, 300, 1000] if args.quick else [34, 300, 1000, 3000]
    n_walks, p_halt, beta = 16, 0.5, 0.25

    def f(k):  # the closed form, evaluated the way the published code does
        return np.exp(-beta / 2) * (beta / 2) ** k / factorial(k)

    rows = []
    for n in sizes:
        A = sp.csr_array(karate()) if n == 34 else erdos_renyi(n, 10, seed=2)
        K = exact_graph_kernel(A, beta=beta)
        dense = A.toarray()
        _, t_pub, K_pub = timed(
            lambda dense=dense: published_estimator(dense, f, p_halt, n_walks, seed=0), 1, False
        )
        grf = GraphRandomFeatures(beta=beta, n_walks=n_walks, p_halt=p_halt, random_state=0)
        _, t_ours, _ = timed(lambda grf=grf, A=A: grf.fit(A), 10 * args.repeats)
        K_ours = grf.kernel_estimate()
        rows.append(
            {
                "N": n,
                "method": "published (rewritten), dense",
                "fit CPU s": t_pub,
                "rel. sq. error": f"{rel_sq(K_pub, K):.2e}",
                "min": t_pub,
            }
        )
        rows.append(
            {
                "N": n,
                "method": "GraphRandomFeatures (Phi1, Phi2)",
                "fit CPU s": t_ours,
                "rel. sq. error": f"{rel_sq(K_ours, K):.2e}",
                "min": t_ours,
                "base": t_pub,
            }
        )
    for r in rows:
        r["speed-up"] = f"{r['base'] / r['min']:.1f}x" if "base" in r else ""
    print_table(
        rows,
        ["N", "method", "fit CPU s", "rel. sq. error", "speed-up"],
        title=f"Published estimator vs kernelkit: diffusion beta={beta}, {n_walks} walks, "
        f"p_halt={p_halt} (published fit includes the dense Gram product)",
    )


def section_scaling(args):
    sizes = [10**3, 10**4] if args.quick else [10**e for e in range(3, 7) if 10**e <= args.max_n]
    makers = {"grid": grid, "ER(deg 10)": lambda n: erdos_renyi(n, 10), "torus": torus}
    n_walks, p_halt, beta = 16, 0.5, 1.0
    rows = []
    times = {g: [] for g in makers}
    rng = np.random.default_rng(0)
    for gname, make in makers.items():
        for n in sizes:
            A = make(n)
            n = A.shape[0]
            grf = GraphRandomFeatures(beta=beta, n_walks=n_walks, p_halt=p_halt, random_state=0)
            wall, cpu, _ = timed(lambda grf=grf, A=A: grf.fit(A), 1 if n >= 10**6 else 3)
            times[gname].append((n, cpu))
            deposits = 2 * n * n_walks / p_halt  # both matrices; no walk stops early here
            v = rng.normal(size=n)
            op = grf.kernel_operator()
            kv = measure(lambda op=op, v=v: op @ v, repeats=3)
            Lt = sp.eye_array(n, format="csr") - walk_matrix(sp.csr_array(A), "symmetric")
            t = time.perf_counter()
            exact = expm_multiply(-beta * Lt, v)
            t_exact = time.perf_counter() - t
            err = np.linalg.norm(kv["result"] - exact) / np.linalg.norm(exact)
            rows.append(
                {
                    "graph": gname,
                    "N": n,
                    "fit s": wall,
                    "fit CPU s": cpu,
                    "ns/deposit": f"{cpu / deposits * 1e9:.0f}",
                    "nnz/row": f"{grf.features_.nnz / n:.1f}",
                    "Kv s": kv["min"],
                    "expm_multiply s": t_exact,
                    "Kv rel. error": f"{err:.3f}",
                }
            )
    print_table(
        rows,
        [
            "graph",
            "N",
            "fit s",
            "fit CPU s",
            "ns/deposit",
            "nnz/row",
            "Kv s",
            "expm_multiply s",
            "Kv rel. error",
        ],
        title=f"Scaling: diffusion beta={beta}, {n_walks} walks, p_halt={p_halt}, Numba engine",
    )
    for gname, pts in times.items():
        if len(pts) > 1:
            ns, ts = np.array(pts).T
            print(f"- {gname}: CPU-time exponent {np.polyfit(np.log(ns), np.log(ts), 1)[0]:.2f}")
    # Threads and engines at the largest size that the NumPy reference handles quickly.
    n = 10**4 if args.quick else 10**5
    rows = []
    for gname in ("grid", "ER(deg 10)"):
        A = makers[gname](n)
        base = None
        for engine, threads in (("numpy", None), ("cpu", 1), ("cpu", 2)):
            grf = GraphRandomFeatures(beta=beta, n_walks=n_walks, p_halt=p_halt, random_state=0)

            def run(grf=grf, A=A, engine=engine, threads=threads):
                with config_context(engine=engine, n_threads=threads):
                    return grf.fit(A)

            wall, cpu, _ = timed(run, args.repeats)
            base = base or wall
            rows.append(
                {
                    "graph": gname,
                    "N": n,
                    "engine": engine,
                    "threads": threads or "-",
                    "fit s": wall,
                    "fit CPU s": cpu,
                    "speed-up vs numpy": f"{base / wall:.2f}",
                }
            )
    print_table(
        rows,
        ["graph", "N", "engine", "threads", "fit s", "fit CPU s", "speed-up vs numpy"],
        title="Engines and threads (same features bit for bit)",
    )


def section_phalt(args):
    """p_halt="auto" against fixed halting probabilities at equal work (karate, ER(100))."""
    cases = [("diffusion", 1.0), ("diffusion", 3.0), ("diffusion", 10.0),
             ("regularized_laplacian", 1.0), ("regularized_laplacian", 4.0)]  # fmt: skip
    fixed = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
    seeds = range(4 if args.quick else 20)
    rows = []
    for gname, A in (("karate", sp.csr_array(karate())), ("ER(100)", erdos_renyi(100, 4, 1))):
        for kernel, beta in cases:
            K = exact_graph_kernel(A, kernel, beta=beta)

            def cost(p_halt, kernel=kernel, beta=beta, A=A, K=K):
                # Mean squared error times expected deposits per walk (1/p): variance x work.
                fits = [GraphRandomFeatures(kernel, beta=beta, n_walks=16, p_halt=p_halt,
                                            random_state=s).fit(A) for s in seeds]  # fmt: skip
                err = np.mean([rel_sq(g.kernel_estimate(), K) for g in fits])
                return err / fits[0].p_halt_, fits[0].p_halt_

            auto, p_auto = cost("auto")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # large fixed p: infinite variance
                costs = {p: cost(p)[0] for p in fixed}
            best = min(costs, key=costs.get)
            rows.append(
                {
                    "graph": gname,
                    "kernel": f"{kernel} beta={beta:g}",
                    "auto p_halt_": f"{p_auto:.3f}",
                    "best fixed p": best,
                    "auto / best": f"{auto / costs[best]:.2f}",
                    "0.5 / best": f"{costs[0.5] / costs[best]:.2f}",
                }
            )
    print_table(
        rows,
        ["graph", "kernel", "auto p_halt_", "best fixed p", "auto / best", "0.5 / best"],
        title="Halting probability: squared error x work (1/p), 16 walks, "
        f"{len(seeds)} seeds; ratios to the best of p in {fixed}",
    )


def section_longrange(args):
    """Where GRFs lose: a long-range kernel on a fine mesh (walks must be ~beta steps long)."""
    rows = []
    A = torus(400 if args.quick else 2025)
    n = A.shape[0]
    Lt = sp.eye_array(n, format="csr") - walk_matrix(A, "symmetric")
    v = np.random.default_rng(0).normal(size=n)
    for beta in (1.0, 10.0, 40.0, 160.0):
        K = exact_graph_kernel(A, beta=beta)
        t = time.perf_counter()
        exact_v = expm_multiply(-beta * Lt, v)
        t_exact = time.perf_counter() - t
        grf = GraphRandomFeatures(beta=beta, n_walks=64, random_state=0)
        _, cpu, _ = timed(lambda grf=grf: grf.fit(A), 1)
        err_v = np.linalg.norm(grf.kernel_operator() @ v - exact_v) / np.linalg.norm(exact_v)
        rows.append(
            {
                "beta": beta,
                "p_halt_": f"{grf.p_halt_:.3f}",
                "fit CPU s": cpu,
                "nnz/row": f"{grf.features_.nnz / n:.0f}",
                "rel. Frobenius error": f"{np.sqrt(rel_sq(grf.kernel_estimate(), K)):.3f}",
                "Kv rel. error": f"{err_v:.3f}",
                "expm_multiply s": t_exact,
            }
        )
    print_table(
        rows,
        [
            "beta",
            "p_halt_",
            "fit CPU s",
            "nnz/row",
            "rel. Frobenius error",
            "Kv rel. error",
            "expm_multiply s",
        ],
        title=f"Long-range diffusion on a triangulated torus mesh, N={n}, 64 walks",
    )


def _krr_accuracy(K_ll, K_ul, y_l, y_u, regularization):
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.preprocessing import LabelBinarizer

    Y = LabelBinarizer().fit_transform(y_l)
    model = KernelRidge(alpha=regularization, kernel="precomputed").fit(K_ll, Y)
    return float(np.mean(np.argmax(model.predict(K_ul), 1) == y_u))


def _adjacency_accuracy(A, lab, unl, labels):
    from sklearn.linear_model import RidgeClassifier

    clf = RidgeClassifier(alpha=1.0).fit(A[lab], labels[lab])
    return float(np.mean(clf.predict(A[unl]) == labels[unl]))


def section_downstream(args):
    beta, reg = 5.0, 1e-2
    walks = [16, 32, 64, 128]
    seeds = range(2 if args.quick else 3)
    n = 1000 if args.quick else 3000
    acc = {"exact kernel": [], "adjacency rows + RidgeClassifier": []}
    acc.update({f"GRF {m} walks": [] for m in walks})
    for s in seeds:
        A, labels = planted_partition(n, 5, 3, seed=s)
        rng = np.random.default_rng(100 + s)
        lab = np.sort(rng.choice(n, int(0.02 * n), replace=False))
        unl = np.setdiff1d(np.arange(n), lab)
        K = exact_graph_kernel(A, beta=beta)
        acc["exact kernel"].append(
            _krr_accuracy(K[np.ix_(lab, lab)], K[np.ix_(unl, lab)], labels[lab], labels[unl], reg)
        )
        acc["adjacency rows + RidgeClassifier"].append(_adjacency_accuracy(A, lab, unl, labels))
        for m in walks:
            grf = GraphRandomFeatures(beta=beta, n_walks=m, random_state=s).fit(A)
            acc[f"GRF {m} walks"].append(
                _krr_accuracy(
                    grf.kernel_estimate(lab, lab, symmetric=True),
                    grf.kernel_estimate(unl, lab, symmetric=True),
                    labels[lab],
                    labels[unl],
                    reg,
                )
            )
    rows = [
        {"method": k, "accuracy": f"{np.mean(v):.3f} +- {np.std(v):.3f}"} for k, v in acc.items()
    ]
    print_table(
        rows,
        ["method", "accuracy"],
        title=f"Planted partition N={n}, 4 classes, degree 5 in + 3 out, 2% labels, "
        f"diffusion beta={beta}, KRR regularization={reg}, {len(seeds)} seeds",
    )
    if args.large:
        _downstream_large(beta, reg)


def section_downstream_large(args):
    """Only the N = 1e5 part of ``downstream``."""
    _downstream_large(5.0, 1e-2)


def _krr_blocks(K_ll, blocks, y_l, y_u, regularization):
    """KRR accuracy with the test kernel rows given block by block (N x labels is large)."""
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.preprocessing import LabelBinarizer

    Y = LabelBinarizer().fit_transform(y_l)
    model = KernelRidge(alpha=regularization, kernel="precomputed").fit(K_ll, Y)
    pred = np.concatenate([np.argmax(model.predict(K_b), 1) for K_b in blocks])
    return float(np.mean(pred == y_u))


def _downstream_large(beta, reg, n=10**5, chunk=200):
    from sklearn.utils import gen_batches

    A, labels = planted_partition(n, 5, 3, seed=0)
    rng = np.random.default_rng(7)
    lab = np.sort(rng.choice(n, int(0.02 * n), replace=False))
    unl = np.setdiff1d(np.arange(n), lab)
    batches = list(gen_batches(unl.size, 10_000))
    Lt = sp.eye_array(n, format="csr") - walk_matrix(A, "symmetric")
    t, c = time.perf_counter(), time.process_time()
    cols = []
    for c0 in range(0, lab.size, chunk):
        E = np.zeros((n, min(chunk, lab.size - c0)))
        E[lab[c0 : c0 + chunk], np.arange(E.shape[1])] = 1.0
        cols.append(expm_multiply(-beta * Lt, E))
    K_l = np.hstack(cols)  # K[:, lab]
    acc_exact = _krr_blocks(
        K_l[lab], (K_l[unl[b]] for b in batches), labels[lab], labels[unl], reg
    )
    t_exact, c_exact = time.perf_counter() - t, time.process_time() - c
    del K_l, cols
    t, c = time.perf_counter(), time.process_time()
    grf = GraphRandomFeatures(beta=beta, n_walks=64, random_state=0).fit(A)
    acc_grf = _krr_blocks(
        grf.kernel_estimate(lab, lab, symmetric=True),
        (grf.kernel_estimate(unl[b], lab, symmetric=True) for b in batches),
        labels[lab],
        labels[unl],
        reg,
    )
    t_grf, c_grf = time.perf_counter() - t, time.process_time() - c
    rows = [
        {
            "method": "exact: expm_multiply on the labelled columns + KRR",
            "s": t_exact,
            "CPU s": c_exact,
            "accuracy": f"{acc_exact:.3f}",
        },
        {
            "method": "GRF 64 walks (fit + KRR)",
            "s": t_grf,
            "CPU s": c_grf,
            "accuracy": f"{acc_grf:.3f}",
            "CPU speed-up": f"{c_exact / c_grf:.1f}x",
        },
    ]
    print_table(
        rows,
        ["method", "s", "CPU s", "accuracy", "CPU speed-up"],
        title=f"Planted partition N={n}, {lab.size} labels, diffusion beta={beta}",
    )


def main():
    def extra(parser):
        parser.add_argument(
            "--section",
            choices=[
                "fig2",
                "baseline",
                "scaling",
                "downstream",
                "longrange",
                "phalt",
                "downstream-large",
            ],
        )
        parser.add_argument("--max-n", type=int, default=10**5, help="largest scaling size")
        parser.add_argument("--large", action="store_true", help="downstream at N = 1e5 too")

    args = parse_args(__doc__.splitlines()[0], extra)
    sections = {
        "fig2": section_fig2,
        "baseline": section_baseline,
        "scaling": section_scaling,
        "downstream": section_downstream,
        "longrange": section_longrange,
        "phalt": section_phalt,
        "downstream-large": section_downstream_large,
    }
    for name, fn in sections.items():
        if args.section == name or (args.section is None and name != "downstream-large"):
            fn(args)


if __name__ == "__main__":
    main()
