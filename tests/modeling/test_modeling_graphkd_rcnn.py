"""GraphKDRCNN on the CPU: losses, the frozen teacher, and a student checkpoint plain detectron2 can load."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import (
    assert_graph_gradients_reach_student_only,
    assert_teacher_outside_and_frozen,
    random_page_inputs,
    tiny_cfg,
)
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage

import graphkd.modeling  # noqa: F401  (registration)


def graphkd_cfg(teacher, extra=()):
    teacher_cfg, teacher_weights = teacher
    return tiny_cfg(
        extra=[
            "MODEL.META_ARCHITECTURE",
            "GraphKDRCNN",
            "TEACHER.CONFIG_FILE",
            teacher_cfg,
            "TEACHER.WEIGHTS",
            teacher_weights,
            "GRAPHKD.NODE_TYPE.TEXT_CLASSES",
            '["text", "title", "list"]',
            *extra,
        ]
    )


@pytest.fixture
def model(tiny_teacher):
    torch.manual_seed(0)
    return build_model(graphkd_cfg(tiny_teacher, ["GRAPHKD.NODE_TYPE.TEXT_CLASSES", "[]"]))


def test_training_step_logs_finite_graphkd_losses(model):
    model.train()
    with EventStorage() as storage:
        losses = model(random_page_inputs())
        scalars = storage.latest()
    for name in ("loss_graphkd_node_fg", "loss_graphkd_edge", "loss_cls", "loss_box_reg", "loss_rpn_cls"):
        assert name in losses and math.isfinite(losses[name].item()), name
    assert losses["loss_graphkd_node_fg"].item() > 0
    assert scalars["graphkd/text_nodes"][0] + scalars["graphkd/nontext_nodes"][0] > 0
    assert scalars["graphkd/bg_nodes"][0] <= 2 * 64  # MAX_PER_IMAGE per image


def test_eval_forward_is_plain_detectron2_inference(model):
    """In eval mode GraphKDRCNN is the student alone: the same detections as GeneralizedRCNN's forward."""
    from detectron2.modeling import GeneralizedRCNN

    model.eval()
    model.roi_heads.box_predictor.test_score_thresh = 0.0  # a random student: keep every detection
    inputs = random_page_inputs(num_images=2)
    with torch.no_grad():
        ours = model(inputs)
        plain = GeneralizedRCNN.forward(model, inputs)
    assert len(ours) == 2 and all(len(out["instances"]) > 0 for out in ours)
    for mine, reference in zip(ours, plain):
        assert mine["instances"].image_size == reference["instances"].image_size
        assert torch.equal(mine["instances"].pred_boxes.tensor, reference["instances"].pred_boxes.tensor)
        assert torch.equal(mine["instances"].scores, reference["instances"].scores)


def test_teacher_is_outside_the_module_tree_and_frozen(model):
    assert_teacher_outside_and_frozen(model)


def test_gradients_reach_student_and_adapter_never_teacher(model):
    assert_graph_gradients_reach_student_only(model)


def test_student_checkpoint_loads_into_plain_detectron2(model, tmp_path):
    from graphkd.engine.trainer import save_student_checkpoint

    path = save_student_checkpoint(model, str(tmp_path / "student.pth"))
    plain = build_model(tiny_cfg())
    incompatible = DetectionCheckpointer(plain)._load_model(
        {"model": torch.load(path, weights_only=False)["model"], "matching_heuristics": False}
    )
    assert not incompatible.missing_keys and not incompatible.unexpected_keys
    plain.eval()
    with torch.no_grad():
        outputs = plain([{k: v for k, v in x.items() if k != "instances"} for x in random_page_inputs(1)])
    assert "instances" in outputs[0]


def test_gt_mode_maps_text_class_names_to_ids(tiny_teacher):
    from detectron2.data import MetadataCatalog

    MetadataCatalog.get("tiny_pages_gt_mode").set(thing_classes=["text", "title", "list", "table", "figure"])
    cfg = graphkd_cfg(
        tiny_teacher, ["GRAPHKD.NODE_TYPE.MODE", "gt", "DATASETS.TRAIN", '("tiny_pages_gt_mode",)']
    )
    model = build_model(cfg)
    assert model.distiller.text_classes == [0, 1, 2]
    model.train()
    with EventStorage() as storage:
        losses = model(random_page_inputs())
        assert storage.latest()["graphkd/type_agreement"][0] == 1.0  # gt typing agrees with gt by definition
    assert all(math.isfinite(v.item()) for v in losses.values())


