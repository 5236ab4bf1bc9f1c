"""The detectron2 trainer shared by ``scripts/train_net.py`` (plain detectors) and ``scripts/distill.py``."""

from __future__ import annotations

import argparse
import logging
import os

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode
from detectron2.engine import DefaultTrainer, default_setup
from detectron2.evaluation import COCOEvaluator
from detectron2.utils import comm

from graphkd.config import get_graphkd_cfg
from graphkd.env import detectron2_has_ops

logger = logging.getLogger(__name__)

STUDENT_CHECKPOINT = "model_student.pth"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class GraphKDTrainer(DefaultTrainer):
    """``DefaultTrainer`` with COCO box evaluation (pycocotools when detectron2 has no C++ ops) and, for GraphKD
    runs, a student-only checkpoint written at the end of training."""

    @classmethod
    def build_evaluator(cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(
            dataset_name, tasks=("bbox",), distributed=True, output_dir=output_folder,
            use_fast_impl=detectron2_has_ops(),
        )

    def train(self):
        results = super().train()
        if comm.is_main_process():
            save_student_checkpoint(self.model, os.path.join(self.cfg.OUTPUT_DIR, STUDENT_CHECKPOINT))
        return results


def save_student_checkpoint(model: torch.nn.Module, path: str) -> str:
    """Write the student's weights alone (loadable by plain detectron2), atomically."""
    model = getattr(model, "module", model)  # unwrap DDP
    state = model.student_state_dict() if hasattr(model, "student_state_dict") else model.state_dict()
    tmp = f"{path}.tmp"
    torch.save({"model": state}, tmp)
    os.replace(tmp, path)
    logger.info("Saved the student checkpoint to %s", path)
    return path


def setup_cfg(args: argparse.Namespace) -> CfgNode:
    """Config from ``--config-file`` and trailing ``KEY VALUE`` overrides, datasets registered, detectron2 set up."""
    import graphkd.data  # noqa: F401  (registers the builtin datasets)
    import graphkd.modeling  # noqa: F401  (registers GraphKDRCNN and the backbones)
    from graphkd.data import register_from_spec

    if not os.path.isfile(args.config_file):
        raise FileNotFoundError(f"config file not found: {args.config_file}")
    cfg = get_graphkd_cfg()
    try:
        cfg.merge_from_file(args.config_file)
        cfg.merge_from_list(args.opts)
    except (AssertionError, KeyError, ValueError) as exc:  # yacs reports unknown keys with a bare assert
        raise ValueError(f"{args.config_file} (+ command-line overrides): {exc}") from None
    for spec in cfg.DATASETS.REGISTER:
        register_from_spec(spec)
    teacher_cfg = cfg.TEACHER.CONFIG_FILE
    if teacher_cfg and not os.path.isabs(teacher_cfg) and not os.path.exists(teacher_cfg):
        # configs name their teacher relative to the repository root; accept that from any working directory
        in_repo = os.path.join(REPO_ROOT, teacher_cfg)
        if os.path.exists(in_repo):
            cfg.TEACHER.CONFIG_FILE = in_repo
    if not torch.cuda.is_available() and cfg.MODEL.DEVICE.startswith("cuda"):
        logger.warning("CUDA is not available: running on the CPU")
        cfg.MODEL.DEVICE = "cpu"
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def run(args: argparse.Namespace, require_graphkd: bool | None = None):
    """``main`` of both training scripts: train, or evaluate with ``--eval-only``."""
    cfg = setup_cfg(args)
    is_graphkd = cfg.MODEL.META_ARCHITECTURE == "GraphKDRCNN"
    if require_graphkd is True and not is_graphkd:
        raise ValueError(
            f"{args.config_file} trains a plain {cfg.MODEL.META_ARCHITECTURE}: use scripts/train_net.py, or set "
            "MODEL.META_ARCHITECTURE GraphKDRCNN with TEACHER.CONFIG_FILE/WEIGHTS for distillation"
        )
    if args.eval_only:
        if is_graphkd:  # inference is the student's alone: no teacher needed
            cfg = cfg.clone()
            cfg.defrost()
            cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
            cfg.freeze()
        model = GraphKDTrainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        return GraphKDTrainer.test(cfg, model)
    trainer = GraphKDTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()
