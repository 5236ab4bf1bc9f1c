"""The CPU demo: teacher, no-KD student and GraphKD student on generated pages, evaluated side by side.

    make demo                       # = .venv/bin/python scripts/demo.py
    python scripts/demo.py --iters 100 --teacher-iters 300 --output output/demo_short

Stages (each skipped when its result exists, so a stopped demo resumes where it was):
  1. generate the synthetic PubLayNet-like train/val pages (``synth_publaynet_{train,val}``)
  2. train the R-50-FPN teacher            (scripts/train_net.py, configs/synthetic/teacher_R50.yaml)
  3. train the R-18-FPN no-KD student       (scripts/train_net.py, configs/synthetic/student_R18.yaml)
  4. distil the R-18-FPN student with GraphKD (scripts/distill.py, configs/synthetic/graphkd_R18_from_R50.yaml)
  5. evaluate all three (COCO box AP) and time CPU inference; print one table, write demo_results.json/.md
The teacher trains longer than the students (--teacher-iters): distillation needs a teacher that is better
than its student. The three runs are the ablation's ``teacher_s0``, ``baseline_s0`` and ``full_s0``
(scripts/run_experiments.py reuses them from the same output folder).
"""

from __future__ import annotations

import argparse
import time

from graphkd.engine.runs import (
    DEMO_ITERS,
    DEMO_TEACHER_ITERS,
    cached_results,
    estimated_minutes,
    evaluate_run,
    markdown_table,
    prepare_output,
    row_run,
    save_results,
    seconds_per_iteration,
)

MODELS = [  # (name, ablation row)
    ("teacher R-50-FPN", "teacher"),
    ("student R-18-FPN, no KD", "baseline"),
    ("student R-18-FPN, GraphKD", "full"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--iters", type=int, default=DEMO_ITERS, help="training iterations per student (batch 2)"
    )
    parser.add_argument(
        "--teacher-iters", type=int, default=DEMO_TEACHER_ITERS, help="training iterations of the teacher"
    )
    parser.add_argument("--output", default="output/demo", help="folder for checkpoints and results")
    parser.add_argument("--timed-images", type=int, default=20, help="val pages timed for CPU ms/image")
    args = parser.parse_args()
    out = prepare_output(args.output)
    start = time.time()

    print("[demo] stage 1/5: synthetic pages", flush=True)
    from detectron2.data import DatasetCatalog

    import graphkd.data  # noqa: F401  (registers synth_publaynet_*)

    for split in ("train", "val"):
        print(
            f"[demo]   synth_publaynet_{split}: {len(DatasetCatalog.get(f'synth_publaynet_{split}'))} pages",
            flush=True,
        )

    runs = {}
    for stage, (name, row) in enumerate(MODELS, start=2):
        print(f"[demo] stage {stage}/5: {name} ({time.time() - start:.0f} s so far)", flush=True)
        runs[name] = row_run(row, 0, out, args.iters, args.teacher_iters)
        speed = seconds_per_iteration(runs[name][1].parent / "metrics.json")
        if speed is None:
            continue
        print(f"[demo]   {name}: {speed:.2f} s/iteration (median over its training log)", flush=True)
        if row == "teacher":
            students = [(r, args.iters) for _, r in MODELS if r != "teacher"]
            print(
                f"[demo]   ETA of the students' training: about {estimated_minutes(speed, students):.0f} min "
                "(the teacher's speed times each student's relative cost, runs.ITERATION_COST_VS_TEACHER)",
                flush=True,
            )

    print(f"[demo] stage 5/5: evaluation ({time.time() - start:.0f} s so far)", flush=True)
    results_path = out / "demo_results.json"
    results = cached_results(results_path)
    for name, row in MODELS:
        if name not in results:
            config, weights = runs[name]
            results[name] = evaluate_run(config, weights, weights.parent, num_timed=args.timed_images)
            results[name]["iters"] = float(args.teacher_iters if row == "teacher" else args.iters)
            save_results(results_path, results)
    table = markdown_table(
        results,
        (
            ("iters", "iterations", ".0f"),
            ("train_min", "train (min)", ".1f"),
            ("params_M", "params (M)", ".1f"),
            ("cpu_ms_per_image", "CPU ms/image", ".0f"),
        ),
    )
    print(table, flush=True)
    (out / "demo_results.md").write_text(table + "\n")
    print(f"[demo] done in {time.time() - start:.0f} s; results in {results_path}", flush=True)


if __name__ == "__main__":
    main()
