"""Draw layout boxes on page images, coloured per class, and tile pages into a preview grid with a legend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from .synthetic.glyphs import GLYPHS, font_families

__all__ = ["CLASS_COLOURS", "draw_annotations", "preview_grid"]

CLASS_COLOURS: list[tuple[int, int, int]] = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (23, 190, 207),
    (188, 189, 34),
    (127, 127, 127),
    (0, 0, 128),
    (128, 0, 0),
]


def _colour(class_names: Sequence[str], name: str) -> tuple[int, int, int]:
    index = list(class_names).index(name) if name in class_names else len(class_names)
    return CLASS_COLOURS[index % len(CLASS_COLOURS)]


def draw_annotations(
    image: Image.Image,
    annotations: Sequence[dict],
    class_names: Sequence[str],
    width: int = 2,
    fill_alpha: int = 40,
) -> Image.Image:
    """Copy of ``image`` with each ``{"bbox": [x, y, w, h], "category": name}`` drawn in its class colour."""
    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for ann in annotations:
        x, y, w, h = ann["bbox"]
        colour = _colour(class_names, ann["category"])
        draw.rectangle(
            [x, y, x + w, y + h], fill=colour + (fill_alpha,), outline=colour + (255,), width=width
        )
    return Image.alpha_composite(base, overlay).convert("RGB")


def preview_grid(
    pages: Sequence[tuple[Image.Image, Sequence[dict]]],
    class_names: Sequence[str],
    out_png: str | Path | None = None,
    columns: int = 4,
) -> Image.Image:
    """Tile annotated pages (``(image, annotations)`` pairs) in a grid with a class legend underneath."""
    drawn = [draw_annotations(img, anns, class_names) for img, anns in pages]
    cell_w = max(im.width for im in drawn)
    cell_h = max(im.height for im in drawn)
    pad = 10
    columns = max(1, min(columns, len(drawn)))
    rows = (len(drawn) + columns - 1) // columns
    font_path = font_families()[sorted(font_families())[0]]["regular"]
    size = 16
    font = GLYPHS.font(font_path, size)
    legend_h = 2 * size + 2 * pad
    grid = Image.new("RGB", (columns * (cell_w + pad) + pad, rows * (cell_h + pad) + pad + legend_h), "white")
    for k, im in enumerate(drawn):
        r, c = divmod(k, columns)
        grid.paste(im, (pad + c * (cell_w + pad), pad + r * (cell_h + pad)))
        ImageDraw.Draw(grid).rectangle(
            [
                pad + c * (cell_w + pad) - 1,
                pad + r * (cell_h + pad) - 1,
                pad + c * (cell_w + pad) + im.width,
                pad + r * (cell_h + pad) + im.height,
            ],
            outline=(160, 160, 160),
        )
    draw = ImageDraw.Draw(grid)
    x, y = pad, rows * (cell_h + pad) + pad + size // 2
    for name in class_names:
        colour = _colour(class_names, name)
        draw.rectangle([x, y, x + size, y + size], fill=colour)
        draw.text((x + size + 6, y), name, fill=(0, 0, 0), font=font)
        x += size + 6 + int(font.getlength(name)) + 3 * pad
        if x > grid.width - 150:
            x, y = pad, y + size + pad // 2
    if out_png is not None:
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        grid.save(out_png)
    return grid
