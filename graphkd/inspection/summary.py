"""``inspect_pages``: build each page's GraphKD instance graph the way training does (:mod:`.nodes`), write what
it holds (``<page>_graph.png``, ``<page>_merge.png``, ``<page>.graphml``, ``<page>.json``) and return its
summary numbers; :func:`format_summary` tabulates the summaries.

Shapes: ``F`` final (sampled) nodes of a page.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from graphkd.distill.losses import relation_matrices
from graphkd.graph import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    node_type_agreement,
    to_networkx,
    write_graphml,
)

from .draw import GraphDrawing, draw_graph, draw_merge
from .nodes import (
    NODE_SOURCES,
    PageGraphs,
    build_inspect_model,
    graph_drawing,
    model_class_names,
    page_graphs,
    page_nodes,
    undirected_edges,
)
from .sources import GroundTruth, PageSpec, resolve_pages

logger = logging.getLogger(__name__)

__all__ = ["format_summary", "inspect_pages"]

_TYPE_KEYS = {NODE_TEXT: "text", NODE_NONTEXT: "nontext", NODE_BACKGROUND: "background"}


def _counts(node_type: Tensor) -> dict[str, int]:
    counts = {key: int((node_type == kind).sum()) for kind, key in _TYPE_KEYS.items()}
    counts["total"] = int(node_type.numel())
    return counts


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _write_graphml(stages: PageGraphs, drawing: GraphDrawing, path: Path, **graph_attrs) -> None:
    """The graph before merging, boxes in page pixels, with each node's cluster and sampling weight."""
    data = stages.graphs.get_example(0).cpu()
    data.box = torch.as_tensor(drawing.boxes)
    graph = to_networkx(
        data, cluster=torch.as_tensor(drawing.cluster), weight=torch.as_tensor(drawing.weight)
    )
    graph.graph.update(graph_attrs)
    write_graphml(graph, path)


def _write_page_files(
    image_rgb: np.ndarray,
    page: PageSpec,
    output_dir: Path,
    stages: PageGraphs,
    drawing: GraphDrawing,
    mode: str,
) -> dict[str, Path]:
    """Draw the two PNGs and write the GraphML of a page; returns the paths of its files (the JSON's too)."""
    height, width = image_rgb.shape[:2]
    outputs = {
        key: output_dir / f"{page.name}{suffix}"
        for key, suffix in (
            ("graph_png", "_graph.png"),
            ("merge_png", "_merge.png"),
            ("graphml", ".graphml"),
            ("json", ".json"),
        )
    }
    page_image = Image.fromarray(image_rgb)
    draw_graph(page_image, drawing).save(outputs["graph_png"])
    draw_merge(page_image, drawing).save(outputs["merge_png"])
    _write_graphml(
        stages,
        drawing,
        outputs["graphml"],
        page=page.name,
        file=str(page.path),
        mode=mode,
        width=width,
        height=height,
    )
    return outputs


def _graph_numbers(distiller, stages: PageGraphs, drawing: GraphDrawing, truth: GroundTruth | None) -> dict:
    """A page's graph in numbers: node counts by type at each stage, merges, edges, relation gap, GT agreement,
    losses and the sampling weight."""
    graphs, merged, final = stages.graphs, stages.merged, stages.sampled.batch
    num_final = final.num_nodes or 0
    agreement = node_type_agreement(graphs.node_type, graphs.gt_node_type) if truth is not None else math.nan
    teacher_rel, _ = relation_matrices(final.x_teacher, final.batch, 1)  # (1, F, F)
    student_rel, _ = relation_matrices(final.x, final.batch, 1)
    return {
        "node_type_mode": distiller.node_type_mode,
        "nodes": {
            "before_merge": _counts(graphs.node_type),
            "after_merge": _counts(merged.node_type),
            "after_sampling": _counts(final.node_type),
        },
        "merged_clusters": int((drawing.cluster_size > 1).sum()),
        "largest_cluster": int(drawing.cluster_size.max(initial=0)),
        "edges": {
            "adjacency_before_merge": int(len(drawing.edges)),
            "adjacency_after_merge": int(len(undirected_edges(merged.edge_index))),
            "relation_pairs": num_final * (num_final - 1) // 2,
        },
        # mean |E_student - E_teacher| over the final relation matrix, what the edge loss compares
        "relation_mean_abs_diff": _finite(float((student_rel - teacher_rel).abs().mean()))
        if num_final
        else None,
        "type_agreement_gt": _finite(agreement),
        "losses": {
            **stages.losses,
            "node_fg_weight": distiller.fg_loss_weight,
            "node_bg_weight": distiller.bg_loss_weight,
            "edge_loss_weight": distiller.edge_loss_weight,
        },
        "sampling_weight_sum": float(stages.sampled.weight.sum()),
    }


