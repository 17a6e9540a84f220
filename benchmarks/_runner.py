"""Common benchmark runner: same process, same data, warm-up excluded, min/median of repeats.

Each benchmark script builds a list of cases, calls :func:`measure` on each
and prints a Markdown table with :func:`print_table`. Ratios are relative to
a baseline row (machines here are shared and noisy: absolute times alone mean
little, ratios taken in one run do).
"""

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc


def parse_args(description, extra=None):
    """Standard flags: --quick (small sizes), --repeats N. ``extra(parser)`` adds more."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (min reported)")
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def measure(fn, repeats=3, warmup=True, memory=False):
    """Time ``fn()``: returns dict(min, median, result[, peak_mib]).

    The warm-up call (JIT compilation, caches) is excluded. With
    ``memory=True`` one extra call runs under tracemalloc, which sees NumPy
    allocations, and reports the peak in MiB.
    """
    if warmup:
        fn()
    times = []
    result = None
    for _ in range(max(1, repeats)):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    out = {"min": min(times), "median": statistics.median(times), "result": result}
    if memory:
        gc.collect()
        tracemalloc.start()
        fn()
        out["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def machine_line():
    """One line describing the machine and thread settings, printed above each table."""
    import numpy as np

    threads = os.cpu_count()
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{threads} cores, {platform.machine()}, argv: {' '.join(sys.argv)}"
    )


def print_table(rows, columns, *, title=None, baseline=None, key="min"):
    """Print ``rows`` (dicts) as a Markdown table.

    If ``baseline`` is a function row -> the baseline row (or None), a
    ``ratio`` column gives time / baseline time for each row.
    """
    if title:
        print(f"\n### {title}\n")
    print(f"<!-- {machine_line()} -->")
    cols = list(columns) + (["ratio"] if baseline else [])
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        if baseline:
            base = baseline(row)
            if base and base.get(key) and row.get(key):
                cells.append(f"{row[key] / base[key]:.2f}")
            else:
                cells.append("")
        print("| " + " | ".join(cells) + " |")
    sys.stdout.flush()
