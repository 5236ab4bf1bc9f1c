"""Class names and text-like classes (METHOD §2) of the known layout datasets, and how names compare.

A leaf module: the catalog, the COCO loader, the PRImA converter and the synthetic generator all read
their class lists from here, so none of them needs another to know the classes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "DOCLAYNET_CLASSES",
    "DOCLAYNET_TEXT_CLASSES",
    "HJ_CLASSES",
    "HJ_TEXT_CLASSES",
    "PRIMA_CLASSES",
    "PRIMA_TEXT_CLASSES",
    "PUBLAYNET_CLASSES",
    "PUBLAYNET_TEXT_CLASSES",
    "default_text_classes",
    "same_class_name",
]

# class names in category-id order 1..N, then the text-like ones among them
PUBLAYNET_CLASSES = ["text", "title", "list", "table", "figure"]
PUBLAYNET_TEXT_CLASSES = ["text", "title", "list"]

DOCLAYNET_CLASSES = [
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
]
DOCLAYNET_TEXT_CLASSES = [
    "Text",
    "Title",
    "Section-header",
    "List-item",
    "Caption",
    "Footnote",
    "Page-header",
    "Page-footer",
]

PRIMA_CLASSES = ["TextRegion", "ImageRegion", "TableRegion", "MathsRegion", "SeparatorRegion", "OtherRegion"]
PRIMA_TEXT_CLASSES = ["TextRegion"]

HJ_CLASSES = ["Page Frame", "Row", "Title Region", "Text Region", "Title", "Subtitle", "Other"]
HJ_TEXT_CLASSES = ["Row", "Title Region", "Text Region", "Title", "Subtitle"]

_KNOWN_TEXT_CLASSES = {
    *PUBLAYNET_TEXT_CLASSES,
    *DOCLAYNET_TEXT_CLASSES,
    *PRIMA_TEXT_CLASSES,
    *HJ_TEXT_CLASSES,
}


def same_class_name(a: str, b: str) -> bool:
    """Class names compare equal ignoring case, spaces, '-' and '_' (``Page Frame`` == ``page_frame``)."""
    return _norm(a) == _norm(b)


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def default_text_classes(class_names: Sequence[str]) -> list[str]:
    """The text-like classes among ``class_names`` by name (METHOD §2 lists for the known datasets)."""
    return [n for n in class_names if any(same_class_name(n, t) for t in _KNOWN_TEXT_CLASSES)]
