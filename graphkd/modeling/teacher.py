"""Load the frozen teacher: its detectron2 config, its checkpoint, and the built model.

detectron2's checkpointer only warns when a key is missing or has the wrong shape; a teacher that
silently keeps random weights teaches nothing, so here every such mismatch raises
:class:`TeacherLoadError` naming the keys. Name matching itself is detectron2's
(``align_and_update_state_dicts`` for model-zoo ``.pkl`` files, ``DetectionCheckpointer._load_model``).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.checkpoint.c2_model_loading import align_and_update_state_dicts
from detectron2.config import CfgNode
from detectron2.modeling import build_model
from torch import nn

from graphkd.config import get_graphkd_cfg

from .pretrained import InitReport, random_init_report, report_from_load

__all__ = [
    "TRUST_ENV",
    "TeacherLoadError",
    "UntrustedCheckpointError",
    "checkpoints_trusted",
    "build_teacher",
    "read_checkpoint",
    "load_teacher_config",
    "num_classes_of",
]

logger = logging.getLogger(__name__)

# prefix of the teacher's keys in the paper's merged student-teacher checkpoints
TEACHER_PREFIX = "teacher."
# environment variable that lets an empty TEACHER.WEIGHTS build a random teacher (tests, benchmarks)
ALLOW_RANDOM_ENV = "GRAPHKD_ALLOW_RANDOM_TEACHER"
# environment variable that allows full unpickling of checkpoints holding non-tensor objects (opt-in)
TRUST_ENV = "GRAPHKD_TRUST_CHECKPOINTS"
# this many unexpected checkpoint keys are tolerated (with a warning) before we call it another architecture
MAX_UNEXPECTED_KEYS = 4
# keys whose absence or surplus is harmless: BN step counters and old checkpoints' anchor buffers
_IGNORED_KEY_PARTS = ("num_batches_tracked", "anchor_generator.cell_anchors")


class TeacherLoadError(RuntimeError):
    """The teacher checkpoint does not fit the teacher config (shapes, keys or class count)."""


class UntrustedCheckpointError(ValueError):
    """A checkpoint needs full unpickling and the user has not opted in to it."""


def resolve_teacher_config(config_file: str) -> str:
    """``TEACHER.CONFIG_FILE`` as a file: a path, or a detectron2 model-zoo name such as
    ``COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml`` (the file packaged with detectron2)."""
    if not config_file:
        raise FileNotFoundError("TEACHER.CONFIG_FILE is empty: the teacher needs a detectron2 config file")
    if os.path.isfile(config_file):
        return config_file
    if config_file.endswith(".yaml") and not os.path.isabs(config_file):
        from detectron2 import model_zoo

        try:
            return model_zoo.get_config_file(config_file)
        except RuntimeError:
            pass
    raise FileNotFoundError(
        f"teacher config file not found: {config_file} (neither a file nor a detectron2 model-zoo config name "
        "such as COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml)"
    )


def _unknown_keys(known: CfgNode, loaded: Mapping, prefix: str = "") -> list[str]:
    """Dotted keys of ``loaded`` that ``known`` does not have."""
    unknown = []
    for key, value in loaded.items():
        if key not in known:
            unknown.append(prefix + key)
        elif isinstance(value, Mapping) and isinstance(known[key], CfgNode):
            unknown += _unknown_keys(known[key], value, f"{prefix}{key}.")
    return unknown


def _drop_key(tree: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree[part]
    del tree[leaf]


def merge_teacher_file(cfg: CfgNode, config_file: str) -> list[str]:
    """Merge a teacher's config file into ``cfg``, tolerating keys this detectron2 does not know.

    A config dumped by another detectron2 version (a trainer's ``OUTPUT_DIR/config.yaml``, a layoutparser
    model's ``config.yaml``) may hold keys this one lacks. Outside ``MODEL.*`` they cannot change the teacher
    network (solver, data loader, test settings): they are dropped with one warning listing them, and returned.
    Unknown ``MODEL.*`` keys could change it, and unknown top-level sections mean another tool's file: both are
    errors naming the keys.
    """
    import tempfile

    import yaml

    loaded = CfgNode.load_yaml_with_base(config_file, allow_unsafe=True)  # _BASE_ chains resolved
    unknown = _unknown_keys(cfg, loaded)
    top_level = [key for key in unknown if "." not in key]
    if top_level:  # not another detectron2 version's config, but another tool's file
        raise ValueError(
            f"{config_file} has top-level keys detectron2 configs do not have ({_key_list(top_level)})"
        )
    model_keys = [key for key in unknown if key.startswith("MODEL.")]
    if model_keys:
        raise ValueError(
            f"{config_file} sets model keys this detectron2 does not know ({_key_list(model_keys)}): they may "
            "change the teacher network, so it cannot be built as it was trained; use the detectron2 version "
            "the teacher was trained with, or remove the keys if you know they are defaults"
        )
    if not unknown:
        cfg.merge_from_file(config_file)
        return []
    logger.warning(
        "Teacher config %s: ignoring %d keys this detectron2 does not know (none under MODEL, so the network is "
        "unchanged): %s",
        config_file,
        len(unknown),
        ", ".join(unknown),
    )
    for key in unknown:
        _drop_key(loaded, key)
    with tempfile.TemporaryDirectory() as tmp:  # merge_from_file keeps detectron2's VERSION upgrade logic
        pruned = os.path.join(tmp, os.path.basename(config_file))
        with open(pruned, "w") as f:
            yaml.safe_dump(_plain(loaded), f)
        cfg.merge_from_file(pruned)
    return unknown


def _plain(value):
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def load_teacher_config(config_file: str, opts: Sequence[str] = (), device: str = "cpu") -> CfgNode:
    """``get_graphkd_cfg()`` + ``config_file`` + ``opts``, on ``device``; config errors name the file and key.

    ``config_file`` is a path or a detectron2 model-zoo name (:func:`resolve_teacher_config`); a dumped config
    with keys this detectron2 lacks is handled by :func:`merge_teacher_file`.
    """
    config_file = resolve_teacher_config(config_file)
    cfg = get_graphkd_cfg()
    try:
        merge_teacher_file(cfg, config_file)
    except Exception as exc:  # yaml.YAMLError, KeyError("Non-existent config key: ..."), type mismatches
        raise ValueError(f"{config_file} is not a valid detectron2 config: {_describe(exc)}") from exc
    try:
        cfg.merge_from_list(list(opts))
    except Exception as exc:
        raise ValueError(
            f"bad teacher config overrides {list(opts)} for {config_file}: {_describe(exc)}"
        ) from exc
    cfg.MODEL.DEVICE = device
    return cfg


def _describe(exc: BaseException) -> str:
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return f"{type(exc).__name__}: {message}"


def _local_path(path: str) -> str:
    if "://" in path:  # detectron2://, https://: detectron2's PathManager resolves (and caches) them
        from detectron2.utils.file_io import PathManager

        return PathManager.get_local_path(path)
    return path


def checkpoints_trusted() -> bool:
    """Whether the user opted in to full unpickling (``GRAPHKD_TRUST_CHECKPOINTS=1`` or ``--trust-checkpoint``)."""
    return os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")


def _torch_load(path: str) -> object:
    """``torch.load`` with ``weights_only=True``; a file that needs full unpickling (arbitrary objects, which can
    run code when unpickled) is refused with :class:`UntrustedCheckpointError` unless the user opted in."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as weights_only_error:
        if not checkpoints_trusted():
            raise UntrustedCheckpointError(
                f"{path} holds objects other than tensors, and unpickling them can run arbitrary code: it was "
                f"not loaded. If you trust the file, set {TRUST_ENV}=1 or pass --trust-checkpoint "
                f"(weights_only load said: {str(weights_only_error).splitlines()[0]})"
            ) from None
    loaded = torch.load(path, map_location="cpu", weights_only=False)
    logger.warning("%s was loaded with full unpickling (%s=1 / --trust-checkpoint)", path, TRUST_ENV)
    return loaded


def read_checkpoint(path: str, teacher_part: bool = False) -> dict:
    """A checkpoint file as detectron2's checkpointer sees it: ``{"model": state, ...}`` plus format flags,
    with numpy arrays as tensors and DDP's ``module.`` prefix stripped; errors name the file.

    Reads detectron2 ``.pth`` files (``{"model": sd}`` or a bare state dict) and model-zoo ``.pkl`` files
    (detectron2 or Caffe2 format, through detectron2's reader; names unconverted: :func:`build_teacher` matches
    them to the model), with every detectron2 version (later ones only allow
    ``DetectionCheckpointer._load_file`` inside ``load``). With ``teacher_part``, a merged student-teacher file
    gives its ``teacher.*`` keys only, prefix stripped.
    """
    if not path:
        raise FileNotFoundError("checkpoint path is empty")
    local = _local_path(path)
    if not os.path.isfile(local):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        if local.endswith(".pkl"):  # detectron2's reader of model-zoo / Caffe2 pickles
            checkpoint = DetectionCheckpointer(nn.Module())._load_file(local)
        else:
            checkpoint = _torch_load(local)
    except UntrustedCheckpointError:
        raise
    except Exception as exc:
        raise ValueError(f"cannot read checkpoint {path}: {_describe(exc)}") from exc
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("model"), Mapping):
        checkpoint = dict(checkpoint)
    elif isinstance(checkpoint, Mapping):
        checkpoint = {"model": checkpoint}
    else:
        raise ValueError(f"checkpoint {path} holds a {type(checkpoint).__name__}, not a state dict")
    state = {}
    for key, value in checkpoint["model"].items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if isinstance(value, torch.Tensor):
            state[key] = value
    if not state:
        raise ValueError(f"checkpoint {path} contains no tensors")
    checkpoint["model"] = _strip_prefix(state, "module.")
    if teacher_part:
        checkpoint["model"] = _teacher_part(checkpoint["model"], path)
    return checkpoint


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if all(key.startswith(prefix) for key in state):
        return {key[len(prefix) :]: value for key, value in state.items()}
    return state


