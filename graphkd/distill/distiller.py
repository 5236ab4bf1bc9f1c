"""The GraphKD distillation head: pooled RoI features in, graph losses out.

Shapes: ``N`` candidate nodes (RoIs) of a batch, ``C``/``C_t`` student/teacher channels, ``P`` pooled cells.
This module imports no detectron2: the meta-architecture hands it plain tensors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from graphkd.graph import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    AdaptiveNodeSampler,
    TextNodeMerge,
    build_instance_graphs,
    node_type_agreement,
)

from .losses import build_edge_loss, node_loss

logger = logging.getLogger(__name__)

SAMPLING_MODES = ("weight", "sample", "none")


class GraphKDDistiller(nn.Module):
    """Builds the structured instance graphs of a batch and computes the weighted node and edge losses.

    L = lambda_node * L_node(weighted by the sampler) + lambda_edge * L_edge(relation matrices), both over the
    merged and sampled graphs (METHOD.md §1-6).
    """

    def __init__(
        self,
        *,
        student_channels: int,
        teacher_channels: int,
        node_loss_weight: float = 0.5,
        edge_loss_weight: float = 1.0,
        edge_loss: nn.Module | None = None,
        node_type_mode: str = "covariance",
        text_classes: Sequence[int] = (),
        adjacency_gap: float = 1.0,
        min_axis_overlap: float = 0.5,
        merge: TextNodeMerge | None = None,
        sampling_mode: str = "weight",
        sampling_beta: float = 1.0,
        bg_weight_alpha: float = 7.5,
    ) -> None:
        super().__init__()
        if sampling_mode not in SAMPLING_MODES:
            raise ValueError(f"GRAPHKD.SAMPLING.MODE must be one of {SAMPLING_MODES}, got {sampling_mode!r}")
        if node_type_mode not in ("covariance", "gt"):
            raise ValueError(f"GRAPHKD.NODE_TYPE.MODE must be 'covariance' or 'gt', got {node_type_mode!r}")
        if node_type_mode == "gt" and not text_classes:
            raise ValueError("GRAPHKD.NODE_TYPE.MODE 'gt' needs text classes (dataset metadata or config)")
        # FitNet-style 1x1 adapter when the channel counts differ; trained with the student, dropped at export.
        self.adapter = (
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
            if student_channels != teacher_channels
            else None
        )
        self.node_loss_weight = node_loss_weight
        self.edge_loss_weight = edge_loss_weight
        self.edge_loss = edge_loss if edge_loss is not None else build_edge_loss("mahalanobis")
        self.node_type_mode = node_type_mode
        self.text_classes = list(text_classes)
        self.adjacency_gap = adjacency_gap
        self.min_axis_overlap = min_axis_overlap
        self.merge = merge
        # "none" is Dsig's weighting: every foreground node 1, background alpha * N_fg / N_bg.
        self.sampler = AdaptiveNodeSampler(
            mode="weight" if sampling_mode == "none" else sampling_mode,
            beta=math.inf if sampling_mode == "none" else sampling_beta,
            bg_alpha=bg_weight_alpha,
        )

    @classmethod
    def from_config(cls, cfg: Any, student_channels: int, teacher_channels: int, text_classes: Sequence[int]):
        """Map the ``GRAPHKD.*`` config values onto the constructor."""
        g = cfg.GRAPHKD
        edge_kwargs = {"eps": g.EDGE_LOSS.EPS}
        if g.EDGE_LOSS.TYPE == "mahalanobis":
            edge_kwargs["shrinkage"] = g.EDGE_LOSS.SHRINKAGE
        elif g.EDGE_LOSS.TYPE == "mahalanobis_diag":
            edge_kwargs["momentum"] = g.EDGE_LOSS.MOMENTUM
        else:
            edge_kwargs = {}
        merge = (
            TextNodeMerge(g.MERGE.THRESH, g.MERGE.MAX_ROUNDS, g.MERGE.MIN_TEXT_RATIO)
            if g.MERGE.ENABLED
            else None
        )
        return cls(
            student_channels=student_channels,
            teacher_channels=teacher_channels,
            node_loss_weight=g.NODE_LOSS_WEIGHT,
            edge_loss_weight=g.EDGE_LOSS_WEIGHT,
            edge_loss=build_edge_loss(g.EDGE_LOSS.TYPE, **edge_kwargs),
            node_type_mode=g.NODE_TYPE.MODE,
            text_classes=text_classes,
            adjacency_gap=g.ADJACENCY.GAP,
            min_axis_overlap=g.ADJACENCY.MIN_AXIS_OVERLAP,
            merge=merge,
            sampling_mode=g.SAMPLING.MODE,
            sampling_beta=g.SAMPLING.BETA,
            bg_weight_alpha=g.BG_WEIGHT_ALPHA,
        )

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
        gt_classes: Tensor,  # (N,)
    ):
        """Graphs before merging and sampling (also what ``inspect_graph.py`` draws)."""
        return build_instance_graphs(
            self.adapt(student_feats),
            teacher_feats.detach(),
            boxes,
            num_nodes_per_image,
            is_background=is_background,
            gt_classes=gt_classes,
            text_classes=self.text_classes or None,
            node_type_mode=self.node_type_mode,
            adjacency_gap=self.adjacency_gap,
            min_axis_overlap=self.min_axis_overlap,
        )

    def forward(
        self,
        student_feats: Tensor,
        teacher_feats: Tensor,
        boxes: Tensor,
        num_nodes_per_image: Sequence[int],
        is_background: Tensor,
        gt_classes: Tensor,
    ) -> tuple[dict[str, Tensor], dict[str, float]]:
        """Return ``({"loss_graphkd_node": ..., "loss_graphkd_edge": ...}, stats)``, losses already weighted."""
        graphs = self.build_graphs(
            student_feats, teacher_feats, boxes, num_nodes_per_image, is_background, gt_classes
        )
        stats = self.node_stats(graphs, "")
        if self.merge is not None:
            graphs = self.merge(graphs).batch
        sampled = self.sampler(graphs)
        graphs = sampled.batch
        stats.update(self.node_stats(graphs, "final_"))
        num_graphs = graphs.num_graphs
        losses = {
            "loss_graphkd_node": self.node_loss_weight
            * node_loss(
                graphs.x, graphs.x_teacher, graphs.batch, weight=sampled.weight, num_graphs=num_graphs
            ),
            "loss_graphkd_edge": self.edge_loss_weight
            * self.edge_loss(
                graphs.x, graphs.x_teacher, graphs.batch, node_type=graphs.node_type, num_graphs=num_graphs
            ),
        }
        return losses, stats

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
