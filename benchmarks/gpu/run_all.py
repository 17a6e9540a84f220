"""Every GPU hot loop of kernelkit at scale, side by side with the CPU engine on a slice.

Run on a machine with one NVIDIA GPU and ``pip install kernelkit[gpu]``::

    python benchmarks/gpu/run_all.py --out gpu-results

Each step first times a pilot at a fraction of its size, extrapolates, and skips
itself (reason in the table) when the full size would not fit its share of the
time budget (``--budget``, default 420 s; unused time rolls over to later steps),
or when a dependency (CuPy, a device, Fashion-MNIST) is missing. Then it runs the
full size on the GPU, and the same slice on the GPU and on the CPU engine for
agreement. Peak device memory is sampled every 5 ms while the full size runs:
CuPy's default memory pool high-water mark and the device's used memory (which
also sees Numba's allocations). Results: ``DIR/gpu_results.md`` and
``DIR/gpu_results.json``.

``--dry-run`` runs every step at tiny sizes without a GPU: the numba.cuda kernels
(fused product, thinning, KDI sweep, graph walks) on Numba's CUDA simulator, the
rest on the CPU engine. The test suite runs it that way (tests/test_gpu_script.py).
"""

import argparse
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for the table and the JSON")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes, no GPU needed")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for all steps")
    parser.add_argument("--only", nargs="*", help="run only these steps")
    return parser.parse_args(argv)


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None and ARGS.dry_run:
    # The simulator must be switched on before Numba is imported (kernelkit imports it).
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

import kernelkit as kk  # noqa: E402
from kernelkit._backend import cupy_usable, numba_cuda_usable  # noqa: E402


class Skip(Exception):
    """A step that cannot or should not run here; the message goes into the table."""


class Device:
    """The GPU side of a run: CuPy on a device, or NumPy (+ simulator) for a dry run."""

    def __init__(self, dry):
        self.dry = dry
        self.has_cupy = not dry and cupy_usable()
        if self.has_cupy:
            import cupy

            self.cp = cupy
        self.kernels = numba_cuda_usable()

    def put(self, a):
        return self.cp.asarray(a) if self.has_cupy else a

    def get(self, a):
        return self.cp.asnumpy(a) if self.has_cupy and isinstance(a, self.cp.ndarray) else a

    def sync(self):
        if self.has_cupy:
            self.cp.cuda.Device().synchronize()

    def engine(self, numba_kernel=False):
        """Engine of the GPU column: "cuda" on a device; in a dry run only for the simulator."""
        if self.dry:
            return "cuda" if numba_kernel and self.kernels else "cpu"
        if not (self.has_cupy or self.kernels):
            raise Skip("no CUDA device (CuPy or numba.cuda) on this machine")
        return "cuda"


class MemorySampler:
    """High-water marks of the CuPy pool and of the device's used memory, in MiB."""

    def __init__(self, dev):
        self.dev = dev
        self.pool = self.device = None

    def __enter__(self):
        if not self.dev.has_cupy:
            return self
        cp = self.dev.cp
        pool = cp.get_default_memory_pool()
        free, total = cp.cuda.runtime.memGetInfo()
        base_pool, base_used = pool.used_bytes(), total - free
        self._stop = threading.Event()
        peaks = [0, 0]

        def sample():
            while not self._stop.is_set():
                free, _ = cp.cuda.runtime.memGetInfo()
                peaks[0] = max(peaks[0], pool.used_bytes() - base_pool)
                peaks[1] = max(peaks[1], total - free - base_used)
                time.sleep(0.005)

        self._peaks = peaks
        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.dev.has_cupy:
            self._stop.set()
            self._thread.join()
            self.pool = self._peaks[0] / 2**20
            self.device = self._peaks[1] / 2**20
        return False


def timed(dev, fn):
    """(result, seconds) of ``fn()`` with the device synchronised around it."""
    dev.sync()
    t0 = time.perf_counter()
    out = fn()
    dev.sync()
    return out, time.perf_counter() - t0


def guard(ctx, estimate):
    """Skip the step when the extrapolated full-size time exceeds its share (not in a dry run)."""
    ctx["estimate_s"] = estimate
    if not ctx["dry"] and estimate > ctx["share"]:
        raise Skip(f"estimated {estimate:.0f} s at full size > time share {ctx['share']:.0f} s")


def pilot(dev, fn):
    """Seconds of ``fn()`` once compiled: the first call pays for JIT and caches."""
    fn()
    return timed(dev, fn)


