"""ImageNet initialisation as users run it: torchvision ResNets converted, timm weights from a file, MSRA
conventions as detectron2's model zoo has them, dumped / model-zoo teachers, and the initialisation report.

References are independent of our code: torchvision's and timm's own forward passes, detectron2's packaged
model-zoo configs, and a plain detectron2 model built and loaded by detectron2 itself.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, TINY_OPTS

from graphkd.config import get_graphkd_cfg
from graphkd.engine.checkpoint import AtomicCheckpointer
from graphkd.modeling.pretrained import student_init_report

PAPER_DIRS = ("publaynet", "doclaynet", "prima")
# the CNN configs of the paper-scale datasets (the ViT teacher's timm weights are MODEL.VIT.PRETRAINED's)
PAPER_CONFIGS = sorted(
    p for d in PAPER_DIRS for p in (ROOT / "configs" / d).glob("*.yaml") if "ViT" not in p.name
)


def _randomise_bn_statistics(model: torch.nn.Module, seed: int = 0, calibrate: bool = True) -> None:
    """Trained-like BN layers: random affine parameters and, with ``calibrate``, running statistics measured on
    random pages (as ImageNet training leaves them: activations stay O(1) in eval mode), so that a frozen BN
    that ignored the statistics or the affine part would be caught."""
    generator = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for module in norms:
        n = module.num_features
        module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
        module.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)
        module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
        module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
    if calibrate:
        training = model.training
        for module in norms:
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batch
        model.train()
        with torch.no_grad():
            model(torch.randn(4, 3, 128, 96, generator=generator))
        model.train(training)


def _cfg(config: str, *opts) -> object:
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(ROOT / config))
    cfg.merge_from_list([str(v) for v in opts])
    return cfg


def _page(height: int = 128, width: int = 96, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), generator=generator, dtype=torch.uint8).float()


def _load_student(cfg):
    from detectron2.modeling import build_model

    model = build_model(cfg).eval()
    checkpointer = AtomicCheckpointer(model)
    checkpointer.load(cfg.MODEL.WEIGHTS)
    return model, student_init_report(model, cfg, checkpointer.last_load)


def _torchvision_input(image_rgb: torch.Tensor) -> torch.Tensor:
    """torchvision's ImageNet transform (ToTensor + Normalize) on an RGB 0-255 image."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    return ((image_rgb / 255.0 - mean.to(image_rgb)) / std.to(image_rgb))[None]


@pytest.mark.parametrize(
    "depth, config, extra",
    [
        (18, "configs/Base-R18-FPN-ImageNet.yaml", []),
        # the torchvision-convention R-50 base with the ImageNet bases' FrozenBN and FREEZE_AT
        (50, "configs/Base-R50-FPN.yaml", ["MODEL.RESNETS.NORM", "FrozenBN", "MODEL.BACKBONE.FREEZE_AT", 2]),
    ],
)
def test_converted_torchvision_resnet_equals_torchvision(depth, config, extra, tmp_path):
    import torchvision

    torch.manual_seed(depth)
    reference = getattr(torchvision.models, f"resnet{depth}")().eval()
    _randomise_bn_statistics(reference, seed=depth)
    torch.save(reference.state_dict(), tmp_path / f"resnet{depth}.pth")  # as torchvision's hub files are
    converted = tmp_path / f"R-{depth}.pkl"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/convert_torchvision.py"),
            str(tmp_path / f"resnet{depth}.pth"),
            str(converted),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]

    cfg = _cfg(config, "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", str(converted), *extra)
    model, report = _load_student(cfg)
    backbone_keys = [k for k in model.state_dict() if k.startswith("backbone.bottom_up.")]
    assert not [k for k in report.missing if k.startswith("backbone.bottom_up.")]
    assert report.unexpected == []
    assert report.loaded == len(backbone_keys) > 0
    assert report.file == str(converted) and report.input_format == "RGB"

    # float64 on both sides: in float32 the 50-layer sums alone differ by ~1e-5 of their magnitude (measured:
    # 9e-4 at res5 of R-50, as far from a float64 reference as torchvision itself), which would hide nothing
    # but also prove nothing at 1e-4; in float64 a wrong name, stride or normalisation is still O(1).
    model, reference, image = model.double(), reference.double(), _page().double()
    with torch.no_grad():
        normalised = model.preprocess_image([{"image": image}]).tensor
        # our normalisation is torchvision's transform (up to the float32 rounding of PIXEL_MEAN/STD) ...
        assert (normalised - _torchvision_input(image)).abs().max() <= 1e-5
        # ... and the networks get the same tensor: a random 50-layer net amplifies a 1e-7 input difference
        ours = model.backbone.bottom_up(normalised)
        x = reference.maxpool(reference.relu(reference.bn1(reference.conv1(normalised))))
        for stage in range(1, 5):
            x = getattr(reference, f"layer{stage}")(x)
            diff = (ours[f"res{stage + 1}"] - x).abs().max().item()
            assert diff <= 1e-4, f"res{stage + 1} vs layer{stage}: max abs difference {diff}"


