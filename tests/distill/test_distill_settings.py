"""The constructors' defaults are METHOD.md's values, and bad settings are refused naming the setting and value.

Plain constructors are what users of the layers (and inspection) build without a config, so their defaults must
be the spec's, not whatever a config file happens to pass.
"""

import inspect

import pytest
import torch

from graphkd.distill import MahalanobisEdgeLoss, MSEEdgeLoss, background_node_loss
from graphkd.distill.distiller import GraphKDDistiller
from graphkd.distill.losses import _per_node_sq_error, relation_matrices
from graphkd.graph import AdaptiveNodeSampler, TextNodeMerge


def test_distiller_defaults_are_the_method_values():
    distiller = GraphKDDistiller(student_channels=4, teacher_channels=4)
    assert (distiller.fg_loss_weight, distiller.bg_loss_weight) == (0.5, 0.5)  # §6 lambda_fg, lambda_bg
    assert distiller.bg_weight_alpha == 7.5  # §6 alpha
    assert distiller.edge_loss_weight == 1.0
    assert isinstance(distiller.edge_loss, MahalanobisEdgeLoss)  # §6 default edge loss
    assert distiller.node_type_mode == "covariance"  # §2 default
    assert (distiller.adjacency_gap, distiller.min_axis_overlap) == (1.0, 0.5)  # §3
    assert (distiller.sampler.mode, distiller.sampler.beta) == ("weight", 1.0)  # §5
    assert distiller.image_reduction == "mean"  # §6 images
    assert distiller.merge is None and distiller.adapter is None


def test_layer_and_loss_defaults_are_the_method_values():
    merge = TextNodeMerge()
    assert (merge.threshold, merge.max_rounds, merge.min_text_ratio) == (0.8, 3, 1.0)  # §4
    assert inspect.signature(background_node_loss).parameters["alpha"].default == 7.5
    maha = MahalanobisEdgeLoss()
    assert (maha.shrinkage, maha.eps) == (0.1, 1e-4)  # §6 lambda, epsilon


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"sampling_mode": "drop"},
            "GRAPHKD.SAMPLING.MODE must be one of ('weight', 'sample', 'none'), got 'drop'",
        ),
        ({"node_type_mode": "GT"}, "GRAPHKD.NODE_TYPE.MODE must be 'covariance' or 'gt', got 'GT'"),
        (
            {"node_type_mode": "gt"},
            "GRAPHKD.NODE_TYPE.MODE 'gt' needs text classes (dataset metadata or config)",
        ),
        ({"image_reduction": "max"}, "GRAPHKD.IMAGE_REDUCTION must be one of ('mean', 'sum'), got 'max'"),
        (
            {"edge_loss": MSEEdgeLoss(reduction="sum")},
            "the edge loss reduces graphs by 'sum', the distiller by 'mean'",
        ),
    ],
)
def test_distiller_rejects_bad_settings_naming_them(kwargs, message):
    with pytest.raises(ValueError) as error:
        GraphKDDistiller(student_channels=4, teacher_channels=4, **kwargs)
    assert str(error.value) == message


def test_distiller_accepts_gt_typing_with_text_classes_and_a_matching_edge_reduction():
    distiller = GraphKDDistiller(
        student_channels=4,
        teacher_channels=8,
        node_type_mode="gt",
        text_classes=[0, 2],
        edge_loss=MSEEdgeLoss(reduction="sum"),
        image_reduction="sum",
        sampling_beta=0.25,
    )
    assert distiller.text_classes == [0, 2] and distiller.sampler.beta == 0.25
    assert distiller.adapter is not None  # 4 -> 8 channels


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MahalanobisEdgeLoss(shrinkage=1.5), "shrinkage must be in [0, 1], got 1.5"),
        (lambda: MahalanobisEdgeLoss(shrinkage=-0.5), "shrinkage must be in [0, 1], got -0.5"),
        (lambda: MahalanobisEdgeLoss(eps=0.0), "eps must be positive, got 0.0"),
        (lambda: AdaptiveNodeSampler(beta=0.0), "sampling beta must be positive, got 0.0"),
        (
            lambda: _per_node_sq_error(torch.zeros(2, 3), torch.zeros(2, 4)),
            "student (2, 3) and teacher (2, 4) differ",
        ),
        (
            lambda: MSEEdgeLoss()(torch.zeros(3, 2), torch.zeros(3, 5), torch.zeros(3, dtype=torch.long)),
            "student (3, 2) and teacher (3, 5) differ",
        ),
        (
            lambda: background_node_loss(
                torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([1]), torch.tensor([3])
            ),
            "negatives of image 1, but num_foreground has 1 images",
        ),
    ],
)
def test_losses_and_layers_reject_bad_settings_naming_them(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert str(error.value) == message


@pytest.mark.parametrize("shrinkage", [0.0, 1.0])
def test_mahalanobis_accepts_the_shrinkage_bounds(shrinkage):
    assert MahalanobisEdgeLoss(shrinkage=shrinkage).shrinkage == shrinkage


def test_relation_matrices_without_nodes_keep_every_graph():
    relation, mask = relation_matrices(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), num_graphs=3)
    assert relation.shape == (3, 0, 0) and mask.shape == (3, 0) and mask.dtype == torch.bool


