"""Bad input ends the scripts with exit status 2 and one line naming the culprit; unreadable images are skipped
on request (``DATALOADER.SKIP_BAD_IMAGES``)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, tiny_cfg, write_cfg
from test_engine_robustness_utils import (
    GRAPHKD_CONFIG,
    TINY_RUN_OPTS,
    as_opts,
    make_pages,
    run_opts,
    script_args,
)

from graphkd.engine.data import BadImageGuard, build_train_loader
from graphkd.engine.errors import DEBUG_ENV, BadImageError, exit_on_user_error, one_line_message


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> tuple[Path, Path]:
    return make_pages(tmp_path_factory.mktemp("pages"), num_pages=2)


@pytest.fixture
def page_copy(pages, tmp_path) -> tuple[Path, Path]:
    """A private copy of the two pages, free to damage."""
    json_file, image_root = pages
    copy_root = tmp_path / "images"
    copy_root.mkdir()
    for image in image_root.iterdir():
        (copy_root / image.name).write_bytes(image.read_bytes())
    copy_json = tmp_path / "annotations.json"
    copy_json.write_text(json_file.read_text())
    return copy_json, copy_root


def cli_run(
    opts: list[str], config_file: str = GRAPHKD_CONFIG, require_graphkd: bool = True
) -> tuple[int, str]:
    """``scripts/distill.py`` in process: (exit status, stderr)."""
    from graphkd.engine.trainer import run

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        with exit_on_user_error():
            run(script_args(opts, config_file), require_graphkd=require_graphkd)
    return exit_info.value.code, stderr.getvalue()


def assert_one_line_error(status: int, stderr: str, *culprits: str) -> str:
    assert status == 2
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]  # torch may warn around it
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    for culprit in culprits:
        assert culprit in errors[0], (culprit, errors[0])
    return errors[0]


def test_unknown_config_key_is_named(tmp_path):
    status, stderr = cli_run(["SOLVER.NO_SUCH_KEY", "1", "OUTPUT_DIR", str(tmp_path)])
    assert_one_line_error(status, stderr, "SOLVER.NO_SUCH_KEY", "graphkd_R18_from_R50.yaml")


def test_corrupt_image_is_named_when_met_in_training(tiny_teacher, page_copy, tmp_path):
    json_file, image_root = page_copy
    corrupt = image_root / "000001.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    status, stderr = cli_run(
        run_opts(tiny_teacher, json_file, image_root, tmp_path / "out")
    )  # batch 2: both pages
    assert_one_line_error(status, stderr, "cannot read image", str(corrupt), "SKIP_BAD_IMAGES")


def test_missing_image_is_named(tiny_teacher, page_copy, tmp_path):
    json_file, image_root = page_copy
    (image_root / "000001.png").unlink()
    status, stderr = cli_run(run_opts(tiny_teacher, json_file, image_root, tmp_path / "out"))
    assert_one_line_error(status, stderr, str(json_file), "missing", "000001.png")


def test_truncated_annotation_file_is_named(tiny_teacher, page_copy, tmp_path):
    json_file, image_root = page_copy
    text = json_file.read_text()
    json_file.write_text(text[: len(text) // 2])
    status, stderr = cli_run(run_opts(tiny_teacher, json_file, image_root, tmp_path / "out"))
    assert_one_line_error(status, stderr, str(json_file), "malformed JSON")


@pytest.mark.parametrize("images", [True, False], ids=["no_annotations", "no_images"])
def test_empty_dataset_is_named(tiny_teacher, page_copy, tmp_path, images):
    json_file, image_root = page_copy
    data = json.loads(json_file.read_text())
    data["annotations"] = []
    if not images:
        data["images"] = []
    json_file.write_text(json.dumps(data))
    status, stderr = cli_run(
        run_opts(tiny_teacher, json_file, image_root, tmp_path / "out", name="robust_empty")
    )
    line = assert_one_line_error(status, stderr)
    assert ("robust_empty" if images else str(json_file)) in line


def test_teacher_weights_for_another_class_count_are_named(page_copy, tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    teacher_cfg = tiny_cfg(extra=["MODEL.FPN.OUT_CHANNELS", 64])  # 5 classes, as the student
    three_class = build_model(
        tiny_cfg(extra=["MODEL.FPN.OUT_CHANNELS", 64, "MODEL.ROI_HEADS.NUM_CLASSES", 3])
    )
    DetectionCheckpointer(three_class, save_dir=str(tmp_path)).save("teacher_3cls")
    teacher = (write_cfg(teacher_cfg, tmp_path / "teacher.yaml"), str(tmp_path / "teacher_3cls.pth"))
    status, stderr = cli_run(run_opts(teacher, *page_copy, tmp_path / "out"))
    assert_one_line_error(status, stderr, "teacher_3cls.pth", "3 classes", "5")


def test_teacher_config_that_is_not_a_detectron2_config_is_named(tiny_teacher, page_copy, tmp_path):
    not_d2 = tmp_path / "not_detectron2.yaml"
    not_d2.write_text("model:\n  name: yolov8\nepochs: 3\n")
    teacher = (str(not_d2), tiny_teacher[1])
    status, stderr = cli_run(run_opts(teacher, *page_copy, tmp_path / "out"))
    assert_one_line_error(status, stderr, str(not_d2), "not a valid detectron2 config")


def test_debug_env_keeps_the_traceback(tmp_path, monkeypatch):
    from graphkd.engine.trainer import run

    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(ValueError, match="SOLVER.NO_SUCH_KEY"), exit_on_user_error():
        run(script_args(["SOLVER.NO_SUCH_KEY", "1", "OUTPUT_DIR", str(tmp_path)]), require_graphkd=True)


def test_error_from_a_dataloader_worker_is_reduced_to_its_original_line():
    from torch._utils import ExceptionWrapper

    try:
        raise BadImageError("cannot read image /data/pages/17.png (UnidentifiedImageError: cannot identify)")
    except BadImageError:
        wrapper = ExceptionWrapper(where="in DataLoader worker process 0")
    with pytest.raises(BadImageError) as raised:
        wrapper.reraise()  # what the main process sees with DATALOADER.NUM_WORKERS > 0
    assert "Original Traceback" in str(raised.value)
    assert one_line_message(raised.value) == (
        "cannot read image /data/pages/17.png (UnidentifiedImageError: cannot identify)"
    )
    assert one_line_message(ValueError("first\n  second\n")) == "first; second"


def test_script_exits_2_with_one_line_naming_the_bad_key(tmp_path):
    """A real process: scripts/distill.py, as a user runs it."""
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "distill.py"),
        "--config-file",
        str(ROOT / GRAPHKD_CONFIG),
        "SOLVER.NO_SUCH_KEY",
        "1",
        "OUTPUT_DIR",
        str(tmp_path),
    ]
    env = {k: v for k, v in os.environ.items() if k != DEBUG_ENV}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "SOLVER.NO_SUCH_KEY" in errors[0], result.stderr[-3000:]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_net_exits_2_naming_a_truncated_annotation_file(page_copy, tmp_path):
    json_file, image_root = page_copy
    json_file.write_text(json_file.read_text()[:100])
    opts = TINY_RUN_OPTS + as_opts(
        {
            "DATASETS.REGISTER": f'("robust={json_file}:{image_root}",)',
            "DATASETS.TRAIN": '("robust",)',
            "OUTPUT_DIR": tmp_path / "out",
        }
    )
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "train_net.py"),
        "--config-file",
        str(ROOT / "configs/synthetic/student_R18.yaml"),
        *opts,
    ]
    env = {k: v for k, v in os.environ.items() if k != DEBUG_ENV}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(json_file) in errors[0] and "malformed JSON" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_skip_bad_images_replaces_an_unreadable_image_with_a_warning_and_a_count(page_copy, caplog):
    """The loader GraphKDTrainer trains from: every batch is full, the corrupt page never in it."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from graphkd.data import register_layout_dataset

    json_file, image_root = page_copy
    corrupt = image_root / "000000.png"
    corrupt.write_bytes(b"not an image at all")
    register_layout_dataset("robust_skip", json_file, image_root)
    overrides = {
        "DATASETS.TRAIN": '("robust_skip",)',
        "DATALOADER.NUM_WORKERS": 0,
        "SOLVER.IMS_PER_BATCH": 2,
        "INPUT.MIN_SIZE_TRAIN": "(64,)",
        "INPUT.MAX_SIZE_TRAIN": 96,
        "DATALOADER.SKIP_BAD_IMAGES": True,
    }
    cfg = tiny_cfg(extra=as_opts(overrides))
    try:
        loader = build_train_loader(cfg)
        with caplog.at_level(logging.WARNING, logger="graphkd.engine.data"):
            batches = [batch for batch, _ in zip(loader, range(3))]
    finally:
        DatasetCatalog.remove("robust_skip")
        MetadataCatalog.remove("robust_skip")
    assert all(len(batch) == 2 for batch in batches)
    assert all(record["file_name"] != str(corrupt) for batch in batches for record in batch)
    assert all(isinstance(record["image"], torch.Tensor) for batch in batches for record in batch)
    skipped = [r for r in caplog.records if "Skipping unreadable image" in r.getMessage()]
    assert (
        skipped and str(corrupt) in skipped[0].getMessage() and "1 skipped so far" in skipped[0].getMessage()
    )

    guard = BadImageGuard(_read, skip_bad_images=True)  # no replacements: None, detectron2's "skip"
    assert guard({"file_name": str(corrupt)}) is None and guard.num_skipped == 1
    with pytest.raises(BadImageError, match="missing.png"):
        BadImageGuard(_read)({"file_name": str(image_root / "missing.png")})


