"""STKR: what unlabeled points buy on concentric circles and on digits.

Left: decision regions on two noisy concentric circles with 3 labels per class,
labeled-only ``KernelRidge`` against ``STKRClassifier`` fitted on the same 6
labels plus 494 unlabeled points. Right: digits held-out accuracy against the
number of labels per class, KernelRidge (labeled only) against STKR (pool of
1500 images, the rest held out; 3 draws per point). Far right: STKR's accuracy
against its bandwidth (as a fraction of the median heuristic), normalised or not.

Run from the repository root::

    .venv/bin/python examples/plot_stkr.py    # writes docs/img/stkr.png
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits, make_circles
from sklearn.kernel_ridge import KernelRidge

from kernelkit import STKRClassifier
from kernelkit.kernels import estimate_bandwidth

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "stkr.png"


def circles_panels(axes):
    X, y = make_circles(500, noise=0.05, factor=0.5, random_state=0)
    picked = np.concatenate([np.flatnonzero(y == c)[:3] for c in (0, 1)])
    y_semi = np.full_like(y, -1)
    y_semi[picked] = y[picked]
    grid = np.stack(np.meshgrid(*2 * [np.linspace(-1.4, 1.4, 200)]), -1).reshape(-1, 2)
    krr = KernelRidge(alpha=1e-2, kernel="rbf", gamma=2.0)
    krr.fit(X[picked], np.where(y[picked] == 1, 1.0, -1.0))
    stkr = STKRClassifier(bandwidth=0.1).fit(X, y_semi)
    for ax, scores, title in (
        (axes[0], krr.predict(grid), "KernelRidge, 6 labels"),
        (axes[1], stkr.decision_function(grid), "STKR, 6 labels + 494 unlabeled"),
    ):
        ax.contourf(
            grid[:, 0].reshape(200, 200),
            grid[:, 1].reshape(200, 200),
            (scores > 0).reshape(200, 200),
            levels=[-0.5, 0.5, 1.5],
            colors=["#c6dbef", "#f4c7c3"],  # coolwarm: class 0 blue, class 1 red,
        )
        ax.scatter(X[:, 0], X[:, 1], c=y, s=4, cmap="coolwarm", alpha=0.5)
        ax.scatter(*X[picked].T, c=y[picked], s=80, cmap="coolwarm", edgecolors="k")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])


def digits_panel(ax, per_class=(1, 2, 3, 5, 10, 20), draws=3):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    sigma = estimate_bandwidth(X[:1500]) / 6
    curves = {"KernelRidge (labeled only)": [], "STKR (inverse Laplacian)": []}
    for k in per_class:
        accs = {name: [] for name in curves}
        for seed in range(draws):
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(X))
            pool, test = order[:1500], order[1500:]
            picked = np.concatenate(
                [rng.choice(np.flatnonzero(y[pool] == c), k, replace=False) for c in range(10)]
            )
            y_semi = np.full(1500, -1)
            y_semi[picked] = y[pool][picked]
            krr = KernelRidge(alpha=1e-2, kernel="rbf", gamma=1 / (2 * (3 * sigma) ** 2))
            krr.fit(X[pool][picked], np.eye(10)[y[pool][picked]])
            accs["KernelRidge (labeled only)"].append(
                np.mean(krr.predict(X[test]).argmax(1) == y[test])
            )
            stkr = STKRClassifier(bandwidth=sigma).fit(X[pool], y_semi)
            accs["STKR (inverse Laplacian)"].append(stkr.score(X[test], y[test]))
        for name in curves:
            curves[name].append(100 * np.mean(accs[name]))
    for name, values in curves.items():
        ax.plot(per_class, values, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("labels per class")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title("digits: 1500 pool, 297 held out", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def bandwidth_panel(ax, factors=(1 / 8, 1 / 6, 1 / 4, 1 / 2, 1), draws=3):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    median = estimate_bandwidth(X[:1500])
    for normalize in (True, False):
        values = []
        for f in factors:
            accs = []
            for seed in range(draws):
                rng = np.random.default_rng(seed)
                order = rng.permutation(len(X))
                pool, test = order[:1500], order[1500:]
                picked = np.concatenate(
                    [rng.choice(np.flatnonzero(y[pool] == c), 3, replace=False) for c in range(10)]
                )
                y_semi = np.full(1500, -1)
                y_semi[picked] = y[pool][picked]
                stkr = STKRClassifier(bandwidth=f * median, normalize=normalize, random_state=0)
                accs.append(stkr.fit(X[pool], y_semi).score(X[test], y[test]))
            values.append(100 * np.mean(accs))
        ax.plot(factors, values, marker="o", label=f"normalize={normalize}")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(factors, ["1/8", "1/6", "1/4", "1/2", "1"])
    ax.set_xlabel("bandwidth / median")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title("digits, 3 labels per class: STKR vs bandwidth", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def main():
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    circles_panels(axes[:2])
    digits_panel(axes[2])
    bandwidth_panel(axes[3])
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