def test_missing_local_weights_file_says_how_to_make_it(tmp_path):
    from graphkd.modeling.pretrained import require_weights_file

    with pytest.raises(
        FileNotFoundError, match=r"MODEL\.WEIGHTS .*R-18\.pkl not found.*convert_torchvision\.py"
    ):
        require_weights_file(str(tmp_path / "R-18.pkl"))
    require_weights_file("")  # random initialisation
    require_weights_file("detectron2://ImageNetPretrained/MSRA/R-50.pkl")  # detectron2 downloads URLs
    (tmp_path / "R-18.pkl").write_bytes(b"")
    require_weights_file(str(tmp_path / "R-18.pkl"))


def test_convert_torchvision_rejects_a_non_resnet_file(tmp_path):
    from graphkd.modeling.pretrained import convert_torchvision_file

    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"other\.pth: not a torchvision ResNet"):
        convert_torchvision_file(tmp_path / "other.pth", tmp_path / "out.pkl")
    assert not (tmp_path / "out.pkl").exists()
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        convert_torchvision_file(tmp_path / "missing.pth", tmp_path / "out.pkl")


@pytest.mark.parametrize(
    "name, config",
    [
        ("mobilenetv2_100", "configs/Base-MobileNetV2-FPN-ImageNet.yaml"),
        ("efficientnet_b0", "configs/Base-EfficientNetB0-FPN-ImageNet.yaml"),
    ],
)
def test_timm_weights_file_equals_timm_features(name, config, tmp_path):
    import timm

    torch.manual_seed(0)
    full = timm.create_model(name).eval()
    _randomise_bn_statistics(full)
    weights = tmp_path / f"{name}.pth"
    torch.save(full.state_dict(), weights)

    cfg = _cfg(config, "MODEL.DEVICE", "cpu", "MODEL.TIMM.PRETRAINED_FILE", str(weights))
    # the config's normalisation is timm's own for this model (0-255 scale), RGB
    mean, std = full.pretrained_cfg["mean"], full.pretrained_cfg["std"]
    assert cfg.INPUT.FORMAT == "RGB"
    assert cfg.MODEL.PIXEL_MEAN == pytest.approx([255 * m for m in mean], abs=1e-3)
    assert cfg.MODEL.PIXEL_STD == pytest.approx([255 * s for s in std], abs=1e-3)
    model, report = _load_student(cfg)
    body_keys = [
        k
        for k in model.state_dict()
        if k.startswith("backbone.bottom_up.body.") and not k.endswith("num_batches_tracked")
    ]
    assert report.file == str(weights) and report.loaded == len(body_keys) > 0
    assert not [k for k in report.missing if k.startswith("backbone.bottom_up.")]
    assert all(k.startswith(("classifier", "conv_head", "bn2")) for k in report.unexpected)

    # timm's own features: hooks on the saved full model at its feature_info modules (levels 1-4)
    levels = cfg.MODEL.TIMM.OUT_INDICES
    outputs = {}
    for level in levels:
        module = full.get_submodule(full.feature_info[level]["module"])
        module.register_forward_hook(lambda _m, _i, out, level=level: outputs.__setitem__(level, out))
    model, full, image = model.double(), full.double(), _page().double()  # float64: see the ResNet test
    with torch.no_grad():
        normalised = model.preprocess_image([{"image": image}]).tensor
        assert (normalised - _torchvision_input(image)).abs().max() <= 1e-5  # timm's transform (see above)
        ours = model.backbone.bottom_up(normalised)
        full(normalised)
    for name_out, level in zip(("res2", "res3", "res4", "res5"), levels):
        diff = (ours[name_out] - outputs[level]).abs().max().item()
        assert diff <= 1e-4, f"{name_out} vs timm level {level}: {diff}"


