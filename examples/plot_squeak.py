"""High-coherence data: SQUEAK keeps the isolated points that uniform landmarks miss.

A dense Gaussian blob of 2000 points plus 8 isolated points, each many
bandwidths away from everything else. An isolated point's ridge leverage score
is k/(k+γ) ≈ 1/2, far above the blob's, so SQUEAK keeps it almost surely; a
uniform sample of the same size catches each with probability m/n.

Left: the data with the SQUEAK landmarks and as many uniform landmarks.
Right: the Nyström residual k(x,x) − k̃(x,x) of every point against its
distance from the blob centre. The uniform sketch leaves the isolated points
unexplained (residual 1); the SQUEAK sketch represents them exactly.

Run: ``python examples/plot_squeak.py [out.png]``
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from kernelkit import LeverageNystroem


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    blob = rng.normal(scale=0.6, size=(2000, 2))
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    isolated = 7.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    return np.vstack([blob, isolated])


def residual_diagonal(transformer, X):
    """k(x, x) − ‖φ(x)‖² = 1 − ‖φ(x)‖² for the Gaussian kernel."""
    Z = transformer.transform(X)
    return 1.0 - np.einsum("ij,ij->i", Z, Z)


def main(out="squeak_coherence.png"):
    X = make_data()
    lev = LeverageNystroem(bandwidth=1.0, regularization=1.0, random_state=0).fit(X)
    uni = LeverageNystroem(
        bandwidth=1.0, n_components=lev.n_components_, sampler="uniform", random_state=0
    ).fit(X)
    isolated = np.arange(2000, len(X))
    kept_lev = np.isin(isolated, lev.component_indices_).sum()
    kept_uni = np.isin(isolated, uni.component_indices_).sum()

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.8))
    ax0.scatter(*X.T, s=3, c="0.75", label="data")
    ax0.scatter(
        *uni.components_.T, s=40, marker="x", c="tab:blue", label=f"uniform ({kept_uni}/8 far)"
    )
    ax0.scatter(
        *lev.components_.T,
        s=40,
        facecolors="none",
        edgecolors="tab:red",
        label=f"SQUEAK ({kept_lev}/8 far)",
    )
    ax0.set_title(f"{lev.n_components_} landmarks each (n = {len(X)})")
    ax0.set_aspect("equal")
    ax0.legend(loc="lower left", fontsize=8)

    radius = np.linalg.norm(X, axis=1)
    # Floor at 1e-12 so the log scale shows round-off-level residuals too.
    for est, color, name in [(uni, "tab:blue", "uniform"), (lev, "tab:red", "SQUEAK")]:
        r = np.maximum(residual_diagonal(est, X), 1e-12)
        ax1.scatter(radius, r, s=6, c=color, label=name, alpha=0.6)
    ax1.set_yscale("log")
    ax1.set_xlabel("distance from the blob centre")
    ax1.set_ylabel("Nyström residual k(x,x) − k̃(x,x)")
    ax1.set_title("Residual per point (Gaussian kernel, bandwidth 1)")
    ax1.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}: SQUEAK kept {kept_lev}/8 isolated points, uniform {kept_uni}/8")


if __name__ == "__main__":
    main(*sys.argv[1:2])
