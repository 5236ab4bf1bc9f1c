"""detectron2 components of GraphKD; importing this module registers them."""

from . import backbones as _backbones  # noqa: F401  (registration)
from . import vit as _vit  # noqa: F401  (registration)
from .meta_arch import GraphKDRCNN
from .retinanet import GraphKDRetinaNet
from .teacher_student import text_class_ids_from_cfg

__all__ = ["GraphKDRCNN", "GraphKDRetinaNet", "text_class_ids_from_cfg"]
