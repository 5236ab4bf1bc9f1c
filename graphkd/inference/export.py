"""TorchScript and ONNX export of a detectron2 R-CNN through detectron2's ``TracingAdapter``, checked against the
PyTorch model (the check itself is :mod:`graphkd.inference.verify`, whose names are re-exported here).

The exported model takes one preprocessed page: a ``(3, H', W')`` float32 tensor, channels in
``INPUT.FORMAT`` order, resized as :meth:`BatchPredictor.preprocess` does (pixel normalisation is inside the
model). It returns the flattened ``Instances`` of ``model.inference(..., do_postprocess=False)``, in the
order ``TracingAdapter`` flattens them (fields sorted by name, then the image size):

    boxes (R, 4) float32 XYXY in the resized image's pixels, classes (R,) int64 (contiguous ids),
    scores (R,) float32, image_size (2,) int64 = (H', W')

Scale the boxes by ``(width / W', height / H')`` to get page pixels (detectron2's ``detector_postprocess``).
The trace follows the sample's control flow; detectron2 writes its shape arithmetic with tensors while
tracing, so other page sizes work (:func:`export_and_verify` checks a second size).

Importing this module changes nothing in detectron2: :func:`tracing_adapter` loads ``detectron2.export``
(without its caffe2 API where caffe2 is missing, :func:`load_detectron2_export`) when it is first called.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.modeling import GeneralizedRCNN
from detectron2.structures import Instances

from ._d2export import load_detectron2_export
from .verify import (
    TOLERANCES,
    DetectionDiff,
    ExportReport,
    OnnxUnavailableError,
    compare_detections,
    eager_detections,
    onnx_detections,
    rcnn_inference,
    torchscript_detections,
)

if TYPE_CHECKING:
    from detectron2.export.flatten import TracingAdapter

logger = logging.getLogger(__name__)

__all__ = [
    "EXPORT_FORMATS",
    "ONNX_OPSET",
    "TOLERANCES",
    "DetectionDiff",
    "ExportReport",
    "OnnxUnavailableError",
    "check_export_format",
    "compare_detections",
    "eager_detections",
    "export_and_verify",
    "export_onnx",
    "export_torchscript",
    "onnx_detections",
    "run_export",
    "torchscript_detections",
    "trace_model",
]

EXPORT_FORMATS = ("torchscript", "onnx")
# opset 16 is the first whose RoiAlign has the half-pixel ("aligned=True") mode detectron2's ROIAlign uses
ONNX_OPSET = 17
OUTPUT_NAMES = ["boxes", "classes", "scores", "image_size"]


def _require_onnx() -> None:
    """Fail early, and clearly, when the ONNX packages the export and its check need are missing."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise OnnxUnavailableError(
            f"ONNX export and its onnxruntime check need {' and '.join(missing)}: pip install {' '.join(missing)}"
        )


def check_export_format(fmt: str) -> None:
    """Raise before any work when ``fmt`` is not an export format, or is ONNX without its packages."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")
    if fmt == "onnx":
        _require_onnx()


@contextlib.contextmanager
def _known_tracer_warnings_ignored() -> Iterator[None]:
    """Silence ``TracerWarning``s: detectron2's R-CNN raises a dozen for conditions the trace may keep constant
    (e.g. "are all boxes finite"); whether the trace generalises is what :func:`export_and_verify` checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def tracing_adapter(model: torch.nn.Module, image: torch.Tensor) -> TracingAdapter:
    """``TracingAdapter`` of an R-CNN on one preprocessed image ``(3, H', W')``: image in, flat tensors out."""
    model = getattr(model, "module", model)
    if not isinstance(model, GeneralizedRCNN):
        raise TypeError(
            f"export supports GeneralizedRCNN models (and subclasses), not {type(model).__name__}"
        )
    model.eval()
    return load_detectron2_export().TracingAdapter(model, [{"image": image}], rcnn_inference)


def trace_model(model: torch.nn.Module, image: torch.Tensor) -> tuple[torch.jit.ScriptModule, TracingAdapter]:
    """``torch.jit.trace`` of ``model``'s inference on one preprocessed image; returns (traced, adapter)."""
    adapter = tracing_adapter(model, image)
    with torch.no_grad(), _known_tracer_warnings_ignored():
        traced = torch.jit.trace(adapter, adapter.flattened_inputs, check_trace=False)
    return traced, adapter


def export_torchscript(
    model: torch.nn.Module, image: torch.Tensor, path: str | os.PathLike
) -> tuple[torch.jit.ScriptModule, TracingAdapter]:
    """Trace ``model`` on ``image`` with ``torch.jit.trace`` and save it to ``path``; returns (traced, adapter)."""
    traced, adapter = trace_model(model, image)
    torch.jit.save(traced, os.fspath(path))
    logger.info("Saved the TorchScript model to %s", path)
    return traced, adapter


