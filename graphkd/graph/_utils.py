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


def edge_cosine(x: Tensor, edge_index: Tensor) -> Tensor:
    """``(E,)`` float32 cosine similarity of the features of each edge's two endpoints.

    ``x`` is ``(N, ...)``, flattened per node. Zero vectors have cosine 0 with everything.
    The loop runs over fixed-size chunks of edges only to bound the memory of the gathered features.
    """
    num_edges = edge_index.size(1)
    if num_edges == 0:
        return x.new_zeros(0, dtype=torch.float32)
    with float32_statistics(x.device):
        unit = F.normalize(x.detach().flatten(1).float(), dim=-1, eps=1e-12)  # (N, D)
        step = max(1, _EDGE_CHUNK_ELEMENTS // max(1, unit.size(1)))
        chunks = [
            (unit[edge_index[0, start : start + step]] * unit[edge_index[1, start : start + step]]).sum(-1)
            for start in range(0, num_edges, step)
        ]
    return torch.cat(chunks)


def node_attr_keys(batch: Batch) -> list[str]:
    """Names of the per-node tensors of ``batch`` (everything but ``batch``/``ptr``/edge attributes)."""
    num_nodes = batch.batch.numel()
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
