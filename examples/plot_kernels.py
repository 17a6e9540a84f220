"""Kernel profiles and the cost of a kernel matrix-vector product.

Left: k(r) for every built-in kernel at bandwidth 1. Right: time of
K(X, X) @ v against n for kernelkit's KernelOperator and for scikit-learn's
``rbf_kernel(X, X) @ v`` (which stores the n × n matrix), min of 3 runs.

Run: ``python examples/plot_kernels.py [out.png]``
"""

import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics.pairwise import rbf_kernel

from kernelkit import (
    Cauchy,
    Gaussian,
    InverseMultiquadric,
    KernelOperator,
    Laplacian,
    Matern,
)


def best_time(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(out="plot_kernels.png"):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    r = np.linspace(0, 4, 200)[:, None]
    origin = np.zeros((1, 1))
    kernels = [
        Gaussian(1.0),
        Laplacian(1.0),
        Matern(1.0, nu=1.5),
        Matern(1.0, nu=2.5),
        Cauchy(1.0),
        InverseMultiquadric(1.0),
    ]
    for k in kernels:
        ax1.plot(r[:, 0], k(r, origin)[:, 0], label=repr(k))
    ax1.set_xlabel("distance r")
    ax1.set_ylabel("k(r)")
    ax1.legend(fontsize=7)
    ax1.set_title("kernel profiles")

    rng = np.random.default_rng(0)
    sizes = [1000, 2000, 4000, 8000, 16000]
    ours, theirs = [], []
    for n in sizes:
        X = rng.normal(size=(n, 32)).astype(np.float32)
        v = rng.normal(size=n).astype(np.float32)
        K = KernelOperator(Gaussian(np.sqrt(32)), X)
        ours.append(best_time(lambda K=K, v=v: K @ v))
        theirs.append(best_time(lambda X=X, v=v: rbf_kernel(X, gamma=1 / 64) @ v))
    ax2.loglog(sizes, ours, "o-", label="kernelkit KernelOperator")
    ax2.loglog(sizes, theirs, "s-", label="sklearn rbf_kernel(X, X) @ v")
    ax2.set_xlabel("n (d = 32, float32)")
    ax2.set_ylabel("seconds")
    ax2.set_title("K(X, X) @ v")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"saved {out}; speed-up at n={sizes[-1]}: {theirs[-1] / ours[-1]:.1f}x")


if __name__ == "__main__":
    main(*sys.argv[1:])
