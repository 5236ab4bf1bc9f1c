"""Shared helpers: edge cosines (both paths), per-group statistics and the pinned Batch builder."""

import pytest
import torch
import torch.nn.functional as F

import graphkd.graph.similarity as similarity
from graphkd.graph import edge_cosine
from graphkd.graph.groups import counts_to_index, group_median, rank_within_groups


@pytest.mark.parametrize("gram_ratio", [0, 10**9])  # 0: always gather endpoints; huge: always Gram
def test_edge_cosine_paths_match_cosine_similarity(monkeypatch, gram_ratio):
    monkeypatch.setattr(similarity, "_GRAM_EDGE_RATIO", gram_ratio)
    monkeypatch.setattr(similarity, "_EDGE_CHUNK_ELEMENTS", 40)  # several chunks of 5 edges
    generator = torch.Generator().manual_seed(0)
    x = 1e-3 * torch.randn(9, 2, 4, generator=generator)  # norms << 1: normalising must not clamp them
    x[3] = 0  # a zero vector has cosine 0
    batch = torch.tensor([0, 0, 0, 0, 2, 2, 2, 2, 2])
    edge_index = torch.tensor([[0, 1, 3, 2, 4, 5, 8, 6, 7, 4, 1], [1, 0, 2, 2, 5, 4, 4, 7, 8, 6, 3]])
    expected = F.cosine_similarity(x[edge_index[0]].flatten(1), x[edge_index[1]].flatten(1), dim=-1)
    got = edge_cosine(x, edge_index, batch, num_graphs=3)
    torch.testing.assert_close(got, expected)
    assert got[2].item() == 0.0 and got.dtype == torch.float32
    assert edge_cosine(x, edge_index[:, :0], batch).shape == (0,)
    assert edge_cosine(x.half(), edge_index[:, :0], batch).dtype == torch.float32  # (E,) float32, also empty
    # a merged node alone with its self-loop (an exported one-node graph): one used node, cosine 1
    assert edge_cosine(x[:1], torch.tensor([[0], [0]])).tolist() == pytest.approx([1.0])


def test_edge_cosine_half_precision_input_under_autocast():
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cosine = edge_cosine(x, torch.tensor([[0], [1]]))
    assert cosine.dtype == torch.float32
    assert cosine.item() == pytest.approx(2**-0.5, rel=1e-6)


def test_group_median_and_rank():
    values = torch.tensor([5.0, 1.0, 3.0, 2.0, 9.0, 4.0, 4.0])
    group = torch.tensor([0, 0, 0, 0, 2, 2, 2])
    assert group_median(values, group, 4).tolist() == [2.0, 0.0, 4.0, 0.0]  # lower median
    assert rank_within_groups(values, group, 4).tolist() == [3, 0, 2, 1, 2, 0, 1]


def test_counts_to_index():
    assert counts_to_index([2, 0, 1]).tolist() == [0, 0, 2]
    assert counts_to_index(torch.tensor([0, 0])).tolist() == []
    assert counts_to_index([]).tolist() == []


def test_batching_is_pinned_to_the_checked_torch_geometric_version():
    """make_batch writes PyG's private Batch fields: another torch-geometric must be re-checked first (run
    tests/graph, then update PYG_VERSION_CHECKED), not trusted silently."""
    import torch_geometric

    from graphkd.graph.batching import PYG_VERSION_CHECKED

    assert torch_geometric.__version__ == PYG_VERSION_CHECKED


def test_group_median_of_single_values_and_the_last_group():
    from graphkd.graph.groups import resolve_num_graphs

    # groups of one value, and a last group whose median is the last element of the batch
    values = torch.tensor([4.0, 7.0, 1.0, 3.0, 9.0])
    group = torch.tensor([0, 1, 1, 1, 2])
    assert group_median(values, group, 3).tolist() == [4.0, 3.0, 9.0]
    assert group_median(torch.tensor([5.0]), torch.tensor([0]), 1).tolist() == [5.0]
    assert resolve_num_graphs(torch.zeros(0, dtype=torch.long), None) == 0  # no nodes: no graphs unless told
