"""Batched per-graph helpers shared by the graph modules, and a fast `Batch` builder.

Shapes: ``N`` nodes of the whole batch, ``G`` graphs, ``E`` edges, ``D`` flattened feature size.
Every helper works on all graphs at once through the ``batch`` vector (node -> graph index,
sorted, as in a PyG `Batch`); none of them loops over graphs or nodes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Batch, Data

# Attributes of a `Batch` that are bookkeeping, not per-node data.
_RESERVED_KEYS = ("batch", "ptr", "edge_index")

# Gathering ``E x D`` endpoint features at once can take gigabytes for 2,000-node graphs with
# D = 12,544; edge cosines are computed in chunks of at most this many gathered elements.
_EDGE_CHUNK_ELEMENTS = 1 << 24
# Edge cosines come from per-graph Gram matrices when the padded pair count G * K^2 is at most this
# many times the number of edges (a matmul does a multiply-add far cheaper than a gather moves a
# value) and at most _GRAM_MAX_PAIRS (512 MiB of float32).
_GRAM_EDGE_RATIO = 64
_GRAM_MAX_PAIRS = 1 << 27


@contextlib.contextmanager
def float32_statistics(device: torch.device) -> Iterator[None]:
    """Turn autocast off for the enclosed statistics; callers cast their inputs with ``.float()``."""
    with torch.autocast(device_type=device.type, enabled=False):
        yield


def resolve_batch(batch: Tensor | None, num_nodes: int, device: torch.device) -> Tensor:
    """The node -> graph vector, all zeros (one graph) when ``batch`` is absent."""
    if batch is None:
        return torch.zeros(num_nodes, dtype=torch.long, device=device)
    return batch.long()


def resolve_num_graphs(batch: Tensor, num_graphs: int | None) -> int:
    """``num_graphs`` if given, else inferred from ``batch`` (which misses trailing empty graphs)."""
    if num_graphs is not None:
        return int(num_graphs)
    return int(batch.max()) + 1 if batch.numel() > 0 else 0


def exclusive_cumsum(counts: Tensor) -> Tensor:
    """``(G,) -> (G + 1,)`` offsets starting at zero, like a PyG ``ptr``."""
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def sort_within_groups(values: Tensor, group: Tensor) -> Tensor:
    """Permutation that sorts by ``group`` first and by ``values`` within a group (both stable)."""
    order = torch.argsort(values, stable=True)
    return order[torch.argsort(group[order], stable=True)]


def rank_within_groups(values: Tensor, group: Tensor, num_groups: int) -> Tensor:
    """``(N,)`` rank of each value among the values of its group (0 = smallest, ties by position)."""
    order = sort_within_groups(values, group)
    counts = torch.bincount(group, minlength=num_groups)
    start = exclusive_cumsum(counts)[:-1]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device) - start[group[order]]
    return rank


def group_median(values: Tensor, group: Tensor, num_groups: int) -> Tensor:
    """``(G,)`` lower median of each group's values, as `torch.median` defines it; 0 for empty groups."""
    out = values.new_zeros(num_groups)
    if values.numel() == 0:
        return out
    order = sort_within_groups(values, group)
    counts = torch.bincount(group, minlength=num_groups)
    start = exclusive_cumsum(counts)[:-1]
    position = (start + (counts - 1).clamp(min=0) // 2).clamp(max=values.numel() - 1)
    return torch.where(counts > 0, values[order][position], out)


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


def graph_index(data: Data) -> tuple[Tensor, int]:
    """``(N,)`` node -> graph vector and the number of graphs of a `Batch`, or of a lone `Data` graph."""
    if isinstance(data, Batch) and data.batch is not None:
        return data.batch, data.num_graphs
    num_nodes = data.num_nodes or 0
    return torch.zeros(num_nodes, dtype=torch.long, device=data.edge_index.device), 1


def node_attr_keys(batch: Data) -> list[str]:
    """Names of the per-node tensors of ``batch`` (everything but ``batch``/``ptr``/edge attributes)."""
    num_nodes = batch.num_nodes or 0
    keys = []
    for key in batch.keys():
        value = batch[key]
        if key in _RESERVED_KEYS or "edge" in key or not isinstance(value, Tensor):
            continue
        if value.dim() >= 1 and value.size(0) == num_nodes:
            keys.append(key)
    return keys


def make_batch(
    node_attrs: dict[str, Tensor],
    edge_index: Tensor,
    batch: Tensor,
    num_graphs: int,
) -> Batch:
    """Assemble a PyG `Batch` straight from concatenated per-node tensors, without per-graph `Data`.

    ``batch`` (N,) is sorted; ``edge_index`` (2, E) holds global node indices, edges sorted by graph
    (e.g. coalesced). The result carries the same ``batch``/``ptr`` and slice/increment bookkeeping
    that `Batch.from_data_list` would produce, so ``to_data_list()``, ``get_example(i)`` and indexing
    work, and ``num_graphs`` counts empty graphs too.
    """
    node_counts = torch.bincount(batch, minlength=num_graphs)  # (G,)
    edge_counts = torch.bincount(batch[edge_index[0]], minlength=num_graphs)  # (G,)
    ptr = exclusive_cumsum(node_counts)  # (G + 1,)
    out = Batch(_base_cls=Data, edge_index=edge_index, **node_attrs)
    out.batch = batch
    out.ptr = ptr
    # PyG keeps the bookkeeping on the CPU (it is built with torch.tensor in collate()).
    node_slices = ptr.cpu()
    zero_incs = torch.zeros(num_graphs, dtype=torch.long)
    out._slice_dict = {key: node_slices for key in node_attrs}
    out._inc_dict = {key: zero_incs for key in node_attrs}
    out._slice_dict["edge_index"] = exclusive_cumsum(edge_counts).cpu()
    out._inc_dict["edge_index"] = node_slices[:-1]
    out._num_graphs = num_graphs
    return out
