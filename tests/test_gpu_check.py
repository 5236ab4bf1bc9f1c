"""benchmarks/gpu_check.sh --dry-run: the prepared GPU check runs end to end on the CPU (tiny sizes), so the
script is known to work before any GPU time is spent."""

import json
import os
import subprocess
import sys

from conftest import ROOT


def test_gpu_check_dry_run_writes_a_complete_report(tmp_path):
    out = tmp_path / "gpu"
    env = {**os.environ, "PYTHON": sys.executable}  # the interpreter (and detectron2) running this suite
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "gpu_report.json").read_text())
    assert report["dry_run"] is True and report["all_steps_passed"] is True
    assert set(report["steps"]) == {
        "gpu_tests",
        "bench_step_amp0",
        "bench_step_amp1",
        "distill_amp",
        "launch_1gpu",
    }
    for amp in ("amp0", "amp1"):
        bench = report["bench_step"][amp]
        assert bench["amp"] is (amp == "amp1") and bench["graph_nodes"] > 0
        assert set(bench["ms"]) == {"student step", "teacher fwd", "GraphKD step", "graph part"}
        # the profiled graph part ran real ops, with host syncs (nonzero)
        profile = bench["graph_part_profile"]
        assert profile["aten_ops"] > 100 and profile["host_syncs"] > 0
        assert profile["kernel_launches"] == 0  # a CPU run launches no CUDA kernel
    for run in ("distill_amp", "launch_1gpu"):
        assert report[run]["iterations"] == 3 and report[run]["losses_finite"] is True
    markdown = (out / "gpu_report.md").read_text()
    assert "DRY RUN" in markdown and "overhead_pct" in markdown and "| graph part: aten_ops |" in markdown
