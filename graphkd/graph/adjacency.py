"""Spatial adjacency between the RoIs of each image (METHOD.md §3).

Shapes: ``N`` nodes of the whole batch, ``G`` graphs, ``K`` padded nodes per graph, ``E`` edges.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, to_dense_batch

from ._utils import exclusive_cumsum, float32_statistics, group_median, resolve_batch, resolve_num_graphs

# The pairwise test runs on (G, rows, K) blocks of at most this many box pairs, bounding its memory
# (8 images x 2,048 nodes would otherwise need several (8, 2048, 2048) float temporaries).
_PAIR_CHUNK = 1 << 22


def spatial_adjacency(
    boxes: Tensor,
    batch: Tensor | None = None,
    gap: float = 1.0,
    min_axis_overlap: float = 0.5,
    num_graphs: int | None = None,
) -> Tensor:
    """Undirected spatial adjacency of XYXY boxes, tested pairwise within each image only.

    Nodes p and q of the same image are adjacent when any of these holds:

    .. math::
        \\text{overlap:}\\quad & i_x > 0 \\wedge i_y > 0 \\\\
        \\text{same column:}\\quad & -i_y \\le \\text{gap} \\cdot \\tilde h
            \\wedge i_x \\ge r \\cdot \\min(w_p, w_q) \\\\
        \\text{side by side:}\\quad & -i_x \\le \\text{gap} \\cdot \\tilde w
            \\wedge i_y \\ge r \\cdot \\min(h_p, h_q)

    with i_x = min(x1_p, x1_q) - max(x0_p, x0_q) the horizontal extent overlap (minus the horizontal
    gap), i_y likewise vertically, \\tilde h and \\tilde w the (lower) median node height and width of
    the image, and r = ``min_axis_overlap``.

    The test is block-diagonal: boxes are padded to ``(G, K, 4)`` with `to_dense_batch` and compared
    in row chunks, so images never meet and no loop runs over images or nodes.

    Args:
        boxes: ``(N, 4)`` XYXY boxes in image pixels.
        batch: ``(N,)`` sorted graph index per node; one graph when ``None``.
        gap: the largest gap, as a multiple of the median node height (width), between neighbours.
        min_axis_overlap: the smallest extent overlap, as a fraction of the narrower (shorter) box.
        num_graphs: ``G``; inferred from ``batch`` when ``None``.

    Returns:
        ``(2, E)`` long edge index, both directions, coalesced, no self loops.
    """
    num_nodes = boxes.size(0)
    batch = resolve_batch(batch, num_nodes, boxes.device)
    num_graphs = resolve_num_graphs(batch, num_graphs)
    if num_nodes == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=boxes.device)
    with float32_statistics(boxes.device):
        boxes = boxes.detach().float()
        widths = (boxes[:, 2] - boxes[:, 0]).clamp(min=0)
        heights = (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
        max_vertical_gap = gap * group_median(heights, batch, num_graphs)  # (G,)
        max_horizontal_gap = gap * group_median(widths, batch, num_graphs)  # (G,)
        dense, valid = to_dense_batch(boxes, batch, batch_size=num_graphs)  # (G, K, 4), (G, K)
        max_nodes = dense.size(1)
        ptr = exclusive_cumsum(torch.bincount(batch, minlength=num_graphs))
        column = dense[:, None, :, :]  # (G, 1, K, 4): the "q" side of every pair
        rows_per_chunk = max(1, _PAIR_CHUNK // max(1, num_graphs * max_nodes))
        edges = []
        # Loop over row chunks of the padded pair matrix, only to bound memory.
        for first in range(0, max_nodes, rows_per_chunk):
            rows = torch.arange(first, min(first + rows_per_chunk, max_nodes), device=boxes.device)
            row = dense[:, rows, None, :]  # (G, r, 1, 4)
            overlap_x = torch.minimum(row[..., 2], column[..., 2]) - torch.maximum(row[..., 0], column[..., 0])
            overlap_y = torch.minimum(row[..., 3], column[..., 3]) - torch.maximum(row[..., 1], column[..., 1])
            row_w, col_w = row[..., 2] - row[..., 0], column[..., 2] - column[..., 0]
            row_h, col_h = row[..., 3] - row[..., 1], column[..., 3] - column[..., 1]
            overlapping = (overlap_x > 0) & (overlap_y > 0)
            same_column = (-overlap_y <= max_vertical_gap[:, None, None]) & (
                overlap_x >= min_axis_overlap * torch.minimum(row_w, col_w).clamp(min=0)
            )
            side_by_side = (-overlap_x <= max_horizontal_gap[:, None, None]) & (
                overlap_y >= min_axis_overlap * torch.minimum(row_h, col_h).clamp(min=0)
            )
            adjacent = overlapping | same_column | side_by_side  # (G, r, K)
            adjacent &= valid[:, rows, None] & valid[:, None, :]
            adjacent &= rows[None, :, None] != torch.arange(max_nodes, device=boxes.device)[None, None, :]
            graph, local_row, local_col = adjacent.nonzero(as_tuple=True)
            edges.append(torch.stack([ptr[graph] + rows[local_row], ptr[graph] + local_col]))
    return coalesce(torch.cat(edges, dim=1), num_nodes=num_nodes)
