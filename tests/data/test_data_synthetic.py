"""Synthetic page generator: COCO output, exact boxes, determinism, METHOD §9 statistics."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageDraw

from graphkd.data.synthetic import SCHEMAS, TEXT_CLASSES, generate_synthetic_dataset, render_page
from graphkd.data.synthetic.degradation import rotate_boxes
from graphkd.data.synthetic.layout import Page
from graphkd.data.synthetic.schema import categorise


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_schemas_and_text_classes_follow_method_section_2():
    assert SCHEMAS["publaynet"] == ["text", "title", "list", "table", "figure"]
    assert len(SCHEMAS["doclaynet"]) == 11
    assert TEXT_CLASSES["publaynet"] == ["text", "title", "list"]
    assert "Formula" not in TEXT_CLASSES["doclaynet"] and "Picture" not in TEXT_CLASSES["doclaynet"]
    assert set(TEXT_CLASSES["doclaynet"]) < set(SCHEMAS["doclaynet"])


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return generate_synthetic_dataset(out, num_pages=4, seed=0, size=(300, 400))


def test_generated_json_is_complete_coco(small_set):
    coco = json.loads(small_set.read_text())
    assert [c["id"] for c in coco["categories"]] == [1, 2, 3, 4, 5]
    assert [c["name"] for c in coco["categories"]] == SCHEMAS["publaynet"]
    assert [im["id"] for im in coco["images"]] == [1, 2, 3, 4]
    for im in coco["images"]:
        assert (im["width"], im["height"]) == (300, 400)
        with Image.open(small_set.parent / "images" / im["file_name"]) as page:
            assert page.size == (300, 400)
    ids = [a["id"] for a in coco["annotations"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 4 * 3
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 300 and y + h <= 400
        assert a["iscrowd"] == 0 and a["area"] == pytest.approx(w * h, abs=0.05)
        assert a["segmentation"] == [
            [
                x,
                y,
                pytest.approx(x + w),
                y,
                pytest.approx(x + w),
                pytest.approx(y + h),
                x,
                pytest.approx(y + h),
            ]
        ]
        assert 1 <= a["category_id"] <= 5


def test_pycocotools_accepts_the_json(small_set):
    coco_mod = pytest.importorskip("pycocotools.coco")
    coco = coco_mod.COCO(str(small_set))
    assert len(coco.getImgIds()) == 4 and len(coco.getCatIds()) == 5
    assert len(coco.getAnnIds()) == len(json.loads(small_set.read_text())["annotations"])


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    a = generate_synthetic_dataset(tmp_path / "a", 2, seed=5, size=(240, 320))
    b = generate_synthetic_dataset(tmp_path / "b", 2, seed=5, size=(240, 320))
    c = generate_synthetic_dataset(tmp_path / "c", 2, seed=6, size=(240, 320))
    assert a.read_bytes() == b.read_bytes()
    for name in ("000000.png", "000001.png"):
        assert _digest(tmp_path / "a" / "images" / name) == _digest(tmp_path / "b" / "images" / name)
    assert a.read_bytes() != c.read_bytes()


def test_worker_processes_write_the_same_set_as_one_process(tmp_path):
    one = generate_synthetic_dataset(tmp_path / "one", 5, seed=2, size=(240, 320), workers=1)
    three = generate_synthetic_dataset(tmp_path / "three", 5, seed=2, size=(240, 320), workers=3)
    assert one.read_bytes() == three.read_bytes()  # same regions, ids and order
    names = sorted(p.name for p in (tmp_path / "one" / "images").iterdir())
    assert names == [f"{i:06d}.png" for i in range(5)]
    assert sorted(p.name for p in (tmp_path / "three" / "images").iterdir()) == names
    for name in names:
        assert _digest(tmp_path / "one" / "images" / name) == _digest(tmp_path / "three" / "images" / name)
    with pytest.raises(ValueError, match="workers"):
        generate_synthetic_dataset(tmp_path / "none", 1, workers=0)


def test_boxes_cover_the_ink_and_each_box_holds_ink():
    """Under doclaynet everything drawn is annotated, so dark pixels outside boxes are only rules."""
    for i in range(3):
        img, anns = render_page(np.random.default_rng([11, i]), (450, 600), "doclaynet", noise=False)
        dark = np.asarray(img.convert("L")) < 160
        inside = np.zeros_like(dark)
        for a in anns:
            x, y, w, h = a["bbox"]
            x0, y0, x1, y1 = int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h))
            inside[y0:y1, x0:x1] = True
            if a["category"] != "Picture":  # pictures can be pale
                assert dark[y0:y1, x0:x1].any(), a
        assert (dark & ~inside).sum() <= 0.03 * dark.sum()


def test_doclaynet_schema_annotates_headers_footers_and_list_items():
    counts: Counter = Counter()
    for i in range(12):
        _, anns = render_page(np.random.default_rng([3, i]), (300, 400), "doclaynet", noise=True)
        counts.update(a["category"] for a in anns)
    assert set(counts) <= set(SCHEMAS["doclaynet"])
    for name in ("Text", "Section-header", "Page-header", "Page-footer", "Caption"):
        assert counts[name] > 0, counts


def test_schemas_map_the_same_regions_differently():
    """publaynet: headers, footers and formulas unannotated, one box per list; doclaynet: all, one per item."""
    page = Page(np.random.default_rng(2), (600, 800), "doclaynet")  # has every kind but a table
    page.render()
    kinds = Counter(kind for kind, _, _ in page.regions)
    list_items = sum(len(items) for kind, _, items in page.regions if kind == "list")
    pub, pub_boxes = categorise(page.regions, "publaynet")
    dl, dl_boxes = categorise(page.regions, "doclaynet")
    assert min(kinds[k] for k in ("page_header", "page_footer", "list", "formula", "caption", "footnote")) > 0
    assert len(pub) == len(page.regions) - kinds["page_header"] - kinds["page_footer"] - kinds["formula"]
    assert len(dl) == len(page.regions) - kinds["list"] + list_items
    assert Counter(pub)["text"] == kinds["text"] + kinds["caption"] + kinds["footnote"]
    assert Counter(pub)["title"] == kinds["heading"] + kinds["doc_title"]
    assert Counter(dl)["Page-header"] == kinds["page_header"] and Counter(dl)["Caption"] == kinds["caption"]
    headers = [box for kind, box, _ in page.regions if kind in ("page_header", "page_footer")]
    assert not set(headers) & set(pub_boxes) and set(headers) <= set(dl_boxes)


def test_rotated_boxes_follow_the_rotated_pixels():
    img = Image.new("L", (200, 300), 255)
    ImageDraw.Draw(img).rectangle([40, 60, 139, 119], fill=0)
    for angle in (-1.0, 0.7):
        rotated = np.asarray(img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)) < 128
        ys, xs = np.nonzero(rotated)
        got = rotate_boxes(np.array([[40.0, 60.0, 140.0, 120.0]]), angle, 200, 300)[0]
        assert got == pytest.approx([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], abs=1.5)


def test_statistics_roughly_match_method_section_9():
    counts, pages = Counter(), 50
    widths, heights = {}, {}
    for i in range(pages):
        img, anns = render_page(np.random.default_rng([123, i]), noise=True)
        counts.update(a["category"] for a in anns)
        for a in anns:
            widths.setdefault(a["category"], []).append(a["bbox"][2] / img.width)
            heights.setdefault(a["category"], []).append(a["bbox"][3] / img.height)
    total = sum(counts.values())
    assert 0.55 <= counts["text"] / total <= 0.85
    assert 6 <= total / pages <= 15
    assert 4.5 <= counts["text"] / pages <= 10
    assert 0.8 <= counts["title"] / pages <= 2.6
    for name in ("list", "table", "figure"):
        assert 0.1 <= counts[name] / pages <= 0.9, (name, counts)
    assert 0.3 <= np.median(widths["text"]) <= 0.5 and 0.05 <= np.median(heights["text"]) <= 0.14
    assert np.median(heights["title"]) <= 0.03
    assert np.median(widths["table"]) >= 0.6 and np.median(widths["figure"]) >= 0.5
    assert max(heights["text"]) <= 0.52


def test_unknown_schema_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="schema"):
        generate_synthetic_dataset(tmp_path, 1, schema="coco")