def _graph_inputs(seed: int = 0):
    """Two images of 4 and 3 RoIs (student = teacher channels), boxes in a loose column, one mined negative each."""
    gen = torch.Generator().manual_seed(seed)
    teacher = torch.randn(7, 4, 7, 7, generator=gen)
    student = teacher + 0.3 * torch.randn(7, 4, 7, 7, generator=gen)
    # a column of 10 px tall boxes 15 px apart, shifted 12 px left and right: neighbours share 70% of their width
    top = torch.tensor([0.0, 25.0, 50.0, 75.0, 0.0, 25.0, 50.0])
    left = torch.tensor([0.0, 12.0, 0.0, 12.0, 0.0, 12.0, 0.0])
    boxes = torch.stack([left, top, left + 40, top + 10], dim=1)
    is_background = torch.tensor([False, False, False, True, False, False, True])
    gt_classes = torch.tensor([0, 1, 0, 5, 0, 2, 5])
    return student, teacher, boxes, [4, 3], is_background, gt_classes


def test_distiller_passes_its_settings_to_the_layers_and_losses():
    """The distiller's adjacency, text classes, background alpha and edge-loss node types reach the layers: the
    same losses as the layers called by hand with those settings (non-default values throughout)."""
    from graphkd.distill import DiagMahalanobisEdgeLoss, foreground_node_loss, reduce_images
    from graphkd.graph import build_instance_graphs

    student, teacher, boxes, counts, is_background, gt_classes = _graph_inputs()
    edge_loss = DiagMahalanobisEdgeLoss().eval()  # fixed variances: needs node_type
    distiller = GraphKDDistiller(
        student_channels=4,
        teacher_channels=4,
        bg_weight_alpha=2.0,
        edge_loss=edge_loss,
        node_type_mode="gt",
        text_classes=[0],
        adjacency_gap=2.0,
        min_axis_overlap=0.9,
    )
    graphs = distiller.build_graphs(student, teacher, boxes, counts, is_background, gt_classes)
    reference = build_instance_graphs(
        student, teacher, boxes, counts, is_background=is_background, gt_classes=gt_classes,
        text_classes=[0], node_type_mode="gt", adjacency_gap=2.0, min_axis_overlap=0.9,
    )  # fmt: skip
    assert torch.equal(graphs.edge_index, reference.edge_index) and torch.equal(
        graphs.node_type, reference.node_type
    )
    # the gap (15 px: within 2, not 1 median height) and the overlap (70%: at least 0.5, not 0.9) each decide
    assert graphs.edge_index.size(1) == 0
    assert build_instance_graphs(student, teacher, boxes, counts).edge_index.size(1) == 0
    wide = GraphKDDistiller(student_channels=4, teacher_channels=4, adjacency_gap=2.0, min_axis_overlap=0.5)
    wide_edges = wide.build_graphs(student, teacher, boxes, counts, is_background, gt_classes).edge_index
    reference = build_instance_graphs(
        student, teacher, boxes, counts, adjacency_gap=2.0, min_axis_overlap=0.5
    )
    assert wide_edges.size(1) == 10 and torch.equal(wide_edges, reference.edge_index)
    # text classes given to build_graphs win over the distiller's
    other = distiller.build_graphs(
        student, teacher, boxes, counts, is_background, gt_classes, text_classes=[1]
    )
    assert other.node_type.tolist() == [1, 0, 1, 2, 1, 1, 2]
    losses, _ = distiller(student, teacher, boxes, counts, is_background, gt_classes)
    fg = graphs.node_type != 2
    num_fg = torch.bincount(graphs.batch[fg], minlength=2)
    bg = background_node_loss(student[~fg], teacher[~fg], graphs.batch[~fg], num_fg, alpha=2.0)
    edge = edge_loss(graphs.x, graphs.x_teacher, graphs.batch, node_type=graphs.node_type, num_graphs=2)
    weight = AdaptiveNodeSampler()(graphs).weight  # §5 text/non-text weights
    fg_term = foreground_node_loss(
        student[fg], teacher[fg], graphs.batch[fg], weight=weight[fg], num_graphs=2
    )
    torch.testing.assert_close(losses["loss_graphkd_node_bg"], 0.5 * reduce_images(bg, "mean"))
    torch.testing.assert_close(losses["loss_graphkd_node_fg"], 0.5 * reduce_images(fg_term, "mean"))
    torch.testing.assert_close(losses["loss_graphkd_edge"], edge)


