"""Kernel matrix-vector products: kernelkit's KernelOperator against its peers.

K(X, X) @ v for the Gaussian and Laplacian (Euclidean) kernels, float32 and
float64, all in one process on the same data:

- ``kernelkit``: KernelOperator, CPU engine (threaded GEMM + Numba + SIMD exp).
- ``numpy-blocked``: 2048-row blocks of BLAS GEMM, in-place ``np.exp``, GEMV.
- ``sklearn``: ``rbf_kernel(X, X) @ v`` / ``exp(-euclidean_distances / h) @ v``
  (materialises the n × n matrix).
- ``pykeops``: LazyTensor reduction (CPU build; skipped when not installed).
- on a machine with CuPy and a GPU: kernelkit on CuPy arrays (fused numba.cuda
  kernel and the blocked CuPy path).

The ``GEMM %`` column is the distance GEMM's 2·n²·d flops divided by the time,
as a fraction of this machine's measured square-GEMM throughput in that dtype.

Run: ``python benchmarks/bench_matvec.py [--quick] [--n N] [--d D]``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel

from benchmarks._runner import measure, parse_args, print_table
from kernelkit import Gaussian, KernelOperator, Laplacian, config_context
from kernelkit._backend import cupy_usable


def numpy_blocked(X, v, kernel, block=2048):
    bw = X.dtype.type(kernel.bandwidth)
    sq = np.einsum("ij,ij->i", X, X)
    out = np.empty(X.shape[0], dtype=X.dtype)
    for s in range(0, X.shape[0], block):
        G = X[s : s + block] @ X.T
        G *= -2
        G += sq[s : s + block, None]
        G += sq[None, :]
        np.maximum(G, 0, out=G)
        if kernel.name == "gaussian":
            G *= -1 / (2 * bw * bw)
        else:
            np.sqrt(G, out=G)
            G *= -1 / bw
        np.exp(G, out=G)
        out[s : s + block] = G @ v
    return out


def sklearn_dense(X, v, kernel):
    if kernel.name == "gaussian":
        return rbf_kernel(X, gamma=1 / (2 * kernel.bandwidth**2)) @ v
    return np.exp(-euclidean_distances(X) / kernel.bandwidth) @ v


def pykeops_fn(X, v, kernel):
    try:
        from pykeops.numpy import LazyTensor
    except ImportError:
        return None
    x_i = LazyTensor(X[:, None, :])
    x_j = LazyTensor(X[None, :, :])
    v_j = LazyTensor(v[None, :, None])
    d2 = ((x_i - x_j) ** 2).sum(-1)
    bw = X.dtype.type(kernel.bandwidth)
    if kernel.name == "gaussian":
        expr = (-d2 / (2 * bw * bw)).exp() * v_j
    else:
        expr = (-d2.sqrt() / bw).exp() * v_j
    return lambda: expr.sum(dim=1).ravel()


def gemm_gflops(dtype, repeats):
    A = np.random.default_rng(0).normal(size=(4096, 4096)).astype(dtype)
    t = measure(lambda: A @ A, repeats=repeats)["min"]
    return 2 * 4096**3 / t / 1e9


def main():
    def extra(p):
        p.add_argument("--n", type=int, default=None)
        p.add_argument("--d", type=int, default=32)

    args = parse_args(__doc__.splitlines()[0], extra)
    n = args.n or (5000 if args.quick else 20000)
    d = args.d
    rng = np.random.default_rng(0)
    rows = []
    for dtype in (np.float32, np.float64):
        peak = gemm_gflops(dtype, args.repeats)
        X = rng.normal(size=(n, d)).astype(dtype)
        v = rng.normal(size=n).astype(dtype)
        for kernel in (Gaussian(np.sqrt(d)), Laplacian(np.sqrt(d))):
            K = KernelOperator(kernel, X)
            # Independent reference: the dense float64 matrix of the same (rounded) data.
            reference = sklearn_dense(X.astype(np.float64), v.astype(np.float64), kernel)
            cases = [
                ("kernelkit", lambda K=K, v=v: K @ v),
                ("numpy-blocked", lambda X=X, v=v, k=kernel: numpy_blocked(X, v, k)),
                ("sklearn", lambda X=X, v=v, k=kernel: sklearn_dense(X, v, k)),
            ]
            keops = pykeops_fn(X, v, kernel)
            if keops is not None:
                cases.append(("pykeops (CPU)", keops))
            if cupy_usable():
                import cupy as cp

                Xg, vg = cp.asarray(X), cp.asarray(v)
                Kg = KernelOperator(kernel, Xg)

                def gpu(Kg=Kg, vg=vg):
                    out = Kg @ vg
                    cp.cuda.Device().synchronize()
                    return cp.asnumpy(out)

                def gpu_blocked(Kg=Kg, vg=vg):
                    with config_context(engine="numpy"):
                        out = Kg @ vg
                    cp.cuda.Device().synchronize()
                    return cp.asnumpy(out)

                cases += [("kernelkit GPU fused", gpu), ("kernelkit GPU blocked", gpu_blocked)]
            base = None
            for name, fn in cases:
                res = measure(fn, repeats=args.repeats, memory=name == "kernelkit")
                err = np.abs(np.asarray(res["result"], dtype=np.float64) - reference).max()
                row = {
                    "kernel": kernel.name,
                    "dtype": np.dtype(dtype).name,
                    "method": name,
                    "min s": res["min"],
                    "median s": res["median"],
                    "GEMM %": 100 * 2 * n * n * d / res["min"] / 1e9 / peak,
                    "max rel dev": err / np.abs(reference).max(),
                }
                if name == "kernelkit":
                    base = row
                    row["peak MiB"] = res["peak_mib"]
                row["_base"] = base
                rows.append(row)
        print(f"# measured {np.dtype(dtype).name} GEMM peak: {peak:.1f} GFLOP/s")
    print_table(
        rows,
        ["kernel", "dtype", "method", "min s", "median s", "GEMM %", "max rel dev", "peak MiB"],
        title=f"K(X, X) @ v, n = {n}, d = {d} (ratio = time / kernelkit time)",
        baseline=lambda r: r["_base"],
        key="min s",
    )


if __name__ == "__main__":
    main()
