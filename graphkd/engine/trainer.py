"""The detectron2 trainer shared by ``scripts/train_net.py`` (plain detectors) and ``scripts/distill.py``."""

from __future__ import annotations

import argparse
import logging
import os
import weakref

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode
from detectron2.engine import AMPTrainer, DefaultTrainer, SimpleTrainer, create_ddp_model, default_setup
from detectron2.engine.train_loop import TrainerBase
from detectron2.evaluation import COCOEvaluator
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from graphkd.config import PLAIN_STUDENT_ARCHITECTURE, as_plain_student
from graphkd.detectron2_info import detectron2_has_ops
from graphkd.modeling.pretrained import init_reports, require_weights_file

from . import data as engine_data
from .checkpoint import AtomicCheckpointer, atomic_torch_save
from .errors import check_finite_losses
from .setup import load_config

logger = logging.getLogger(__name__)

STUDENT_CHECKPOINT = "model_student.pth"


class _FiniteLossCheck:
    """Names the NaN/Inf loss and the iteration (detectron2 only says the total is not finite)."""

    def _write_metrics(self, loss_dict, data_time: float, prefix: str = "", **kwargs) -> None:
        # later detectron2 versions pass iter=... (asynchronous metric writing)
        check_finite_losses(loss_dict, kwargs.get("iter", self.iter))
        super()._write_metrics(loss_dict, data_time, prefix, **kwargs)


class _SimpleTrainer(_FiniteLossCheck, SimpleTrainer):
    pass


class _AMPTrainer(_FiniteLossCheck, AMPTrainer):
    pass


class GraphKDTrainer(DefaultTrainer):
    """``DefaultTrainer`` with COCO box evaluation (pycocotools when detectron2 has no C++ ops) and, for GraphKD
    runs, a student-only checkpoint written at the end of training.

    Also: checkpoints are replaced atomically (a kill never leaves a corrupt one for ``--resume``), a
    non-finite loss is named with its iteration, unreadable images are named or skipped
    (``DATALOADER.SKIP_BAD_IMAGES``), and several CPU processes (gloo) train with DDP.
    """

    def __init__(self, cfg: CfgNode):
        # DefaultTrainer.__init__, except: DDP without device_ids on the CPU (detectron2 passes the local rank,
        # which DDP rejects for CPU modules), _FiniteLossCheck, and AtomicCheckpointer for DetectionCheckpointer.
        TrainerBase.__init__(self)
        if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):
            setup_logger()
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        ddp_kwargs = {"device_ids": None} if torch.device(cfg.MODEL.DEVICE).type == "cpu" else {}
        model = create_ddp_model(model, broadcast_buffers=False, **ddp_kwargs)
        self._trainer = (_AMPTrainer if cfg.SOLVER.AMP.ENABLED else _SimpleTrainer)(
            model, data_loader, optimizer
        )
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = AtomicCheckpointer(model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    def state_dict(self) -> dict:
        # detectron2 0.6 checkpoints the iteration and the LR scheduler (a hook) but not the optimizer, so
        # --resume would restart SGD momentum from zero; later versions save it under "_trainer" themselves but
        # fail on checkpoints without it. TrainerBase's methods + ours behave the same with both.
        state = TrainerBase.state_dict(self)
        state["_trainer"] = self._trainer.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        TrainerBase.load_state_dict(self, state_dict)
        if "_trainer" in state_dict:  # absent from checkpoints of detectron2 0.6's DefaultTrainer
            self._trainer.load_state_dict(state_dict["_trainer"])

    @classmethod
    def build_train_loader(cls, cfg: CfgNode):
        return engine_data.build_train_loader(cfg)

    @classmethod
    def build_test_loader(cls, cfg: CfgNode, dataset_name: str):
        return engine_data.build_test_loader(cfg, dataset_name)

    @classmethod
    def build_evaluator(cls, cfg: CfgNode, dataset_name: str, output_folder: str | None = None):
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return COCOEvaluator(
            dataset_name,
            tasks=("bbox",),
            distributed=True,
            output_dir=output_folder,
            use_fast_impl=detectron2_has_ops(),
        )

    def resume_or_load(self, resume: bool = True) -> None:
        """detectron2's, then the initialisation report of the student (and the teacher) in the log."""
        if not (resume and self.checkpointer.has_checkpoint()):
            require_weights_file(self.cfg.MODEL.WEIGHTS)
        super().resume_or_load(resume=resume)
        self.init_reports = init_reports(self.model, self.cfg, getattr(self.checkpointer, "last_load", None))
        for report in self.init_reports:
            logger.info("Initialisation of the %s", report.describe())

    def train(self):
        results = super().train()
        if comm.is_main_process():
            save_student_checkpoint(self.model, os.path.join(self.cfg.OUTPUT_DIR, STUDENT_CHECKPOINT))
        return results


def save_student_checkpoint(model: torch.nn.Module, path: str) -> str:
    """Write the student's weights alone (loadable by plain detectron2), atomically."""
    model = getattr(model, "module", model)  # unwrap DDP
    state = model.student_state_dict() if hasattr(model, "student_state_dict") else model.state_dict()
    atomic_torch_save({"model": state}, path)
    logger.info("Saved the student checkpoint to %s", path)
    return path


def setup_cfg(args: argparse.Namespace) -> CfgNode:
    """Config from ``--config-file`` and trailing ``KEY VALUE`` overrides, datasets registered, detectron2 set up."""
    cfg = load_config(args.config_file, args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    # GraphKD's own messages (initialisation reports, teacher loading) in the console and OUTPUT_DIR/log.txt,
    # as detectron2 projects do for theirs
    setup_logger(
        output=cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="graphkd", abbrev_name="graphkd"
    )
    logging.getLogger("graphkd").propagate = True  # setup_logger stops it; keep it for the application's own
    return cfg


def run(args: argparse.Namespace, require_graphkd: bool | None = None):
    """``main`` of both training scripts: train, or evaluate with ``--eval-only``."""
    cfg = setup_cfg(args)
    is_graphkd = cfg.MODEL.META_ARCHITECTURE in PLAIN_STUDENT_ARCHITECTURE
    if require_graphkd is True and not is_graphkd:
        raise ValueError(
            f"{args.config_file} trains a plain {cfg.MODEL.META_ARCHITECTURE}: use scripts/train_net.py, or set "
            "MODEL.META_ARCHITECTURE GraphKDRCNN (or GraphKDRetinaNet) with TEACHER.CONFIG_FILE/WEIGHTS to distil"
        )
    if args.eval_only:
        cfg = as_plain_student(cfg)  # inference is the student's alone: no teacher needed
        model = GraphKDTrainer.build_model(cfg)
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        return GraphKDTrainer.test(cfg, model)
    trainer = GraphKDTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()
