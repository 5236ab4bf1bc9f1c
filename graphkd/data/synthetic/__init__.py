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

Modules: :mod:`.schema` (schemas, text classes, region kinds -> categories), :mod:`.glyphs` (fonts, word
masks, the ink layer), :mod:`.vocabulary` (prose and table cells), :mod:`.graphics` (figure contents),
:mod:`.typesetting` (lines of text and the text elements), :mod:`.floats` (figures and tables),
:mod:`.layout` (columns and page flow, :func:`render_page`), :mod:`.degradation` (scan effects) and
:mod:`.writer` (the dataset on disk).
"""

from __future__ import annotations

from .layout import render_page
from .schema import SCHEMAS, TEXT_CLASSES
from .writer import GENERATOR_VERSION, generate_synthetic_dataset

__all__ = ["SCHEMAS", "TEXT_CLASSES", "GENERATOR_VERSION", "generate_synthetic_dataset", "render_page"]
