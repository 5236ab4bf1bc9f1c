"""Synthetic document pages that look like PubLayNet's (or DocLayNet's), with exact region boxes.

A page is one or two columns of justified paragraphs in TrueType fonts, section headings, bulleted or
numbered lists, ruled tables with a caption above, figures (plots, bar charts, micrographs, diagrams,
multi-panel) with a caption below, a running header and footer, and on some pages an article title
block. Tables and figures often span both columns. The statistics follow METHOD.md §9: about 10 regions
per page, ~70% of them text, paragraph boxes of ~0.40 x 0.09 of the page.

Under the ``publaynet`` schema captions, footnotes, author lines and abstracts are ``text``, the article
title and section headings are ``title``, a whole list is one ``list`` box, and running headers/footers
are drawn but not annotated. Under ``doclaynet`` they become Caption, Footnote, Text, Title,
Section-header, one List-item per item, Page-header and Page-footer; display formulas are added.

Everything is drawn from one ``numpy.random.Generator`` per page (seeded by ``[seed, page_index]``), so a
seed gives byte-identical JSON and identical pixels::

    json_path = generate_synthetic_dataset("datasets/synth", num_pages=100, seed=0)
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import _render as R

logger = logging.getLogger(__name__)

__all__ = ["SCHEMAS", "TEXT_CLASSES", "GENERATOR_VERSION", "generate_synthetic_dataset", "render_page"]

GENERATOR_VERSION = 1  # bump when the pages a seed produces change

SCHEMAS: dict[str, list[str]] = {
    "publaynet": ["text", "title", "list", "table", "figure"],
    "doclaynet": [
        "Caption",
        "Footnote",
        "Formula",
        "List-item",
        "Page-footer",
        "Page-header",
        "Picture",
        "Section-header",
        "Table",
        "Text",
        "Title",
    ],
}

TEXT_CLASSES: dict[str, list[str]] = {
    "publaynet": ["text", "title", "list"],
    "doclaynet": [
        "Text",
        "Title",
        "Section-header",
        "List-item",
        "Caption",
        "Footnote",
        "Page-header",
        "Page-footer",
    ],
}

# Internal region kinds -> category name per schema (None: drawn, not annotated).
_KIND_TO_CATEGORY: dict[str, dict[str, str | None]] = {
    "publaynet": {
        "text": "text",
        "doc_title": "title",
        "heading": "title",
        "caption": "text",
        "footnote": "text",
        "list": "list",
        "table": "table",
        "figure": "figure",
        "formula": None,
        "page_header": None,
        "page_footer": None,
    },
    "doclaynet": {
        "text": "Text",
        "doc_title": "Title",
        "heading": "Section-header",
        "caption": "Caption",
        "footnote": "Footnote",
        "list": "List-item",  # one box per item
        "table": "Table",
        "figure": "Picture",
        "formula": "Formula",
        "page_header": "Page-header",
        "page_footer": "Page-footer",
    },
}

Box = R.Box


class _Page:
    """Lays out and draws one page; ``regions`` collects (kind, box, item boxes)."""

    def __init__(self, rng: np.random.Generator, size: tuple[int, int], schema: str) -> None:
        self.rng = rng
        self.schema = schema
        self.width, self.height = int(size[0]), int(size[1])
        self.scale = min(self.width / 600.0, self.height / 800.0)
        self.img = Image.new("RGB", (self.width, self.height), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.img)
        self.ink = R.Ink(self.width, self.height)
        self.regions: list[tuple[str, Box, list[Box]]] = []
        self.figure_no = int(rng.integers(1, 6))
        self.table_no = int(rng.integers(1, 4))

        families = R.font_families()
        names = sorted(families)
        body_family = families[names[int(rng.integers(0, len(names)))]]
        head_family = (
            families["dejavu_sans"] if "dejavu_sans" in families and rng.random() < 0.4 else body_family
        )
        self.regular, self.italic = body_family["regular"], body_family["italic"]
        self.bold = head_family["bold"]
        self.sans = families.get("dejavu_sans", body_family)["regular"]
        s = self.scale
        self.body = max(4, round(rng.uniform(8.0, 10.5) * s))
        self.small = max(4, round(self.body * rng.uniform(0.78, 0.9)))
        self.line_h = self.body * rng.uniform(1.12, 1.3)
        self.small_h = self.small * rng.uniform(1.12, 1.25)
        self.head_size = max(4, round(self.body * rng.uniform(1.0, 1.3)))
        self.para_gap = self.line_h * rng.uniform(0.15, 0.8)
        self.indent = self.body * rng.uniform(1.0, 2.0) if rng.random() < 0.7 else 0.0
        self.heading_numbered = rng.random() < 0.5
        self.justify = rng.random() < 0.85

    # --- text ---------------------------------------------------------------------------------------

    def text_block(
        self,
        x0: float,
        top: float,
        width: float,
        n_lines: int,
        *,
        font: str | None = None,
        size: int | None = None,
        line_h: float | None = None,
        tokens: list[str] | None = None,
        indent: float = 0.0,
        hanging: float = 0.0,
        align: str = "justify",
        last_fill: float | None = None,
        end_sentence: bool = True,
    ) -> tuple[Box | None, float]:
        """Draw up to ``n_lines`` lines of ``tokens`` (or generated prose); returns (ink box, bottom y)."""
        font = font or self.regular
        size = size or self.body
        line_h = line_h or self.line_h
        ascent, _, space = R.GLYPHS.metrics(font, size)
        generated = tokens is None
        tokens = (
            R.words(self.rng, max(8, int(n_lines * width / (4.5 * size)) + 4)) if generated else list(tokens)
        )
        if generated and end_sentence and last_fill is None:
            last_fill = float(self.rng.uniform(0.15, 0.95))
        lines: list[list[tuple[str, float]]] = []
        i = 0
        for li in range(n_lines):
            offset = indent if li == 0 else hanging
            avail = width - offset
            if li == n_lines - 1 and last_fill is not None:
                avail = max(avail * last_fill, 1.0)
            line: list[tuple[str, float]] = []
            used = 0.0
            while True:
                if i >= len(tokens):
                    if not generated:
                        break
                    tokens.extend(R.words(self.rng, 40))
                adv = R.GLYPHS.word(font, size, tokens[i])[3]
                need = adv if not line else used + space + adv
                if need > avail and line:
                    break
                line.append((tokens[i], adv))
                used = need
                i += 1
                if need > avail:  # a single word wider than the line
                    break
            if not line:
                break
            lines.append(line)
            if i >= len(tokens) and not generated:
                break
        if generated and end_sentence and lines:
            word, adv = lines[-1][-1]
            if not word.endswith("."):
                word = word.rstrip(",") + "."
                lines[-1][-1] = (word, R.GLYPHS.word(font, size, word)[3])
        boxes: list[Box | None] = []
        baseline = top + ascent
        for li, line in enumerate(lines):
            offset = indent if li == 0 else hanging
            avail = width - offset
            widths = sum(a for _, a in line)
            natural = widths + space * (len(line) - 1)
            gap = space
            x = x0 + offset
            if align == "justify" and li < len(lines) - 1 and len(line) > 1:
                gap = min((avail - widths) / (len(line) - 1), 4 * space) if self.justify else space
            elif align == "center":
                x = x0 + offset + (avail - natural) / 2
            elif align == "right":
                x = x0 + offset + avail - natural
            for word, adv in line:
                boxes.append(self.ink.stamp(font, size, word, x, baseline))
                x += adv + gap
            baseline += line_h
        return R.union(boxes), top + len(lines) * line_h

    def add(self, kind: str, box: Box | None, items: list[Box] | None = None) -> None:
        if box is not None and box[2] > box[0] and box[3] > box[1]:
            self.regions.append((kind, box, items or []))

    def paragraph_lines(self) -> int:
        """Lines of a body paragraph: log-normal, median 11, at most half a page tall."""
        longest = max(1, int(0.5 * self.height / self.line_h))
        return int(np.clip(round(self.rng.lognormal(math.log(11.0), 0.8)), 1, longest))

    # --- page furniture ------------------------------------------------------------------------------

    def header_footer(self, x0: float, x1: float) -> tuple[float, float]:
        """Running header and footer; returns the y range left for content."""
        rng, s = self.rng, self.scale
        top_margin = self.height * rng.uniform(0.045, 0.075)
        bottom_margin = self.height * rng.uniform(0.045, 0.075)
        ascent = R.GLYPHS.metrics(self.italic, self.small)[0]
        head_top = top_margin - ascent
        content_top = top_margin + 6 * s
        if rng.random() < 0.85:
            n = int(rng.integers(3, 8))
            words = [w.capitalize() for w in R.words(rng, n)[:n]]
            words[-1] = words[-1].rstrip(".,")
            words += [
                f"{2005 + int(rng.integers(0, 19))};",
                f"{int(rng.integers(1, 40))}:{int(rng.integers(1, 9000))}",
            ]
            align = ["left", "center", "right"][int(rng.integers(0, 3))]
            box, bottom = self.text_block(
                x0,
                head_top,
                (x1 - x0) * 0.75,
                1,
                font=self.italic,
                size=self.small,
                tokens=words,
                align=align,
            )
            self.add("page_header", box)
            if rng.random() < 0.5:
                page_no = str(int(rng.integers(1, 3000)))
                pbox, _ = self.text_block(
                    x0,
                    head_top,
                    x1 - x0,
                    1,
                    font=self.regular,
                    size=self.small,
                    tokens=[page_no],
                    align="right",
                )
                if box is None or pbox is None or pbox[0] > box[2] + 4:
                    self.add("page_header", pbox)
            if rng.random() < 0.4:
                y = int(bottom + 3 * s)
                self.draw.line([(x0, y), (x1, y)], fill=(0, 0, 0), width=1)
                bottom = y
            content_top = bottom + self.line_h * rng.uniform(0.8, 2.0)
        foot_base = self.height - bottom_margin
        content_bottom = foot_base - self.line_h * rng.uniform(1.5, 3.0)
        if rng.random() < 0.8:
            kind = rng.random()
            if kind < 0.5:
                tokens = [str(int(rng.integers(1, 3000)))]
            elif kind < 0.75:
                tokens = ["Page", str(int(rng.integers(1, 20))), "of", str(int(rng.integers(20, 40)))]
            else:
                tokens = [
                    f"doi:10.{int(rng.integers(1000, 9999))}/{R.cell_word(rng).lower()}.{int(rng.integers(1, 999))}"
                ]
            align = ["left", "center", "right"][int(rng.integers(0, 3))]
            box, _ = self.text_block(
                x0,
                foot_base - ascent,
                x1 - x0,
                1,
                font=self.regular,
                size=self.small,
                tokens=tokens,
                align=align,
            )
            self.add("page_footer", box)
        return content_top, content_bottom

    def title_block(self, x0: float, x1: float, top: float) -> float:
        """Article title, authors, affiliations and abstract of a first page; returns the bottom y."""
        rng = self.rng
        width = x1 - x0
        size = max(5, round(self.body * rng.uniform(1.5, 2.2)))
        align = "center" if rng.random() < 0.4 else "left"
        n = int(rng.integers(4, 16))
        tokens = [w.capitalize() if j % 3 != 1 else w for j, w in enumerate(R.words(rng, n)[:n])]
        tokens[-1] = tokens[-1].rstrip(".,")
        title_w = width * rng.uniform(0.75, 1.0)
        tx0 = x0 if align == "left" else x0 + (width - title_w) / 2
        box, y = self.text_block(
            tx0, top, title_w, 3, font=self.bold, size=size, line_h=size * 1.2, tokens=tokens, align=align
        )
        self.add("doc_title", box)
        y += self.line_h * rng.uniform(0.5, 1.2)
        box, y = self.text_block(
            x0,
            y,
            width,
            2,
            tokens=R.author_words(rng, int(rng.integers(2, 9))),
            align=align,
            end_sentence=False,
        )
        self.add("text", box)
        if rng.random() < 0.7:
            y += self.para_gap + 2
            box, y = self.text_block(
                x0,
                y,
                width,
                int(rng.integers(1, 4)),
                font=self.italic,
                size=self.small,
                line_h=self.small_h,
                align="left",
            )
            self.add("text", box)
        if rng.random() < 0.75:
            y += self.line_h * rng.uniform(0.6, 1.2)
            if rng.random() < 0.6:
                box, y = self.text_block(
                    x0, y, width, 1, font=self.bold, size=self.head_size, tokens=["Abstract"]
                )
                self.add("heading", box)
                y += self.line_h * 0.3
            box, y = self.text_block(x0, y, width, int(rng.integers(4, 13)))
            self.add("text", box)
        if rng.random() < 0.5:
            y += self.line_h * 0.6
            self.draw.line([(x0, y), (x1, y)], fill=(0, 0, 0), width=1)
        return y + self.line_h * rng.uniform(0.8, 1.6)

    # --- floats ---------------------------------------------------------------------------------------

    def caption_tokens(self, label: str, number: int) -> list[str]:
        return [label, f"{number}."] + R.words(self.rng, int(self.rng.integers(6, 45)))

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
            R.paint_plot(self.img, self.ink, box, rng, font, size)
        elif kind < 0.6:
            R.paint_photo(self.img, box, rng)
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
                        R.paint_plot(self.img, self.ink, sub, rng, font, size)
                    elif rng.random() < 0.7:
                        R.paint_photo(self.img, sub, rng)
                    else:
                        R.paint_heatmap(self.img, sub, rng)
                    letter = chr(ord("A") + r * cols + c)
                    self.ink.stamp(self.bold, size, letter, px0 + 1, py0 + size)
        elif kind < 0.95:
            R.paint_diagram(self.img, self.ink, box, rng, font, size)
        else:
            R.paint_heatmap(self.img, box, rng)

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
        ascent = R.GLYPHS.metrics(self.regular, size)[0]
        for r in range(rows):
            base = top + r * row_h + (row_h + ascent) / 2 - 1
            for c in range(cols):
                if r == 0:
                    font, text = self.bold, R.cell_word(rng)
                elif c == 0:
                    font, text = self.regular, R.cell_word(rng)
                else:
                    font, text = self.regular, R.number_token(rng)
                adv = R.GLYPHS.word(font, size, text)[3]
                cell_w = edges[c + 1] - edges[c]
                if adv > cell_w - 3:
                    continue
                x = edges[c] + 2 if c == 0 else edges[c] + (cell_w - adv) / 2
                self.ink.stamp(font, size, text, x, base)
        return bx0, by0, bx1, by1

    # --- column flow ----------------------------------------------------------------------------------

    def heading(self, x0: float, y: float, width: float) -> float:
        n = int(min(self.rng.geometric(0.55), 5))
        tokens = R.title_words(self.rng, n, self.heading_numbered)
        box, y = self.text_block(
            x0, y, width, 1, font=self.bold, size=self.head_size, tokens=tokens, align="left"
        )
        self.add("heading", box)
        return y

    def list_block(self, x0: float, y: float, width: float, max_y: float) -> float:
        rng = self.rng
        n_items = int(rng.integers(2, 6))
        style = int(rng.integers(0, 3))
        indent = self.body * rng.uniform(0.0, 1.5)
        hang = self.body * rng.uniform(1.2, 2.2)
        item_gap = self.line_h * rng.uniform(0.0, 0.4)
        items: list[Box] = []
        ascent = R.GLYPHS.metrics(self.regular, self.body)[0]
        for k in range(n_items):
            n_lines = int(min(rng.geometric(0.6), 4))
            if y + n_lines * self.line_h > max_y:
                break
            marker = ["•", f"{k + 1}.", f"({chr(ord('a') + k)})"][style]
            mbox = self.ink.stamp(self.regular, self.body, marker, x0 + indent, y + ascent)
            tbox, y = self.text_block(x0 + indent + hang, y, width - indent - hang, n_lines)
            box = R.union([mbox, tbox])
            if box is not None:
                items.append(box)
            y += item_gap
        if items:
            self.add("list", R.union(items), items)
        return y

    def formula(self, x0: float, y: float, width: float) -> float:
        rng = self.rng
        symbols = [
            "x",
            "y",
            "z",
            "α",
            "β",
            "λ",
            "σ",
            "μ",
            "f(x)",
            "Σ",
            "∫",
            "dx",
            "+",
            "−",
            "=",
            "·",
            "²",
            "/",
        ]
        n = int(rng.integers(5, 14))
        tokens = [symbols[int(i)] for i in rng.integers(0, len(symbols), size=n)]
        tokens.insert(min(2, n), "=")
        size = self.body + 1
        box, bottom = self.text_block(
            x0 + width * 0.1, y, width * 0.75, 1, font=self.italic, size=size, tokens=tokens, align="center"
        )
        ascent = R.GLYPHS.metrics(self.regular, self.body)[0]
        label = f"({int(rng.integers(1, 30))})"
        adv = R.GLYPHS.word(self.regular, self.body, label)[3]
        nbox = self.ink.stamp(self.regular, self.body, label, x0 + width - adv, y + ascent)
        self.add("formula", R.union([box, nbox]))
        return bottom

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

    def footnotes(self, x0: float, width: float, bottom: float) -> float:
        """Footnotes at the bottom of a column; returns the new column bottom."""
        n = int(self.rng.integers(1, 4))
        height = n * self.small_h
        top = bottom - height
        self.draw.line([(x0, top - 4), (x0 + width * 0.3, top - 4)], fill=(0, 0, 0))
        box, _ = self.text_block(x0, top, width, n, size=self.small, line_h=self.small_h)
        self.add("footnote", box)
        return top - 4 - self.line_h

    # --- page -----------------------------------------------------------------------------------------

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


def _rotate_boxes(boxes: np.ndarray, angle_deg: float, width: int, height: int) -> np.ndarray:
    """Axis-aligned hulls of XYXY ``boxes`` after PIL's counter-clockwise ``Image.rotate`` about the centre."""
    theta = math.radians(angle_deg)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = width / 2.0, height / 2.0
    xs = boxes[:, [0, 2, 2, 0]] - cx  # (N, 4) corners
    ys = boxes[:, [1, 1, 3, 3]] - cy
    rx = cx + xs * cos + ys * sin
    ry = cy - xs * sin + ys * cos
    out = np.stack([rx.min(1), ry.min(1), rx.max(1), ry.max(1)], axis=1)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def _apply_noise(
    img: Image.Image, boxes: np.ndarray, rng: np.random.Generator, scale: float
) -> tuple[Image.Image, np.ndarray]:
    """Scanner-like degradations: slight rotation (boxes follow), blur, JPEG artefacts, paper tint."""
    draws = rng.random(4)
    angle = float(rng.uniform(-1.0, 1.0))
    centre = float(rng.uniform(2.0, 12.0))  # weight of the centre pixel: smaller blurs more
    quality = int(rng.integers(35, 90))
    tint = rng.uniform(0.92, 1.0, size=3)
    if draws[0] < 0.3:
        img = img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255))
        boxes = _rotate_boxes(boxes, angle, img.width, img.height)
    if draws[1] < 0.3:
        img = img.filter(ImageFilter.Kernel((3, 3), [0.5, 1, 0.5, 1, centre, 1, 0.5, 1, 0.5]))
    if draws[2] < 0.2:
        arr = np.asarray(img, dtype=np.float32) * tint.astype(np.float32)
        img = Image.fromarray(arr.astype(np.uint8), "RGB")
    if draws[3] < 0.4:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img, boxes