def test_skipped_image_count_adds_up_over_dataloader_workers(page_copy):
    json_file, image_root = page_copy
    corrupt = image_root / "000000.png"
    corrupt.write_bytes(b"not an image at all")
    guard = BadImageGuard(_read, skip_bad_images=True)
    records = [{"file_name": str(corrupt)}, {"file_name": str(image_root / "000001.png")}] * 3
    loader = torch.utils.data.DataLoader(records, batch_size=None, num_workers=2, collate_fn=guard)
    mapped = list(loader)
    assert sum(item is None for item in mapped) == 3
    assert guard.num_skipped == 3  # counted in the worker processes, read in this one


def _read(record: dict):
    from detectron2.data.detection_utils import read_image

    return read_image(record["file_name"])


def test_training_with_skip_bad_images_runs_past_a_corrupt_page(tiny_teacher, page_copy, tmp_path, caplog):
    from graphkd.engine.trainer import GraphKDTrainer, setup_cfg

    json_file, image_root = page_copy
    (image_root / "000001.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    opts = run_opts(tiny_teacher, json_file, image_root, tmp_path / "out")
    opts += as_opts({"SOLVER.MAX_ITER": 3, "DATALOADER.SKIP_BAD_IMAGES": True})
    trainer = GraphKDTrainer(setup_cfg(script_args(opts)))
    trainer.resume_or_load(resume=False)
    with caplog.at_level(logging.WARNING, logger="graphkd.engine.data"):
        trainer.train()
    assert len(trainer.storage.history("total_loss").values()) == 3
    warnings = [r.getMessage() for r in caplog.records if "Skipping unreadable image" in r.getMessage()]
    assert warnings and str(image_root / "000001.png") in warnings[0]  # batch 2 of 2 pages: met at once
    assert (tmp_path / "out" / "model_student.pth").exists()
