"""A fast PyG ``Batch`` builder from concatenated per-node tensors, and ``Batch`` introspection.

:func:`make_batch` writes PyG's private ``Batch`` bookkeeping (``_slice_dict``, ``_inc_dict``,
``_num_graphs``) so that ``to_data_list()`` and indexing work without building per-graph ``Data``. Those
fields are not public API: ``PYG_VERSION_CHECKED`` is the torch-geometric version this was checked against,
and ``tests/graph/test_graph_helpers.py`` fails on any other, so that an upgrade re-checks it.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from .groups import exclusive_cumsum

__all__ = ["PYG_VERSION_CHECKED", "graph_index", "make_batch", "node_attr_keys"]

# the torch-geometric release whose private Batch fields make_batch fills (requirements.txt pins it)
PYG_VERSION_CHECKED = "2.8.1"
# Attributes of a `Batch` that are bookkeeping, not per-node data.
_RESERVED_KEYS = ("batch", "ptr", "edge_index")


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
