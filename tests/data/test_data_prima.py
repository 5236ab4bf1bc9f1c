"""PRImA PAGE-XML -> COCO: every namespace version, both coordinate forms, every region type, the split."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from graphkd.data.coco import DatasetError
from graphkd.data.prima import PRIMA_CLASSES, REGION_TO_CLASS, convert_prima, parse_page_xml

NAMESPACES = {
    "2010": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2010-03-19",
    "2013": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15",
    "2017": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2017-07-15",
    "2019": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15",
}


def _coords(points, old_form):
    if old_form:
        return "<Coords>" + "".join(f'<Point x="{x}" y="{y}"/>' for x, y in points) + "</Coords>"
    return '<Coords points="' + " ".join(f"{x},{y}" for x, y in points) + '"/>'


def page_xml(version, image, regions, old_form=False, width=200, height=300):
    body = "".join(
        f'<{kind} id="r{i}">{_coords(points, old_form)}{inner}</{kind}>'
        for i, (kind, points, inner) in enumerate(regions)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<PcGts xmlns="{NAMESPACES[version]}">'
        f"<Metadata><Creator>test</Creator></Metadata>"
        f'<Page imageFilename="{image}" imageWidth="{width}" imageHeight="{height}">'
        f'<ReadingOrder><OrderedGroup id="g"/></ReadingOrder>{body}</Page></PcGts>'
    )


SQUARE = [(10, 10), (60, 10), (60, 40), (10, 40)]


@pytest.mark.parametrize("version", sorted(NAMESPACES))
@pytest.mark.parametrize("old_form", [False, True])
def test_parse_every_namespace_and_coordinate_form(tmp_path, version, old_form):
    regions = [(kind, SQUARE, "") for kind in REGION_TO_CLASS]
    path = tmp_path / "pc-0001.xml"
    path.write_text(page_xml(version, "0001.tif", regions, old_form))
    page = parse_page_xml(path)
    assert (page["image_filename"], page["width"], page["height"]) == ("0001.tif", 200, 300)
    assert [r["type"] for r in page["regions"]] == list(REGION_TO_CLASS)
    assert [r["category"] for r in page["regions"]] == list(REGION_TO_CLASS.values())
    assert all(
        r["points"] == [(10.0, 10.0), (60.0, 10.0), (60.0, 40.0), (10.0, 40.0)] for r in page["regions"]
    )


def test_region_mapping_covers_six_classes_and_unknown_types_become_other(tmp_path):
    assert set(REGION_TO_CLASS.values()) == set(PRIMA_CLASSES)
    path = tmp_path / "x.xml"
    path.write_text(page_xml("2019", "x.png", [("FancyNewRegion", SQUARE, "")]))
    assert parse_page_xml(path)["regions"][0]["category"] == "OtherRegion"


def _dataset(tmp_path, n_pages=5):
    pages, images = tmp_path / "XML", tmp_path / "Images"
    pages.mkdir(parents=True)
    images.mkdir()
    all_regions = [
        ("TextRegion", [(5, 5), (100, 5), (100, 50), (5, 50)], "<TextEquiv><Unicode>hi</Unicode></TextEquiv>"),
        ("ImageRegion", [(5, 60), (150, 60), (150, 200), (5, 200)], ""),
        ("ChartRegion", SQUARE, ""),
        ("TableRegion", [(10, 210), (190, 210), (190, 280), (10, 280)],
         '<TextRegion id="cell"><Coords points="12,212 50,212 50,230"/></TextRegion>'),
        ("MathsRegion", SQUARE, ""),
        ("SeparatorRegion", [(5, 55), (190, 55)], ""),  # a line: zero height
        ("NoiseRegion", [(0, 0), (3, 0), (3, 3)], ""),
    ]  # fmt: skip
    for k in range(n_pages):
        version, old = sorted(NAMESPACES)[k % 4], k % 2 == 1
        (pages / f"pc-{k:04d}.xml").write_text(page_xml(version, f"{k:04d}.tif", all_regions, old_form=old))
        Image.new("L", (200, 300), 255).save(images / f"{k:04d}.tif")
    return pages, images


def test_convert_writes_train_and_val_coco(tmp_path):
    pages, images = _dataset(tmp_path)
    train, val = convert_prima(pages, images, tmp_path / "out", val_fraction=0.4, seed=0)
    tr, va = json.loads(train.read_text()), json.loads(val.read_text())
    assert len(tr["images"]) == 3 and len(va["images"]) == 2
    assert not {i["id"] for i in tr["images"]} & {i["id"] for i in va["images"]}
    assert [c["name"] for c in tr["categories"]] == PRIMA_CLASSES
    assert [c["id"] for c in tr["categories"]] == [1, 2, 3, 4, 5, 6]
    anns = [a for a in tr["annotations"] if a["image_id"] == tr["images"][0]["id"]]
    assert len(anns) == 7  # nested table cell not counted
    by_type = {a["region_type"]: a for a in anns}
    assert by_type["TextRegion"]["bbox"] == [5.0, 5.0, 95.0, 45.0]
    assert by_type["TextRegion"]["segmentation"] == [[5.0, 5.0, 100.0, 5.0, 100.0, 50.0, 5.0, 50.0]]
    assert by_type["TextRegion"]["area"] == pytest.approx(95 * 45)
    assert by_type["ChartRegion"]["category_id"] == 2 and by_type["NoiseRegion"]["category_id"] == 6
    assert by_type["SeparatorRegion"]["bbox"][3] == 1.0  # thin separators kept at 1 px
    assert tr["images"][0]["file_name"].endswith(".tif")


def test_split_is_deterministic_for_a_seed(tmp_path):
    pages, images = _dataset(tmp_path, n_pages=6)
    a = convert_prima(pages, images, tmp_path / "a", seed=1)[1].read_bytes()
    b = convert_prima(pages, images, tmp_path / "b", seed=1)[1].read_bytes()
    assert a == b


def test_converted_files_load_through_the_validator(tmp_path):
    pytest.importorskip("detectron2")  # development guard only
    from graphkd.data import load_layout_coco_json

    pages, images = _dataset(tmp_path, n_pages=3)
    train, _ = convert_prima(pages, images, tmp_path / "out", val_fraction=0.3)
    records = load_layout_coco_json(train, images, class_names=PRIMA_CLASSES)
    assert len(records) == 2 and all(len(r["annotations"]) == 7 for r in records)


def test_bad_page_xml_and_missing_images_raise(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<PcGts><Page>")
    with pytest.raises(DatasetError, match="broken.xml: malformed XML at line"):
        parse_page_xml(broken)
    no_coords = tmp_path / "nc.xml"
    no_coords.write_text(page_xml("2013", "a.png", []).replace("</Page>", '<TextRegion id="t9"/></Page>'))
    with pytest.raises(DatasetError, match="TextRegion id=t9 has no <Coords>"):
        parse_page_xml(no_coords)
    pages, images = _dataset(tmp_path / "d", n_pages=3)
    (images / "0001.tif").unlink()
    with pytest.raises(DatasetError, match=r"no image found for 1 of 3 PAGE files \(first: pc-0001.xml"):
        convert_prima(pages, images, tmp_path / "out")
