"""``inspect_pages``: build one page's GraphKD instance graph the way training does, and write what it holds.

Shapes: ``R`` candidate RoIs of a page, ``N`` graph nodes before merging, ``K`` merged nodes, ``F`` final
(sampled) nodes, ``C``/``C_t`` student/teacher channels. One page at a time, batch of one.

Nodes come from one of two places:

* with GT (a COCO json or a registered dataset): the student's RPN proposals plus the GT boxes, sampled
  by its RoI heads exactly as in a training step (model in training mode inside an ``EventStorage``, no
  optimizer, BatchNorm statistics restored afterwards), then the positives and the teacher-mined
  negatives (``GraphKDRCNN.select_nodes``);
* without GT: the teacher in eval mode, its final detections (``"detections"``: score above its
  ``ROI_HEADS.SCORE_THRESH_TEST``, then a class-agnostic NMS at its ``NMS_THRESH_TEST`` so a region
  found as two classes is one node) or its RPN proposals after NMS (``"proposals"``), the ``top_k``
  highest scoring; no background nodes.

Pages are resized as at test time (``INPUT.MIN_SIZE_TEST``/``MAX_SIZE_TEST``) in both cases; drawings and
GraphML boxes are mapped back to page pixels. Both networks pool the same boxes (the student's box pooler;
the teacher's through ``GraphKDRCNN.teacher_forward``, or without GT the same pooling on the features its
detection pass computed); the graph, the merge, the sampling and the losses are the distiller's own
(``model.distiller``), unchanged.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch_geometric.data import Batch

from graphkd.distill.losses import relation_matrices
from graphkd.graph import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    SampleOutput,
    build_instance_graphs,
    node_type_agreement,
    to_networkx,
    write_graphml,
)

from .draw import GraphDrawing, draw_graph, draw_merge
from .sources import GroundTruth, PageSpec, resolve_pages

logger = logging.getLogger(__name__)

__all__ = ["NODE_SOURCES", "format_summary", "inspect_pages", "load_inspect_config"]

NODE_SOURCES = ("detections", "proposals")
MAX_RELATIONS_DRAWN = 20  # strongest teacher-cosine edges drawn per page
_TYPE_KEYS = {NODE_TEXT: "text", NODE_NONTEXT: "nontext", NODE_BACKGROUND: "background"}


def load_inspect_config(config_file: str | os.PathLike, opts: Sequence[str] = ()):
    """A frozen GraphKD config from ``config_file`` + ``opts`` (``graphkd.config.load_config``).

    Unlike ``graphkd.engine.trainer.setup_cfg`` there is no ``default_setup`` (which prints the whole config
    and writes into ``OUTPUT_DIR``): an inspection run writes only into its own output folder.
    """
    from graphkd.config import load_config

    cfg = load_config(config_file, opts)
    cfg.freeze()
    return cfg


def _model_class_names(cfg) -> list[str] | None:
    from detectron2.data import MetadataCatalog

    for name in [*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST]:
        names = MetadataCatalog.get(name).get("thing_classes", None)
        if names and len(names) == cfg.MODEL.ROI_HEADS.NUM_CLASSES:
            return list(names)
    return None


def _build_model(cfg, weights: str | os.PathLike | None, seed: int) -> tuple[torch.nn.Module, dict]:
    """The ``GraphKDRCNN`` of ``cfg`` in eval mode, the student loaded from ``weights`` when given.

    Random weights (a student without ``weights``, the adapter, a teacher allowed to be random) are drawn
    from ``seed``, so a run is reproducible either way.
    """
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    import graphkd.modeling  # noqa: F401  (registers GraphKDRCNN and the backbones)
    from graphkd.modeling.teacher import read_checkpoint

    if cfg.MODEL.META_ARCHITECTURE != "GraphKDRCNN":
        raise ValueError(
            f"inspecting instance graphs needs a GraphKD config (MODEL.META_ARCHITECTURE GraphKDRCNN with a "
            f"teacher), got {cfg.MODEL.META_ARCHITECTURE}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(cfg)
    info: dict = {
        "student_weights": None,
        "student_random_init": True,
        "adapter_random_init": model.distiller.adapter is not None,
        "teacher_config": cfg.TEACHER.CONFIG_FILE,
        "teacher_weights": cfg.TEACHER.WEIGHTS or None,
    }
    if weights:
        weights = os.fspath(weights)
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"student weights not found: {weights}")
        incompatible = DetectionCheckpointer(model)._load_model(read_checkpoint(weights))
        missing = [key for key in incompatible.missing_keys if not key.startswith("distiller.")]
        if missing:
            logger.warning(
                "%s lacks %d student weights (e.g. %s): they stay random", weights, len(missing), missing[0]
            )
        info.update(
            student_weights=weights,
            student_random_init=False,
            student_missing_keys=len(missing),
            adapter_random_init=model.distiller.adapter is not None
            and any(key.startswith("distiller.") for key in incompatible.missing_keys),
        )
    else:
        logger.warning("no --weights: the student has random weights")
    return model.eval(), info


def _model_input(model, cfg, image_rgb: np.ndarray) -> tuple[dict, object]:
    """The detectron2 input of a page at the test resolution, and the resize transform used."""
    from detectron2.data import transforms as T

    image = image_rgb[:, :, ::-1] if model.input_format == "BGR" else image_rgb
    resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST], cfg.INPUT.MAX_SIZE_TEST)
    transform = resize.get_transform(image)
    resized = transform.apply_image(np.ascontiguousarray(image))
    chw = np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)  # (3, H', W')
    height, width = image_rgb.shape[:2]
    return {"image": torch.as_tensor(chw), "height": height, "width": width}, transform


def _pool_student(model, features: dict[str, Tensor], boxes) -> Tensor:
    heads = model.roi_heads
    return heads.box_pooler([features[f] for f in heads.box_in_features], [boxes])  # (N, C, 7, 7)


@torch.no_grad()
def _gt_nodes(model, inputs: list[dict], page: PageSpec, transform, seed: int) -> dict:
    """Training-step nodes: RPN proposals + GT boxes, sampled by the RoI heads; positives + mined negatives."""
    from detectron2.structures import Boxes, Instances
    from detectron2.utils.events import EventStorage

    image = inputs[0]["image"]
    instances = Instances(tuple(image.shape[1:]))
    instances.gt_boxes = Boxes(torch.as_tensor(transform.apply_box(page.gt_boxes), dtype=torch.float32))
    instances.gt_classes = torch.as_tensor(page.gt_classes, dtype=torch.long)
    instances = instances.to(model.device)
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    try:
        with torch.random.fork_rng(devices=[]), EventStorage():
            torch.manual_seed(seed)
            model.train()
            images = model.preprocess_image(inputs)
            features = model.backbone(images.tensor)
            proposals, _ = model.proposal_generator(images, features, [instances])
            proposals = model.roi_heads.label_and_sample_proposals(proposals, [instances])
            boxes = proposals[0].proposal_boxes
            student_pooled = _pool_student(model, features, boxes)  # (R, C, 7, 7)
    finally:
        model.eval()
        for name, buffer in model.named_buffers():  # BatchNorm running statistics moved in train mode
            buffer.copy_(buffers[name])
    teacher_out = model.teacher_forward(inputs, [boxes])
    node_mask, background = model.select_nodes(proposals, teacher_out["scores"])
    return {
        "boxes": boxes.tensor[node_mask],
        "student": student_pooled[node_mask],
        "teacher": teacher_out["pooled"][node_mask],
        "is_background": background[node_mask],
        "classes": proposals[0].gt_classes[node_mask],
        "candidates": len(boxes),
    }


@torch.no_grad()
def _teacher_nodes(model, inputs: list[dict], node_source: str, top_k: int) -> dict:
    """The teacher's top-k detections (or RPN proposals) of the page, pooled by both networks.

    The teacher's pooled features and scores on the chosen boxes are ``GraphKDRCNN.teacher_forward``'s,
    computed from the features the detection already needed (one teacher backbone pass per page).
    """
    from detectron2.layers import nms
    from detectron2.structures import Boxes

    teacher = model.teacher
    images, scales = model.teacher_images(inputs)  # the teacher's frame (TEACHER.INPUT_MIN_SIZE)
    features = teacher.backbone(images.tensor)
    proposals, _ = teacher.proposal_generator(images, features, None)
    heads = teacher.roi_heads
    if node_source == "proposals":
        found = proposals[0][:top_k]  # sorted by objectness after NMS
        boxes = found.proposal_boxes
    else:
        detections, _ = heads(images, features, proposals)
        found = detections[0]
        # one node per region: class-wise NMS leaves a region detected as two classes twice
        keep = nms(found.pred_boxes.tensor, found.scores, heads.box_predictor.test_nms_thresh)
        boxes = found[keep[:top_k]].pred_boxes  # sorted by score
    teacher_pooled = heads.box_pooler([features[f] for f in heads.box_in_features], [boxes])  # (N, C_t, 7, 7)
    teacher_scores, _ = heads.box_predictor(heads.box_head(teacher_pooled))  # (N, num_classes + 1)
    boxes = Boxes(boxes.tensor / scales[0])  # back to the student's (and the page drawing's) frame
    student_pooled = _pool_student(model, model.backbone(model.preprocess_image(inputs).tensor), boxes)
    return {
        "boxes": boxes.tensor,
        "student": student_pooled,
        "teacher": teacher_pooled,
        "is_background": torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device),
        # the teacher's class of each node: what "gt" node typing uses when there is no GT
        "classes": teacher_scores[:, : heads.num_classes].argmax(dim=1),
        "candidates": len(proposals[0]),
    }


def _counts(node_type: Tensor) -> dict[str, int]:
    counts = {key: int((node_type == kind).sum()) for kind, key in _TYPE_KEYS.items()}
    counts["total"] = int(node_type.numel())
    return counts


def _undirected_edges(edge_index: Tensor) -> Tensor:
    """``(E, 2)`` each undirected edge once (p < q), self loops dropped."""
    return edge_index[:, edge_index[0] < edge_index[1]].t()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class _PageGraphs:
    """One page's graph at every stage of the distiller, and its loss terms (already weighted)."""

    graphs: Batch  # before merging
    merged: Batch
    cluster: Tensor  # (N,) merged node of each node
    sampled: SampleOutput
    losses: dict[str, float]