def _teacher_part(state: dict[str, torch.Tensor], path: str) -> dict[str, torch.Tensor]:
    """The teacher's weights of a merged student-teacher checkpoint (keys ``teacher.*``); else ``state``."""
    teacher = {
        key[len(TEACHER_PREFIX) :]: value for key, value in state.items() if key.startswith(TEACHER_PREFIX)
    }
    if not teacher:
        return state
    logger.info(
        "%s is a merged student-teacher checkpoint: using its %d teacher keys, dropping %d student keys",
        path,
        len(teacher),
        len(state) - len(teacher),
    )
    return teacher


def num_classes_of(cfg: CfgNode) -> int:
    """Number of foreground classes the detector of ``cfg`` predicts."""
    if cfg.MODEL.META_ARCHITECTURE == "RetinaNet":
        return cfg.MODEL.RETINANET.NUM_CLASSES
    return cfg.MODEL.ROI_HEADS.NUM_CLASSES


def _num_classes_key(cfg: CfgNode) -> str:
    return (
        "MODEL.RETINANET.NUM_CLASSES"
        if cfg.MODEL.META_ARCHITECTURE == "RetinaNet"
        else "MODEL.ROI_HEADS.NUM_CLASSES"
    )


def _check_checkpoint_classes(
    cfg: CfgNode, model_state: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], path: str
) -> None:
    """Raise if the checkpoint's classification layer predicts another number of classes than the config."""
    model_keys = sorted(k for k in model_state if k.endswith("cls_score.weight"))
    ckpt_keys = sorted(k for k in state if k.endswith(("cls_score.weight", "cls_score_w")))  # d2, Caffe2
    if not model_keys or not ckpt_keys:
        return
    model_key = model_keys[0]
    ckpt_key = model_key if model_key in state else ckpt_keys[0]
    model_rows, ckpt_rows = model_state[model_key].shape[0], state[ckpt_key].shape[0]
    if model_rows == ckpt_rows:
        return
    cfg_classes = num_classes_of(cfg)
    if cfg.MODEL.META_ARCHITECTURE == "RetinaNet":  # rows = anchors per location x classes
        ckpt_classes = ckpt_rows // max(1, model_rows // cfg_classes)
    else:  # rows = classes + background
        ckpt_classes = ckpt_rows - 1
    raise TeacherLoadError(
        f"teacher checkpoint {path} has {ckpt_classes} classes ({ckpt_key}: {tuple(state[ckpt_key].shape)}) "
        f"but the teacher config has {cfg_classes} ({_num_classes_key(cfg)})"
    )


