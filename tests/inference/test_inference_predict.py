"""scripts/predict.py and graphkd.inference.predictor: JSON schema, overlays, PDFs, failures, GraphKD configs."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from conftest import ROOT, tiny_cfg, write_cfg
from PIL import Image

# Small pages and a random-init tiny R-18-FPN that keeps every detection (score threshold 0), at most 5 a page.
TEST_OPTS = [
    "INPUT.MIN_SIZE_TEST",
    256,
    "INPUT.MAX_SIZE_TEST",
    320,
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
    0.0,
    "TEST.DETECTIONS_PER_IMAGE",
    5,
]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_student(tmp_path_factory):
    """(config path, weights path) of a tiny random-init student saved as a detectron2 checkpoint."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    folder = tmp_path_factory.mktemp("student")
    torch.manual_seed(0)
    cfg = tiny_cfg(extra=TEST_OPTS)
    DetectionCheckpointer(build_model(cfg), save_dir=str(folder)).save("student")
    return write_cfg(cfg, folder / "student.yaml"), str(folder / "student.pth")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A generated 256x320 page (PNG), a 2-page PDF (216x288 pt pages, matplotlib), corrupt files."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from graphkd.data.synthetic import render_page

    folder = tmp_path_factory.mktemp("pages")
    image, _ = render_page(np.random.default_rng(0), size=(256, 320))
    image.save(folder / "page.png")
    with PdfPages(folder / "doc.pdf") as pdf:
        for number in (1, 2):
            figure = Figure(figsize=(3, 4))
            axes = figure.add_subplot()
            axes.bar([1, 2, 3], [number, 2, 3])
            axes.set_title(f"Page {number}")
            pdf.savefig(figure)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not a PDF body\n")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    return folder


def predict(tiny_student, inputs, out, *extra) -> int:
    config, weights = tiny_student
    argv = [
        "--config-file",
        config,
        "--weights",
        weights,
        "--output",
        str(out),
        "--dpi",
        "72",
        "--score-thresh",
        "0",
    ]
    return load_script("predict").main([*argv, *extra, "--input", *map(str, inputs)])


def test_predict_writes_coco_results_and_overlays_for_images_and_pdf_pages(tiny_student, pages, tmp_path):
    out = tmp_path / "out"
    assert predict(tiny_student, [pages / "page.png", pages / "doc.pdf"], out, "--batch-size", "2") == 0

    data = json.loads((out / "predictions.json").read_text())
    assert set(data) >= {"images", "annotations", "categories"}
    images = data["images"]
    assert [(i["id"], i["page"]) for i in images] == [(1, None), (2, 1), (3, 2)]
    assert images[0]["file_name"].endswith("page.png") and images[1]["file_name"].endswith("doc.pdf")
    assert (images[0]["width"], images[0]["height"]) == (256, 320)
    for pdf_page in images[1:]:  # 3 x 4 inches at 72 dpi
        assert abs(pdf_page["width"] - 216) <= 1 and abs(pdf_page["height"] - 288) <= 1
    assert [c["id"] for c in data["categories"]] == [1, 2, 3, 4, 5]  # no metadata: contiguous + 1
    assert [c["name"] for c in data["categories"]] == [f"class_{i}" for i in range(5)]

    annotations = data["annotations"]
    assert annotations, "score threshold 0 keeps detections"
    assert {a["image_id"] for a in annotations} <= {1, 2, 3}
    for a in annotations:
        assert set(a) == {"image_id", "category_id", "bbox", "score"}
        assert len(a["bbox"]) == 4 and a["bbox"][2] >= 0 and a["bbox"][3] >= 0
        assert 1 <= a["category_id"] <= 5 and 0.0 <= a["score"] <= 1.0

    for image in images:
        overlay = Image.open(out / image["overlay"])
        assert overlay.size == (image["width"], image["height"])
    assert len(list((out / "overlays").glob("*.png"))) == 3


def test_predict_reports_corrupt_and_missing_inputs_and_still_predicts_the_others(
    tiny_student, pages, tmp_path, capsys
):
    inputs = [pages / "corrupt.pdf", pages / "page.png", pages / "corrupt.png", tmp_path / "missing.png"]
    assert predict(tiny_student, inputs, tmp_path / "out") == 1

    err = capsys.readouterr().err
    assert "3 input(s) failed" in err
    for name in ("corrupt.pdf", "corrupt.png", "missing.png"):
        assert name in err
    data = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert [i["file_name"] for i in data["images"]] == [str(pages / "page.png")]
    assert sorted(f["path"].rsplit("/", 1)[-1] for f in data["failures"]) == [
        "corrupt.pdf",
        "corrupt.png",
        "missing.png",
    ]


