"""graphkd.inference.export and scripts/export.py: TorchScript round trip, ONNX, and the detection comparison."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from conftest import ROOT, tiny_cfg, write_cfg

TEST_OPTS = [
    "INPUT.MIN_SIZE_TEST",
    256,
    "INPUT.MAX_SIZE_TEST",
    320,
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
    0.0,
    "TEST.DETECTIONS_PER_IMAGE",
    30,
]


@pytest.fixture(scope="module")
def tiny_model():
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    cfg = tiny_cfg(extra=TEST_OPTS)
    return cfg, build_model(cfg).eval()


def page_tensors() -> list[torch.Tensor]:
    """Two preprocessed pages of different sizes: (3, 320, 256) and (3, 256, 320)."""
    generator = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, 255, (3, 320, 256), generator=generator).float(),
        torch.randint(0, 255, (3, 256, 320), generator=generator).float(),
    ]


def test_torchscript_export_round_trip_matches_eager_within_tolerance(tiny_model, tmp_path):
    from graphkd.inference.export import TOLERANCES, export_and_verify

    _, model = tiny_model
    report = export_and_verify(model, page_tensors(), tmp_path, "torchscript")
    assert (tmp_path / "model.ts").is_file()
    assert all(diff.num_reference > 0 for diff in report.diffs), "score threshold 0 keeps detections"
    assert report.passed, [str(d) for d in report.diffs]
    assert report.max_box_diff <= TOLERANCES["torchscript"]["box"]
    assert report.max_score_diff <= TOLERANCES["torchscript"]["score"]


def test_compare_detections_ignores_order_and_sees_moved_boxes():
    from detectron2.structures import Boxes, Instances

    from graphkd.inference.export import compare_detections

    def detections(boxes, classes, scores):
        instances = Instances((100, 100))
        instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        instances.pred_classes = torch.tensor(classes)
        instances.scores = torch.tensor(scores)
        return instances

    reference = detections([[0, 0, 10, 10], [20, 20, 40, 50]], [0, 3], [0.9, 0.5])
    same = compare_detections(reference, detections([[20, 20, 40, 50], [0, 0, 10, 10]], [3, 0], [0.5, 0.9]))
    assert same.max_box_diff == 0 and same.max_score_diff == 0 and same.within(1e-3, 1e-5)
    moved = compare_detections(reference, detections([[0, 0, 10, 10], [20, 20, 40, 52]], [0, 3], [0.9, 0.5]))
    assert moved.max_box_diff == pytest.approx(2.0) and not moved.within(1e-3, 1e-5)
    fewer = compare_detections(reference, detections([[0, 0, 10, 10]], [0], [0.9]))
    assert not fewer.within(1e-3, 1e-5)


def load_export_script():
    spec = importlib.util.spec_from_file_location("script_export", ROOT / "scripts" / "export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_model, tmp_path_factory):
    from detectron2.checkpoint import DetectionCheckpointer

    cfg, model = tiny_model
    folder = tmp_path_factory.mktemp("export_student")
    DetectionCheckpointer(model, save_dir=str(folder)).save("student")
    return write_cfg(cfg, folder / "student.yaml"), str(folder / "student.pth")


def test_export_script_torchscript_with_sample_page(tiny_checkpoint, tmp_path, capsys):
    from PIL import Image

    config, weights = tiny_checkpoint
    sample = tmp_path / "sample.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (320, 256, 3), dtype=np.uint8)).save(sample)
    out = tmp_path / "ts"
    argv = ["--config-file", config, "--weights", weights, "--output", str(out), "--format", "torchscript"]
    assert load_export_script().main([*argv, "--sample", str(sample)]) == 0
    assert "PASSED: max box diff" in capsys.readouterr().out
    info = json.loads((out / "export_info.json").read_text())
    assert info["file"] == "model.ts" and info["check"]["passed"] and len(info["check"]["pages"]) == 2
    assert torch.jit.load(str(out / "model.ts")) is not None


def test_onnx_export_matches_eager_or_fails_clearly(tiny_model, tmp_path):
    from graphkd.inference.export import OnnxUnavailableError, export_and_verify

    _, model = tiny_model
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        with pytest.raises(OnnxUnavailableError, match="pip install"):
            export_and_verify(model, page_tensors(), tmp_path, "onnx")
        return
    report = export_and_verify(model, page_tensors(), tmp_path, "onnx")
    assert (tmp_path / "model.onnx").is_file()
    assert report.passed, [str(d) for d in report.diffs]


def test_onnx_export_without_onnxruntime_fails_with_a_clear_message(
    tiny_checkpoint, tmp_path, monkeypatch, capsys
):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "onnxruntime" else find_spec(name, *args),
    )
    config, weights = tiny_checkpoint
    argv = ["--config-file", config, "--weights", weights, "--output", str(tmp_path), "--format", "onnx"]
    assert load_export_script().main(argv) == 2
    assert "need onnxruntime: pip install onnxruntime" in capsys.readouterr().err
