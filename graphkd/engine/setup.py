"""Loading a GraphKD config file: registration of GraphKD's components and datasets, then the merge.

Kept out of :mod:`graphkd.config` (the key definitions, a leaf) because loading needs the model and data
packages, which themselves read those keys.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from detectron2.config import CfgNode as CN

from graphkd.config import get_graphkd_cfg

__all__ = ["REPO_ROOT", "load_config"]

logger = logging.getLogger(__name__)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_config(config_file: str | os.PathLike, opts: Sequence[str] = ()) -> CN:
    """An unfrozen config from ``config_file`` + ``KEY VALUE`` overrides, ready to build models from.

    Registers GraphKD's components and datasets (builtins and ``DATASETS.REGISTER``), resolves a relative
    ``TEACHER.CONFIG_FILE`` against the repository root when it is not found from the working directory, and
    falls back to the CPU when CUDA is missing. Unknown keys raise a ``ValueError`` naming the file.
    """
    import torch

    import graphkd.modeling  # noqa: F401  (registers GraphKDRCNN and the backbones)
    from graphkd.data import register_from_spec  # importing graphkd.data registers the builtin datasets

    config_file = os.fspath(config_file)
    if not os.path.isfile(config_file):
        raise FileNotFoundError(f"config file not found: {config_file}")
    cfg = get_graphkd_cfg()
    try:
        cfg.merge_from_file(config_file)
        cfg.merge_from_list(list(opts))
    except (AssertionError, KeyError, ValueError) as exc:  # yacs reports unknown keys with a bare assert
        raise ValueError(f"{config_file} (+ command-line overrides): {exc}") from None
    for spec in cfg.DATASETS.REGISTER:
        register_from_spec(spec)
    teacher_cfg = cfg.TEACHER.CONFIG_FILE
    if teacher_cfg and not os.path.isabs(teacher_cfg) and not os.path.exists(teacher_cfg):
        in_repo = os.path.join(REPO_ROOT, teacher_cfg)  # configs name their teacher relative to the repo root
        if os.path.exists(in_repo):
            cfg.TEACHER.CONFIG_FILE = in_repo
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        logger.warning("CUDA is not available: running on the CPU")
        cfg.MODEL.DEVICE = "cpu"
    return cfg
