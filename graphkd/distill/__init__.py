"""Distillation losses on instance graphs (METHOD.md section 6); imports no detectron2."""

from .extras import fpn_feature_mse, roi_box_l1, roi_logit_kd
from .losses import (
    EDGE_LOSSES,
    DiagMahalanobisEdgeLoss,
    MahalanobisEdgeLoss,
    MSEEdgeLoss,
    build_edge_loss,
    edge_type_matrix,
    node_loss,
    relation_matrices,
)

__all__ = [
    "EDGE_LOSSES",
    "DiagMahalanobisEdgeLoss",
    "MSEEdgeLoss",
    "MahalanobisEdgeLoss",
    "build_edge_loss",
    "edge_type_matrix",
    "fpn_feature_mse",
    "node_loss",
    "relation_matrices",
    "roi_box_l1",
    "roi_logit_kd",
]
