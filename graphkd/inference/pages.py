"""Prediction inputs: page images, PDFs, folders and globs, resolved into a sorted list of files and then into
pages (one per image, one per PDF page).

Anything that cannot be read becomes an :class:`InputFailure` naming the path, so one bad file never stops
the others from being predicted.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .pdf import pdf_page_count, render_pdf_pages

__all__ = [
    "IMAGE_SUFFIXES",
    "PDF_SUFFIXES",
    "InputFailure",
    "Page",
    "count_pages",
    "expand_inputs",
    "is_pdf",
    "iter_pages",
    "read_image_rgb",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
PDF_SUFFIXES = (".pdf",)
_GLOB_CHARS = set("*?[")


@dataclass
class Page:
    """One page to predict: an RGB image and where it came from (``page`` is the 1-based PDF page, or None)."""

    image: np.ndarray  # (H, W, 3) uint8, RGB
    file_name: str
    page: int | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True)
class InputFailure:
    """An input that could not be (fully) predicted and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES + PDF_SUFFIXES


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and _is_supported(p))


def expand_inputs(specs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[InputFailure]]:
    """Files to predict from ``specs`` (files, folders searched recursively, glob patterns), in order.

    Folder and glob matches are sorted; files of other types inside folders are skipped, but a file named
    explicitly with an unsupported type is a failure, as is a path or pattern that matches nothing.
    A file reached twice is predicted once.
    """
    files: list[Path] = []
    failures: list[InputFailure] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for spec in specs:
        spec = os.fspath(spec)
        path = Path(spec)
        if path.is_dir():
            found = _files_under(path)
            if not found:
                failures.append(InputFailure(spec, "folder has no images or PDFs"))
            for file in found:
                add(file)
        elif path.is_file():
            if _is_supported(path):
                add(path)
            else:
                supported = ", ".join(IMAGE_SUFFIXES + PDF_SUFFIXES)
                failures.append(InputFailure(spec, f"unsupported file type (expected one of {supported})"))
        elif _GLOB_CHARS & set(spec):
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))]
            found = []
            for match in matches:
                found.extend(
                    _files_under(match) if match.is_dir() else [match] if _is_supported(match) else []
                )
            if not found:
                failures.append(InputFailure(spec, "pattern matches no images or PDFs"))
            for file in found:
                add(file)
        else:
            failures.append(InputFailure(spec, "no such file or folder"))
    return files, failures


def is_pdf(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in PDF_SUFFIXES


def count_pages(path: str | os.PathLike) -> int:
    """Pages ``path`` yields: 1 for an image, the page count of a PDF (opening it, so a corrupt PDF raises)."""
    return pdf_page_count(path) if is_pdf(path) else 1


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 RGB array, EXIF orientation applied (as detectron2's read_image)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # PIL raises several types for truncated or foreign files
        raise ValueError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from exc
    return np.asarray(image)


def iter_pages(path: str | os.PathLike, dpi: float = 100.0) -> Iterator[Page]:
    """The pages of one input file: the image itself, or each page of a PDF rendered at ``dpi``."""
    if is_pdf(path):
        for number, image in render_pdf_pages(path, dpi=dpi):
            yield Page(np.asarray(image), os.fspath(path), number)
    else:
        yield Page(read_image_rgb(path), os.fspath(path), None)


CONFIG_KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")  # e.g. MODEL.ROI_HEADS.SCORE_THRESH_TEST


def split_trailing_opts(inputs: list[str], opts: list[str]) -> tuple[list[str], list[str]]:
    """``--input`` takes every word after it: the first config key among them that is not an existing path
    starts the ``KEY VALUE`` overrides."""
    for index, item in enumerate(inputs):
        if CONFIG_KEY.match(item) and not os.path.exists(item):
            return inputs[:index], inputs[index:] + opts
    return inputs, opts
