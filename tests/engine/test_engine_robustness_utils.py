"""Shared pieces of the robustness tests: tiny generated pages and a tiny GraphKD config file for the scripts."""

from __future__ import annotations

import json
import math
from pathlib import Path

from conftest import ROOT, TINY_OPTS

GRAPHKD_CONFIG = "configs/synthetic/graphkd_R18_from_R50.yaml"


def as_opts(overrides: dict) -> list[str]:
    """``{"KEY": value}`` -> ``["KEY", "value", ...]``, detectron2's command-line override list."""
    return [item for key, value in overrides.items() for item in (key, str(value))]


# A GraphKD run on 200x260 pages at about a second per CPU iteration: tiny model, 128-pixel inputs, 32 RoIs.
TINY_RUN_OPTS = [str(v) for v in TINY_OPTS] + as_opts(
    {
        "INPUT.MIN_SIZE_TRAIN": "(128,)",
        "INPUT.MAX_SIZE_TRAIN": 176,
        "INPUT.MIN_SIZE_TEST": 128,
        "INPUT.MAX_SIZE_TEST": 176,
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE": 32,
        "SOLVER.IMS_PER_BATCH": 2,
        "SOLVER.BASE_LR": 0.005,
        "SOLVER.WARMUP_ITERS": 3,
        "SOLVER.STEPS": "(6,)",
        "SOLVER.MAX_ITER": 10,
        "SOLVER.CHECKPOINT_PERIOD": 100,
        "DATALOADER.NUM_WORKERS": 0,
        "TEST.EVAL_PERIOD": 0,
        "TEST.DETECTIONS_PER_IMAGE": 20,
        "SEED": 7,
    }
)


def make_pages(root: Path, num_pages: int = 6, seed: int = 0) -> tuple[Path, Path]:
    """``num_pages`` synthetic 200x260 pages: (annotation json, image folder)."""
    from graphkd.data.synthetic import generate_synthetic_dataset

    json_file = Path(generate_synthetic_dataset(root, num_pages=num_pages, seed=seed, size=(200, 260)))
    return json_file, json_file.parent / "images"


def run_opts(
    teacher: tuple[str, str], json_file: Path, image_root: Path, output_dir: Path, name: str = "robust"
):
    """Config overrides of a tiny GraphKD run on one registered page set (trained and tested on)."""
    teacher_cfg, teacher_weights = teacher
    return TINY_RUN_OPTS + as_opts(
        {
            "TEACHER.CONFIG_FILE": teacher_cfg,
            "TEACHER.WEIGHTS": teacher_weights,
            "DATASETS.REGISTER": f'("{name}={json_file}:{image_root}",)',
            "DATASETS.TRAIN": f'("{name}",)',
            "OUTPUT_DIR": output_dir,
        }
    )


def script_args(opts: list[str], config_file: str = GRAPHKD_CONFIG, **flags):
    """The ``argparse.Namespace`` that ``scripts/distill.py --config-file ... opts`` parses to."""
    from detectron2.engine import default_argument_parser

    argv = ["--config-file", str(ROOT / config_file)]
    argv += [f"--{flag.replace('_', '-')}" for flag, on in flags.items() if on]
    return default_argument_parser().parse_args(argv + list(opts))


def metrics_rows(output_dir: Path) -> list[dict]:
    path = Path(output_dir) / "metrics.json"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def all_finite(values) -> bool:
    return all(math.isfinite(v) for v in values)