def max_rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def on_device(dev, fn, *arrays):
    """``fn`` on CuPy copies of ``arrays``; NumPy with the cuda engine when CuPy is refused."""
    try:
        return fn(*(dev.put(a) for a in arrays)), "cupy" if dev.has_cupy else "numpy"
    except Exception as exc:  # the note records why CuPy input was refused
        if not dev.has_cupy:
            raise
        with kk.config_context(engine="cuda"):
            return fn(*arrays), f"numpy+cuda engine ({type(exc).__name__} on CuPy)"


# ----------------------------------------------------------------------------- steps
def step_kmv(ctx, dev):
    # The pilot needs enough rows to fill the device (one thread per row); the CPU
    # engine repeats only its first ``s`` rows.
    n, d, s, rows = (64, 8, 16, 32) if dev.dry else (1_000_000, 64, 1_000, 50_000)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    v = rng.standard_normal(n, dtype=np.float32)
    kernel = kk.Gaussian(float(np.sqrt(d)))
    Xd, vd = dev.put(X), dev.put(v)
    with kk.config_context(engine=dev.engine(numba_kernel=True)):
        part, t_pilot = pilot(dev, lambda: kk.KernelOperator(kernel, Xd[:rows], Xd) @ vd)
        guard(ctx, t_pilot * n / rows)
        with MemorySampler(dev) as mem:
            _, t = timed(dev, lambda: kk.KernelOperator(kernel, Xd) @ vd)
    with kk.config_context(engine="cpu"):
        ref, t_cpu = timed(dev, lambda: kk.KernelOperator(kernel, X[:s], X) @ v)
    return dict(
        size=f"n={n}, d={d}, f32",
        time_s=t,
        throughput=n * n / t,
        unit="kernel values/s",
        agreement=max_rel(dev.get(part)[:s], ref),
        metric=f"max rel. error, {s} rows",
        slice_speedup=(t_cpu / s) / (t_pilot / rows),
        mem=mem,
    )


def _fashion(dev):
    if dev.dry:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        return X[:300], y[:300], X[300:400], y[300:400]
    try:
        X, y = kk.load_fashion_mnist("train")
        Xt, yt = kk.load_fashion_mnist("test")
    except (FileNotFoundError, OSError) as exc:
        msg = f"Fashion-MNIST unavailable ({exc}); apt-get install dataset-fashion-mnist"
        raise Skip(msg) from exc
    return X, y, Xt, yt


def _model_step(ctx, dev, make, size_name, fraction, slice_n, exponent):
    """Fit ``make(n_centers)`` on the GPU at full size; pilot, then a slice on both engines."""
    X, y, Xt, yt = _fashion(dev)
    n_full = make.full(X)
    n_pilot = max(2, int(n_full * fraction))
    dev.engine()
    p_idx = np.random.default_rng(1).permutation(X.shape[0])
    Xp, yp = X[p_idx[:n_pilot]], y[p_idx[:n_pilot]]
    _, t_p = pilot(dev, lambda: on_device(dev, make(n_pilot).fit, Xp, yp))
    guard(ctx, t_p * (n_full / n_pilot) ** exponent)
    with MemorySampler(dev) as mem:
        (model, path), t = timed(dev, lambda: on_device(dev, make(n_full).fit, X, y))
    accuracy = float(np.mean(dev.get(on_device(dev, model.predict, Xt)[0]) == yt))
    k = min(slice_n, X.shape[0])
    gpu_model = on_device(dev, make(k).fit, X[:k], y[:k])[0]
    with kk.config_context(engine="cpu"):
        cpu_model = make(k).fit(X[:k], y[:k])
    same = float(
        np.mean(dev.get(on_device(dev, gpu_model.predict, Xt)[0]) == cpu_model.predict(Xt))
    )
    return dict(
        size=size_name,
        time_s=t,
        throughput=X.shape[0] / t,
        unit="samples/s",
        agreement=same,
        metric=f"equal test predictions, {k}-sample fit",
        note=f"test accuracy {accuracy:.4f}; inputs as {path}",
        mem=mem,
    )


def step_eigenpro(ctx, dev):
    def make(n_centers):
        return kk.EigenProClassifier(
            "laplacian", n_centers=n_centers, epochs=1 if dev.dry else 2, random_state=0
        )

    make.full = lambda X: X.shape[0]
    size = "Fashion-MNIST 60000 centers" if not dev.dry else "digits 300 centers"
    return _model_step(ctx, dev, make, size, fraction=0.1, slice_n=3000, exponent=2)


