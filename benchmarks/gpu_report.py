"""Assemble ``gpu_report.md`` and ``gpu_report.json`` from the step logs of ``benchmarks/gpu_check.sh``.

python benchmarks/gpu_report.py --out DIR --dry-run 0|1 --total-seconds S --status "NAME RC SECONDS" ...
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from pathlib import Path

TARGET_OVERHEAD_PCT = 10.0  # GraphKD overhead target on the GPU (issue: <= 10% of student step + teacher fwd)


def _last_line(path: Path, pattern: str) -> str | None:
    if not path.exists():
        return None
    lines = [line for line in path.read_text(errors="replace").splitlines() if re.search(pattern, line)]
    return lines[-1].strip() if lines else None


def training_summary(run_dir: Path, images_per_batch: int = 2) -> dict | None:
    """Images/s over the logged iterations (median detectron2 ``time``) and whether every logged loss is finite."""
    metrics = run_dir / "metrics.json"
    if not metrics.exists():
        return None
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "total_loss" in r]
    if not rows:
        return None
    times = [r["time"] for r in rows if "time" in r]
    losses = {k: v for r in rows for k, v in r.items() if k.startswith("loss") or k == "total_loss"}
    finite = all(
        math.isfinite(v) for r in rows for k, v in r.items() if k.startswith("loss") or k == "total_loss"
    )
    return {
        "iterations": rows[-1]["iteration"] + 1,
        "images_per_s": images_per_batch / statistics.median(times) if times else None,
        "losses_finite": finite,
        "last_losses": {k: round(v, 4) for k, v in sorted(losses.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--dry-run", type=int, default=0)
    parser.add_argument("--total-seconds", type=int, default=0)
    parser.add_argument("--status", nargs="*", default=[])
    args = parser.parse_args()
    out = Path(args.out)
    steps = {}
    for entry in args.status:
        name, rc, seconds = entry.split()
        steps[name] = {"rc": int(rc), "seconds": int(seconds)}
    report = {
        "dry_run": bool(args.dry_run),
        "total_seconds": args.total_seconds,
        "steps": steps,
        "env": (out / "env.log").read_text() if (out / "env.log").exists() else None,
        "gpu_tests": _last_line(out / "gpu_tests.log", r"passed|failed|skipped|deselected|no tests ran"),
        "bench_step": {},
        "distill_amp": training_summary(out / "distill_amp"),
        "launch_1gpu": training_summary(out / "launch_1gpu"),
    }
    for amp in (0, 1):
        path = out / f"bench_step_amp{amp}.json"
        if path.exists():
            report["bench_step"][f"amp{amp}"] = json.loads(path.read_text())
    ok = all(s["rc"] == 0 for s in steps.values()) and bool(steps)
    report["all_steps_passed"] = ok

    lines = ["# GPU check" + (" (DRY RUN: CPU, tiny sizes; no GPU numbers)" if args.dry_run else ""), ""]
    lines.append(
        f"Total {args.total_seconds} s. Steps: "
        + ", ".join(f"{n} rc {s['rc']} ({s['seconds']} s)" for n, s in steps.items())
    )
    lines += ["", "## Environment", "```", (report["env"] or "").strip(), "```", ""]
    lines += ["## gpu-marked tests", str(report["gpu_tests"]), ""]
    lines += ["## bench_step (median ms per iteration)", "| part | no AMP | AMP |", "|---|---|---|"]
    bench = report["bench_step"]
    parts = (
        sorted({p for b in bench.values() for p in b["ms"]}, key=list(next(iter(bench.values()))["ms"]).index)
        if bench
        else []
    )
    for part in parts:
        cells = [f"{bench[k]['ms'][part]:.1f}" if k in bench else "-" for k in ("amp0", "amp1")]
        lines.append(f"| {part} | {cells[0]} | {cells[1]} |")
    for key in ("overhead_pct", "graph_part_pct", "peak_gpu_mb", "graph_nodes"):
        cells = [
            f"{bench[k][key]:.1f}" if k in bench and bench[k][key] is not None else "-"
            for k in ("amp0", "amp1")
        ]
        lines.append(f"| {key} | {cells[0]} | {cells[1]} |")
    # one profiled graph part (bench_step --profile): is it launch-bound (many small ops, host syncs)?
    for key in ("aten_ops", "host_syncs", "kernel_launches", "cuda_synchronize"):
        cells = [
            str(bench[k]["graph_part_profile"][key])
            if (bench.get(k) or {}).get("graph_part_profile")
            else "-"
            for k in ("amp0", "amp1")
        ]
        lines.append(f"| graph part: {key} | {cells[0]} | {cells[1]} |")
    if bench and not args.dry_run:
        met = all(b["overhead_pct"] <= TARGET_OVERHEAD_PCT for b in bench.values())
        lines.append(f"\nOverhead target (<= {TARGET_OVERHEAD_PCT:.0f}%): {'met' if met else 'NOT met'}")
    for name in ("distill_amp", "launch_1gpu"):
        summary = report[name]
        lines += [
            "",
            f"## {name}",
            json.dumps(summary, indent=2) if summary else "no metrics (see the step log)",
        ]
    (out / "gpu_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "gpu_report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