def test_text_class_names_without_dataset_metadata_fail_clearly(tiny_teacher):
    with pytest.raises(ValueError, match="thing_classes"):
        build_model(graphkd_cfg(tiny_teacher, ["GRAPHKD.NODE_TYPE.MODE", "gt"]))


def test_missing_teacher_config_is_named(tiny_teacher):
    cfg = graphkd_cfg(tiny_teacher, ["TEACHER.CONFIG_FILE", "/nonexistent/teacher.yaml"])
    with pytest.raises(FileNotFoundError, match="/nonexistent/teacher.yaml"):
        build_model(cfg)


def test_text_class_names_resolve_for_a_dataset_registered_from_a_spec(tiny_teacher, tmp_path):
    import json

    from graphkd.data import register_from_spec
    from graphkd.modeling import text_class_ids_from_cfg

    categories = [{"id": i + 1, "name": n} for i, n in enumerate(["figure", "paragraph", "heading", "table"])]
    json_file = tmp_path / "spec.json"
    json_file.write_text(json.dumps({"images": [], "annotations": [], "categories": categories}))
    register_from_spec(f"tiny_spec_pages={json_file}:{tmp_path}")
    cfg = graphkd_cfg(
        tiny_teacher,
        [
            "DATASETS.TRAIN",
            '("tiny_spec_pages",)',
            "GRAPHKD.NODE_TYPE.TEXT_CLASSES",
            '["heading", "paragraph"]',
        ],
    )
    assert text_class_ids_from_cfg(cfg) == [1, 2]


def test_dsig_extras_are_logged_when_enabled(tiny_teacher):
    extras = ["GRAPHKD.EXTRAS.FPN_WEIGHT", "0.5", "GRAPHKD.EXTRAS.LOGIT_WEIGHT", "3.0"]
    extras += ["GRAPHKD.EXTRAS.BOX_WEIGHT", "1.0", "GRAPHKD.NODE_TYPE.TEXT_CLASSES", "[]"]
    model = build_model(graphkd_cfg(tiny_teacher, extras))
    model.train()
    with EventStorage():
        losses = model(random_page_inputs())
    for name in ("loss_graphkd_fpn", "loss_graphkd_logit", "loss_graphkd_box"):
        assert math.isfinite(losses[name].item()) and losses[name].item() >= 0, name
    assert losses["loss_graphkd_fpn"].item() > 0  # random student vs random teacher FPN features differ


def test_teacher_with_another_input_size_pools_rescaled_boxes(tiny_teacher):
    """TEACHER.INPUT_MIN_SIZE: the teacher sees resized pages and pools the node boxes moved to its frame."""
    import torch.nn.functional as F
    from detectron2.structures import Boxes

    model = build_model(
        graphkd_cfg(tiny_teacher, ["TEACHER.INPUT_MIN_SIZE", "256", "GRAPHKD.NODE_TYPE.TEXT_CLASSES", "[]"])
    )
    inputs = random_page_inputs(1, height=128, width=160)
    boxes = [Boxes(torch.tensor([[10.0, 10.0, 150.0, 30.0], [20.0, 40.0, 70.0, 120.0]]))]
    out = model.teacher_forward(inputs, boxes)

    teacher = model.teacher  # an independent path: resize by hand (x2), scale the boxes by hand
    image = F.interpolate(inputs[0]["image"][None], size=(256, 320), mode="bilinear", align_corners=False)[0]
    with torch.no_grad():
        features = teacher.backbone(teacher.preprocess_image([{"image": image}]).tensor)
        heads = teacher.roi_heads
        expected = heads.box_pooler(
            [features[f] for f in heads.box_in_features], [Boxes(boxes[0].tensor * 2)]
        )
    assert out["features"]["p2"].shape[-2:] == (64, 80)  # stride 4 on the 256x320 teacher frame
    torch.testing.assert_close(out["pooled"], expected)
    model.train()
    with EventStorage():
        losses = model(random_page_inputs())
    assert math.isfinite(losses["loss_graphkd_edge"].item())


def test_a_teacher_for_another_class_count_is_refused_when_the_model_is_built(tiny_teacher):
    from graphkd.modeling.teacher import TeacherLoadError

    with pytest.raises(TeacherLoadError, match=r"teacher has 5 classes.*student 3"):
        build_model(graphkd_cfg(tiny_teacher, ["MODEL.ROI_HEADS.NUM_CLASSES", 3]))