def test_timm_weights_file_of_another_model_is_an_error(tmp_path):
    import timm

    from graphkd.modeling.backbones import TimmBackbone

    torch.save(timm.create_model("efficientnet_b0").state_dict(), tmp_path / "b0.pth")
    with pytest.raises(
        ValueError, match=r"MODEL\.TIMM\.PRETRAINED_FILE .*b0\.pth does not hold .*mobilenetv2_100"
    ):
        TimmBackbone("mobilenetv2_100", pretrained_file=str(tmp_path / "b0.pth"))
    with pytest.raises(FileNotFoundError, match=r"MODEL\.TIMM\.PRETRAINED_FILE .*nothere\.pth not found"):
        TimmBackbone("mobilenetv2_100", pretrained_file=str(tmp_path / "nothere.pth"))


_MSRA_KEYS = (
    "MODEL.PIXEL_MEAN",
    "MODEL.PIXEL_STD",
    "INPUT.FORMAT",
    "MODEL.RESNETS.STRIDE_IN_1X1",
    "MODEL.RESNETS.NORM",
    "MODEL.BACKBONE.FREEZE_AT",
    "MODEL.RESNETS.DEPTH",
    "MODEL.WEIGHTS",
)


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = cfg[part]
    return list(cfg) if isinstance(cfg, list | tuple) else cfg


@pytest.mark.parametrize(
    "ours, zoo",
    [
        ("configs/Base-R50-FPN-MSRA.yaml", "COCO-Detection/faster_rcnn_R_50_FPN_1x.yaml"),
        ("configs/Base-R101-FPN-MSRA.yaml", "COCO-Detection/faster_rcnn_R_101_FPN_3x.yaml"),
        ("configs/Base-RetinaNet-R50-MSRA.yaml", "COCO-Detection/retinanet_R_50_FPN_1x.yaml"),
        ("configs/Base-RetinaNet-R101-MSRA.yaml", "COCO-Detection/retinanet_R_101_FPN_3x.yaml"),
    ],
)
def test_msra_bases_have_detectron2_model_zoo_conventions(ours, zoo):
    from detectron2 import model_zoo
    from detectron2.config import get_cfg

    reference = get_cfg()
    reference.merge_from_file(model_zoo.get_config_file(zoo))  # the file packaged with detectron2
    cfg = _cfg(ours)
    for key in _MSRA_KEYS:
        assert _get(cfg, key) == _get(reference, key), f"{ours}: {key}"


