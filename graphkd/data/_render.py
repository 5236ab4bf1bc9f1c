"""Drawing primitives for the synthetic page generator: fonts, cached word stamps, vocabulary, graphics.

Text is rendered into a separate uint8 *ink* layer (0 = paper, 255 = full ink) by stamping word masks
with ``numpy.maximum``; the layer darkens the RGB page once at the end. Word masks are composed from
cached glyph masks and cached themselves, which is what makes a page take tens of milliseconds instead
of the ~100-300 ms of one FreeType call per word.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

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


# --- vocabulary -------------------------------------------------------------------------------------

_FUNCTION_WORDS = (
    "the of and in to a is was for with that by were as on from this be are at these which or an not we "
    "our between after than both all using also it their its has been have may can more most into when "
    "there such other each only under during"
).split()

_CONTENT_WORDS = (
    "analysis results protein expression cells patients study data model method significant increased "
    "decreased treatment clinical group groups levels response effect effects observed compared control "
    "samples sample gene genes cell tissue growth function activity time rate associated mean values "
    "value measured measurement experiments experimental performed shown figure table previous studies "
    "reported higher lower total number population risk factors factor disease diagnosis therapy dose "
    "concentration binding receptor signaling pathway mechanism regulation structure sequence region "
    "regions analysis variables variable correlation regression distribution estimated estimate error "
    "parameters parameter conditions condition temperature surface energy material materials particles "
    "network networks training performance accuracy image images detection feature features layer "
    "approach proposed framework algorithm system systems evaluation dataset datasets baseline standard "
    "deviation confidence interval statistical statistically differences difference observed strain "
    "mice animals human primary secondary outcome outcomes follow-up baseline cohort randomized trial "
    "participants age years months weeks days hours minutes methods approach calculated obtained used "
    "including identified determined described following independent specific positive negative "
    "relative absolute maximum minimum average high low large small early late different similar "
    "novel recent important potential possible associated related consistent further several various "
    "molecular cellular genetic environmental chemical physical biological mechanical thermal optical "
    "acid membrane domain complex enzyme inhibitor antibody infection immune inflammatory tumor cancer "
    "blood serum plasma brain liver kidney heart muscle bone skin water soil plant species strains "
    "frequency signal noise power voltage current density pressure flow velocity phase wave field "
    "indicated suggest suggests demonstrated revealed showed confirmed increased reduced enhanced "
    "induced mediated dependent independent selected collected analyzed evaluated assessed compared "
    "respectively however therefore moreover furthermore although whereas thus overall addition "
    "contrast particular general previously significantly approximately"
).split()

_TITLE_WORDS = (
    "Introduction Methods Results Discussion Conclusions Background Materials Analysis Statistical "
    "Study Design Patients Participants Data Collection Experimental Setup Procedures Model Evaluation "
    "Limitations Ethics Acknowledgments Funding Supplementary Characterization Synthesis Measurements "
    "Cell Culture Animals Imaging Sequencing Outcomes Procedure Population Sample Preparation Effect "
    "Expression Treatment Performance Comparison Overview Related Work Approach Training Validation"
).split()

_NAMES = (
    "Smith Wang Zhang Li Chen Liu Kim Lee Garcia Martin Müller Rossi Tanaka Silva Johnson Brown Lopez "
    "Nguyen Kumar Singh Ahmed Cohen Novak Petrov Andersen Dubois Costa Yamamoto Schmidt Fischer"
).split()

_VOCAB = _FUNCTION_WORDS + _CONTENT_WORDS
_VOCAB_P = np.array([6.0] * len(_FUNCTION_WORDS) + [1.0] * len(_CONTENT_WORDS))
_VOCAB_P /= _VOCAB_P.sum()
_VOCAB_CDF = np.cumsum(_VOCAB_P)


def words(rng: np.random.Generator, n: int) -> list[str]:
    """About ``n`` words of running scientific-looking prose, sentences capitalised and punctuated."""
    idx = np.searchsorted(_VOCAB_CDF, rng.random(n), side="right").clip(max=len(_VOCAB) - 1)
    sentence_len = rng.integers(8, 26, size=n // 8 + 2)
    extras = rng.random(n)
    out: list[str] = []
    start, s = 0, 0
    for i, k in enumerate(idx.tolist()):
        w = _VOCAB[k]
        if i == start:
            w = w.capitalize()
        r = extras[i]
        if i - start + 1 >= sentence_len[s]:
            w = w + "."
            start, s = i + 1, s + 1
        elif r < 0.06:
            w = w + ","
        elif r < 0.08:
            out.append(w)
            w = f"[{int(r * 10000) % 60 + 1}]"
        elif r < 0.095:
            w = f"{int(r * 100000) % 900 / 10:.1f}"
        elif r < 0.1:
            out.append(w)
            w = f"({_NAMES[int(r * 100000) % len(_NAMES)]} et al.,"
            out.append(w)
            w = f"{2000 + int(r * 1000000) % 24})"
        out.append(w)
    if out and not out[-1].endswith("."):
        out[-1] = out[-1].rstrip(",") + "."
    return out


def title_words(rng: np.random.Generator, n: int, numbered: bool) -> list[str]:
    """A short heading like ``2.1 Statistical Analysis``."""
    ws = [_TITLE_WORDS[i] for i in rng.integers(0, len(_TITLE_WORDS), size=n)]
    if rng.random() < 0.3 and n > 2:
        ws[1] = rng.choice(["of", "and", "for", "in"])
    if numbered:
        ws.insert(
            0,
            f"{rng.integers(1, 8)}." if rng.random() < 0.6 else f"{rng.integers(1, 8)}.{rng.integers(1, 6)}",
        )
    return ws


def author_words(rng: np.random.Generator, n: int) -> list[str]:
    """Author line tokens: ``A. Smith1, B. Wang2, ...``."""
    out = []
    for i in range(n):
        initial = chr(ord("A") + int(rng.integers(0, 26)))
        sep = "," if i < n - 1 else ""
        out += [f"{initial}.", f"{_NAMES[int(rng.integers(0, len(_NAMES)))]}{int(rng.integers(1, 5))}{sep}"]
    return out


def number_token(rng: np.random.Generator) -> str:
    """A table-cell number from a finite pool (keeps the word cache small)."""
    kind = rng.random()
    if kind < 0.45:
        return f"{rng.integers(0, 100)}.{rng.integers(0, 10)}"
    if kind < 0.7:
        return str(int(rng.integers(0, 1000)))
    if kind < 0.85:
        return f"0.{rng.integers(0, 100):02d}"
    if kind < 0.93:
        return f"{rng.integers(0, 100)}%"
    return "–"


def cell_word(rng: np.random.Generator) -> str:
    return _CONTENT_WORDS[int(rng.integers(0, len(_CONTENT_WORDS)))].capitalize()


# --- graphics --------------------------------------------------------------------------------------

PALETTE = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (23, 190, 207),
        (0, 0, 0),
    ],
    dtype=np.int64,
)


def colormap(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map values in [0, 1] to RGB through a random 3-stop gradient; (..., 3) uint8."""
    stops = rng.integers(0, 256, size=(3, 3)).astype(np.float32)
    v = np.clip(values, 0, 1)[..., None].astype(np.float32)
    lo = stops[0] + (stops[1] - stops[0]) * np.clip(v * 2, 0, 1)
    hi = stops[1] + (stops[2] - stops[1]) * np.clip(v * 2 - 1, 0, 1)
    return np.where(v < 0.5, lo, hi).astype(np.uint8)


