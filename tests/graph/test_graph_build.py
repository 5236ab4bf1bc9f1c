"""Building the batch of instance graphs (METHOD.md §1)."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from graphkd.graph import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    AdaptiveNodeSampler,
    TextNodeMerge,
    build_instance_graphs,
    spatial_adjacency,
)

NODE_KEYS = ("x", "x_teacher", "box", "node_type", "gt_class", "gt_node_type")


def make_rois(sizes: list[int], channels: int = 4, seed: int = 0) -> dict:
    """Random RoIs for images with ``sizes`` RoIs: boxes stacked in a column, some background."""
    generator = torch.Generator().manual_seed(seed)
    total = sum(sizes)
    top = torch.arange(total, dtype=torch.float32)[:, None] * 12
    return {
        "student_feats": torch.randn(total, channels, 7, 7, generator=generator),
        "teacher_feats": torch.randn(total, channels + 2, 7, 7, generator=generator),
        "boxes": torch.cat([torch.zeros(total, 1), top, torch.full((total, 1), 50.0), top + 10], dim=1),
        "num_nodes_per_image": sizes,
        "is_background": torch.arange(total) % 5 == 4,
        "gt_classes": torch.arange(total) % 3,
    }


def assert_graphs_equal(left: Data, right: Data) -> None:
    for key in (*NODE_KEYS, "edge_index"):
        assert torch.equal(left[key], right[key]), key


def test_fields_shapes_and_empty_images():
    rois = make_rois([3, 0, 6, 0])
    batch = build_instance_graphs(**rois, text_classes=[0])
    assert isinstance(batch, Batch) and batch.num_graphs == 4
    assert batch.ptr.tolist() == [0, 3, 3, 9, 9]
    assert batch.batch.tolist() == [0, 0, 0, 2, 2, 2, 2, 2, 2]
    assert batch.x.shape == (9, 4 * 49) and batch.x_teacher.shape == (9, 6 * 49)
    assert batch.box.shape == (9, 4) and batch.edge_index.dtype == torch.long
    is_background = rois["is_background"]
    assert batch.node_type[is_background].eq(NODE_BACKGROUND).all()
    assert batch.gt_class.tolist() == [0, 1, 2, 0, -1, 2, 0, 1, 2]
    assert batch.gt_node_type.tolist() == [0, 1, 1, 0, 2, 1, 0, 1, 1]
    graphs = batch.to_data_list()
    assert [graph.num_nodes for graph in graphs] == [3, 0, 6, 0]
    assert batch.get_example(1).x.shape == (0, 4 * 49)
    assert batch.get_example(3).edge_index.shape == (2, 0)
    # The three column boxes of image 0 (12 px apart, 10 px high) form a chain.
    assert graphs[0].edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]


def test_direct_batch_equals_from_data_list_of_single_images():
    sizes = [4, 0, 7, 1]
    rois = make_rois(sizes)
    batch = build_instance_graphs(**rois, text_classes=[0, 2])
    singles, start = [], 0
    for size in sizes:
        part = {
            key: value[start : start + size] if isinstance(value, torch.Tensor) else [size]
            for key, value in rois.items()
        }
        singles.append(build_instance_graphs(**part, text_classes=[0, 2]).get_example(0))
        start += size
    reference = Batch.from_data_list(singles)
    for key in (*NODE_KEYS, "edge_index", "batch", "ptr"):
        assert torch.equal(batch[key], reference[key]), key
    for key in (*NODE_KEYS, "edge_index"):
        assert torch.equal(batch._slice_dict[key], reference._slice_dict[key]), key
        assert torch.equal(batch._inc_dict[key], reference._inc_dict[key]), key
    for graph, single in zip(batch.to_data_list(), singles):
        assert_graphs_equal(graph, single)
    assert_graphs_equal(batch[2], singles[2])


def test_no_background_no_gt_defaults():
    rois = make_rois([5])
    del rois["is_background"], rois["gt_classes"]
    batch = build_instance_graphs(**rois)
    assert batch.gt_class.tolist() == [-1] * 5 and batch.gt_node_type.tolist() == [-1] * 5
    assert set(batch.node_type.tolist()) <= {NODE_TEXT, NODE_NONTEXT}


def test_gt_mode_and_its_requirements():
    rois = make_rois([6])
    batch = build_instance_graphs(**rois, text_classes=[1], node_type_mode="gt")
    assert batch.node_type.tolist() == [1, 0, 1, 1, 2, 1]
    assert torch.equal(batch.node_type, batch.gt_node_type)
    with pytest.raises(ValueError, match="needs gt_classes"):
        build_instance_graphs(**rois, node_type_mode="gt")
    with pytest.raises(ValueError, match="sums to"):
        build_instance_graphs(**{**rois, "num_nodes_per_image": [5]})


def test_node_permutation_within_images_permutes_outputs():
    rois = make_rois([6, 5], seed=3)
    perm = torch.cat([torch.randperm(6, generator=torch.Generator().manual_seed(0)), 6 + torch.arange(5)])
    permuted = {key: value[perm] if isinstance(value, torch.Tensor) else value for key, value in rois.items()}
    batch = build_instance_graphs(**rois, text_classes=[0])
    batch_permuted = build_instance_graphs(**permuted, text_classes=[0])
    for key in NODE_KEYS:
        assert torch.equal(batch_permuted[key], batch[key][perm]), key
    edges = set(map(tuple, batch.edge_index.t().tolist()))
    edges_permuted = {(int(perm[p]), int(perm[q])) for p, q in batch_permuted.edge_index.t().tolist()}
    assert edges_permuted == edges


def test_student_gradient_flows_teacher_never_gets_one():
    rois = make_rois([5, 4])
    student = rois["student_feats"].requires_grad_(True)
    teacher = rois["teacher_feats"].requires_grad_(True)
    batch = build_instance_graphs(**rois, text_classes=[0])
    assert batch.x.requires_grad and not batch.x_teacher.requires_grad
    # Make every text node mergeable so that the loss goes through the pooling.
    batch.x_teacher = torch.ones_like(batch.x_teacher)
    merged = TextNodeMerge(threshold=0.5, min_text_ratio=0.0)(batch).batch
    pooled = AdaptiveNodeSampler()(merged).batch
    (pooled.x.pow(2).sum(1) * pooled.weight).sum().backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_two_thousand_node_graph_and_autocast():
    count = 2000
    generator = torch.Generator().manual_seed(0)
    corner = torch.rand(count, 2, generator=generator) * 600
    boxes = torch.cat([corner, corner + 5 + 20 * torch.rand(count, 2, generator=generator)], dim=1)
    student = torch.randn(count, 2, 2, 2, generator=generator)
    teacher = torch.randn(count, 2, 2, 2, generator=generator)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        batch = build_instance_graphs(student.bfloat16(), teacher.bfloat16(), boxes, [count])
        merged = TextNodeMerge(threshold=0.9)(batch)
        sampled = AdaptiveNodeSampler(mode="sample")(merged.batch)
    assert batch.num_nodes == count and batch.box.dtype == torch.float32
    assert torch.equal(batch.edge_index, spatial_adjacency(boxes))
    assert merged.cluster.shape == (count,) and int(merged.cluster.max()) + 1 == merged.batch.num_nodes
    assert sampled.batch.num_graphs == 1 and sampled.weight.dtype == torch.float32


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"num_nodes_per_image": [5]},
            "6 student, 6 teacher RoIs and 6 boxes, but num_nodes_per_image sums to 5",
        ),
        (
            {"teacher_feats": torch.zeros(5, 6, 7, 7)},
            "6 student, 5 teacher RoIs and 6 boxes, but num_nodes_per_image sums to 6",
        ),
        (
            {"boxes": torch.zeros(4, 4)},
            "6 student, 6 teacher RoIs and 4 boxes, but num_nodes_per_image sums to 6",
        ),
        ({"node_type_mode": "labels"}, "node_type_mode must be one of ('covariance', 'gt'), got 'labels'"),
        ({"node_type_mode": "gt"}, 'node_type_mode "gt" needs gt_classes and text_classes'),
    ],
    ids=["counts", "teacher", "boxes", "mode", "gt-needs"],
)
def test_mismatched_inputs_are_named(change, message):
    """Each count that disagrees is named with its value: a wiring mistake says which input is off."""
    with pytest.raises(ValueError) as error:
        build_instance_graphs(**{**make_rois([6]), **change})
    assert str(error.value) == message


def test_layers_on_an_empty_lone_graph():
    """A lone Data without nodes (a page with no RoI) is one empty graph for every layer."""
    empty = build_instance_graphs(**make_rois([0])).get_example(0)
    merged = TextNodeMerge()(empty)
    sampled = AdaptiveNodeSampler(mode="sample")(empty)
    for out in (merged.batch, sampled.batch):
        assert out.num_graphs == 1 and out.num_nodes == 0 and out.batch.numel() == 0


def test_only_per_node_tensors_are_pooled():
    """An edge attribute is not a node attribute even when the edge count equals the node count, nor is a
    graph-level tensor of another length: merging drops the first and leaves out the second, never pools them."""
    graph = build_instance_graphs(**make_rois([2])).get_example(0)
    assert graph.edge_index.size(1) == graph.num_nodes == 2  # two stacked boxes: one undirected edge
    graph.edge_attr = torch.ones(2, 5)
    graph.page_size = torch.tensor([800.0, 600.0, 3.0])  # graph-level: 3 values, 2 nodes
    out = TextNodeMerge(threshold=2.0)(graph).batch  # nothing merges
    assert "edge_attr" not in out and "page_size" not in out
    assert out.num_nodes == 2 and torch.equal(out.x, graph.x)
