"""Which kernel model: Falkon, EigenPro and Nyström + ridge at several model sizes.

Fits ``FalkonClassifier`` (uniform and leverage centers), ``EigenProClassifier``
and scikit-learn's ``Nystroem + RidgeClassifier`` at several numbers of
centers on a Fashion-MNIST subset (scikit-learn's digits when Fashion-MNIST is
not installed) and plots test accuracy against fit time, and Falkon's
preconditioned residual against the conjugate gradient iteration.

Run: ``.venv/bin/python examples/plot_models.py [--n-train 8000]``
(writes ``docs/img/models_example.png``; ``--out`` to change).
"""

import argparse
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline

from kernelkit import EigenProClassifier, FalkonClassifier, Laplacian, LeverageNystroem
from kernelkit.datasets import fashion_mnist_dir, load_fashion_mnist


def load(n_train, n_test):
    if fashion_mnist_dir() is not None:
        X, y = load_fashion_mnist("train")
        Xt, yt = load_fashion_mnist("test")
        return X[:n_train], y[:n_train], Xt[:n_test], yt[:n_test], "Fashion-MNIST", 10.0
    X, y = load_digits(return_X_y=True)
    X = X / 16
    return X[:1400], y[:1400], X[1400:], y[1400:], "digits", 3.0


def timed(fit):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = fit()
    return model, time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--out", default="docs/img/models_example.png")
    args = parser.parse_args()
    X, y, Xt, yt, name, bandwidth = load(args.n_train, args.n_test)
    kernel = Laplacian(bandwidth)
    sizes = [250, 500, 1000, 2000]
    curves = {}
    residuals = {}
    for label, make in [
        ("Falkon, uniform centers", lambda m: FalkonClassifier(kernel, n_centers=m)),
        (
            "Falkon, leverage centers",
            lambda m: FalkonClassifier(kernel, n_centers=m, centers="squeak"),
        ),
        ("EigenPro, 4 epochs", lambda m: EigenProClassifier(kernel, n_centers=m, epochs=4)),
        (
            "Nystroem + RidgeClassifier",
            lambda m: make_pipeline(
                LeverageNystroem(kernel, n_components=m, sampler="uniform", random_state=0),
                RidgeClassifier(alpha=1e-6 * len(X)),
            ),
        ),
    ]:
        points = []
        for m in sizes:
            if m >= len(X):
                continue
            model = make(m)
            if hasattr(model, "random_state"):
                model.set_params(random_state=0)
            model, secs = timed(lambda model=model: model.fit(X, y))
            points.append((secs, model.score(Xt, yt), m))
            if label.startswith("Falkon, uniform"):
                residuals[m] = model.residuals_
            print(f"{label:28s} M={m:5d}  accuracy {points[-1][1]:.4f}  fit {secs:6.2f} s")
        curves[label] = points

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, points in curves.items():
        t, acc, m = zip(*points, strict=True)
        ax.plot(t, acc, "o-", label=label)
        for ti, ai, mi in points:
            ax.annotate(str(mi), (ti, ai), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{name}: accuracy against fit time (labels: M)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    for m, r in residuals.items():
        ax2.semilogy(np.arange(len(r)), r, label=f"M={m}")
    ax2.set_xlabel("conjugate gradient iteration")
    ax2.set_ylabel("relative preconditioned residual")
    ax2.set_title("Falkon convergence")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=70)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
