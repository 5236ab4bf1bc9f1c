"""PDF pages as RGB images, rendered with PDFium (``pypdfium2``).

PDF user space is 72 units per inch, so a page of ``w x h`` points renders to ``w * dpi / 72`` by
``h * dpi / 72`` pixels. Pages are rendered one at a time, so a long document never sits in memory whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from PIL import Image

__all__ = ["PdfError", "pdf_page_count", "render_pdf_pages"]

POINTS_PER_INCH = 72.0


class PdfError(RuntimeError):
    """A PDF that cannot be opened or rendered; the message names the file."""


def _pdfium():
    try:
        import pypdfium2
    except ImportError as exc:  # an optional dependency: only PDF inputs need it
        raise ImportError("reading PDFs needs pypdfium2: pip install pypdfium2") from exc
    return pypdfium2


def _open(path: str | os.PathLike):
    pdfium = _pdfium()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return pdfium.PdfDocument(os.fspath(path))
    except pdfium.PdfiumError as exc:
        raise PdfError(f"{path}: not a readable PDF ({exc})") from exc


def pdf_page_count(path: str | os.PathLike) -> int:
    """Number of pages of the PDF at ``path``; raises :class:`PdfError` if it cannot be opened."""
    document = _open(path)
    try:
        return len(document)
    finally:
        document.close()


def render_pdf_pages(path: str | os.PathLike, dpi: float = 100.0) -> Iterator[tuple[int, Image.Image]]:
    """Yield ``(page_number, RGB image)`` for each page of the PDF, numbered from 1, rendered at ``dpi``."""
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    document = _open(path)
    try:
        for index in range(len(document)):
            try:
                page = document[index]
                try:
                    image = page.render(scale=dpi / POINTS_PER_INCH).to_pil().convert("RGB")
                finally:
                    page.close()
            except Exception as exc:  # PDFium reports a damaged page with several exception types
                raise PdfError(f"{path}: page {index + 1} cannot be rendered ({exc})") from exc
            yield index + 1, image
    finally:
        document.close()
