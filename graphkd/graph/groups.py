"""Per-group (per-graph, per-image) tensor helpers: every function works on all groups at once through a
sorted ``group`` vector (node -> graph index, as in a PyG ``Batch``); none loops over groups or nodes.

Shapes: ``N`` elements (nodes) of the whole batch, ``G`` groups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = [
    "counts_to_index",
    "exclusive_cumsum",
    "float32_statistics",
    "group_median",
    "rank_within_groups",
    "resolve_batch",
    "resolve_num_graphs",
    "sort_within_groups",
]


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


def counts_to_index(counts: Tensor | list[int], device: torch.device | None = None) -> Tensor:
    """``(sum(counts),)`` group index of each element from per-group counts: ``[2, 0, 1] -> [0, 0, 2]``."""
    counts = torch.as_tensor(counts, dtype=torch.long, device=device)
    return torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
