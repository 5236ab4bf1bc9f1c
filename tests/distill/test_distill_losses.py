"""Node and edge distillation losses against direct reference computations on tiny graphs."""

import math

import pytest
import torch
import torch.nn.functional as F

from graphkd.distill import (
    EDGE_LOSSES,
    DiagMahalanobisEdgeLoss,
    MahalanobisEdgeLoss,
    MSEEdgeLoss,
    background_node_loss,
    build_edge_loss,
    edge_type_matrix,
    foreground_node_loss,
    reduce_images,
    relation_matrices,
)
from graphkd.distill.losses import _cholesky_with_jitter

EPS = 1e-4


def _cos(x: torch.Tensor) -> torch.Tensor:
    unit = F.normalize(x.reshape(x.size(0), -1), dim=1)
    return unit @ unit.T


def _pair(k_per_graph=(4, 3), dim=6, seed=0):
    """Student/teacher features for graphs of the given sizes, with a sorted batch vector."""
    gen = torch.Generator().manual_seed(seed)
    n = sum(k_per_graph)
    teacher = torch.randn(n, dim, generator=gen)
    student = teacher + 0.5 * torch.randn(n, dim, generator=gen)
    batch = torch.repeat_interleave(torch.arange(len(k_per_graph)), torch.tensor(k_per_graph))
    return student.requires_grad_(), teacher.requires_grad_(), batch


def _ref_mahalanobis(student, teacher, shrinkage=0.1, eps=EPS):
    """One graph, float64, explicit inverse: mean_p sqrt(D_p^T S^-1 D_p + eps) - sqrt(eps)."""
    e_s, e_t = _cos(student.double()), _cos(teacher.double())
    k = e_t.size(0)
    cov = torch.cov(e_t.T)  # rows of E^T are the samples
    sigma = (1 - shrinkage) * cov + (shrinkage * torch.trace(cov) / k + eps) * torch.eye(k, dtype=cov.dtype)
    inv = torch.linalg.inv(sigma)
    delta = e_s - e_t
    sq = torch.einsum("pi,ij,pj->p", delta, inv, delta)
    return ((sq + eps).sqrt() - math.sqrt(eps)).mean()


def _ref_diag(student, teacher, variance, node_type, eps=EPS):
    """One graph: mean_p sqrt(sum_q D_pq^2 / (v_type + eps) + eps) - sqrt(eps), by explicit loops."""
    e_s, e_t = _cos(student.double()), _cos(teacher.double())
    k = e_t.size(0)
    rows = []
    for p in range(k):
        total = 0.0
        for q in range(k):
            tp, tq = int(node_type[p]), int(node_type[q])
            edge = 3 if 2 in (tp, tq) else tp + tq
            total += float(e_s[p, q] - e_t[p, q]) ** 2 / (float(variance[edge]) + eps)
        rows.append(math.sqrt(total + eps) - math.sqrt(eps))
    return sum(rows) / k


def _make(name):
    loss = build_edge_loss(name)
    if name == "mahalanobis_diag":  # fixed variances so graphs are independent of each other
        loss.eval()
        loss.running_var.copy_(torch.tensor([0.5, 1.0, 2.0, 0.25]))
    return loss


def _node_type(n, seed=1):
    return torch.randint(0, 3, (n,), generator=torch.Generator().manual_seed(seed))


def test_relation_matrices_are_padded_cosine_blocks():
    x = torch.randn(5, 3)
    batch = torch.tensor([0, 0, 0, 1, 1])
    rel, mask = relation_matrices(x, batch)
    assert rel.shape == (2, 3, 3) and mask.tolist() == [[True] * 3, [True, True, False]]
    torch.testing.assert_close(rel[0], _cos(x[:3]))
    torch.testing.assert_close(rel[1, :2, :2], _cos(x[3:]))
    assert rel[1, 2].abs().sum() == 0 and rel[1, :, 2].abs().sum() == 0
    torch.testing.assert_close(torch.diagonal(rel[0]), torch.ones(3))