def _categorise(regions: list[tuple[str, Box, list[Box]]], schema: str) -> tuple[list[str], list[Box]]:
    """Category names and boxes of a page's regions under ``schema`` (unannotated kinds left out)."""
    mapping = _KIND_TO_CATEGORY[schema]
    categories: list[str] = []
    boxes: list[Box] = []
    for kind, box, items in regions:
        name = mapping[kind]
        if name is None:
            continue
        for b in items if (kind == "list" and schema == "doclaynet") else [box]:
            categories.append(name)
            boxes.append(b)
    return categories, boxes


def render_page(
    rng: np.random.Generator,
    size: tuple[int, int] = (600, 800),
    schema: str = "publaynet",
    noise: bool = False,
) -> tuple[Image.Image, list[dict]]:
    """Draw one page; returns the RGB image and its regions as ``{"bbox": [x, y, w, h], "category": name}``."""
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; expected one of {sorted(SCHEMAS)}")
    page = _Page(rng, size, schema)
    page.render()
    img = page.finish()
    categories, boxes = _categorise(page.regions, schema)
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if noise:
        img, arr = _apply_noise(img, arr, rng, page.scale)
    arr[:, [0, 2]] = arr[:, [0, 2]].clip(0, img.width)
    arr[:, [1, 3]] = arr[:, [1, 3]].clip(0, img.height)
    annotations = []
    for name, (bx0, by0, bx1, by1) in zip(categories, arr.tolist()):
        w, h = round(bx1 - bx0, 2), round(by1 - by0, 2)
        if w > 0 and h > 0:
            annotations.append({"bbox": [round(bx0, 2), round(by0, 2), w, h], "category": name})
    return img, annotations


