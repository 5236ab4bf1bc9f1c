"""Fonts, cached glyph and word masks, and the ink layer that text is stamped into.

Text is rendered into a separate uint8 *ink* layer (0 = paper, 255 = full ink) by stamping word masks
with ``numpy.maximum``; the layer darkens the RGB page once at the end. Word masks are composed from
cached glyph masks and cached themselves, which is what makes a page take tens of milliseconds instead
of the ~100-300 ms of one FreeType call per word.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["GLYPHS", "Box", "GlyphCache", "Ink", "font_families", "union"]

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels

# Font files by (family, style). matplotlib ships all of them in mpl-data/fonts/ttf; Debian-like systems
# have the DejaVu ones in /usr/share/fonts/truetype/dejavu.
_FONT_FILES: dict[str, dict[str, str]] = {
    "stix": {
        "regular": "STIXGeneral.ttf",
        "bold": "STIXGeneralBol.ttf",
        "italic": "STIXGeneralItalic.ttf",
    },
    "dejavu_serif": {
        "regular": "DejaVuSerif.ttf",
        "bold": "DejaVuSerif-Bold.ttf",
        "italic": "DejaVuSerif-Italic.ttf",
    },
    "dejavu_sans": {
        "regular": "DejaVuSans.ttf",
        "bold": "DejaVuSans-Bold.ttf",
        "italic": "DejaVuSans-Oblique.ttf",
    },
}


def _font_dirs() -> list[Path]:
    """Directories searched for TrueType fonts, matplotlib's first (found without importing it)."""
    dirs = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin is not None:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    dirs.append(Path("/usr/share/fonts/truetype/dejavu"))
    return dirs


_FONT_PATHS: dict[str, dict[str, str]] | None = None


def font_families() -> dict[str, dict[str, str]]:
    """Available families as ``{family: {style: path}}``; a family is kept only when all styles exist."""
    global _FONT_PATHS
    if _FONT_PATHS is None:
        found: dict[str, dict[str, str]] = {}
        for family, styles in _FONT_FILES.items():
            for directory in _font_dirs():
                paths = {style: directory / name for style, name in styles.items()}
                if all(p.is_file() for p in paths.values()):
                    found[family] = {style: str(p) for style, p in paths.items()}
                    break
        if not found:
            raise RuntimeError(
                "No TrueType fonts found for the synthetic page generator: install matplotlib (it ships "
                f"DejaVu and STIX fonts) or fonts-dejavu; searched {[str(d) for d in _font_dirs()]}"
            )
        _FONT_PATHS = found
    return _FONT_PATHS


class GlyphCache:
    """Fonts and word masks, cached across pages (a process-wide instance is shared)."""

    max_words = 300_000

    def __init__(self) -> None:
        self._fonts: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}
        self._words: dict[tuple[str, int, str], tuple[np.ndarray, int, int, float]] = {}
        self._glyphs: dict[tuple[str, int, str], tuple[np.ndarray | None, int, int, float]] = {}
        self._metrics: dict[tuple[str, int], tuple[int, int, float]] = {}

    def font(self, path: str, size: int) -> ImageFont.FreeTypeFont:
        key = (path, size)
        font = self._fonts.get(key)
        if font is None:
            font = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
            self._fonts[key] = font
        return font

    def metrics(self, path: str, size: int) -> tuple[int, int, float]:
        """(ascent, descent, space advance) of a font."""
        key = (path, size)
        m = self._metrics.get(key)
        if m is None:
            font = self.font(path, size)
            ascent, descent = font.getmetrics()
            m = (ascent, descent, font.getlength(" "))
            self._metrics[key] = m
        return m

    def glyph(self, path: str, size: int, char: str) -> tuple[np.ndarray | None, int, int, float]:
        """(mask or None for blank glyphs, dx, dy from the baseline origin, advance) of one character."""
        key = (path, size, char)
        entry = self._glyphs.get(key)
        if entry is None:
            font = self.font(path, size)
            x0, y0, x1, y1 = font.getbbox(char, anchor="ls")
            mask = None
            if x1 > x0 and y1 > y0:
                canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
                ImageDraw.Draw(canvas).text((-x0, -y0), char, font=font, fill=255, anchor="ls")
                mask = np.asarray(canvas)
            entry = (mask, x0, y0, font.getlength(char))
            self._glyphs[key] = entry
        return entry

    def word(self, path: str, size: int, text: str) -> tuple[np.ndarray, int, int, float]:
        """(mask (h, w) uint8, dx, dy from the left baseline origin, advance) of a word.

        Words are composed from cached glyphs at rounded pen positions (no kerning): rendering each new
        word with FreeType costs ~1 ms, composing it ~20 us.
        """
        key = (path, size, text)
        entry = self._words.get(key)
        if entry is None:
            if len(self._words) >= self.max_words:
                self._words.clear()
            pen = 0.0
            parts = []
            for char in text:
                mask, dx, dy, adv = self.glyph(path, size, char)
                if mask is not None:
                    parts.append((mask, int(round(pen)) + dx, dy))
                pen += adv
            if not parts:
                entry = (np.zeros((1, 1), dtype=np.uint8), 0, 0, pen)
            else:
                x0 = min(px for _, px, _ in parts)
                y0 = min(py for _, _, py in parts)
                x1 = max(px + m.shape[1] for m, px, _ in parts)
                y1 = max(py + m.shape[0] for m, _, py in parts)
                canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
                for mask, px, py in parts:
                    h, w = mask.shape
                    target = canvas[py - y0 : py - y0 + h, px - x0 : px - x0 + w]
                    np.maximum(target, mask, out=target)
                entry = (canvas, x0, y0, pen)
            self._words[key] = entry
        return entry


GLYPHS = GlyphCache()


class Ink:
    """The text layer of one page: stamps words and tracks the extents of what was stamped."""

    def __init__(self, width: int, height: int) -> None:
        self.layer = np.zeros((height, width), dtype=np.uint8)
        self.width, self.height = width, height

    def stamp(self, path: str, size: int, text: str, x: float, baseline: float) -> Box | None:
        """Stamp ``text`` with its left baseline origin at (x, baseline); returns its ink box."""
        mask, dx, dy, _ = GLYPHS.word(path, size, text)
        x0 = int(round(x)) + dx
        y0 = int(round(baseline)) + dy
        h, w = mask.shape
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + w, self.width), min(y0 + h, self.height)
        if cx1 <= cx0 or cy1 <= cy0:
            return None
        target = self.layer[cy0:cy1, cx0:cx1]
        np.maximum(target, mask[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0], out=target)
        return cx0, cy0, cx1, cy1


def union(boxes: list[Box | None]) -> Box | None:
    """Smallest box containing all given boxes (None entries ignored)."""
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    return (
        min(b[0] for b in real),
        min(b[1] for b in real),
        max(b[2] for b in real),
        max(b[3] for b in real),
    )
