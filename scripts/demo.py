"""The CPU demo: teacher, no-KD student and GraphKD student on generated pages, evaluated side by side.

    make demo                       # = .venv/bin/python scripts/demo.py
    python scripts/demo.py --iters 300 --output output/demo_short

Stages (each skipped when its result exists, so a stopped demo resumes where it was):
  1. generate the synthetic PubLayNet-like train/val pages (``synth_publaynet_{train,val}``)
  2. train the R-50-FPN teacher            (scripts/train_net.py, configs/synthetic/teacher_R50.yaml)
  3. train the R-18-FPN no-KD student       (scripts/train_net.py, configs/synthetic/student_R18.yaml)
  4. distil the R-18-FPN student with GraphKD (scripts/distill.py, configs/synthetic/graphkd_R18_from_R50.yaml)
  5. evaluate all three (COCO box AP) and time CPU inference; print one table, write results.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = [  # (name, config, script)
    ("teacher R-50-FPN", "configs/synthetic/teacher_R50.yaml", "scripts/train_net.py"),
    ("student R-18-FPN (no KD)", "configs/synthetic/student_R18.yaml", "scripts/train_net.py"),
    ("student R-18-FPN (GraphKD)", "configs/synthetic/graphkd_R18_from_R50.yaml", "scripts/distill.py"),
]


def schedule_opts(iters: int) -> list[str]:
    """The same schedule for every model, scaled to ``iters``: warmup, two LR steps, resumable checkpoints."""
    return [
        "SOLVER.MAX_ITER", str(iters),
        "SOLVER.STEPS", f"({int(iters * 0.75)}, {int(iters * 0.92)})",
        "SOLVER.WARMUP_ITERS", str(max(1, min(50, iters // 10))),
        "SOLVER.CHECKPOINT_PERIOD", str(max(1, iters // 4)),
    ]


def train(name: str, config: str, script: str, out_dir: Path, iters: int, extra: list[str]) -> Path:
    final = out_dir / "model_final.pth"
    if final.exists():
        print(f"[demo] {name}: {final} exists, skipping training", flush=True)
        return final
    cmd = [sys.executable, str(ROOT / script), "--config-file", str(ROOT / config)]
    if (out_dir / "last_checkpoint").exists():
        cmd.append("--resume")
    cmd += ["OUTPUT_DIR", str(out_dir), *schedule_opts(iters), *extra]
    print(f"[demo] {name}: {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return final


def evaluate(config: str, weights: Path, out_dir: Path, num_timed: int) -> dict:
    """COCO box AP on the val set, parameter count and median CPU inference ms/image of one model."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import DatasetCatalog, detection_utils
    from detectron2.data import transforms as T
    from detectron2.engine import default_argument_parser

    from graphkd.engine.speed import count_parameters, inference_ms_per_image
    from graphkd.engine.trainer import GraphKDTrainer, setup_cfg

    args = default_argument_parser().parse_args(
        ["--config-file", str(ROOT / config), "MODEL.META_ARCHITECTURE", "GeneralizedRCNN", "OUTPUT_DIR", str(out_dir)]
    )
    cfg = setup_cfg(args)
    model = GraphKDTrainer.build_model(cfg)
    DetectionCheckpointer(model).load(str(weights))
    results = GraphKDTrainer.test(cfg, model)[cfg.DATASETS.TEST[0]]["bbox"]

    records = DatasetCatalog.get(cfg.DATASETS.TEST[0])[:num_timed]
    resize = T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    inputs = []
    for record in records:
        image = detection_utils.read_image(record["file_name"], format=cfg.INPUT.FORMAT)
        resized = resize.get_transform(image).apply_image(image)
        tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
        inputs.append({"image": tensor, "height": image.shape[0], "width": image.shape[1]})
    return {
        **results,
        "params_M": count_parameters(model) / 1e6,
        "cpu_ms_per_image": inference_ms_per_image(model, inputs),
    }


def print_table(rows: dict[str, dict]) -> str:
    classes = sorted({k[3:] for r in rows.values() for k in r if k.startswith("AP-")})
    header = ["model", "AP", "AP50", "AP75", *[f"AP-{c}" for c in classes], "params (M)", "CPU ms/img"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in rows.items():
        cells = [name] + [f"{r.get(k, float('nan')):.1f}" for k in ["AP", "AP50", "AP75"] + [f"AP-{c}" for c in classes]]
        cells += [f"{r['params_M']:.1f}", f"{r['cpu_ms_per_image']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table, flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=600, help="training iterations per model (batch 2)")
    parser.add_argument("--output", default="output/demo", help="folder for checkpoints and results")
    parser.add_argument("--timed-images", type=int, default=20, help="val pages timed for CPU ms/image")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    os.environ.setdefault("GRAPHKD_DATASETS", str(ROOT / "datasets"))
    out = (ROOT / args.output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()

    print("[demo] stage 1/5: synthetic pages", flush=True)
    import graphkd.data  # noqa: F401  (registers synth_publaynet_*)
    from detectron2.data import DatasetCatalog

    for split in ("train", "val"):
        print(f"[demo]   synth_publaynet_{split}: {len(DatasetCatalog.get(f'synth_publaynet_{split}'))} pages", flush=True)

    dirs = [out / "teacher_R50", out / "student_R18", out / "graphkd_R18_from_R50"]
    weights = []
    for stage, ((name, config, script), out_dir) in enumerate(zip(MODELS, dirs), start=2):
        print(f"[demo] stage {stage}/5: {name} ({time.time() - start:.0f} s so far)", flush=True)
        extra = ["TEACHER.WEIGHTS", str(weights[0])] if script.endswith("distill.py") else []
        weights.append(train(name, config, script, out_dir, args.iters, extra))

    print(f"[demo] stage 5/5: evaluation ({time.time() - start:.0f} s so far)", flush=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for (name, config, _), w, out_dir in zip(MODELS, weights, dirs):
        if name not in results:
            results[name] = evaluate(config, w, out_dir, args.timed_images)
            results_path.write_text(json.dumps(results, indent=2))
    table = print_table(results)
    (out / "results.md").write_text(table + "\n")
    print(f"[demo] done in {time.time() - start:.0f} s; results in {results_path}", flush=True)


if __name__ == "__main__":
    main()
