"""Drawings of one page's instance graph with PIL, at the page's own resolution.

Shapes: ``N`` nodes before merging, ``K`` merged nodes, ``E`` adjacency edges, ``R`` relation edges drawn.
Boxes are XYXY in page pixels. Colours: text blue, non-text red, background grey; merged clusters purple;
relation edges (teacher cosine) orange, their width growing with the cosine; adjacency edges dark grey.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from graphkd.graph import NODE_BACKGROUND

__all__ = ["GraphDrawing", "draw_graph", "draw_merge", "TYPE_COLOURS", "TYPE_NAMES"]

TYPE_NAMES = ("text", "non-text", "background")  # indexed by node_type
TYPE_COLOURS = ((31, 119, 180), (214, 39, 40), (110, 110, 110))
CLUSTER_COLOUR = (148, 103, 189)
RELATION_COLOUR = (255, 127, 14)
ADJACENCY_COLOUR = (50, 50, 50)
PAGE_FADE = 0.35  # how far the page is blended towards white under the drawing


@dataclass
class GraphDrawing:
    """What is drawn for one page: the graph before merging, the merged graph and the strongest relations."""

    boxes: np.ndarray  # (N, 4) nodes before merging
    node_type: np.ndarray  # (N,)
    weight: np.ndarray  # (N,) sampling weight of the node's merged node (0 when sampling dropped it)
    edges: np.ndarray  # (E, 2) adjacency before merging, p < q
    cluster: np.ndarray  # (N,) merged node of each node
    merged_boxes: np.ndarray  # (K, 4)
    merged_type: np.ndarray  # (K,)
    cluster_size: np.ndarray  # (K,) nodes per merged node
    relations: np.ndarray  # (R, 3) merged node p, merged node q, teacher cosine; strongest first


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont:
    """DejaVu Sans at ``size`` px (the system's, or matplotlib's copy); PIL's bitmap font if neither exists."""
    candidates = ["DejaVuSans.ttf"]
    try:
        import matplotlib

        candidates.append(
            str(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
        )
    except ImportError:  # matplotlib is a dependency, but the drawing does not need it
        pass
    for candidate in candidates:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _scale(width: int, height: int) -> tuple[int, int]:
    """(line unit, font size) for a page: thin lines and small text on small pages, thicker on large ones."""
    short = min(width, height)
    return max(1, round(short / 300)), int(np.clip(short / 45, 8, 28))


def _faded(page: Image.Image) -> Image.Image:
    page = page.convert("RGB")
    return Image.blend(page, Image.new("RGB", page.size, (255, 255, 255)), PAGE_FADE)


def _centres(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


def _label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font, colour) -> None:
    """``text`` on a white backing at ``xy`` (its top-left corner)."""
    left, top, right, bottom = draw.textbbox(xy, text, font=font)
    draw.rectangle([left - 2, top - 1, right + 2, bottom + 1], fill=(255, 255, 255, 215))
    draw.text(xy, text, fill=colour + (255,), font=font)


def _draw_nodes(
    draw: ImageDraw.ImageDraw, boxes: np.ndarray, node_type: np.ndarray, opacity: np.ndarray, unit: int
) -> None:
    for box, kind, alpha in zip(boxes.tolist(), node_type.tolist(), opacity.tolist()):
        colour = TYPE_COLOURS[int(kind)]
        fill = (
            0 if kind == NODE_BACKGROUND else int(30 * alpha)
        )  # background RoIs overlap a lot: outline only
        draw.rectangle(box, fill=colour + (fill,), outline=colour + (int(40 + 215 * alpha),), width=unit)


def _draw_clusters(
    draw: ImageDraw.ImageDraw, boxes: np.ndarray, size: np.ndarray, unit: int, font, colour=CLUSTER_COLOUR
) -> None:
    """Outline each merged node holding more than one node, with its member count."""
    for box, count in zip(boxes.tolist(), size.tolist()):
        if count < 2:
            continue
        pad = unit
        draw.rectangle(
            [box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad], outline=colour + (255,), width=2 * unit
        )
        _label(draw, (box[0] + 2 * unit, box[1] + 2 * unit), f"x{count}", font, colour)


def _legend(
    draw: ImageDraw.ImageDraw, size: tuple[int, int], entries: list[tuple[str, tuple, str]], font, unit: int
) -> None:
    """A legend in the bottom-right corner: ``(kind, colour, text)`` with kind box, line or thick."""
    width, height = size
    text_boxes = [draw.textbbox((0, 0), text, font=font) for _, _, text in entries]
    row = max(bottom - top for _, top, _, bottom in text_boxes) + 4 * unit
    swatch = 2 * row
    inner = swatch + 3 * unit + max(right - left for left, _, right, _ in text_boxes)
    box_w, box_h = inner + 6 * unit, row * len(entries) + 4 * unit
    x0, y0 = max(0, width - box_w - 4 * unit), max(0, height - box_h - 4 * unit)
    draw.rectangle([x0, y0, x0 + box_w, y0 + box_h], fill=(255, 255, 255, 225), outline=(0, 0, 0, 255))
    for index, ((kind, colour, text), bbox) in enumerate(zip(entries, text_boxes)):
        top = y0 + 2 * unit + index * row
        middle = top + row / 2
        left = x0 + 3 * unit
        if kind == "box":
            draw.rectangle(
                [left, top + unit, left + swatch, top + row - unit],
                fill=colour + (90,),
                outline=colour + (255,),
                width=unit,
            )
        else:
            line_width = 4 * unit if kind == "thick" else unit
            draw.line([left, middle, left + swatch, middle], fill=colour + (255,), width=line_width)
        draw.text(
            (left + swatch + 3 * unit, middle - (bbox[1] + bbox[3]) / 2), text, fill=(0, 0, 0, 255), font=font
        )


def draw_graph(page: Image.Image, drawing: GraphDrawing) -> Image.Image:
    """The page with the instance graph over it, the same size as ``page``.

    Nodes are boxes coloured by type with opacity = sampling weight (clipped to 1); adjacency edges join
    box centres; merged clusters are outlined with their member count; the strongest relation edges
    (teacher cosine between merged nodes) are orange lines whose width grows with the cosine.
    """
    image = _faded(page)
    unit, font_size = _scale(*image.size)
    font = _font(font_size)
    draw = ImageDraw.Draw(image, "RGBA")
    opacity = np.clip(drawing.weight, 0.0, 1.0) * 0.85 + 0.15
    _draw_nodes(draw, drawing.boxes, drawing.node_type, opacity, unit)
    centres = _centres(drawing.boxes) if len(drawing.boxes) else np.zeros((0, 2))
    for p, q in drawing.edges.tolist():
        draw.line([*centres[p].tolist(), *centres[q].tolist()], fill=ADJACENCY_COLOUR + (90,), width=unit)
    _draw_clusters(draw, drawing.merged_boxes, drawing.cluster_size, unit, font)
    merged_centres = _centres(drawing.merged_boxes) if len(drawing.merged_boxes) else np.zeros((0, 2))
    for p, q, cosine in drawing.relations.tolist():
        line_width = max(1, round(unit * (1 + 5 * max(cosine, 0.0))))
        draw.line(
            [*merged_centres[int(p)].tolist(), *merged_centres[int(q)].tolist()],
            fill=RELATION_COLOUR + (210,),
            width=line_width,
        )
    for centre in merged_centres[np.unique(drawing.relations[:, :2].astype(int))].tolist():
        draw.ellipse(
            [centre[0] - 2 * unit, centre[1] - 2 * unit, centre[0] + 2 * unit, centre[1] + 2 * unit],
            fill=RELATION_COLOUR + (255,),
        )
    if len(drawing.boxes) == 0:
        _label(draw, (4 * unit, 4 * unit), "no nodes: empty graph", font, (0, 0, 0))
    entries = [("box", TYPE_COLOURS[kind], f"{name} node") for kind, name in enumerate(TYPE_NAMES)]
    entries += [
        ("line", ADJACENCY_COLOUR, "adjacency edge"),
        ("thick", RELATION_COLOUR, f"teacher cosine, top {len(drawing.relations)} (width)"),
        ("box", CLUSTER_COLOUR, "merged cluster (xN members)"),
        ("box", (0, 0, 0), "opacity = sampling weight"),
    ]
    _legend(draw, image.size, entries, font, unit)
    return image


def _panel(page: Image.Image, boxes, node_type, cluster_size, title: str) -> Image.Image:
    image = _faded(page)
    unit, font_size = _scale(*image.size)
    font = _font(font_size)
    draw = ImageDraw.Draw(image, "RGBA")
    _draw_nodes(draw, boxes, node_type, np.ones(len(boxes)), unit)
    if cluster_size is not None:
        _draw_clusters(draw, boxes, cluster_size, unit, font)
    _, top, _, bottom = draw.textbbox((0, 0), title, font=font)
    _label(draw, (4 * unit, image.height - (bottom - top) - 6 * unit), title, font, (0, 0, 0))
    return image


def _describe(node_type: np.ndarray) -> str:
    counts = [int((node_type == kind).sum()) for kind in range(len(TYPE_NAMES))]
    return f"{len(node_type)} nodes ({counts[0]} text, {counts[1]} non-text, {counts[2]} bg)"


def draw_merge(page: Image.Image, drawing: GraphDrawing) -> Image.Image:
    """Before (left) and after (right) text-node merging, side by side: twice the page's width."""
    width, height = page.size
    before = _panel(
        page, drawing.boxes, drawing.node_type, None, f"before merging: {_describe(drawing.node_type)}"
    )
    after = _panel(
        page,
        drawing.merged_boxes,
        drawing.merged_type,
        drawing.cluster_size,
        f"after merging: {_describe(drawing.merged_type)}",
    )
    out = Image.new("RGB", (2 * width, height), (255, 255, 255))
    out.paste(before, (0, 0))
    out.paste(after, (width, 0))
    ImageDraw.Draw(out).line([width, 0, width, height], fill=(0, 0, 0), width=1)
    return out