def _render_and_save(
    i: int, image_dir: Path, seed: int, size: tuple[int, int], schema: str, noise: bool
) -> tuple[str, list[dict]]:
    """Page ``i`` of a set: rendered from its own RNG, saved as PNG; returns its file name and regions."""
    img, regions = render_page(np.random.default_rng([seed, i]), size, schema, noise=noise)
    file_name = f"{i:06d}.png"
    img.save(image_dir / file_name, format="PNG", compress_level=1)
    return file_name, regions


def generate_synthetic_dataset(
    out_dir: str | Path,
    num_pages: int,
    seed: int = 0,
    size: tuple[int, int] = (600, 800),  # (width, height)
    schema: str = "publaynet",
    noise: bool = True,
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Render pages + write out_dir/annotations.json (COCO) and out_dir/images/*.png; returns the json path.

    Deterministic for a seed: page ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so the
    output does not depend on ``workers`` (processes rendering pages; default: the CPU count, at most 8;
    1 renders in this process).
    """
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; expected one of {sorted(SCHEMAS)}")
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    class_names = SCHEMAS[schema]
    category_ids = {name: i + 1 for i, name in enumerate(class_names)}
    width, height = int(size[0]), int(size[1])
    workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    render = functools.partial(
        _render_and_save,
        image_dir=image_dir,
        seed=int(seed),
        size=(width, height),
        schema=schema,
        noise=noise,
    )
    with contextlib.ExitStack() as stack:
        if workers > 1 and num_pages > 1:
            # fork: the children only render (numpy, PIL) and need nothing re-imported
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            pool = stack.enter_context(ProcessPoolExecutor(min(workers, num_pages), mp_context=context))
            pages = pool.map(render, range(num_pages), chunksize=max(1, min(16, num_pages // (4 * workers))))
        else:
            pages = map(render, range(num_pages))
        if progress:
            try:
                from tqdm import tqdm

                pages = tqdm(pages, total=num_pages, desc=f"synthetic pages -> {out_dir}", unit="page")
            except ImportError:  # tqdm is optional here
                logger.info("generating %d synthetic pages into %s", num_pages, out_dir)
        images, annotations = [], []
        for i, (file_name, regions) in enumerate(pages):
            image_id = i + 1
            images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
            for region in regions:
                x, y, w, h = region["bbox"]
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": category_ids[region["category"]],
                        "bbox": [x, y, w, h],
                        "area": round(w * h, 2),
                        "iscrowd": 0,
                        "segmentation": [
                            [x, y, round(x + w, 2), y, round(x + w, 2), round(y + h, 2), x, round(y + h, 2)]
                        ],
                    }
                )
    coco = {
        "info": {
            "description": "GraphKD synthetic document pages",
            "generator_version": GENERATOR_VERSION,
            "schema": schema,
            "num_pages": num_pages,
            "seed": int(seed),
            "size": [width, height],
            "noise": bool(noise),
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": category_ids[n], "name": n, "supercategory": "layout"} for n in class_names],
    }
    json_path = out_dir / "annotations.json"
    tmp = out_dir / f".annotations.json.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(coco, f, separators=(",", ":"))
    os.replace(tmp, json_path)
    return json_path
