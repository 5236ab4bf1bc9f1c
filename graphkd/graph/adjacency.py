"""Spatial adjacency between the RoIs of each image (METHOD.md §3).

Shapes: ``N`` nodes of the whole batch, ``G`` graphs, ``K`` padded nodes per graph, ``E`` edges.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from ._utils import exclusive_cumsum, float32_statistics, group_median, resolve_batch, resolve_num_graphs

# The pairwise test runs on (G, rows, K) blocks of at most this many box pairs: it bounds the memory
# (8 images x 2,048 nodes would otherwise need several (8, 2048, 2048) float temporaries) and keeps
# the temporaries near the cache (blocks of 4M pairs were 1.6x slower on CPU).
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
    as ``(G, rows, K)`` blocks (all images at once, in chunks of rows), so images never meet and no
    loop runs over images or nodes.

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
        # padded per image and stored as contiguous (G, K) planes so every pairwise op broadcasts.
        nodes_table = torch.stack([*boxes.unbind(1), min_axis_overlap * widths, min_axis_overlap * heights])
        dense, valid = to_dense_batch(nodes_table.t(), batch, batch_size=num_graphs)  # (G, K, 6), (G, K)
        x0, y0, x1, y1, min_width, min_height = dense.permute(2, 0, 1).contiguous()  # (G, K) each
        max_nodes = dense.size(1)
        node_counts = torch.bincount(batch, minlength=num_graphs)
        column_index = torch.arange(max_nodes, device=boxes.device)
        vertical_gap, horizontal_gap = -max_vertical_gap[:, None, None], -max_horizontal_gap[:, None, None]
        rows_per_chunk = max(1, _PAIR_CHUNK // max(1, num_graphs * max_nodes))
        chunks = []
        # Rows (the i of every pair i-j) in chunks of local indices, all images at once; the loop only
        # bounds memory. Within a chunk the pairs come out ordered by (image, i, j).
        for first in range(0, max_nodes, rows_per_chunk):
            rows = slice(first, first + rows_per_chunk)
            overlap_x = torch.minimum(x1[:, rows, None], x1[:, None, :]) - torch.maximum(
                x0[:, rows, None], x0[:, None, :]
            )  # (G, r, K)
            overlap_y = torch.minimum(y1[:, rows, None], y1[:, None, :]) - torch.maximum(
                y0[:, rows, None], y0[:, None, :]
            )
            overlapping = (overlap_x > 0) & (overlap_y > 0)
            same_column = (overlap_y >= vertical_gap) & (
                overlap_x >= torch.minimum(min_width[:, rows, None], min_width[:, None, :])
            )
            side_by_side = (overlap_x >= horizontal_gap) & (
                overlap_y >= torch.minimum(min_height[:, rows, None], min_height[:, None, :])
            )
            adjacent = overlapping | same_column | side_by_side
            adjacent &= valid[:, rows, None] & valid[:, None, :]
            adjacent &= column_index[rows, None] != column_index[None, :]
            graph, row, column = adjacent.nonzero(as_tuple=True)
            chunks.append((graph, row + first, column))
        return _graph_major(chunks, node_counts)


def _graph_major(chunks: list[tuple[Tensor, Tensor, Tensor]], node_counts: Tensor) -> Tensor:
    """Concatenate per-chunk ``(graph, i, j)`` pairs, each chunk ordered by graph, into a coalesced
    global edge index ordered by (graph, i, j): a counting sort on the graph, no comparison sort."""
    num_graphs = node_counts.numel()
    graph, row, column = (torch.cat(parts) for parts in zip(*chunks))
    chunk_sizes = torch.tensor([len(part[0]) for part in chunks], device=graph.device)
    chunk = torch.repeat_interleave(torch.arange(len(chunks), device=graph.device), chunk_sizes)  # (E,)
    counts = torch.zeros(len(chunks), num_graphs, dtype=torch.long, device=graph.device)
    counts.index_put_((chunk, graph), torch.ones_like(graph), accumulate=True)  # (chunks, G)
    graph_start = exclusive_cumsum(counts.sum(0))[:-1]  # (G,) first edge of each graph
    earlier_chunks = counts.cumsum(0) - counts  # (chunks, G) edges of a graph in the chunks before
    within_chunk = exclusive_cumsum(counts.view(-1))[:-1].view_as(counts)  # start of (chunk, graph)
    position = torch.arange(graph.numel(), device=graph.device)
    destination = graph_start[graph] + earlier_chunks[chunk, graph] + position - within_chunk[chunk, graph]
    ptr = exclusive_cumsum(node_counts)
    edge_index = torch.empty(2, graph.numel(), dtype=torch.long, device=graph.device)
    edge_index[0, destination] = ptr[graph] + row
    edge_index[1, destination] = ptr[graph] + column
    return edge_index
