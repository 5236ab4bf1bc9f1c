"""COCO layout loading: PubLayNet/DocLayNet-style files, and every kind of bad input."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from PIL import Image

pytest.importorskip("detectron2")  # development guard only: detectron2 is installed in CI

from detectron2.structures import BoxMode  # noqa: E402

from graphkd.data import DatasetError, load_layout_coco_json  # noqa: E402

PUBLAYNET_CATEGORIES = [
    {"id": 1, "name": "text", "supercategory": ""},
    {"id": 2, "name": "title", "supercategory": ""},
    {"id": 3, "name": "list", "supercategory": ""},
    {"id": 4, "name": "table", "supercategory": ""},
    {"id": 5, "name": "figure", "supercategory": ""},
]


def _box_ann(ann_id, image_id, category_id, bbox):
    x, y, w, h = bbox
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": bbox,
        "area": w * h,
        "iscrowd": 0,
        "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
    }


def publaynet_style(root):
    """Two tiny PNG pages and a PubLayNet-like JSON (a third page has no annotations)."""
    (root / "train").mkdir(parents=True)
    for name in ("PMC1_00000.png", "PMC2_00001.png", "PMC3_00002.png"):
        Image.new("RGB", (60, 80), "white").save(root / "train" / name)
    data = {
        "images": [
            {"id": 10, "file_name": "PMC1_00000.png", "width": 60, "height": 80},
            {"id": 11, "file_name": "PMC2_00001.png", "width": 60, "height": 80},
            {"id": 12, "file_name": "PMC3_00002.png", "width": 60, "height": 80},
        ],
        "annotations": [
            _box_ann(1, 10, 1, [5.0, 5.0, 40.0, 10.0]),
            _box_ann(2, 10, 2, [5.0, 20.0, 20.0, 4.0]),
            _box_ann(3, 11, 5, [2.0, 2.0, 50.0, 30.0]),
            _box_ann(4, 11, 4, [2.0, 40.0, 50.0, 20.0]),
        ],
        "categories": PUBLAYNET_CATEGORIES,
    }
    path = root / "train.json"
    path.write_text(json.dumps(data))
    return path, root / "train", data


def test_publaynet_style_file_loads_into_detectron2_dicts(tmp_path):
    json_file, image_root, _ = publaynet_style(tmp_path)
    records = load_layout_coco_json(json_file, image_root)
    assert [r["image_id"] for r in records] == [10, 11, 12]
    first = records[0]
    assert first["file_name"] == str(image_root / "PMC1_00000.png")
    assert (first["width"], first["height"]) == (60, 80)
    assert [a["category_id"] for a in first["annotations"]] == [0, 1]  # contiguous ids
    assert first["annotations"][0]["bbox"] == [5.0, 5.0, 40.0, 10.0]
    assert first["annotations"][0]["bbox_mode"] == BoxMode.XYWH_ABS
    assert first["annotations"][0]["segmentation"] == [[5.0, 5.0, 45.0, 5.0, 45.0, 15.0, 5.0, 15.0]]
    assert [a["category_id"] for a in records[1]["annotations"]] == [4, 3]
    assert records[2]["annotations"] == []  # empty images are kept


def test_doclaynet_style_file_maps_ids_by_name(tmp_path):
    (tmp_path / "PNG").mkdir()
    Image.new("RGB", (100, 100)).save(tmp_path / "PNG" / "a.png")
    names = ["Caption", "Footnote", "Formula", "List-item", "Page-footer", "Page-header", "Picture",
             "Section-header", "Table", "Text", "Title"]  # fmt: skip
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 100, "doc_category": "manuals"}],
        "annotations": [_box_ann(7, 1, 10, [1, 1, 50, 10]), _box_ann(8, 1, 6, [1, 0, 90, 5])],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)],
    }
    json_file = tmp_path / "val.json"
    json_file.write_text(json.dumps(data))
    records = load_layout_coco_json(json_file, tmp_path / "PNG")
    assert [a["category_id"] for a in records[0]["annotations"]] == [9, 5]
    # a registered class list in another order re-maps by name
    reordered = list(reversed(names))
    records = load_layout_coco_json(json_file, tmp_path / "PNG", class_names=reordered)
    assert [reordered[a["category_id"]] for a in records[0]["annotations"]] == ["Text", "Page-header"]


def _write(tmp_path, data):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: d["annotations"].append(_box_ann(9, 99, 1, [1, 1, 5, 5])),
            r"annotation id 9 .* missing image id 99",
        ),
        (
            lambda d: d["annotations"].append(_box_ann(9, 10, 42, [1, 1, 5, 5])),
            r"annotation id 9 .* unknown category id 42",
        ),
        (lambda d: d["annotations"].append(_box_ann(1, 10, 1, [1, 1, 5, 5])), r"duplicate annotation id 1"),
        (lambda d: d["images"].append(dict(d["images"][0])), r"duplicate image id 10"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, "x", 4]), r"annotation id 1 .* malformed bbox"),
        (lambda d: d["images"][1].pop("width"), r"images\[1\] .* has no 'width'"),
        (lambda d: d.pop("categories"), r"missing or non-list 'categories'"),
        (lambda d: d["categories"].append({"id": 6, "name": "chart"}), r"category 'chart' \(id 6\)"),
    ],
)
def test_bad_records_raise_naming_file_and_record(tmp_path, mutate, message):
    _, image_root, data = publaynet_style(tmp_path)
    data = copy.deepcopy(data)
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(DatasetError, match=message) as err:
        load_layout_coco_json(path, image_root, class_names=["text", "title", "list", "table", "figure"])
    assert str(path) in str(err.value)


def test_malformed_json_names_file_and_position(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [\n  {"id": 1,, }\n]}')
    with pytest.raises(DatasetError, match=r"broken.json: malformed JSON at line 2 column"):
        load_layout_coco_json(path, tmp_path)


def test_missing_annotation_file_and_image_root(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_layout_coco_json(tmp_path / "nope.json", tmp_path)
    json_file, _, _ = publaynet_style(tmp_path)
    with pytest.raises(DatasetError, match="image root .*nowhere does not exist"):
        load_layout_coco_json(json_file, tmp_path / "nowhere")


def test_missing_image_files_are_listed_with_count(tmp_path):
    json_file, image_root, data = publaynet_style(tmp_path)
    for k in range(7):
        data["images"].append({"id": 100 + k, "file_name": f"gone_{k}.png", "width": 60, "height": 80})
    path = _write(tmp_path, data)
    with pytest.raises(
        DatasetError, match=r"7 of 10 image files are missing .*first: gone_0.png, gone_1.png"
    ) as err:
        load_layout_coco_json(path, image_root)
    assert "gone_6.png" not in str(err.value)  # only the first few are listed


def test_degenerate_boxes_dropped_and_outside_boxes_clipped_with_one_warning_each(tmp_path, caplog):
    _, image_root, data = publaynet_style(tmp_path)
    data["annotations"] += [
        _box_ann(20, 10, 1, [5, 5, 0, 10]),
        _box_ann(21, 10, 1, [5, 5, 10, -3]),
        _box_ann(22, 10, 1, [50, 70, 20, 20]),  # reaches outside 60x80
        _box_ann(23, 11, 1, [-4, 10, 10, 10]),
        _box_ann(24, 11, 1, [70, 10, 10, 10]),  # entirely outside: dropped after clipping
    ]
    path = _write(tmp_path, data)
    with caplog.at_level(logging.WARNING, logger="graphkd.data.coco"):
        records = load_layout_coco_json(path, image_root)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("dropped 3 annotations" in m for m in messages) == 1
    assert sum("clipped 2 boxes" in m for m in messages) == 1
    boxes = {tuple(a["bbox"]) for r in records for a in r["annotations"]}
    assert (50.0, 70.0, 10.0, 10.0) in boxes and (0.0, 10.0, 6.0, 10.0) in boxes
    assert sum(len(r["annotations"]) for r in records) == 4 + 2
