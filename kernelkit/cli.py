"""Command line: ``python -m kernelkit {demo,bench,info}``.

- ``demo``: the main job — an EigenPro 3 classifier on Fashion-MNIST (or
  scikit-learn's bundled digits when Fashion-MNIST is not installed), with
  test accuracy, fit time and a Nyström + RidgeClassifier comparison.
- ``bench``: a quick kernel-product benchmark of this machine (the full
  benchmarks are the scripts in ``benchmarks/``).
- ``info``: versions, engines, threads and GPU.
"""

import argparse
import platform
import time
from importlib import metadata

import numpy as np


def _info():
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    import kernelkit
    from kernelkit._backend import cpu, engines_available, runtime_report

    print(f"kernelkit {kernelkit.__version__}")
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    for mod in (np, scipy, sklearn):
        print(f"{mod.__name__} {mod.__version__}")
    for name in ("cupy-cuda12x", "dask", "distributed", "goodpoints", "kditransform", "pykeops"):
        try:
            print(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            print(f"{name} (not installed)")
    print(f"cores: {cpu.default_n_threads()}; config: {kernelkit.get_config()}")
    for pool in threadpool_info():
        print(
            f"BLAS/OpenMP: {pool['internal_api']} {pool.get('version')} threads "
            f"{pool['num_threads']} ({pool.get('architecture', '')})"
        )
    for engine, ok in engines_available().items():
        print(f"engine {engine}: {'available' if ok else 'not available'}")
    for line in runtime_report():
        print(line)
    return 0


def _bench(n, d, repeats):
    from sklearn.metrics.pairwise import rbf_kernel

    from kernelkit import Gaussian, KernelOperator

    rng = np.random.default_rng(0)
    print(f"K(X, X) @ v, Gaussian kernel, n={n}, d={d}; min of {repeats} runs after a warm-up\n")
    print("| dtype | kernelkit s | sklearn rbf_kernel @ v s | ratio sklearn/kernelkit |")
    print("|---|---|---|---|")
    for dtype in (np.float32, np.float64):
        X = rng.normal(size=(n, d)).astype(dtype)
        v = rng.normal(size=n).astype(dtype)
        K = KernelOperator(Gaussian(np.sqrt(d)), X)
        gamma = 1.0 / (2 * d)
        times = {}
        cases = [
            ("kk", lambda K=K, v=v: K @ v),
            ("sk", lambda X=X, v=v, gamma=gamma: rbf_kernel(X, gamma=gamma) @ v),
        ]
        for name, fn in cases:
            fn()
            best = np.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            times[name] = best
        print(
            f"| {np.dtype(dtype).name} | {times['kk']:.3f} | {times['sk']:.3f} | "
            f"{times['sk'] / times['kk']:.1f} |"
        )
    return 0


def _load_demo_data(quick):
    from kernelkit.datasets import fashion_mnist_dir, load_fashion_mnist

    if fashion_mnist_dir() is not None:
        X, y = load_fashion_mnist("train")
        X_test, y_test = load_fashion_mnist("test")
        if quick:
            X, y, X_test, y_test = X[:10000], y[:10000], X_test[:2000], y_test[:2000]
        return "Fashion-MNIST", X, y, X_test, y_test
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    print(
        "NOTE: Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist); "
        "falling back to scikit-learn's bundled digits (1797 images)."
    )
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    return "digits", X, y, X_test, y_test


def _demo(quick):
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline

    from kernelkit import EigenProClassifier, estimate_bandwidth

    name, X, y, X_test, y_test = _load_demo_data(quick)
    print(f"{name}: {X.shape[0]} train / {X_test.shape[0]} test images, {X.shape[1]} pixels")
    # Every training image is a center (EigenPro 2 inside EigenPro 3): on 2 cores this gave
    # the best accuracy per second in benchmarks/bench_eigenpro.py (docs/benchmarks.md).
    model = EigenProClassifier(
        kernel="laplacian",
        bandwidth="median",
        centers="all",
        epochs=2,
        random_state=0,
        verbose=1,
    )
    t0 = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - t0
    acc = float(np.mean(model.predict(X_test) == y_test))

    # scikit-learn has no Euclidean Laplacian kernel; its RBF kernel at the same width is the
    # closest peer (its "laplacian" is the L1 kernel).
    bandwidth = estimate_bandwidth(X, "median")
    n_components = min(2000, X.shape[0])
    nystroem = make_pipeline(
        Nystroem(gamma=1 / (2 * bandwidth**2), n_components=n_components, random_state=0),
        RidgeClassifier(alpha=1e-3),
    )
    t0 = time.perf_counter()
    nystroem.fit(X, y)
    ny_s = time.perf_counter() - t0
    ny_acc = float(np.mean(nystroem.predict(X_test) == y_test))
    print()
    print(f"| model ({name}) | centers | test accuracy | fit time s |")
    print("|---|---|---|---|")
    print(
        f"| kernelkit EigenProClassifier (Laplacian, 2 epochs) | {model.n_centers_} | "
        f"{acc:.4f} | {fit_s:.1f} |"
    )
    print(
        f"| sklearn Nystroem (RBF) + RidgeClassifier | {n_components} | {ny_acc:.4f} | "
        f"{ny_s:.1f} |"
    )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m kernelkit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit EigenPro on Fashion-MNIST and compare with Nystroem")
    demo.add_argument("--quick", action="store_true", help="10000 training images")
    bench = sub.add_parser("bench", help="quick kernel-product benchmark")
    bench.add_argument("--n", type=int, default=10000)
    bench.add_argument("--d", type=int, default=32)
    bench.add_argument("--repeats", type=int, default=3)
    sub.add_parser("info", help="versions, engines, threads and GPU")
    args = parser.parse_args(argv)
    if args.command == "info":
        return _info()
    if args.command == "bench":
        return _bench(args.n, args.d, args.repeats)
    return _demo(args.quick)
