"""PRImA PAGE-XML layout annotations -> COCO (train.json / val.json), as ``scripts/convert_prima.py`` does.

Parsing is namespace-agnostic (PAGE 2010-03-19, 2013-07-15, 2017-07-15, 2019-07-15 all work) and reads
both coordinate forms: ``<Coords points="x,y x,y ..."/>`` and the older ``<Coords><Point x= y=/>``.
Only the regions directly under ``<Page>`` are converted (cells nested in a table region belong to it).

Region types map onto six categories (the ones layout-parser's PRImA models use):

=====================  =======================================================================
category               PAGE region types
=====================  =======================================================================
TextRegion             TextRegion
ImageRegion            ImageRegion, GraphicRegion, ChartRegion, MapRegion
TableRegion            TableRegion
MathsRegion            MathsRegion
SeparatorRegion        SeparatorRegion
OtherRegion            LineDrawingRegion, NoiseRegion, FrameRegion, ChemRegion, MusicRegion,
                       AdvertRegion, UnknownRegion, CustomRegion and any other ``*Region``
=====================  =======================================================================

The polygon is kept as the segmentation; the box is its extent (at least 1 px wide and tall, so thin
separators survive). The split is deterministic: files sorted by name, shuffled with ``seed``.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .classes import PRIMA_CLASSES, PRIMA_TEXT_CLASSES
from .errors import DatasetError

logger = logging.getLogger(__name__)

__all__ = ["PRIMA_CLASSES", "PRIMA_TEXT_CLASSES", "REGION_TO_CLASS", "convert_prima", "parse_page_xml"]

REGION_TO_CLASS: dict[str, str] = {
    "TextRegion": "TextRegion",
    "ImageRegion": "ImageRegion",
    "GraphicRegion": "ImageRegion",
    "ChartRegion": "ImageRegion",
    "MapRegion": "ImageRegion",
    "TableRegion": "TableRegion",
    "MathsRegion": "MathsRegion",
    "SeparatorRegion": "SeparatorRegion",
    "LineDrawingRegion": "OtherRegion",
    "NoiseRegion": "OtherRegion",
    "FrameRegion": "OtherRegion",
    "ChemRegion": "OtherRegion",
    "MusicRegion": "OtherRegion",
    "AdvertRegion": "OtherRegion",
    "UnknownRegion": "OtherRegion",
    "CustomRegion": "OtherRegion",
}

_IMAGE_EXTENSIONS = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def _local(tag: str) -> str:
    """Tag name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _points(coords: ET.Element, where: str) -> list[tuple[float, float]]:
    """Polygon points from ``points="x,y x,y"`` or ``<Point x y>`` children."""
    try:
        if coords.get("points") is not None:
            pts = []
            for pair in coords.get("points", "").split():
                x, y = pair.split(",")
                pts.append((float(x), float(y)))
            return pts
        return [(float(p.get("x")), float(p.get("y"))) for p in coords if _local(p.tag) == "Point"]
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{where}: malformed coordinates ({e})") from e


