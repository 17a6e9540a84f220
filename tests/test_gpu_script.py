"""benchmarks/gpu/run_all.py in its ``--dry-run`` form: every step runs and reports.

The GPU benchmark is run by hand on a machine with a device; this keeps it from
rotting in between. The dry run uses tiny sizes, the CPU engine and Numba's CUDA
simulator (switched on by the script itself before Numba is imported).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu" / "run_all.py"


@pytest.mark.cudasim
def test_gpu_benchmark_dry_run_writes_every_step(tmp_path):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (tmp_path / "gpu_results.md").read_text()
    result = json.loads((tmp_path / "gpu_results.json").read_text())
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import run_all
    finally:
        sys.path.remove(str(SCRIPT.parent))
    expected = [key for key, _, _ in run_all.STEPS]
    steps = {row["step"]: row for row in result["steps"]}
    assert list(steps) == expected
    for key in expected:
        row = steps[key]
        assert f"| {key} |" in table
        # A dry run has no device and no time guard: every step must really run.
        assert row["status"] == "ok", row
        assert row["time_s"] > 0 and row["throughput"] > 0
    # The simulated kernels must agree with the CPU engine on their slices.
    assert steps["kmv"]["agreement"] < 1e-5
    assert steps["thinning_kernels"]["agreement"] == 1.0
    assert steps["kdi_sweep"]["agreement"] <= 1e-12
    assert steps["grf"]["agreement"] == 0.0
    assert steps["sampled"]["agreement"] <= 0.1