def _page_graphs(distiller, nodes: dict, truth: GroundTruth | None, seed: int) -> _PageGraphs:
    """The distiller's graph, merge, sampling and losses on one page's nodes (``GraphKDDistiller.stages`` and
    ``losses``; the page's background nodes stand in for all its negatives)."""
    # GT classes give the agreement with the GT split; without GT, "gt" typing takes the teacher's classes
    with_classes = truth is not None or distiller.node_type_mode == "gt"
    text_classes = truth.text_class_ids if truth is not None else distiller.text_classes
    num_nodes = len(nodes["boxes"])
    graphs = build_instance_graphs(
        distiller.adapt(nodes["student"]),
        nodes["teacher"],
        nodes["boxes"],
        [num_nodes],
        is_background=nodes["is_background"],
        gt_classes=nodes["classes"] if with_classes else None,
        text_classes=(text_classes or None) if with_classes else None,
        node_type_mode=distiller.node_type_mode,
        adjacency_gap=distiller.adjacency_gap,
        min_axis_overlap=distiller.min_axis_overlap,
    )
    stages = distiller.stages(graphs, generator=torch.Generator(device="cpu").manual_seed(seed))
    # + 0.0: no "-0" for an empty graph
    losses = {key: float(value) + 0.0 for key, value in distiller.losses(stages).items()}
    return _PageGraphs(stages.graphs, stages.merged, stages.cluster, stages.sampled, losses)


