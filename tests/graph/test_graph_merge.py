"""Text-node merging (METHOD.md §4): hand-made graphs with known answers and a per-graph reference."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from graphkd.graph import NODE_BACKGROUND, NODE_NONTEXT, NODE_TEXT, MergeOutput, TextNodeMerge

T, N, BG = NODE_TEXT, NODE_NONTEXT, NODE_BACKGROUND


def make_graph(teacher, node_type, edges, student=None, boxes=None) -> Data:
    count = len(teacher)
    teacher = torch.tensor(teacher, dtype=torch.float32).reshape(count, -1) if count else torch.zeros(0, 2)
    if student is None:
        student = torch.arange(count * 3, dtype=torch.float32).view(count, 3)
    if boxes is None:
        boxes = torch.stack(
            [
                torch.arange(count) * 10.0,
                torch.zeros(count),
                torch.arange(count) * 10.0 + 8,
                torch.full((count,), 5.0),
            ],
            dim=1,
        )
    edge_index = torch.tensor(edges, dtype=torch.long).view(-1, 2).t()
    return Data(
        x=torch.as_tensor(student, dtype=torch.float32),
        x_teacher=teacher,
        box=torch.as_tensor(boxes, dtype=torch.float32),
        node_type=torch.tensor(node_type, dtype=torch.long),
        gt_class=torch.arange(count) + 100,
        gt_node_type=torch.tensor(node_type, dtype=torch.long),
        edge_index=to_undirected(edge_index, num_nodes=count),
    )


def example_graph() -> Data:
    """0, 1 and 4 are similar text nodes (0-1, 1-4 edges); 2 is dissimilar text; 3 non-text, 5 background.

    3 and 5 have teacher features identical to node 0, and student features are orthogonal between
    0 and 1, so only the teacher decides membership.
    """
    teacher = [[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 0.0], [1.0, 0.2], [1.0, 0.0]]
    student = [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [5.0, 5.0, 5.0],
        [7.0, 0.0, 0.0],
        [0.0, 0.0, 4.0],
        [1.0, 1.0, 1.0],
    ]
    boxes = [
        [0, 0, 10, 10],
        [0, 12, 10, 22],
        [20, 0, 30, 10],
        [20, 12, 30, 22],
        [5, 24, 15, 40],
        [40, 40, 50, 50],
    ]
    edges = [[0, 1], [1, 2], [2, 3], [3, 4], [1, 4], [4, 5], [0, 3], [0, 5]]
    return make_graph(teacher, [T, T, T, N, T, BG], edges, student, boxes)


def test_hand_made_graph_merges_the_similar_text_nodes():
    out = TextNodeMerge(threshold=0.8)(Batch.from_data_list([example_graph()]))
    assert isinstance(out, MergeOutput)
    assert out.cluster.tolist() == [0, 0, 1, 2, 0, 3]
    pooled = out.batch
    assert pooled.num_graphs == 1 and pooled.ptr.tolist() == [0, 4]
    assert pooled.node_type.tolist() == [T, T, N, BG]
    assert pooled.cluster_size.tolist() == [3, 1, 1, 1]
    assert pooled.box.tolist() == [[0, 0, 15, 40], [20, 0, 30, 10], [20, 12, 30, 22], [40, 40, 50, 50]]
    # Student features: mean of members 0, 1, 4 (teacher membership), untouched elsewhere.
    torch.testing.assert_close(pooled.x[0], torch.tensor([1 / 3, 1 / 3, 4 / 3]))
    torch.testing.assert_close(pooled.x_teacher[0], torch.tensor([1.0, 0.1]))
    assert pooled.x[1:].tolist() == [[5.0, 5.0, 5.0], [7.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    assert pooled.gt_class.tolist() == [100, 102, 103, 105]
    # Union of the members' edges, self-loop on the merged node, coalesced.
    assert pooled.edge_index.tolist() == [[0, 0, 0, 0, 1, 1, 2, 2, 3], [0, 1, 2, 3, 0, 2, 0, 1, 0]]


def test_threshold_decides_which_edges_merge():
    batch = Batch.from_data_list([example_graph()])
    # cos(0, 1) = 0.99504, cos(1, 4) = 0.99524: 0.9951 only merges 1 and 4 (and their mean
    # [1, 0.15] has cos 0.989 with node 0, so round 2 adds nothing).
    assert TextNodeMerge(threshold=0.9951)(batch).cluster.tolist() == [0, 1, 2, 3, 1, 4]
    assert TextNodeMerge(threshold=1.01)(batch).cluster.tolist() == [0, 1, 2, 3, 4, 5]
    assert TextNodeMerge(threshold=-1.0)(batch).cluster.tolist() == [0, 0, 0, 1, 0, 2]


def test_non_text_and_background_never_merge():
    identical = [[1.0, 1.0]] * 4
    graph = make_graph(identical, [N, N, BG, BG], [[0, 1], [1, 2], [2, 3], [0, 3]])
    out = TextNodeMerge(threshold=0.0, min_text_ratio=0.0)(Batch.from_data_list([graph]))
    assert out.cluster.tolist() == [0, 1, 2, 3]
    assert torch.equal(out.batch.edge_index, graph.edge_index)


def test_rounds_compose_and_means_stay_over_original_members():
    # cos(0, 1) = 0.928 merges in round 1; cos(1, 2) = 0.887 fails, but the merged mean [1, 0.2]
    # has cos 0.956 with node 2, which joins in round 2.
    graph = make_graph([[1.0, 0.0], [1.0, 0.4], [1.0, -0.1]], [T, T, T], [[0, 1], [1, 2]])
    batch = Batch.from_data_list([graph])
    one_round = TextNodeMerge(threshold=0.9, max_rounds=1, min_text_ratio=0.0)(batch)
    assert one_round.cluster.tolist() == [0, 0, 1]
    out = TextNodeMerge(threshold=0.9, min_text_ratio=0.0)(batch)
    assert out.cluster.tolist() == [0, 0, 0]
    torch.testing.assert_close(out.batch.x, graph.x.mean(0, keepdim=True))
    torch.testing.assert_close(out.batch.x_teacher, torch.tensor([[1.0, 0.1]]))
    assert out.batch.cluster_size.tolist() == [3] and out.batch.edge_index.tolist() == [[0], [0]]
    # Merging the merged batch again leaves it alone and keeps the sizes.
    again = TextNodeMerge(threshold=0.9, min_text_ratio=0.0)(out.batch)
    assert again.cluster.tolist() == [0] and again.batch.cluster_size.tolist() == [3]


def test_text_ratio_stops_a_graph():
    # 2 text vs 2 non-text nodes: 2 <= 1.0 * 2 stops; with ratio 0.5 it merges.
    graph = make_graph([[1.0, 0.0]] * 4, [T, T, N, N], [[0, 1], [1, 2], [2, 3]])
    batch = Batch.from_data_list([graph])
    assert TextNodeMerge(threshold=0.5)(batch).cluster.tolist() == [0, 1, 2, 3]
    assert TextNodeMerge(threshold=0.5, min_text_ratio=0.5)(batch).cluster.tolist() == [0, 0, 1, 2]


def test_non_merging_graphs_come_back_identical_and_empty_graphs_stay():
    empty = make_graph(torch.zeros(0, 2).tolist(), [], [])
    single = make_graph([[1.0, 0.0]], [T], [])
    pair = make_graph([[1.0, 0.0], [0.0, 1.0]], [T, T], [[0, 1]])
    batch = Batch.from_data_list([empty, single, pair, empty, example_graph(), empty])
    out = TextNodeMerge(threshold=0.8)(batch)
    assert out.batch.num_graphs == 6
    assert out.batch.ptr.tolist() == [0, 0, 1, 3, 3, 7, 7]
    assert out.cluster.tolist() == [0, 1, 2, 3, 3, 4, 5, 3, 6]
    for index in (0, 1, 2, 3, 5):
        graph, before = out.batch.get_example(index), batch.get_example(index)
        for key in ("x", "x_teacher", "box", "node_type", "gt_class", "edge_index"):
            assert torch.equal(graph[key], before[key]), key


def reference_merge(graph: Data, threshold: float, max_rounds: int, ratio: float) -> tuple[list[int], Data]:
    """Per-graph Python reference of METHOD.md §4, with explicit member lists."""
    count = graph.num_nodes
    members = [[node] for node in range(count)]  # current node -> original members
    node_type = graph.node_type.tolist()
    edges = {tuple(edge) for edge in graph.edge_index.t().tolist() if edge[0] != edge[1]}
    for _ in range(max_rounds):
        text = [i for i, kind in enumerate(node_type) if kind == T]
        if len(text) <= ratio * sum(kind == N for kind in node_type):
            break
        teacher = torch.stack([graph.x_teacher[group].mean(0) for group in members])
        parent = list(range(len(members)))

        def find(node: int, parent: list[int] = parent) -> int:
            while parent[node] != node:
                node = parent[node]
            return node

        merged_any = False
        for p, q in sorted(edges):
            if p < q and node_type[p] == T and node_type[q] == T:
                if F.cosine_similarity(teacher[p], teacher[q], dim=0) >= threshold:
                    low, high = sorted((find(p), find(q)))
                    parent[high] = low
                    merged_any = True
        if not merged_any:
            break
        roots = sorted({find(node) for node in range(len(members))})
        new_index = {root: index for index, root in enumerate(roots)}
        mapping = [new_index[find(node)] for node in range(len(members))]
        members = [
            sum((members[node] for node in range(len(members)) if mapping[node] == k), [])
            for k in range(len(roots))
        ]
        node_type = [node_type[root] for root in roots]
        edges = {(mapping[p], mapping[q]) for p, q in edges if mapping[p] != mapping[q]}
    cluster = [0] * count
    for index, group in enumerate(members):
        for node in group:
            cluster[node] = index
    edges |= {(index, index) for index, group in enumerate(members) if len(group) > 1}
    pooled = Data(
        x=torch.stack([graph.x[group].mean(0) for group in members]) if members else graph.x,
        x_teacher=torch.stack([graph.x_teacher[group].mean(0) for group in members])
        if members
        else graph.x_teacher,
        box=torch.stack(
            [
                torch.cat([graph.box[group, :2].min(0).values, graph.box[group, 2:].max(0).values])
                for group in members
            ]
        )
        if members
        else graph.box,
        node_type=torch.tensor(node_type, dtype=torch.long),
        gt_class=torch.tensor([int(graph.gt_class[min(group)]) for group in members], dtype=torch.long),
        cluster_size=torch.tensor([len(group) for group in members], dtype=torch.long),
        edge_index=torch.tensor(sorted(edges), dtype=torch.long).view(-1, 2).t(),
    )
    return cluster, pooled


def random_graph(count: int, generator: torch.Generator) -> Data:
    """Text nodes drawn around a few teacher prototypes, so that some merge and some do not."""
    prototypes = torch.randn(3, 6, generator=generator)
    teacher = prototypes[torch.randint(0, 3, (count,), generator=generator)]
    teacher = teacher + 0.3 * torch.randn(count, 6, generator=generator)
    node_type = torch.multinomial(
        torch.tensor([0.7, 0.2, 0.1]), max(count, 1), replacement=True, generator=generator
    )[:count]
    edges = torch.randint(0, max(count, 1), (2, 2 * count), generator=generator)
    graph = make_graph(teacher.tolist(), node_type.tolist(), edges.t().tolist())
    graph.x = torch.randn(count, 5, generator=generator)
    graph.x_teacher = teacher
    graph.box = torch.rand(count, 4, generator=generator).sort(dim=1).values[:, [0, 1, 2, 3]]
    return graph


@pytest.mark.parametrize("threshold,ratio", [(0.8, 1.0), (0.5, 0.3), (0.95, 0.0)])
def test_batched_merge_equals_reference_per_graph(threshold, ratio):
    generator = torch.Generator().manual_seed(int(threshold * 100))
    graphs = [random_graph(count, generator) for count in (9, 0, 14, 1, 2, 20)]
    layer = TextNodeMerge(threshold=threshold, max_rounds=3, min_text_ratio=ratio)
    out = layer(Batch.from_data_list(graphs))
    offset_in, offset_out = 0, 0
    for index, graph in enumerate(graphs):
        cluster, expected = reference_merge(graph, threshold, 3, ratio)
        alone = layer(Batch.from_data_list([graph]))
        pooled = out.batch.get_example(index)
        got_cluster = out.cluster[offset_in : offset_in + graph.num_nodes] - offset_out
        assert got_cluster.tolist() == cluster == alone.cluster.tolist()
        for key in ("x", "x_teacher", "box"):
            torch.testing.assert_close(pooled[key], expected[key])
            torch.testing.assert_close(alone.batch[key], expected[key])
        for key in ("node_type", "gt_class", "cluster_size", "edge_index"):
            assert pooled[key].tolist() == expected[key].tolist(), key
        offset_in += graph.num_nodes
        offset_out += pooled.num_nodes


def test_node_permutation_permutes_merges():
    generator = torch.Generator().manual_seed(5)
    graph = random_graph(16, generator)
    perm = torch.randperm(16, generator=generator)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(16)
    permuted = graph.clone()
    for key in ("x", "x_teacher", "box", "node_type", "gt_class", "gt_node_type"):
        permuted[key] = graph[key][perm]
    permuted.edge_index = inverse[graph.edge_index]
    layer = TextNodeMerge(threshold=0.5, min_text_ratio=0.0)
    out, out_permuted = layer(Batch.from_data_list([graph])), layer(Batch.from_data_list([permuted]))
    # Same partition of the original nodes (labels may differ), same pooled features per group.
    groups = {
        frozenset((out.cluster == k).nonzero().view(-1).tolist()) for k in out.cluster.unique().tolist()
    }
    groups_permuted = {
        frozenset(perm[(out_permuted.cluster == k).nonzero().view(-1)].tolist())
        for k in out_permuted.cluster.unique().tolist()
    }
    assert groups == groups_permuted
    torch.testing.assert_close(out_permuted.batch.x[out_permuted.cluster[inverse]], out.batch.x[out.cluster])


def test_gradient_reaches_student_features_not_teacher():
    graph = example_graph()
    graph.x = graph.x.clone().requires_grad_(True)
    graph.x_teacher = graph.x_teacher.clone().requires_grad_(True)
    out = TextNodeMerge(threshold=0.8)(Batch.from_data_list([graph]))
    out.batch.x[0].sum().backward()
    expected = torch.zeros(6, 3)
    expected[[0, 1, 4]] = 1 / 3
    torch.testing.assert_close(graph.x.grad, expected)
    assert graph.x_teacher.grad is None and not out.batch.x_teacher.requires_grad
    assert math.isclose(out.batch.x[0].sum().item(), 2.0, rel_tol=1e-6)


def test_lone_data_counts_as_one_graph():
    out = TextNodeMerge(threshold=0.8)(example_graph())
    assert out.cluster.tolist() == [0, 0, 1, 2, 0, 3]
    assert isinstance(out.batch, Batch) and out.batch.num_graphs == 1 and out.batch.ptr.tolist() == [0, 4]


def test_merging_a_merged_graph_weights_its_nodes_by_their_size():
    """Round 1 merges 0 (0 deg) with 1 (36 deg); their mean (18 deg) is then within cos 0.8 of 2 (50 deg),
    which neither member was close to on its own edge (2 is adjacent to 0 only). One call with 2 rounds,
    and two calls with 1 round each (the second one sees the first's cluster sizes), give the same nodes:
    means over the ORIGINAL members, so the second call must weight the merged node by its size 2."""
    angles = [0.0, 36.0, 50.0, 90.0]
    teacher = [[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles]
    student = [[1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 6.0], [9.0, 9.0, 9.0]]
    graph = make_graph(teacher, [T, T, T, N], [(0, 1), (0, 2), (2, 3)], student=student)
    once = TextNodeMerge(threshold=0.8, max_rounds=2, min_text_ratio=0.0)(graph)
    first = TextNodeMerge(threshold=0.8, max_rounds=1, min_text_ratio=0.0)(graph)
    assert first.batch.num_nodes == 3  # round 1 merged 0 and 1 only
    twice = TextNodeMerge(threshold=0.8, max_rounds=1, min_text_ratio=0.0)(first.batch)
    assert once.batch.num_nodes == twice.batch.num_nodes == 2
    expected_student = torch.tensor(student[:3]).mean(0)  # the mean of the three original members
    torch.testing.assert_close(once.batch.x[0], expected_student)
    torch.testing.assert_close(twice.batch.x[0], expected_student)
    torch.testing.assert_close(twice.batch.x_teacher, once.batch.x_teacher)
    assert twice.batch.cluster_size.tolist() == once.batch.cluster_size.tolist() == [3, 1]


def test_an_edge_at_exactly_the_threshold_merges():
    """METHOD.md §4 keeps the edges with score >= threshold: orthogonal teacher features (cosine exactly 0)
    merge at threshold 0 and not above it."""
    graph = make_graph([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [T, T, N], [(0, 1), (1, 2)])
    assert TextNodeMerge(threshold=0.0, min_text_ratio=0.0)(graph).cluster.tolist() == [0, 0, 1]
    assert TextNodeMerge(threshold=1e-6, min_text_ratio=0.0)(graph).cluster.tolist() == [0, 1, 2]


def test_when_nothing_merges_only_merged_nodes_keep_self_loops():
    """Output self-loops mark merged nodes (cluster_size > 1). A graph that merges nothing keeps the loop of
    a node merged by an earlier call and drops a stray loop of a single node (never built by us)."""
    graph = make_graph([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [T, T, N], [(0, 1), (1, 2)])
    graph.cluster_size = torch.tensor([2, 1, 1])
    graph.edge_index = torch.cat(
        [graph.edge_index, torch.tensor([[0, 1], [0, 1]])], dim=1
    )  # loops on 0 and 1
    out = TextNodeMerge(threshold=0.5, min_text_ratio=0.0)(graph)
    assert out.cluster.tolist() == [0, 1, 2]
    loops = out.batch.edge_index[:, out.batch.edge_index[0] == out.batch.edge_index[1]]
    assert loops.tolist() == [[0], [0]]
    assert out.batch.edge_index.size(1) == 5  # the 4 directed chain edges and node 0's loop
