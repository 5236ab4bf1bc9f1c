"""Adaptive node sampling, a PyG pooling layer (METHOD.md §5).

Shapes: ``N`` input nodes of the whole batch, ``K`` kept nodes, ``G`` graphs, ``E`` edges.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.utils import subgraph

from .batching import graph_index, make_batch, node_attr_keys
from .groups import rank_within_groups
from .node_types import NODE_NONTEXT, NODE_TEXT

SAMPLING_MODES = ("weight", "sample", "none")


class SampleOutput(NamedTuple):
    batch: Batch  # the kept subgraphs, with ``weight`` (K,)
    perm: Tensor  # (K,) kept input node indices, ascending
    weight: Tensor  # (K,) float32 weight per kept node


class AdaptiveNodeSampler(torch.nn.Module):
    """Rebalances text against non-text nodes by weighting or by dropping text nodes, per image.

    ``"weight"`` keeps every node and weights it by its type, with N_* the counts of the image:

    .. math::
        w_{\\text{text}} = \\min\\Big(1, \\frac{\\beta \\max(N_{\\text{nontext}}, 1)}{N_{\\text{text}}}\\Big),
        \\quad w_{\\text{nontext}} = 1

    ``"sample"`` keeps all non-text and background nodes and a uniformly random
    :math:`\\operatorname{clamp}(\\lceil \\beta N_{\\text{nontext}} \\rceil, 1, N_{\\text{text}})` text
    nodes, each kept node weighing 1; the output holds the induced subgraph. ``"none"`` (Dsig: no text
    handling) keeps every node with weight 1.

    Background nodes always weigh 1 here: METHOD.md §5 leaves their weight to the node loss's background term
    (§6), which runs over all negatives, not over these nodes.

    Args:
        mode: ``"weight"``, ``"sample"`` or ``"none"`` (``GRAPHKD.SAMPLING.MODE``).
        beta: the text to non-text balance (``GRAPHKD.SAMPLING.BETA``).
    """

    def __init__(self, mode: str = "weight", beta: float = 1.0) -> None:
        super().__init__()
        if mode not in SAMPLING_MODES:
            raise ValueError(f"sampling mode must be one of {SAMPLING_MODES}, got {mode!r}")
        if beta <= 0:
            raise ValueError(f"sampling beta must be positive, got {beta}")
        self.mode = mode
        self.beta = beta

    def extra_repr(self) -> str:
        return f"mode={self.mode}, beta={self.beta}"

    def reset_parameters(self) -> None:
        """No parameters."""

    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> SampleOutput:
        """Weight (or sample) the nodes of every graph of ``batch`` (needs ``node_type``).

        A lone `Data` counts as a batch of one graph; the output is always a `Batch`.
        """
        node_batch, num_graphs = graph_index(batch)
        node_type = batch.node_type
        num_nodes = node_batch.numel()
        device = node_batch.device
        attrs = {key: batch[key] for key in node_attr_keys(batch) if key != "weight"}
        if self.mode == "sample":
            keep = self._sample_text(node_type, node_batch, num_graphs, generator)
            perm = keep.nonzero().view(-1)  # (K,) ascending, so graphs stay contiguous
            edge_index, _ = subgraph(perm, batch.edge_index, relabel_nodes=True, num_nodes=num_nodes)
            attrs = {key: value.index_select(0, perm) for key, value in attrs.items()}
            node_batch = node_batch[perm]
        else:
            perm = torch.arange(num_nodes, device=device)
            edge_index = batch.edge_index
        weight = self._weights(
            attrs["node_type"], node_batch, num_graphs, text_weighted=self.mode == "weight"
        )
        attrs["weight"] = weight
        out = make_batch(attrs, edge_index, node_batch, num_graphs)
        return SampleOutput(batch=out, perm=perm, weight=weight)

    def _sample_text(
        self, node_type: Tensor, node_batch: Tensor, num_graphs: int, generator: torch.Generator | None
    ) -> Tensor:
        """``(N,)`` bool: every non-text/background node and a random subset of each image's text."""
        device = node_batch.device
        is_text = node_type == NODE_TEXT
        text_count = torch.bincount(node_batch[is_text], minlength=num_graphs)
        nontext_count = torch.bincount(node_batch[node_type == NODE_NONTEXT], minlength=num_graphs)
        quota = torch.minimum((self.beta * nontext_count.double()).ceil().long().clamp(min=1), text_count)
        random_device = generator.device if generator is not None else device
        keys = torch.rand(node_batch.numel(), generator=generator, device=random_device).to(device)
        # Text nodes sort first within their image (keys < 1), in random order; keep the first ``quota``.
        keys = torch.where(is_text, keys, keys + 2.0)
        rank = rank_within_groups(keys, node_batch, num_graphs)
        return ~is_text | (rank < quota[node_batch])

    def _weights(self, node_type: Tensor, node_batch: Tensor, num_graphs: int, text_weighted: bool) -> Tensor:
        """``(K,)`` float32 weights from the per-image counts of the given nodes."""
        counts = torch.zeros(num_graphs, 3, dtype=torch.float32, device=node_batch.device)
        counts.index_put_((node_batch, node_type), torch.ones_like(node_batch, dtype=torch.float32), True)
        text, nontext = counts[:, NODE_TEXT], counts[:, NODE_NONTEXT]
        per_type = torch.ones_like(counts)  # (G, 3): the weight of each node type in each image
        if text_weighted:
            per_type[:, NODE_TEXT] = (self.beta * nontext.clamp(min=1) / text.clamp(min=1)).clamp(max=1)
        return per_type[node_batch, node_type]
