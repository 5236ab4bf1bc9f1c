"""Typesetting of a synthetic page: its fonts and sizes, justified lines of text, and the text elements.

:class:`Typesetter` holds one page being drawn (the RGB image, its ink layer, the regions drawn so far)
and sets text on it: paragraphs, the running header and footer, the article title block, headings,
lists, display formulas and footnotes. Every choice comes from the page's ``numpy.random.Generator``, in
the order the calls are made.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from .glyphs import GLYPHS, Box, Ink, font_families, union
from .vocabulary import author_words, cell_word, title_words, words

__all__ = ["Typesetter"]

Line = list[tuple[str, float]]  # the words of one line of text with their advances


class Typesetter:
    """One page being drawn, with its typography; ``regions`` collects (kind, box, item boxes)."""

    def __init__(self, rng: np.random.Generator, size: tuple[int, int], schema: str) -> None:
        self.rng = rng
        self.schema = schema
        self.width, self.height = int(size[0]), int(size[1])
        self.scale = min(self.width / 600.0, self.height / 800.0)
        self.img = Image.new("RGB", (self.width, self.height), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.img)
        self.ink = Ink(self.width, self.height)
        self.regions: list[tuple[str, Box, list[Box]]] = []
        self.figure_no = int(rng.integers(1, 6))
        self.table_no = int(rng.integers(1, 4))

        families = font_families()
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
        ascent = GLYPHS.metrics(font, size)[0]
        generated = tokens is None
        tokens = (
            words(self.rng, max(8, int(n_lines * width / (4.5 * size)) + 4)) if generated else list(tokens)
        )
        if generated and end_sentence and last_fill is None:
            last_fill = float(self.rng.uniform(0.15, 0.95))
        lines = self._break_lines(tokens, generated, font, size, width, n_lines, indent, hanging, last_fill)
        if generated and end_sentence and lines:
            word, adv = lines[-1][-1]
            if not word.endswith("."):
                word = word.rstrip(",") + "."
                lines[-1][-1] = (word, GLYPHS.word(font, size, word)[3])
        box = self._set_lines(lines, x0, top + ascent, width, font, size, line_h, indent, hanging, align)
        return box, top + len(lines) * line_h

    def _break_lines(
        self,
        tokens: list[str],
        generated: bool,
        font: str,
        size: int,
        width: float,
        n_lines: int,
        indent: float,
        hanging: float,
        last_fill: float | None,
    ) -> list[Line]:
        """Greedy line breaking of ``tokens``; generated prose is extended when it runs out."""
        space = GLYPHS.metrics(font, size)[2]
        lines: list[Line] = []
        i = 0
        for li in range(n_lines):
            offset = indent if li == 0 else hanging
            avail = width - offset
            if li == n_lines - 1 and last_fill is not None:
                avail = max(avail * last_fill, 1.0)
            line: Line = []
            used = 0.0
            while True:
                if i >= len(tokens):
                    if not generated:
                        break
                    tokens.extend(words(self.rng, 40))
                adv = GLYPHS.word(font, size, tokens[i])[3]
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
        return lines

    def _set_lines(
        self,
        lines: list[Line],
        x0: float,
        baseline: float,
        width: float,
        font: str,
        size: int,
        line_h: float,
        indent: float,
        hanging: float,
        align: str,
    ) -> Box | None:
        """Stamp broken lines from the first ``baseline`` down; returns the ink box of all of them."""
        space = GLYPHS.metrics(font, size)[2]
        boxes: list[Box | None] = []
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
        return union(boxes)

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
        ascent = GLYPHS.metrics(self.italic, self.small)[0]
        head_top = top_margin - ascent
        content_top = top_margin + 6 * s
        if rng.random() < 0.85:
            n = int(rng.integers(3, 8))
            header_words = [w.capitalize() for w in words(rng, n)[:n]]
            header_words[-1] = header_words[-1].rstrip(".,")
            header_words += [
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
                tokens=header_words,
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
                    f"doi:10.{int(rng.integers(1000, 9999))}/{cell_word(rng).lower()}.{int(rng.integers(1, 999))}"
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
        tokens = [w.capitalize() if j % 3 != 1 else w for j, w in enumerate(words(rng, n)[:n])]
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
            tokens=author_words(rng, int(rng.integers(2, 9))),
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

    # --- text elements of the column flow ----------------------------------------------------------

    def heading(self, x0: float, y: float, width: float) -> float:
        n = int(min(self.rng.geometric(0.55), 5))
        tokens = title_words(self.rng, n, self.heading_numbered)
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
        ascent = GLYPHS.metrics(self.regular, self.body)[0]
        for k in range(n_items):
            n_lines = int(min(rng.geometric(0.6), 4))
            if y + n_lines * self.line_h > max_y:
                break
            marker = ["•", f"{k + 1}.", f"({chr(ord('a') + k)})"][style]
            mbox = self.ink.stamp(self.regular, self.body, marker, x0 + indent, y + ascent)
            tbox, y = self.text_block(x0 + indent + hang, y, width - indent - hang, n_lines)
            box = union([mbox, tbox])
            if box is not None:
                items.append(box)
            y += item_gap
        if items:
            self.add("list", union(items), items)
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
        ascent = GLYPHS.metrics(self.regular, self.body)[0]
        label = f"({int(rng.integers(1, 30))})"
        adv = GLYPHS.word(self.regular, self.body, label)[3]
        nbox = self.ink.stamp(self.regular, self.body, label, x0 + width - adv, y + ascent)
        self.add("formula", union([box, nbox]))
        return bottom

    def footnotes(self, x0: float, width: float, bottom: float) -> float:
        """Footnotes at the bottom of a column; returns the new column bottom."""
        n = int(self.rng.integers(1, 4))
        height = n * self.small_h
        top = bottom - height
        self.draw.line([(x0, top - 4), (x0 + width * 0.3, top - 4)], fill=(0, 0, 0))
        box, _ = self.text_block(x0, top, width, n, size=self.small, line_h=self.small_h)
        self.add("footnote", box)
        return top - 4 - self.line_h
