"""Text-node merging, a PyG pooling layer (METHOD.md §4).

Shapes: ``N`` input nodes of the whole batch, ``K`` output nodes, ``G`` graphs, ``E`` edges,
``D`` flattened feature size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.utils import coalesce, remove_self_loops, scatter
from torch_scatter import scatter_mean

from .batching import graph_index, make_batch, node_attr_keys
from .components import ConnectedComponents
from .node_types import NODE_NONTEXT, NODE_TEXT
from .similarity import edge_cosine


class MergeOutput(NamedTuple):
    batch: Batch  # the pooled graphs, with ``cluster_size`` (K,)
    cluster: Tensor  # (N,) index of each input node's node in the output batch


class TextNodeMerge(torch.nn.Module):
    """Contracts groups of adjacent, teacher-similar text nodes into one node per group.

    Each round scores every text-text adjacency edge (p, q) by the teacher cosine and contracts the
    connected components :math:`\\mathcal{C}` of the edges that pass the threshold:

    .. math::
        s_{pq} = \\cos(\\mathbf{t}_p, \\mathbf{t}_q) \\ge \\tau,\\qquad
        \\mathbf{x}_c = \\frac{1}{|\\mathcal{C}_c|} \\sum_{i \\in \\mathcal{C}_c} \\mathbf{x}_i,\\quad
        \\mathbf{t}_c = \\frac{1}{|\\mathcal{C}_c|} \\sum_{i \\in \\mathcal{C}_c} \\mathbf{t}_i,\\quad
        \\mathbf{b}_c = \\bigcup_{i \\in \\mathcal{C}_c} \\mathbf{b}_i

    with t the teacher features (the membership) and x the student's. A merged node's adjacency is
    the union of its members' plus a self-loop; ``gt_class``, ``gt_node_type`` and any other node
    attribute come from the member with the smallest index, and ``cluster_size`` counts the input
    nodes it holds. Non-text and background nodes never merge. A graph stops (keeps its nodes) once
    no edge passes, or when its text nodes are at most ``min_text_ratio`` times its non-text nodes.
    Output nodes keep the order of their first members, so graphs without merges come back as they
    were; empty graphs stay. Edge attributes other than ``edge_index`` are dropped.

    Args:
        threshold: the teacher cosine an edge needs to merge its endpoints (``GRAPHKD.MERGE.THRESH``).
        max_rounds: the most merge rounds (``GRAPHKD.MERGE.MAX_ROUNDS``).
        min_text_ratio: a graph stops merging when text <= this x non-text nodes
            (``GRAPHKD.MERGE.MIN_TEXT_RATIO``).
    """

    def __init__(self, threshold: float = 0.8, max_rounds: int = 3, min_text_ratio: float = 1.0) -> None:
        super().__init__()
        self.threshold = threshold
        self.max_rounds = max_rounds
        self.min_text_ratio = min_text_ratio
        self.components = ConnectedComponents()

    def reset_parameters(self) -> None:
        """No parameters."""

    def forward(self, batch: Batch) -> MergeOutput:
        """Merge the text nodes of every graph of ``batch`` (needs ``x_teacher``, ``node_type``, ``box``).

        A lone `Data` counts as a batch of one graph; the output is always a `Batch`.
        """
        node_batch, num_graphs = graph_index(batch)
        device = node_batch.device
        num_input = node_batch.numel()
        attrs = {key: batch[key] for key in node_attr_keys(batch)}
        attrs["x_teacher"] = attrs["x_teacher"].detach()  # the teacher side never gets a gradient
        # Input nodes that are merges already count with their size in the means.
        input_size = attrs.pop("cluster_size", None)
        member_weight = None if input_size is None else input_size.to(torch.float32)
        cluster_size = (
            torch.ones(num_input, dtype=torch.long, device=device) if input_size is None else input_size
        )
        node_type, teacher, edge_index = attrs["node_type"], attrs["x_teacher"], batch.edge_index
        cluster = torch.arange(num_input, device=device)  # (N,) input node -> current node
        for _ in range(self.max_rounds):
            kept = self._merge_edges(node_type, teacher, edge_index, node_batch, num_graphs)
            if kept.size(1) == 0:
                break
            labels = self.components(kept, num_nodes=node_batch.numel())  # smallest member index
            is_first = labels == torch.arange(labels.numel(), device=device)
            round_cluster = (is_first.long().cumsum(0) - 1)[labels]  # keeps the order of first members
            num_clusters = int(is_first.sum())
            cluster = round_cluster[cluster]
            node_batch, node_type = node_batch[is_first], node_type[is_first]
            cluster_size = scatter(cluster_size, round_cluster, dim=0, dim_size=num_clusters, reduce="sum")
            edge_index, _ = remove_self_loops(round_cluster[edge_index])
            teacher = _member_mean(attrs["x_teacher"], cluster, num_clusters, member_weight)
        num_output = node_batch.numel()
        if num_output < num_input:
            merged = (cluster_size > 1).nonzero().view(-1)
            edge_index = coalesce(torch.cat([edge_index, merged.expand(2, -1)], dim=1), num_nodes=num_output)
            attrs = _pool_attrs(attrs, cluster, num_output, member_weight)
            attrs["x_teacher"] = teacher  # the last round pooled it already
        else:  # nothing merged: only self loops of unmerged nodes (never built by us) go
            stray_loop = (edge_index[0] == edge_index[1]) & (cluster_size[edge_index[0]] == 1)
            edge_index = edge_index[:, ~stray_loop]
        attrs["cluster_size"] = cluster_size
        out = make_batch(attrs, edge_index, node_batch, num_graphs)
        return MergeOutput(batch=out, cluster=cluster)

    def _merge_edges(
        self, node_type: Tensor, teacher: Tensor, edge_index: Tensor, node_batch: Tensor, num_graphs: int
    ) -> Tensor:
        """``(2, E')`` text-text edges (p < q) of the graphs still merging whose teacher cosine passes."""
        is_text = node_type == NODE_TEXT
        text_count = torch.bincount(node_batch[is_text], minlength=num_graphs)
        nontext_count = torch.bincount(node_batch[node_type == NODE_NONTEXT], minlength=num_graphs)
        merging = text_count > self.min_text_ratio * nontext_count  # (G,)
        eligible = is_text & merging[node_batch]  # (N,) text nodes of the graphs still merging
        source, target = edge_index
        candidate = (source < target) & eligible[source] & eligible[target]
        candidates = edge_index[:, candidate]
        score = edge_cosine(teacher, candidates, node_batch, num_graphs)  # (E',) float32
        return candidates[:, score >= self.threshold]


def _member_mean(value: Tensor, cluster: Tensor, num_clusters: int, member_weight: Tensor | None) -> Tensor:
    """``(N, ...)`` -> ``(K, ...)`` mean over the input members of each cluster (weighted by their size)."""
    if member_weight is None:
        return scatter_mean(value, cluster, dim=0, dim_size=num_clusters)
    weight = member_weight.view(-1, *([1] * (value.dim() - 1))).to(value.dtype)
    total = scatter(value * weight, cluster, dim=0, dim_size=num_clusters, reduce="sum")
    return total / scatter(weight, cluster, dim=0, dim_size=num_clusters, reduce="sum")


def _pool_attrs(
    attrs: dict[str, Tensor], cluster: Tensor, num_clusters: int, member_weight: Tensor | None
) -> dict[str, Tensor]:
    """Pool the input node attributes but ``x_teacher`` onto the final clusters ``(N,) -> K``."""
    first = scatter(
        torch.arange(cluster.numel(), device=cluster.device),
        cluster,
        dim=0,
        dim_size=num_clusters,
        reduce="min",
    )  # (K,) smallest input member
    pooled = {}
    for key, value in attrs.items():
        if key == "x_teacher":
            continue  # pooled by the merge rounds
        if key == "x":
            pooled[key] = _member_mean(value, cluster, num_clusters, member_weight)  # (K, D)
        elif key == "box":
            low = scatter(value[:, :2], cluster, dim=0, dim_size=num_clusters, reduce="min")
            high = scatter(value[:, 2:], cluster, dim=0, dim_size=num_clusters, reduce="max")
            pooled[key] = torch.cat([low, high], dim=1)  # (K, 4)
        else:
            pooled[key] = value.index_select(0, first)
    return pooled
