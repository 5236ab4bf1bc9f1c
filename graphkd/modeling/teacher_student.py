"""What every GraphKD student meta-architecture shares (``GraphKDRCNN``, ``GraphKDRetinaNet``): the frozen teacher
held outside the module tree, Dsig's extra losses, and the one reader of the ``GRAPHKD.*`` config keys.

:func:`distillation_from_config` reads ``GRAPHKD.*`` (and ``TEACHER.INPUT_MIN_SIZE``) once and returns built
objects and plain values; the meta-architectures, the distiller and the losses take plain arguments and name
no config key.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging

import torch
import torch.nn.functional as F
from detectron2.data import MetadataCatalog
from detectron2.structures import Boxes, Instances
from torch import Tensor, nn

from graphkd.distill import build_edge_loss, fpn_feature_mse
from graphkd.distill.distiller import GraphKDDistiller
from graphkd.distill.losses import EDGE_LOSSES
from graphkd.graph import TextNodeMerge
from graphkd.graph.groups import counts_to_index

from .teacher import TeacherLoadError, build_teacher, load_teacher_config

logger = logging.getLogger(__name__)

__all__ = [
    "DistillSettings",
    "TeacherStudentMixin",
    "build_teacher_from_cfg",
    "check_teacher_label_map",
    "distillation_from_config",
    "pooled_channels",
    "roi_image_index",
    "text_class_ids_from_cfg",
]


def text_class_ids_from_cfg(cfg) -> list[int]:
    """Contiguous ids of the text-like classes: ``GRAPHKD.NODE_TYPE.TEXT_CLASSES`` or the train set's metadata.

    Datasets registered from a spec (``DATASETS.REGISTER``) learn their class names from their JSON here.
    """
    from graphkd.data import text_class_ids

    names = list(cfg.GRAPHKD.NODE_TYPE.TEXT_CLASSES)
    dataset = cfg.DATASETS.TRAIN[0] if cfg.DATASETS.TRAIN else None
    metadata = MetadataCatalog.get(dataset) if dataset else None
    if metadata is None or (metadata.get("thing_classes") is None and metadata.get("json_file") is None):
        if names:
            raise ValueError(
                f"text classes {names} are given by name, but training dataset {dataset!r} has no thing_classes "
                "metadata to map them to class ids"
            )
        return []
    dataset_text_ids = text_class_ids(dataset)  # reads the class names from the JSON when not yet known
    if not names:
        return dataset_text_ids
    thing_classes = list(metadata.thing_classes)
    unknown = [name for name in names if name not in thing_classes]
    if unknown:
        raise ValueError(f"text classes {unknown} are not classes of {dataset}: {thing_classes}")
    return sorted(thing_classes.index(name) for name in names)


def build_teacher_from_cfg(cfg, num_classes: int) -> nn.Module:
    """The frozen teacher named by ``TEACHER.CONFIG_FILE``/``WEIGHTS``/``OPTS``, predicting ``num_classes``."""
    if not cfg.TEACHER.CONFIG_FILE:
        raise ValueError("GraphKD needs a teacher: set TEACHER.CONFIG_FILE (and TEACHER.WEIGHTS)")
    teacher_cfg = load_teacher_config(
        cfg.TEACHER.CONFIG_FILE, list(cfg.TEACHER.OPTS), device=cfg.MODEL.DEVICE
    )
    check_teacher_label_map(cfg, teacher_cfg)
    return build_teacher(teacher_cfg, cfg.TEACHER.WEIGHTS, expected_num_classes=num_classes)


def _registered_classes(dataset_names) -> tuple[str, list[str]] | None:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    for name in dataset_names:
        if name in DatasetCatalog.list():
            classes = MetadataCatalog.get(name).get("thing_classes")
            if classes:
                return name, list(classes)
    return None


def check_teacher_label_map(cfg, teacher_cfg) -> None:
    """Raise when the teacher's classes, in order, are not the student's training classes.

    The teacher's label map is ``TEACHER.THING_CLASSES`` when set (a model-zoo or layoutparser teacher whose
    config names no dataset registered here), else the classes of its config's ``DATASETS.TRAIN`` when that
    dataset is registered; the student's are those of ``DATASETS.TRAIN``. Names compare case-insensitively.
    """
    from graphkd.data.coco import same_class_name

    student = _registered_classes(cfg.DATASETS.TRAIN)
    if list(cfg.TEACHER.THING_CLASSES):
        teacher = ("TEACHER.THING_CLASSES", list(cfg.TEACHER.THING_CLASSES))
    else:
        teacher = _registered_classes(teacher_cfg.DATASETS.TRAIN)
    if student is None or teacher is None:
        return
    if len(student[1]) != len(teacher[1]) and teacher[0] != "TEACHER.THING_CLASSES":
        return  # a class-count mismatch: build_teacher names it with the config keys
    same = len(student[1]) == len(teacher[1]) and all(map(same_class_name, student[1], teacher[1]))
    if not same:
        raise TeacherLoadError(
            f"the teacher's classes ({teacher[0]}: {_names(teacher[1])}) are not the student's ({student[0]}: "
            f"{_names(student[1])}) in the same order: class i of the teacher must be class i of the student"
        )


def _names(classes: list[str], first: int = 10) -> str:
    return str(classes[:first])[:-1] + (f", ... {len(classes)} in all]" if len(classes) > first else "]")


@dataclasses.dataclass(frozen=True)
class DistillSettings:
    """The plain ``GRAPHKD.*``/``TEACHER.*`` values the GraphKD meta-architectures take (``TeacherStudentMixin``
    copies them onto the model)."""

    bg_mining: bool = True  # GRAPHKD.BG_MINING.ENABLED: mined negatives (RoIs / detections) become nodes
    bg_mining_thresh: float = 0.6  # GRAPHKD.BG_MINING.THRESH: teacher CE against background, at least
    bg_max_per_image: int = 64  # GRAPHKD.BG_MINING.MAX_PER_IMAGE: background nodes per image (-1: no cap)
    teacher_min_size: int = 0  # TEACHER.INPUT_MIN_SIZE: 0 = the teacher sees the student's input
    fpn_weight: float = 0.0  # Dsig's extras (GRAPHKD.EXTRAS.*), off at 0
    logit_weight: float = 0.0
    logit_temperature: float = 1.0
    box_weight: float = 0.0
    image_reduction: str = "mean"  # GRAPHKD.IMAGE_REDUCTION: "mean" over the images, or "sum" (Dsig)
    # RetinaNet students (GRAPHKD.RETINANET_*): detection nodes per image, their score floor, fg IoU
    retinanet_nodes_per_image: int = 100
    retinanet_node_score_thresh: float = 0.0
    retinanet_node_fg_iou: float = 0.5


def _edge_loss_from_config(g) -> nn.Module:
    """The ``GRAPHKD.EDGE_LOSS.TYPE`` loss of the registry, given the ``GRAPHKD.EDGE_LOSS.*`` options its
    constructor takes (``eps``, ``shrinkage``, ``momentum``: each by its own name)."""
    name = g.EDGE_LOSS.TYPE
    options = {"reduction": g.IMAGE_REDUCTION}
    if name in EDGE_LOSSES:
        for param in inspect.signature(EDGE_LOSSES[name]).parameters:
            if param.upper() in g.EDGE_LOSS and param != "type":
                options[param] = g.EDGE_LOSS[param.upper()]
    return build_edge_loss(name, **options)


def distillation_from_config(cfg, student_channels: int, teacher_channels: int) -> dict:
    """The one reader of ``GRAPHKD.*``: the built distiller and the :class:`DistillSettings` every GraphKD
    meta-architecture takes (its other constructor arguments come from detectron2's own keys)."""
    g = cfg.GRAPHKD
    merge = (
        TextNodeMerge(g.MERGE.THRESH, g.MERGE.MAX_ROUNDS, g.MERGE.MIN_TEXT_RATIO) if g.MERGE.ENABLED else None
    )
    distiller = GraphKDDistiller(
        student_channels=student_channels,
        teacher_channels=teacher_channels,
        fg_loss_weight=g.NODE_LOSS.FG_WEIGHT,
        bg_loss_weight=g.NODE_LOSS.BG_WEIGHT,
        bg_weight_alpha=g.BG_WEIGHT_ALPHA,
        edge_loss_weight=g.EDGE_LOSS_WEIGHT,
        edge_loss=_edge_loss_from_config(g),
        node_type_mode=g.NODE_TYPE.MODE,
        text_classes=text_class_ids_from_cfg(cfg),
        adjacency_gap=g.ADJACENCY.GAP,
        min_axis_overlap=g.ADJACENCY.MIN_AXIS_OVERLAP,
        merge=merge,
        sampling_mode=g.SAMPLING.MODE,
        sampling_beta=g.SAMPLING.BETA,
        image_reduction=g.IMAGE_REDUCTION,
    )
    settings = DistillSettings(
        bg_mining=g.BG_MINING.ENABLED,
        bg_mining_thresh=g.BG_MINING.THRESH,
        bg_max_per_image=g.BG_MINING.MAX_PER_IMAGE,
        teacher_min_size=cfg.TEACHER.INPUT_MIN_SIZE,
        fpn_weight=g.EXTRAS.FPN_WEIGHT,
        logit_weight=g.EXTRAS.LOGIT_WEIGHT,
        logit_temperature=g.EXTRAS.LOGIT_TEMPERATURE,
        box_weight=g.EXTRAS.BOX_WEIGHT,
        image_reduction=g.IMAGE_REDUCTION,
        retinanet_nodes_per_image=g.RETINANET_NODES_PER_IMAGE,
        retinanet_node_score_thresh=g.RETINANET_NODE_SCORE_THRESH,
        retinanet_node_fg_iou=g.RETINANET_NODE_FG_IOU,
    )
    return {"distiller": distiller, "settings": settings}


class TeacherStudentMixin:
    """What every GraphKD student meta-architecture shares: a frozen teacher held outside the module tree
    (not in ``state_dict``, ``parameters`` or ``train()``, so checkpoints hold the student alone and the
    teacher's BatchNorm statistics never change), a ``GraphKDDistiller``, and Dsig's extra-loss weights."""

    def init_distillation(
        self, teacher: nn.Module, distiller: GraphKDDistiller, settings: DistillSettings | None
    ) -> None:
        """Hold ``teacher`` outside the module tree, register ``distiller`` and copy ``settings`` (default:
        ``DistillSettings()``) onto ``self``."""
        self.__dict__["teacher"] = teacher
        self.distiller = distiller
        settings = settings if settings is not None else DistillSettings()
        for field in dataclasses.fields(settings):
            setattr(self, field.name, getattr(settings, field.name))

    def _apply(self, fn, *args, **kwargs):
        # .to(device)/.cuda() move the teacher too, although it is not a submodule.
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def student_state_dict(self) -> dict[str, Tensor]:
        """The student's weights alone (no distillation adapter), loadable by plain detectron2."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("distiller.")}

    def fpn_loss(self, features: dict[str, Tensor], teacher_features: dict[str, Tensor]) -> dict[str, Tensor]:
        """Dsig's FPN feature MSE over the levels both networks have (empty when its weight is 0)."""
        if self.fpn_weight <= 0:
            return {}
        levels = [k for k in features if k in teacher_features]
        student = {k: self.distiller.adapt(features[k]) for k in levels}
        teacher = {k: teacher_features[k] for k in levels}
        if self.teacher_min_size <= 0:
            # The same image at the same scale, padded at the bottom and right to each backbone's size
            # divisibility (e.g. 64 for a ViT pyramid, 32 for an R-18-FPN): the common top-left region holds
            # the whole image in both maps. A resized teacher (INPUT_MIN_SIZE) keeps the strict shape check.
            for k in levels:
                height = min(student[k].shape[-2], teacher[k].shape[-2])
                width = min(student[k].shape[-1], teacher[k].shape[-1])
                student[k], teacher[k] = student[k][..., :height, :width], teacher[k][..., :height, :width]
        return {"loss_graphkd_fpn": self.fpn_weight * fpn_feature_mse(student, teacher, self.image_reduction)}

    def teacher_images(self, batched_inputs: list[dict]):
        """The batch preprocessed for the teacher (its pixel mean/std; channels flipped if its format differs;
        resized to ``teacher_min_size`` when set), and per image the (x, y, x, y) scale from the student's
        frame to the teacher's, shape (B, 4)."""
        teacher = self.teacher
        flip = teacher.input_format != self.input_format  # RGB <-> BGR
        scales, inputs = [], []
        for x in batched_inputs:
            image = x["image"].flip(0) if flip else x["image"]
            height, width = image.shape[-2:]
            if self.teacher_min_size > 0:
                factor = self.teacher_min_size / min(height, width)
                size = (max(1, round(height * factor)), max(1, round(width * factor)))
                image = F.interpolate(image[None].float(), size=size, mode="bilinear", align_corners=False)[0]
            scales.append([image.shape[-1] / width, image.shape[-2] / height] * 2)
            inputs.append({**x, "image": image})
        return teacher.preprocess_image(inputs), torch.tensor(scales, device=self.device)

    def teacher_boxes(self, boxes: list[Boxes], scales: Tensor) -> list[Boxes]:
        """Node boxes moved from the student's image frame to the teacher's."""
        if self.teacher_min_size <= 0:
            return boxes
        return [Boxes(b.tensor * scale) for b, scale in zip(boxes, scales)]


def roi_image_index(proposals: list[Instances], device) -> Tensor:
    """(R,) the image of each RoI of the concatenated ``proposals``."""
    return counts_to_index([len(p) for p in proposals], device=device)


def pooled_channels(backbone: nn.Module, in_features: list[str]) -> int:
    shapes = backbone.output_shape()
    channels = {shapes[f].channels for f in in_features}
    if len(channels) != 1:
        raise ValueError(f"RoI pooler input features {in_features} have different channel counts {channels}")
    return channels.pop()
