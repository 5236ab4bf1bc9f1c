"""ImageNet initialisation: torchvision ResNets in detectron2's names, and what each network was initialised from.

detectron2 ships no R-18/R-34 ImageNet weights; its ``tools/convert-torchvision-to-d2.py`` renames a torchvision
ResNet's state dict into detectron2's ResNet names. :func:`convert_torchvision_resnet` does the same renames, and
drops what a detector has no place for (the ImageNet classifier ``fc.*`` and BN's ``num_batches_tracked``), so
that a converted file loads with no unexpected keys. The result is a ``.pkl`` with ``"matching_heuristics":
True``: detectron2's checkpointer matches ``res2.0.conv1.weight`` to ``backbone.bottom_up.res2.0.conv1.weight``.
Converted torchvision weights go with the torchvision conventions of ``configs/Base-R*-FPN.yaml`` (RGB,
torchvision mean/std, ``STRIDE_IN_1X1 False``); MSRA's ``R-50.pkl``/``R-101.pkl`` with ``Base-R*-FPN-MSRA.yaml``.

:class:`InitReport` says, for the student and the teacher, which file each network loaded, how many of its keys
came from it, which were missing or unexpected, and which input format and normalisation the network uses; the
trainer logs both and ``python -m graphkd.env --config-file ...`` prints them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from graphkd.io import atomic_write_with

__all__ = [
    "InitReport",
    "convert_torchvision_file",
    "convert_torchvision_resnet",
    "init_reports",
    "random_init_report",
    "report_from_load",
    "require_weights_file",
    "student_init_report",
]

logger = logging.getLogger(__name__)

# the keys of a torchvision ResNet that a detector does not use
_DROPPED = re.compile(r"^fc\.|num_batches_tracked$")


def convert_torchvision_resnet(state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """A torchvision ResNet-18/34/50/101/152 state dict under detectron2's ResNet names, as numpy arrays.

    The renames of detectron2's ``tools/convert-torchvision-to-d2.py``: the stem's ``conv1``/``bn1`` go under
    ``stem.``, ``layer1..4`` become ``res2..5``, ``bnK`` becomes ``convK.norm`` and ``downsample.0/1`` become
    ``shortcut``/``shortcut.norm``. ``fc.*`` and ``num_batches_tracked`` are dropped (see the module docstring).
    """
    if "conv1.weight" not in state or "layer1.0.conv1.weight" not in state:
        raise ValueError(
            "not a torchvision ResNet state dict (no conv1.weight / layer1.0.conv1.weight); keys start with "
            f"{sorted(state)[:5]}"
        )
    converted = {}
    for key, value in state.items():
        if _DROPPED.search(key):
            continue
        name = key if "layer" in key else "stem." + key
        for stage in (1, 2, 3, 4):
            name = name.replace(f"layer{stage}", f"res{stage + 1}")
        for index in (1, 2, 3):
            name = name.replace(f"bn{index}", f"conv{index}.norm")
        name = name.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")
        converted[name] = value.detach().cpu().numpy()
    return converted


def convert_torchvision_file(in_path: str | Path, out_path: str | Path) -> dict[str, np.ndarray]:
    """Read a torchvision ResNet file (a state dict as ``torch.save(model.state_dict())`` writes it, or
    ``{"state_dict"|"model": ...}``), write detectron2's ``.pkl``; returns the converted weights."""
    in_path, out_path = Path(in_path), Path(out_path)
    if not in_path.is_file():
        raise FileNotFoundError(f"torchvision weights not found: {in_path}")
    try:
        state = torch.load(in_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read {in_path} as a torch state dict: {type(exc).__name__}: {exc}") from exc
    if isinstance(state, Mapping):
        for wrapper in ("state_dict", "model"):
            if isinstance(state.get(wrapper), Mapping):
                state = state[wrapper]
    if not isinstance(state, Mapping):
        raise ValueError(f"{in_path} holds a {type(state).__name__}, not a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    try:
        converted = convert_torchvision_resnet(state)
    except ValueError as exc:
        raise ValueError(f"{in_path}: {exc}") from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {"model": converted, "__author__": "torchvision", "matching_heuristics": True}
    atomic_write_with(lambda f: pickle.dump(checkpoint, f), out_path)
    return converted


@dataclasses.dataclass
class InitReport:
    """What one network was initialised from (``file`` empty: random weights)."""

    network: str  # "student" or "teacher"
    file: str
    loaded: int  # model keys whose values came from the file
    total: int  # keys of the model's state dict
    missing: list[str]  # model keys the file did not fill (randomly initialised)
    unexpected: list[str]  # file keys the model has no place for
    input_format: str
    pixel_mean: list[float]
    pixel_std: list[float]

    def missing_by_module(self, depth: int = 2) -> dict[str, int]:
        """Missing keys counted by their first ``depth`` name parts (``backbone.fpn_lateral2``, ``roi_heads.box_head``)."""
        return dict(Counter(".".join(key.split(".")[:depth]) for key in self.missing))

    def describe(self) -> str:
        source = self.file or "random initialisation (no weights file)"
        norm = (
            f"{self.input_format} input, pixel mean {_floats(self.pixel_mean)}, std {_floats(self.pixel_std)}"
        )
        counts = f"{self.loaded}/{self.total} keys loaded, {len(self.missing)} missing, {len(self.unexpected)} unexpected"
        text = f"{self.network}: {source}: {counts}; {norm}"
        if self.missing and self.file:
            parts = ", ".join(f"{name} {n}" for name, n in sorted(self.missing_by_module().items()))
            text += f"\n  missing (random init): {parts}"
        if self.unexpected:
            text += f"\n  unexpected (ignored): {', '.join(self.unexpected[:8])}" + (
                ", ..." if len(self.unexpected) > 8 else ""
            )
        return text


def _floats(values: Iterable[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def report_from_load(
    network: str,
    file: str,
    model_keys: Sequence[str],
    file_keys: Sequence[str],
    missing: Sequence[str],
    cfg,
) -> InitReport:
    """An :class:`InitReport` from a load's outcome. ``file_keys`` are the file's own names: with detectron2's
    matching heuristics a file key counts as used when it is a loaded model key or a dotted suffix of one. Keys
    are the student's (or teacher's) own: BN's ``num_batches_tracked`` counters are left out."""
    # BN step counters are bookkeeping, not weights (BatchNorm fills a missing one itself)
    model_keys = [key for key in model_keys if not key.endswith("num_batches_tracked")]
    file_keys = [key for key in file_keys if not key.endswith("num_batches_tracked")]
    missing_set = set(missing) & set(model_keys)
    loaded = [key for key in model_keys if key not in missing_set]
    suffixes = set()
    for key in loaded:
        parts = key.split(".")
        suffixes.update(".".join(parts[i:]) for i in range(len(parts)))
    unexpected = [key for key in file_keys if key not in suffixes]
    return InitReport(
        network=network,
        file=file,
        loaded=len(loaded),
        total=len(model_keys),
        missing=sorted(missing_set),
        unexpected=sorted(unexpected),
        input_format=cfg.INPUT.FORMAT,
        pixel_mean=list(cfg.MODEL.PIXEL_MEAN),
        pixel_std=list(cfg.MODEL.PIXEL_STD),
    )


def random_init_report(
    network: str, model: torch.nn.Module, cfg, keys: Sequence[str] | None = None
) -> InitReport:
    keys = list(model.state_dict()) if keys is None else list(keys)
    return report_from_load(network, "", keys, [], keys, cfg)


def require_weights_file(weights: str, key: str = "MODEL.WEIGHTS") -> None:
    """Raise a ``FileNotFoundError`` that says how to make it when a local ``weights`` file is missing
    (detectron2 would stop with a bare ``AssertionError``); URLs (``detectron2://``, ``https://``) are left to
    detectron2's download handling, and "" means random initialisation."""
    if not weights or "://" in weights or os.path.isfile(weights):
        return
    raise FileNotFoundError(
        f"{key} {weights} not found. ImageNet weights: convert torchvision's ResNet with "
        f'scripts/convert_torchvision.py IN.pth {weights} (README "Paper-scale runs"), or point {key} at your '
        f'file; to train from scratch set {key} "" (with SyncBN/GN and a longer schedule)'
    )


def _student_state_keys(model: torch.nn.Module) -> list[str]:
    state = model.student_state_dict() if hasattr(model, "student_state_dict") else model.state_dict()
    return list(state)


def student_init_report(
    model: torch.nn.Module, cfg, last_load: tuple[str, list[str], list[str]] | None
) -> InitReport:
    """The student's :class:`InitReport`: from the checkpointer's ``last_load`` (``MODEL.WEIGHTS`` or the
    resumed checkpoint) when it loaded one, else from a timm backbone's ``MODEL.TIMM.PRETRAINED_FILE``, else
    random."""
    model = getattr(model, "module", model)  # DDP
    keys = _student_state_keys(model)
    if last_load is not None:
        path, file_keys, missing = last_load
        return report_from_load("student", path, keys, file_keys, missing, cfg)
    for name, module in model.named_modules():
        timm_load = getattr(module, "pretrained_load", None)
        if timm_load is not None:
            path, _, unused = timm_load
            prefix = f"{name}.body."
            missing = [
                key for key in keys if not key.startswith(prefix) or key.endswith("num_batches_tracked")
            ]
            report = report_from_load("student", path, keys, [], missing, cfg)
            report.unexpected = list(unused)
            return report
    return random_init_report("student", model, cfg, keys)


def init_reports(model: torch.nn.Module, cfg, last_load=None) -> list[InitReport]:
    """The student's report and, for a GraphKD model, the teacher's (set by ``build_teacher``)."""
    reports = [student_init_report(model, cfg, last_load)]
    teacher = getattr(getattr(model, "module", model), "teacher", None)
    if teacher is not None and getattr(teacher, "init_report", None) is not None:
        reports.append(teacher.init_report)
    return reports
