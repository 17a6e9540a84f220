"""The L1 Laplacian against the Euclidean kernels on one-hot features.

Left: level sets of k(x, 0) in 2-D for ``L1Laplacian`` (diamonds: each
coordinate adds its own |x_j|) and the Euclidean ``Laplacian`` (circles).
Right: test R² of ``FalkonRegressor`` against the number of centers M on
diamonds (first 6000 rows, 26 standardised features of which 20 one-hot, log
price) for ``L1Laplacian(20)``, ``Laplacian(4)`` and ``Gaussian(4)``.

Run: ``python examples/plot_l1_laplacian.py [out.png]``
"""

import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from kernelkit import FalkonRegressor, Gaussian, L1Laplacian, Laplacian
from kernelkit.datasets import load_rdataset


def main(out="plot_l1_laplacian.png"):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    grid = np.linspace(-2, 2, 161)
    P = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    origin = np.zeros((1, 2))
    levels = [0.2, 0.4, 0.6, 0.8]
    for kernel, color in [(L1Laplacian(1.0), "C0"), (Laplacian(1.0), "C1")]:
        values = kernel(P, origin)[:, 0].reshape(len(grid), len(grid))
        ax1.contour(grid, grid, values, levels=levels, colors=color)
        ax1.plot([], [], color=color, label=repr(kernel))
    ax1.set_aspect("equal")
    ax1.set_title("level sets of k(x, 0) = 0.2, ..., 0.8")
    ax1.legend(fontsize=8, loc="lower left")

    X, y, _ = load_rdataset("ggplot2", "diamonds", log_target=True)
    X, y = np.asarray(X, dtype=np.float64)[:6000], np.asarray(y, dtype=np.float64)[:6000]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    centers = [125, 250, 500, 1000]
    kernels = [L1Laplacian(20.0), Laplacian(4.0), Gaussian(4.0)]
    for kernel in kernels:
        scores = []
        for m in centers:
            model = FalkonRegressor(kernel, n_centers=m, regularization=1e-6, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(Xtr, ytr)
            scores.append(model.score(Xte, yte))
        ax2.semilogx(centers, scores, "o-", label=repr(kernel))
        print(repr(kernel), [f"{s:.4f}" for s in scores])
    ax2.set_xticks(centers, [str(m) for m in centers])
    ax2.minorticks_off()
    ax2.set_xlabel("Falkon centers M")
    ax2.set_ylabel("test R² (log price)")
    ax2.set_title(f"diamonds, n_train={len(Xtr)}")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"saved {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