def test_predict_expands_folders_and_globs_sorted_and_once(tmp_path):
    from graphkd.inference import expand_inputs

    for name in ("b.png", "a.jpg", "sub/c.pdf", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    files, failures = expand_inputs([tmp_path, str(tmp_path / "*.png"), tmp_path / "notes.txt"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.jpg", "b.png", "sub/c.pdf"]
    assert [f.path for f in failures] == [str(tmp_path / "notes.txt")]
    assert "unsupported file type" in failures[0].reason


def test_predict_config_overrides_after_input_are_applied(tiny_student, pages, tmp_path):
    out = tmp_path / "out"
    assert predict(tiny_student, [pages / "page.png", "TEST.DETECTIONS_PER_IMAGE", "3"], out) == 0
    data = json.loads((out / "predictions.json").read_text())
    assert len(data["images"]) == 1 and 0 < len(data["annotations"]) <= 3


def test_graphkd_light_config_predicts_as_the_plain_light_student():
    from graphkd.inference import setup_inference_cfg

    cfg = setup_inference_cfg(
        ROOT / "configs/light/graphkd_R18light_from_R50.yaml", device="cpu", score_thresh=0.3
    )
    assert cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN"
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == pytest.approx(0.3)
    assert cfg.TEACHER.CONFIG_FILE == "configs/synthetic/teacher_R50.yaml"
    student = setup_inference_cfg(ROOT / "configs/synthetic/student_R18.yaml")
    assert cfg.MODEL.RESNETS.DEPTH == student.MODEL.RESNETS.DEPTH == 18
    assert cfg.INPUT.MIN_SIZE_TEST == student.INPUT.MIN_SIZE_TEST
    assert cfg.MODEL.FPN.OUT_CHANNELS < student.MODEL.FPN.OUT_CHANNELS
    assert cfg.MODEL.ROI_BOX_HEAD.FC_DIM < student.MODEL.ROI_BOX_HEAD.FC_DIM
    assert cfg.MODEL.RPN.POST_NMS_TOPK_TEST < student.MODEL.RPN.POST_NMS_TOPK_TEST


def _weight_shapes(config: str, opts=()):
    """Weight name -> shape of the plain student a config (+ opts) predicts with, and that config."""
    from detectron2.modeling import build_model

    from graphkd.inference import setup_inference_cfg

    cfg = setup_inference_cfg(ROOT / config, opts=opts, device="cpu")
    return {name: tuple(p.shape) for name, p in build_model(cfg).state_dict().items()}, cfg


@pytest.mark.parametrize(
    "graphkd_config, student_config",
    [
        ("configs/light/graphkd_R18light_from_R50.yaml", "configs/light/student_R18_light.yaml"),
        ("configs/synthetic/graphkd_R18_from_R50.yaml", "configs/synthetic/student_R18.yaml"),
    ],
)
def test_graphkd_config_distils_the_student_of_its_no_kd_config(graphkd_config, student_config):
    """The distilled student and its no-KD baseline are the same network (same weights' names and shapes), so
    the two rows compare training, not architectures."""
    (distilled, cfg), (plain, student) = _weight_shapes(graphkd_config), _weight_shapes(student_config)
    assert cfg.MODEL.META_ARCHITECTURE == student.MODEL.META_ARCHITECTURE == "GeneralizedRCNN"
    assert distilled == plain
    assert cfg.MODEL.RPN.POST_NMS_TOPK_TEST == student.MODEL.RPN.POST_NMS_TOPK_TEST
    assert cfg.INPUT.MIN_SIZE_TEST == student.INPUT.MIN_SIZE_TEST


def test_thin_heads_rows_thin_the_rpn_and_box_head_only():
    """The thin_* ablation rows change the RPN conv and the box head, nothing the teacher's RoI features meet."""
    from graphkd.engine.runs import ROWS, THIN_HEADS

    def shapes(row):
        return _weight_shapes(ROWS[row][1])[0]

    thin, student = shapes("thin_baseline"), shapes("baseline")
    assert shapes("thin_full") == thin  # the distilled and the no-KD thin student
    differ = sorted(k for k in student if thin.get(k) != student[k])
    assert differ and all(k.startswith(("proposal_generator.", "roi_heads.box_")) for k in differ)
    assert all(thin[k] == student[k] for k in student if k.startswith("backbone."))
    assert thin["proposal_generator.rpn_head.conv.weight"][0] == 64 == int(THIN_HEADS[1].strip("[]"))
    assert thin["roi_heads.box_head.fc1.weight"][0] == 256 == int(THIN_HEADS[3])


def test_category_ids_come_from_dataset_metadata_when_registered():
    from detectron2.data import MetadataCatalog

    from graphkd.inference import dataset_classes

    MetadataCatalog.get("inference_test_ids").set(
        thing_classes=["a", "b", "c", "d", "e"],
        thing_dataset_id_to_contiguous_id={10: 0, 20: 1, 30: 2, 40: 3, 50: 4},
    )
    cfg = tiny_cfg(extra=["DATASETS.TEST", ("inference_test_ids",)])
    classes = dataset_classes(cfg)
    assert classes.names == ["a", "b", "c", "d", "e"]
    assert classes.dataset_ids == [10, 20, 30, 40, 50]


def test_batch_predictor_preprocesses_like_default_predictor(tiny_student):
    from detectron2.engine import DefaultPredictor

    from graphkd.inference import BatchPredictor, setup_inference_cfg

    cfg = setup_inference_cfg(tiny_student[0], tiny_student[1], device="cpu")
    predictor = BatchPredictor(cfg)
    page = np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    expected = DefaultPredictor(cfg)(page[:, :, ::-1].copy())["instances"]  # DefaultPredictor takes BGR
    (got,) = predictor([page])
    assert got.image_size == (300, 200)
    torch.testing.assert_close(got.pred_boxes.tensor, expected.pred_boxes.tensor)
    torch.testing.assert_close(got.scores, expected.scores)


def test_predict_missing_weights_or_config_exit_with_an_error(tiny_student, pages, tmp_path, capsys):
    config, _ = tiny_student
    script = load_script("predict")
    base = ["--output", str(tmp_path), "--input", str(pages / "page.png")]
    assert script.main(["--config-file", config, "--weights", str(tmp_path / "nope.pth"), *base]) == 2
    assert "weights not found" in capsys.readouterr().err
    assert script.main(["--config-file", str(tmp_path / "nope.yaml"), "--weights", "w.pth", *base]) == 2
    assert "config file not found" in capsys.readouterr().err
