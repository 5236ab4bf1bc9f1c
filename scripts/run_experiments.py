"""The ablation suite on the synthetic pages: every row the same data, schedule and seed handling.

    python scripts/run_experiments.py --iters 600 --seeds 0 1 --output output/ablation
    python scripts/run_experiments.py --rows baseline full --seeds 0     # a subset

Rows (METHOD.md; each a config diff on configs/synthetic/graphkd_R18_from_R50.yaml):
  teacher    R-50-FPN teacher (scripts/train_net.py)
  baseline   R-18-FPN student, no KD
  dsig       node + "mse" edge, no text handling (Dsig)
  node       GraphKD node loss only
  node_maha  node + "mahalanobis" edge
  merge      + text-node merging
  full       + adaptive sampling (full GraphKD)
  full_diag  full GraphKD with "mahalanobis_diag"
  full_gt    full GraphKD with GT node typing instead of "covariance"
The teacher is trained once (seed 0) and shared. Writes results.json, results.md and a bar plot (--plot).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
from pathlib import Path

from graphkd.engine.runs import (
    REPO_ROOT,
    cached_results,
    evaluate_run,
    markdown_table,
    save_results,
    schedule_opts,
    train_run,
)

TEACHER = ("scripts/train_net.py", "configs/synthetic/teacher_R50.yaml", [])
GRAPHKD = "configs/synthetic/graphkd_R18_from_R50.yaml"
NO_TEXT_HANDLING = ["GRAPHKD.MERGE.ENABLED", "False", "GRAPHKD.SAMPLING.MODE", "none"]
ROWS: dict[str, tuple[str, str, list[str]]] = {
    "teacher": TEACHER,
    "baseline": ("scripts/train_net.py", "configs/synthetic/student_R18.yaml", []),
    "dsig": ("scripts/distill.py", GRAPHKD, ["GRAPHKD.EDGE_LOSS.TYPE", "mse", *NO_TEXT_HANDLING]),
    "node": ("scripts/distill.py", GRAPHKD, ["GRAPHKD.EDGE_LOSS_WEIGHT", "0.0", *NO_TEXT_HANDLING]),
    "node_maha": ("scripts/distill.py", GRAPHKD, NO_TEXT_HANDLING),
    "merge": ("scripts/distill.py", GRAPHKD, ["GRAPHKD.SAMPLING.MODE", "none"]),
    "full": ("scripts/distill.py", GRAPHKD, []),
    "full_diag": ("scripts/distill.py", GRAPHKD, ["GRAPHKD.EDGE_LOSS.TYPE", "mahalanobis_diag"]),
    "full_gt": ("scripts/distill.py", GRAPHKD, ["GRAPHKD.NODE_TYPE.MODE", "gt"]),
}


def plot(summary: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    means = [summary[n]["AP"] for n in names]
    spreads = [summary[n].get("AP_spread", 0.0) for n in names]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 3.6))
    ax.bar(
        names, means, yerr=spreads, color=["#888" if n in ("teacher", "baseline") else "#3a7" for n in names]
    )
    ax.set_ylabel("box AP (synthetic val)")
    ax.set_title("GraphKD ablation (mean over seeds; bar = min..max)")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--output", default="output/ablation")
    parser.add_argument("--plot", default="docs/ablation.png")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("GRAPHKD_DATASETS", str(REPO_ROOT / "datasets"))
    out = (REPO_ROOT / args.output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = cached_results(results_path)

    teacher_weights = train_run(*TEACHER[:2], out / "teacher_s0", schedule_opts(args.iters) + ["SEED", "0"])
    for row in args.rows:
        script, config, opts = ROWS[row]
        for seed in [0] if row == "teacher" else args.seeds:
            key = f"{row}_s{seed}"
            run_opts = schedule_opts(args.iters) + ["SEED", str(seed), *opts]
            if script.endswith("distill.py"):
                run_opts += ["TEACHER.WEIGHTS", str(teacher_weights)]
            weights = train_run(script, config, out / key, run_opts)
            if key not in results:
                results[key] = evaluate_run(config, weights, out / key, opts, num_timed=0)
                save_results(results_path, results)

    summary = {}
    for row in args.rows:
        runs = [results[k] for k in results if k.rsplit("_s", 1)[0] == row]
        if runs:
            aps = [r["AP"] for r in runs]
            summary[row] = {
                **{k: statistics.mean(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float)},
                "AP_spread": (max(aps) - min(aps)) / 2,
                "seeds": len(runs),
            }
    table = markdown_table(summary, (("seeds", "seeds", "d"),))
    print(markdown_table(results))
    print(table)
    (out / "results.md").write_text(markdown_table(results) + "\n\n" + table + "\n")
    if args.plot:
        plot(summary, REPO_ROOT / args.plot)


if __name__ == "__main__":
    main()