def step_falkon(ctx, dev):
    def make(n_centers):
        return kk.FalkonClassifier(
            "gaussian", n_centers=n_centers, max_iter=5 if dev.dry else 10, random_state=0
        )

    make.full = lambda X: min(X.shape[0], 200 if dev.dry else 50_000)
    size = "Fashion-MNIST, M=50000" if not dev.dry else "digits, M=200"
    # Cost ~ n·M per iteration plus M³ once: a power 2.5 in M between the two.
    return _model_step(ctx, dev, make, size, fraction=0.1, slice_n=3000, exponent=2.5)


def _blobs(n, d, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-6, 6, size=(8, d))
    return centres[rng.integers(0, 8, n)] + rng.normal(size=(n, d))


def step_compress(ctx, dev):
    log_n = 8 if dev.dry else 20
    n, d = 2**log_n, 4
    X = _blobs(n, d)

    def run(A):
        return kk.compress_pp(A, g=4, kernel="gaussian", bandwidth=2.0, random_state=0)

    dev.engine()
    _, t_p = pilot(dev, lambda: on_device(dev, run, X[: n // 16]))
    guard(ctx, t_p * 16 * np.log2(n) / np.log2(n // 16))
    with MemorySampler(dev) as mem:
        (idx, path), t = timed(dev, lambda: on_device(dev, run, X))
    k = n // 16 if dev.dry else 2**12
    gpu_idx = dev.get(on_device(dev, run, X[:k])[0])
    with kk.config_context(engine="cpu"):
        cpu_idx = run(X[:k])
    return dict(
        size=f"n=2^{log_n}, d={d}",
        time_s=t,
        throughput=n / t,
        unit="points/s",
        agreement=float(np.mean(np.sort(gpu_idx) == np.sort(cpu_idx))),
        metric=f"equal coreset indices, n={k}",
        note=f"coreset of {len(idx)}; inputs as {path}",
        mem=mem,
    )


def step_thinning_kernels(ctx, dev):
    from kernelkit._backend import thinning as cpu_thin

    n, nodes = (24, 2) if dev.dry else (16384, 64)
    if not dev.kernels:
        raise Skip("numba.cuda unavailable (no device, no simulator)")
    from kernelkit._backend import thinning_cuda

    X = _blobs(n, 4)
    K = np.asarray(kk.KernelOperator("gaussian", X, bandwidth=2.0).to_dense())
    rng = np.random.default_rng(0)
    pos = rng.permutation(n).reshape(nodes, n // nodes)
    pairs = pos.shape[1] // 2
    u = rng.random((nodes, pairs))
    zeros = np.zeros((nodes, pairs))
    Kd = dev.put(K)
    with MemorySampler(dev) as mem:
        (swapped, _), t = timed(
            dev, lambda: thinning_cuda.halve_nodes(Kd, pos, zeros, u, np.zeros(nodes), 10.0)
        )
    t0 = time.perf_counter()
    ref = np.zeros(pairs, dtype=bool)
    cpu_thin.halve_chunk(K, pos[0], zeros[0], u[0], 0.0, 10.0, ref)
    t_cpu = (time.perf_counter() - t0) * nodes
    return dict(
        size=f"KT-SPLIT round, {nodes} nodes of {n // nodes}",
        time_s=t,
        throughput=nodes * pairs / t,
        unit="pairs/s",
        agreement=float(np.mean(swapped[0] == ref)),
        metric="equal swaps (node 0)",
        slice_speedup=t_cpu / t,
        mem=mem,
    )


def step_kdi_transform(ctx, dev):
    n, d = (2000, 3) if dev.dry else (10_000_000, 10)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d)
    _, t_p = pilot(dev, lambda: kk.KDITransformer(n_quantiles=100).fit(X[: n // 20]))
    # Fit and transform both scale with n (the sort's log factor is small here).
    guard(ctx, t_p * 20 * 2)
    dev.engine()
    model, t_fit = timed(dev, lambda: kk.KDITransformer().fit(X))
    on_device(dev, model.transform, X[:10])  # compiles the transform outside the timing
    with MemorySampler(dev) as mem:
        (out, path), t = timed(dev, lambda: on_device(dev, model.transform, X))
    k = min(n, 100_000)
    return dict(
        size=f"{n}×{d}",
        time_s=t,
        throughput=n * d / t,
        unit="values/s (transform)",
        agreement=max_rel(dev.get(out)[:k], model.transform(X[:k])),
        metric=f"max rel. diff. vs host transform, {k} rows",
        note=f"fit on the host {t_fit:.1f} s; inputs as {path}",
        mem=mem,
    )


def step_kdi_sweep(ctx, dev):
    from kernelkit._backend import kdit_fit

    n = 2000 if dev.dry else 10_000_000
    if not dev.kernels:
        raise Skip("numba.cuda unavailable (no device, no simulator)")
    from kernelkit._backend import kdit_cuda

    col = np.sort(np.random.default_rng(0).standard_normal(n))
    h = 1.06 * n**-0.2
    centres, before, moments = kdit_fit._build_clusters(col, None, 0, h)
    pts = col if not dev.dry else col[::40]
    ptsd = dev.put(pts)
    with MemorySampler(dev) as mem:
        (cdf, _), t = timed(
            dev, lambda: kdit_cuda.kde_cdf_pdf(ptsd, h, centres, before, moments, float(n))
        )
    k = min(pts.shape[0], 100_000)
    ref_cdf, ref_pdf = np.empty(k), np.empty(k)
    t0 = time.perf_counter()
    kdit_fit._kde_cdf_pdf(pts[:k], h, centres, before, moments, float(n), ref_cdf, ref_pdf)
    t_cpu = (time.perf_counter() - t0) * pts.shape[0] / k
    return dict(
        size=f"CDF at {pts.shape[0]} points of a column of {n}",
        time_s=t,
        throughput=pts.shape[0] / t,
        unit="points/s",
        agreement=float(np.abs(cdf[:k] - ref_cdf).max()),
        metric=f"max abs. CDF diff., {k} points (≤ 1e-12 expected)",
        slice_speedup=t_cpu / t,
        mem=mem,
    )


def step_squeak(ctx, dev):
    n, d = (400, 4) if dev.dry else (1_000_000, 8)
    X = _blobs(n, d)

    def run(A):
        # γ grows with n (K's spectrum does): the dictionary stays about the same size.
        return kk.squeak(A, "gaussian", 1e-3 * A.shape[0], bandwidth=2.0, random_state=0)

    engine = dev.engine()
    with kk.config_context(engine=engine):
        _, t_p = pilot(dev, lambda: run(X[: n // 20]))
        guard(ctx, t_p * 20)
        with MemorySampler(dev) as mem:
            dic, t = timed(dev, lambda: run(X))
        k = min(n, 5000)
        gpu_dic = run(X[:k])
    with kk.config_context(engine="cpu"):
        cpu_dic = run(X[:k])
    same = np.array_equal(np.sort(gpu_dic.indices), np.sort(cpu_dic.indices))
    return dict(
        size=f"n={n}, d={d}",
        time_s=t,
        throughput=n / t,
        unit="rows/s",
        agreement=float(same),
        metric=f"identical dictionary, n={k}",
        note=f"dictionary of {len(dic.indices)}; kernel products on engine {engine!r}",
        mem=mem,
    )


def _graph(n, degree=8, seed=0):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), degree // 2)
    cols = rng.integers(0, n, rows.size)
    keep = rows != cols  # no self-loops
    A = sp.coo_array((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    return sp.csr_array(A + A.T)


def step_grf(ctx, dev):
    n = 40 if dev.dry else 1_000_000
    walks = 4 if dev.dry else 16
    A = _graph(n)

    def run(B):
        return kk.GraphRandomFeatures(n_walks=walks, random_state=0).fit(B).features_

    engine = dev.engine(numba_kernel=True)
    with kk.config_context(engine=engine):
        A_p = _graph(n // 20)
        _, t_p = pilot(dev, lambda: run(A_p))
        guard(ctx, t_p * 20)
        with MemorySampler(dev) as mem:
            F, t = timed(dev, lambda: run(A))
        small = _graph(min(n, 10_000) if not dev.dry else 20)
        gpu_F = run(small)
    with kk.config_context(engine="cpu"):
        cpu_F = run(small)
    return dict(
        size=f"{n} nodes, {A.nnz} edges, {walks} walks",
        time_s=t,
        throughput=n * walks / t,
        unit="walks/s",
        agreement=float(abs(gpu_F - cpu_F).max()),
        metric=f"max abs. feature diff., {small.shape[0]} nodes (0 expected)",
        note=f"{F.nnz} feature entries; walks on engine {engine!r}",
        mem=mem,
    )


def step_sampled(ctx, dev):
    n = 500 if dev.dry else 1_000_000
    X = _blobs(n, 2)
    x = np.random.default_rng(1).normal(size=n)
    bandwidth = 0.1

    def make(A):
        return kk.SampledGaussianOperator(A, bandwidth=bandwidth, fallback="exact", random_state=0)

    engine = dev.engine()
    with kk.config_context(engine=engine):
        _, t_p = pilot(dev, lambda: make(X[: n // 20]) @ x[: n // 20])
        # Planning and sampling grow like n log n at a fixed bandwidth: 2x headroom.
        guard(ctx, t_p * 20 * 2)
        with MemorySampler(dev) as mem:
            op, t_plan = timed(dev, lambda: make(X))
            y, t = timed(dev, lambda: op @ x)
        k = min(n, 2000)
        exact_op = kk.KernelOperator("gaussian", dev.put(X[:k]), dev.put(X), bandwidth=bandwidth)
        exact = dev.get(exact_op @ dev.put(x))
    return dict(
        size=f"n={n}, d=2, bandwidth={bandwidth}, eps=0.1",
        time_s=t,
        throughput=n / t,
        unit="rows/s",
        agreement=float(np.linalg.norm(y[:k] - exact) / np.linalg.norm(exact)),
        metric=f"rel. error vs exact GPU product, {k} rows (≤ 0.1 asked)",
        note=f"strategy {op.strategy_}, planning {t_plan:.2g} s; exact rows on {engine!r}",
        mem=mem,
    )


STEPS = [
    ("kmv", "K(X,X)v, KernelOperator", step_kmv),
    ("eigenpro", "EigenPro classifier", step_eigenpro),
    ("falkon", "Falkon classifier", step_falkon),
    ("compress_pp", "Compress++", step_compress),
    ("thinning_kernels", "KT-SPLIT numba.cuda halving", step_thinning_kernels),
    ("kdi", "KDITransformer", step_kdi_transform),
    ("kdi_sweep", "KDI CDF sweep (numba.cuda)", step_kdi_sweep),
    ("squeak", "SQUEAK", step_squeak),
    ("grf", "Graph random features", step_grf),
    ("sampled", "SampledGaussianOperator product", step_sampled),
]


def _fmt(v, spec):
    return "—" if v is None else format(v, spec)


def write_table(rows, header):
    lines = [
        header,
        "",
        "| step | size | status | time (s) | throughput | GPU vs CPU | speedup on slice "
        "| peak pool (MiB) | peak device (MiB) | notes |",
        "|---|---|---|---:|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        thr = f"{r['throughput']:.3g} {r['unit']}" if r.get("throughput") else "—"
        agree = f"{r['agreement']:.3g} ({r['metric']})" if r.get("metric") else "—"
        lines.append(
            f"| {r['step']} | {r.get('size', '—')} | {r['status']} | "
            f"{_fmt(r.get('time_s'), '.3g')} | {thr} | {agree} | "
            f"{_fmt(r.get('slice_speedup'), '.3g')} | {_fmt(r.get('peak_pool_mib'), '.0f')} | "
            f"{_fmt(r.get('peak_device_mib'), '.0f')} | {r.get('note', '')} |"
        )
    return "\n".join(lines) + "\n"


def main(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = Device(args.dry_run)
    mode = "dry run (CPU + CUDA simulator)" if args.dry_run else "GPU run"
    header = f"kernelkit {kk.__version__}, {mode}, budget {args.budget:.0f} s"
    if dev.has_cupy:
        props = dev.cp.cuda.runtime.getDeviceProperties(0)
        header += f", {props['name'].decode()}"
    print(header, flush=True)
    steps = [s for s in STEPS if not args.only or s[0] in args.only]
    start = time.perf_counter()
    rows = []
    for i, (key, title, fn) in enumerate(steps):
        left = args.budget - (time.perf_counter() - start)
        ctx = {"share": max(left, 0.0) / (len(steps) - i), "dry": args.dry_run}
        print(f"[{i + 1}/{len(steps)}] {title}: share {ctx['share']:.0f} s ...", flush=True)
        t0 = time.perf_counter()
        row = {"step": key, "title": title}
        try:
            result = fn(ctx, dev)
            mem = result.pop("mem", None)
            row.update(result, status="ok")
            row["peak_pool_mib"] = getattr(mem, "pool", None)
            row["peak_device_mib"] = getattr(mem, "device", None)
        except Skip as exc:
            row.update(status="skipped", note=str(exc))
        except Exception as exc:  # one failing step must not cost the others their numbers
            row.update(status="error", note=f"{type(exc).__name__}: {exc}"[:300])
            traceback.print_exc()
        row["estimate_s"] = ctx.get("estimate_s")
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        print(f"    {row['status']} in {row['wall_s']:.1f} s {row.get('note', '')}", flush=True)
        if dev.has_cupy:
            dev.cp.get_default_memory_pool().free_all_blocks()
    (out / "gpu_results.md").write_text(write_table(rows, header))
    (out / "gpu_results.json").write_text(
        json.dumps({"header": header, "steps": rows}, indent=2, default=str)
    )
    print(write_table(rows, header))
    return 1 if any(r["status"] == "error" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
