"""Dataset registration: builtins (lazy), specs, $GRAPHKD_EXTRA_DATASETS, synthetic sets, text class ids."""

from __future__ import annotations

import importlib
import json

import pytest
from PIL import Image

pytest.importorskip("detectron2")  # development guard only: detectron2 is installed in CI

from detectron2.data import DatasetCatalog, MetadataCatalog  # noqa: E402

import graphkd.data as gdata  # noqa: E402
from graphkd.data import (  # noqa: E402
    DatasetError,
    register_builtin_datasets,
    register_from_spec,
    register_layout_dataset,
    register_synthetic_dataset,
    text_class_ids,
)

BUILTINS = [
    "publaynet_train", "publaynet_val", "doclaynet_train", "doclaynet_val", "doclaynet_test",
    "prima_train", "prima_val", "hj_train", "hj_val", "synth_publaynet_train", "synth_publaynet_val",
]  # fmt: skip


def test_import_registers_builtins_with_metadata():
    for name in BUILTINS:
        assert name in DatasetCatalog.list()
        meta = MetadataCatalog.get(name)
        assert meta.evaluator_type == "coco" and meta.json_file and meta.image_root
        assert set(meta.text_classes) <= set(meta.thing_classes)
    pub = MetadataCatalog.get("publaynet_val")
    assert pub.thing_classes == ["text", "title", "list", "table", "figure"]
    assert pub.thing_dataset_id_to_contiguous_id == {1: 0, 2: 1, 3: 2, 4: 3, 5: 4}
    assert text_class_ids("publaynet_val") == [0, 1, 2]
    assert len(MetadataCatalog.get("doclaynet_test").thing_classes) == 11
    assert "Formula" not in MetadataCatalog.get("doclaynet_val").text_classes
    assert MetadataCatalog.get("prima_train").text_classes == ["TextRegion"]


def test_missing_builtin_errors_only_when_used_naming_path_and_source(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKD_DATASETS", str(tmp_path))
    register_builtin_datasets()  # no file is touched
    assert MetadataCatalog.get("publaynet_val").json_file == str(tmp_path / "publaynet" / "val.json")
    with pytest.raises(DatasetError, match=r"publaynet/val.json not found.*PubLayNet"):
        DatasetCatalog.get("publaynet_val")
    with pytest.raises(DatasetError, match=r"DocLayNet_core/COCO/train.json not found.*DocLayNet_core.zip"):
        DatasetCatalog.get("doclaynet_train")
    with pytest.raises(DatasetError, match=r"prima/val.json not found.*convert_prima.py"):
        DatasetCatalog.get("prima_val")
    monkeypatch.undo()
    register_builtin_datasets()


def test_builtin_publaynet_layout_loads_and_checks_category_ids(tmp_path, monkeypatch):
    root = tmp_path / "publaynet"
    (root / "val").mkdir(parents=True)
    Image.new("RGB", (50, 50)).save(root / "val" / "p.png")
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(["text", "title", "list", "table", "figure"])]
    data = {"images": [{"id": 1, "file_name": "p.png", "width": 50, "height": 50}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 1, 20, 5]}],
            "categories": cats}  # fmt: skip
    (root / "val.json").write_text(json.dumps(data))
    register_builtin_datasets(tmp_path)
    try:
        records = DatasetCatalog.get("publaynet_val")
        assert records[0]["annotations"][0]["category_id"] == 1
        data["categories"] = [{"id": i + 10, "name": c["name"]} for i, c in enumerate(cats)]
        data["annotations"][0]["category_id"] = 11
        (root / "val.json").write_text(json.dumps(data))
        with pytest.raises(DatasetError, match="do not match the registered"):
            DatasetCatalog.get("publaynet_val")
    finally:
        register_builtin_datasets()


