"""Feature similarity along graph edges (public: merging and export use it).

Shapes: ``N`` nodes of the whole batch, ``G`` graphs, ``E`` edges, ``D`` flattened feature size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .groups import exclusive_cumsum, float32_statistics, resolve_batch, resolve_num_graphs

__all__ = ["edge_cosine"]

# Gathering ``E x D`` endpoint features at once can take gigabytes for 2,000-node graphs with
# D = 12,544; edge cosines are computed in chunks of at most this many gathered elements.
_EDGE_CHUNK_ELEMENTS = 1 << 24
# Edge cosines come from per-graph Gram matrices when the padded pair count G * K^2 is at most this
# many times the number of edges (a matmul does a multiply-add far cheaper than a gather moves a
# value) and at most _GRAM_MAX_PAIRS (512 MiB of float32).
_GRAM_EDGE_RATIO = 64
_GRAM_MAX_PAIRS = 1 << 27


def edge_cosine(
    x: Tensor, edge_index: Tensor, batch: Tensor | None = None, num_graphs: int | None = None
) -> Tensor:
    """``(E,)`` float32 cosine similarity of the features of each edge's two endpoints.

    ``x`` is ``(N, ...)``, flattened per node; edges join nodes of the same graph. Zero vectors have
    cosine 0 with everything. Two equivalent paths, chosen by cost: dense graphs (as RoI graphs are:
    overlapping proposals) take one batched Gram matrix per graph (`to_dense_batch` + `bmm`), which
    is far cheaper than gathering two ``(E, D)`` endpoint matrices; sparse ones gather the endpoints
    in fixed-size chunks of edges (the loop only bounds memory).
    """
    num_edges = edge_index.size(1)
    if num_edges == 0:
        return x.new_zeros(0, dtype=torch.float32)
    num_nodes = x.size(0)
    batch = resolve_batch(batch, num_nodes, x.device)
    num_graphs = resolve_num_graphs(batch, num_graphs)
    with float32_statistics(x.device):
        feats = x.detach().flatten(1).float()  # (N, D)
        # The Gram path only needs the nodes that some edge touches (e.g. the text nodes).
        used = torch.zeros(num_nodes, dtype=torch.bool, device=x.device)
        used[edge_index.reshape(-1)] = True
        used_index = used.nonzero().view(-1)  # (M,)
        used_batch = batch.index_select(0, used_index)
        counts = torch.bincount(used_batch, minlength=num_graphs)
        max_nodes = int(counts.max())
        pairs = num_graphs * max_nodes * max_nodes
        dense_is_cheap = pairs <= _GRAM_EDGE_RATIO * num_edges and pairs <= _GRAM_MAX_PAIRS
        if dense_is_cheap and num_graphs * max_nodes <= 2 * used_index.numel():  # padding at most 2x
            # Row ``(g, k)`` of the padded (G, M', D) block holds the k-th used node of graph g; padding
            # rows repeat some node instead of zeros (saves a fill), and no edge ever reads them.
            local = torch.arange(used_index.numel(), device=x.device) - exclusive_cumsum(counts)[used_batch]
            dense_row = used_batch * max_nodes + local  # (M,)
            source = used_index.new_full((num_graphs * max_nodes,), int(used_index[0]))
            source[dense_row] = used_index
            dense = feats.index_select(0, source).view(num_graphs, max_nodes, -1)  # (G, M', D)
            dense.div_(torch.linalg.vector_norm(dense, dim=-1, keepdim=True).clamp_min_(1e-12))
            gram = torch.bmm(dense, dense.transpose(1, 2))  # (G, M', M')
            # Flat position of each used node's row (and column) in ``gram``.
            row_start = torch.zeros_like(batch)
            row_start[used_index] = dense_row * max_nodes
            column = torch.zeros_like(batch)
            column[used_index] = local
            return gram.view(-1)[row_start[edge_index[0]] + column[edge_index[1]]]
        unit = F.normalize(feats, dim=-1, eps=1e-12)  # (N, D)
        step = max(1, _EDGE_CHUNK_ELEMENTS // max(1, unit.size(1)))
        chunks = []
        for first in range(0, num_edges, step):
            source = unit.index_select(0, edge_index[0, first : first + step])  # (e, D)
            target = unit.index_select(0, edge_index[1, first : first + step])
            chunks.append(torch.bmm(source.unsqueeze(1), target.unsqueeze(2)).view(-1))
    return torch.cat(chunks)
