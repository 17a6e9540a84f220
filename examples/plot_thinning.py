"""Kernel thinning: a √n coreset that is far closer to the sample than a random one.

Left and middle: from n = 4096 draws of a mixture of four Gaussians, a 64-point
kernel-thinning coreset and a 64-point i.i.d. subsample (with their MMD to the
whole sample). Right: MMD to the sample against coreset size on log axes, for
KT, Compress++ (g=3) and i.i.d. subsampling (median of 5 draws); KT follows the
~1/s reference line, i.i.d. the ~1/√s one.

Run: ``python examples/plot_thinning.py [out.png]``
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from kernelkit import Gaussian, compress_pp, kernel_thin, mmd


def mixture(n, rng):
    centers = np.array([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [-3.0, -3.0]])
    return rng.normal(size=(n, 2)) + centers[rng.integers(4, size=n)]


def main(out="plot_thinning.png"):
    rng = np.random.default_rng(0)
    n = 4096
    X = mixture(n, rng)
    kernel = Gaussian(bandwidth=2.0)  # σ² = 2d, as in the KT paper

    kt_idx = kernel_thin(X, 6, kernel=kernel, random_state=0)
    iid_idx = rng.choice(n, size=kt_idx.size, replace=False)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, idx, name in ((axes[0], kt_idx, "kernel thinning"), (axes[1], iid_idx, "i.i.d.")):
        ax.scatter(X[:, 0], X[:, 1], s=2, c="0.8", label=f"sample (n={n})")
        ax.scatter(X[idx, 0], X[idx, 1], s=18, c="C3", label=f"{name} ({idx.size} points)")
        ax.set_title(f"{name}: MMD = {mmd(X, X[idx], kernel):.4f}")
        ax.set_aspect("equal")
        ax.legend(loc="upper center", fontsize=8)

    sizes, kt_mmd, cpp_mmd, iid_mmd = [], [], [], []
    for m in range(1, 9):
        s = n >> m
        sizes.append(s)
        kt_mmd.append(mmd(X, X[kernel_thin(X, m, kernel=kernel, random_state=m)], kernel))
        cpp = compress_pp(X, 3, kernel=kernel, size=s, random_state=m)
        cpp_mmd.append(mmd(X, X[cpp], kernel))
        draws = [mmd(X, X[rng.choice(n, s, replace=False)], kernel) for _ in range(5)]
        iid_mmd.append(float(np.median(draws)))
    sizes = np.array(sizes)
    ax = axes[2]
    ax.loglog(sizes, kt_mmd, "o-", label="kernel thinning")
    ax.loglog(sizes, cpp_mmd, "s-", label="Compress++ (g=3)")
    ax.loglog(sizes, iid_mmd, "^-", label="i.i.d. (median of 5)")
    ax.loglog(sizes, kt_mmd[-1] * sizes[-1] / sizes, "k:", label="∝ 1/s")
    ax.loglog(sizes, iid_mmd[-1] * np.sqrt(sizes[-1] / sizes), "k--", label="∝ 1/√s")
    ax.set_xlabel("coreset size s")
    ax.set_ylabel("MMD to the n-point sample")
    ax.set_title("MMD vs coreset size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
