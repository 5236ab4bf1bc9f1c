"""End to end on the CPU through the real scripts: train a tiny teacher, distil a student, evaluate it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from conftest import ROOT, TINY_OPTS

from graphkd.data.synthetic import generate_synthetic_dataset

SMALL = [str(v) for v in TINY_OPTS if v not in ()] + [
    "INPUT.MIN_SIZE_TRAIN",
    "(192,)",
    "INPUT.MAX_SIZE_TRAIN",
    "256",
    "INPUT.MIN_SIZE_TEST",
    "192",
    "INPUT.MAX_SIZE_TEST",
    "256",
    "SOLVER.WARMUP_ITERS",
    "2",
    "SOLVER.CHECKPOINT_PERIOD",
    "100",
    "DATALOADER.NUM_WORKERS",
    "0",
    "TEST.DETECTIONS_PER_IMAGE",
    "20",
]


def script(name: str, config: str, *opts: str, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "scripts" / name), "--config-file", str(ROOT / config), *flags, *opts]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def metrics(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    train = generate_synthetic_dataset(root / "train", num_pages=4, seed=0, size=(240, 320))
    val = generate_synthetic_dataset(root / "val", num_pages=2, seed=1, size=(240, 320))
    return [
        "DATASETS.REGISTER",
        f'("e2e_train={train}:{train.parent / "images"}", "e2e_val={val}:{val.parent / "images"}")',
        "DATASETS.TRAIN",
        '("e2e_train",)',
        "DATASETS.TEST",
        '("e2e_val",)',
    ]


def test_teacher_then_graphkd_then_evaluation(pages, tmp_path):
    # DATASETS.TRAIN/TEST in TINY_OPTS are emptied; the page datasets come last and win.
    teacher_dir, student_dir = tmp_path / "teacher", tmp_path / "graphkd"
    script(
        "train_net.py",
        "configs/synthetic/teacher_R50.yaml",
        *SMALL,
        *pages,
        "MODEL.RESNETS.DEPTH",
        "18",
        "MODEL.RESNETS.RES2_OUT_CHANNELS",
        "64",
        "SOLVER.MAX_ITER",
        "3",
        "OUTPUT_DIR",
        str(teacher_dir),
    )
    assert (teacher_dir / "model_final.pth").exists()

    result = script(
        "distill.py",
        "configs/synthetic/graphkd_R18_from_R50.yaml",
        *SMALL,
        *pages,
        "TEACHER.OPTS",
        '["MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64", '
        '"MODEL.FPN.OUT_CHANNELS", "32", "MODEL.ROI_BOX_HEAD.FC_DIM", "64"]',
        "TEACHER.WEIGHTS",
        str(teacher_dir / "model_final.pth"),
        "SOLVER.MAX_ITER",
        "3",
        "TEST.EVAL_PERIOD",
        "3",
        "OUTPUT_DIR",
        str(student_dir),
    )
    logged = metrics(student_dir / "metrics.json")
    train_rows = [row for row in logged if "loss_graphkd_node_fg" in row]
    assert train_rows, "no GraphKD losses in metrics.json"
    for name in ("loss_graphkd_node_fg", "loss_graphkd_edge", "loss_cls", "loss_box_reg", "total_loss"):
        assert all(math.isfinite(row[name]) for row in train_rows), name
    assert any("bbox/AP" in row for row in logged), "evaluation did not run"
    assert "Evaluation results for bbox" in result.stdout + result.stderr

    # the student checkpoint evaluates without a teacher through --eval-only
    result = script(
        "distill.py",
        "configs/synthetic/graphkd_R18_from_R50.yaml",
        *SMALL,
        *pages,
        "MODEL.WEIGHTS",
        str(student_dir / "model_student.pth"),
        "OUTPUT_DIR",
        str(tmp_path / "eval"),
        flags=("--eval-only",),
    )
    assert "Evaluation results for bbox" in result.stdout + result.stderr
