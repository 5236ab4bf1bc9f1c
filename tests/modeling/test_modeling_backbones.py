"""Backbones of the configs: detectron2's ResNet FPNs and the timm FPN, built from our config files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from detectron2.modeling import build_backbone, build_model
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

import graphkd.modeling.backbones  # noqa: F401  (registers build_timm_fpn_backbone)
from graphkd.config import get_graphkd_cfg
from graphkd.modeling.backbones import TimmBackbone

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
BASE_CONFIGS = sorted(CONFIG_DIR.glob("Base-*.yaml"))
TINY_OPTS = [
    "MODEL.FPN.OUT_CHANNELS", 32,
    "MODEL.ROI_BOX_HEAD.FC_DIM", 64,
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE", 32,
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN", 200,
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", 50,
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", 16,
]  # fmt: skip


def _cfg(config_name: str, *opts):
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(CONFIG_DIR / config_name))
    cfg.merge_from_list(TINY_OPTS + list(opts))
    cfg.MODEL.DEVICE = "cpu"
    return cfg


@pytest.mark.parametrize("path", BASE_CONFIGS, ids=lambda p: p.name)
def test_base_config_merges_into_graphkd_cfg(path):
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(path))
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 5
    assert cfg.MODEL.META_ARCHITECTURE in ("GeneralizedRCNN", "RetinaNet")


def test_expected_base_configs_exist():
    names = {p.name for p in BASE_CONFIGS}
    for family in (
        "RCNN-FPN-doc",
        "R18-FPN",
        "R50-FPN",
        "R101-FPN",
        "R152-FPN",
        "MobileNetV2-FPN",
        "EfficientNetB0-FPN",
    ):
        assert f"Base-{family}.yaml" in names


def _check_fpn_outputs(backbone, channels: int = 32) -> None:
    backbone.eval()
    with torch.no_grad():
        outputs = backbone(torch.randn(1, 3, 128, 128))
    assert list(outputs) == ["p2", "p3", "p4", "p5", "p6"]
    shapes = backbone.output_shape()
    assert set(shapes) == set(outputs)
    for level, name in enumerate(outputs, start=2):
        assert shapes[name].stride == 2**level
        assert shapes[name].channels == channels
        assert tuple(outputs[name].shape) == (1, channels, 128 // 2**level, 128 // 2**level)


@pytest.mark.parametrize(
    "config_name",
    [
        "Base-R18-FPN.yaml",
        "Base-R50-FPN.yaml",
        pytest.param("Base-R101-FPN.yaml", marks=pytest.mark.slow),
        pytest.param("Base-R152-FPN.yaml", marks=pytest.mark.slow),
        "Base-MobileNetV2-FPN.yaml",
        "Base-EfficientNetB0-FPN.yaml",
    ],
)
def test_config_backbone_gives_p2_to_p6(config_name):
    _check_fpn_outputs(build_backbone(_cfg(config_name)))


@pytest.mark.parametrize(
    ("model_name", "channels"),
    [("mobilenetv2_100", [24, 32, 96, 320]), ("efficientnet_b0", [24, 40, 112, 320])],
)
def test_timm_backbone_names_outputs_by_stride(model_name, channels):
    backbone = TimmBackbone(model_name)
    shapes = backbone.output_shape()
    assert list(shapes) == ["res2", "res3", "res4", "res5"]
    assert [s.stride for s in shapes.values()] == [4, 8, 16, 32]
    assert [s.channels for s in shapes.values()] == channels
    assert backbone.size_divisibility == 32
    outputs = backbone(torch.randn(1, 3, 64, 96))
    for name, shape in shapes.items():
        assert tuple(outputs[name].shape) == (1, shape.channels, 64 // shape.stride, 96 // shape.stride)


def test_timm_backbone_rejects_bad_out_indices():
    with pytest.raises(ValueError, match="OUT_INDICES"):
        TimmBackbone("mobilenetv2_100", out_indices=(1, 2, 3, 9))


def test_timm_backbone_norms_are_trainable_batchnorm():
    backbone = build_backbone(_cfg("Base-MobileNetV2-FPN.yaml")).bottom_up
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(p.requires_grad for m in norms for p in m.parameters())


def test_timm_freeze_at_freezes_stem_and_first_stages():
    backbone = TimmBackbone("mobilenetv2_100", freeze_at=2)  # stem + res2, as detectron2's FREEZE_AT
    body = backbone.body
    assert not body.conv_stem.weight.requires_grad
    assert not any(p.requires_grad for p in body.blocks[1].parameters())  # res2 (stride 4)
    assert all(p.requires_grad for p in body.blocks[2].parameters())  # res3
    backbone.train()
    assert not body.bn1.training and not body.blocks[1][0].bn1.training
    assert body.blocks[2][0].bn1.training
    stem_only = TimmBackbone("mobilenetv2_100", freeze_at=1)
    assert not stem_only.body.conv_stem.weight.requires_grad
    assert all(p.requires_grad for p in stem_only.body.blocks[1].parameters())
    with pytest.raises(ValueError, match="FREEZE_AT=6"):
        TimmBackbone("mobilenetv2_100", freeze_at=6)


def _empty_weight_caches(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    old_hub_dir = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "torch"))
    return old_hub_dir


def test_timm_pretrained_without_cached_weights_fails_clearly(monkeypatch, tmp_path):
    old_hub_dir = _empty_weight_caches(monkeypatch, tmp_path)
    try:
        with pytest.raises(RuntimeError, match="not in the local cache"):
            TimmBackbone("mobilenetv2_100", pretrained=True)
    finally:
        torch.hub.set_dir(old_hub_dir)


def test_timm_pretrained_loads_weights_from_local_cache(monkeypatch, tmp_path):
    import timm
    from timm.models import get_pretrained_cfg

    old_hub_dir = _empty_weight_caches(monkeypatch, tmp_path)
    try:
        reference = timm.create_model("mobilenetv2_100", pretrained=False)
        repo_id = get_pretrained_cfg("mobilenetv2_100").hf_hub_id
        repo_dir = tmp_path / "hf" / ("models--" + repo_id.replace("/", "--"))
        (repo_dir / "refs").mkdir(parents=True)
        (repo_dir / "refs" / "main").write_text("0" * 40)
        (repo_dir / "snapshots" / ("0" * 40)).mkdir(parents=True)
        torch.save(reference.state_dict(), repo_dir / "snapshots" / ("0" * 40) / "pytorch_model.bin")
        backbone = TimmBackbone("mobilenetv2_100", pretrained=True)
    finally:
        torch.hub.set_dir(old_hub_dir)
    assert torch.equal(backbone.body.conv_stem.weight, reference.conv_stem.weight)


def test_generalized_rcnn_with_timm_fpn_trains_one_step():
    torch.manual_seed(0)
    model = build_model(_cfg("Base-MobileNetV2-FPN.yaml"))
    model.train()
    instances = Instances((128, 128))
    instances.gt_boxes = Boxes(torch.tensor([[16.0, 20.0, 100.0, 60.0]]))
    instances.gt_classes = torch.tensor([1])
    image = torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)
    with EventStorage():
        losses = model([{"image": image, "instances": instances, "height": 128, "width": 128}])
        assert {"loss_cls", "loss_box_reg", "loss_rpn_cls", "loss_rpn_loc"} <= set(losses)
        assert all(torch.isfinite(v) for v in losses.values())
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert model.backbone.bottom_up.body.conv_stem.weight.grad is not None
