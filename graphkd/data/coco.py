"""Load and validate COCO-format layout annotations into detectron2 dataset dicts.

Every problem names the file and the record. Structural errors raise :class:`DatasetError`: malformed JSON
(with the parser's line/column), missing keys, duplicate image or annotation ids, annotations pointing
at unknown images or categories, categories that do not match the registered class list, image files
that do not exist (all checked in one pass; the first few are listed with the count). Fixable box
problems are repaired and reported once with counts: boxes with non-positive size are dropped, boxes
reaching outside the image are clipped. Images without annotations are kept (detectron2's
``DATALOADER.FILTER_EMPTY_ANNOTATIONS`` skips them for training).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .classes import default_text_classes, same_class_name
from .errors import DatasetError

logger = logging.getLogger(__name__)

__all__ = ["DatasetError", "load_layout_coco_json", "read_coco_json", "same_class_name"]

_MAX_LISTED = 5


def read_coco_json(json_file: str | Path) -> dict[str, Any]:
    """Parse a COCO json file; a missing file or malformed JSON raises :class:`DatasetError`."""
    json_file = Path(json_file)
    if not json_file.is_file():
        raise DatasetError(f"{json_file}: annotation file not found")
    try:
        with open(json_file, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(
            f"{json_file}: malformed JSON at line {e.lineno} column {e.colno} (char {e.pos}): {e.msg}"
        ) from e
    except UnicodeDecodeError as e:
        raise DatasetError(f"{json_file}: not UTF-8 text ({e})") from e
    if not isinstance(data, dict):
        raise DatasetError(f"{json_file}: top level must be an object with images/annotations/categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DatasetError(f"{json_file}: missing or non-list '{key}'")
    return data


def _categories(json_file: Path, data: dict[str, Any]) -> list[tuple[int, str]]:
    """(id, name) of the categories, sorted by id; duplicates and missing keys raise."""
    seen: dict[int, str] = {}
    for index, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            raise DatasetError(f"{json_file}: categories[{index}] needs 'id' and 'name': {cat!r}")
        if cat["id"] in seen:
            raise DatasetError(f"{json_file}: duplicate category id {cat['id']} (categories[{index}])")
        seen[cat["id"]] = str(cat["name"])
    if not seen:
        raise DatasetError(f"{json_file}: no categories")
    return sorted(seen.items())


def category_mapping(
    json_file: str | Path, data: dict[str, Any], class_names: Sequence[str] | None
) -> tuple[list[str], dict[int, int]]:
    """Class names and the dataset-id -> contiguous-id map; with ``class_names``, categories match by name."""
    json_file = Path(json_file)
    cats = _categories(json_file, data)
    if class_names is None:
        names = [name for _, name in cats]
        return names, {cid: i for i, (cid, _) in enumerate(cats)}
    names = list(class_names)
    mapping: dict[int, int] = {}
    for cid, name in cats:
        matches = [i for i, expected in enumerate(names) if same_class_name(expected, name)]
        if not matches:
            raise DatasetError(
                f"{json_file}: category {name!r} (id {cid}) is not one of the registered classes {names}"
            )
        mapping[cid] = matches[0]
    missing = [n for i, n in enumerate(names) if i not in mapping.values()]
    if missing:
        logger.warning("%s: registered classes %s have no category in the file", json_file, missing)
    return names, mapping


def _check_files_exist(json_file: Path, image_root: Path, file_names: Sequence[str]) -> None:
    """One pass over the image directories (a listdir each), so millions of images stay fast."""
    if not image_root.is_dir():
        raise DatasetError(f"{json_file}: image root {image_root} does not exist")
    listing: dict[Path, set[str]] = {}
    missing: list[str] = []
    for name in file_names:
        path = image_root / name
        parent = path.parent
        if parent not in listing:
            try:
                listing[parent] = set(os.listdir(parent))
            except OSError:
                listing[parent] = set()
        if path.name not in listing[parent]:
            missing.append(name)
    if missing:
        shown = ", ".join(missing[:_MAX_LISTED])
        raise DatasetError(
            f"{json_file}: {len(missing)} of {len(file_names)} image files are missing under {image_root} "
            f"(first: {shown})"
        )


def _valid_segmentation(seg: Any) -> Any | None:
    """Polygons with >= 3 points (or an RLE dict) are kept; anything else is None."""
    if isinstance(seg, dict) and "counts" in seg and "size" in seg:
        return seg
    if isinstance(seg, list):
        polys = [p for p in seg if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
        if polys and len(polys) == len(seg):
            return polys
    return None


def load_layout_coco_json(
    json_file: str | Path,
    image_root: str | Path,
    dataset_name: str | None = None,
    class_names: Sequence[str] | None = None,
    check_images: bool = True,
) -> list[dict]:
    """Read a COCO layout file into detectron2 dataset dicts (boxes in ``BoxMode.XYWH_ABS``).

    ``category_id`` becomes the contiguous index into ``class_names``; without them, into the file's
    categories sorted by id. With ``dataset_name``, the class list registered in detectron2's
    ``MetadataCatalog`` is used (and filled in when absent).
    """
    from detectron2.structures import BoxMode

    json_file, image_root = Path(json_file), Path(image_root)
    data = read_coco_json(json_file)
    meta = None
    if dataset_name is not None:
        from detectron2.data import MetadataCatalog

        meta = MetadataCatalog.get(dataset_name)
        if class_names is None:
            class_names = meta.get("thing_classes")
    names, id_map = category_mapping(json_file, data, class_names)
    if meta is not None:
        _update_metadata(meta, names, id_map, json_file)
    images = _image_records(json_file, image_root, data)
    if check_images:
        _check_files_exist(json_file, image_root, [img["file_name"] for img in data["images"]])
    _add_annotations(json_file, data, images, id_map, BoxMode.XYWH_ABS)
    logger.info(
        "Loaded %d images, %d boxes in %d classes from %s",
        len(images),
        sum(len(r["annotations"]) for r in images.values()),
        len(names),
        json_file,
    )
    return list(images.values())


def _image_records(json_file: Path, image_root: Path, data: dict[str, Any]) -> dict[Any, dict]:
    """Dataset dicts without annotations, by image id; missing keys, duplicate ids and bad sizes raise."""
    images: dict[Any, dict] = {}
    for index, img in enumerate(data["images"]):
        if not isinstance(img, dict):
            raise DatasetError(f"{json_file}: images[{index}] is not an object")
        for key in ("id", "file_name", "width", "height"):
            if key not in img:
                raise DatasetError(f"{json_file}: images[{index}] (id {img.get('id')!r}) has no '{key}'")
        if img["id"] in images:
            raise DatasetError(
                f"{json_file}: duplicate image id {img['id']!r} (images[{index}], {img['file_name']})"
            )
        if not (img["width"] > 0 and img["height"] > 0):
            raise DatasetError(
                f"{json_file}: images[{index}] (id {img['id']!r}) has size {img['width']}x{img['height']}"
            )
        images[img["id"]] = {
            "file_name": str(image_root / img["file_name"]),
            "height": int(img["height"]),
            "width": int(img["width"]),
            "image_id": img["id"],
            "annotations": [],
        }
    if not images:
        raise DatasetError(f"{json_file}: no images")
    return images


def _add_annotations(
    json_file: Path, data: dict[str, Any], images: dict[Any, dict], id_map: dict[int, int], box_mode: Any
) -> None:
    """Validate the annotations into their images' records; empty boxes dropped, outside ones clipped."""
    ann_ids: set[Any] = set()
    dropped = clipped = bad_segm = 0
    for index, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise DatasetError(f"{json_file}: annotations[{index}] is not an object")
        ann_id = ann.get("id")
        where = f"{json_file}: annotation id {ann_id!r} (annotations[{index}])"
        for key in ("id", "image_id", "category_id", "bbox"):
            if key not in ann:
                raise DatasetError(f"{where} has no '{key}'")
        if ann_id in ann_ids:
            raise DatasetError(f"{json_file}: duplicate annotation id {ann_id!r} (annotations[{index}])")
        ann_ids.add(ann_id)
        record = images.get(ann["image_id"])
        if record is None:
            raise DatasetError(f"{where} points at missing image id {ann['image_id']!r}")
        if ann["category_id"] not in id_map:
            raise DatasetError(f"{where} has unknown category id {ann['category_id']!r}")
        bbox = ann["bbox"]
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, int | float) and math.isfinite(v) for v in bbox)
        ):
            raise DatasetError(f"{where} has a malformed bbox {bbox!r}")
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            dropped += 1
            continue
        x0, y0 = max(x, 0.0), max(y, 0.0)
        x1, y1 = min(x + w, float(record["width"])), min(y + h, float(record["height"]))
        if (x0, y0, x1, y1) != (x, y, x + w, y + h):
            if x1 <= x0 or y1 <= y0:
                dropped += 1
                continue
            clipped += 1
        obj = {
            "bbox": [x0, y0, x1 - x0, y1 - y0],
            "bbox_mode": box_mode,
            "category_id": id_map[ann["category_id"]],
            "iscrowd": int(ann.get("iscrowd", 0)),
        }
        if "segmentation" in ann:
            seg = _valid_segmentation(ann["segmentation"])
            if seg is None:
                bad_segm += 1
            else:
                obj["segmentation"] = seg
        record["annotations"].append(obj)
    if dropped:
        logger.warning("%s: dropped %d annotations with non-positive box size", json_file, dropped)
    if clipped:
        logger.warning("%s: clipped %d boxes reaching outside their image", json_file, clipped)
    if bad_segm:
        logger.warning("%s: ignored %d malformed segmentations (boxes kept)", json_file, bad_segm)


def _update_metadata(meta: Any, names: list[str], id_map: dict[int, int], json_file: Path) -> None:
    """Fill in or check the dataset's class metadata against what the file says."""
    current = meta.get("thing_dataset_id_to_contiguous_id")
    if current is not None and dict(current) != id_map:
        raise DatasetError(
            f"{json_file}: category ids {id_map} do not match the registered "
            f"thing_dataset_id_to_contiguous_id {dict(current)} of dataset {meta.name!r}"
        )
    if meta.get("thing_classes") is None:
        meta.thing_classes = names
    if current is None:
        meta.thing_dataset_id_to_contiguous_id = id_map
    if meta.get("text_classes") is None:
        meta.text_classes = default_text_classes(names)
