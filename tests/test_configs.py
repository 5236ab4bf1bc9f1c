"""Every config in configs/ merges into detectron2's defaults plus GraphKD's keys."""

from pathlib import Path

import pytest

from graphkd.config import get_graphkd_cfg

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


def test_configs_exist():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_merges(path):
    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(path))
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES > 0


def test_unknown_key_is_named():
    cfg = get_graphkd_cfg()
    with pytest.raises(KeyError, match="GRAPHKD.NOT_A_KEY"):
        cfg.merge_from_list(["GRAPHKD.NOT_A_KEY", 1])
