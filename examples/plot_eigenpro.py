"""EigenPro on Fashion-MNIST: delayed vs every-batch projection, and model size.

Trains ``EigenProClassifier`` (Laplacian kernel) on a subset of Fashion-MNIST
and plots test accuracy against epochs and against wall time for

- EigenPro 3's projection after every batch (``projection="every_batch"``),
- the delayed projection (``projection="delayed"``, the default), at two
  model sizes p.

Repeated ``partial_fit`` on the full training set continues the same run as
``fit`` with more epochs, which lets us score the model after every epoch.
Falls back to scikit-learn's digits when Fashion-MNIST is not installed.

Run: ``.venv/bin/python examples/plot_eigenpro.py [--n-train 6000] [--out eigenpro.png]``
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from kernelkit import EigenProClassifier
from kernelkit.datasets import fashion_mnist_dir, load_fashion_mnist


def load(n_train, n_test):
    if fashion_mnist_dir() is None:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        return X[:1400], y[:1400], X[1400:], y[1400:], "digits (Fashion-MNIST not installed)"
    X, y = load_fashion_mnist("train")
    Xt, yt = load_fashion_mnist("test")
    idx = np.random.default_rng(0).choice(len(X), size=n_train, replace=False)
    return X[idx], y[idx], Xt[:n_test], yt[:n_test], f"Fashion-MNIST, {n_train} training images"


def accuracy_per_epoch(X, y, Xt, yt, epochs, **params):
    clf = EigenProClassifier(kernel="laplacian", epochs=1, random_state=0, **params)
    accuracies, seconds = [], []
    elapsed = 0.0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        if epoch == 0:
            clf.fit(X, y)
        else:
            clf.partial_fit(X, y)
        elapsed += time.perf_counter() - t0
        accuracies.append(clf.score(Xt, yt))
        seconds.append(elapsed)
    return np.array(accuracies), np.array(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="docs/img/eigenpro.png")
    args = parser.parse_args()
    X, y, Xt, yt, name = load(args.n_train, args.n_test)
    # A batch well below p, so that the delayed projection waits several batches (T ≈ p/m).
    batch = max(50, len(X) // 12)
    p_small = max(100, len(X) // 10)
    p_large = max(200, len(X) // 2)
    runs = {
        f"every batch, p={p_large}": dict(n_centers=p_large, projection="every_batch"),
        f"delayed, p={p_large}": dict(n_centers=p_large, projection="delayed"),
        f"delayed, p={p_small}": dict(n_centers=p_small, projection="delayed"),
    }
    for params in runs.values():
        params["batch_size"] = batch
    fig, (ax_epoch, ax_time) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for label, params in runs.items():
        acc, secs = accuracy_per_epoch(X, y, Xt, yt, args.epochs, **params)
        print(f"{label:24s} accuracy per epoch {np.round(acc, 4)}  total {secs[-1]:.1f} s")
        epochs = np.arange(1, args.epochs + 1)
        ax_epoch.plot(epochs, acc, marker="o", label=label)
        ax_time.plot(secs, acc, marker="o", label=label)
    ax_epoch.set_xlabel("epoch")
    ax_epoch.set_ylabel("test accuracy")
    ax_time.set_xlabel("fit time (s)")
    ax_epoch.legend()
    fig.suptitle(f"EigenProClassifier, Laplacian kernel, batch {batch} — {name}")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
