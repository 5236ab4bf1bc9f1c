"""Floats of a synthetic page: figures with a caption below, ruled tables with a caption above.

A float is sized first (``figure_height`` / ``table_spec``, so the layout can decide where it fits) and
placed later (``place_figure`` / ``place_table``), which draws it, its caption and any table footnote.
"""

from __future__ import annotations

import numpy as np

from .glyphs import GLYPHS, Box
from .graphics import paint_diagram, paint_heatmap, paint_photo, paint_plot
from .typesetting import Typesetter
from .vocabulary import cell_word, number_token, words

__all__ = ["FloatSetter"]


class FloatSetter(Typesetter):
    """A :class:`Typesetter` that also sizes, draws and captions figures and tables."""

    def caption_tokens(self, label: str, number: int) -> list[str]:
        return [label, f"{number}."] + words(self.rng, int(self.rng.integers(6, 45)))

    def figure_height(self, width: float, in_column: bool) -> tuple[float, float, int]:
        """(figure width, figure height, caption lines) for a figure that gets ``width`` of space."""
        rng = self.rng
        fig_w = width * (rng.uniform(0.85, 1.0) if in_column else rng.uniform(0.75, 1.0))
        fig_h = fig_w * (rng.uniform(0.55, 1.0) if in_column else rng.uniform(0.3, 0.75))
        return fig_w, fig_h, int(rng.integers(1, 5))

    def place_figure(self, x0: float, top: float, width: float, spec: tuple[float, float, int]) -> float:
        rng, s = self.rng, self.scale
        fig_w, fig_h, cap_lines = spec
        fx0 = int(round(x0 + (width - fig_w) / 2))
        box = (fx0, int(round(top)), int(round(fx0 + fig_w)), int(round(top + fig_h)))
        self.paint_figure(box)
        self.add("figure", box)
        y = box[3] + self.small_h * rng.uniform(0.5, 1.2) + 2 * s
        cap_w = width if rng.random() < 0.6 else fig_w
        cx0 = x0 + (width - cap_w) / 2
        tokens = self.caption_tokens("Figure" if rng.random() < 0.6 else "Fig.", self.figure_no)
        cbox, y = self.text_block(
            cx0, y, cap_w, cap_lines, size=self.small, line_h=self.small_h, tokens=tokens
        )
        self.add("caption", cbox)
        self.figure_no += 1
        return y

    def paint_figure(self, box: Box) -> None:
        rng = self.rng
        kind = rng.random()
        font, size = self.sans, max(4, round(self.small * 0.9))
        if kind < 0.4:
            paint_plot(self.img, self.ink, box, rng, font, size)
        elif kind < 0.6:
            paint_photo(self.img, box, rng)
        elif kind < 0.85:
            x0, y0, x1, y1 = box
            rows = int(rng.integers(1, 3))
            cols = int(rng.integers(2, 4))
            pad = max(2, round(3 * self.scale))
            cw, ch = (x1 - x0 + pad) / cols, (y1 - y0 + pad) / rows
            for r in range(rows):
                for c in range(cols):
                    px0, py0 = int(x0 + c * cw), int(y0 + r * ch)
                    px1, py1 = int(x0 + (c + 1) * cw) - pad, int(y0 + (r + 1) * ch) - pad
                    if r == rows - 1:
                        py1 = y1
                    if c == cols - 1:
                        px1 = x1
                    sub = (px0, py0, px1, py1)
                    if rng.random() < 0.5:
                        paint_plot(self.img, self.ink, sub, rng, font, size)
                    elif rng.random() < 0.7:
                        paint_photo(self.img, sub, rng)
                    else:
                        paint_heatmap(self.img, sub, rng)
                    letter = chr(ord("A") + r * cols + c)
                    self.ink.stamp(self.bold, size, letter, px0 + 1, py0 + size)
        elif kind < 0.95:
            paint_diagram(self.img, self.ink, box, rng, font, size)
        else:
            paint_heatmap(self.img, box, rng)

    def table_spec(self, width: float, in_column: bool) -> dict:
        rng = self.rng
        cols = int(rng.integers(2, 5)) if in_column else int(rng.integers(3, 9))
        rows = int(rng.integers(5, 21))
        row_h = self.small_h * rng.uniform(1.15, 1.6)
        tab_w = width * (rng.uniform(0.9, 1.0) if in_column else rng.uniform(0.9, 1.0))
        return {
            "cols": cols,
            "rows": rows,
            "row_h": row_h,
            "width": tab_w,
            "cap_lines": int(rng.integers(1, 3)),
            "foot_lines": int(rng.integers(1, 3)) if rng.random() < 0.3 else 0,
        }

    def table_height(self, spec: dict) -> float:
        return (
            (spec["cap_lines"] + spec["foot_lines"] + 1.5) * self.small_h + spec["rows"] * spec["row_h"] + 8
        )

    def place_table(self, x0: float, top: float, width: float, spec: dict) -> float:
        s = self.scale
        tab_w = spec["width"]
        tx0 = x0 + (width - tab_w) / 2
        cap_tokens = self.caption_tokens("Table", self.table_no)
        self.table_no += 1
        cbox, y = self.text_block(
            tx0, top, tab_w, spec["cap_lines"], size=self.small, line_h=self.small_h, tokens=cap_tokens
        )
        self.add("caption", cbox)
        y += self.small_h * 0.4 + 2 * s
        box = self.draw_table(tx0, y, tab_w, spec)
        self.add("table", box)
        y = box[3] + self.small_h * 0.5 + 2 * s
        if spec["foot_lines"]:
            fbox, y = self.text_block(
                tx0, y, tab_w, spec["foot_lines"], size=max(4, self.small - 1), line_h=self.small_h * 0.95
            )
            self.add("footnote", fbox)
        return y

    def draw_table(self, x0: float, top: float, width: float, spec: dict) -> Box:
        rng = self.rng
        rows, cols, row_h = spec["rows"], spec["cols"], spec["row_h"]
        weights = np.ones(cols)
        weights[0] = rng.uniform(1.5, 3.0)
        edges = x0 + np.concatenate([[0.0], np.cumsum(weights) / weights.sum()]) * width
        bx0, by0 = int(round(x0)), int(round(top))
        bx1, by1 = int(round(x0 + width)), int(round(top + rows * row_h))
        style = rng.random()
        grey = (255 - int(rng.integers(12, 40)),) * 3
        if style < 0.25:  # zebra shading
            for r in range(1, rows, 2):
                self.draw.rectangle([bx0, top + r * row_h, bx1 - 1, top + (r + 1) * row_h], fill=grey)
        elif style < 0.4:  # shaded header
            self.draw.rectangle([bx0, by0, bx1 - 1, top + row_h], fill=grey)
        thick = max(1, round(self.scale * 1.5))
        self.draw.line([(bx0, by0), (bx1 - 1, by0)], fill=(0, 0, 0), width=thick)
        self.draw.line([(bx0, by1 - 1), (bx1 - 1, by1 - 1)], fill=(0, 0, 0), width=thick)
        self.draw.line([(bx0, top + row_h), (bx1 - 1, top + row_h)], fill=(0, 0, 0), width=1)
        if 0.6 <= style < 0.8:  # full grid
            for r in range(2, rows):
                self.draw.line([(bx0, top + r * row_h), (bx1 - 1, top + r * row_h)], fill=(0, 0, 0))
            for e in edges.tolist():
                xx = min(int(round(e)), bx1 - 1)
                self.draw.line([(xx, by0), (xx, by1 - 1)], fill=(0, 0, 0))
        size = self.small
        ascent = GLYPHS.metrics(self.regular, size)[0]
        for r in range(rows):
            base = top + r * row_h + (row_h + ascent) / 2 - 1
            for c in range(cols):
                if r == 0:
                    font, text = self.bold, cell_word(rng)
                elif c == 0:
                    font, text = self.regular, cell_word(rng)
                else:
                    font, text = self.regular, number_token(rng)
                adv = GLYPHS.word(font, size, text)[3]
                cell_w = edges[c + 1] - edges[c]
                if adv > cell_w - 3:
                    continue
                x = edges[c] + 2 if c == 0 else edges[c] + (cell_w - adv) / 2
                self.ink.stamp(font, size, text, x, base)
        return bx0, by0, bx1, by1
