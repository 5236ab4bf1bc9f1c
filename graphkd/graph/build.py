"""Instance graphs from pooled RoI features: one PyG graph per image, batched (METHOD.md §1-3).

Shapes: ``N`` RoIs (nodes) of the whole batch, ``B`` images, ``C`` channels, ``P`` pooled cells,
``D = C * P``, ``E`` edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch

from .adjacency import spatial_adjacency
from .batching import make_batch
from .groups import counts_to_index
from .node_types import NODE_BACKGROUND, NODE_NONTEXT, covariance_node_types, gt_node_types

NODE_TYPE_MODES = ("covariance", "gt")


def build_instance_graphs(
    student_feats: Tensor,
    teacher_feats: Tensor,
    boxes: Tensor,
    num_nodes_per_image: Sequence[int] | Tensor,
    is_background: Tensor | None = None,
    gt_classes: Tensor | None = None,
    text_classes: Sequence[int] | None = None,
    node_type_mode: str = "covariance",
    adjacency_gap: float = 1.0,
    min_axis_overlap: float = 0.5,
) -> Batch:
    """Build the batch of instance graphs, one per image, from the RoIs of all images at once.

    Each graph holds ``x`` (K, D) the student features (gradient flows through), ``x_teacher``
    (K, D_t) detached, ``box`` (K, 4), ``node_type`` (K,), ``gt_class`` (K,) (-1 when unknown or
    background), ``gt_node_type`` (K,) (the GT split, -1 for foreground without GT) and
    ``edge_index`` (2, E), the spatial adjacency. The `Batch` is assembled from the concatenated
    tensors directly, and has ``num_graphs == B`` including images without RoIs.

    Args:
        student_feats: ``(N, C, 7, 7)`` or ``(N, C, P)`` student RoI features, RoIs of image 0 first.
        teacher_feats: ``(N, C_t, 7, 7)`` or ``(N, C_t, P)`` teacher RoI features of the same boxes.
        boxes: ``(N, 4)`` XYXY boxes in image pixels.
        num_nodes_per_image: ``(B,)`` RoIs per image, summing to N; entries may be 0.
        is_background: ``(N,)`` bool, mined negative RoIs (``NODE_BACKGROUND``); none when ``None``.
        gt_classes: ``(N,)`` long matched GT class (contiguous id); ignored for background nodes.
        text_classes: the contiguous class ids that count as text.
        node_type_mode: ``"covariance"`` (label-free Otsu split) or ``"gt"`` (needs GT classes).
        adjacency_gap: ``GRAPHKD.ADJACENCY.GAP``, the neighbour gap in median node heights (widths).
        min_axis_overlap: the extent overlap neighbours need, as a fraction of the narrower box.
    """
    if node_type_mode not in NODE_TYPE_MODES:
        raise ValueError(f"node_type_mode must be one of {NODE_TYPE_MODES}, got {node_type_mode!r}")
    device = student_feats.device
    num_nodes = student_feats.size(0)
    counts = torch.as_tensor(num_nodes_per_image, dtype=torch.long).to(device).view(-1)  # (B,)
    num_graphs = counts.numel()
    if int(counts.sum()) != num_nodes or teacher_feats.size(0) != num_nodes or boxes.size(0) != num_nodes:
        raise ValueError(
            f"{num_nodes} student, {teacher_feats.size(0)} teacher RoIs and {boxes.size(0)} boxes, "
            f"but num_nodes_per_image sums to {int(counts.sum())}"
        )
    batch = counts_to_index(counts)  # (N,)
    if is_background is None:
        is_background = torch.zeros(num_nodes, dtype=torch.bool, device=device)
    is_background = is_background.to(device=device, dtype=torch.bool)

    gt_known = gt_classes is not None and text_classes is not None
    if gt_classes is None:
        gt_class = torch.full((num_nodes,), -1, dtype=torch.long, device=device)
    else:
        gt_class = torch.where(is_background, -1, gt_classes.to(device=device, dtype=torch.long))
    if gt_known:
        gt_node_type = gt_node_types(gt_class, text_classes, is_background)
    else:
        gt_node_type = torch.where(is_background, NODE_BACKGROUND, -1).long()

    if node_type_mode == "gt":
        if not gt_known:
            raise ValueError('node_type_mode "gt" needs gt_classes and text_classes')
        # Positive RoIs always have a matched GT; a foreground node without one counts as non-text.
        node_type = torch.where(gt_node_type < 0, NODE_NONTEXT, gt_node_type).long()
    else:
        node_type = covariance_node_types(teacher_feats, batch, is_background, num_graphs)

    box = boxes.detach().float()
    edge_index = spatial_adjacency(box, batch, adjacency_gap, min_axis_overlap, num_graphs)
    node_attrs = {
        "x": student_feats.flatten(1),  # (N, D)
        "x_teacher": teacher_feats.detach().flatten(1),  # (N, D_t)
        "box": box,
        "node_type": node_type,
        "gt_class": gt_class,
        "gt_node_type": gt_node_type,
    }
    return make_batch(node_attrs, edge_index, batch, num_graphs)
