"""COCO box AP of a detections file against COCO-format ground truth (pycocotools' official numbers).

``evaluate_coco`` returns detectron2 ``COCOEvaluator``-style metrics: AP, AP50, AP75, APs, APm, APl in percent
(NaN where COCOeval reports -1, i.e. no ground truth in that area range) plus per-class AP read from
``eval["precision"]`` at all IoUs, area "all", maxDets 100. Malformed inputs raise ``FileNotFoundError`` or
``ValueError`` with a one-line message naming the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["COCO_METRICS", "evaluate_coco", "load_json"]

COCO_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")  # order of COCOeval.stats[:6]
_PREDICTION_KEYS = {
    "bbox": ("image_id", "category_id", "bbox", "score"),
    "segm": ("image_id", "category_id", "segmentation", "score"),
}


def load_json(path: str | os.PathLike, what: str) -> Any:
    """Read a JSON file, raising a one-line error that names ``what`` and the file when it cannot."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} file {path} is not valid JSON: {exc}") from None


@contextlib.contextmanager
def _quiet_stdout():
    """pycocotools prints progress to stdout; library code logs it at debug level instead."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    if buffer.getvalue().strip():
        logger.debug("pycocotools:\n%s", buffer.getvalue().rstrip())


def _check_ground_truth(gt: Any, source: str) -> dict:
    if not isinstance(gt, dict):
        raise ValueError(f"ground truth {source} must be a COCO dict, got {type(gt).__name__}")
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(gt.get(key), list)]
    if missing:
        raise ValueError(f"ground truth {source} lacks the list(s) {', '.join(missing)}")
    for key in ("images", "annotations", "categories"):
        if not gt[key]:
            raise ValueError(f"ground truth {source} is empty: no {key}")
    annotations = []
    for index, ann in enumerate(gt["annotations"]):
        if (
            not isinstance(ann, dict)
            or "bbox" not in ann
            or "image_id" not in ann
            or "category_id" not in ann
        ):
            raise ValueError(
                f"ground truth {source}: annotation {index} needs image_id, category_id and bbox"
            )
        ann = dict(ann)  # fill what pycocotools needs without touching the caller's dict
        ann.setdefault("id", index + 1)
        ann.setdefault("iscrowd", 0)
        ann.setdefault("area", float(ann["bbox"][2]) * float(ann["bbox"][3]))
        annotations.append(ann)
    return {**gt, "annotations": annotations}


def _check_predictions(predictions: Any, source: str, iou_type: str) -> list[dict]:
    if not isinstance(predictions, list):
        raise ValueError(
            f"predictions {source} must be a list of COCO results, got {type(predictions).__name__}"
        )
    required = _PREDICTION_KEYS[iou_type]
    for index, det in enumerate(predictions):
        if not isinstance(det, dict):
            raise ValueError(f"predictions {source}: entry {index} is a {type(det).__name__}, not a dict")
        missing = [key for key in required if key not in det]
        if missing:
            raise ValueError(f"predictions {source}: entry {index} lacks {', '.join(missing)}")
        if iou_type == "bbox" and (not isinstance(det["bbox"], list | tuple) or len(det["bbox"]) != 4):
            raise ValueError(f"predictions {source}: entry {index} bbox must be [x, y, w, h]")
    return [dict(det) for det in predictions]  # loadRes adds keys; keep the caller's list intact


def _percent(value: float) -> float:
    return float(value) * 100.0 if value >= 0 else math.nan


def evaluate_coco(
    gt_json: str | os.PathLike | dict, predictions: list | str | os.PathLike, iou_type: str = "bbox"
) -> dict:
    """COCO AP of ``predictions`` (results list or path to it) against ``gt_json`` (COCO dict or path).

    Detections of categories or images absent from the ground truth are dropped with a warning. Returns
    ``{"AP", "AP50", "AP75", "APs", "APm", "APl": percent, "per_class": {category name: AP percent}}``; an
    empty detection list scores 0 everywhere (NaN where the ground truth has nothing to find).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if iou_type not in _PREDICTION_KEYS:
        raise ValueError(f"iou_type must be one of {sorted(_PREDICTION_KEYS)}, got {iou_type!r}")
    if isinstance(gt_json, dict):
        gt_source = "<dict>"
    else:
        gt_source = os.fspath(gt_json)
        gt_json = load_json(gt_source, "ground truth")
    gt = _check_ground_truth(gt_json, gt_source)
    if isinstance(predictions, list):
        pred_source = "<list>"
    else:
        pred_source = os.fspath(predictions)
        predictions = load_json(pred_source, "predictions")
    detections = _check_predictions(predictions, pred_source, iou_type)

    category_ids = {cat["id"] for cat in gt["categories"]}
    kept = [det for det in detections if det["category_id"] in category_ids]
    if len(kept) < len(detections):
        unknown = sorted({det["category_id"] for det in detections} - category_ids, key=str)
        logger.warning(
            "dropped %d of %d detections from %s whose category id is not in the ground truth %s: %s",
            len(detections) - len(kept),
            len(detections),
            pred_source,
            gt_source,
            unknown,
        )
    image_ids = {image["id"] for image in gt["images"]}
    detections, kept = kept, [det for det in kept if det["image_id"] in image_ids]
    if len(kept) < len(detections):
        logger.warning(
            "dropped %d detections from %s whose image id is not in the ground truth %s",
            len(detections) - len(kept),
            pred_source,
            gt_source,
        )

    with _quiet_stdout():
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if kept:
            coco_dt = coco_gt.loadRes(kept)
        else:  # loadRes cannot take an empty list
            logger.warning("no detections to evaluate in %s: every AP is 0", pred_source)
            coco_dt = COCO()
            coco_dt.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
            coco_dt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_dt, iou_type)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()

    results: dict = {name: _percent(value) for name, value in zip(COCO_METRICS, coco_eval.stats[:6])}
    precision = coco_eval.eval["precision"]  # (IoUs, recalls, categories, areas, maxDets)
    names = {cat["id"]: cat.get("name", str(cat["id"])) for cat in gt["categories"]}
    per_class = {}
    for index, category_id in enumerate(coco_eval.params.catIds):
        values = precision[:, :, index, 0, -1]
        values = values[values > -1]
        per_class[names[category_id]] = float(values.mean()) * 100.0 if values.size else math.nan
    results["per_class"] = per_class
    logger.info(
        "COCO %s AP %.2f (AP50 %.2f) on %d detections", iou_type, results["AP"], results["AP50"], len(kept)
    )
    return results