def _key_list(keys: Sequence[str], first: int = 8) -> str:
    shown = ", ".join(keys[:first])
    return f"{len(keys)} keys: {shown}" + (", ..." if len(keys) > first else "")


def _suffix_shape_mismatches(
    missing: Sequence[str],
    unexpected: Sequence[str],
    model_state: Mapping[str, torch.Tensor],
    state: Mapping[str, torch.Tensor],
) -> list[tuple[str, tuple, tuple]]:
    """Missing model keys that a differently-shaped checkpoint key would have filled (suffix match)."""
    found = []
    for key in missing:
        for ckpt_key in unexpected:
            if key == ckpt_key or key.endswith("." + ckpt_key):
                found.append((ckpt_key, tuple(state[ckpt_key].shape), tuple(model_state[key].shape)))
                break
    return found


def _load_weights(model: nn.Module, cfg: CfgNode, weights: str) -> InitReport:
    checkpoint = read_checkpoint(weights, teacher_part=True)
    state = checkpoint["model"]
    file_keys = list(state)
    model_state = model.state_dict()
    if checkpoint.get("matching_heuristics", False):  # model-zoo names: detectron2's suffix matching
        state = align_and_update_state_dicts(
            model_state, state, c2_conversion=checkpoint.get("__author__") == "Caffe2"
        )
    _check_checkpoint_classes(cfg, model_state, state, weights)

    incompatible = DetectionCheckpointer(model)._load_model({"model": dict(state)})
    missing = [k for k in incompatible.missing_keys if not any(p in k for p in _IGNORED_KEY_PARTS)]
    unexpected = [k for k in incompatible.unexpected_keys if not any(p in k for p in _IGNORED_KEY_PARTS)]
    incorrect = list(incompatible.incorrect_shapes) + _suffix_shape_mismatches(
        missing, unexpected, model_state, state
    )
    if incorrect:
        lines = "\n".join(f"  {key}: checkpoint {tuple(c)} vs model {tuple(m)}" for key, c, m in incorrect)
        raise TeacherLoadError(
            f"teacher checkpoint {weights} does not fit the teacher config: {len(incorrect)} shape "
            f"mismatches (detectron2 would skip them with a warning)\n{lines}"
        )
    if missing:
        raise TeacherLoadError(
            f"teacher checkpoint {weights} lacks weights of the teacher model ({_key_list(missing)}); "
            "is TEACHER.CONFIG_FILE the config this checkpoint was trained with?"
        )
    if len(unexpected) > MAX_UNEXPECTED_KEYS:
        raise TeacherLoadError(
            f"teacher checkpoint {weights} holds weights the teacher model does not have "
            f"({_key_list(unexpected)}): it looks like another architecture than TEACHER.CONFIG_FILE"
        )
    if unexpected:
        logger.warning("Teacher checkpoint %s: ignoring unexpected keys %s", weights, unexpected)
    return report_from_load("teacher", weights, list(model_state), file_keys, incompatible.missing_keys, cfg)


