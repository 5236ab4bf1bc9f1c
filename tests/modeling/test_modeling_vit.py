"""The ViT simple-feature-pyramid backbone, and a heterogeneous ViT teacher -> R-18 student GraphKD step."""

from __future__ import annotations

import math

import torch
from conftest import random_page_inputs, tiny_cfg, write_cfg
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

import graphkd.modeling  # noqa: F401  (registration)

TINY_VIT_OPTS = [
    "MODEL.BACKBONE.NAME",
    "build_vit_sfp_backbone",
    "MODEL.VIT.NAME",
    "vit_tiny_patch16_224",
    "MODEL.VIT.IMG_SIZE",
    "[128, 160]",
    "MODEL.FPN.OUT_CHANNELS",
    48,
]


def test_simple_feature_pyramid_gives_fpn_levels():
    from graphkd.modeling.vit import ViTSimpleFeaturePyramid

    backbone = ViTSimpleFeaturePyramid("vit_tiny_patch16_224", img_size=(128, 160), out_channels=16)
    shapes = backbone.output_shape()
    assert {k: v.stride for k, v in shapes.items()} == {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}
    with torch.no_grad():
        outputs = backbone(torch.randn(1, 3, 128, 192))  # padded to a multiple of 64
    for name, output in outputs.items():
        assert output.shape == (1, 16, 128 // shapes[name].stride, 192 // shapes[name].stride), name


def test_vit_teacher_distils_into_r18_student(tmp_path):
    torch.manual_seed(0)
    teacher_cfg = tiny_cfg(extra=TINY_VIT_OPTS)
    teacher = build_model(teacher_cfg)
    DetectionCheckpointer(teacher, save_dir=str(tmp_path)).save("vit_teacher")
    cfg = tiny_cfg(
        extra=[
            "MODEL.META_ARCHITECTURE",
            "GraphKDRCNN",
            "TEACHER.CONFIG_FILE",
            write_cfg(teacher_cfg, tmp_path / "vit_teacher.yaml"),
            "TEACHER.WEIGHTS",
            str(tmp_path / "vit_teacher.pth"),
        ]
    )
    model = build_model(cfg)
    assert type(model.teacher.backbone).__name__ == "ViTSimpleFeaturePyramid"
    assert model.distiller.adapter.weight.shape[:2] == (48, 32)  # student 32 -> teacher 48 channels
    model.train()
    with EventStorage():
        losses = model(random_page_inputs())
    for name in ("loss_graphkd_node_fg", "loss_graphkd_edge", "loss_cls"):
        assert math.isfinite(losses[name].item()), name
    (losses["loss_graphkd_node_fg"] + losses["loss_graphkd_edge"]).backward()
    assert model.distiller.adapter.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())


def test_fpn_imitation_from_a_vit_teacher_that_pads_to_64(tmp_path):
    """A 96x160 page pads to 96x160 for the R-18 student (32) but to 128x192 for the ViT teacher (64): Dsig's
    FPN imitation compares the common top-left region, which holds the whole page in both."""
    torch.manual_seed(0)
    teacher_cfg = tiny_cfg(extra=TINY_VIT_OPTS)
    DetectionCheckpointer(build_model(teacher_cfg), save_dir=str(tmp_path)).save("vit_teacher")
    extra = ["MODEL.META_ARCHITECTURE", "GraphKDRCNN", "TEACHER.WEIGHTS", str(tmp_path / "vit_teacher.pth")]
    extra += ["TEACHER.CONFIG_FILE", write_cfg(teacher_cfg, tmp_path / "vit_teacher.yaml")]
    model = build_model(tiny_cfg(extra=[*extra, "GRAPHKD.EXTRAS.FPN_WEIGHT", 1.0]))
    inputs = random_page_inputs(height=96, width=160)
    with torch.no_grad():
        student = model.backbone(model.preprocess_image(inputs).tensor)
        teacher = model.teacher.backbone(model.teacher_images(inputs)[0].tensor)
    assert student["p2"].shape[-2:] == (24, 40) and teacher["p2"].shape[-2:] == (32, 48)
    expected = model.fpn_loss(student, teacher)["loss_graphkd_fpn"]
    by_hand = torch.stack(
        [
            torch.nn.functional.mse_loss(
                model.distiller.adapt(student[k]),
                teacher[k][..., : student[k].shape[-2], : student[k].shape[-1]],
            )
            for k in sorted(student)
        ]
    )
    assert torch.allclose(expected, by_hand.sum())  # FPN_WEIGHT 1.0 x the sum over the levels (METHOD.md §6)
    model.train()
    with EventStorage():
        losses = model(inputs)
    assert math.isfinite(losses["loss_graphkd_fpn"].item()) and losses["loss_graphkd_fpn"].item() > 0
    losses["loss_graphkd_fpn"].backward()
    assert model.distiller.adapter.weight.grad.abs().sum() > 0
