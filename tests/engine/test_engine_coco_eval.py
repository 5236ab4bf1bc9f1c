"""COCO evaluation of detections files: official pycocotools numbers, clear errors, the thin script."""

import copy
import importlib.util
import json
import logging
import math
from pathlib import Path

import pytest

pytest.importorskip("pycocotools")

from graphkd.engine.coco_eval import COCO_METRICS, evaluate_coco  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "evaluate.py"

GT = {
    "images": [{"id": 1, "width": 600, "height": 800}, {"id": 2, "width": 600, "height": 800}],
    "categories": [{"id": 1, "name": "text"}, {"id": 2, "name": "figure"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [50, 50, 240, 60], "area": 14400, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 150, 240, 80], "area": 19200, "iscrowd": 0},
        {"id": 3, "image_id": 1, "category_id": 2, "bbox": [320, 50, 250, 200], "area": 50000, "iscrowd": 0},
        {"id": 4, "image_id": 2, "category_id": 1, "bbox": [60, 400, 60, 60]},  # no area/iscrowd: filled in
    ],
}


def _perfect():
    return [
        {"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": ann["bbox"], "score": 0.9}
        for ann in GT["annotations"]
    ]


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def _load_script():
    spec = importlib.util.spec_from_file_location("graphkd_evaluate_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_perfect_predictions_score_100_and_leave_inputs_untouched():
    gt, predictions = copy.deepcopy(GT), _perfect()
    results = evaluate_coco(gt, predictions)
    for name in ("AP", "AP50", "AP75", "APm", "APl"):
        assert results[name] == pytest.approx(100.0)
    assert math.isnan(results["APs"])  # no small ground truth: COCOeval says -1, reported as NaN
    assert results["per_class"] == pytest.approx({"text": 100.0, "figure": 100.0})
    assert gt == GT and predictions == _perfect()


def test_shifted_and_missing_predictions_score_lower():
    shifted = _perfect()
    shifted[2] = {**shifted[2], "bbox": [420, 150, 250, 200]}  # figure box moved: IoU < 0.5
    results = evaluate_coco(GT, shifted)
    assert results["per_class"]["figure"] == pytest.approx(0.0)
    assert results["per_class"]["text"] == pytest.approx(100.0)
    assert results["AP"] == pytest.approx(50.0)
    missing = evaluate_coco(GT, _perfect()[1:])  # one text box not found
    assert 0 < missing["per_class"]["text"] < 100 and missing["AP"] < 100


def test_unknown_category_is_dropped_with_a_warning(caplog):
    predictions = _perfect() + [{"image_id": 1, "category_id": 99, "bbox": [0, 0, 10, 10], "score": 1.0}]
    with caplog.at_level(logging.WARNING, logger="graphkd.engine.coco_eval"):
        results = evaluate_coco(GT, predictions)
    assert "dropped 1 of 5 detections" in caplog.text and "99" in caplog.text
    assert results["AP"] == pytest.approx(100.0)


def test_empty_detection_list_scores_zero():
    results = evaluate_coco(GT, [])
    assert results["AP"] == 0.0 and results["AP50"] == 0.0
    assert results["per_class"] == {"text": 0.0, "figure": 0.0}


def test_reads_files(tmp_path):
    results = evaluate_coco(_write(tmp_path, "gt.json", GT), _write(tmp_path, "dt.json", _perfect()))
    assert set(results) == {*COCO_METRICS, "per_class"}
    assert results["AP"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("gt", "predictions", "error", "message"),
    [
        ("missing", [], FileNotFoundError, "ground truth file not found: .*missing.json"),
        ("{not json", [], ValueError, "ground truth file .*gt.json is not valid JSON"),
        ({**GT, "annotations": []}, [], ValueError, "gt.json is empty: no annotations"),
        ({"images": []}, [], ValueError, "gt.json lacks the list"),
        (GT, {"image_id": 1}, ValueError, "predictions .*dt.json must be a list"),
        (
            GT,
            [{"image_id": 1, "bbox": [0, 0, 1, 1]}],
            ValueError,
            "dt.json: entry 0 lacks category_id, score",
        ),
        (GT, "[1, 2", ValueError, "predictions file .*dt.json is not valid JSON"),
    ],
)
def test_bad_inputs_raise_one_line_errors_naming_the_file(tmp_path, gt, predictions, error, message):
    gt_path = str(tmp_path / "missing.json") if gt == "missing" else _write(tmp_path, "gt.json", gt)
    with pytest.raises(error, match=message) as info:
        evaluate_coco(gt_path, _write(tmp_path, "dt.json", predictions))
    assert "\n" not in str(info.value)


def test_script_prints_tables_and_writes_json(tmp_path, capsys):
    out = tmp_path / "metrics.json"
    argv = ["--gt", _write(tmp_path, "gt.json", GT), "--predictions", _write(tmp_path, "dt.json", _perfect())]
    assert _load_script().main([*argv, "--json-out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "AP50" in printed and "figure" in printed and "100.000" in printed
    written = json.loads(out.read_text())
    assert written["AP"] == pytest.approx(100.0) and written["APs"] is None
    assert written["per_class"]["text"] == pytest.approx(100.0)


def test_script_exits_nonzero_with_a_one_line_error(tmp_path, capsys):
    missing = str(tmp_path / "nope.json")
    assert _load_script().main(["--gt", missing, "--predictions", missing]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "nope.json" in err and "\n" not in err


def test_script_plain_table_without_tabulate(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tabulate(name, *args, **kwargs):
        if name == "tabulate":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tabulate)
    table = _load_script().format_table([("AP", 12.5), ("AP50", 100.0)], ("metric", "value"))
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value"] and lines[3].split() == ["AP50", "100.000"]
    assert len({len(line) for line in lines}) == 1  # aligned columns
