"""The check that an exported detector detects what the PyTorch model detects, page by page.

Both sides run R-CNN inference without the resize back to page coordinates (:func:`eager_detections` for
PyTorch, :func:`torchscript_detections`/:func:`onnx_detections` for the exported file), and
:func:`compare_detections` matches each box to its nearest same-class box of the other set, both ways, so the
order of the detections does not matter. :data:`TOLERANCES` says how far an export may be; the export itself
is :mod:`graphkd.inference.export`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from detectron2.modeling import GeneralizedRCNN
from detectron2.structures import Boxes, Instances

if TYPE_CHECKING:
    from detectron2.export.flatten import TracingAdapter

__all__ = [
    "TOLERANCES",
    "DetectionDiff",
    "ExportReport",
    "OnnxUnavailableError",
    "compare_detections",
    "eager_detections",
    "onnx_detections",
    "torchscript_detections",
]

# largest box difference (pixels of the resized page) and score difference an export may show
TOLERANCES = {
    "torchscript": {"box": 1e-3, "score": 1e-5},
    "onnx": {"box": 1e-2, "score": 1e-4},
}


class OnnxUnavailableError(RuntimeError):
    """ONNX export or its check cannot run with the installed packages."""


def rcnn_inference(model: GeneralizedRCNN, inputs: list[dict]) -> list[dict]:
    """What is traced: R-CNN inference without the resize back to page coordinates (not traceable)."""
    instances = model.inference(inputs, do_postprocess=False)[0]
    return [{"instances": instances}]


@torch.no_grad()
def eager_detections(model: torch.nn.Module, image: torch.Tensor) -> Instances:
    """The PyTorch model's detections on one preprocessed image, in its resized coordinates, on the CPU."""
    model = getattr(model, "module", model).eval()
    device = next(model.parameters()).device
    return rcnn_inference(model, [{"image": image.to(device)}])[0]["instances"].to("cpu")


def torchscript_detections(
    traced: torch.jit.ScriptModule, adapter: TracingAdapter, image: torch.Tensor
) -> Instances:
    """Detections of a traced model (``traced`` may also be a ``torch.jit.load`` of the saved file)."""
    with torch.no_grad():
        outputs = traced(image)
    return adapter.outputs_schema(outputs)[0]["instances"].to("cpu")


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