def test_relation_matrices_flatten_pooled_features_and_keep_empty_graphs():
    x = torch.randn(3, 2, 7, 7)
    rel, mask = relation_matrices(x, torch.tensor([1, 1, 1]), num_graphs=3)
    assert rel.shape == (3, 3, 3) and mask.sum(1).tolist() == [0, 3, 0]
    torch.testing.assert_close(rel[1], _cos(x))


def _ref_fg(student, teacher, weight, dim):
    """One image: sum_i w_i ||s_i - t_i||^2 / (D sum_i w_i), by a loop."""
    numer = sum(float(w) * float(((s - t) ** 2).sum()) for s, t, w in zip(student, teacher, weight))
    return numer / (dim * float(sum(weight))) if float(sum(weight)) > 0 else 0.0


def test_foreground_node_loss_matches_hand_computation():
    student, teacher, batch = _pair((2, 3), dim=4)
    weight = torch.tensor([1.0, 3.0, 0.5, 0.5, 2.0])
    per_image = foreground_node_loss(student, teacher, batch, weight)
    expected = [
        _ref_fg(student[:2], teacher[:2], weight[:2], 4),
        _ref_fg(student[2:], teacher[2:], weight[2:], 4),
    ]
    assert per_image.tolist() == pytest.approx(expected, rel=1e-6)
    unweighted = foreground_node_loss(student, teacher, batch)
    assert unweighted.tolist() == pytest.approx(
        [_ref_fg(student[:2], teacher[:2], [1, 1], 4), _ref_fg(student[2:], teacher[2:], [1, 1, 1], 4)],
        rel=1e-6,
    )


def test_foreground_node_loss_gives_zero_to_images_without_weight_or_nodes():
    student, teacher, batch = _pair((2, 2), dim=4)
    weight = torch.tensor([0.0, 0.0, 1.0, 1.0])
    per_image = foreground_node_loss(student, teacher, batch, weight, num_graphs=3)
    assert per_image.shape == (3,) and per_image[0].item() == 0.0 and per_image[2].item() == 0.0
    assert per_image[1].item() == pytest.approx(_ref_fg(student[2:], teacher[2:], [1, 1], 4), rel=1e-6)
    reduce_images(per_image, "mean").backward()
    assert student.grad is not None and teacher.grad is None
    assert student.grad[:2].abs().sum() == 0 and student.grad[2:].abs().sum() > 0


def test_background_node_loss_is_dsig_scaled_mean_over_negatives():
    student, teacher, batch = _pair((3, 4), dim=5, seed=2)
    num_fg = torch.tensor([2, 6])
    per_image = background_node_loss(student, teacher, batch, num_fg, alpha=7.5)
    expected = []
    for image, (lo, hi) in enumerate(((0, 3), (3, 7))):
        count = hi - lo
        scale = 7.5 * int(num_fg[image]) / count  # s_b = alpha |fg_b| / |neg_b|
        total = sum(float(((student[i] - teacher[i]) ** 2).sum()) for i in range(lo, hi))
        expected.append(scale * total / (5 * count))
    assert per_image.tolist() == pytest.approx(expected, rel=1e-6)
    # no foreground: no background term; no negatives: 0 as well
    zero = background_node_loss(student, teacher, batch, torch.tensor([0, 0, 4]))
    assert zero.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="num_foreground has 1 images"):
        background_node_loss(student, teacher, batch, torch.tensor([1]))


def test_node_terms_gradient_reaches_student_only_and_are_zero_at_teacher():
    student, teacher, batch = _pair((3,), dim=4)
    foreground_node_loss(student, teacher, batch).sum().backward()
    assert student.grad is not None and student.grad.abs().sum() > 0 and teacher.grad is None
    assert foreground_node_loss(teacher, teacher, batch).sum().item() == 0.0
    assert background_node_loss(teacher, teacher, batch, torch.tensor([3])).sum().item() == 0.0


