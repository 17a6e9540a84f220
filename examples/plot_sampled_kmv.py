"""Sampled Gaussian kernel products: time against n, and softmax attention.

Left: seconds per product on clustered 3-D data (σ at the cluster scale,
c ≈ 12) for the exact ``KernelOperator``, the first sampled product
(construction included) and later sampled products, on log-log axes; bars
span the fastest and slowest of three runs. Right: the error of
``softmax_attention`` against the exact softmax, row by row, on keys with
a few matching queries each (keys of equal norm, so the
Gaussian products see the values themselves).

Run: ``python examples/plot_sampled_kmv.py`` (about a minute); it writes
``docs/img/sampled_kmv.png``.
"""

import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax

from benchmarks.bench_sampled_kmv import clustered
from kernelkit import KernelOperator, SampledGaussianOperator, softmax_attention

EPS = 0.05


def timings(n, repeats=3):
    X = clustered(n, 3)
    x = np.random.default_rng(0).normal(size=n)
    K = KernelOperator("gaussian", X, bandwidth=1.0)
    out = {"exact": [], "first": [], "later": []}
    for seed in range(repeats):
        t0 = time.perf_counter()
        exact = K @ x
        out["exact"].append(time.perf_counter() - t0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            op = SampledGaussianOperator(X, bandwidth=1.0, eps=EPS, random_state=seed)
            y = op @ x
            out["first"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        y = op @ x
        out["later"].append(time.perf_counter() - t0)
        err = np.linalg.norm(y - exact) / np.linalg.norm(x)
    return out, err, op.strategy_


def main():
    sizes = [2000, 4000, 8000, 16000]
    results = {}
    for n in sizes:
        results[n], err, strategy = timings(n)
        print(f"n={n}: {strategy}, error/|x| = {err:.4f}, exact {min(results[n]['exact']):.3f} s")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, colour in (("exact", "k"), ("first", "C0"), ("later", "C1")):
        mins = np.array([min(results[n][name]) for n in sizes])
        maxs = np.array([max(results[n][name]) for n in sizes])
        left.errorbar(
            sizes, mins, yerr=[np.zeros_like(mins), maxs - mins], fmt="o-", color=colour,
            label={"exact": "exact KernelOperator", "first": "sampled, first (with build)",
                   "later": "sampled, later"}[name],
        )  # fmt: skip
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("n (queries = keys)")
    left.set_ylabel("seconds per product")
    left.set_title(f"clustered d=3, eps={EPS}")
    left.legend(fontsize=8)

    rng = np.random.default_rng(0)
    # Keys of norm 4 (as after a layer norm) in clustered directions, queries near keys.
    keys = clustered(3000, 16, spread=0.2, random_state=0)
    keys -= keys.mean(axis=0)
    keys *= 4.0 / np.linalg.norm(keys, axis=1, keepdims=True)
    queries = keys[rng.integers(0, 3000, size=2000)] + 0.05 * rng.normal(size=(2000, 16))
    values = rng.normal(size=3000)
    exact = softmax(queries @ keys.T, axis=1) @ values
    approx = softmax_attention(queries, keys, values, eps=EPS, random_state=0, fallback="never")
    right.hist(np.abs(approx - exact), bins=40, color="C2")
    right.set_yscale("log")
    right.set_xlabel("|softmax_attention - exact| per row")
    right.set_ylabel("rows")
    right.set_title("attention, 2000 queries x 3000 keys, d=16")
    fig.tight_layout()
    out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "img")
    os.makedirs(out, exist_ok=True)
    fig.savefig(os.path.join(out, "sampled_kmv.png"), dpi=80)
    print("max attention error:", float(np.abs(approx - exact).max()))


if __name__ == "__main__":
    main()
