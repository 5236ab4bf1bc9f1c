"""``GraphKDRCNN``: a student Faster R-CNN trained with GraphKD against a frozen detectron2 teacher.

Shapes: ``B`` images, ``R`` sampled RoIs of the batch, ``N`` graph nodes, ``C``/``C_t`` student/teacher
channels. Inference is plain student inference (``GeneralizedRCNN.inference``).
"""

from __future__ import annotations

import dataclasses
import logging

import torch
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.data import MetadataCatalog
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN, StandardROIHeads
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import get_event_storage
from torch import Tensor, nn

from graphkd.distill import fpn_feature_mse, roi_box_kd, roi_logit_kd
from graphkd.distill.distiller import GraphKDDistiller, Negatives

from .teacher import TeacherLoadError, build_teacher, load_teacher_config

logger = logging.getLogger(__name__)

__all__ = [
    "DistillSettings",
    "GraphKDRCNN",
    "TeacherStudentMixin",
    "build_teacher_from_cfg",
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
    """The ``GRAPHKD.*``/``TEACHER.*`` scalars every GraphKD meta-architecture takes (``TeacherStudentMixin``)."""

    bg_max_per_image: int = 64  # GRAPHKD.BG_MINING.MAX_PER_IMAGE: background nodes per image (-1: no cap)
    teacher_min_size: int = 0  # TEACHER.INPUT_MIN_SIZE: 0 = the teacher sees the student's input
    fpn_weight: float = 0.0  # Dsig's extras (GRAPHKD.EXTRAS.*), off at 0
    logit_weight: float = 0.0
    logit_temperature: float = 1.0
    box_weight: float = 0.0
    image_reduction: str = "mean"  # GRAPHKD.IMAGE_REDUCTION: "mean" over the images, or "sum" (Dsig)


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

    @staticmethod
    def distillation_from_config(cfg, student_channels: int, teacher_channels: int) -> dict:
        """Constructor arguments read from ``GRAPHKD.*`` that every GraphKD meta-architecture takes."""
        return {
            "distiller": GraphKDDistiller.from_config(
                cfg, student_channels, teacher_channels, text_class_ids_from_cfg(cfg)
            ),
            "settings": DistillSettings(
                bg_max_per_image=cfg.GRAPHKD.BG_MINING.MAX_PER_IMAGE,
                teacher_min_size=cfg.TEACHER.INPUT_MIN_SIZE,
                fpn_weight=cfg.GRAPHKD.EXTRAS.FPN_WEIGHT,
                logit_weight=cfg.GRAPHKD.EXTRAS.LOGIT_WEIGHT,
                logit_temperature=cfg.GRAPHKD.EXTRAS.LOGIT_TEMPERATURE,
                box_weight=cfg.GRAPHKD.EXTRAS.BOX_WEIGHT,
                image_reduction=cfg.GRAPHKD.IMAGE_REDUCTION,
            ),
        }

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


@META_ARCH_REGISTRY.register()
class GraphKDRCNN(TeacherStudentMixin, GeneralizedRCNN):
    """A ``GeneralizedRCNN`` student whose training loss adds GraphKD's node and edge distillation terms.

    The teacher is held outside the module tree (``TeacherStudentMixin``).
    """

    @configurable
    def __init__(
        self,
        *,
        teacher: nn.Module,
        distiller: GraphKDDistiller,
        bg_mining: bool = True,
        bg_mining_thresh: float = 0.6,
        settings: DistillSettings | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if (
            not isinstance(self.roi_heads, StandardROIHeads)
            or type(self.roi_heads).__name__ == "CascadeROIHeads"
        ):
            raise TypeError(f"GraphKDRCNN needs StandardROIHeads, got {type(self.roi_heads).__name__}")
        if self.roi_heads.mask_on or self.roi_heads.keypoint_on:
            raise ValueError(
                "GraphKDRCNN distils box detectors: set MODEL.MASK_ON and MODEL.KEYPOINT_ON False"
            )
        self.init_distillation(teacher, distiller, settings)
        self.bg_mining = bg_mining
        self.bg_mining_thresh = bg_mining_thresh

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        teacher = build_teacher_from_cfg(cfg, cfg.MODEL.ROI_HEADS.NUM_CLASSES)
        student_channels = _pooled_channels(ret["backbone"], ret["roi_heads"].box_in_features)
        teacher_channels = _pooled_channels(teacher.backbone, teacher.roi_heads.box_in_features)
        ret.update(
            teacher=teacher,
            bg_mining=cfg.GRAPHKD.BG_MINING.ENABLED,
            bg_mining_thresh=cfg.GRAPHKD.BG_MINING.THRESH,
            **cls.distillation_from_config(cfg, student_channels, teacher_channels),
        )
        return ret

    def forward(self, batched_inputs: list[dict]):
        if not self.training:
            return self.inference(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        features = self.backbone(images.tensor)
        proposals, proposal_losses = self.proposal_generator(images, features, gt_instances)

        roi_heads = self.roi_heads
        proposals = roi_heads.label_and_sample_proposals(proposals, gt_instances)
        boxes = [p.proposal_boxes for p in proposals]
        student_pooled = roi_heads.box_pooler(
            [features[f] for f in roi_heads.box_in_features], boxes
        )  # (R, C, 7, 7)
        predictions = roi_heads.box_predictor(roi_heads.box_head(student_pooled))
        losses = dict(roi_heads.box_predictor.losses(predictions, proposals))
        losses.update(proposal_losses)

        teacher_out = self.teacher_forward(batched_inputs, boxes)
        losses.update(self.graph_losses(student_pooled, teacher_out, proposals))
        losses.update(self.extra_losses(features, predictions, teacher_out, proposals))
        return losses

    @torch.no_grad()
    def teacher_forward(self, batched_inputs: list[dict], boxes: list[Boxes]) -> dict:
        """Teacher FPN features, and its pooled features and predictions on the student's RoIs."""
        teacher = self.teacher
        images, scales = self.teacher_images(batched_inputs)
        features = teacher.backbone(images.tensor)
        boxes = self.teacher_boxes(boxes, scales)
        heads = teacher.roi_heads
        pooled = heads.box_pooler([features[f] for f in heads.box_in_features], boxes)  # (R, C_t, 7, 7)
        scores, deltas = heads.box_predictor(heads.box_head(pooled))
        return {"features": features, "pooled": pooled, "scores": scores, "deltas": deltas}

    def select_nodes(self, proposals: list[Instances], teacher_scores: Tensor) -> tuple[Tensor, Tensor]:
        """Node mask over the R RoIs (positives + mined negatives) and the background flag, both (R,).

        A negative is mined when the teacher's cross-entropy on it against "background" is at least
        ``bg_mining_thresh``; per image the highest-CE ones are kept, at most ``bg_max_per_image`` (-1: all).
        """
        num_classes = self.roi_heads.num_classes
        gt_classes = torch.cat([p.gt_classes for p in proposals])  # (R,)
        foreground = (gt_classes >= 0) & (gt_classes < num_classes)
        background = torch.zeros_like(foreground)
        if self.bg_mining and self.bg_max_per_image != 0:
            # Teacher cross-entropy against "background": hard negatives look like objects to the teacher.
            ce = -F.log_softmax(teacher_scores.float(), dim=1)[:, num_classes]  # (R,)
            candidate = ~foreground & (ce >= self.bg_mining_thresh)
            if self.bg_max_per_image < 0:
                return foreground | candidate, candidate
            image_index = _image_index(proposals, ce.device)
            # rank candidates by CE within their image; keep the top MAX_PER_IMAGE
            score = torch.where(candidate, ce, torch.full_like(ce, -1.0))
            order = torch.sort(score, descending=True, stable=True).indices
            order = order[torch.sort(image_index[order], stable=True).indices]
            counts = torch.bincount(image_index, minlength=len(proposals))
            starts = torch.cumsum(counts, 0) - counts
            rank = torch.empty_like(order)
            rank[order] = torch.arange(order.numel(), device=order.device) - starts[image_index[order]]
            background = candidate & (rank < self.bg_max_per_image)
        return foreground | background, background

    def graph_losses(self, student_pooled: Tensor, teacher_out: dict, proposals: list[Instances]) -> dict:
        """GraphKD's node and edge terms on the nodes of ``select_nodes``, the node loss's background term over
        every negative RoI (METHOD.md §6)."""
        node_mask, background = self.select_nodes(proposals, teacher_out["scores"])
        image_index = _image_index(proposals, node_mask.device)
        num_nodes = torch.bincount(image_index[node_mask], minlength=len(proposals)).tolist()
        boxes = torch.cat([p.proposal_boxes.tensor for p in proposals])[node_mask]  # (N, 4)
        gt_classes = torch.cat([p.gt_classes for p in proposals])
        negative = gt_classes == self.roi_heads.num_classes  # (R,) every sampled negative
        negatives = Negatives(
            student_pooled[negative], teacher_out["pooled"][negative], image_index[negative]
        )
        losses, stats = self.distiller(
            student_pooled[node_mask],
            teacher_out["pooled"][node_mask],
            boxes,
            num_nodes,
            background[node_mask],
            gt_classes[node_mask],
            negatives=negatives,
        )
        try:
            get_event_storage().put_scalars(**stats)
        except AssertionError:  # no EventStorage (e.g. a bare forward in a notebook): nothing to log to
            pass
        return losses

    def extra_losses(
        self, features: dict, predictions, teacher_out: dict, proposals: list[Instances]
    ) -> dict:
        """Dsig's optional extras at Dsig's scale (METHOD.md §6): FPN feature MSE summed over the levels, RoI
        logit KD (elementwise mean over the sampled RoIs), RoI box KD (GT-class columns, / all RoIs)."""
        losses = self.fpn_loss(features, teacher_out["features"])
        scores, deltas = predictions
        rois_per_image = [len(p) for p in proposals]
        if self.logit_weight > 0:
            losses["loss_graphkd_logit"] = self.logit_weight * roi_logit_kd(
                scores, teacher_out["scores"], self.logit_temperature, rois_per_image, self.image_reduction
            )
        if self.box_weight > 0:
            losses["loss_graphkd_box"] = self.box_weight * roi_box_kd(
                deltas,
                teacher_out["deltas"],
                torch.cat([p.gt_classes for p in proposals]),
                self.roi_heads.num_classes,
                beta=self.roi_heads.box_predictor.smooth_l1_beta,
                rois_per_image=rois_per_image,
                reduction=self.image_reduction,
            )
        return losses


def _image_index(proposals: list[Instances], device) -> Tensor:
    """(R,) the image of each RoI of the concatenated ``proposals``."""
    return torch.repeat_interleave(
        torch.arange(len(proposals), device=device),
        torch.as_tensor([len(p) for p in proposals], device=device),
    )


def _pooled_channels(backbone: nn.Module, in_features: list[str]) -> int:
    shapes = backbone.output_shape()
    channels = {shapes[f].channels for f in in_features}
    if len(channels) != 1:
        raise ValueError(f"RoI pooler input features {in_features} have different channel counts {channels}")
    return channels.pop()
