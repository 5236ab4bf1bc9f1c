"""Dataset statistics and annotation drawing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from graphkd.data.stats import PUBLAYNET_REFERENCE, dataset_stats, format_stats, plot_stats
from graphkd.data.synthetic import SCHEMAS, render_page
from graphkd.data.visualize import draw_annotations, preview_grid

CLASSES = ["text", "title", "figure"]
RECORDS = [
    {"width": 100, "height": 200, "annotations": [
        {"bbox": [0, 0, 40, 20], "bbox_mode": 1, "category_id": 0},
        {"bbox": [0, 30, 50, 40], "bbox_mode": 1, "category_id": 0},
        {"bbox": [10, 100, 90, 200], "bbox_mode": 0, "category_id": 2},  # XYXY
    ]},
    {"width": 100, "height": 200, "annotations": [{"bbox": [0, 0, 20, 4], "bbox_mode": 1, "category_id": 1}]},
    {"width": 100, "height": 200, "annotations": []},
]  # fmt: skip


def test_dataset_stats_counts_sizes_and_text_share():
    stats = dataset_stats(RECORDS, CLASSES, ["text", "title"])
    assert stats["images"] == 3 and stats["boxes"] == 4
    assert stats["text_share"] == pytest.approx(0.75)
    text = stats["per_class"]["text"]
    assert text["count"] == 2 and text["per_image_max"] == 2
    assert text["per_image_mean"] == pytest.approx(2 / 3)
    assert text["median_w"] == pytest.approx(0.45) and text["median_h"] == pytest.approx(0.15)
    fig = stats["per_class"]["figure"]
    assert fig["median_w"] == pytest.approx(0.8) and fig["median_h"] == pytest.approx(0.5)
    table = format_stats(stats, PUBLAYNET_REFERENCE)
    assert "text-like share 0.75" in table and "[6.80]" in table


def test_plot_stats_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = plot_stats(RECORDS, CLASSES, tmp_path / "h.png")
    assert Image.open(out).size[0] > 100


def test_draw_annotations_colours_boxes_and_grid_has_legend(tmp_path):
    img = Image.new("RGB", (50, 50), "white")
    drawn = draw_annotations(img, [{"bbox": [10, 10, 20, 20], "category": "title"}], CLASSES, width=1)
    arr = np.asarray(drawn)
    assert tuple(arr[10, 15]) != (255, 255, 255) and tuple(arr[40, 40]) == (255, 255, 255)
    assert img.getpixel((10, 15)) == (255, 255, 255)  # input untouched
    pages = [render_page(np.random.default_rng([0, i]), (150, 200)) for i in range(2)]
    grid = preview_grid(pages, SCHEMAS["publaynet"], tmp_path / "grid.png", columns=2)
    assert (tmp_path / "grid.png").is_file() and grid.width >= 300 and grid.height > 200
