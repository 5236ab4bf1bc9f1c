"""Numerical faults: a NaN/Inf loss is named with its iteration; degenerate graphs give finite losses."""

from __future__ import annotations

import math

import pytest
import torch
from detectron2.utils.events import EventStorage
from test_engine_robustness_utils import make_pages, run_opts, script_args
from torch import nn

from graphkd.distill.distiller import GraphKDDistiller
from graphkd.distill.losses import build_edge_loss
from graphkd.engine.errors import check_finite_losses
from graphkd.graph import TextNodeMerge


def test_check_finite_losses_names_the_loss_and_the_iteration():
    losses = {"loss_cls": torch.tensor(0.7), "loss_graphkd_edge": torch.tensor(float("nan"))}
    with pytest.raises(FloatingPointError, match=r"iteration 12: loss_graphkd_edge=nan \(") as raised:
        check_finite_losses(losses, 12)
    assert "loss_cls" not in str(raised.value) and "TEACHER.WEIGHTS" in str(raised.value)
    with pytest.raises(FloatingPointError, match=r"loss_rpn_loc=inf$"):
        check_finite_losses({"loss_rpn_loc": torch.tensor(float("inf"))}, 0)
    check_finite_losses({"loss_cls": torch.tensor(0.7), "loss_graphkd_node_fg": torch.tensor(0.0)}, 3)


class _ToyDistillModel(nn.Module):
    """Returns a loss dict like GraphKDRCNN's, with a GraphKD term that turns NaN at a chosen iteration."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.calls = 0

    def forward(self, batch):
        out = self.linear(batch).mean()
        graph = out * (float("nan") if self.calls == 2 else 1.0)
        self.calls += 1
        return {"loss_cls": out.abs(), "loss_graphkd_node_fg": graph.abs()}


def test_trainer_stops_on_a_nan_graphkd_loss_before_the_optimizer_step():
    """The SimpleTrainer GraphKDTrainer runs (the same class), on a toy model: fast and exact."""
    from graphkd.engine.trainer import _SimpleTrainer

    model = _ToyDistillModel()
    trainer = _SimpleTrainer(model, [torch.ones(4, 2)] * 10, torch.optim.SGD(model.parameters(), lr=0.1))
    with EventStorage(0) as storage:
        for iteration in range(2):
            trainer.iter = storage.iter = iteration
            trainer.run_step()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        trainer.iter = storage.iter = 2
        with pytest.raises(
            FloatingPointError, match="non-finite loss at iteration 2: loss_graphkd_node_fg=nan"
        ):
            trainer.run_step()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no NaN step applied


def test_asynchronous_metric_writing_names_the_iteration_it_is_given():
    """Later detectron2 versions write metrics asynchronously, passing the step's iteration as ``iter=``."""
    from graphkd.engine.trainer import _SimpleTrainer

    model = _ToyDistillModel()
    trainer = _SimpleTrainer(model, [torch.ones(4, 2)], torch.optim.SGD(model.parameters(), lr=0.1))
    trainer.iter = 9  # the trainer has moved on by the time the writer runs
    loss_dict = {"loss_cls": torch.tensor(1.0), "loss_graphkd_edge": torch.tensor(float("inf"))}
    with pytest.raises(FloatingPointError, match="iteration 5: loss_graphkd_edge=inf"):
        trainer._write_metrics(loss_dict, 0.0, iter=5)


def test_nan_teacher_features_stop_graphkd_training_naming_the_loss(tiny_teacher, tmp_path, monkeypatch):
    """The real GraphKDRCNN: teacher RoI features poisoned with NaN at the second iteration."""
    from graphkd.engine.trainer import GraphKDTrainer, setup_cfg
    from graphkd.modeling.meta_arch import GraphKDRCNN

    json_file, image_root = make_pages(tmp_path / "pages", num_pages=2)
    cfg = setup_cfg(script_args(run_opts(tiny_teacher, json_file, image_root, tmp_path / "out")))
    trainer = GraphKDTrainer(cfg)
    trainer.resume_or_load(resume=False)

    real_teacher_forward = GraphKDRCNN.teacher_forward
    calls = []

    def poisoned(self, batched_inputs, boxes):
        out = real_teacher_forward(self, batched_inputs, boxes)
        calls.append(1)
        if len(calls) == 2:
            out["pooled"] = out["pooled"] * float("nan")
        return out

    monkeypatch.setattr(GraphKDRCNN, "teacher_forward", poisoned)
    with pytest.raises(FloatingPointError, match=r"non-finite loss at iteration 1: loss_graphkd_node_fg=nan"):
        trainer.train()
    assert len(calls) == 2