@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_paper_scale_configs_start_from_imagenet(path):
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(path))
    if "timm" in cfg.MODEL.BACKBONE.NAME:
        assert cfg.MODEL.TIMM.PRETRAINED_FILE and cfg.MODEL.TIMM.NORM == "FrozenBN"
        assert cfg.MODEL.TIMM.FREEZE_AT == 2 and cfg.INPUT.FORMAT == "RGB"
        return
    assert cfg.MODEL.RESNETS.NORM == "FrozenBN" and cfg.MODEL.BACKBONE.FREEZE_AT == 2
    msra = cfg.MODEL.WEIGHTS.startswith("detectron2://ImageNetPretrained/MSRA/")
    torchvision_file = cfg.MODEL.WEIGHTS == f"pretrained/R-{cfg.MODEL.RESNETS.DEPTH}.pkl"
    assert msra or torchvision_file, cfg.MODEL.WEIGHTS
    if msra:  # Caffe2-trained weights: BGR, Caffe mean, std 1, stride in the 1x1 conv
        assert cfg.MODEL.WEIGHTS.endswith(f"/R-{cfg.MODEL.RESNETS.DEPTH}.pkl")
        assert cfg.INPUT.FORMAT == "BGR" and list(cfg.MODEL.PIXEL_STD) == [1.0, 1.0, 1.0]
        assert cfg.MODEL.RESNETS.STRIDE_IN_1X1 is True
    else:  # torchvision-trained weights
        assert cfg.INPUT.FORMAT == "RGB" and cfg.MODEL.PIXEL_STD[0] == pytest.approx(58.395)
        assert cfg.MODEL.RESNETS.STRIDE_IN_1X1 is False


# --- teachers from a model zoo or a dumped config ----------------------------------------------------

_SMALL_MODEL = [
    "MODEL.FPN.OUT_CHANNELS",
    32,
    "MODEL.ROI_BOX_HEAD.FC_DIM",
    64,
    "MODEL.ROI_HEADS.NUM_CLASSES",
    5,
]


