"""Connected components by min-label propagation, all graphs of a batch at once (METHOD.md §4).

Shapes: ``N`` nodes of the whole batch, ``E`` edges.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import add_self_loops


class ConnectedComponents(MessagePassing):
    """Labels every node with the smallest node index of its connected component.

    Min-label propagation iterated to a fixed point, with pointer jumping to shorten long chains:

    .. math::
        \\ell_i^{(0)} = i,\\qquad
        \\ell_i^{(t+1)} = \\ell^{(t+\\frac12)}\\big[\\ell_i^{(t+\\frac12)}\\big],\\quad
        \\ell_i^{(t+\\frac12)} = \\min_{j \\in \\mathcal{N}(i) \\cup \\{i\\}} \\ell_j^{(t)}

    Every label stays an index of a node of the same component and never grows, so the iteration
    stops, at the component minimum. Edges are treated as undirected. Graphs of a batch are
    disjoint components already, so one call labels the whole batch.
    """

    def __init__(self) -> None:
        super().__init__(aggr="min", flow="source_to_target", node_dim=0)

    def reset_parameters(self) -> None:
        """No parameters."""

    def forward(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        """``(2, E)`` edges over ``num_nodes`` nodes -> ``(N,)`` long component labels."""
        device = edge_index.device
        labels = torch.arange(num_nodes, device=device)
        if num_nodes == 0 or edge_index.size(1) == 0:
            return labels
        # Both directions (duplicates are harmless to a min), and self loops so that every node gets
        # its own label as a message (an empty min is 0 in PyG's scatter).
        edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        edge_index, _ = add_self_loops(edge_index, num_nodes=num_nodes)
        while True:
            propagated = self.propagate(edge_index, label=labels, size=(num_nodes, num_nodes))
            propagated = propagated[propagated]  # pointer jumping: a label's own label is as valid
            if torch.equal(propagated, labels):
                return labels
            labels = propagated

    def message(self, label_j: Tensor) -> Tensor:
        return label_j