@torch.no_grad()
def _inspect_page(
    model,
    cfg,
    page: PageSpec,
    truth: GroundTruth | None,
    output_dir: Path,
    node_source: str,
    top_k: int,
    seed: int,
    model_info: dict,
) -> dict:
    """One page: its nodes and graphs, its drawings, GraphML and JSON; returns its summary (the JSON)."""
    from graphkd.inference.pages import read_image_rgb

    image_rgb = read_image_rgb(page.path)  # (H, W, 3)
    height, width = image_rgb.shape[:2]
    nodes, mode, (model_height, model_width) = page_nodes(
        model, cfg, page, truth, image_rgb, node_source, top_k, seed
    )
    scale = np.array([model_width / width, model_height / height] * 2, dtype=np.float32)
    distiller = model.distiller
    stages = page_graphs(distiller, nodes, truth, seed)
    drawing = graph_drawing(stages, scale)
    outputs = _write_page_files(image_rgb, page, output_dir, stages, drawing, mode)

    num_nodes = len(drawing.boxes)
    empty_note = "no positive or mined RoI" if truth is not None else "the teacher found nothing"
    summary = {
        "page": page.name,
        "file": str(page.path),
        "width": width,
        "height": height,
        "model_input_size": [int(model_height), int(model_width)],
        "mode": mode,
        "gt": truth.source if truth is not None else None,
        "gt_boxes": int(len(page.gt_boxes)) if page.gt_boxes is not None else None,
        "top_k": None if truth is not None else top_k,
        "candidates": nodes["candidates"],
        "empty": num_nodes == 0,
        "note": f"no nodes: {empty_note} on this page, the graph is empty" if num_nodes == 0 else None,
        **_graph_numbers(distiller, stages, drawing, truth),
        **model_info,
        "outputs": {key: str(path) for key, path in outputs.items()},
    }
    with open(outputs["json"], "w") as handle:
        json.dump(summary, handle, indent=2)
    logger.info(
        "%s: %d nodes -> %d merged, %d edges",
        page.name,
        num_nodes,
        len(drawing.merged_boxes),
        len(drawing.edges),
    )
    return summary


def inspect_pages(
    cfg,
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    gt: str | os.PathLike | None = None,
    top_k: int = 100,
    *,
    dataset: str | None = None,
    num_images: int | None = None,
    node_source: str = "detections",
    seed: int = 0,
) -> list[dict]:
    """Build, draw and export the instance graph of every page; returns each page's summary (its JSON).

    Writes ``<page>_graph.png``, ``<page>_merge.png``, ``<page>.graphml`` and ``<page>.json`` into
    ``output_dir`` (``<page>`` is the file's stem, made unique). With ``gt`` (a COCO json matched to the
    inputs by file name) or ``dataset`` the nodes are a training step's; otherwise the teacher's top
    ``top_k`` ``node_source`` (``"detections"`` or ``"proposals"``). See the module docstring.

    Args:
        cfg: a GraphKD config (``GraphKDRCNN``), e.g. from :func:`load_inspect_config`.
        inputs: page images; may be empty with ``dataset`` (its first ``num_images`` pages).
        output_dir: created if missing.
        weights: the student's checkpoint; random student weights when ``None``.
        seed: seeds the proposal sampling and the node sampling, so a page's graph is reproducible.
    """
    if node_source not in NODE_SOURCES:
        raise ValueError(f"node_source must be one of {NODE_SOURCES}, got {node_source!r}")
    if top_k < 1:
        raise ValueError(f"top_k must be positive, got {top_k}")
    pages, truth = resolve_pages(
        inputs,
        gt=gt,
        dataset=dataset,
        num_images=num_images,
        model_classes=model_class_names(cfg),
        text_class_names=list(cfg.GRAPHKD.NODE_TYPE.TEXT_CLASSES),
    )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, model_info = build_inspect_model(cfg, weights, seed)
    return [
        _inspect_page(model, cfg, page, truth, output_dir, node_source, top_k, seed, model_info)
        for page in pages
    ]


def format_summary(results: Sequence[dict]) -> str:
    """A plain-text table of the page summaries: node counts by type before and after merging, edges, the
    agreement with the GT split and the loss values."""
    header = (
        "page",
        "mode",
        "text",
        "nontext",
        "bg",
        "merged",
        "edges",
        "agree",
        "L_fg",
        "L_bg",
        "L_edge",
        "note",
    )
    rows = [header]
    for result in results:
        before, after = result["nodes"]["before_merge"], result["nodes"]["after_merge"]
        agreement = result["type_agreement_gt"]
        rows.append(
            (
                result["page"],
                result["mode"],
                str(before["text"]),
                str(before["nontext"]),
                str(before["background"]),
                f"{before['total']}->{after['total']}",
                str(result["edges"]["adjacency_before_merge"]),
                "-" if agreement is None else f"{agreement:.2f}",
                f"{result['losses']['loss_graphkd_node_fg']:.4g}",
                f"{result['losses']['loss_graphkd_node_bg']:.4g}",
                f"{result['losses']['loss_graphkd_edge']:.4g}",
                "empty graph" if result["empty"] else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