def build_teacher(teacher_cfg: CfgNode, weights: str, expected_num_classes: int | None = None) -> nn.Module:
    """The detector of ``teacher_cfg`` with ``weights`` loaded strictly, frozen and in eval mode.

    ``expected_num_classes`` is the student's class count; the teacher must predict the same classes.
    """
    teacher_classes = num_classes_of(teacher_cfg)
    if expected_num_classes is not None and teacher_classes != expected_num_classes:
        raise TeacherLoadError(
            f"teacher has {teacher_classes} classes ({_num_classes_key(teacher_cfg)}), "
            f"student {expected_num_classes}: they must be trained on the same label set"
        )
    model = build_model(teacher_cfg)
    if weights:
        model.init_report = _load_weights(model, teacher_cfg, weights)
        logger.info("Loaded teacher weights from %s", weights)
    elif os.environ.get(ALLOW_RANDOM_ENV) == "1":
        logger.warning(
            "TEACHER.WEIGHTS is empty: using a randomly initialised teacher (%s=1)", ALLOW_RANDOM_ENV
        )
        model.init_report = random_init_report("teacher", model, teacher_cfg)
    else:
        raise TeacherLoadError(
            "TEACHER.WEIGHTS is empty: a randomly initialised teacher teaches nothing "
            f"(set {ALLOW_RANDOM_ENV}=1 to allow it for tests and benchmarks)"
        )
    model.requires_grad_(False)
    model.eval()
    return model