def _strongest_relations(sampled: SampleOutput) -> Tensor:
    """``(R, 3)``: merged node p, merged node q and their teacher cosine, for the strongest relation edges.

    Only pairs at distinct places count (a line between two equal boxes has no length).
    """
    final = sampled.batch
    teacher_rel, _ = relation_matrices(final.x_teacher, final.batch, 1)  # (1, F, F)
    num_final = final.num_nodes or 0
    upper = torch.triu_indices(num_final, num_final, offset=1, device=teacher_rel.device)  # (2, F(F-1)/2)
    relation = teacher_rel[0][upper[0], upper[1]]
    centre = final.box.view(-1, 2, 2).mean(dim=1)  # (F, 2)
    apart = (centre[upper[0]] - centre[upper[1]]).norm(dim=1) >= 1.0
    order = torch.where(apart, relation, relation.new_tensor(-math.inf)).argsort(descending=True)
    strongest = order[: min(MAX_RELATIONS_DRAWN, int(apart.sum()))]
    pairs = sampled.perm[upper[:, strongest]].float()  # (2, R) as merged node indices
    return torch.cat([pairs, relation[strongest].unsqueeze(0)]).t()


def _drawing(stages: _PageGraphs, scale: np.ndarray) -> GraphDrawing:
    """What the PNGs show, boxes in page pixels (``scale`` maps page to model-input pixels)."""
    merged, sampled = stages.merged, stages.sampled
    # a node's weight is its merged node's, 0 when sampling dropped that one
    merged_weight = torch.zeros(merged.num_nodes or 0, device=sampled.weight.device)
    merged_weight[sampled.perm] = sampled.weight
    cluster_size = merged.cluster_size if "cluster_size" in merged else torch.ones_like(merged.node_type)
    return GraphDrawing(
        boxes=stages.graphs.box.cpu().numpy().reshape(-1, 4) / scale,
        node_type=stages.graphs.node_type.cpu().numpy(),
        weight=merged_weight[stages.cluster].cpu().numpy(),
        edges=_undirected_edges(stages.graphs.edge_index).cpu().numpy(),
        cluster=stages.cluster.cpu().numpy(),
        merged_boxes=merged.box.cpu().numpy().reshape(-1, 4) / scale,
        merged_type=merged.node_type.cpu().numpy(),
        cluster_size=cluster_size.cpu().numpy(),
        relations=_strongest_relations(sampled).cpu().numpy(),
    )


