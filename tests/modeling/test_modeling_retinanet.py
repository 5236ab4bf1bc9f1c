"""GraphKDRetinaNet on the CPU: losses, the frozen teacher, and a student checkpoint plain RetinaNet can load."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import (
    assert_graph_gradients_reach_student_only,
    assert_teacher_outside_and_frozen,
    random_page_inputs,
    tiny_cfg,
    write_cfg,
)
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

import graphkd.modeling  # noqa: F401  (registration)

# Shrinks a document RetinaNet further: one anchor per location, few candidates and nodes.
TINY_RETINANET_OPTS = [
    "MODEL.RETINANET.NUM_CLASSES",
    5,
    "MODEL.ANCHOR_GENERATOR.SIZES",
    "[[32], [64], [128], [256], [512]]",
    "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS",
    "[[1.0]]",
    "MODEL.RETINANET.NUM_CONVS",
    1,
    "MODEL.RETINANET.TOPK_CANDIDATES_TEST",
    50,
    "GRAPHKD.RETINANET_NODES_PER_IMAGE",
    20,
    "GRAPHKD.BG_MINING.MAX_PER_IMAGE",
    8,
]


def retinanet_cfg(extra=()):
    return tiny_cfg("configs/Base-RetinaNet-R18.yaml", TINY_RETINANET_OPTS + list(extra))


@pytest.fixture
def retinanet_teacher(tmp_path):
    """A tiny RetinaNet R-18 teacher (64 FPN channels) saved as a checkpoint: (config path, weights path)."""
    torch.manual_seed(0)
    cfg = retinanet_cfg(["MODEL.FPN.OUT_CHANNELS", 64])
    DetectionCheckpointer(build_model(cfg), save_dir=str(tmp_path)).save("retinanet_teacher")
    return write_cfg(cfg, tmp_path / "retinanet_teacher.yaml"), str(tmp_path / "retinanet_teacher.pth")


def graphkd_retinanet(teacher, extra=()):
    teacher_cfg, teacher_weights = teacher
    torch.manual_seed(0)
    cfg = retinanet_cfg(
        [
            "MODEL.META_ARCHITECTURE",
            "GraphKDRetinaNet",
            "TEACHER.CONFIG_FILE",
            teacher_cfg,
            "TEACHER.WEIGHTS",
            teacher_weights,
            *extra,
        ]
    )
    return build_model(cfg)


@pytest.fixture
def model(retinanet_teacher):
    return graphkd_retinanet(
        retinanet_teacher, ["GRAPHKD.EXTRAS.LOGIT_WEIGHT", 3.0, "GRAPHKD.EXTRAS.BOX_WEIGHT", 1.0]
    )


def test_training_step_gives_finite_retinanet_and_graphkd_losses(model):
    model.train()
    with EventStorage() as storage:
        losses = model(random_page_inputs())
        scalars = storage.latest()
    for name in (
        "loss_cls",
        "loss_box_reg",
        "loss_graphkd_node_fg",
        "loss_graphkd_edge",
        "loss_graphkd_logit",
    ):
        assert name in losses and math.isfinite(losses[name].item()), name
    assert losses["loss_graphkd_node_fg"].item() > 0
    assert scalars["graphkd/bg_nodes"][0] <= 2 * 8  # MAX_PER_IMAGE per image


def test_nodes_are_gt_boxes_plus_capped_detections(model):
    model.train()
    inputs = random_page_inputs()
    images = model.preprocess_image(inputs)
    features = model.backbone(images.tensor)
    head_features = [features[f] for f in model.head_in_features]
    logits, deltas = model._transpose_dense_predictions(model.head(head_features), [model.num_classes, 4])
    gt = [x["instances"] for x in inputs]
    nodes = model.select_nodes(model.anchor_generator(head_features), logits, deltas, images.image_sizes, gt)
    for image_nodes, image_gt in zip(nodes, gt, strict=True):
        num_gt = len(image_gt)
        assert torch.equal(image_nodes.boxes.tensor[:num_gt], image_gt.gt_boxes.tensor)
        assert torch.equal(image_nodes.gt_classes[:num_gt], image_gt.gt_classes)
        assert not image_nodes.background[:num_gt].any()
        assert num_gt < len(image_nodes) <= num_gt + 20
        assert int(image_nodes.background.sum()) <= 8
        assert torch.equal(image_nodes.background, image_nodes.gt_classes == model.num_classes)


def test_teacher_is_outside_the_module_tree_and_frozen(model):
    assert_teacher_outside_and_frozen(model)


def test_gradients_reach_student_never_teacher(model):
    assert_graph_gradients_reach_student_only(model)


def test_faster_rcnn_teacher_skips_dense_logit_kd_with_a_warning(tiny_teacher, caplog):
    model = graphkd_retinanet(tiny_teacher, ["GRAPHKD.EXTRAS.LOGIT_WEIGHT", 3.0])
    assert type(model.teacher).__name__ == "GeneralizedRCNN"
    model.train()
    with EventStorage(), caplog.at_level("WARNING", logger="graphkd.modeling.retinanet"):
        losses = model(random_page_inputs())
    assert "loss_graphkd_logit" not in losses
    assert math.isfinite(losses["loss_graphkd_node_fg"].item()) and math.isfinite(
        losses["loss_graphkd_edge"].item()
    )
    assert sum("skipping the dense logit" in r.message for r in caplog.records) == 1


def test_student_checkpoint_loads_into_plain_retinanet(model, tmp_path):
    from graphkd.engine.trainer import save_student_checkpoint

    path = save_student_checkpoint(model, str(tmp_path / "student.pth"))
    plain = build_model(retinanet_cfg())
    assert type(plain).__name__ == "RetinaNet"
    incompatible = DetectionCheckpointer(plain)._load_model(
        {"model": torch.load(path, weights_only=False)["model"], "matching_heuristics": False}
    )
    assert not incompatible.missing_keys and not incompatible.unexpected_keys
    plain.eval()
    with torch.no_grad():
        outputs = plain([{k: v for k, v in x.items() if k != "instances"} for x in random_page_inputs(1)])
    assert "instances" in outputs[0]