def parse_page_xml(path: str | Path) -> dict:
    """``{"image_filename", "width", "height", "regions": [{"type", "category", "id", "points"}]}``."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise DatasetError(
            f"{path}: malformed XML at line {e.position[0]} column {e.position[1]}: {e}"
        ) from e
    page = root if _local(root.tag) == "Page" else _child(root, "Page")
    if page is None:
        raise DatasetError(f"{path}: no <Page> element (is this a PAGE-XML file?)")
    try:
        width = int(float(page.get("imageWidth", 0)))
        height = int(float(page.get("imageHeight", 0)))
    except ValueError as e:
        raise DatasetError(f"{path}: bad imageWidth/imageHeight ({e})") from e
    regions = []
    for elem in page:
        kind = _local(elem.tag)
        if not kind.endswith("Region"):
            continue
        region_id = elem.get("id", "?")
        coords = _child(elem, "Coords")
        where = f"{path}: {kind} id={region_id}"
        if coords is None:
            raise DatasetError(f"{where} has no <Coords>")
        regions.append(
            {
                "type": kind,
                "category": REGION_TO_CLASS.get(kind, "OtherRegion"),
                "id": region_id,
                "points": _points(coords, where),
            }
        )
    return {
        "image_filename": page.get("imageFilename", ""),
        "width": width,
        "height": height,
        "regions": regions,
    }


def _find_image(images_dir: Path, image_filename: str, xml_path: Path) -> Path | None:
    """The page image by its file name, else by the same stem with another extension."""
    candidates = []
    if image_filename:
        name = Path(image_filename.replace("\\", "/")).name
        candidates.append(images_dir / name)
        candidates += [images_dir / (Path(name).stem + ext) for ext in _IMAGE_EXTENSIONS]
    stem = xml_path.stem[3:] if xml_path.stem.startswith("pc-") else xml_path.stem
    candidates += [images_dir / (stem + ext) for ext in _IMAGE_EXTENSIONS]
    return next((c for c in candidates if c.is_file()), None)


def _polygon_area(points: Sequence[tuple[float, float]]) -> float:
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))


def convert_prima(
    pages_dir: str | Path,
    images_dir: str | Path,
    out_dir: str | Path,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Convert every ``*.xml`` in ``pages_dir``; writes ``out_dir/train.json`` and ``out_dir/val.json``.

    ``file_name`` in the output is relative to ``images_dir`` (register it as the image root).
    """
    pages_dir, images_dir, out_dir = Path(pages_dir), Path(images_dir), Path(out_dir)
    xml_files = (
        sorted(p for p in pages_dir.iterdir() if p.suffix.lower() == ".xml") if pages_dir.is_dir() else []
    )
    if not xml_files:
        raise DatasetError(f"{pages_dir}: no PAGE-XML (*.xml) files found")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    category_ids = {name: i + 1 for i, name in enumerate(PRIMA_CLASSES)}
    images, annotations, missing = [], [], []
    for index, xml_path in enumerate(xml_files):
        page = parse_page_xml(xml_path)
        image_path = _find_image(images_dir, page["image_filename"], xml_path)
        if image_path is None:
            missing.append(f"{xml_path.name} -> {page['image_filename'] or '?'}")
            continue
        width, height = page["width"], page["height"]
        if width <= 0 or height <= 0:
            from PIL import Image

            with Image.open(image_path) as im:
                width, height = im.size
        image_id = index + 1
        images.append({"id": image_id, "file_name": image_path.name, "width": width, "height": height})
        for region in page["regions"]:
            if not region["points"]:
                logger.warning("%s: %s id=%s has no points; skipped", xml_path, region["type"], region["id"])
                continue
            annotation = _region_annotation(region, width, height, category_ids[region["category"]])
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **annotation})
    if missing:
        raise DatasetError(
            f"{images_dir}: no image found for {len(missing)} of {len(xml_files)} PAGE files (first: "
            + ", ".join(missing[:5])
            + ")"
        )
    return _write_splits(images, annotations, category_ids, out_dir, val_fraction, seed)


def _region_annotation(region: dict, width: int, height: int, category_id: int) -> dict:
    """COCO fields of one region but its ids: the box is the polygon's extent, at least 1 px each way."""
    pts = region["points"]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0 = max(min(xs), 0.0), max(min(ys), 0.0)
    w = max(min(max(xs), width) - x0, 1.0)
    h = max(min(max(ys), height) - y0, 1.0)
    polygon = (
        [c for p in pts for c in p] if len(pts) >= 3 else [x0, y0, x0 + w, y0, x0 + w, y0 + h, x0, y0 + h]
    )
    area = _polygon_area(pts) if len(pts) >= 3 else 0.0
    return {
        "category_id": category_id,
        "bbox": [x0, y0, w, h],
        "area": area if area > 0 else w * h,
        "iscrowd": 0,
        "segmentation": [polygon],
        "region_type": region["type"],
    }


def _write_splits(
    images: list[dict],
    annotations: list[dict],
    category_ids: dict[str, int],
    out_dir: Path,
    val_fraction: float,
    seed: int,
) -> tuple[Path, Path]:
    """Write ``train.json`` and ``val.json``: a ``val_fraction`` of the pages, chosen with ``seed``."""
    n_val = int(round(len(images) * val_fraction))
    if val_fraction > 0 and n_val == 0 and len(images) > 1:
        n_val = 1
    order = np.random.default_rng(seed).permutation(len(images))
    val_ids = {images[i]["id"] for i in order[:n_val].tolist()}
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = [{"id": category_ids[n], "name": n, "supercategory": "layout"} for n in PRIMA_CLASSES]
    outputs = []
    for split, keep in (("train", lambda i: i not in val_ids), ("val", lambda i: i in val_ids)):
        coco = {
            "info": {
                "description": f"PRImA Layout Analysis Dataset ({split}), converted by GraphKD",
                "seed": seed,
            },
            "licenses": [],
            "images": [im for im in images if keep(im["id"])],
            "annotations": [a for a in annotations if keep(a["image_id"])],
            "categories": categories,
        }
        path = out_dir / f"{split}.json"
        with open(path, "w") as f:
            json.dump(coco, f)
        logger.info("%s: %d images, %d regions", path, len(coco["images"]), len(coco["annotations"]))
        outputs.append(path)
    return outputs[0], outputs[1]