def _write_graphml(stages: _PageGraphs, drawing: GraphDrawing, path: Path, **graph_attrs) -> None:
    """The graph before merging, boxes in page pixels, with each node's cluster and sampling weight."""
    data = stages.graphs.get_example(0).cpu()
    data.box = torch.as_tensor(drawing.boxes)
    graph = to_networkx(
        data, cluster=torch.as_tensor(drawing.cluster), weight=torch.as_tensor(drawing.weight)
    )
    graph.graph.update(graph_attrs)
    write_graphml(graph, path)


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
    from graphkd.inference.pages import read_image_rgb

    image_rgb = read_image_rgb(page.path)  # (H, W, 3)
    height, width = image_rgb.shape[:2]
    model_input, transform = _model_input(model, cfg, image_rgb)
    model_height, model_width = model_input["image"].shape[1:]
    scale = np.array([model_width / width, model_height / height] * 2, dtype=np.float32)
    if truth is not None:
        if page.record_size is not None and page.record_size != (height, width):
            logger.warning(
                "%s is %dx%d but its GT says %dx%d: the boxes are used as they are",
                page.path,
                width,
                height,
                page.record_size[1],
                page.record_size[0],
            )
        num_classes = model.roi_heads.num_classes
        if page.gt_classes.size and int(page.gt_classes.max()) >= num_classes:
            raise ValueError(
                f"{page.path}: GT class ids reach {int(page.gt_classes.max())}, but the model has "
                f"{num_classes} classes ({truth.source})"
            )
        nodes = _gt_nodes(model, [model_input], page, transform, seed)
        mode = "gt"
    else:
        nodes = _teacher_nodes(model, [model_input], node_source, top_k)
        mode = f"teacher_{node_source}"

    distiller = model.distiller
    stages = _page_graphs(distiller, nodes, truth, seed)
    drawing = _drawing(stages, scale)
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

    graphs, merged, final = stages.graphs, stages.merged, stages.sampled.batch
    num_nodes, num_final = len(drawing.boxes), final.num_nodes or 0
    agreement = node_type_agreement(graphs.node_type, graphs.gt_node_type) if truth is not None else math.nan
    teacher_rel, _ = relation_matrices(final.x_teacher, final.batch, 1)  # (1, F, F)
    student_rel, _ = relation_matrices(final.x, final.batch, 1)
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
            "adjacency_after_merge": int(len(_undirected_edges(merged.edge_index))),
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
        model_classes=_model_class_names(cfg),
        text_class_names=list(cfg.GRAPHKD.NODE_TYPE.TEXT_CLASSES),
    )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model, model_info = _build_model(cfg, weights, seed)
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