def test_node_terms_of_an_empty_batch_are_connected_zeros():
    student = torch.zeros(0, 4, requires_grad=True)
    for per_image in (
        foreground_node_loss(student, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), num_graphs=2),
        background_node_loss(
            student, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.tensor([1, 1])
        ),
    ):
        loss = reduce_images(per_image, "sum")
        assert loss.item() == 0.0
        loss.backward()
        assert student.grad is not None


def test_reduce_images_mean_sum_and_rejects_others():
    values = torch.tensor([1.0, 2.0, 6.0])
    assert reduce_images(values, "mean").item() == 3.0 and reduce_images(values, "sum").item() == 9.0
    assert reduce_images(torch.zeros(0), "mean").item() == 0.0
    with pytest.raises(ValueError, match="image reduction"):
        reduce_images(values, "max")


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_sum_reduction_is_mean_times_graphs(name):
    student, teacher, batch = _pair((4, 3, 1), seed=5)
    node_type = _node_type(8)
    mean = _make(name)(student, teacher, batch, node_type=node_type)
    summed = build_edge_loss(name, reduction="sum")
    if name == "mahalanobis_diag":
        summed.eval()
        summed.running_var.copy_(torch.tensor([0.5, 1.0, 2.0, 0.25]))
    total = summed(student, teacher, batch, node_type=node_type)
    assert total.item() == pytest.approx(2 * mean.item(), rel=1e-5)  # two graphs with K >= 2
    with pytest.raises(ValueError, match="reduction"):
        build_edge_loss(name, reduction="max")


def test_mahalanobis_matches_float64_inverse():
    student, teacher, batch = _pair((5,), dim=8, seed=3)
    loss = MahalanobisEdgeLoss(shrinkage=0.1, eps=EPS)(student, teacher, batch)
    expected = _ref_mahalanobis(student.detach(), teacher.detach())
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss.double(), expected, rtol=1e-4, atol=1e-6)


def test_mahalanobis_gradient_matches_float64_inverse():
    student, teacher, batch = _pair((5,), dim=8, seed=3)
    MahalanobisEdgeLoss()(student, teacher, batch).backward()
    student64 = student.detach().double().requires_grad_()
    _ref_mahalanobis(student64, teacher.detach()).backward()
    torch.testing.assert_close(student.grad.double(), student64.grad, rtol=1e-3, atol=1e-5)


def test_mahalanobis_shrinkage_changes_the_metric():
    student, teacher, batch = _pair((5,), dim=8, seed=3)
    for shrinkage in (0.5, 1.0):
        loss = MahalanobisEdgeLoss(shrinkage=shrinkage)(student, teacher, batch)
        expected = _ref_mahalanobis(student.detach(), teacher.detach(), shrinkage=shrinkage)
        torch.testing.assert_close(loss.double(), expected, rtol=1e-4, atol=1e-6)


def test_mahalanobis_diag_matches_explicit_loops():
    student, teacher, batch = _pair((5,), dim=8, seed=4)
    node_type = torch.tensor([0, 0, 1, 2, 1])
    loss_fn = _make("mahalanobis_diag")
    loss = loss_fn(student, teacher, batch, node_type=node_type)
    expected = _ref_diag(student.detach(), teacher.detach(), loss_fn.running_var, node_type)
    torch.testing.assert_close(
        loss.double(), torch.tensor(expected, dtype=torch.float64), rtol=1e-4, atol=1e-6
    )


