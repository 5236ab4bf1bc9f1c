"""How ``inspect_pages`` builds one page's GraphKD instance graph the way training does: the model, the page's
nodes, the distiller's graph at every stage, and what the drawings show.

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

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch

from graphkd.distill.losses import relation_matrices
from graphkd.graph import SampleOutput

from .draw import GraphDrawing
from .sources import GroundTruth, PageSpec

logger = logging.getLogger(__name__)

__all__ = ["NODE_SOURCES", "load_inspect_config"]

NODE_SOURCES = ("detections", "proposals")
MAX_RELATIONS_DRAWN = 20  # strongest teacher-cosine edges drawn per page


def load_inspect_config(config_file: str | os.PathLike, opts: Sequence[str] = ()):
    """A frozen GraphKD config from ``config_file`` + ``opts`` (``graphkd.engine.setup.load_config``).

    Unlike ``graphkd.engine.trainer.setup_cfg`` there is no ``default_setup`` (which prints the whole config
    and writes into ``OUTPUT_DIR``): an inspection run writes only into its own output folder.
    """
    from graphkd.engine.setup import load_config

    cfg = load_config(config_file, opts)
    cfg.freeze()
    return cfg


def model_class_names(cfg) -> list[str] | None:
    from detectron2.data import MetadataCatalog

    for name in [*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST]:
        names = MetadataCatalog.get(name).get("thing_classes", None)
        if names and len(names) == cfg.MODEL.ROI_HEADS.NUM_CLASSES:
            return list(names)
    return None


def build_inspect_model(cfg, weights: str | os.PathLike | None, seed: int) -> tuple[torch.nn.Module, dict]:
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
    from graphkd.inference.predictor import test_resize

    image = image_rgb[:, :, ::-1] if model.input_format == "BGR" else image_rgb
    transform = test_resize(cfg).get_transform(image)
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
            proposals, boxes, student_pooled, _ = model.training_rois(images, features, [instances])
    finally:
        model.eval()
        for name, buffer in model.named_buffers():  # BatchNorm running statistics moved in train mode
            buffer.copy_(buffers[name])
    nodes = model.node_inputs(proposals, student_pooled, model.teacher_forward(inputs, boxes))
    return {
        "boxes": nodes.boxes,
        "student": nodes.student,
        "teacher": nodes.teacher,
        "is_background": nodes.is_background,
        "classes": nodes.gt_classes,
        "candidates": len(boxes[0]),
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


def _check_gt(page: PageSpec, truth: GroundTruth, height: int, width: int, num_classes: int) -> None:
    """Warn when the page's GT was made for another image size; fail when its classes exceed the model's."""
    if page.record_size is not None and page.record_size != (height, width):
        logger.warning(
            "%s is %dx%d but its GT says %dx%d: the boxes are used as they are",
            page.path,
            width,
            height,
            page.record_size[1],
            page.record_size[0],
        )
    if page.gt_classes.size and int(page.gt_classes.max()) >= num_classes:
        raise ValueError(
            f"{page.path}: GT class ids reach {int(page.gt_classes.max())}, but the model has "
            f"{num_classes} classes ({truth.source})"
        )


@torch.no_grad()
def page_nodes(
    model,
    cfg,
    page: PageSpec,
    truth: GroundTruth | None,
    image_rgb: np.ndarray,
    node_source: str,
    top_k: int,
    seed: int,
) -> tuple[dict, str, tuple[int, int]]:
    """The nodes of a page (``image_rgb``, (H, W, 3)): a training step's with ``truth``, else the teacher's
    ``node_source``; returns them, the mode (``"gt"`` or ``"teacher_<node_source>"``) and the model-input
    size (H', W')."""
    height, width = image_rgb.shape[:2]
    model_input, transform = _model_input(model, cfg, image_rgb)
    model_height, model_width = model_input["image"].shape[1:]
    if truth is not None:
        _check_gt(page, truth, height, width, model.roi_heads.num_classes)
        nodes = _gt_nodes(model, [model_input], page, transform, seed)
        mode = "gt"
    else:
        nodes = _teacher_nodes(model, [model_input], node_source, top_k)
        mode = f"teacher_{node_source}"
    return nodes, mode, (model_height, model_width)


def undirected_edges(edge_index: Tensor) -> Tensor:
    """``(E, 2)`` each undirected edge once (p < q), self loops dropped."""
    return edge_index[:, edge_index[0] < edge_index[1]].t()


@dataclass
class PageGraphs:
    """One page's graph at every stage of the distiller, and its loss terms (already weighted)."""

    graphs: Batch  # before merging
    merged: Batch
    cluster: Tensor  # (N,) merged node of each node
    sampled: SampleOutput
    losses: dict[str, float]


def page_graphs(distiller, nodes: dict, truth: GroundTruth | None, seed: int) -> PageGraphs:
    """The distiller's graph, merge, sampling and losses on one page's nodes (``GraphKDDistiller.stages`` and
    ``losses``; the page's background nodes stand in for all its negatives)."""
    # GT classes give the agreement with the GT split; without GT, "gt" typing takes the teacher's classes
    with_classes = truth is not None or distiller.node_type_mode == "gt"
    text_classes = truth.text_class_ids if truth is not None else distiller.text_classes
    graphs = distiller.build_graphs(
        nodes["student"],
        nodes["teacher"],
        nodes["boxes"],
        [len(nodes["boxes"])],
        nodes["is_background"],
        nodes["classes"] if with_classes else None,
        text_classes=text_classes if with_classes else None,
    )
    stages = distiller.stages(graphs, generator=torch.Generator(device="cpu").manual_seed(seed))
    # + 0.0: no "-0" for an empty graph
    losses = {key: float(value) + 0.0 for key, value in distiller.losses(stages).items()}
    return PageGraphs(stages.graphs, stages.merged, stages.cluster, stages.sampled, losses)


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


def graph_drawing(stages: PageGraphs, scale: np.ndarray) -> GraphDrawing:
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
        edges=undirected_edges(stages.graphs.edge_index).cpu().numpy(),
        cluster=stages.cluster.cpu().numpy(),
        merged_boxes=merged.box.cpu().numpy().reshape(-1, 4) / scale,
        merged_type=merged.node_type.cpu().numpy(),
        cluster_size=cluster_size.cpu().numpy(),
        relations=_strongest_relations(sampled).cpu().numpy(),
    )
