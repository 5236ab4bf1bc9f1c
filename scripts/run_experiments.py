"""The ablation suite on the synthetic pages: every row the same data, schedule and seed handling.

    python scripts/run_experiments.py    # all rows; seeds 0 1 2 for baseline, dsig, full, full_edge2, thin_*
    python scripts/run_experiments.py --rows baseline full --seeds 0 1 2 --seeds-for baseline full
    python scripts/run_experiments.py --suite converged --curves-plot docs/convergence.png  # the long study
    python scripts/run_experiments.py --suite hard_probe --seeds 0   # the harder task (DocLayNet-schema pages)

A suite's "configs" (or --configs) picks the task: the rows' configs under that folder, same file names as
configs/synthetic (configs/synthetic_doclaynet holds teacher, baseline(_long), full and dsig).

Rows (METHOD.md; each distillation row is a leaf config on configs/synthetic/graphkd_R18_from_R50.yaml in
configs/synthetic/ablation/<row>.yaml; that config has Dsig's extras on, as METHOD.md §6 sets for R50->R18,
and the Mahalanobis edge weight at 0.2):
  teacher          R-50-FPN teacher (scripts/train_net.py), trained once (seed 0, --teacher-iters) and shared
  baseline         R-18-FPN student, no KD
  baseline_long    the same at the teacher's schedule (--teacher-iters)
  dsig             node + "mse" edge at Dsig's weight 2.0, no text handling (Dsig)
  node             GraphKD node loss only (no edge loss, no text handling)
  node_maha        node + "mahalanobis" edge
  merge            + text-node merging
  full             + adaptive sampling (full GraphKD)
  full_diag        full GraphKD with "mahalanobis_diag"
  full_gt          full GraphKD with GT node typing instead of "covariance"
  full_no_extras   full GraphKD without Dsig's extras (graph losses alone)
  extras_only      Dsig's extras alone (no node or edge loss)
  *_edge2          node_maha, merge, full, full_diag, full_gt at METHOD.md's edge weight 2.0
  light_baseline   the light R-18-FPN student (configs/light), no KD
  light_full       the light student with full GraphKD
  thin_baseline    the R-18-FPN student with a 64-d RPN conv and a 256-d box head, no KD
  thin_full        that student with full GraphKD
  mnv2_baseline    the MobileNetV2-FPN (timm) student, no KD
  mnv2_full        that student with full GraphKD
The default output folder is the demo's (output/demo): the demo's teacher_s0, baseline_s0 and full_s0 are
the same runs (same configs, schedule and seed), so they are reused. Writes results.json, results.md and a
bar plot (--plot).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphkd.engine.runs import (
    DEMO_ITERS,
    DEMO_TEACHER_ITERS,
    REPO_ROOT,
    ROWS,
    SUITES,
    ap_curve,
    cached_results,
    evaluate_run,
    markdown_table,
    plateau_gains,
    prepare_output,
    row_of,
    row_run,
    row_seeds,
    save_results,
    suite_options,
    summarize_seeds,
)


def plot(summary: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    means = [summary[n]["AP"] for n in names]
    spreads = [summary[n].get("AP_spread", 0.0) for n in names]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 3.6))
    ax.bar(
        names,
        means,
        yerr=spreads,
        color=["#888" if n == "teacher" or n.endswith("baseline") else "#3a7" for n in names],
    )
    ax.set_ylabel("box AP (synthetic val)")
    ax.set_title("GraphKD ablation (mean over seeds; bar = min..max)")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def plot_curves(results: dict[str, dict], runs: list[str], path: Path) -> None:
    """AP against training iteration for every run key of ``runs`` that logged a curve (``--curve-points``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for key in sorted(results):
        curve = results[key].get("curve") or []
        if key in runs and curve:
            iterations = [point["iteration"] + 1 for point in curve]
            style = "--" if row_of(key) in ("teacher", "baseline_long") else "-"
            ax.plot(iterations, [point["AP"] for point in curve], style, marker="o", ms=3, label=key)
    ax.set_xlabel("training iteration (batch 2)")
    ax.set_ylabel("box AP (synthetic val)")
    ax.set_title("AP during training: does KD end higher, or only earlier?")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def curves_table(results: dict[str, dict], rows: list[str]) -> str:
    """Markdown: per run with a curve, its schedule, the AP of each evaluation (every 1/N of the schedule) and
    ``runs.plateau_gains``: the gain over the last quarter, and that gain split at the LR step (the quarter
    before the step at constant LR; after the step)."""
    runs = {
        k: r["curve"] for k in sorted(results) for r in [results[k]] if row_of(k) in rows and r.get("curve")
    }
    if not runs:
        return ""
    points = max(len(curve) for curve in runs.values())
    header = [
        "run",
        "iterations",
        *[f"AP @{100 * (i + 1) // points}%" for i in range(points)],
        "last-quarter gain",
        "gain in the quarter before the LR step",
        "gain after the LR step",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, curve in runs.items():
        gains = plateau_gains(curve)
        cells = [f"{p['AP']:.1f}" for p in curve] + ["-"] * (points - len(curve))
        cells += [
            "-" if gains[k] is None else f"{gains[k]:+.1f}"
            for k in ("last_quarter", "before_step", "after_step")
        ]
        lines.append("| " + " | ".join([key, str(curve[-1]["iteration"]), *cells]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suite", choices=list(SUITES), help="a named run list and schedule (runs.SUITES); flags override it"
    )
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), help="default: every row (or the suite's)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds for --seeds-for rows")
    parser.add_argument(
        "--seeds-for",
        nargs="+",
        help="rows run with every seed, others seed 0 (default: baseline dsig full full_edge2 thin_*)",
    )
    parser.add_argument("--iters", type=int, help=f"student iterations, batch 2 (default {DEMO_ITERS})")
    parser.add_argument("--teacher-iters", type=int, help=f"(default {DEMO_TEACHER_ITERS})")
    parser.add_argument(
        "--curve-points",
        type=int,
        help="also evaluate every iters/N iterations (AP curves, results.json 'curve'); default 0: final only",
    )
    parser.add_argument("--output", help="default output/demo (or the suite's)")
    parser.add_argument(
        "--configs",
        help="the task: folder of the rows' configs, same file names as configs/synthetic (default: that, or "
        "the suite's; hard_probe: configs/synthetic_doclaynet)",
    )
    parser.add_argument(
        "--plot",
        help="bar plot (PNG; '' for none); default docs/ablation.png, or <output>/ablation.png for a suite",
    )
    parser.add_argument("--curves-plot", default="", help="also plot the AP curves of the rows here (PNG)")
    args = parser.parse_args()
    given = {name: value for name, value in vars(args).items() if name != "suite"}
    args = argparse.Namespace(suite=args.suite, **suite_options(args.suite, given))
    out = prepare_output(args.output)
    results_path = out / "results.json"
    results = cached_results(results_path)

    # this command's runs, by key; the curves plot draws these only (results.json may hold other seeds)
    command_runs = {
        f"{row}_s{seed}": (row, seed)
        for row in args.rows
        for seed in row_seeds(row, args.seeds, args.seeds_for)
    }
    for key, (row, seed) in command_runs.items():
        config, weights = row_run(
            row, seed, out, args.iters, args.teacher_iters, args.curve_points, args.configs
        )
        if key not in results:
            results[key] = evaluate_run(config, weights, out / key, num_timed=0)
            results[key]["curve"] = ap_curve(out / key / "metrics.json")
            save_results(results_path, results)

    summary = summarize_seeds(results, args.rows)
    runs = {key: results[key] for row in args.rows for key in sorted(results) if row_of(key) == row}
    runs_table = markdown_table(runs, (("train_min", "train (min)", ".1f"),))
    table = markdown_table(summary, (("AP_spread", "AP ± (half range)", ".1f"), ("seeds", "seeds", "d")))
    curves = curves_table(results, args.rows)
    print(runs_table)
    print(table)
    print(curves)
    (out / "results.md").write_text(runs_table + "\n\n" + table + "\n\n" + curves + "\n")
    if args.plot:
        plot(summary, REPO_ROOT / args.plot)
    if args.curves_plot:
        plot_curves(results, list(command_runs), REPO_ROOT / args.curves_plot)


if __name__ == "__main__":
    main()