def test_mahalanobis_diag_ema_initialises_then_blends_in_training_only():
    student, teacher, batch = _pair((4,), dim=6, seed=5)
    node_type = torch.tensor([0, 0, 0, 1])  # text-text: 6 off-diagonal pairs, text-nontext: 6, others none
    loss_fn = DiagMahalanobisEdgeLoss(momentum=0.9)
    loss_fn(student, teacher, batch, node_type=node_type)
    e_t = _cos(teacher.detach())
    text_text = torch.stack([e_t[p, q] for p in range(3) for q in range(3) if p != q])
    text_nontext = torch.stack([e_t[p, 3] for p in range(3)] + [e_t[3, q] for q in range(3)])
    torch.testing.assert_close(loss_fn.running_var[0], text_text.var())
    torch.testing.assert_close(loss_fn.running_var[1], text_nontext.var())
    assert loss_fn.running_var[2:].tolist() == [1.0, 1.0]  # unseen types keep their initial value
    assert loss_fn.initialized.tolist() == [True, True, False, False]
    first = loss_fn.running_var.clone()
    other = torch.randn(4, 6, generator=torch.Generator().manual_seed(9))
    loss_fn(student, other, batch, node_type=node_type)
    o_t = _cos(other)
    other_text = torch.stack([o_t[p, q] for p in range(3) for q in range(3) if p != q])
    torch.testing.assert_close(loss_fn.running_var[0], 0.9 * first[0] + 0.1 * other_text.var())
    loss_fn.eval()
    blended = loss_fn.running_var.clone()
    loss_fn(student, teacher, batch, node_type=node_type)
    torch.testing.assert_close(loss_fn.running_var, blended)


def test_mahalanobis_diag_requires_node_type():
    student, teacher, batch = _pair((3,))
    with pytest.raises(ValueError, match="node_type"):
        DiagMahalanobisEdgeLoss()(student, teacher, batch)


def test_edge_type_matrix():
    types = edge_type_matrix(torch.tensor([0, 1, 2]))
    assert types.tolist() == [[0, 1, 3], [1, 2, 3], [3, 3, 3]]