def test_background_alpha_default_is_seven_and_a_half():
    student, teacher = torch.ones(1, 2), torch.zeros(1, 2)
    default = background_node_loss(student, teacher, torch.tensor([0]), torch.tensor([2]))
    assert default.item() == pytest.approx(7.5 * 2 / 1 * 2 / (2 * 1))


def test_sample_mode_stages_use_the_generator():
    student, teacher, boxes, counts, is_background, gt_classes = _graph_inputs()
    gt_classes = torch.tensor([0, 0, 0, 5, 0, 0, 5])  # all text: sampling keeps one per image
    distiller = GraphKDDistiller(
        student_channels=4, teacher_channels=4, node_type_mode="gt", text_classes=[0], sampling_mode="sample"
    )
    graphs = distiller.build_graphs(student, teacher, boxes, counts, is_background, gt_classes)
    kept = {
        tuple(distiller.stages(graphs, generator=torch.Generator().manual_seed(seed)).sampled.perm.tolist())
        for seed in range(8)
    }
    again = distiller.stages(graphs, generator=torch.Generator().manual_seed(3)).sampled.perm
    assert len(kept) > 1 and tuple(again.tolist()) in kept
    first = distiller.stages(graphs, generator=torch.Generator().manual_seed(3)).sampled.perm
    assert torch.equal(first, again)


def test_an_edge_loss_without_a_reduction_attribute_is_accepted():
    class PlainEdgeLoss(torch.nn.Module):
        def forward(self, student_x, teacher_x, batch, node_type=None, num_graphs=None):
            return (student_x - teacher_x).pow(2).mean()

    distiller = GraphKDDistiller(student_channels=4, teacher_channels=4, edge_loss=PlainEdgeLoss())
    assert isinstance(distiller.edge_loss, PlainEdgeLoss)


def test_stages_return_the_merge_and_node_stats_log_agreement_for_built_graphs_only():
    """Inspection draws ``stages().merged``/``cluster``; the training log gets the type agreement of the built
    graphs (before merging), and node counts of both."""
    student, teacher, boxes, counts, is_background, gt_classes = _graph_inputs()
    gt_classes = torch.tensor([0, 0, 1, 5, 0, 0, 5])
    distiller = GraphKDDistiller(
        student_channels=4,
        teacher_channels=4,
        node_type_mode="gt",
        text_classes=[0],
        adjacency_gap=2.0,
        merge=TextNodeMerge(threshold=-1.0, min_text_ratio=0.0),  # every adjacent text pair merges
    )
    graphs = distiller.build_graphs(student, teacher, boxes, counts, is_background, gt_classes)
    stages = distiller.stages(graphs)
    assert stages.merged.num_nodes < graphs.num_nodes
    assert (
        stages.cluster.shape == (graphs.num_nodes,)
        and int(stages.cluster.max()) == stages.merged.num_nodes - 1
    )
    built = GraphKDDistiller.node_stats(graphs, "")
    final = GraphKDDistiller.node_stats(stages.sampled.batch, "final_")
    assert set(built) == {f"graphkd/{k}_nodes" for k in ("text", "nontext", "bg")} | {
        "graphkd/type_agreement"
    }
    assert set(final) == {f"graphkd/final_{k}_nodes" for k in ("text", "nontext", "bg")}
