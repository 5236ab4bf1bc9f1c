"""Debugging views of GraphKD's instance graphs: what ``scripts/inspect_graph.py`` draws and exports per page.

:func:`inspect_pages` builds a page's graph as a training step would (nodes, types, adjacency, text-node
merging, sampling weights, node and edge losses) and writes ``<page>_graph.png``, ``<page>_merge.png``,
``<page>.graphml`` and ``<page>.json``; :func:`format_summary` tabulates the returned summaries. The graph
data of a page is built in :mod:`.nodes`, the files and summary numbers in :mod:`.summary`.
"""

from .draw import GraphDrawing, draw_graph, draw_merge
from .nodes import NODE_SOURCES, load_inspect_config
from .sources import GroundTruth, PageSpec, resolve_pages
from .summary import format_summary, inspect_pages

__all__ = [
    "NODE_SOURCES",
    "GraphDrawing",
    "GroundTruth",
    "PageSpec",
    "draw_graph",
    "draw_merge",
    "format_summary",
    "inspect_pages",
    "load_inspect_config",
    "resolve_pages",
]
