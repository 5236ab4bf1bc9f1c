"""Pages to inspect and their ground truth: input files, a COCO json matched by file name, or a registered dataset.

Every input file is checked before any model is built, so a typo fails in a second with the path named.
GT boxes are kept in page pixels (XYXY) with contiguous class ids in the model's class order.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["GroundTruth", "PageSpec", "resolve_pages"]


@dataclass
class GroundTruth:
    """Where the GT comes from, its class names (contiguous order) and which of them count as text."""

    source: str  # "json:<path>" or "dataset:<name>"
    class_names: list[str]
    text_class_ids: list[int]


@dataclass
class PageSpec:
    """One page: its file, a unique output name, and its GT boxes when GT is known."""

    path: Path
    name: str
    gt_boxes: np.ndarray | None = None  # (M, 4) float32 XYXY in page pixels
    gt_classes: np.ndarray | None = None  # (M,) int64 contiguous class ids
    record_size: tuple[int, int] | None = None  # (height, width) the annotation says


def _check_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    return path


def _unique_name(stem: str, used: set[str]) -> str:
    name, index = stem, 2
    while name in used:
        name, index = f"{stem}_{index}", index + 1
    used.add(name)
    return name


def _record_gt(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """(M, 4) XYXY boxes and (M,) classes of a detectron2 dataset dict (crowd regions skipped)."""
    from detectron2.structures import BoxMode

    boxes, classes = [], []
    for ann in record.get("annotations", []):
        if ann.get("iscrowd", 0):
            continue
        boxes.append(BoxMode.convert(list(ann["bbox"]), ann["bbox_mode"], BoxMode.XYXY_ABS))
        classes.append(int(ann["category_id"]))
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4), np.asarray(classes, dtype=np.int64)


def _text_ids(class_names: Sequence[str], text_names: Sequence[str], where: str) -> list[int]:
    from graphkd.data.coco import same_class_name

    ids = []
    for text in text_names:
        matches = [i for i, name in enumerate(class_names) if same_class_name(name, text)]
        if not matches:
            raise ValueError(f"text class {text!r} is not a class of {where}: {list(class_names)}")
        ids.append(matches[0])
    return sorted(set(ids))


def _json_records(
    json_file: str | os.PathLike, model_classes: Sequence[str] | None, text_names: Sequence[str]
) -> tuple[list[dict], GroundTruth]:
    from graphkd.data.catalog import default_text_classes
    from graphkd.data.coco import category_mapping, load_layout_coco_json, read_coco_json

    json_file = Path(json_file)
    if not json_file.is_file():
        raise FileNotFoundError(f"GT file not found: {json_file}")
    names, _ = category_mapping(json_file, read_coco_json(json_file), model_classes)
    records = load_layout_coco_json(json_file, json_file.parent, class_names=names, check_images=False)
    text = list(text_names) or default_text_classes(names)
    gt = GroundTruth(f"json:{json_file}", list(names), _text_ids(names, text, str(json_file)))
    return records, gt


def _dataset_records(name: str, text_names: Sequence[str]) -> tuple[list[dict], GroundTruth]:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from graphkd.data.catalog import text_class_ids

    if name not in DatasetCatalog:
        raise KeyError(f"dataset {name!r} is not registered (see graphkd.data or DATASETS.REGISTER)")
    records = DatasetCatalog.get(name)
    metadata = MetadataCatalog.get(name)
    names = list(metadata.get("thing_classes", None) or [])
    if text_names:
        text_ids = _text_ids(names, text_names, f"dataset {name}")
    else:
        text_ids = text_class_ids(name)
    return records, GroundTruth(f"dataset:{name}", names, text_ids)


def resolve_pages(
    inputs: Sequence[str | os.PathLike],
    gt: str | os.PathLike | None = None,
    dataset: str | None = None,
    num_images: int | None = None,
    model_classes: Sequence[str] | None = None,
    text_class_names: Sequence[str] = (),
) -> tuple[list[PageSpec], GroundTruth | None]:
    """The pages to inspect, with their GT when ``gt`` (a COCO json) or ``dataset`` is given.

    Inputs are matched to the GT images by file name (the base name). Without inputs, the pages are the
    first ``num_images`` images of the dataset (or json). Missing files raise `FileNotFoundError` naming
    them; an input the GT does not list raises `ValueError`.

    Args:
        inputs: page image files.
        gt: a COCO json whose ``images[].file_name`` base names match the inputs.
        dataset: a name registered in detectron2's ``DatasetCatalog``.
        num_images: at most this many pages (all when ``None``).
        model_classes: the model's class names; GT categories are mapped onto them by name.
        text_class_names: the text-like classes (``GRAPHKD.NODE_TYPE.TEXT_CLASSES``); default: by name.
    """
    if gt is not None and dataset is not None:
        raise ValueError("give GT as a COCO json (--gt) or a registered dataset (--dataset), not both")
    paths = [_check_file(path) for path in inputs]
    records: list[dict] | None = None
    truth: GroundTruth | None = None
    if gt is not None:
        records, truth = _json_records(gt, model_classes, text_class_names)
    elif dataset is not None:
        records, truth = _dataset_records(dataset, text_class_names)
    if not paths and records is None:
        raise ValueError("no pages: give input images, or a dataset to take pages from")

    used: set[str] = set()
    pages: list[PageSpec] = []
    if records is None:
        pages = [PageSpec(path, _unique_name(path.stem, used)) for path in paths]
    else:
        by_name: dict[str, dict] = {}
        for record in records:
            by_name.setdefault(Path(record["file_name"]).name, record)
        if paths:
            chosen = []
            for path in paths:
                record = by_name.get(path.name)
                if record is None:
                    raise ValueError(f"{path}: no image named {path.name!r} in the GT ({truth.source})")
                chosen.append((path, record))
        else:
            limit = len(records) if num_images is None else max(0, int(num_images))
            chosen = [(_check_file(record["file_name"]), record) for record in records[:limit]]
        for path, record in chosen:
            boxes, classes = _record_gt(record)
            size = (int(record["height"]), int(record["width"])) if "height" in record else None
            pages.append(PageSpec(path, _unique_name(path.stem, used), boxes, classes, size))
    if num_images is not None:
        pages = pages[: max(0, int(num_images))]
    if truth is not None and pages:
        num_classes = len(truth.class_names)
        if any(page.gt_classes.size and int(page.gt_classes.max()) >= num_classes for page in pages):
            raise ValueError(f"GT class ids outside the {num_classes} classes of {truth.source}")
    return pages, truth