def smooth_noise(rng: np.random.Generator, width: int, height: int, channels: int, scale: int) -> np.ndarray:
    """Low-frequency noise in [0, 1], (height, width, channels) float32, by upsampling a small grid."""
    gw, gh = max(width // scale, 2), max(height // scale, 2)
    small = (rng.random((gh, gw, channels)) * 255).astype(np.uint8)
    mode = "RGB" if channels == 3 else "L"
    arr = small if channels == 3 else small[..., 0]
    big = Image.fromarray(arr, mode).resize((width, height), Image.Resampling.BICUBIC)
    out = np.asarray(big, dtype=np.float32) / 255.0
    return out if channels == 3 else out[..., None]


def paint_photo(img: Image.Image, box: Box, rng: np.random.Generator) -> None:
    """A photo-like texture (scenery, micrograph or gel) filling ``box``."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 2 or h < 2:
        return
    style = rng.random()
    if style < 0.4:  # colour photograph: coarse blobs plus fine grain
        base = smooth_noise(rng, w, h, 3, int(rng.integers(6, 20)))
        detail = smooth_noise(rng, w, h, 1, 2)
        arr = 0.75 * base + 0.25 * detail
        arr = arr * rng.uniform(0.7, 1.2, size=3)
    elif style < 0.7:  # fluorescence micrograph: dark background, bright coloured cells
        blobs = smooth_noise(rng, w, h, 1, int(rng.integers(3, 8)))
        blobs = np.clip((blobs - 0.55) * 4, 0, 1)
        colour = np.array(rng.choice([(0.2, 1.0, 0.3), (1.0, 0.2, 0.3), (0.3, 0.5, 1.0)]), dtype=np.float32)
        arr = blobs * colour
    else:  # grey-scale scan (gel, x-ray, histology)
        g = smooth_noise(rng, w, h, 1, int(rng.integers(3, 12)))
        grain = smooth_noise(rng, w, h, 1, 1)
        arr = np.repeat(0.8 * g + 0.2 * grain, 3, axis=2)
        if rng.random() < 0.5:
            arr = 1.0 - arr
    img.paste(Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8), "RGB"), (x0, y0))


def paint_heatmap(img: Image.Image, box: Box, rng: np.random.Generator) -> None:
    """A heat map (matrix of coloured cells)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 2 or h < 2:
        return
    rows, cols = int(rng.integers(4, 30)), int(rng.integers(4, 30))
    values = rng.random((rows, cols)) * 0.5 + np.linspace(0, 0.5, cols)[None]
    cells = Image.fromarray(colormap(values, rng), "RGB").resize((w, h), Image.Resampling.NEAREST)
    img.paste(cells, (x0, y0))


class Axes:
    """A minimal plot: frame, ticks and tick labels; maps data coordinates in [0, 1] to pixels."""

    def __init__(self, draw: ImageDraw.ImageDraw, ink: Ink, font: str, size: int, box: Box) -> None:
        x0, y0, x1, y1 = box
        ascent = GLYPHS.metrics(font, size)[0]
        self.draw, self.ink, self.font, self.size = draw, ink, font, size
        self.left = x0 + 3.2 * size
        self.bottom = y1 - 1.6 * size
        self.right = x1 - 2
        self.top = y0 + max(2, ascent // 2)
        self.box = box

    def px(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.left + u * (self.right - self.left), self.bottom - v * (self.bottom - self.top)

    def frame(self, rng: np.random.Generator) -> list[Box | None]:
        """Axes lines, ticks and labels; returns the ink boxes of the labels."""
        d, lw = self.draw, 1
        d.line(
            [(self.left, self.top), (self.left, self.bottom), (self.right, self.bottom)],
            fill=(0, 0, 0),
            width=lw,
        )
        if rng.random() < 0.3:
            d.line([(self.left, self.top), (self.right, self.top), (self.right, self.bottom)], fill=(0, 0, 0))
        boxes: list[Box | None] = []
        n = int(rng.integers(3, 6))
        vmax = [1, 5, 10, 50, 100, 200, 1000][int(rng.integers(0, 7))]
        for i in range(n + 1):
            t = i / n
            x, y = self.px(np.array(t), np.array(t))
            x, y = float(x), float(y)
            d.line([(x, self.bottom), (x, self.bottom + 3)], fill=(0, 0, 0))
            d.line([(self.left - 3, y), (self.left, y)], fill=(0, 0, 0))
            label = f"{vmax * t:g}" if vmax * t == int(vmax * t) else f"{vmax * t:.1f}"
            mask, _, _, adv = GLYPHS.word(self.font, self.size, label)
            boxes.append(
                self.ink.stamp(self.font, self.size, label, x - adv / 2, self.bottom + 3 + self.size)
            )
            boxes.append(
                self.ink.stamp(self.font, self.size, label, self.left - 4 - adv, y + self.size * 0.35)
            )
        return boxes


def paint_plot(img: Image.Image, ink: Ink, box: Box, rng: np.random.Generator, font: str, size: int) -> None:
    """Line, scatter or bar chart with axes and tick labels."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 8 * size or y1 - y0 < 5 * size:
        paint_photo(img, box, rng)
        return
    draw = ImageDraw.Draw(img)
    axes = Axes(draw, ink, font, size, box)
    axes.frame(rng)
    kind = rng.random()
    n_series = int(rng.integers(1, 5))
    colours = [tuple(int(c) for c in PALETTE[i]) for i in rng.permutation(len(PALETTE))[:n_series]]
    if kind < 0.45:  # line plot
        n = int(rng.integers(8, 60))
        u = np.linspace(0, 1, n)
        for colour in colours:
            v = np.cumsum(rng.normal(0, 1, n))
            v = 0.1 + 0.8 * (v - v.min()) / max(np.ptp(v), 1e-6)
            xs, ys = axes.px(u, v)
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=int(rng.integers(1, 3)))
            if rng.random() < 0.4:
                for x, y in zip(xs.tolist()[:: max(n // 10, 1)], ys.tolist()[:: max(n // 10, 1)]):
                    draw.rectangle([x - 2, y - 2, x + 2, y + 2], outline=colour)
    elif kind < 0.7:  # scatter
        n = int(rng.integers(20, 150))
        for colour in colours:
            u = rng.random(n)
            v = np.clip(0.5 * u + rng.normal(0.25, 0.12, n), 0.02, 0.98)
            xs, ys = axes.px(u, v)
            r = rng.uniform(1.0, 2.5)
            for x, y in zip(xs.tolist(), ys.tolist()):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    else:  # bar chart with error bars
        n = int(rng.integers(2, 10))
        slot = 1.0 / n
        bar = slot * 0.8 / len(colours)
        for j, colour in enumerate(colours):
            heights = rng.uniform(0.1, 0.9, n)
            for i, hgt in enumerate(heights.tolist()):
                u0 = i * slot + 0.1 * slot + j * bar
                (bx0, bx1), (by0, by1) = axes.px(np.array([u0, u0 + bar]), np.array([0.0, hgt]))
                draw.rectangle([bx0, by1, bx1, by0], fill=colour, outline=(0, 0, 0))
                if rng.random() < 0.5:
                    cx = (bx0 + bx1) / 2
                    err = rng.uniform(0.02, 0.08) * (axes.bottom - axes.top)
                    draw.line([(cx, by1 - err), (cx, by1 + err)], fill=(0, 0, 0))
    if rng.random() < 0.5 and n_series > 1:  # legend box
        lx, ly = axes.right - 6 * size, axes.top + 2
        draw.rectangle(
            [lx - 2, ly, axes.right - 2, ly + n_series * size * 1.3 + 2],
            outline=(0, 0, 0),
            fill=(255, 255, 255),
        )
        for i, colour in enumerate(colours):
            yy = ly + (i + 0.8) * size * 1.3
            draw.line([(lx, yy - size * 0.35), (lx + size, yy - size * 0.35)], fill=colour, width=2)
            ink.stamp(font, size, cell_word(rng)[:6], lx + size * 1.3, yy)


def paint_diagram(
    img: Image.Image, ink: Ink, box: Box, rng: np.random.Generator, font: str, size: int
) -> None:
    """A flow chart: labelled boxes joined by arrows."""
    x0, y0, x1, y1 = box
    draw = ImageDraw.Draw(img)
    rows, cols = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    cw, ch = (x1 - x0) / cols, (y1 - y0) / rows
    fill = tuple(int(c) for c in (255 - (255 - PALETTE[int(rng.integers(0, 9))]) * 0.25))
    centres = []
    for r in range(rows):
        for c in range(cols):
            bx0, by0 = x0 + c * cw + cw * 0.12, y0 + r * ch + ch * 0.2
            bx1, by1 = x0 + (c + 1) * cw - cw * 0.12, y0 + (r + 1) * ch - ch * 0.2
            if bx1 - bx0 < 4 or by1 - by0 < 4:
                continue
            draw.rectangle([bx0, by0, bx1, by1], outline=(0, 0, 0), fill=fill)
            label = cell_word(rng)
            adv = GLYPHS.word(font, size, label)[3]
            if adv < bx1 - bx0 - 2:
                ink.stamp(font, size, label, (bx0 + bx1 - adv) / 2, (by0 + by1) / 2 + size * 0.35)
            centres.append((bx0, by0, bx1, by1))
    for a, b in zip(centres, centres[1:]):
        if abs(a[1] - b[1]) < 1:  # same row: horizontal arrow
            ya = (a[1] + a[3]) / 2
            draw.line([(a[2], ya), (b[0], ya)], fill=(0, 0, 0))
            draw.polygon([(b[0], ya), (b[0] - 4, ya - 2.5), (b[0] - 4, ya + 2.5)], fill=(0, 0, 0))
    if rng.random() < 0.5:  # framed diagram
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(90, 90, 90))
