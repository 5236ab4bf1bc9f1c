"""timm CNN feature extractors as detectron2 backbones, with detectron2's FPN on top.

The ResNet students and teachers are detectron2's own ``build_resnet_fpn_backbone`` (see
``configs/Base-R*-FPN.yaml``); this module adds the timm families the paper uses as students
(MobileNetV2, EfficientNet-B0) without copying their code: ``MODEL.BACKBONE.NAME:
build_timm_fpn_backbone`` and ``MODEL.TIMM.NAME: mobilenetv2_100``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Sequence

import torch
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool, LastLevelP6P7
from torch import nn

__all__ = [
    "TimmBackbone",
    "build_timm_backbone",
    "build_timm_fpn_backbone",
    "build_timm_retinanet_fpn_backbone",
    "find_cached_timm_weights",
]

logger = logging.getLogger(__name__)

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def find_cached_timm_weights(model_name: str) -> str | None:
    """Path of ``model_name``'s pretrained timm weights in the local HF-hub or torch-hub cache, else None.

    Only looks: never downloads. Mirrors where ``timm.create_model(name, pretrained=True)`` stores them.
    """
    from timm.models import get_pretrained_cfg

    pretrained_cfg = get_pretrained_cfg(model_name)
    if pretrained_cfg is None:
        return None
    if pretrained_cfg.file and os.path.isfile(pretrained_cfg.file):
        return pretrained_cfg.file
    if pretrained_cfg.hf_hub_id:
        try:
            from huggingface_hub import constants, try_to_load_from_cache
        except ImportError:
            constants = None
        if constants is not None:
            repo_id, _, revision = pretrained_cfg.hf_hub_id.partition("@")
            filenames = [pretrained_cfg.hf_hub_filename, "model.safetensors", "pytorch_model.bin"]
            for filename in filter(None, filenames):
                path = try_to_load_from_cache(
                    repo_id, filename, cache_dir=constants.HF_HUB_CACHE, revision=revision or None
                )
                if isinstance(path, str) and os.path.isfile(path):
                    return path
    if pretrained_cfg.url:
        path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(pretrained_cfg.url))
        if os.path.isfile(path):
            return path
    return None


def cached_pretrained_kwargs(model_name: str, pretrained: bool, config_key: str) -> dict:
    """``timm.create_model`` kwargs that load ``model_name``'s weights from the local cache, never the network.

    Empty when ``pretrained`` is false; a clear error naming ``config_key`` when the weights are not cached.
    """
    if not pretrained:
        return {}
    weights_file = find_cached_timm_weights(model_name)
    if weights_file is None:
        raise RuntimeError(
            f"{config_key} is true but the pretrained weights of timm model '{model_name}' are "
            "not in the local cache (HF hub or torch hub), and GraphKD never downloads at run time. "
            f'Fetch them once on a machine with network access (python -c "import timm; '
            f"timm.create_model('{model_name}', pretrained=True)\") or set {config_key} False."
        )
    logger.info("Loading timm weights for %s from %s", model_name, weights_file)
    return {"pretrained_cfg_overlay": {"file": weights_file}}


# FeatureListNet flattens a nested Sequential's children: "blocks.0.1.conv" is "blocks_0.1.conv" in the body
_FLATTENED = re.compile(r"^([A-Za-z]\w*?)_(\d+)\.")


def load_timm_file(body: nn.Module, path: str, model_name: str) -> tuple[str, int, list[str]]:
    """Load a full timm model's weights file into its ``features_only`` ``body``, strictly.

    Returns ``(path, keys loaded, file keys not used)``; a missing file, a missing weight or a shape that
    differs is an error naming ``MODEL.TIMM.PRETRAINED_FILE``, the file and the keys.
    """
    from timm.models import load_state_dict

    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"MODEL.TIMM.PRETRAINED_FILE {path} not found: save timm's ImageNet weights of '{model_name}' there "
            f"once (python -c \"import timm, torch; torch.save(timm.create_model('{model_name}', "
            f'pretrained=True).state_dict(), \'{path}\')") or set it to "" to train from scratch'
        )
    try:
        state = load_state_dict(path)
    except Exception as exc:
        raise ValueError(
            f"MODEL.TIMM.PRETRAINED_FILE {path}: cannot read it ({type(exc).__name__}: {exc})"
        ) from exc
    mapped, used, missing, shapes = {}, set(), [], []
    for key, value in body.state_dict().items():
        source = key if key in state else _FLATTENED.sub(r"\1.\2.", key)
        if source not in state:
            if not key.endswith("num_batches_tracked"):
                missing.append(key)
            continue
        if tuple(state[source].shape) != tuple(value.shape):
            shapes.append(f"{source}: file {tuple(state[source].shape)} vs model {tuple(value.shape)}")
            continue
        mapped[key] = state[source]
        used.add(source)
    if missing or shapes:
        details = "; ".join(shapes[:4] + [f"missing {k}" for k in missing[:4]])
        raise ValueError(
            f"MODEL.TIMM.PRETRAINED_FILE {path} does not hold the weights of timm model '{model_name}' "
            f"({len(missing)} missing, {len(shapes)} of another shape: {details}); is MODEL.TIMM.NAME right?"
        )
    body.load_state_dict(mapped, strict=False)  # num_batches_tracked may be absent; everything else is there
    unused = sorted(k for k in state if k not in used and not k.endswith("num_batches_tracked"))
    logger.info(
        "Loaded %d timm weights of %s from %s (%d unused: classifier/head)",
        len(mapped),
        model_name,
        path,
        len(unused),
    )
    return path, len(mapped), unused


class TimmBackbone(Backbone):
    """A timm ``features_only`` CNN whose outputs are named ``res{log2(stride)}`` (res2..res5).

    ``pretrained_file`` (``MODEL.TIMM.PRETRAINED_FILE``) is a local file of the full timm model's ImageNet weights
    (``torch.save(model.state_dict())``, timm's ``pytorch_model.bin`` or ``model.safetensors``), loaded strictly:
    every weight of the feature extractor must be in it (the classifier and the layers after the last exported
    level are not used). ``norm`` "BN" keeps timm's trainable BatchNorm (training from scratch); "FrozenBN"
    turns every BatchNorm into a frozen one after loading (ImageNet statistics, small per-GPU batches), as
    detectron2's ResNets do with ``MODEL.RESNETS.NORM FrozenBN``. ``freeze_at`` follows detectron2's
    ``FREEZE_AT``: 0 trains everything, 1 freezes the stem (all layers before the first output), k >= 2 also
    freezes the first k-1 output stages. Frozen norm layers are kept in eval mode.
    """

    def __init__(
        self,
        model_name: str,
        out_indices: Sequence[int] = (1, 2, 3, 4),
        pretrained: bool = False,
        freeze_at: int = 0,
        in_chans: int = 3,
        pretrained_file: str = "",
        norm: str = "BN",
    ):
        super().__init__()
        import timm

        if norm not in ("BN", "FrozenBN"):
            raise ValueError(f'MODEL.TIMM.NORM must be "BN" or "FrozenBN", got {norm!r}')
        if pretrained and pretrained_file:
            raise ValueError("set MODEL.TIMM.PRETRAINED or MODEL.TIMM.PRETRAINED_FILE, not both")
        create_kwargs = cached_pretrained_kwargs(model_name, pretrained, "MODEL.TIMM.PRETRAINED")
        try:
            self.body = timm.create_model(
                model_name,
                features_only=True,
                out_indices=tuple(out_indices),
                pretrained=pretrained,
                in_chans=in_chans,
                **create_kwargs,
            )
        except IndexError as exc:  # timm's message for an out-of-range feature index is a bare IndexError
            raise ValueError(
                f"MODEL.TIMM.OUT_INDICES {list(out_indices)} are not feature levels of timm model "
                f"'{model_name}' (see timm.create_model('{model_name}', features_only=True).feature_info)"
            ) from exc
        # (file, keys of the body loaded from it, file keys it does not use) for the initialisation report
        self.pretrained_load: tuple[str, int, list[str]] | None = None
        if pretrained_file:
            self.pretrained_load = load_timm_file(self.body, pretrained_file, model_name)
        if norm == "FrozenBN":
            from timm.layers import freeze_batch_norm_2d

            self.body = freeze_batch_norm_2d(self.body)
        strides = list(self.body.feature_info.reduction())
        channels = list(self.body.feature_info.channels())
        names = []
        for stride in strides:
            level = math.log2(stride)
            if not level.is_integer():
                raise ValueError(
                    f"timm model '{model_name}' has a feature stride {stride} that is not a power of 2"
                )
            names.append(f"res{int(level)}")
        if len(set(names)) != len(names):
            raise ValueError(
                f"timm model '{model_name}' with out_indices {list(out_indices)} gives repeated strides {strides}; "
                "choose MODEL.TIMM.OUT_INDICES with one index per stride"
            )
        self._out_features = names
        self._out_feature_strides = dict(zip(names, strides))
        self._out_feature_channels = dict(zip(names, channels))
        self._frozen_norms: tuple[str, ...] = ()
        self.freeze(freeze_at)

    @property
    def size_divisibility(self) -> int:
        return max(self._out_feature_strides.values())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.body(x)
        return dict(zip(self._out_features, features))

    def _feature_module_names(self) -> tuple[list[str], list[int]]:
        """Name, inside ``self.body``, of the module ending each timm feature level, and the exported levels."""
        info = self.body.feature_info
        names = []
        for level in range(len(info.info)):
            name = info.get("module", level)
            # FeatureListNet flattens nested names: "layer1.0" becomes "layer1_0"
            for candidate in (name, name.replace(".", "_")):
                try:
                    self.body.get_submodule(candidate)
                except AttributeError:
                    continue
                names.append(candidate)
                break
            else:
                names.append("")  # pruned: a level after the last exported one
        out_levels = [index % len(info.info) for index in info.out_indices]
        return names, out_levels

    def freeze(self, freeze_at: int = 0) -> TimmBackbone:
        """Stop gradients (and BN statistics) for the stem and the first ``freeze_at - 1`` output stages.

        timm registers a CNN's modules in forward order, so everything registered up to the module that
        ends a feature level is the part of the network that computes it.
        """
        if freeze_at <= 0:
            return self
        if freeze_at > len(self._out_features) + 1:
            raise ValueError(
                f"MODEL.TIMM.FREEZE_AT={freeze_at} but the backbone has only a stem and "
                f"{len(self._out_features)} stages"
            )
        level_names, out_levels = self._feature_module_names()
        # the stem ends where the level before the first exported one ends; stage k ends with its own level
        last_level = out_levels[0] - 1 if freeze_at == 1 else out_levels[freeze_at - 2]
        module_names = [name for name, _ in self.body.named_modules() if name]
        if last_level < 0:  # the first output is timm's first level: the stem is what precedes its module
            stop = module_names.index(level_names[0])
        else:
            last = level_names[last_level]
            if not last:
                raise ValueError(f"cannot find the module of timm feature level {last_level} to freeze it")
            stop = 1 + max(
                i for i, name in enumerate(module_names) if name == last or name.startswith(last + ".")
            )
        frozen = set(module_names[:stop])
        frozen_norms = []
        for name, module in self.body.named_modules():
            if name in frozen:
                for param in module.parameters(recurse=False):
                    param.requires_grad_(False)
                if isinstance(module, _NORM_TYPES):
                    frozen_norms.append(name)
        self._frozen_norms = tuple(frozen_norms)
        self.train(self.training)
        return self

    def train(self, mode: bool = True) -> TimmBackbone:
        super().train(mode)
        for name in self._frozen_norms:
            self.body.get_submodule(name).train(False)
        return self


@BACKBONE_REGISTRY.register()
def build_timm_backbone(cfg, input_shape: ShapeSpec) -> TimmBackbone:
    """A bare :class:`TimmBackbone` from ``MODEL.TIMM.*`` (no FPN)."""
    return TimmBackbone(
        model_name=cfg.MODEL.TIMM.NAME,
        out_indices=cfg.MODEL.TIMM.OUT_INDICES,
        pretrained=cfg.MODEL.TIMM.PRETRAINED,
        freeze_at=cfg.MODEL.TIMM.FREEZE_AT,
        in_chans=input_shape.channels,
        pretrained_file=cfg.MODEL.TIMM.PRETRAINED_FILE,
        norm=cfg.MODEL.TIMM.NORM,
    )


@BACKBONE_REGISTRY.register()
def build_timm_fpn_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """A timm CNN with detectron2's FPN (``MODEL.FPN.*``) and a max-pooled p6, like ``build_resnet_fpn_backbone``."""
    bottom_up = build_timm_backbone(cfg, input_shape)
    return FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )


@BACKBONE_REGISTRY.register()
def build_timm_retinanet_fpn_backbone(cfg, input_shape: ShapeSpec) -> Backbone:
    """A timm CNN with detectron2's FPN and p6/p7 computed from res5, like ``build_retinanet_resnet_fpn_backbone``."""
    bottom_up = build_timm_backbone(cfg, input_shape)
    out_channels = cfg.MODEL.FPN.OUT_CHANNELS
    in_channels_p6p7 = bottom_up.output_shape()["res5"].channels
    return FPN(
        bottom_up=bottom_up,
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=out_channels,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelP6P7(in_channels_p6p7, out_channels),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
