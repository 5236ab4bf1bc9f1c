"""Using a trained (distilled) student: batched prediction on images and PDFs (``predictor``, ``pages``,
``pdf``), and TorchScript/ONNX export with a check against PyTorch (``graphkd.inference.export`` and
``graphkd.inference.verify``, imported on their own: tracing loads ``detectron2.export``)."""

from .pages import InputFailure, Page, expand_inputs, iter_pages
from .predictor import (
    BatchPredictor,
    DatasetClasses,
    PredictionReport,
    build_inference_model,
    dataset_classes,
    draw_overlay,
    instances_to_results,
    predict_inputs,
    setup_inference_cfg,
)

__all__ = [
    "BatchPredictor",
    "DatasetClasses",
    "InputFailure",
    "Page",
    "PredictionReport",
    "build_inference_model",
    "dataset_classes",
    "draw_overlay",
    "expand_inputs",
    "instances_to_results",
    "iter_pages",
    "predict_inputs",
    "setup_inference_cfg",
]
