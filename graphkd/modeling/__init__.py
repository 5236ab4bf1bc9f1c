"""detectron2 components of GraphKD; importing this module registers them."""

from . import backbones as _backbones  # noqa: F401  (registration)
from .meta_arch import GraphKDRCNN, text_class_ids_from_cfg

__all__ = ["GraphKDRCNN", "text_class_ids_from_cfg"]
