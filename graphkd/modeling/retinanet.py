"""``GraphKDRetinaNet``: a student RetinaNet trained with GraphKD against a frozen detectron2 teacher.

A one-stage detector samples no RoIs, so the graph nodes are boxes chosen per image: the student's own
top-scoring detections after NMS (run on its current predictions under ``no_grad``) plus the GT boxes. GT
nodes, and detections matched to a GT box at IoU >= ``FG_IOU``, are foreground with that GT class; the
other detections are background nodes, the highest-scoring ``BG_MINING.MAX_PER_IMAGE`` of each image.
Student and teacher pool their own FPN features on these boxes (7x7 ROIAlignV2), and the distiller of
:class:`GraphKDRCNN` turns them into the node and edge losses. The teacher is any detectron2 detector
(RetinaNet or Faster R-CNN), held outside the module tree as in ``GraphKDRCNN``.

Shapes: ``B`` images, ``A`` anchors of an image over all levels, ``Q`` classes, ``N`` graph nodes,
``C``/``C_t`` student/teacher channels. Inference is plain RetinaNet inference.
"""

from __future__ import annotations

import contextlib
import logging

import torch
from detectron2.config import configurable
from detectron2.layers import cat
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.modeling.meta_arch.retinanet import RetinaNet
from detectron2.modeling.poolers import ROIPooler
from detectron2.structures import Boxes, Instances, pairwise_iou
from detectron2.utils.events import get_event_storage
from torch import Tensor, nn

from graphkd.distill import dense_box_l1, roi_logit_kd
from graphkd.distill.distiller import GraphKDDistiller

from .teacher_student import (
    DistillSettings,
    TeacherStudentMixin,
    build_teacher_from_cfg,
    distillation_from_config,
    pooled_channels,
)

logger = logging.getLogger(__name__)

__all__ = [
    "GraphKDRetinaNet",
    "node_pool_features",
]

# dense-head levels too coarse for 7x7 node pooling: pooled from the finer levels instead
_COARSE_LEVELS = ("p6", "p7")


def node_pool_features(model: nn.Module) -> list[str]:
    """FPN levels a detector pools node features from: its RoI-head inputs, or its dense-head inputs minus p6/p7."""
    roi_heads = getattr(model, "roi_heads", None)
    if roi_heads is not None and hasattr(roi_heads, "box_in_features"):
        return list(roi_heads.box_in_features)
    levels = [f for f in model.head_in_features if f not in _COARSE_LEVELS]
    if not levels:
        raise ValueError(f"no FPN level finer than p6 among the head inputs {model.head_in_features}")
    return levels


def build_node_pooler(backbone: nn.Module, in_features: list[str], resolution: int = 7) -> ROIPooler:
    """A ``ROIPooler`` (ROIAlignV2, canonical level assignment) over ``in_features`` of ``backbone``."""
    shapes = backbone.output_shape()
    return ROIPooler(
        output_size=resolution,
        scales=tuple(1.0 / shapes[f].stride for f in in_features),
        sampling_ratio=0,
        pooler_type="ROIAlignV2",
    )


def _same_dense_head(student: RetinaNet, teacher: nn.Module) -> bool:
    """Whether ``teacher`` is a RetinaNet predicting the student's classes on the student's anchors."""
    if not isinstance(teacher, RetinaNet) or teacher.num_classes != student.num_classes:
        return False
    if list(teacher.head_in_features) != list(student.head_in_features):
        return False
    ours, theirs = student.anchor_generator, teacher.anchor_generator
    return list(ours.strides) == list(theirs.strides) and all(
        a.shape == b.shape and torch.allclose(a.cpu(), b.cpu())
        for a, b in zip(ours.cell_anchors, theirs.cell_anchors, strict=True)
    )


@contextlib.contextmanager
def _node_inference_settings(model: RetinaNet, score_thresh: float, max_detections: int):
    """Temporarily run ``inference_single_image`` with the node score threshold and count."""
    saved = model.test_score_thresh, model.max_detections_per_image
    model.test_score_thresh, model.max_detections_per_image = score_thresh, max_detections
    try:
        yield
    finally:
        model.test_score_thresh, model.max_detections_per_image = saved


