"""Which classes a synthetic page is annotated with: the schemas, their text classes, and region kinds.

The generator draws regions of internal *kinds* (``heading``, ``caption``, ``page_header`` ...); a schema
maps each kind onto one of its category names, or onto None for kinds that are drawn but not annotated.
"""

from __future__ import annotations

from ..classes import DOCLAYNET_CLASSES, DOCLAYNET_TEXT_CLASSES, PUBLAYNET_CLASSES, PUBLAYNET_TEXT_CLASSES
from .glyphs import Box

__all__ = ["KIND_TO_CATEGORY", "SCHEMAS", "TEXT_CLASSES", "categorise", "check_schema"]

SCHEMAS: dict[str, list[str]] = {
    "publaynet": PUBLAYNET_CLASSES,
    "doclaynet": DOCLAYNET_CLASSES,
}

TEXT_CLASSES: dict[str, list[str]] = {
    "publaynet": PUBLAYNET_TEXT_CLASSES,
    "doclaynet": DOCLAYNET_TEXT_CLASSES,
}

# Internal region kinds -> category name per schema (None: drawn, not annotated).
KIND_TO_CATEGORY: dict[str, dict[str, str | None]] = {
    "publaynet": {
        "text": "text",
        "doc_title": "title",
        "heading": "title",
        "caption": "text",
        "footnote": "text",
        "list": "list",
        "table": "table",
        "figure": "figure",
        "formula": None,
        "page_header": None,
        "page_footer": None,
    },
    "doclaynet": {
        "text": "Text",
        "doc_title": "Title",
        "heading": "Section-header",
        "caption": "Caption",
        "footnote": "Footnote",
        "list": "List-item",  # one box per item
        "table": "Table",
        "figure": "Picture",
        "formula": "Formula",
        "page_header": "Page-header",
        "page_footer": "Page-footer",
    },
}


def check_schema(schema: str) -> None:
    """Raise ``ValueError`` for a schema name that is not one of :data:`SCHEMAS`."""
    if schema not in SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; expected one of {sorted(SCHEMAS)}")


def categorise(regions: list[tuple[str, Box, list[Box]]], schema: str) -> tuple[list[str], list[Box]]:
    """Category names and boxes of a page's regions under ``schema`` (unannotated kinds left out)."""
    mapping = KIND_TO_CATEGORY[schema]
    categories: list[str] = []
    boxes: list[Box] = []
    for kind, box, items in regions:
        name = mapping[kind]
        if name is None:
            continue
        for b in items if (kind == "list" and schema == "doclaynet") else [box]:
            categories.append(name)
            boxes.append(b)
    return categories, boxes