def _distiller(edge_loss: str, node_type_mode: str = "covariance", text_classes=(), channels: int = 8):
    kwargs = {"mahalanobis": {"shrinkage": 0.1}, "mahalanobis_diag": {"momentum": 0.9}, "mse": {}}[edge_loss]
    return GraphKDDistiller(
        student_channels=channels,
        teacher_channels=channels,
        edge_loss=build_edge_loss(edge_loss, **kwargs),
        node_type_mode=node_type_mode,
        text_classes=text_classes,
        merge=TextNodeMerge(0.8, 3, 1.0),
    )


def _boxes(num_nodes: int) -> torch.Tensor:
    rows = torch.arange(num_nodes, dtype=torch.float32)
    return torch.stack(
        [torch.full_like(rows, 10), 10 + 30 * rows, torch.full_like(rows, 90), 35 + 30 * rows], 1
    )


def _check_finite_with_gradients(distiller, student, teacher, boxes, num_nodes, background, gt_classes):
    student = student.clone().requires_grad_(True)
    losses, _ = distiller(student, teacher, boxes, num_nodes, background, gt_classes)
    assert set(losses) == {"loss_graphkd_node_fg", "loss_graphkd_node_bg", "loss_graphkd_edge"}
    for name, value in losses.items():
        assert math.isfinite(value.item()), (name, value)
    sum(losses.values()).backward()
    assert torch.isfinite(student.grad).all()
    return losses


@pytest.mark.parametrize("edge_loss", ["mahalanobis", "mahalanobis_diag", "mse"])
def test_degenerate_graphs_give_finite_losses_and_gradients(edge_loss):
    generator = torch.Generator().manual_seed(0)
    feats = torch.randn(5, 8, 7, 7, generator=generator)
    none = torch.zeros(5, dtype=torch.bool)

    # one node in a graph (and a second image with none)
    one = _distiller(edge_loss)
    _check_finite_with_gradients(
        one, feats[:1], feats[:1] + 1, _boxes(1), [1, 0], none[:1], torch.tensor([0])
    )

    # no text nodes: every foreground node is a table/figure (gt typing), plus a background node
    no_text = _distiller(edge_loss, node_type_mode="gt", text_classes=[0, 1, 2])
    background = torch.tensor([False, False, False, False, True])
    _check_finite_with_gradients(
        no_text, feats, feats * 0.5, _boxes(5), [5], background, torch.tensor([3, 4, 3, 4, 5])
    )

    # identical features on every node, student and teacher: zero covariance, every pair similar (all merge)
    same = feats[:1].expand(5, -1, -1, -1).contiguous()
    identical = _distiller(edge_loss)
    losses = _check_finite_with_gradients(
        identical, same, same, _boxes(5), [5], none, torch.zeros(5, dtype=torch.long)
    )
    assert losses["loss_graphkd_node_fg"].item() == pytest.approx(0.0, abs=1e-6)

    # all-zero features (a dead student or a black page): cosine similarities of zero vectors
    zeros = torch.zeros(5, 8, 7, 7)
    _check_finite_with_gradients(
        _distiller(edge_loss), zeros, zeros, _boxes(5), [3, 2], none, torch.zeros(5).long()
    )

    # no nodes at all (R == 0 happens in detection)
    empty = torch.zeros(0, 8, 7, 7)
    _check_finite_with_gradients(
        _distiller(edge_loss), empty, empty, torch.zeros(0, 4), [0, 0], none[:0], torch.zeros(0).long()
    )
