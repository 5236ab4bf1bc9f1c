"""Page layout: one or two columns filled with text and floats; one page rendered into image + regions.

:class:`Page` decides the margins, columns and where full-width floats go, then flows paragraphs,
headings, lists, formulas and in-column floats down each column (a paragraph may continue into the next
column). :func:`render_page` draws a page, maps its regions onto a schema's categories and optionally
degrades it like a scan.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .degradation import apply_noise
from .floats import FloatSetter
from .schema import categorise, check_schema

__all__ = ["Page", "render_page"]


class Page(FloatSetter):
    """Lays out and draws one page: columns, full-width floats, then the column flow (:meth:`render`)."""

    def flow_column(self, x0: float, top: float, width: float, bottom: float, state: dict) -> None:
        """Fill one column with paragraphs, headings, lists and in-column floats."""
        rng = self.rng
        y = top
        last = "start"
        while bottom - y >= self.line_h * 1.2:
            room = int((bottom - y) // self.line_h)
            if state["carry"] > 0:  # paragraph continued from the previous column
                n = min(state["carry"], room)
                state["carry"] -= n
                box, y = self.text_block(
                    x0, y, width, n, last_fill=None if state["carry"] else rng.uniform(0.2, 0.95)
                )
                self.add("text", box)
                y += self.para_gap
                last = "text"
                continue
            if state["floats"]:
                kind, spec = state["floats"][0]
                need = (
                    self.table_height(spec) if kind == "table" else spec[1] + (spec[2] + 1.5) * self.small_h
                )
                if need <= bottom - y and (rng.random() < 0.4 or need > 0.6 * (bottom - y)):
                    state["floats"].pop(0)
                    y += self.line_h * 0.5 if last != "start" else 0
                    if kind == "table":
                        y = self.place_table(x0, y, width, spec)
                    else:
                        y = self.place_figure(x0, y, width, spec)
                    y += self.line_h * rng.uniform(0.6, 1.2)
                    last = kind
                    continue
            if last != "heading" and rng.random() < 0.28 and room >= 4:
                y += self.line_h * rng.uniform(0.4, 1.0) if last != "start" else 0
                y = self.heading(x0, y, width) + self.line_h * rng.uniform(0.2, 0.6)
                last = "heading"
                continue
            if state["lists"] and rng.random() < 0.35 and room >= 3:
                state["lists"] -= 1
                y = self.list_block(x0, y, width, bottom) + self.para_gap
                last = "list"
                continue
            if state["formulas"] and rng.random() < 0.2 and room >= 3:
                state["formulas"] -= 1
                y = self.formula(x0, y + self.line_h * 0.3, width) + self.line_h * 0.5
                last = "formula"
                continue
            n = self.paragraph_lines()
            if n > room:
                state["carry"] = n - room if rng.random() < 0.8 else 0
                n = room
            last_fill = None if state["carry"] else rng.uniform(0.15, 0.95)
            box, y = self.text_block(x0, y, width, n, indent=self.indent, last_fill=last_fill)
            self.add("text", box)
            y += self.para_gap
            last = "text"

    def render(self) -> None:
        rng, W = self.rng, self.width
        margin_l = W * rng.uniform(0.065, 0.11)
        margin_r = margin_l + W * rng.uniform(-0.01, 0.01)
        x0, x1 = margin_l, W - margin_r
        top, bottom = self.header_footer(x0, x1)
        if rng.random() < 0.2:
            top = self.title_block(x0, x1, top)
        n_cols = 2 if rng.random() < 0.75 else 1
        gutter = W * rng.uniform(0.025, 0.045)
        col_w = (x1 - x0 - gutter * (n_cols - 1)) / n_cols
        n_figures = int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))
        n_tables = int(rng.choice([0, 1, 2], p=[0.65, 0.28, 0.07]))
        content_h = bottom - top
        full: list[tuple[str, object]] = []
        column_floats: list[tuple[str, object]] = []
        for kind in rng.permutation(["figure"] * n_figures + ["table"] * n_tables).tolist():
            span = n_cols == 1 or rng.random() < (0.8 if kind == "figure" else 0.85)
            width = x1 - x0 if span else col_w
            if kind == "figure":
                spec = self.figure_height(width, in_column=not span)
                if spec[1] > content_h * 0.5:
                    spec = (spec[0] * content_h * 0.5 / spec[1], content_h * 0.5, spec[2])
            else:
                spec = self.table_spec(width, in_column=not span)
            (full if span else column_floats).append((kind, spec))
        used = 0.0
        at_top = rng.random() < 0.6
        for kind, spec in full:
            need = self.table_height(spec) if kind == "table" else spec[1] + (spec[2] + 2) * self.small_h
            if used + need > content_h * 0.8:
                continue
            used += need + self.line_h
            if at_top:
                place = self.place_table if kind == "table" else self.place_figure
                top = place(x0, top, x1 - x0, spec) + self.line_h * rng.uniform(0.8, 1.5)
            else:
                y = bottom - need
                place = self.place_table if kind == "table" else self.place_figure
                place(x0, y, x1 - x0, spec)
                bottom = y - self.line_h * rng.uniform(0.8, 1.5)
        state = {
            "carry": 0,
            "floats": column_floats,
            "lists": int(rng.choice([0, 1, 2], p=[0.65, 0.3, 0.05])),
            "formulas": int(rng.integers(0, 3)) if self.schema == "doclaynet" else 0,
        }
        for c in range(n_cols):
            cx = x0 + c * (col_w + gutter)
            col_bottom = bottom
            if c == 0 and rng.random() < 0.12:
                col_bottom = self.footnotes(cx, col_w, bottom)
            self.flow_column(cx, top, col_w, col_bottom, state)

    def finish(self) -> Image.Image:
        """Composite the ink layer onto the page (text in a near-black tone)."""
        tone = int(self.rng.integers(0, 40))
        ink = Image.fromarray(self.ink.layer, "L")
        return Image.composite(Image.new("RGB", self.img.size, (tone, tone, tone)), self.img, ink)


def render_page(
    rng: np.random.Generator,
    size: tuple[int, int] = (600, 800),
    schema: str = "publaynet",
    noise: bool = False,
) -> tuple[Image.Image, list[dict]]:
    """Draw one page; returns the RGB image and its regions as ``{"bbox": [x, y, w, h], "category": name}``."""
    check_schema(schema)
    page = Page(rng, size, schema)
    page.render()
    img = page.finish()
    categories, boxes = categorise(page.regions, schema)
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if noise:
        img, arr = apply_noise(img, arr, rng, page.scale)
    arr[:, [0, 2]] = arr[:, [0, 2]].clip(0, img.width)
    arr[:, [1, 3]] = arr[:, [1, 3]].clip(0, img.height)
    annotations = []
    for name, (bx0, by0, bx1, by1) in zip(categories, arr.tolist()):
        w, h = round(bx1 - bx0, 2), round(by1 - by0, 2)
        if w > 0 and h > 0:
            annotations.append({"bbox": [round(bx0, 2), round(by0, 2), w, h], "category": name})
    return img, annotations
