"""Dsig's extra distillation terms at Dsig's scale (METHOD.md §6) against hand computation with plain loops."""

import math

import pytest
import torch

from graphkd.distill import dense_box_l1, fpn_feature_mse, roi_box_kd, roi_logit_kd


def _smooth_l1(x: float, beta: float) -> float:
    """Huber / smooth-L1 as detectron2 and fvcore define it (beta = 0: |x|)."""
    x = abs(x)
    return x - 0.5 * beta if beta == 0 or x >= beta else 0.5 * x * x / beta


def test_fpn_feature_mse_is_a_sum_over_levels():
    student = {"p2": torch.ones(1, 2, 2, 2, requires_grad=True), "p3": torch.zeros(1, 2, 1, 1)}
    teacher = {"p2": torch.zeros(1, 2, 2, 2, requires_grad=True), "p3": torch.full((1, 2, 1, 1), 3.0)}
    loss = fpn_feature_mse(student, teacher)
    assert loss.item() == pytest.approx(1.0 + 9.0)  # mean per level, summed over p2 and p3
    loss.backward()
    assert student["p2"].grad is not None and teacher["p2"].grad is None


def test_fpn_feature_mse_per_image_mean_and_sum():
    gen = torch.Generator().manual_seed(0)
    student = {k: torch.randn(3, 2, s, s, generator=gen) for k, s in (("p2", 4), ("p3", 2))}
    teacher = {k: torch.randn(3, 2, s, s, generator=gen) for k, s in (("p2", 4), ("p3", 2))}
    per_image = [
        sum(float(((student[k][b] - teacher[k][b]) ** 2).mean()) for k in ("p2", "p3")) for b in range(3)
    ]
    assert fpn_feature_mse(student, teacher, "mean").item() == pytest.approx(sum(per_image) / 3, rel=1e-6)
    assert fpn_feature_mse(student, teacher, "sum").item() == pytest.approx(sum(per_image), rel=1e-6)


def test_fpn_feature_mse_names_mismatches():
    with pytest.raises(ValueError, match=r"student only \['p4'\]"):
        fpn_feature_mse({"p4": torch.zeros(1)}, {"p5": torch.zeros(1)})
    with pytest.raises(ValueError, match="p3: student"):
        fpn_feature_mse({"p3": torch.zeros(1, 2, 3, 3)}, {"p3": torch.zeros(1, 4, 3, 3)})
    with pytest.raises(ValueError, match="no feature levels"):
        fpn_feature_mse({}, {})
    with pytest.raises(ValueError, match="image reduction"):
        fpn_feature_mse({"p2": torch.zeros(1, 1, 1, 1)}, {"p2": torch.zeros(1, 1, 1, 1)}, "max")


def _ref_kl_elements(student_row, teacher_row, temperature):
    s = [math.exp(v / temperature) for v in student_row]
    t = [math.exp(v / temperature) for v in teacher_row]
    s, t = [v / sum(s) for v in s], [v / sum(t) for v in t]
    return [tq * (math.log(tq) - math.log(sq)) for tq, sq in zip(t, s)]