def _tiny_dataset(tmp_path, names=("paragraph", "heading", "picture")):
    (tmp_path / "img").mkdir(exist_ok=True)
    Image.new("RGB", (40, 40)).save(tmp_path / "img" / "x.png")
    data = {
        "images": [{"id": 3, "file_name": "x.png", "width": 40, "height": 40}],
        "annotations": [{"id": 1, "image_id": 3, "category_id": 30, "bbox": [1, 1, 10, 10]}],
        "categories": [{"id": 10 * (i + 1), "name": n} for i, n in enumerate(names)],
    }
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    return path


def test_register_from_spec_with_text_classes(tmp_path):
    path = _tiny_dataset(tmp_path)
    name = register_from_spec(f"spec_mine={path}:{tmp_path / 'img'}:paragraph,heading")
    assert name == "spec_mine"
    assert text_class_ids("spec_mine") == [0, 1]  # classes read lazily from the file
    records = DatasetCatalog.get("spec_mine")
    assert records[0]["annotations"][0]["category_id"] == 2
    assert MetadataCatalog.get("spec_mine").thing_dataset_id_to_contiguous_id == {10: 0, 20: 1, 30: 2}
    for bad in ("no_equals", "x=only_json", "=a:b", "x=a:b:c:d"):
        with pytest.raises(ValueError, match="bad dataset spec"):
            register_from_spec(bad)


def test_extra_datasets_env_var_is_read_at_import(tmp_path, monkeypatch):
    path = _tiny_dataset(tmp_path, names=("text", "figure", "title"))
    monkeypatch.setenv(
        "GRAPHKD_EXTRA_DATASETS", f"env_a={path}:{tmp_path / 'img'}; env_b={path}:{tmp_path / 'img'}:figure"
    )
    importlib.reload(gdata)
    assert "env_a" in DatasetCatalog.list() and "env_b" in DatasetCatalog.list()
    assert text_class_ids("env_a") == [0, 2]  # picked by name: text, title
    assert text_class_ids("env_b") == [1]
    monkeypatch.setenv("GRAPHKD_EXTRA_DATASETS", "broken")
    with pytest.raises(ValueError, match="GRAPHKD_EXTRA_DATASETS"):
        importlib.reload(gdata)
    monkeypatch.delenv("GRAPHKD_EXTRA_DATASETS")
    importlib.reload(gdata)


def test_register_layout_dataset_checks_text_classes(tmp_path):
    path = _tiny_dataset(tmp_path)
    with pytest.raises(ValueError, match="not among"):
        register_layout_dataset(
            "bad_text", path, tmp_path / "img", text_classes=["caption"], class_names=["a", "b"]
        )
    register_layout_dataset("named", path, tmp_path / "img", class_names=["picture", "paragraph", "heading"])
    assert MetadataCatalog.get("named").text_classes == []  # no known text-like name among them
    assert DatasetCatalog.get("named")[0]["annotations"][0]["category_id"] == 0  # picture, by name


def test_synthetic_dataset_generates_on_first_use_then_caches(tmp_path):
    root = tmp_path / "synth" / "train"
    register_synthetic_dataset("synth_test_tiny", root, num_pages=3, seed=2, size=(300, 400))
    assert not root.exists()  # lazy
    records = DatasetCatalog.get("synth_test_tiny")
    assert len(records) == 3 and all(r["annotations"] for r in records)
    assert records[0]["file_name"] == str(root / "images" / "000000.png")
    stamp = (root / "annotations.json").stat().st_mtime_ns
    assert len(DatasetCatalog.get("synth_test_tiny")) == 3
    assert (root / "annotations.json").stat().st_mtime_ns == stamp  # cached
    meta = MetadataCatalog.get("synth_test_tiny")
    assert meta.thing_classes == ["text", "title", "list", "table", "figure"]
    assert meta.json_file == str(root / "annotations.json")
    # other parameters for the same folder regenerate it
    register_synthetic_dataset("synth_test_tiny", root, num_pages=2, seed=2, size=(300, 400))
    assert len(DatasetCatalog.get("synth_test_tiny")) == 2
    assert not list(root.parent.glob(".train.*"))  # no temporary folders left