def test_mse_equals_dsig_definition():
    student, teacher, batch = _pair((4, 3), dim=5, seed=6)
    loss = MSEEdgeLoss()(student, teacher, batch)
    per_graph = [
        0.5 * F.mse_loss(_cos(student[:4]), _cos(teacher[:4])),
        0.5 * F.mse_loss(_cos(student[4:]), _cos(teacher[4:])),
    ]
    torch.testing.assert_close(loss, torch.stack(per_graph).mean())


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_of_identical_inputs_is_zero(name):
    student, _, batch = _pair((4, 3))
    loss = _make(name)(student, student, batch, node_type=_node_type(7))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_batch_of_two_is_mean_of_each_alone(name):
    student, teacher, batch = _pair((4, 3), seed=7)
    node_type = _node_type(7)
    loss_fn = _make(name)
    both = loss_fn(student, teacher, batch, node_type=node_type)
    single = torch.zeros(4, dtype=torch.long)
    first = loss_fn(student[:4], teacher[:4], single, node_type=node_type[:4])
    second = loss_fn(student[4:], teacher[4:], single[:3], node_type=node_type[4:])
    torch.testing.assert_close(both, (first + second) / 2)


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_skips_graphs_with_fewer_than_two_nodes(name):
    student, teacher, batch = _pair((1, 4, 1), seed=8)  # graph 3 is empty
    node_type = _node_type(6)
    loss_fn = _make(name)
    with_singletons = loss_fn(student, teacher, batch, node_type=node_type, num_graphs=4)
    alone = loss_fn(student[1:5], teacher[1:5], torch.zeros(4, dtype=torch.long), node_type=node_type[1:5])
    torch.testing.assert_close(with_singletons, alone)


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_is_node_permutation_invariant(name):
    student, teacher, batch = _pair((5,), seed=9)
    node_type = _node_type(5)
    perm = torch.tensor([3, 0, 4, 1, 2])
    loss_fn = _make(name)
    torch.testing.assert_close(
        loss_fn(student, teacher, batch, node_type=node_type),
        loss_fn(student[perm], teacher[perm], batch, node_type=node_type[perm]),
    )


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_gradient_reaches_student_never_teacher(name):
    student, teacher, batch = _pair((4, 3), seed=10)
    loss = _make(name)(student, teacher, batch, node_type=_node_type(7))
    loss.backward()
    assert student.grad is not None and torch.isfinite(student.grad).all() and student.grad.abs().sum() > 0
    assert teacher.grad is None


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_without_any_graph_of_two_nodes_is_connected_zero(name):
    student, teacher, batch = _pair((1, 1), seed=11)
    loss = _make(name)(student, teacher, batch, node_type=_node_type(2))
    assert loss.item() == 0.0
    loss.backward()
    assert student.grad is not None and teacher.grad is None
    empty = torch.zeros(0, 6, requires_grad=True)
    loss = _make(name)(empty, empty.detach(), torch.zeros(0, dtype=torch.long), node_type=torch.zeros(0))
    assert loss.item() == 0.0
    loss.backward()
    assert empty.grad is not None


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
@pytest.mark.parametrize("case", ["identical_nodes", "all_zero", "zero_student", "collinear"])
def test_edge_loss_is_finite_on_degenerate_features(name, case):
    gen = torch.Generator().manual_seed(12)
    row = torch.randn(1, 6, generator=gen)
    teacher = {
        "identical_nodes": row.repeat(4, 1),
        "all_zero": torch.zeros(4, 6),
        "zero_student": torch.randn(4, 6, generator=gen),
        "collinear": row * torch.tensor([[1.0], [2.0], [-1.0], [3.0]]),
    }[case]
    student = torch.zeros(4, 6) if case in ("all_zero", "zero_student") else torch.randn(4, 6, generator=gen)
    student.requires_grad_()
    loss_fn = build_edge_loss(name)  # training mode: the diag EMA sees the degenerate batch
    loss = loss_fn(student, teacher, torch.zeros(4, dtype=torch.long), node_type=torch.tensor([0, 0, 1, 2]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(student.grad).all()


@pytest.mark.parametrize("name", sorted(EDGE_LOSSES))
def test_edge_loss_computes_in_float32_under_autocast(name):
    student, teacher, batch = _pair((4, 3), seed=13)
    loss_fn = _make(name)
    reference = loss_fn(student, teacher, batch, node_type=_node_type(7))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss = loss_fn(student, teacher, batch, node_type=_node_type(7))
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, reference)


def test_cholesky_jitter_repairs_near_singular_and_falls_back_to_diagonal():
    near = torch.tensor([[1.0, 1.0], [1.0, 1.0 - 1e-3]])  # slightly indefinite: fixed by jitter
    indefinite = torch.tensor([[1.0, 3.0], [3.0, 1.0]])  # no small jitter helps: diagonal fallback
    spd = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    chol = _cholesky_with_jitter(torch.stack([near, indefinite, spd]), jitter=EPS)
    assert torch.isfinite(chol).all()
    repaired = chol[0] @ chol[0].T
    assert torch.allclose(repaired, near, atol=1e-1) and torch.linalg.eigvalsh(repaired).min() > 0
    torch.testing.assert_close(chol[1], torch.eye(2))
    torch.testing.assert_close(chol[2], torch.linalg.cholesky(spd))


def test_registry_builds_by_name_and_rejects_unknown():
    assert set(EDGE_LOSSES) == {"mahalanobis", "mahalanobis_diag", "mse"}
    assert isinstance(build_edge_loss("mahalanobis", shrinkage=0.2), MahalanobisEdgeLoss)
    assert build_edge_loss("mahalanobis", shrinkage=0.2).shrinkage == 0.2
    assert build_edge_loss("mahalanobis_diag", momentum=0.5).momentum == 0.5
    assert isinstance(build_edge_loss("mse"), MSEEdgeLoss)
    with pytest.raises(ValueError, match="mahalanobis, mahalanobis_diag, mse"):
        build_edge_loss("l2")


def test_mahalanobis_diag_on_graphs_of_two_three_one_and_none_nodes_matches_explicit_loops():
    """Graphs of K = 2 (the smallest that counts), 3, 1 (skipped) and a trailing empty one: the mean of the
    per-graph loop references over the two graphs with K >= 2, and in training mode the EMA starts from the
    variance of the VALID off-diagonal teacher entries only (padding of the 2-node graph is no entry)."""
    student, teacher, batch = _pair((2, 3, 1), dim=6, seed=11)
    node_type = torch.tensor([0, 0, 0, 0, 1, 0])
    fixed = _make("mahalanobis_diag")
    loss = fixed(student, teacher, batch, node_type=node_type, num_graphs=4)
    graphs = [slice(0, 2), slice(2, 5)]
    expected = sum(
        _ref_diag(student[g].detach(), teacher[g].detach(), fixed.running_var, node_type[g]) for g in graphs
    ) / len(graphs)
    torch.testing.assert_close(
        loss.double(), torch.tensor(expected, dtype=torch.float64), rtol=1e-4, atol=1e-6
    )

    training = DiagMahalanobisEdgeLoss(momentum=0.9)
    training(student, teacher, batch, node_type=node_type, num_graphs=4)
    text_text, text_nontext = [], []
    for g in graphs:
        e_t, types = _cos(teacher[g].detach()), node_type[g].tolist()
        for p in range(len(types)):
            for q in range(len(types)):
                if p != q:
                    (text_text if types[p] + types[q] == 0 else text_nontext).append(e_t[p, q])
    torch.testing.assert_close(training.running_var[0], torch.stack(text_text).var())
    torch.testing.assert_close(training.running_var[1], torch.stack(text_nontext).var())


@pytest.mark.parametrize("momentum", [0.0, 1.0])
def test_mahalanobis_diag_accepts_the_momentum_bounds(momentum):
    assert DiagMahalanobisEdgeLoss(momentum=momentum).momentum == momentum


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"momentum": 1.5}, "momentum must be in [0, 1], got 1.5"),
        ({"momentum": -0.1}, "momentum must be in [0, 1], got -0.1"),
        ({"eps": 0.0}, "eps must be positive, got 0.0"),
    ],
)
def test_mahalanobis_diag_rejects_bad_settings_naming_them(kwargs, message):
    with pytest.raises(ValueError) as error:
        DiagMahalanobisEdgeLoss(**kwargs)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("sigma", "added"),
    [
        ([[1.0, 0.0], [0.0, -0.5e-4]], 1e-3),  # the first retry adds jitter * 10, not jitter
        ([[1.0, 0.0], [0.0, -0.05]], 1e-1),  # jitter * 10^3: the third of the four retries
        ([[0.0, 0.0], [0.0, 1.0]], 1e-3),  # the first leading minor fails (info = 1)
        ([[-0.05, 0.0], [0.0, 1.0]], 1e-1),  # ... and keeps failing there (info = 1) until the third retry
    ],
    ids=["first-retry", "third-retry", "first-minor", "first-minor-retries"],
)
def test_cholesky_jitter_retries_with_jitter_times_powers_of_ten(sigma, added):
    """Retry i adds jitter * 10^i (i = 1..4) to the diagonal; the first that factorises is the result. A
    positive definite graph beside it keeps its own factor."""
    sigma = torch.tensor(sigma, dtype=torch.float64)
    spd = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    chol = _cholesky_with_jitter(torch.stack([sigma, spd]), jitter=1e-4)
    torch.testing.assert_close(
        chol[0], torch.linalg.cholesky(sigma + added * torch.eye(2, dtype=torch.float64))
    )
    torch.testing.assert_close(chol[1], torch.linalg.cholesky(spd))


def test_node_terms_of_one_light_node_and_one_negative():
    """An image whose foreground weighs less than 1 in all (one text node at weight 0.5), and one with a single
    negative: sum w ||d||^2 / (D sum w) and alpha |fg| / |neg| * ||d||^2 / (D |neg|) hold there too."""
    student = torch.tensor([[1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    teacher = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    batch = torch.tensor([0, 1])
    fg = foreground_node_loss(student, teacher, batch, weight=torch.tensor([0.5, 0.25]), num_graphs=2)
    assert fg.tolist() == pytest.approx([5.0 / 2, 9.0 / 2])  # the weights cancel within each image
    bg = background_node_loss(student[1:], teacher[1:], torch.tensor([1]), torch.tensor([0, 2]), alpha=7.5)
    assert bg.tolist() == pytest.approx([0.0, 7.5 * 2 / 1 * 9.0 / (2 * 1)])
