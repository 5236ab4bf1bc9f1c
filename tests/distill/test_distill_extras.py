"""Dsig's optional distillation terms against hand computation."""

import math

import pytest
import torch

from graphkd.distill import fpn_feature_mse, roi_box_l1, roi_logit_kd


def test_fpn_feature_mse_is_half_mean_over_levels():
    student = {"p2": torch.ones(1, 2, 2, 2, requires_grad=True), "p3": torch.zeros(1, 2, 1, 1)}
    teacher = {"p2": torch.zeros(1, 2, 2, 2, requires_grad=True), "p3": torch.full((1, 2, 1, 1), 3.0)}
    loss = fpn_feature_mse(student, teacher)
    assert loss.item() == pytest.approx(0.5 * (1.0 + 9.0) / 2)
    loss.backward()
    assert student["p2"].grad is not None and teacher["p2"].grad is None


def test_fpn_feature_mse_names_mismatches():
    with pytest.raises(ValueError, match=r"student only \['p4'\]"):
        fpn_feature_mse({"p4": torch.zeros(1)}, {"p5": torch.zeros(1)})
    with pytest.raises(ValueError, match="p3: student"):
        fpn_feature_mse({"p3": torch.zeros(1, 2, 3, 3)}, {"p3": torch.zeros(1, 4, 3, 3)})
    with pytest.raises(ValueError, match="no feature levels"):
        fpn_feature_mse({}, {})


def test_roi_logit_kd_matches_hand_kl():
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    teacher = torch.tensor([[0.0, 1.0], [0.0, 0.0]], requires_grad=True)
    temperature = 2.0
    expected = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        s_prob = [math.exp(v / temperature) for v in s_row]
        t_prob = [math.exp(v / temperature) for v in t_row]
        s_prob = [v / sum(s_prob) for v in s_prob]
        t_prob = [v / sum(t_prob) for v in t_prob]
        expected += sum(t * math.log(t / s) for t, s in zip(t_prob, s_prob))
    expected = expected / 2 * temperature**2
    loss = roi_logit_kd(student, teacher, temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert student.grad is not None and teacher.grad is None
    assert roi_logit_kd(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)


def test_roi_logit_kd_without_rois_is_connected_zero():
    student = torch.zeros(0, 3, requires_grad=True)
    loss = roi_logit_kd(student, torch.zeros(0, 3))
    assert loss.item() == 0.0
    loss.backward()
    assert student.grad is not None


def test_roi_box_l1_averages_over_foreground_rows():
    student = torch.tensor(
        [[1.0, 2.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 1.0]], requires_grad=True
    )
    teacher = torch.zeros(3, 4, requires_grad=True)
    fg_mask = torch.tensor([True, False, True])
    loss = roi_box_l1(student, teacher, fg_mask)
    assert loss.item() == pytest.approx((1 + 2 + 1) / 8)
    loss.backward()
    assert student.grad[1].abs().sum() == 0 and teacher.grad is None


def test_roi_box_l1_without_foreground_is_connected_zero():
    student = torch.ones(2, 4, requires_grad=True)
    loss = roi_box_l1(student, torch.zeros(2, 4), torch.zeros(2, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert student.grad is not None
