"""Figure contents for the synthetic pages: photos, micrographs, heat maps, plots and flow charts.

Each ``paint_*`` fills a box of the page image from the page's random generator; labels inside figures
are stamped into the page's ink layer like body text.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .glyphs import GLYPHS, Box, Ink
from .vocabulary import cell_word

__all__ = [
    "PALETTE",
    "Axes",
    "colormap",
    "paint_diagram",
    "paint_heatmap",
    "paint_photo",
    "paint_plot",
    "smooth_noise",
]

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
