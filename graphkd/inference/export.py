"""TorchScript and ONNX export of a detectron2 R-CNN through detectron2's ``TracingAdapter``, and the check that
the exported model detects what the PyTorch model detects.

The exported model takes one preprocessed page: a ``(3, H', W')`` float32 tensor, channels in
``INPUT.FORMAT`` order, resized as :meth:`BatchPredictor.preprocess` does (pixel normalisation is inside the
model). It returns the flattened ``Instances`` of ``model.inference(..., do_postprocess=False)``, in the
order ``TracingAdapter`` flattens them (fields sorted by name, then the image size):

    boxes (R, 4) float32 XYXY in the resized image's pixels, classes (R,) int64 (contiguous ids),
    scores (R,) float32, image_size (2,) int64 = (H', W')

Scale the boxes by ``(width / W', height / H')`` to get page pixels (detectron2's ``detector_postprocess``).
The trace follows the sample's control flow; detectron2 writes its shape arithmetic with tensors while
tracing, so other page sizes work (:func:`verify_export` checks a second size).
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
from dataclasses import asdict, dataclass

import numpy as np
import torch
from detectron2.modeling import GeneralizedRCNN
from detectron2.structures import Boxes, Instances

from ._d2export import load_detectron2_export

TracingAdapter = load_detectron2_export().TracingAdapter

logger = logging.getLogger(__name__)

__all__ = [
    "EXPORT_FORMATS",
    "ONNX_OPSET",
    "TOLERANCES",
    "DetectionDiff",
    "ExportReport",
    "OnnxUnavailableError",
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
# largest box difference (pixels of the resized page) and score difference an export may show
TOLERANCES = {
    "torchscript": {"box": 1e-3, "score": 1e-5},
    "onnx": {"box": 1e-2, "score": 1e-4},
}
OUTPUT_NAMES = ["boxes", "classes", "scores", "image_size"]


class OnnxUnavailableError(RuntimeError):
    """ONNX export or its check cannot run with the installed packages."""


def _require_onnx() -> None:
    """Fail early, and clearly, when the ONNX packages the export and its check need are missing."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise OnnxUnavailableError(
            f"ONNX export and its onnxruntime check need {' and '.join(missing)}: pip install {' '.join(missing)}"
        )


@contextlib.contextmanager
def _known_tracer_warnings_ignored() -> Iterator[None]:
    """Silence ``TracerWarning``s: detectron2's R-CNN raises a dozen for conditions the trace may keep constant
    (e.g. "are all boxes finite"); whether the trace generalises is what :func:`export_and_verify` checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def _rcnn_inference(model: GeneralizedRCNN, inputs: list[dict]) -> list[dict]:
    """What is traced: R-CNN inference without the resize back to page coordinates (not traceable)."""
    instances = model.inference(inputs, do_postprocess=False)[0]
    return [{"instances": instances}]


def tracing_adapter(model: torch.nn.Module, image: torch.Tensor) -> TracingAdapter:
    """``TracingAdapter`` of an R-CNN on one preprocessed image ``(3, H', W')``: image in, flat tensors out."""
    model = getattr(model, "module", model)
    if not isinstance(model, GeneralizedRCNN):
        raise TypeError(
            f"export supports GeneralizedRCNN models (and subclasses), not {type(model).__name__}"
        )
    model.eval()
    return TracingAdapter(model, [{"image": image}], _rcnn_inference)


@torch.no_grad()
def eager_detections(model: torch.nn.Module, image: torch.Tensor) -> Instances:
    """The PyTorch model's detections on one preprocessed image, in its resized coordinates, on the CPU."""
    model = getattr(model, "module", model).eval()
    device = next(model.parameters()).device
    return _rcnn_inference(model, [{"image": image.to(device)}])[0]["instances"].to("cpu")


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


def torchscript_detections(
    traced: torch.jit.ScriptModule, adapter: TracingAdapter, image: torch.Tensor
) -> Instances:
    """Detections of a traced model (``traced`` may also be a ``torch.jit.load`` of the saved file)."""
    with torch.no_grad():
        outputs = traced(image)
    return adapter.outputs_schema(outputs)[0]["instances"].to("cpu")


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


