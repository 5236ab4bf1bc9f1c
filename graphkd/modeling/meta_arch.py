"""``GraphKDRCNN``: a student Faster R-CNN trained with GraphKD against a frozen detectron2 teacher.

Shapes: ``B`` images, ``R`` sampled RoIs of the batch, ``N`` graph nodes, ``C``/``C_t`` student/teacher
channels. Inference is plain student inference (``GeneralizedRCNN.inference``).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import torch
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN, StandardROIHeads
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import get_event_storage
from torch import Tensor, nn

from graphkd.distill import roi_box_kd, roi_logit_kd
from graphkd.distill.distiller import GraphKDDistiller, Negatives
from graphkd.graph.groups import rank_within_groups

from .teacher_student import (
    DistillSettings,
    TeacherStudentMixin,
    build_teacher_from_cfg,
    distillation_from_config,
    pooled_channels,
    roi_image_index,
)

logger = logging.getLogger(__name__)

__all__ = ["GraphKDRCNN", "NodeInputs"]


class NodeInputs(NamedTuple):
    """A training step's graph nodes (N of them), in ``GraphKDDistiller.forward``'s argument order."""

    student: Tensor  # (N, C, 7, 7) student RoI features
    teacher: Tensor  # (N, C_t, 7, 7)
    boxes: Tensor  # (N, 4) in the student's image frame
    num_nodes: list[int]  # per image
    is_background: Tensor  # (N,) mined negatives
    gt_classes: Tensor  # (N,) GT class of each node (num_classes for background)
    negatives: Negatives  # every sampled negative RoI (the node loss's background term)


@META_ARCH_REGISTRY.register()
class GraphKDRCNN(TeacherStudentMixin, GeneralizedRCNN):
    """A ``GeneralizedRCNN`` student whose training loss adds GraphKD's node and edge distillation terms.

    The teacher is held outside the module tree (``TeacherStudentMixin``).
    """

    @configurable
    def __init__(
        self,
        *,
        teacher: nn.Module,
        distiller: GraphKDDistiller,
        settings: DistillSettings | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if (
            not isinstance(self.roi_heads, StandardROIHeads)
            or type(self.roi_heads).__name__ == "CascadeROIHeads"
        ):
            raise TypeError(f"GraphKDRCNN needs StandardROIHeads, got {type(self.roi_heads).__name__}")
        if self.roi_heads.mask_on or self.roi_heads.keypoint_on:
            raise ValueError(
                "GraphKDRCNN distils box detectors: set MODEL.MASK_ON and MODEL.KEYPOINT_ON False"
            )
        self.init_distillation(teacher, distiller, settings)

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        teacher = build_teacher_from_cfg(cfg, cfg.MODEL.ROI_HEADS.NUM_CLASSES)
        student_channels = pooled_channels(ret["backbone"], ret["roi_heads"].box_in_features)
        teacher_channels = pooled_channels(teacher.backbone, teacher.roi_heads.box_in_features)
        ret.update(
            teacher=teacher,
            **distillation_from_config(cfg, student_channels, teacher_channels),
        )
        return ret

    def forward(self, batched_inputs: list[dict]):
        if not self.training:
            return self.inference(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        features = self.backbone(images.tensor)
        proposals, boxes, student_pooled, proposal_losses = self.training_rois(images, features, gt_instances)
        roi_heads = self.roi_heads
        predictions = roi_heads.box_predictor(roi_heads.box_head(student_pooled))
        losses = dict(roi_heads.box_predictor.losses(predictions, proposals))
        losses.update(proposal_losses)

        teacher_out = self.teacher_forward(batched_inputs, boxes)
        losses.update(self.graph_losses(student_pooled, teacher_out, proposals))
        losses.update(self.extra_losses(features, predictions, teacher_out, proposals))
        return losses

    def training_rois(
        self, images, features: dict[str, Tensor], gt_instances: list[Instances]
    ) -> tuple[list[Instances], list[Boxes], Tensor, dict]:
        """A training step's RoIs: RPN proposals labelled and sampled by the RoI heads (GT boxes added), their
        boxes per image, the student's pooled features (R, C, 7, 7) and the RPN losses."""
        proposals, proposal_losses = self.proposal_generator(images, features, gt_instances)
        roi_heads = self.roi_heads
        proposals = roi_heads.label_and_sample_proposals(proposals, gt_instances)
        boxes = [p.proposal_boxes for p in proposals]
        student_pooled = roi_heads.box_pooler([features[f] for f in roi_heads.box_in_features], boxes)
        return proposals, boxes, student_pooled, proposal_losses

    @torch.no_grad()
    def teacher_forward(self, batched_inputs: list[dict], boxes: list[Boxes]) -> dict:
        """Teacher FPN features, and its pooled features and predictions on the student's RoIs."""
        teacher = self.teacher
        images, scales = self.teacher_images(batched_inputs)
        features = teacher.backbone(images.tensor)
        boxes = self.teacher_boxes(boxes, scales)
        heads = teacher.roi_heads
        pooled = heads.box_pooler([features[f] for f in heads.box_in_features], boxes)  # (R, C_t, 7, 7)
        scores, deltas = heads.box_predictor(heads.box_head(pooled))
        return {"features": features, "pooled": pooled, "scores": scores, "deltas": deltas}

    def select_nodes(self, proposals: list[Instances], teacher_scores: Tensor) -> tuple[Tensor, Tensor]:
        """Node mask over the R RoIs (positives + mined negatives) and the background flag, both (R,).

        A negative is mined when the teacher's cross-entropy on it against "background" is at least
        ``bg_mining_thresh``; per image the highest-CE ones are kept, at most ``bg_max_per_image`` (-1: all).
        """
        num_classes = self.roi_heads.num_classes
        gt_classes = torch.cat([p.gt_classes for p in proposals])  # (R,)
        foreground = (gt_classes >= 0) & (gt_classes < num_classes)
        background = torch.zeros_like(foreground)
        if self.bg_mining and self.bg_max_per_image != 0:
            # Teacher cross-entropy against "background": hard negatives look like objects to the teacher.
            ce = -F.log_softmax(teacher_scores.float(), dim=1)[:, num_classes]  # (R,)
            candidate = ~foreground & (ce >= self.bg_mining_thresh)
            if self.bg_max_per_image < 0:
                return foreground | candidate, candidate
            image_index = roi_image_index(proposals, ce.device)
            # rank candidates by CE within their image (highest first, ties by position); keep the top ones
            score = torch.where(candidate, ce, torch.full_like(ce, -1.0))
            rank = rank_within_groups(-score, image_index, len(proposals))
            background = candidate & (rank < self.bg_max_per_image)
        return foreground | background, background

    def node_inputs(
        self, proposals: list[Instances], student_pooled: Tensor, teacher_out: dict
    ) -> NodeInputs:
        """The graph nodes of a training step (``select_nodes``) as the distiller takes them, and every negative
        RoI for the node loss's background term; also what ``inspect_graph.py`` draws."""
        node_mask, background = self.select_nodes(proposals, teacher_out["scores"])
        image_index = roi_image_index(proposals, node_mask.device)
        gt_classes = torch.cat([p.gt_classes for p in proposals])
        negative = gt_classes == self.roi_heads.num_classes  # (R,) every sampled negative
        return NodeInputs(
            student=student_pooled[node_mask],
            teacher=teacher_out["pooled"][node_mask],
            boxes=torch.cat([p.proposal_boxes.tensor for p in proposals])[node_mask],
            num_nodes=torch.bincount(image_index[node_mask], minlength=len(proposals)).tolist(),
            is_background=background[node_mask],
            gt_classes=gt_classes[node_mask],
            negatives=Negatives(
                student_pooled[negative], teacher_out["pooled"][negative], image_index[negative]
            ),
        )

    def graph_losses(self, student_pooled: Tensor, teacher_out: dict, proposals: list[Instances]) -> dict:
        """GraphKD's node and edge terms on the nodes of ``select_nodes``, the node loss's background term over
        every negative RoI (METHOD.md §6)."""
        nodes = self.node_inputs(proposals, student_pooled, teacher_out)
        losses, stats = self.distiller(*nodes[:6], negatives=nodes.negatives)
        try:
            get_event_storage().put_scalars(**stats)
        except AssertionError:  # no EventStorage (e.g. a bare forward in a notebook): nothing to log to
            pass
        return losses

    def extra_losses(
        self, features: dict, predictions, teacher_out: dict, proposals: list[Instances]
    ) -> dict:
        """Dsig's optional extras at Dsig's scale (METHOD.md §6): FPN feature MSE summed over the levels, RoI
        logit KD (elementwise mean over the sampled RoIs), RoI box KD (GT-class columns, / all RoIs)."""
        losses = self.fpn_loss(features, teacher_out["features"])
        scores, deltas = predictions
        rois_per_image = [len(p) for p in proposals]
        if self.logit_weight > 0:
            losses["loss_graphkd_logit"] = self.logit_weight * roi_logit_kd(
                scores, teacher_out["scores"], self.logit_temperature, rois_per_image, self.image_reduction
            )
        if self.box_weight > 0:
            losses["loss_graphkd_box"] = self.box_weight * roi_box_kd(
                deltas,
                teacher_out["deltas"],
                torch.cat([p.gt_classes for p in proposals]),
                self.roi_heads.num_classes,
                beta=self.roi_heads.box_predictor.smooth_l1_beta,
                rois_per_image=rois_per_image,
                reduction=self.image_reduction,
            )
        return losses
