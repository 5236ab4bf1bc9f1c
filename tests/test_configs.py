"""Every config in configs/ merges into detectron2's defaults plus GraphKD's keys."""

from pathlib import Path

import pytest

from graphkd.config import PLAIN_STUDENT_ARCHITECTURE, get_graphkd_cfg

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


def test_configs_exist():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_merges(path):
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(path))
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES > 0


def test_unknown_key_is_named_by_setup_cfg():
    from detectron2.engine import default_argument_parser

    from graphkd.engine.trainer import setup_cfg

    config = str(CONFIGS[0])
    args = default_argument_parser().parse_args(["--config-file", config, "GRAPHKD.NOT_A_KEY", "1"])
    with pytest.raises(ValueError, match="Non-existent key: GRAPHKD.NOT_A_KEY"):
        setup_cfg(args)


@pytest.mark.parametrize(
    "path",
    [p for p in CONFIGS if p.name.startswith("graphkd_")],
    ids=lambda p: str(p.relative_to(p.parents[1])),
)
def test_graphkd_config_names_a_teacher_with_the_same_classes(path):
    root = path.parents[2] if path.parent.name != "configs" else path.parents[1]
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(path))
    assert cfg.MODEL.META_ARCHITECTURE in PLAIN_STUDENT_ARCHITECTURE
    teacher_file = root / cfg.TEACHER.CONFIG_FILE
    assert teacher_file.is_file(), f"{path.name}: teacher config {cfg.TEACHER.CONFIG_FILE} not found"
    teacher = get_graphkd_cfg()
    teacher.merge_from_file(str(teacher_file))
    assert teacher.MODEL.META_ARCHITECTURE == PLAIN_STUDENT_ARCHITECTURE[cfg.MODEL.META_ARCHITECTURE]
    assert teacher.MODEL.ROI_HEADS.NUM_CLASSES == cfg.MODEL.ROI_HEADS.NUM_CLASSES
    assert teacher.MODEL.RETINANET.NUM_CLASSES == cfg.MODEL.RETINANET.NUM_CLASSES
    assert teacher.DATASETS.TRAIN == cfg.DATASETS.TRAIN
