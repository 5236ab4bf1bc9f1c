"""Spatial adjacency between the RoIs of each image (METHOD.md §3).

Shapes: ``N`` nodes of the whole batch, ``G`` graphs, ``K`` padded nodes per graph, ``E`` edges.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from .groups import exclusive_cumsum, float32_statistics, group_median, resolve_batch, resolve_num_graphs

# The pairwise test runs on (images, rows, K) blocks of at most this many box pairs: it bounds the
# memory (8 images x 2,048 nodes would otherwise need several (8, 2048, 2048) float temporaries) and
# keeps the temporaries near the cache (blocks of 4M pairs were 1.6x slower on CPU).
_PAIR_CHUNK = 1 << 19


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
    in ``(images, rows, K)`` blocks of the padded pair tensor, so images never meet and no loop runs
    over nodes; blocks hold several whole images when they are small.

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
        # Per node: its box, and the extent overlaps it asks of a neighbour (ratio x its width, height),
        # padded per image and stored as contiguous (G, K) planes so that every pairwise op broadcasts.
        nodes_table = torch.stack([*boxes.unbind(1), min_axis_overlap * widths, min_axis_overlap * heights])
        dense, valid = to_dense_batch(nodes_table.t(), batch, batch_size=num_graphs)  # (G, K, 6), (G, K)
        planes = dense.permute(2, 0, 1).contiguous()  # (6, G, K)
        max_nodes = dense.size(1)
        ptr = exclusive_cumsum(torch.bincount(batch, minlength=num_graphs))
        gaps = torch.stack([max_vertical_gap, max_horizontal_gap])  # (2, G)
        if max_nodes * max_nodes <= _PAIR_CHUNK:
            graphs_per_block, rows_per_block = max(1, _PAIR_CHUNK // (max_nodes * max_nodes)), max_nodes
        else:
            graphs_per_block, rows_per_block = 1, max(1, _PAIR_CHUNK // max_nodes)
        edges = []
        # Blocks of the padded (G, K, K) pair tensor in graph-major order: several whole images per
        # block when K^2 fits the budget, row bands of one image when it does not (K > 724). The loop
        # only bounds memory (PyG has no block-diagonal pairwise primitive; a single (G, K, K) block
        # would be both slower and gigabytes big); edges come out coalesced, without a sort.
        for first_graph in range(0, num_graphs, graphs_per_block):
            graphs = slice(first_graph, first_graph + graphs_per_block)
            for first_row in range(0, max_nodes, rows_per_block):
                rows = slice(first_row, first_row + rows_per_block)
                adjacent = _adjacent_block(planes[:, graphs], valid[graphs], gaps[:, graphs], rows)
                graph, row, column = adjacent.nonzero(as_tuple=True)
                offset = ptr[graph + first_graph]
                edges.append(torch.stack([offset + row + first_row, offset + column]))
    return torch.cat(edges, dim=1)


def _adjacent_block(planes: Tensor, valid: Tensor, gaps: Tensor, rows: slice) -> Tensor:
    """``(g, r, K)`` bool adjacency of the padded nodes ``rows`` of some images with all their nodes.

    ``planes`` (6, g, K) holds x0, y0, x1, y1, ratio x width, ratio x height; ``valid`` (g, K) marks
    real nodes; ``gaps`` (2, g) the largest vertical and horizontal gaps of each image.
    """
    x0, y0, x1, y1, min_width, min_height = planes[:, :, None, :]  # (g, 1, K): the j side
    row_x0, row_y0, row_x1, row_y1, row_width, row_height = planes[:, :, rows, None]  # (g, r, 1): the i side
    overlap_x = torch.minimum(row_x1, x1) - torch.maximum(row_x0, x0)  # (g, r, K)
    overlap_y = torch.minimum(row_y1, y1) - torch.maximum(row_y0, y0)
    overlapping = (overlap_x > 0) & (overlap_y > 0)
    same_column = (overlap_y >= -gaps[0, :, None, None]) & (overlap_x >= torch.minimum(row_width, min_width))
    side_by_side = (overlap_x >= -gaps[1, :, None, None]) & (
        overlap_y >= torch.minimum(row_height, min_height)
    )
    adjacent = overlapping | same_column | side_by_side
    adjacent &= valid[:, rows, None] & valid[:, None, :]
    columns = torch.arange(valid.size(1), device=valid.device)
    adjacent &= columns[rows, None] != columns[None, :]  # no self loops
    return adjacent
