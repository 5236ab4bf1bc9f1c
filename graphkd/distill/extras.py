"""Optional Dsig distillation terms (arXiv 2109.12862), off unless the config turns them on (METHOD.md 6).

Shapes: ``R`` RoIs, ``Q`` classes (+1 for background), ``A`` box-delta columns (4 or 4 * classes).
Each term detaches the teacher and computes in float32, also under autocast.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["fpn_feature_mse", "roi_box_l1", "roi_logit_kd"]


def fpn_feature_mse(student_features: dict[str, Tensor], teacher_features: dict[str, Tensor]) -> Tensor:
    """FPN feature imitation: ``L = 0.5 * mean_levels mean((F^S_l - F^T_l)^2)``.

    Both dicts map level names (``"p2"``...) to (B, C, H, W) maps with the same keys and shapes; any
    mismatch raises ``ValueError`` naming the levels concerned (an adapter must align channels first).
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
        per_level = [
            nn.functional.mse_loss(student_features[key].float(), teacher_features[key].detach().float())
            for key in sorted(student_keys)
        ]
        return 0.5 * torch.stack(per_level).mean()


def roi_logit_kd(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """RoI classification KD (Hinton): ``L = T^2 * KL(softmax(t/T) || softmax(s/T))``, summed over classes and
    averaged over the R RoIs (``batchmean``); 0, connected to the student, when R == 0.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher {tuple(teacher_logits.shape)} differ"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if student_logits.size(0) == 0:
        return student_logits.float().sum() * 0.0
    with torch.autocast(device_type=student_logits.device.type, enabled=False):
        student_log_prob = nn.functional.log_softmax(student_logits.float() / temperature, dim=1)  # (R, Q)
        teacher_log_prob = nn.functional.log_softmax(teacher_logits.detach().float() / temperature, dim=1)
        kl = nn.functional.kl_div(student_log_prob, teacher_log_prob, reduction="batchmean", log_target=True)
        return kl * temperature**2


def roi_box_l1(student_deltas: Tensor, teacher_deltas: Tensor, fg_mask: Tensor) -> Tensor:
    """RoI box-regression KD on foreground RoIs: ``L = mean_{i in fg, a} |d^S_ia - d^T_ia|``.

    The mean runs over the elements of the foreground rows (R_fg x A); 0, connected to the student, when no
    RoI is foreground.
    """
    if student_deltas.shape != teacher_deltas.shape:
        raise ValueError(
            f"student deltas {tuple(student_deltas.shape)} and teacher {tuple(teacher_deltas.shape)} differ"
        )
    if fg_mask.shape != student_deltas.shape[:1]:
        raise ValueError(f"fg_mask {tuple(fg_mask.shape)} must be ({student_deltas.size(0)},)")
    fg_mask = fg_mask.bool()
    if not bool(fg_mask.any()):
        return student_deltas.float().sum() * 0.0
    with torch.autocast(device_type=student_deltas.device.type, enabled=False):
        return nn.functional.l1_loss(
            student_deltas[fg_mask].float(), teacher_deltas.detach()[fg_mask].float(), reduction="mean"
        )