def onnx_detections(path: str | os.PathLike, adapter: TracingAdapter, image: torch.Tensor) -> Instances:
    """Detections of an exported ONNX model run by onnxruntime on the CPU."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailableError(
            "checking an ONNX export needs onnxruntime: pip install onnxruntime"
        ) from exc
    session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"image": image.cpu().numpy()})
    return adapter.outputs_schema(tuple(torch.from_numpy(o) for o in outputs))[0]["instances"]


@dataclass(frozen=True)
class DetectionDiff:
    """How far an exported model's detections are from the reference's on one page."""

    num_reference: int
    num_exported: int
    max_box_diff: float  # pixels; each box against its nearest same-class box of the other set, both ways
    max_score_diff: float  # between those nearest boxes

    def within(self, box_tol: float, score_tol: float) -> bool:
        return (
            self.num_reference == self.num_exported
            and self.max_box_diff <= box_tol
            and self.max_score_diff <= score_tol
        )

    def __str__(self) -> str:
        return (
            f"{self.num_exported} detections vs {self.num_reference} in PyTorch, "
            f"max |box diff| {self.max_box_diff:.3g} px, max |score diff| {self.max_score_diff:.3g}"
        )


def _nearest(src: Instances, dst: Instances) -> tuple[float, float]:
    """Max over ``src`` of the L-inf distance to the nearest same-class box of ``dst``, and that pair's score gap."""
    if len(src) == 0:
        return 0.0, 0.0
    if len(dst) == 0:
        return float("inf"), float("inf")
    src_boxes, dst_boxes = _box_tensor(src), _box_tensor(dst)
    dist = (src_boxes[:, None, :] - dst_boxes[None, :, :]).abs().amax(dim=2)  # (R_src, R_dst)
    other_class = src.pred_classes[:, None] != dst.pred_classes[None, :]
    dist = dist.masked_fill(other_class, float("inf"))
    best, index = dist.min(dim=1)
    score_gap = (src.scores.float() - dst.scores.float()[index]).abs()
    return float(best.max()), float(score_gap.max())


def _box_tensor(instances: Instances) -> torch.Tensor:
    boxes = instances.pred_boxes
    return (boxes.tensor if isinstance(boxes, Boxes) else boxes).float().cpu()


def compare_detections(reference: Instances, exported: Instances) -> DetectionDiff:
    """Order-independent difference between two sets of detections of one page."""
    box_a, score_a = _nearest(reference, exported)
    box_b, score_b = _nearest(exported, reference)
    return DetectionDiff(len(reference), len(exported), max(box_a, box_b), max(score_a, score_b))


@dataclass
class ExportReport:
    """An exported model file and how its detections compared with PyTorch's on each check page."""

    path: str
    format: str
    diffs: list[DetectionDiff]
    box_tolerance: float
    score_tolerance: float

    @property
    def passed(self) -> bool:
        return all(diff.within(self.box_tolerance, self.score_tolerance) for diff in self.diffs)

    @property
    def max_box_diff(self) -> float:
        return max(diff.max_box_diff for diff in self.diffs)

    @property
    def max_score_diff(self) -> float:
        return max(diff.max_score_diff for diff in self.diffs)


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
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")
    if fmt == "onnx":
        _require_onnx()
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


def generated_page(size: tuple[int, int] = (600, 800), seed: int = 0) -> np.ndarray:
    """A synthetic PubLayNet-like page, (H, W, 3) uint8 RGB, for when no sample page is given."""
    from graphkd.data.synthetic import render_page

    image, _ = render_page(np.random.default_rng(seed), size=size)
    return np.asarray(image.convert("RGB"))


def run_export(
    config_file: str | os.PathLike,
    weights: str | os.PathLike,
    output_dir: str | os.PathLike,
    fmt: str = "torchscript",
    sample: str | os.PathLike | None = None,
    opts: Sequence[str] = (),
) -> ExportReport:
    """``scripts/export.py``: build the (student) model on the CPU, export it traced on the sample page (or a
    generated portrait page), check it on that page and on a generated landscape page, and write
    ``output_dir/export_info.json`` describing the exported model's inputs and outputs.
    """
    from .pages import read_image_rgb
    from .predictor import BatchPredictor, dataset_classes, setup_inference_cfg

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")
    if fmt == "onnx":
        _require_onnx()
    cfg = setup_inference_cfg(config_file, weights, opts, device="cpu")
    predictor = BatchPredictor(cfg)
    pages = [
        read_image_rgb(sample) if sample else generated_page((600, 800), seed=0),
        generated_page((800, 600), 1),
    ]
    images = [predictor.preprocess(page)["image"] for page in pages]  # (3, H', W') each
    report = export_and_verify(predictor.model, images, output_dir, fmt)
    classes = dataset_classes(cfg)
    info = {
        "format": fmt,
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
        "categories": classes.categories(),
        "check": {
            "max_box_diff_px": _finite_or_none(report.max_box_diff),
            "max_score_diff": _finite_or_none(report.max_score_diff),
            "box_tolerance_px": report.box_tolerance,
            "score_tolerance": report.score_tolerance,
            "passed": report.passed,
            "pages": [{k: _finite_or_none(v) for k, v in asdict(diff).items()} for diff in report.diffs],
        },
    }
    with open(os.path.join(output_dir, "export_info.json"), "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
    return report