def export_onnx(
    model: torch.nn.Module, image: torch.Tensor, path: str | os.PathLike, opset: int = ONNX_OPSET
) -> TracingAdapter:
    """Export ``model`` traced on ``image`` to ONNX (the TorchScript-based exporter, ``dynamo=False``).

    The page height and width and the number of detections are dynamic axes. Returns the adapter, whose
    ``outputs_schema`` rebuilds ``Instances`` from the ONNX outputs.
    """
    _require_onnx()
    adapter = tracing_adapter(model, image)
    with torch.no_grad(), _known_tracer_warnings_ignored():
        adapter(image)  # records outputs_schema
        torch.onnx.export(
            adapter,
            (image,),
            os.fspath(path),
            input_names=["image"],
            output_names=OUTPUT_NAMES,
            dynamic_axes={
                "image": {1: "height", 2: "width"},
                **{n: {0: "detections"} for n in OUTPUT_NAMES[:3]},
            },
            opset_version=opset,
            dynamo=False,
        )
    logger.info("Saved the ONNX model (opset %d) to %s", opset, path)
    return adapter


def export_and_verify(
    model: torch.nn.Module,
    images: list[torch.Tensor],
    output_dir: str | os.PathLike,
    fmt: str = "torchscript",
) -> ExportReport:
    """Export ``model`` traced on ``images[0]`` to ``output_dir/model.{ts,onnx}`` and compare its detections
    with the PyTorch model's on every image (preprocessed ``(3, H', W')`` tensors; give two sizes to check
    that the trace generalises). Tolerances are :data:`TOLERANCES` of the format.
    """
    check_export_format(fmt)
    os.makedirs(output_dir, exist_ok=True)
    model = getattr(model, "module", model).eval()
    if fmt == "torchscript":
        path = os.path.join(output_dir, "model.ts")
        traced, adapter = export_torchscript(model, images[0], path)
        traced = torch.jit.load(path)  # check the file as saved, not the in-memory trace

        def run_exported(image: torch.Tensor) -> Instances:
            return torchscript_detections(traced, adapter, image)
    else:
        path = os.path.join(output_dir, "model.onnx")
        adapter = export_onnx(model, images[0], path)

        def run_exported(image: torch.Tensor) -> Instances:
            return onnx_detections(path, adapter, image)

    diffs = [compare_detections(eager_detections(model, image), run_exported(image)) for image in images]
    for image, diff in zip(images, diffs):
        logger.info("%s on a %dx%d page: %s", fmt, image.shape[2], image.shape[1], diff)
    tolerance = TOLERANCES[fmt]
    return ExportReport(path, fmt, diffs, tolerance["box"], tolerance["score"])


def _finite_or_none(value: float) -> float | None:
    """``value``, or None when infinite (one side found nothing), so the JSON stays strict."""
    return value if math.isfinite(value) else None


def _export_info(cfg: CfgNode, report: ExportReport, categories: list[dict]) -> dict:
    """``export_info.json``: the exported model's input (with its preprocessing), outputs, classes and check."""
    return {
        "format": report.format,
        "file": os.path.basename(report.path),
        "input": {
            "name": "image",
            "shape": [3, "H", "W"],
            "dtype": "float32",
            "channels": cfg.INPUT.FORMAT,
            "preprocessing": (
                f"resize the page so its short side is {cfg.INPUT.MIN_SIZE_TEST} and its long side at most "
                f"{cfg.INPUT.MAX_SIZE_TEST} (bilinear), HWC -> CHW, values 0-255 (the model normalises)"
            ),
        },
        "outputs": {
            "boxes": "(R, 4) XYXY in the resized image's pixels; scale by page size / resized size",
            "classes": "(R,) contiguous class index i: the category categories[i]",
            "scores": "(R,)",
            "image_size": "(2,) resized (H, W)",
        },
        "categories": categories,
        "check": {
            "max_box_diff_px": _finite_or_none(report.max_box_diff),
            "max_score_diff": _finite_or_none(report.max_score_diff),
            "box_tolerance_px": report.box_tolerance,
            "score_tolerance": report.score_tolerance,
            "passed": report.passed,
            "pages": [{k: _finite_or_none(v) for k, v in asdict(diff).items()} for diff in report.diffs],
        },
    }


def run_export(
    config_file: str | os.PathLike,
    weights: str | os.PathLike,
    output_dir: str | os.PathLike,
    pages: Sequence[np.ndarray],
    fmt: str = "torchscript",
    opts: Sequence[str] = (),
) -> ExportReport:
    """``scripts/export.py``: build the (student) model on the CPU, export it traced on ``pages[0]``, check it
    on every page, and write ``output_dir/export_info.json`` describing the exported model's inputs and outputs.

    ``pages`` are (H, W, 3) uint8 RGB page images, preprocessed here as :meth:`BatchPredictor.preprocess` does;
    give pages of two sizes (the script: the sample page and a generated landscape page) to check that the
    trace generalises.
    """
    from .predictor import BatchPredictor, dataset_classes, setup_inference_cfg

    check_export_format(fmt)
    cfg = setup_inference_cfg(config_file, weights, opts, device="cpu")
    predictor = BatchPredictor(cfg)
    images = [predictor.preprocess(page)["image"] for page in pages]  # (3, H', W') each
    report = export_and_verify(predictor.model, images, output_dir, fmt)
    info = _export_info(cfg, report, dataset_classes(cfg).categories())
    with open(os.path.join(output_dir, "export_info.json"), "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
    return report
