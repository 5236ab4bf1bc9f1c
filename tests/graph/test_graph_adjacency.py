"""Spatial adjacency rules on laid-out boxes (METHOD.md §3)."""

import statistics

import pytest
import torch

import graphkd.graph.adjacency as adjacency_module
from graphkd.graph import spatial_adjacency

# Two columns of stacked paragraphs; the right column is offset 60 px down, so side-by-side
# paragraphs share only 40 of their 100 px height (< 50%).
LEFT = [[50, 100, 290, 200], [50, 220, 290, 320], [50, 340, 290, 440]]
RIGHT = [[310, 160, 550, 260], [310, 280, 550, 380], [310, 400, 550, 500]]


def reference_adjacency(
    boxes: list[list[float]], gap: float = 1.0, ratio: float = 0.5
) -> set[tuple[int, int]]:
    """Pairwise Python loop over one image, straight from METHOD.md §3."""
    heights = [y1 - y0 for _, y0, _, y1 in boxes]
    widths = [x1 - x0 for x0, _, x1, _ in boxes]
    median_h = statistics.median_low(heights) if boxes else 0.0
    median_w = statistics.median_low(widths) if boxes else 0.0
    edges = set()
    for p, (px0, py0, px1, py1) in enumerate(boxes):
        for q, (qx0, qy0, qx1, qy1) in enumerate(boxes):
            if p == q:
                continue
            overlap_x = min(px1, qx1) - max(px0, qx0)
            overlap_y = min(py1, qy1) - max(py0, qy0)
            overlapping = overlap_x > 0 and overlap_y > 0
            same_column = -overlap_y <= gap * median_h and overlap_x >= ratio * min(widths[p], widths[q])
            side_by_side = -overlap_x <= gap * median_w and overlap_y >= ratio * min(heights[p], heights[q])
            if overlapping or same_column or side_by_side:
                edges.add((p, q))
    return edges


def edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def test_two_columns_link_same_column_neighbours_only():
    boxes = torch.tensor(LEFT + RIGHT, dtype=torch.float32)
    edge_index = spatial_adjacency(boxes)
    expected = {(0, 1), (1, 2), (3, 4), (4, 5)}
    assert edge_set(edge_index) == expected | {(q, p) for p, q in expected}
    # Coalesced: sorted by (source, target), no duplicates, no self loops.
    assert edge_index.tolist() == [[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]]


def test_gap_parameter_scales_with_median_height():
    boxes = torch.tensor(LEFT, dtype=torch.float32)  # gaps 20 and 20; L0-L2 gap 140, median height 100
    assert (0, 2) not in edge_set(spatial_adjacency(boxes, gap=1.0))
    assert (0, 2) in edge_set(spatial_adjacency(boxes, gap=1.5))
    assert (0, 2) not in edge_set(spatial_adjacency(boxes, gap=1.375))


def test_side_by_side_overlap_and_title_rules():
    side = [[50, 600, 290, 700], [310, 610, 550, 710]]  # share 90 of 100 px height: side by side
    title = [[50, 60, 150, 80]]  # above L0, gap 20, overlaps L0 over its whole 100 px width
    overlapping = [[260, 110, 330, 150]]  # overlaps L0's right edge
    boxes = LEFT + RIGHT + side + title + overlapping
    edges = edge_set(spatial_adjacency(torch.tensor(boxes, dtype=torch.float32)))
    assert (6, 7) in edges and (7, 6) in edges
    assert (8, 0) in edges
    assert (9, 0) in edges
    assert (9, 3) not in edges  # 10 px above R0 but only 20 of its 70 px width over it
    assert edges == reference_adjacency(boxes)


def test_min_axis_overlap_parameter():
    boxes = torch.tensor([[0, 0, 100, 10], [60, 15, 200, 25]], dtype=torch.float32)  # 40 px shared
    assert spatial_adjacency(boxes, min_axis_overlap=0.5).size(1) == 0
    assert spatial_adjacency(boxes, min_axis_overlap=0.375).size(1) == 2


def random_boxes(count: int, generator: torch.Generator) -> torch.Tensor:
    corner = torch.randint(0, 60, (count, 2), generator=generator).float()
    size = torch.randint(1, 30, (count, 2), generator=generator).float()
    return torch.cat([corner, corner + size], dim=1)