def test_roi_logit_kd_is_the_elementwise_mean_times_t_squared():
    student = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.5]], requires_grad=True)
    teacher = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 3.0]], requires_grad=True)
    temperature = 2.0
    elements = [
        e for s, t in zip(student.tolist(), teacher.tolist()) for e in _ref_kl_elements(s, t, temperature)
    ]
    expected = sum(elements) / len(elements) * temperature**2  # mean over R x (Q+1) = 6 entries
    loss = roi_logit_kd(student, teacher, temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert student.grad is not None and teacher.grad is None
    assert roi_logit_kd(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)


def test_roi_logit_kd_per_image_mean_and_sum():
    gen = torch.Generator().manual_seed(1)
    student, teacher = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    split = [2, 3]
    per_image, start = [], 0
    for count in split:
        rows = range(start, start + count)
        elements = [e for r in rows for e in _ref_kl_elements(student[r].tolist(), teacher[r].tolist(), 1.0)]
        per_image.append(sum(elements) / len(elements))
        start += count
    mean = roi_logit_kd(student, teacher, 1.0, split, "mean")
    total = roi_logit_kd(student, teacher, 1.0, split, "sum")
    assert mean.item() == pytest.approx(sum(per_image) / 2, rel=1e-5)
    assert total.item() == pytest.approx(sum(per_image), rel=1e-5)
    with pytest.raises(ValueError, match="sums to 4"):
        roi_logit_kd(student, teacher, 1.0, [1, 3])


def test_roi_logit_kd_without_rois_is_connected_zero():
    student = torch.zeros(0, 3, requires_grad=True)
    loss = roi_logit_kd(student, torch.zeros(0, 3))
    assert loss.item() == 0.0
    loss.backward()
    assert student.grad is not None


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_roi_box_kd_takes_the_gt_class_columns_over_all_rois(beta):
    num_classes = 3
    gen = torch.Generator().manual_seed(2)
    student = torch.randn(5, 4 * num_classes, generator=gen, requires_grad=True)
    teacher = torch.randn(5, 4 * num_classes, generator=gen, requires_grad=True)
    gt = torch.tensor([2, 3, 0, 3, 1])  # 3 = background
    split = [3, 2]
    per_image, start = [], 0
    for count in split:
        total = 0.0
        for r in range(start, start + count):
            c = int(gt[r])
            if c < num_classes:
                total += sum(
                    _smooth_l1(float(student[r, 4 * c + a] - teacher[r, 4 * c + a]), beta) for a in range(4)
                )
        per_image.append(total / count)  # divided by ALL the image's RoIs
        start += count
    loss = roi_box_kd(student, teacher, gt, num_classes, beta, split, "sum")
    assert loss.item() == pytest.approx(sum(per_image), rel=1e-5)
    mean = roi_box_kd(student, teacher, gt, num_classes, beta, split, "mean")
    assert mean.item() == pytest.approx(sum(per_image) / 2, rel=1e-5)
    loss.backward()
    assert student.grad[1].abs().sum() == 0 and student.grad[3].abs().sum() == 0 and teacher.grad is None
    # only the GT class's four columns get a gradient
    assert student.grad[0, :8].abs().sum() == 0 and student.grad[0, 8:].abs().sum() > 0


def test_roi_box_kd_class_agnostic_uses_the_four_columns():
    student = torch.tensor([[1.0, 2.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 1.0]])
    loss = roi_box_kd(student, torch.zeros(3, 4), torch.tensor([0, 2, 1]), num_classes=2)
    assert loss.item() == pytest.approx((1 + 2 + 1) / 3)  # L1 over the fg rows' columns, / all 3 RoIs
    with pytest.raises(ValueError, match="columns"):
        roi_box_kd(torch.zeros(2, 8), torch.zeros(2, 8), torch.tensor([0, 1]), num_classes=3)


def test_roi_box_kd_without_foreground_is_connected_zero():
    student = torch.ones(2, 4, requires_grad=True)
    loss = roi_box_kd(student, torch.zeros(2, 4), torch.tensor([2, 2]), num_classes=2)
    assert loss.item() == 0.0
    loss.backward()
    assert student.grad is not None


def test_dense_box_l1_averages_over_foreground_rows():
    student = torch.tensor(
        [[1.0, 2.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 1.0]], requires_grad=True
    )
    teacher = torch.zeros(3, 4, requires_grad=True)
    fg_mask = torch.tensor([True, False, True])
    loss = dense_box_l1(student, teacher, fg_mask)
    assert loss.item() == pytest.approx((1 + 2 + 1) / 8)
    loss.backward()
    assert student.grad[1].abs().sum() == 0 and teacher.grad is None


def test_dense_box_l1_without_foreground_is_connected_zero():
    student = torch.ones(2, 4, requires_grad=True)
    loss = dense_box_l1(student, torch.zeros(2, 4), torch.zeros(2, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert student.grad is not None


def test_roi_logit_kd_default_temperature_is_one():
    gen = torch.Generator().manual_seed(4)
    student, teacher = torch.randn(3, 4, generator=gen), torch.randn(3, 4, generator=gen)
    elements = [e for s, t in zip(student.tolist(), teacher.tolist()) for e in _ref_kl_elements(s, t, 1.0)]
    assert roi_logit_kd(student, teacher).item() == pytest.approx(sum(elements) / len(elements), rel=1e-5)


def test_images_without_rois_count_in_the_mean_over_images():
    """A trailing image with no sampled RoIs contributes 0 and still counts in the mean (B = 3 images)."""
    gen = torch.Generator().manual_seed(5)
    student, teacher = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    split = [1, 3, 0]
    per_image = []
    for rows in ([0], [1, 2, 3]):
        elements = [e for r in rows for e in _ref_kl_elements(student[r].tolist(), teacher[r].tolist(), 1.0)]
        per_image.append(sum(elements) / len(elements))
    assert roi_logit_kd(student, teacher, 1.0, split, "mean").item() == pytest.approx(
        sum(per_image) / 3, rel=1e-5
    )
    deltas_s, deltas_t = torch.randn(4, 4, generator=gen), torch.randn(4, 4, generator=gen)
    gt = torch.tensor([0, 1, 2, 0])  # 2 classes: row 2 is background
    box = [
        sum(_smooth_l1(float(deltas_s[0, a] - deltas_t[0, a]), 0.0) for a in range(4)) / 1,
        sum(_smooth_l1(float(deltas_s[r, a] - deltas_t[r, a]), 0.0) for r in (1, 3) for a in range(4)) / 3,
    ]
    mean = roi_box_kd(deltas_s, deltas_t, gt, 2, 0.0, split, "mean")
    assert mean.item() == pytest.approx(sum(box) / 3, rel=1e-5)


# Bad input: each check raises ValueError with a message that names the culprit (what, and both shapes), so a
# wiring mistake in a training run says which tensors disagree. Exact, case-sensitive messages.
@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: roi_logit_kd(torch.zeros(2, 3), torch.zeros(2, 4)),
            "student logits (2, 3) and teacher (2, 4) differ",
        ),
        (
            lambda: roi_box_kd(torch.zeros(2, 4), torch.zeros(3, 4), torch.tensor([0, 1]), num_classes=1),
            "student deltas (2, 4) and teacher (3, 4) differ",
        ),
        (
            lambda: roi_box_kd(torch.zeros(2, 4), torch.zeros(2, 4), torch.tensor([0, 1, 0]), num_classes=1),
            "gt_classes (3,) must be (2,)",
        ),
        (
            lambda: dense_box_l1(torch.zeros(2, 4), torch.zeros(2, 5), torch.ones(2, dtype=torch.bool)),
            "student deltas (2, 4) and teacher (2, 5) differ",
        ),
        (
            lambda: dense_box_l1(torch.zeros(2, 4), torch.zeros(2, 4), torch.ones(3, dtype=torch.bool)),
            "fg_mask (3,) must be (2,)",
        ),
        (
            lambda: roi_logit_kd(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.0),
            "temperature must be positive, got 0.0",
        ),
        (
            lambda: fpn_feature_mse({"p2": torch.zeros(1)}, {"p3": torch.zeros(1)}),
            "FPN levels differ: student only ['p2'], teacher only ['p3']",
        ),
        (lambda: fpn_feature_mse({}, {}), "fpn_feature_mse got no feature levels"),
        (
            lambda: fpn_feature_mse(
                {"p2": torch.zeros(1, 2, 2, 2), "p3": torch.zeros(1, 2, 1, 1)},
                {"p2": torch.zeros(1, 3, 2, 2), "p3": torch.zeros(1, 2, 2, 2)},
            ),
            "FPN feature shapes differ: p2: student (1, 2, 2, 2) vs teacher (1, 3, 2, 2); "
            "p3: student (1, 2, 1, 1) vs teacher (1, 2, 2, 2)",
        ),
    ],
)
def test_extras_reject_bad_input_naming_the_culprit(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message


def test_roi_logit_kd_of_a_single_roi_is_its_kl():
    """R = 1 is a real case (one RoI sampled), not the empty one: the loss is that RoI's mean KL."""
    student, teacher = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[0.0, 1.0, 0.5]])
    elements = _ref_kl_elements(student[0].tolist(), teacher[0].tolist(), 1.0)
    assert roi_logit_kd(student, teacher).item() == pytest.approx(sum(elements) / 3, rel=1e-6)
    assert roi_logit_kd(student, teacher).item() > 0.1
