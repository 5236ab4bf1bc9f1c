"""Adaptive node sampling (METHOD.md §5): weights and sampled subgraphs."""

import math

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import subgraph

from graphkd.graph import NODE_BACKGROUND, NODE_NONTEXT, NODE_TEXT, AdaptiveNodeSampler, SampleOutput

T, N, BG = NODE_TEXT, NODE_NONTEXT, NODE_BACKGROUND


def make_graph(node_type: list[int], seed: int = 0) -> Data:
    count = len(node_type)
    generator = torch.Generator().manual_seed(seed)
    chain = torch.stack([torch.arange(count - 1), torch.arange(1, count)]) if count > 1 else torch.zeros(2, 0)
    edge_index = torch.cat([chain, chain.flip(0)], dim=1).long()
    order = edge_index[0] * max(count, 1) + edge_index[1]
    return Data(
        x=torch.randn(count, 3, generator=generator),
        x_teacher=torch.randn(count, 2, generator=generator),
        box=torch.rand(count, 4, generator=generator),
        node_type=torch.tensor(node_type, dtype=torch.long),
        edge_index=edge_index[:, order.argsort()],
    )


GRAPHS = [
    [T, T, N, T, BG, T, N, BG, T, BG, T, BG],  # 6 text, 2 non-text, 4 background
    [],
    [T],
    [BG, BG],
    [T, T, T],
    [N, N, N, T, T, T, T, T, BG],
    [T, N, N, BG],  # fewer text than non-text: the text weight stays 1 (min(1, ...))
]


def expected_weights(node_type: list[int], beta: float) -> list[float]:
    """METHOD.md §5: text min(1, beta * max(N_nontext, 1) / N_text), non-text 1; background 1 (its weight is
    the node loss's background term, §6)."""
    text, nontext = (node_type.count(kind) for kind in (T, N))
    weight = {T: min(1.0, beta * max(nontext, 1) / text) if text else 1.0, N: 1.0, BG: 1.0}
    return [weight[kind] for kind in node_type]


def test_weight_mode_weights_per_image():
    batch = Batch.from_data_list([make_graph(types, seed) for seed, types in enumerate(GRAPHS)])
    out = AdaptiveNodeSampler(mode="weight", beta=1.0)(batch)
    assert isinstance(out, SampleOutput)
    assert out.perm.tolist() == list(range(batch.num_nodes))
    first = out.weight[:12].tolist()
    assert first == pytest.approx([1 / 3, 1 / 3, 1, 1 / 3, 1, 1 / 3, 1, 1, 1 / 3, 1, 1 / 3, 1])
    expected = sum((expected_weights(types, 1.0) for types in GRAPHS), [])
    assert out.weight.tolist() == pytest.approx(expected)
    assert torch.equal(out.batch.weight, out.weight) and out.weight.dtype == torch.float32
    for key in ("x", "x_teacher", "box", "node_type", "edge_index", "ptr", "batch"):
        assert torch.equal(out.batch[key], batch[key]), key
    assert out.batch.num_graphs == len(GRAPHS)


def test_weight_mode_beta():
    batch = Batch.from_data_list([make_graph(GRAPHS[5])])
    out = AdaptiveNodeSampler(mode="weight", beta=0.5)(batch)
    assert out.weight.tolist() == pytest.approx(expected_weights(GRAPHS[5], 0.5))
    assert out.weight.tolist() == pytest.approx([1, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.3, 1])


def test_none_mode_keeps_every_node_at_weight_one():
    batch = Batch.from_data_list([make_graph(types, seed) for seed, types in enumerate(GRAPHS)])
    out = AdaptiveNodeSampler(mode="none", beta=1.0)(batch)
    assert out.perm.tolist() == list(range(batch.num_nodes))
    assert out.weight.tolist() == [1.0] * batch.num_nodes
    assert torch.equal(out.batch.edge_index, batch.edge_index)


@pytest.mark.parametrize("beta", [1.0, 0.5])
@pytest.mark.parametrize(
    "graph_types",
    [GRAPHS, GRAPHS + [[N, N]], GRAPHS + [[T, T]], GRAPHS + [[N]]],
    ids=[
        "mixed",
        "last-without-text",
        "last-without-nontext",
        "last-node-isolated",
    ],  # per-image counts cover trailing images
)
def test_sample_mode_keeps_quota_of_text_and_induced_subgraph(beta, graph_types):
    graphs = [make_graph(types, seed) for seed, types in enumerate(graph_types)]
    batch = Batch.from_data_list(graphs)
    generator = torch.Generator().manual_seed(0)
    out = AdaptiveNodeSampler(mode="sample", beta=beta)(batch, generator=generator)
    assert out.batch.num_graphs == len(graph_types)
    assert torch.equal(out.perm, out.perm.sort().values)
    for index, types in enumerate(graph_types):
        start, end = int(batch.ptr[index]), int(batch.ptr[index + 1])
        kept = out.perm[(out.perm >= start) & (out.perm < end)] - start
        kept_types = [types[node] for node in kept.tolist()]
        text, nontext = types.count(T), types.count(N)
        quota = min(max(math.ceil(beta * nontext), 1), text) if text else 0
        assert kept_types.count(T) == quota
        assert kept_types.count(N) == nontext and kept_types.count(BG) == types.count(BG)
        graph = out.batch.get_example(index)
        expected_edges, _ = subgraph(kept, graphs[index].edge_index, relabel_nodes=True, num_nodes=len(types))
        assert torch.equal(graph.edge_index, expected_edges)
        assert torch.equal(graph.x, graphs[index].x[kept])
        expected = [1.0] * len(kept_types)  # every kept node weighs 1 in "sample" mode
        assert graph.weight.tolist() == pytest.approx(expected)


def test_sample_mode_is_seeded_and_uniform():
    batch = Batch.from_data_list([make_graph([T] * 10 + [N, N])])
    sampler = AdaptiveNodeSampler(mode="sample")
    first = sampler(batch, generator=torch.Generator().manual_seed(1)).perm
    again = sampler(batch, generator=torch.Generator().manual_seed(1)).perm
    assert torch.equal(first, again)
    generator = torch.Generator().manual_seed(2)
    counts = torch.zeros(10)
    for _ in range(200):
        counts[sampler(batch, generator=generator).perm[:-2]] += 1
    assert counts.sum() == 400 and counts.min() > 20  # each text node kept about 40 times


def test_batch_of_two_equals_each_alone():
    graphs = [make_graph(GRAPHS[0], 0), make_graph(GRAPHS[5], 1)]
    sampler = AdaptiveNodeSampler(mode="weight")
    out = sampler(Batch.from_data_list(graphs))
    for index, graph in enumerate(graphs):
        alone = sampler(Batch.from_data_list([graph]))
        assert torch.equal(out.batch.get_example(index).weight, alone.weight)


def test_rejects_unknown_mode():
    with pytest.raises(ValueError, match="sampling mode"):
        AdaptiveNodeSampler(mode="drop")


def test_lone_data_counts_as_one_graph():
    graph = make_graph(GRAPHS[0])
    out = AdaptiveNodeSampler(mode="weight")(graph)
    assert out.weight.tolist() == pytest.approx(expected_weights(GRAPHS[0], 1.0))
    assert isinstance(out.batch, Batch) and out.batch.num_graphs == 1
