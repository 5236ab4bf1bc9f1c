"""Resumable training runs and their evaluation, shared by ``scripts/demo.py`` and ``scripts/run_experiments.py``.

Each run is a subprocess of ``scripts/train_net.py`` or ``scripts/distill.py`` (detectron2 prints progress
with an ETA); a run whose ``model_final.pth`` exists is skipped, and one with a ``last_checkpoint`` resumes.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)


def schedule_opts(iters: int) -> list[str]:
    """The same schedule for every model, scaled to ``iters``: warmup, two LR steps, resumable checkpoints."""
    return [
        "SOLVER.MAX_ITER",
        str(iters),
        "SOLVER.STEPS",
        f"({int(iters * 0.75)}, {int(iters * 0.92)})",
        "SOLVER.WARMUP_ITERS",
        str(max(1, min(50, iters // 10))),
        "SOLVER.CHECKPOINT_PERIOD",
        str(max(1, iters // 4)),
    ]


def train_run(script: str, config: str, out_dir: Path, opts: list[str]) -> Path:
    """Train (or resume, or skip) one run; returns the path of its final checkpoint."""
    final = out_dir / "model_final.pth"
    if final.exists():
        print(f"[runs] {out_dir.name}: {final} exists, skipping training", flush=True)
        return final
    cmd = [sys.executable, str(REPO_ROOT / script), "--config-file", str(REPO_ROOT / config)]
    if (out_dir / "last_checkpoint").exists():
        cmd.append("--resume")
    cmd += ["OUTPUT_DIR", str(out_dir), *opts]
    print(f"[runs] {out_dir.name}: {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    return final


def evaluate_run(
    config: str, weights: Path, out_dir: Path, opts: list[str] = (), num_timed: int = 20
) -> dict:
    """COCO box AP on the config's first test set, parameter count and median CPU inference ms/image."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import DatasetCatalog, detection_utils
    from detectron2.data import transforms as T
    from detectron2.engine import default_argument_parser

    from graphkd.config import as_plain_student

    from .speed import count_parameters, inference_ms_per_image
    from .trainer import GraphKDTrainer, setup_cfg

    args = default_argument_parser().parse_args(
        [
            "--config-file",
            str(REPO_ROOT / config),
            *opts,
            "OUTPUT_DIR",
            str(out_dir),
        ]
    )
    cfg = as_plain_student(setup_cfg(args))  # the student alone: no teacher is built
    model = GraphKDTrainer.build_model(cfg)
    DetectionCheckpointer(model).load(str(weights))
    results = final_evaluation(out_dir / "metrics.json")
    if results is None:  # not evaluated at the end of training (or evaluated elsewhere): evaluate now
        tested = GraphKDTrainer.test(cfg, model)  # detectron2 unwraps the dict when there is one test set
        results = dict(tested.get(cfg.DATASETS.TEST[0], tested)["bbox"])
    if num_timed > 0:
        resize = T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
        inputs = []
        for record in DatasetCatalog.get(cfg.DATASETS.TEST[0])[:num_timed]:
            image = detection_utils.read_image(record["file_name"], format=cfg.INPUT.FORMAT)
            resized = resize.get_transform(image).apply_image(image)
            tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
            inputs.append({"image": tensor, "height": image.shape[0], "width": image.shape[1]})
        results["cpu_ms_per_image"] = inference_ms_per_image(model, inputs)
    results["params_M"] = count_parameters(model) / 1e6
    return results


def final_evaluation(metrics_file: Path) -> dict | None:
    """The box AP detectron2's EvalHook logged at the run's last logged iteration, or None.

    The last iteration is read from the log itself: the schedule may have been overridden on the command
    line, so the config file's ``SOLVER.MAX_ITER`` is not the run's.
    """
    if not metrics_file.exists():
        return None
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    last = max((r.get("iteration", -1) for r in rows), default=-1)
    final = [r for r in rows if r.get("iteration", -1) == last and "bbox/AP" in r]
    if not final:
        return None
    return {k[len("bbox/") :]: v for k, v in final[-1].items() if k.startswith("bbox/")}


def cached_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def save_results(path: Path, results: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(path)


def markdown_table(rows: dict[str, dict], extra_columns: tuple[tuple[str, str, str], ...] = ()) -> str:
    """AP, AP50, AP75 and per-class AP of each run, plus ``(key, header, format)`` extra columns."""
    classes = sorted({k[3:] for r in rows.values() for k in r if k.startswith("AP-")})
    keys = ["AP", "AP50", "AP75", *[f"AP-{c}" for c in classes]]
    header = ["run", *keys, *[h for _, h, _ in extra_columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in rows.items():
        cells = [name] + [f"{r[k]:.1f}" if k in r else "-" for k in keys]
        cells += [format(r[k], fmt) if k in r else "-" for k, _, fmt in extra_columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
