"""The CPU demo: teacher, no-KD student and GraphKD student on generated pages, evaluated side by side.

    make demo                       # = .venv/bin/python scripts/demo.py
    python scripts/demo.py --iters 300 --output output/demo_short

Stages (each skipped when its result exists, so a stopped demo resumes where it was):
  1. generate the synthetic PubLayNet-like train/val pages (``synth_publaynet_{train,val}``)
  2. train the R-50-FPN teacher            (scripts/train_net.py, configs/synthetic/teacher_R50.yaml)
  3. train the R-18-FPN no-KD student       (scripts/train_net.py, configs/synthetic/student_R18.yaml)
  4. distil the R-18-FPN student with GraphKD (scripts/distill.py, configs/synthetic/graphkd_R18_from_R50.yaml)
  5. evaluate all three (COCO box AP) and time CPU inference; print one table, write results.json/results.md
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from graphkd.engine.runs import (
    REPO_ROOT,
    cached_results,
    evaluate_run,
    markdown_table,
    save_results,
    schedule_opts,
    train_run,
)

MODELS = [  # (name, script, config, output folder)
    ("teacher R-50-FPN", "scripts/train_net.py", "configs/synthetic/teacher_R50.yaml", "teacher_R50"),
    ("student R-18-FPN, no KD", "scripts/train_net.py", "configs/synthetic/student_R18.yaml", "student_R18"),
    (
        "student R-18-FPN, GraphKD",
        "scripts/distill.py",
        "configs/synthetic/graphkd_R18_from_R50.yaml",
        "graphkd_R18_from_R50",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=300, help="training iterations per model (batch 2)")
    parser.add_argument("--output", default="output/demo", help="folder for checkpoints and results")
    parser.add_argument("--timed-images", type=int, default=20, help="val pages timed for CPU ms/image")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("GRAPHKD_DATASETS", str(REPO_ROOT / "datasets"))
    out = (REPO_ROOT / args.output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()

    print("[demo] stage 1/5: synthetic pages", flush=True)
    from detectron2.data import DatasetCatalog

    import graphkd.data  # noqa: F401  (registers synth_publaynet_*)

    for split in ("train", "val"):
        print(
            f"[demo]   synth_publaynet_{split}: {len(DatasetCatalog.get(f'synth_publaynet_{split}'))} pages",
            flush=True,
        )

    weights = {}
    for stage, (name, script, config, folder) in enumerate(MODELS, start=2):
        print(f"[demo] stage {stage}/5: {name} ({time.time() - start:.0f} s so far)", flush=True)
        opts = schedule_opts(args.iters)
        if script.endswith("distill.py"):
            opts += ["TEACHER.WEIGHTS", str(weights[MODELS[0][0]])]
        weights[name] = train_run(script, config, out / folder, opts)

    print(f"[demo] stage 5/5: evaluation ({time.time() - start:.0f} s so far)", flush=True)
    results_path = out / "results.json"
    results = cached_results(results_path)
    for name, _, config, folder in MODELS:
        if name not in results:
            results[name] = evaluate_run(config, weights[name], out / folder, num_timed=args.timed_images)
            save_results(results_path, results)
    table = markdown_table(
        results, (("params_M", "params (M)", ".1f"), ("cpu_ms_per_image", "CPU ms/image", ".0f"))
    )
    print(table, flush=True)
    (out / "results.md").write_text(table + "\n")
    print(f"[demo] done in {time.time() - start:.0f} s; results in {results_path}", flush=True)


if __name__ == "__main__":
    main()
