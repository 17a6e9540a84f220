"""Compare two checkouts of kernelkit on the same machine, in alternating fresh processes.

    python benchmarks/bench_checkouts.py OLD_CHECKOUT NEW_CHECKOUT [--rounds 2]

Each round runs the cases once per checkout (``PYTHONPATH`` set to it) and the table keeps
the minimum over rounds: kernel products at n = 20000, d = 32, kernel thinning and
Compress++ on N(0, I₂) and DISQUEAK on 10⁵ rows. Only the ratio column is meaningful on a
shared machine.
"""

import argparse
import json
import os
import subprocess
import sys

CASES = r"""
import json, time, numpy as np
from kernelkit import Gaussian, Laplacian, KernelOperator, compress_pp, disqueak, kernel_thin
def best(fn, repeats):
    fn(); times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return min(times)
rng = np.random.default_rng(0); out = {}
for dt in (np.float32, np.float64):
    X = rng.normal(size=(20000, 32)).astype(dt); v = np.ones(20000, dt)
    for k in (Gaussian(5.0), Laplacian(5.0)):
        op = KernelOperator(k, X)
        out[f"{type(k).__name__} {np.dtype(dt).name} K @ v"] = best(lambda: op @ v, 5)
for n in (2**14, 2**16):
    X = rng.normal(size=(n, 2))
    if n == 2**14:
        out["kernel_thin 2^14"] = best(
            lambda: kernel_thin(X, kernel=Gaussian(1.0), random_state=0), 3)
    out[f"compress_pp 2^{n.bit_length() - 1}"] = best(
        lambda: compress_pp(X, kernel=Gaussian(1.0), random_state=0), 3)
X = rng.normal(size=(100000, 3))
out["disqueak 1e5"] = best(lambda: disqueak(X, Gaussian(1.0), 1.0, n_jobs=1, random_state=0), 1)
print(json.dumps(out))
"""


def run(checkout):
    env = {**os.environ, "PYTHONPATH": os.path.abspath(checkout)}
    done = subprocess.run([sys.executable, "-c", CASES], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    best = {"old": {}, "new": {}}
    for _ in range(args.rounds):
        for side in ("old", "new"):
            for case, seconds in run(getattr(args, side)).items():
                best[side][case] = min(seconds, best[side].get(case, float("inf")))
    print("| case | old (s) | new (s) | new / old |\n|---|---|---|---|")
    for case, old in best["old"].items():
        new = best["new"][case]
        print(f"| {case} | {old:.3f} | {new:.3f} | {new / old:.2f} |")


if __name__ == "__main__":
    main()