def test_batched_equals_reference_per_image_and_images_never_meet():
    generator = torch.Generator().manual_seed(0)
    sizes = [0, 7, 1, 2, 12, 0]
    per_image = [random_boxes(size, generator) for size in sizes]
    boxes = torch.cat(per_image)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    edge_index = spatial_adjacency(boxes, batch, gap=0.75, num_graphs=len(sizes))
    assert (batch[edge_index[0]] == batch[edge_index[1]]).all()
    expected, offset = set(), 0
    for image_boxes in per_image:
        alone = reference_adjacency(image_boxes.tolist(), gap=0.75)
        assert edge_set(spatial_adjacency(image_boxes, gap=0.75)) == alone
        expected |= {(p + offset, q + offset) for p, q in alone}
        offset += image_boxes.size(0)
    assert edge_set(edge_index) == expected
    assert edge_index.size(1) == len(expected)


@pytest.mark.parametrize("pair_chunk", [7, 100, 800])  # rows of one image; 2 whole images per block
def test_blocking_gives_the_same_edges(monkeypatch, pair_chunk):
    generator = torch.Generator().manual_seed(1)
    boxes = random_boxes(45, generator)
    batch = torch.tensor([0] * 10 + [1] * 20 + [3] * 15)
    full = spatial_adjacency(boxes, batch, num_graphs=5)
    monkeypatch.setattr(adjacency_module, "_PAIR_CHUNK", pair_chunk)
    assert torch.equal(spatial_adjacency(boxes, batch, num_graphs=5), full)


def test_node_permutation_permutes_edges():
    generator = torch.Generator().manual_seed(2)
    boxes = random_boxes(15, generator)
    perm = torch.randperm(15, generator=generator)
    edges = edge_set(spatial_adjacency(boxes))
    permuted = edge_set(spatial_adjacency(boxes[perm]))
    assert {(int(perm[p]), int(perm[q])) for p, q in permuted} == edges


@pytest.mark.parametrize("count", [0, 1, 2])
def test_tiny_graphs(count):
    boxes = torch.tensor([[0, 0, 10, 10], [0, 12, 10, 22]], dtype=torch.float32)[:count]
    edge_index = spatial_adjacency(boxes)
    assert edge_index.dtype == torch.long and edge_index.shape == (2, 2 if count == 2 else 0)


# Each pair of boxes at a boundary of METHOD.md §3's rules, one image each (gap 1, ratio 0.5, lower medians):
# the inclusive bounds (gap <= gap x median, overlap >= ratio x the narrower) and the strict one (overlap > 0).
BOUNDARY_PAIRS = [
    ([[0, 0, 10, 10], [0, 20, 10, 30]], True),  # same column, vertical gap = the median height
    ([[0, 0, 10, 10], [5, 12, 25, 22]], True),  # same column, horizontal overlap = half the narrower
    ([[0, 0, 10, 10], [20, 0, 30, 10]], True),  # side by side, horizontal gap = the median width
    ([[0, 0, 10, 10], [12, 5, 22, 25]], True),  # side by side, vertical overlap = half the shorter
    ([[0, 0, 10, 10], [10, 8, 20, 30]], False),  # touching left-right: no overlap, too little extent shared
    ([[0, 0, 10, 10], [9.5, 8, 20, 30]], True),  # overlapping by 0.5 x 2 px
    ([[0, 0, 10, 10], [8, 10, 30, 20]], False),  # touching top-bottom
    ([[0, 0, 10, 10], [8, 9.5, 30, 20]], True),  # overlapping by 2 x 0.5 px
    ([[0, 0, 10, 0.5], [0, 1.2, 10, 1.7]], False),  # lines 0.5 px tall, 0.7 px apart: gap > median height
    ([[0, 0, 0.5, 10], [1.2, 0, 1.7, 10]], False),  # the same, side by side: gap > median width
]


def test_rules_at_their_boundaries():
    boxes = torch.tensor([box for pair, _ in BOUNDARY_PAIRS for box in pair])
    batch = torch.arange(len(BOUNDARY_PAIRS)).repeat_interleave(2)
    edges = edge_set(spatial_adjacency(boxes, batch))
    for image, (pair, adjacent) in enumerate(BOUNDARY_PAIRS):
        assert (reference_adjacency(pair) == {(0, 1), (1, 0)}) == adjacent, pair  # the loop reference agrees
        assert ((2 * image, 2 * image + 1) in edges) == adjacent, pair
        assert ((2 * image + 1, 2 * image) in edges) == adjacent, pair
