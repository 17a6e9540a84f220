"""Graph random features: kernel error and downstream accuracy against walks per node.

Left: relative Frobenius error of the GRF estimate of three node kernels on Zachary's
karate club (mean over 5 seeds), with the 1/sqrt(walks) slope for reference.
Right: accuracy of kernel ridge regression on a planted partition (N = 1000, 4 classes,
mean degree 8, 2% of the nodes labelled) with the symmetric GRF estimate of the
diffusion kernel (beta = 5), against the exact kernel and adjacency rows.

Run: ``python examples/plot_grf.py [out.png]``
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifier
from sklearn.preprocessing import LabelBinarizer

from kernelkit import GraphRandomFeatures, exact_graph_kernel

KARATE_EDGES = (
    "0-1 0-2 0-3 0-4 0-5 0-6 0-7 0-8 0-10 0-11 0-12 0-13 0-17 0-19 0-21 0-31 1-2 1-3 1-7 "
    "1-13 1-17 1-19 1-21 1-30 2-3 2-7 2-8 2-9 2-13 2-27 2-28 2-32 3-7 3-12 3-13 4-6 4-10 "
    "5-6 5-10 5-16 6-16 8-30 8-32 8-33 9-33 13-33 14-32 14-33 15-32 15-33 18-32 18-33 "
    "19-33 20-32 20-33 22-32 22-33 23-25 23-27 23-29 23-32 23-33 24-25 24-27 24-31 25-31 "
    "26-29 26-33 27-33 28-31 28-33 29-32 29-33 30-32 30-33 31-32 31-33 32-33"
)
WALKS = [2, 4, 8, 16, 32, 64, 128]


def karate():
    pairs = np.array([e.split("-") for e in KARATE_EDGES.split()], dtype=int)
    A = sp.coo_array((np.ones(len(pairs)), pairs.T), shape=(34, 34)).toarray()
    return A + A.T


def planted_partition(n, degree_in, degree_out, seed):
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 4)
    same = labels[:, None] == labels[None, :]
    p = np.where(same, degree_in / (n / 4), degree_out / (3 * n / 4))
    A = np.triu(rng.random((n, n)) < p, 1).astype(float)
    return A + A.T, labels


def krr_accuracy(K_ll, K_ul, y_l, y_u):
    model = KernelRidge(alpha=1e-2, kernel="precomputed")
    model.fit(K_ll, LabelBinarizer().fit_transform(y_l))
    return np.mean(model.predict(K_ul).argmax(1) == y_u)


def main(out="docs/img/grf.png"):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    A = karate()
    for kernel, beta in [("diffusion", 1.0), ("regularized_laplacian", 1.0), ("cosine", 0.5)]:
        K = exact_graph_kernel(A, kernel, beta=beta)
        errors = [
            np.mean(
                [
                    np.linalg.norm(
                        GraphRandomFeatures(kernel, beta=beta, n_walks=m, random_state=s)
                        .fit(A)
                        .kernel_estimate()
                        - K
                    )
                    / np.linalg.norm(K)
                    for s in range(5)
                ]
            )
            for m in WALKS
        ]
        ax1.loglog(WALKS, errors, "o-", label=f"{kernel}, beta={beta}")
    ax1.loglog(WALKS, 0.3 / np.sqrt(WALKS), "k:", label="1/sqrt(walks)")
    ax1.set(xlabel="walks per node", ylabel="relative Frobenius error", title="Karate club")
    ax1.legend(fontsize=7)

    n = 1000
    A, labels = planted_partition(n, 5, 3, seed=0)
    rng = np.random.default_rng(1)
    lab = np.sort(rng.choice(n, n // 50, replace=False))
    unl = np.setdiff1d(np.arange(n), lab)
    K = exact_graph_kernel(A, beta=5.0)
    exact = krr_accuracy(K[np.ix_(lab, lab)], K[np.ix_(unl, lab)], labels[lab], labels[unl])
    adjacency = np.mean(RidgeClassifier().fit(A[lab], labels[lab]).predict(A[unl]) == labels[unl])
    accuracy = []
    for m in WALKS:
        grf = GraphRandomFeatures(beta=5.0, n_walks=m, random_state=0).fit(A)
        K_ll = grf.kernel_estimate(lab, lab, symmetric=True)
        K_ul = grf.kernel_estimate(unl, lab, symmetric=True)
        accuracy.append(krr_accuracy(K_ll, K_ul, labels[lab], labels[unl]))
    ax2.semilogx(WALKS, accuracy, "o-", label="GRF estimate + KRR")
    ax2.axhline(exact, color="k", ls="--", label="exact kernel + KRR")
    ax2.axhline(adjacency, color="gray", ls=":", label="adjacency rows + ridge")
    ax2.set(xlabel="walks per node", ylabel="accuracy", title="Planted partition, 2% labels")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"saved {out}; exact {exact:.3f}, GRF {accuracy[-1]:.3f} at {WALKS[-1]} walks")


if __name__ == "__main__":
    main(*sys.argv[1:])
