"""Distillation losses on instance graphs (METHOD.md section 6); imports no detectron2."""

from .extras import dense_box_l1, fpn_feature_mse, roi_box_kd, roi_logit_kd
from .losses import (
    EDGE_LOSSES,
    IMAGE_REDUCTIONS,
    DiagMahalanobisEdgeLoss,
    MahalanobisEdgeLoss,
    MSEEdgeLoss,
    background_node_loss,
    build_edge_loss,
    edge_type_matrix,
    foreground_node_loss,
    reduce_images,
    relation_matrices,
)

__all__ = [
    "EDGE_LOSSES",
    "IMAGE_REDUCTIONS",
    "DiagMahalanobisEdgeLoss",
    "MSEEdgeLoss",
    "MahalanobisEdgeLoss",
    "background_node_loss",
    "build_edge_loss",
    "dense_box_l1",
    "edge_type_matrix",
    "foreground_node_loss",
    "fpn_feature_mse",
    "reduce_images",
    "relation_matrices",
    "roi_box_kd",
    "roi_logit_kd",
]
