"""Scanner-like degradations of a rendered page: slight rotation (boxes follow), blur, tint, JPEG."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["apply_noise", "rotate_boxes"]


def rotate_boxes(boxes: np.ndarray, angle_deg: float, width: int, height: int) -> np.ndarray:
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


def apply_noise(
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
        boxes = rotate_boxes(boxes, angle, img.width, img.height)
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
