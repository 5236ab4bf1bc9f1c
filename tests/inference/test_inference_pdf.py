"""graphkd.inference.pdf and pages: PDF pages render at the asked resolution; broken files name themselves."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pypdfium2")


def write_pdf(path, num_pages: int = 2, size_in=(3, 4)) -> None:
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    with PdfPages(path) as pdf:
        for number in range(num_pages):
            figure = Figure(figsize=size_in)
            figure.add_subplot().plot([0, 1], [number, 1])
            pdf.savefig(figure)


def test_pdf_pages_render_one_by_one_at_the_requested_dpi(tmp_path):
    from graphkd.inference.pdf import pdf_page_count, render_pdf_pages

    write_pdf(tmp_path / "doc.pdf", num_pages=2, size_in=(3, 4))
    assert pdf_page_count(tmp_path / "doc.pdf") == 2
    pages = list(render_pdf_pages(tmp_path / "doc.pdf", dpi=144))
    assert [number for number, _ in pages] == [1, 2]
    for _, image in pages:
        assert image.mode == "RGB"
        assert abs(image.width - 432) <= 1 and abs(image.height - 576) <= 1  # 3 x 4 in at 144 dpi


def test_corrupt_and_missing_pdfs_raise_errors_naming_the_file(tmp_path):
    from graphkd.inference.pdf import PdfError, pdf_page_count, render_pdf_pages

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n%%EOF garbage")
    with pytest.raises(PdfError, match="broken.pdf"):
        pdf_page_count(broken)
    with pytest.raises(PdfError, match="broken.pdf"):
        list(render_pdf_pages(broken))
    with pytest.raises(FileNotFoundError, match="absent.pdf"):
        pdf_page_count(tmp_path / "absent.pdf")


def test_iter_pages_gives_rgb_arrays_with_page_numbers(tmp_path):
    from PIL import Image

    from graphkd.inference.pages import iter_pages

    write_pdf(tmp_path / "doc.pdf", num_pages=2)
    Image.new("L", (40, 30), 128).save(tmp_path / "gray.tif")
    pdf_pages = list(iter_pages(tmp_path / "doc.pdf", dpi=50))
    assert [p.page for p in pdf_pages] == [1, 2]
    (tif,) = iter_pages(tmp_path / "gray.tif")
    assert tif.page is None and tif.image.shape == (30, 40, 3) and tif.image.dtype == np.uint8
    with pytest.raises(ValueError, match="not a readable image"):
        (tmp_path / "bad.jpg").write_bytes(b"nope")
        list(iter_pages(tmp_path / "bad.jpg"))
