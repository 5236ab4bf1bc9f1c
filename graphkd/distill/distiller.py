"""The GraphKD distillation head: pooled RoI features in, graph losses out.

Shapes: ``N`` candidate nodes (RoIs) of a batch, ``C``/``C_t`` student/teacher channels, ``P`` pooled cells.
This module imports no detectron2: the meta-architecture hands it plain tensors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from graphkd.graph import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    AdaptiveNodeSampler,
    SampleOutput,
    TextNodeMerge,
    build_instance_graphs,
    node_type_agreement,
)
from graphkd.graph.sampler import SAMPLING_MODES

from .losses import (
    IMAGE_REDUCTIONS,
    background_node_loss,
    build_edge_loss,
    foreground_node_loss,
    reduce_images,
)

logger = logging.getLogger(__name__)


class Negatives(NamedTuple):
    """ALL negative RoIs the student sampled (METHOD.md §6's ``neg_b``), for the node loss's background term."""

    student: Tensor  # (M, C, 7, 7) student pooled features (before the adapter)
    teacher: Tensor  # (M, C_t, 7, 7)
    batch: Tensor  # (M,) image of each negative


class DistillStages(NamedTuple):
    """The graphs of a batch at each stage of the distiller (what ``inspect_graph.py`` draws)."""

    graphs: Batch  # built, typed, before merging
    merged: Batch  # after text-node merging (``graphs`` when merging is off)
    cluster: Tensor  # (N,) merged node of each node of ``graphs``
    sampled: SampleOutput  # the final graphs (``sampled.batch``) and their node weights


class GraphKDDistiller(nn.Module):
    """Builds the structured instance graphs of a batch and computes GraphKD's node and edge losses.

    ``L = lambda_fg L_fg + lambda_bg L_bg + lambda_edge L_edge`` (METHOD.md §1-6): the foreground node term is
    the sampler-weighted mean over the final (merged, sampled) foreground nodes; the background term is Dsig's,
    over all negatives, scaled by ``alpha |fg_b| / |neg_b|``; the edge loss runs over the final graphs
    (foreground and mined background nodes). Every term is reduced over the images by ``image_reduction``.
    """

    def __init__(
        self,
        *,
        student_channels: int,
        teacher_channels: int,
        fg_loss_weight: float = 0.5,
        bg_loss_weight: float = 0.5,
        bg_weight_alpha: float = 7.5,
        edge_loss_weight: float = 1.0,
        edge_loss: nn.Module | None = None,
        node_type_mode: str = "covariance",
        text_classes: Sequence[int] = (),
        adjacency_gap: float = 1.0,
        min_axis_overlap: float = 0.5,
        merge: TextNodeMerge | None = None,
        sampling_mode: str = "weight",
        sampling_beta: float = 1.0,
        image_reduction: str = "mean",
    ) -> None:
        super().__init__()
        if sampling_mode not in SAMPLING_MODES:
            raise ValueError(f"GRAPHKD.SAMPLING.MODE must be one of {SAMPLING_MODES}, got {sampling_mode!r}")
        if node_type_mode not in ("covariance", "gt"):
            raise ValueError(f"GRAPHKD.NODE_TYPE.MODE must be 'covariance' or 'gt', got {node_type_mode!r}")
        if node_type_mode == "gt" and not text_classes:
            raise ValueError("GRAPHKD.NODE_TYPE.MODE 'gt' needs text classes (dataset metadata or config)")
        if image_reduction not in IMAGE_REDUCTIONS:
            raise ValueError(
                f"GRAPHKD.IMAGE_REDUCTION must be one of {IMAGE_REDUCTIONS}, got {image_reduction!r}"
            )
        # FitNet-style 1x1 adapter when the channel counts differ; trained with the student, dropped at export.
        self.adapter = (
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
            if student_channels != teacher_channels
            else None
        )
        self.fg_loss_weight = fg_loss_weight
        self.bg_loss_weight = bg_loss_weight
        self.bg_weight_alpha = bg_weight_alpha
        self.edge_loss_weight = edge_loss_weight
        self.edge_loss = edge_loss if edge_loss is not None else build_edge_loss("mahalanobis")
        if getattr(self.edge_loss, "reduction", image_reduction) != image_reduction:
            raise ValueError(
                f"the edge loss reduces graphs by {self.edge_loss.reduction!r}, the distiller by {image_reduction!r}"
            )
        self.node_type_mode = node_type_mode
        self.text_classes = list(text_classes)
        self.adjacency_gap = adjacency_gap
        self.min_axis_overlap = min_axis_overlap
        self.merge = merge
        self.sampler = AdaptiveNodeSampler(mode=sampling_mode, beta=sampling_beta)
        self.image_reduction = image_reduction

    def adapt(self, student_feats: Tensor) -> Tensor:
        """Map student RoI features onto the teacher's channels (identity when they already agree)."""
        return student_feats if self.adapter is None else self.adapter(student_feats)

    def build_graphs(
        self,
        student_feats: Tensor,  # (N, C, 7, 7)
        teacher_feats: Tensor,  # (N, C_t, 7, 7)
        boxes: Tensor,  # (N, 4)
        num_nodes_per_image: Sequence[int],
        is_background: Tensor,  # (N,) bool
        gt_classes: Tensor | None,  # (N,); None: no GT classes (covariance typing alone)
        text_classes: Sequence[int] | None = None,  # default: the distiller's
    ) -> Batch:
        """Graphs before merging and sampling (also what ``inspect_graph.py`` draws)."""
        return build_instance_graphs(
            self.adapt(student_feats),
            teacher_feats.detach(),
            boxes,
            num_nodes_per_image,
            is_background=is_background,
            gt_classes=gt_classes,
            text_classes=(self.text_classes if text_classes is None else text_classes) or None,
            node_type_mode=self.node_type_mode,
            adjacency_gap=self.adjacency_gap,
            min_axis_overlap=self.min_axis_overlap,
        )

    def stages(self, graphs: Batch, generator: torch.Generator | None = None) -> DistillStages:
        """Merge (when enabled) and sample the built ``graphs``; ``generator`` seeds ``"sample"`` mode."""
        if self.merge is not None:
            merged, cluster = self.merge(graphs)
        else:
            merged, cluster = graphs, torch.arange(graphs.num_nodes, device=graphs.box.device)
        return DistillStages(graphs, merged, cluster, self.sampler(merged, generator=generator))

    def losses(self, stages: DistillStages, negatives: Negatives | None = None) -> dict[str, Tensor]:
        """``loss_graphkd_node_fg``, ``loss_graphkd_node_bg`` and ``loss_graphkd_edge``, already weighted.

        ``negatives`` are all the negative RoIs of the batch (R-CNN students); without them (RetinaNet students,
        a lone page) the background nodes of the graphs stand in for them.
        """
        graphs, final, weight = stages.graphs, stages.sampled.batch, stages.sampled.weight
        num_graphs = graphs.num_graphs
        fg_before = graphs.node_type != NODE_BACKGROUND
        num_foreground = torch.bincount(
            graphs.batch[fg_before], minlength=num_graphs
        )  # (G,) |fg_b|, unmerged
        fg = final.node_type != NODE_BACKGROUND
        fg_term = foreground_node_loss(
            final.x[fg], final.x_teacher[fg], final.batch[fg], weight=weight[fg], num_graphs=num_graphs
        )
        if negatives is None:
            neg_student, neg_teacher = graphs.x[~fg_before], graphs.x_teacher[~fg_before]
            neg_batch = graphs.batch[~fg_before]
        else:
            neg_student, neg_teacher = self.adapt(negatives.student), negatives.teacher
            neg_batch = negatives.batch
        bg_term = background_node_loss(
            neg_student, neg_teacher, neg_batch, num_foreground, self.bg_weight_alpha
        )
        edge = self.edge_loss(
            final.x, final.x_teacher, final.batch, node_type=final.node_type, num_graphs=num_graphs
        )
        return {
            "loss_graphkd_node_fg": self.fg_loss_weight * reduce_images(fg_term, self.image_reduction),
            "loss_graphkd_node_bg": self.bg_loss_weight * reduce_images(bg_term, self.image_reduction),
            "loss_graphkd_edge": self.edge_loss_weight * edge,
        }

    def forward(
        self,
        student_feats: Tensor,
        teacher_feats: Tensor,
        boxes: Tensor,
        num_nodes_per_image: Sequence[int],
        is_background: Tensor,
        gt_classes: Tensor,
        negatives: Negatives | None = None,
    ) -> tuple[dict[str, Tensor], dict[str, float]]:
        """Return ``(losses, stats)``: the weighted loss terms of ``losses()`` and the node counts to log."""
        graphs = self.build_graphs(
            student_feats, teacher_feats, boxes, num_nodes_per_image, is_background, gt_classes
        )
        stages = self.stages(graphs)
        stats = self.node_stats(graphs, "")
        stats.update(self.node_stats(stages.sampled.batch, "final_"))
        return self.losses(stages, negatives), stats

    @staticmethod
    def node_stats(graphs, prefix: str) -> dict[str, float]:
        """Per-batch node counts by type (and the text/non-text agreement with GT) for the training log."""
        node_type = graphs.node_type
        stats = {
            f"graphkd/{prefix}text_nodes": float((node_type == NODE_TEXT).sum()),
            f"graphkd/{prefix}nontext_nodes": float((node_type == NODE_NONTEXT).sum()),
            f"graphkd/{prefix}bg_nodes": float((node_type == NODE_BACKGROUND).sum()),
        }
        if not prefix and hasattr(graphs, "gt_node_type"):
            agreement = node_type_agreement(node_type, graphs.gt_node_type)
            if not math.isnan(agreement):
                stats["graphkd/type_agreement"] = agreement
        return stats
