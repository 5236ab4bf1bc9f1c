"""Export of one graph to networkx and GraphML."""

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from graphkd.graph import AdaptiveNodeSampler, TextNodeMerge, to_networkx, write_graphml


def make_graph() -> Data:
    return Data(
        x=torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]),
        x_teacher=torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]]),
        box=torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 12.0, 10.0, 22.0], [20.0, 0.0, 30.0, 5.0]]),
        node_type=torch.tensor([0, 0, 1]),
        gt_class=torch.tensor([3, 3, 4]),
        edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
    )


def test_to_networkx_attributes():
    graph = to_networkx(make_graph(), cluster=torch.tensor([0, 0, 1]), weight=torch.tensor([0.5, 0.5, 1.0]))
    assert sorted(graph.edges()) == [(0, 1), (1, 2)]
    assert graph.nodes[0] == {
        "node_type": 0,
        "gt_class": 3,
        "box": (0.0, 0.0, 10.0, 10.0),
        "weight": 0.5,
        "cluster": 0,
    }
    assert graph.nodes[2]["cluster"] == 1 and graph.nodes[2]["weight"] == 1.0
    assert graph.edges[0, 1]["teacher_cosine"] == pytest.approx(1.0)
    assert graph.edges[0, 1]["student_cosine"] == pytest.approx(2**-0.5)
    assert graph.edges[1, 2]["teacher_cosine"] == pytest.approx(0.0)


def test_merged_and_sampled_graphs_round_trip_through_graphml(tmp_path):
    merged = TextNodeMerge(threshold=0.9, min_text_ratio=0.0)(Batch.from_data_list([make_graph()]))
    sampled = AdaptiveNodeSampler()(merged.batch).batch
    graph = to_networkx(sampled.get_example(0))
    assert graph.number_of_nodes() == 2 and graph.has_edge(0, 0)  # merged node keeps a self-loop
    assert graph.nodes[0]["cluster_size"] == 2 and graph.nodes[0]["box"] == (0.0, 0.0, 10.0, 22.0)
    path = tmp_path / "graph.graphml"
    write_graphml(graph, path)
    read = nx.read_graphml(path)
    assert read.nodes["0"]["y1"] == 22.0 and read.nodes["0"]["node_type"] == 0
    assert read.nodes["1"]["weight"] == pytest.approx(1.0)
    assert "box" not in read.nodes["0"] and read.number_of_edges() == 2
    assert "box" in graph.nodes[0]  # the caller's graph is left as it was


def test_empty_graph():
    empty = Data(
        x=torch.zeros(0, 2),
        x_teacher=torch.zeros(0, 2),
        box=torch.zeros(0, 4),
        node_type=torch.zeros(0, dtype=torch.long),
        edge_index=torch.zeros(2, 0, dtype=torch.long),
    )
    assert to_networkx(empty).number_of_nodes() == 0


def test_write_graphml_keeps_nodes_without_a_box(tmp_path):
    """A node someone added to the exported graph by hand (no ``box``) is written with its own attributes."""
    graph = to_networkx(make_graph())
    graph.add_node("note", label="added by hand")
    graph.add_edge("note", 0)
    write_graphml(graph, tmp_path / "graph.graphml")
    read = nx.read_graphml(tmp_path / "graph.graphml")
    assert read.nodes["note"] == {"label": "added by hand"}
    assert read.nodes["0"]["x1"] == 10.0 and read.has_edge("note", "0")
