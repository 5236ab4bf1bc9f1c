"""Export of one instance graph to networkx and GraphML, for inspection and drawing."""

from __future__ import annotations

import os

import networkx as nx
import torch
from torch import Tensor
from torch_geometric.data import Data

from .similarity import edge_cosine

# Integer node attributes copied when the graph has them.
_INT_NODE_ATTRS = ("node_type", "gt_class", "gt_node_type", "cluster_size")
BOX_ATTRS = ("x0", "y0", "x1", "y1")


@torch.no_grad()
def to_networkx(data: Data, cluster: Tensor | None = None, weight: Tensor | None = None) -> nx.Graph:
    """An undirected `networkx.Graph` of one instance graph.

    Node attributes: ``node_type`` (and ``gt_class``, ``gt_node_type``, ``cluster_size`` when present),
    ``box`` as a tuple of 4 floats (x0, y0, x1, y1), ``weight`` (``weight`` argument, else
    ``data.weight``, else 1.0) and ``cluster`` (the node's ``cluster[i]``, e.g. its merged node from a
    `TextNodeMerge` output, when given). Edge attributes: ``teacher_cosine`` and ``student_cosine``.
    Self loops (merged nodes) are kept.

    Args:
        data: one graph, e.g. ``batch.get_example(i)``.
        cluster: ``(K,)`` long, an index per node of ``data``.
        weight: ``(K,)`` a weight per node of ``data``.
    """
    num_nodes = data.num_nodes or 0
    if weight is None:
        weight = data.weight if "weight" in data else torch.ones(num_nodes)
    graph = nx.Graph()
    columns = {key: data[key].tolist() for key in _INT_NODE_ATTRS if key in data}
    boxes = data.box.float().tolist() if "box" in data else [[float("nan")] * 4] * num_nodes
    weights = weight.float().tolist()
    clusters = cluster.tolist() if cluster is not None else None
    for node in range(num_nodes):
        attrs = {key: values[node] for key, values in columns.items()}
        attrs["box"] = tuple(boxes[node])
        attrs["weight"] = weights[node]
        if clusters is not None:
            attrs["cluster"] = clusters[node]
        graph.add_node(node, **attrs)
    edge_index = data.edge_index
    upper = edge_index[:, edge_index[0] <= edge_index[1]]  # each undirected edge once
    teacher = edge_cosine(data.x_teacher, upper).tolist() if "x_teacher" in data else None
    student = edge_cosine(data.x, upper).tolist() if "x" in data else None
    for position, (source, target) in enumerate(upper.t().tolist()):
        attrs = {}
        if teacher is not None:
            attrs["teacher_cosine"] = teacher[position]
        if student is not None:
            attrs["student_cosine"] = student[position]
        graph.add_edge(source, target, **attrs)
    return graph


def write_graphml(graph: nx.Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` (from `to_networkx`) as GraphML; ``box`` becomes scalar ``x0, y0, x1, y1``."""
    flat = graph.copy()
    for _, attrs in flat.nodes(data=True):
        box = attrs.pop("box", None)
        if box is not None:
            attrs.update(zip(BOX_ATTRS, (float(value) for value in box)))
    nx.write_graphml(flat, os.fspath(path))