@pytest.fixture
def msra_teacher_dump(tmp_path):
    """A teacher as a detectron2 trainer (or layoutparser) leaves it: OUTPUT_DIR/config.yaml + model_final.pth,
    MSRA conventions (BGR, PIXEL_STD 1, FrozenBN), plus a key from another detectron2 version."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    cfg = _cfg(
        "configs/Base-R50-FPN-MSRA.yaml",
        "MODEL.DEVICE",
        "cpu",
        "MODEL.WEIGHTS",
        "",
        "DATASETS.TRAIN",
        "('synth_publaynet_train',)",
        *_SMALL_MODEL,
    )
    torch.manual_seed(1)
    model = build_model(cfg)
    _randomise_bn_statistics(model, seed=1, calibrate=False)  # FrozenBN buffers, not 0/1
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("model_final")
    # a key this detectron2 does not know, harmless for the network
    text = cfg.dump().replace("\nSOLVER:\n", "\nSOLVER:\n  FUTURE_SOLVER_KEY: 3\n", 1)
    assert "FUTURE_SOLVER_KEY" in text
    (tmp_path / "config.yaml").write_text(text)
    return tmp_path / "config.yaml", tmp_path / "model_final.pth"


def _student_cfg(teacher_config, teacher_weights, *opts):
    from graphkd.engine.setup import load_config

    return load_config(
        ROOT / "configs/synthetic/graphkd_R18_from_R50.yaml",
        [
            *(str(v) for v in TINY_OPTS),
            "DATASETS.TRAIN",
            "('synth_publaynet_train',)",
            "TEACHER.CONFIG_FILE",
            str(teacher_config),
            "TEACHER.WEIGHTS",
            str(teacher_weights),
            *opts,
        ],
    )


def test_dumped_msra_teacher_logits_equal_plain_detectron2(msra_teacher_dump, caplog):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model
    from detectron2.structures import Boxes

    config, weights = msra_teacher_dump
    with caplog.at_level(logging.WARNING, logger="graphkd.modeling.teacher"):
        student = build_model(_student_cfg(config, weights)).eval()
    warnings = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
    assert len(warnings) == 1 and "SOLVER.FUTURE_SOLVER_KEY" in warnings[0]
    assert student.input_format == "RGB" and student.teacher.input_format == "BGR"

    # plain detectron2: its own config (the unknown key removed by hand), model and checkpointer
    reference_cfg = get_graphkd_cfg()  # the dump holds GraphKD's keys too; the model is detectron2's
    text = config.read_text().replace("  FUTURE_SOLVER_KEY: 3\n", "")
    (config.parent / "plain.yaml").write_text(text)
    reference_cfg.merge_from_file(str(config.parent / "plain.yaml"))
    reference = build_model(reference_cfg).eval()
    DetectionCheckpointer(reference).load(str(weights))

    rgb = _page(128, 96, seed=3)
    boxes = Boxes(torch.tensor([[4.0, 6.0, 60.0, 40.0], [10.0, 50.0, 90.0, 120.0], [0.0, 0.0, 96.0, 128.0]]))
    with torch.no_grad():
        ours = student.teacher_forward([{"image": rgb, "height": 128, "width": 96}], [boxes])["scores"]
        images = reference.preprocess_image([{"image": rgb.flip(0)}])  # the same page in BGR
        features = reference.backbone(images.tensor)
        heads = reference.roi_heads
        pooled = heads.box_pooler([features[f] for f in heads.box_in_features], [boxes])
        expected, _ = heads.box_predictor(heads.box_head(pooled))
    assert ours.shape == expected.shape == (3, 6)
    assert torch.allclose(ours, expected, atol=1e-5, rtol=1e-5), (ours - expected).abs().max()
    # and the teacher reports its initialisation: every key from the file
    report = student.teacher.init_report
    assert report.file == str(weights) and report.missing == [] and report.loaded == report.total
    assert report.input_format == "BGR" and report.pixel_std == [1.0, 1.0, 1.0]


def test_teacher_config_with_unknown_model_key_is_an_error(msra_teacher_dump):
    from graphkd.modeling.teacher import load_teacher_config

    config, _ = msra_teacher_dump
    config.write_text(config.read_text().replace("MODEL:\n", "MODEL:\n  FUTURE_MODEL_KEY: 1\n", 1))
    with pytest.raises(ValueError, match=r"config\.yaml.*MODEL\.FUTURE_MODEL_KEY"):
        load_teacher_config(str(config))


def test_model_zoo_teacher_name_resolves_and_class_count_mismatch_is_an_error(msra_teacher_dump):
    from detectron2.modeling import build_model

    from graphkd.modeling.teacher import TeacherLoadError, load_teacher_config

    cfg = load_teacher_config("COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml")
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 80 and cfg.INPUT.FORMAT == "BGR"
    _, weights = msra_teacher_dump
    student_cfg = _student_cfg("COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml", weights)
    with pytest.raises(TeacherLoadError, match=r"teacher has 80 classes .* student 5"):
        build_model(student_cfg)
    with pytest.raises(FileNotFoundError, match="not a detectron2 model-zoo config|neither a file"):
        load_teacher_config("COCO-Detection/no_such_model.yaml")


def test_teacher_label_map_mismatch_is_an_error(msra_teacher_dump):
    from detectron2.modeling import build_model

    from graphkd.modeling.teacher import TeacherLoadError

    config, weights = msra_teacher_dump
    reordered = '["title", "text", "list", "table", "figure"]'
    with pytest.raises(TeacherLoadError, match=r"TEACHER\.THING_CLASSES.*synth_publaynet_train"):
        build_model(_student_cfg(config, weights, "TEACHER.THING_CLASSES", reordered))
    same = '["Text", "Title", "List", "Table", "Figure"]'  # layoutparser's PubLayNet label map
    build_model(_student_cfg(config, weights, "TEACHER.THING_CLASSES", same))


def test_paper_scale_graphkd_run_from_converted_imagenet_weights(tmp_path):
    """A few CPU iterations of configs/publaynet/graphkd_R18_from_R50.yaml (R-18 student from converted random
    torchvision weights, MSRA R-50 teacher), on small synthetic pages: finite losses, both initialisations
    reported in the training log."""
    import torchvision
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from graphkd.data.synthetic import generate_synthetic_dataset
    from graphkd.modeling.pretrained import convert_torchvision_file

    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet18.pth")
    convert_torchvision_file(tmp_path / "resnet18.pth", tmp_path / "R-18.pkl")
    teacher_opts = ["MODEL.WEIGHTS", "", *_SMALL_MODEL]
    teacher_cfg = _cfg("configs/publaynet/teacher_R50.yaml", "MODEL.DEVICE", "cpu", *teacher_opts)
    DetectionCheckpointer(build_model(teacher_cfg), save_dir=str(tmp_path)).save("teacher")
    train = generate_synthetic_dataset(tmp_path / "pages", num_pages=2, seed=0, size=(240, 320))
    opts = [
        *(str(v) for v in TINY_OPTS),
        "DATASETS.REGISTER",
        f'("pages_train={train}:{train.parent / "images"}",)',
        "DATASETS.TRAIN",
        '("pages_train",)',
        "MODEL.WEIGHTS",
        str(tmp_path / "R-18.pkl"),
        "TEACHER.WEIGHTS",
        str(tmp_path / "teacher.pth"),
        "TEACHER.OPTS",
        json.dumps([str(v) for v in teacher_opts]),
        "INPUT.MIN_SIZE_TRAIN",
        "(160,)",
        "INPUT.MAX_SIZE_TRAIN",
        "224",
        "SOLVER.IMS_PER_BATCH",
        "2",
        "SOLVER.MAX_ITER",
        "3",
        "SOLVER.WARMUP_ITERS",
        "1",
        "SOLVER.STEPS",
        "()",
        "TEST.EVAL_PERIOD",
        "0",
        "DATALOADER.NUM_WORKERS",
        "0",
        "OUTPUT_DIR",
        str(tmp_path / "run"),
    ]
    cmd = [
        sys.executable,
        str(ROOT / "scripts/distill.py"),
        "--config-file",
        str(ROOT / "configs/publaynet/graphkd_R18_from_R50.yaml"),
        *opts,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    student_line = next(line for line in log.splitlines() if "Initialisation of the student:" in line)
    assert str(tmp_path / "R-18.pkl") in student_line and "0 unexpected" in student_line
    assert "RGB input" in student_line
    teacher_line = next(line for line in log.splitlines() if "Initialisation of the teacher:" in line)
    assert str(tmp_path / "teacher.pth") in teacher_line and "0 missing" in teacher_line
    assert "BGR input" in teacher_line and "std [1, 1, 1]" in teacher_line
    rows = [
        json.loads(line) for line in (tmp_path / "run/metrics.json").read_text().splitlines() if line.strip()
    ]
    losses = [row for row in rows if "loss_graphkd_node_fg" in row]
    assert losses and all(math.isfinite(row["total_loss"]) for row in losses)


def test_env_reports_each_networks_initialisation(tmp_path, capsys, tiny_teacher):
    """``python -m graphkd.env --config-file ...``: the student from an ImageNet file, the teacher from its
    checkpoint, with counts and conventions (main() in process: the subprocess form is test_foundation's)."""
    import torchvision

    from graphkd.env import main
    from graphkd.modeling.pretrained import convert_torchvision_file

    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet18.pth")
    convert_torchvision_file(tmp_path / "resnet18.pth", tmp_path / "R-18.pkl")
    teacher_config, teacher_weights = tiny_teacher
    main(
        [
            "--config-file",
            str(ROOT / "configs/synthetic/graphkd_R18_from_R50.yaml"),
            *(str(v) for v in TINY_OPTS),
            "MODEL.WEIGHTS",
            str(tmp_path / "R-18.pkl"),
            "TEACHER.CONFIG_FILE",
            teacher_config,
            "TEACHER.WEIGHTS",
            teacher_weights,
        ]
    )
    out = capsys.readouterr().out
    student = next(line for line in out.splitlines() if line.startswith("init student"))
    teacher = next(line for line in out.splitlines() if line.startswith("init teacher"))
    assert f"{tmp_path / 'R-18.pkl'}: 100/" in student and "0 unexpected; RGB input" in student
    assert f"{teacher_weights}: " in teacher and "0 missing" in teacher
    # a student without weights says so
    main(["--config-file", str(ROOT / "configs/synthetic/student_R18.yaml"), "MODEL.DEVICE", "cpu"])
    out = capsys.readouterr().out
    assert "random initialisation (no weights file): 0/" in out
