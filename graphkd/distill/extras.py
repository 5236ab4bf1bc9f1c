"""Dsig's extra distillation terms (arXiv 2109.12862) at Dsig's own scale, off unless the config turns them on
(METHOD.md §6).

Shapes: ``B`` images, ``R`` sampled RoIs of the batch (``R_b`` of image b), ``Q`` classes (+1 for background),
``A`` box-delta columns (4, class-agnostic, or 4 * Q). Each term is computed per image, then reduced over the
images by ``reduction`` (``"mean"``, METHOD.md; ``"sum"``, Dsig per GPU). Each term detaches the teacher and
computes in float32, also under autocast; with nothing to compare it returns a zero still connected to the
student.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from graphkd.graph.groups import counts_to_index

from .losses import reduce_images

__all__ = ["dense_box_l1", "fpn_feature_mse", "roi_box_kd", "roi_logit_kd"]


def _image_index(rois_per_image: Sequence[int] | None, num_rois: int, device) -> tuple[Tensor, int]:
    """``(R,)`` image of each RoI and the image count; ``None`` = all RoIs form one image."""
    if rois_per_image is None:
        return torch.zeros(num_rois, dtype=torch.long, device=device), 1
    counts = torch.as_tensor(list(rois_per_image), dtype=torch.long, device=device)
    if int(counts.sum()) != num_rois:
        raise ValueError(
            f"rois_per_image {list(rois_per_image)} sums to {int(counts.sum())}, not {num_rois} RoIs"
        )
    return counts_to_index(counts), counts.numel()


def _check_same_shape(what: str, student: Tensor, teacher: Tensor) -> None:
    if student.shape != teacher.shape:
        raise ValueError(f"student {what} {tuple(student.shape)} and teacher {tuple(teacher.shape)} differ")


def fpn_feature_mse(
    student_features: dict[str, Tensor], teacher_features: dict[str, Tensor], reduction: str = "mean"
) -> Tensor:
    """FPN feature imitation: ``L = reduce_b sum_l mean_{c,h,w} (F^S_l[b] - F^T_l[b])^2``, a SUM over levels.

    With ``"mean"`` this is Dsig's ``sum_l mse_loss(F^S_l, F^T_l)`` over the batch tensors. Both dicts map
    level names (``"p2"``...) to (B, C, H, W) maps with the same keys and shapes; any mismatch raises
    ``ValueError`` naming the levels concerned (an adapter must align channels first).
    """
    student_keys, teacher_keys = set(student_features), set(teacher_features)
    if student_keys != teacher_keys:
        raise ValueError(
            "FPN levels differ: student only "
            f"{sorted(student_keys - teacher_keys)}, teacher only {sorted(teacher_keys - student_keys)}"
        )
    if not student_keys:
        raise ValueError("fpn_feature_mse got no feature levels")
    mismatched = [
        f"{key}: student {tuple(student_features[key].shape)} vs teacher {tuple(teacher_features[key].shape)}"
        for key in sorted(student_keys)
        if student_features[key].shape != teacher_features[key].shape
    ]
    if mismatched:
        raise ValueError("FPN feature shapes differ: " + "; ".join(mismatched))
    device_type = next(iter(student_features.values())).device.type
    with torch.autocast(device_type=device_type, enabled=False):
        per_image = sum(
            (student_features[key].float() - teacher_features[key].detach().float()).pow(2).flatten(1).mean(1)
            for key in sorted(student_keys)
        )  # (B,)
        return reduce_images(per_image, reduction)


def roi_logit_kd(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float = 1.0,
    rois_per_image: Sequence[int] | None = None,
    reduction: str = "mean",
) -> Tensor:
    """RoI classification KD as Dsig: ``L = reduce_b T^2 * mean_{r in b, q} p^T_rq (log p^T_rq - log p^S_rq)``.

    The mean is ELEMENTWISE over the R_b x (Q+1) entries (PyTorch ``kl_div``'s default ``"mean"``), with
    ``p = softmax(logits / T)``. ``rois_per_image`` splits the R rows into images (``None``: one image).
    """
    _check_same_shape("logits", student_logits, teacher_logits)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    image, num_images = _image_index(rois_per_image, student_logits.size(0), student_logits.device)
    if student_logits.size(0) == 0:
        return student_logits.float().sum() * 0.0
    with torch.autocast(device_type=student_logits.device.type, enabled=False):
        student_log_prob = nn.functional.log_softmax(student_logits.float() / temperature, dim=1)  # (R, Q+1)
        teacher_log_prob = nn.functional.log_softmax(teacher_logits.detach().float() / temperature, dim=1)
        kl = nn.functional.kl_div(student_log_prob, teacher_log_prob, reduction="none", log_target=True)
        total = scatter(kl.sum(dim=1), image, dim=0, dim_size=num_images, reduce="sum")  # (B,)
        count = torch.bincount(image, minlength=num_images).clamp_min(1) * kl.size(1)
        return reduce_images(total / count * temperature**2, reduction)


def roi_box_kd(
    student_deltas: Tensor,
    teacher_deltas: Tensor,
    gt_classes: Tensor,
    num_classes: int,
    beta: float = 0.0,
    rois_per_image: Sequence[int] | None = None,
    reduction: str = "mean",
) -> Tensor:
    """RoI box-regression KD as Dsig: ``L = reduce_b sum_{r in fg_b} sum_{a in cols(c_r)} smoothL1_beta(d^S_ra -
    d^T_ra) / R_b``.

    Only the four columns of each foreground RoI's GT class ``c_r`` count (all four when the regression is
    class-agnostic, A = 4); the sum is divided by ALL R_b sampled RoIs of the image. Foreground means
    ``0 <= gt_classes < num_classes``. ``beta`` is ``MODEL.ROI_BOX_HEAD.SMOOTH_L1_BETA`` (0 gives L1).
    """
    _check_same_shape("deltas", student_deltas, teacher_deltas)
    num_rois, columns = student_deltas.shape
    if gt_classes.shape != (num_rois,):
        raise ValueError(f"gt_classes {tuple(gt_classes.shape)} must be ({num_rois},)")
    if columns not in (4, 4 * num_classes):
        raise ValueError(f"box deltas have {columns} columns: expected 4 or 4 * {num_classes} classes")
    image, num_images = _image_index(rois_per_image, num_rois, student_deltas.device)
    foreground = (gt_classes >= 0) & (gt_classes < num_classes)
    if not bool(foreground.any()):
        return student_deltas.float().sum() * 0.0
    with torch.autocast(device_type=student_deltas.device.type, enabled=False):
        rows = foreground.nonzero().view(-1)  # (F,)
        first = gt_classes[rows] * 4 if columns > 4 else torch.zeros_like(rows)
        cols = first[:, None] + torch.arange(4, device=rows.device)  # (F, 4)
        student = student_deltas.float()[rows[:, None], cols]
        teacher = teacher_deltas.detach().float()[rows[:, None], cols]
        per_row = nn.functional.smooth_l1_loss(student, teacher, beta=beta, reduction="none").sum(dim=1)
        total = scatter(per_row, image[rows], dim=0, dim_size=num_images, reduce="sum")  # (B,)
        count = torch.bincount(image, minlength=num_images).clamp_min(1)
        return reduce_images(total / count, reduction)


def dense_box_l1(student_deltas: Tensor, teacher_deltas: Tensor, fg_mask: Tensor) -> Tensor:
    """Box-regression KD of a dense (RetinaNet) head on its foreground anchors: ``mean_{i in fg, a} |d^S_ia -
    d^T_ia|`` over the elements of the foreground rows; 0, connected to the student, without foreground.

    Dsig has no dense-head box term; this is GraphKD's own, for RetinaNet students.
    """
    _check_same_shape("deltas", student_deltas, teacher_deltas)
    if fg_mask.shape != student_deltas.shape[:1]:
        raise ValueError(f"fg_mask {tuple(fg_mask.shape)} must be ({student_deltas.size(0)},)")
    fg_mask = fg_mask.bool()
    if not bool(fg_mask.any()):
        return student_deltas.float().sum() * 0.0
    with torch.autocast(device_type=student_deltas.device.type, enabled=False):
        return nn.functional.l1_loss(
            student_deltas[fg_mask].float(), teacher_deltas.detach()[fg_mask].float(), reduction="mean"
        )