@META_ARCH_REGISTRY.register()
class GraphKDRetinaNet(TeacherStudentMixin, RetinaNet):
    """A ``RetinaNet`` student whose training loss adds GraphKD's node and edge distillation terms.

    The teacher is held outside the module tree (``TeacherStudentMixin``).
    """

    @configurable
    def __init__(
        self,
        *,
        teacher: nn.Module,
        distiller: GraphKDDistiller,
        node_pooler: ROIPooler,
        node_in_features: list[str],
        teacher_node_pooler: ROIPooler,
        teacher_node_in_features: list[str],
        settings: DistillSettings | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.init_distillation(teacher, distiller, settings)
        self.node_pooler = node_pooler  # parameter-free: adds nothing to state_dict
        self.node_in_features = list(node_in_features)
        self.teacher_node_pooler = teacher_node_pooler
        self.teacher_node_in_features = list(teacher_node_in_features)
        self._same_anchors = _same_dense_head(self, teacher)
        self._dense_kd_warned = False

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        teacher = build_teacher_from_cfg(cfg, cfg.MODEL.RETINANET.NUM_CLASSES)
        node_in_features = [f for f in cfg.MODEL.RETINANET.IN_FEATURES if f not in _COARSE_LEVELS]
        teacher_in_features = node_pool_features(teacher)
        student_channels = pooled_channels(ret["backbone"], node_in_features)
        teacher_channels = pooled_channels(teacher.backbone, teacher_in_features)
        ret.update(
            teacher=teacher,
            node_pooler=build_node_pooler(ret["backbone"], node_in_features),
            node_in_features=node_in_features,
            teacher_node_pooler=build_node_pooler(teacher.backbone, teacher_in_features),
            teacher_node_in_features=teacher_in_features,
            **distillation_from_config(cfg, student_channels, teacher_channels),
        )
        return ret

    def forward(self, batched_inputs: list[dict]):
        if not self.training:
            return super().forward(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        features = self.backbone(images.tensor)
        head_features = [features[f] for f in self.head_in_features]
        pred_logits, pred_deltas = self._transpose_dense_predictions(
            self.head(head_features), [self.num_classes, 4]
        )  # per level: (B, H*W*A, Q), (B, H*W*A, 4)
        anchors = self.anchor_generator(head_features)
        gt_labels, gt_boxes = self.label_anchors(anchors, gt_instances)
        losses = dict(self.losses(anchors, pred_logits, gt_labels, pred_deltas, gt_boxes))

        nodes = self.select_nodes(anchors, pred_logits, pred_deltas, images.image_sizes, gt_instances)
        boxes = [n.boxes for n in nodes]
        student_pooled = self.node_pooler([features[f] for f in self.node_in_features], boxes)  # (N, C, 7, 7)
        teacher_out = self.teacher_forward(batched_inputs, boxes)
        losses.update(self.graph_losses(student_pooled, teacher_out["pooled"], nodes))
        losses.update(self.extra_losses(features, pred_logits, pred_deltas, gt_labels, teacher_out))
        return losses

    @torch.no_grad()
    def select_nodes(
        self,
        anchors: list[Boxes],
        pred_logits: list[Tensor],
        pred_deltas: list[Tensor],
        image_sizes: list[tuple[int, int]],
        gt_instances: list[Instances],
    ) -> list[Instances]:
        """Per image: the GT boxes, then matched and background detections (fields ``boxes``, ``gt_classes``, ``background``)."""
        nodes = []
        with _node_inference_settings(self, self.retinanet_node_score_thresh, self.retinanet_nodes_per_image):
            for i, image_size in enumerate(image_sizes):
                detections = self.inference_single_image(
                    anchors,
                    [x[i].detach().sigmoid() for x in pred_logits],
                    [x[i].detach() for x in pred_deltas],
                    image_size,
                )  # sorted by decreasing score
                gt = gt_instances[i]
                det_classes = torch.full(
                    (len(detections),), self.num_classes, dtype=torch.long, device=self.device
                )
                if len(gt) > 0 and len(detections) > 0:
                    iou, matched = pairwise_iou(detections.pred_boxes, gt.gt_boxes).max(dim=1)  # (D,)
                    det_classes = torch.where(
                        iou >= self.retinanet_node_fg_iou, gt.gt_classes[matched], det_classes
                    )
                det_background = det_classes == self.num_classes
                keep = ~det_background
                if self.bg_mining and self.bg_max_per_image != 0:  # -1: every background detection
                    within_cap = torch.cumsum(det_background.long(), 0) <= self.bg_max_per_image
                    keep |= det_background & (within_cap | (self.bg_max_per_image < 0))
                image_nodes = Instances(image_size)
                image_nodes.boxes = Boxes.cat([gt.gt_boxes, detections.pred_boxes[keep]])
                image_nodes.gt_classes = torch.cat([gt.gt_classes, det_classes[keep]])
                image_nodes.background = torch.cat(
                    [torch.zeros_like(gt.gt_classes, dtype=torch.bool), det_background[keep]]
                )
                nodes.append(image_nodes)
        return nodes

    @torch.no_grad()
    def teacher_forward(self, batched_inputs: list[dict], boxes: list[Boxes]) -> dict:
        """Teacher FPN features, its pooled features on the node boxes, and its dense predictions if a RetinaNet."""
        teacher = self.teacher
        images, scales = self.teacher_images(batched_inputs)
        features = teacher.backbone(images.tensor)
        boxes = self.teacher_boxes(boxes, scales)
        pooled = self.teacher_node_pooler(
            [features[f] for f in self.teacher_node_in_features], boxes
        )  # (N, C_t, 7, 7)
        out = {"features": features, "pooled": pooled}
        if self._same_anchors and (self.logit_weight > 0 or self.box_weight > 0):
            logits, deltas = teacher._transpose_dense_predictions(
                teacher.head([features[f] for f in teacher.head_in_features]), [teacher.num_classes, 4]
            )
            out.update(logits=cat(logits, dim=1), deltas=cat(deltas, dim=1))  # (B, A, Q), (B, A, 4)
        return out

    def graph_losses(self, student_pooled: Tensor, teacher_pooled: Tensor, nodes: list[Instances]) -> dict:
        losses, stats = self.distiller(
            student_pooled,
            teacher_pooled,
            torch.cat([n.boxes.tensor for n in nodes]),
            [len(n) for n in nodes],
            torch.cat([n.background for n in nodes]),
            torch.cat([n.gt_classes for n in nodes]),
        )
        try:
            get_event_storage().put_scalars(**stats)
        except AssertionError:  # no EventStorage (e.g. a bare forward in a notebook): nothing to log to
            pass
        return losses

    def extra_losses(
        self,
        features: dict[str, Tensor],
        pred_logits: list[Tensor],
        pred_deltas: list[Tensor],
        gt_labels: list[Tensor],
        teacher_out: dict,
    ) -> dict:
        """Dsig's extras on a dense head: FPN MSE, and logit KD / box L1 on foreground anchors (RetinaNet teacher)."""
        losses = self.fpn_loss(features, teacher_out["features"])
        if self.logit_weight <= 0 and self.box_weight <= 0:
            return losses
        logits, deltas = cat(pred_logits, dim=1), cat(pred_deltas, dim=1)  # (B, A, Q), (B, A, 4)
        if not self._same_anchors or teacher_out["logits"].shape != logits.shape:
            if not self._dense_kd_warned:
                logger.warning(
                    "GRAPHKD.EXTRAS.LOGIT_WEIGHT/BOX_WEIGHT need a RetinaNet teacher with the student's anchors "
                    "and classes (teacher %s): skipping the dense logit and box KD",
                    type(self.teacher).__name__,
                )
                self._dense_kd_warned = True
            return losses
        labels = torch.stack(gt_labels)  # (B, A)
        foreground = (labels >= 0) & (labels != self.num_classes)
        if self.logit_weight > 0:
            losses["loss_graphkd_logit"] = self.logit_weight * roi_logit_kd(
                logits[foreground], teacher_out["logits"][foreground], self.logit_temperature
            )
        if self.box_weight > 0:
            losses["loss_graphkd_box"] = self.box_weight * dense_box_l1(
                deltas.flatten(0, 1), teacher_out["deltas"].flatten(0, 1), foreground.flatten()
            )
        return losses
