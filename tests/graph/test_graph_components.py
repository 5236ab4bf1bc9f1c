"""Connected components by min-label propagation."""

import torch

from graphkd.graph import ConnectedComponents


def reference_components(edges: list[tuple[int, int]], num_nodes: int) -> list[int]:
    """Union-find; each node labelled with the smallest index of its component."""
    parent = list(range(num_nodes))

    def find(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for source, target in edges:
        low, high = sorted((find(source), find(target)))
        parent[high] = low
    return [find(node) for node in range(num_nodes)]


def test_hand_made_components():
    # {0, 3, 5} through directed edges only, {1}, {2, 4}, {6}
    edge_index = torch.tensor([[5, 3, 4], [3, 0, 2]])
    labels = ConnectedComponents()(edge_index, num_nodes=7)
    assert labels.tolist() == [0, 1, 2, 0, 2, 0, 6]


def test_long_chain_and_empty_inputs():
    # A chain 99 - 98 - ... - 0 written backwards: the minimum has to travel the whole chain.
    chain = torch.stack([torch.arange(1, 100), torch.arange(0, 99)])
    assert ConnectedComponents()(chain, num_nodes=100).tolist() == [0] * 100
    empty = torch.zeros(2, 0, dtype=torch.long)
    assert ConnectedComponents()(empty, num_nodes=3).tolist() == [0, 1, 2]
    assert ConnectedComponents()(empty, num_nodes=0).numel() == 0


def test_random_graphs_match_union_find():
    generator = torch.Generator().manual_seed(0)
    for num_nodes, num_edges in [(10, 4), (40, 30), (60, 90)]:
        edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=generator)
        labels = ConnectedComponents()(edge_index, num_nodes=num_nodes)
        assert labels.tolist() == reference_components(edge_index.t().tolist(), num_nodes)
