"""Batched inference of a trained detector on document pages, and the prediction run of ``scripts/predict.py``.

:class:`BatchPredictor` is detectron2's ``DefaultPredictor`` for a list of pages: the same preprocessing
(``ResizeShortestEdge`` to ``INPUT.MIN_SIZE_TEST``/``MAX_SIZE_TEST``, channels in ``INPUT.FORMAT``), one
``model([x1, ..., xB])`` call per batch. :func:`predict_inputs` runs it over files, folders, globs and PDFs
and writes ``predictions.json`` plus one overlay PNG per page.

Category ids in the output are the dataset's own (1-based in our schemas): contiguous class ``c`` maps through
the inverse of the metadata's ``thing_dataset_id_to_contiguous_id`` (or the categories of its ``json_file``)
when the config's datasets have one, and to ``c + 1`` otherwise.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import MetadataCatalog
from detectron2.data import transforms as T
from detectron2.data.catalog import Metadata
from detectron2.data.detection_utils import convert_PIL_to_numpy
from detectron2.structures import Instances
from PIL import Image
from tqdm import tqdm

from graphkd.io import atomic_open

from .pages import InputFailure, Page, count_pages, expand_inputs, iter_pages

logger = logging.getLogger(__name__)

__all__ = [
    "BatchPredictor",
    "DatasetClasses",
    "PredictionReport",
    "dataset_classes",
    "draw_overlay",
    "instances_to_results",
    "predict_inputs",
    "setup_inference_cfg",
]


def setup_inference_cfg(
    config_file: str | os.PathLike,
    weights: str | os.PathLike = "",
    opts: Sequence[str] = (),
    device: str | None = None,
    score_thresh: float | None = None,
) -> CfgNode:
    """A frozen config to predict with: ``config_file`` + ``opts``, the weights, device and score threshold set.

    A GraphKD config (``GraphKDRCNN``/``GraphKDRetinaNet``) predicts as its plain student, so no teacher is
    built or loaded. ``device=None`` keeps ``MODEL.DEVICE``, falling back to the CPU when CUDA is missing.
    """
    from graphkd.config import as_plain_student
    from graphkd.engine.setup import load_config

    cfg = load_config(config_file, opts)
    cfg = as_plain_student(cfg)
    cfg.MODEL.WEIGHTS = os.fspath(weights)
    if device is not None:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"--device {device} was asked for, but CUDA is not available")
        cfg.MODEL.DEVICE = device
    if score_thresh is not None:
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = float(score_thresh)
        cfg.MODEL.RETINANET.SCORE_THRESH_TEST = float(score_thresh)
    cfg.freeze()
    return cfg


@dataclass(frozen=True)
class DatasetClasses:
    """Class names by contiguous id and the dataset's category id of each contiguous id."""

    names: list[str]
    dataset_ids: list[int]
    source: str  # where they came from, for the log

    def categories(self) -> list[dict]:
        return [{"id": i, "name": n} for i, n in zip(self.dataset_ids, self.names)]


def _categories_from_json(json_file: str) -> tuple[list[str], list[int]] | None:
    """(names, ids) of a COCO json's categories, in detectron2's contiguous order (sorted by id)."""
    if not json_file or not os.path.isfile(json_file):
        return None
    with open(json_file, encoding="utf-8") as handle:
        categories = sorted(json.load(handle).get("categories", []), key=lambda c: c["id"])
    return [c["name"] for c in categories], [int(c["id"]) for c in categories]


def dataset_classes(cfg: CfgNode) -> DatasetClasses:
    """Class names and dataset category ids from the metadata of ``DATASETS.TEST``, then ``DATASETS.TRAIN``.

    Only metadata with one name per model class counts; without any, names are ``class_<i>`` and ids ``i + 1``.
    """
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    if cfg.MODEL.META_ARCHITECTURE == "RetinaNet":
        num_classes = cfg.MODEL.RETINANET.NUM_CLASSES
    for name in [*cfg.DATASETS.TEST, *cfg.DATASETS.TRAIN]:
        metadata = MetadataCatalog.get(name)
        names = list(metadata.get("thing_classes", None) or [])
        id_map = metadata.get("thing_dataset_id_to_contiguous_id", None)
        if names and id_map and len(names) == num_classes:
            by_contiguous = {contiguous: dataset_id for dataset_id, contiguous in id_map.items()}
            ids = [int(by_contiguous.get(i, i + 1)) for i in range(num_classes)]
            return DatasetClasses(names, ids, f"metadata of {name}")
        from_json = _categories_from_json(metadata.get("json_file", None))
        if from_json is not None and len(from_json[0]) == num_classes:
            return DatasetClasses(from_json[0], from_json[1], f"categories of {metadata.json_file}")
        if len(names) == num_classes:
            return DatasetClasses(
                names, list(range(1, num_classes + 1)), f"metadata of {name} (ids = index + 1)"
            )
    names = [f"class_{i}" for i in range(num_classes)]
    return DatasetClasses(names, list(range(1, num_classes + 1)), "no dataset metadata (ids = index + 1)")


def test_resize(cfg: CfgNode) -> T.ResizeShortestEdge:
    """detectron2's test-time resize (``DefaultPredictor``'s): shortest side ``INPUT.MIN_SIZE_TEST``, longest at
    most ``INPUT.MAX_SIZE_TEST``; the one every GraphKD tool (prediction, inspection, evaluation) uses."""
    return T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST], cfg.INPUT.MAX_SIZE_TEST)


class BatchPredictor:
    """detectron2's ``DefaultPredictor`` for several pages at once: RGB uint8 arrays in, ``Instances`` out.

    The model is built from ``cfg`` (weights from ``MODEL.WEIGHTS``) unless one is given; outputs are in the
    coordinates of the original pages and on the CPU.
    """

    def __init__(self, cfg: CfgNode, model: torch.nn.Module | None = None) -> None:
        self.cfg = cfg.clone()
        if model is None:
            model = build_inference_model(self.cfg)
        self.model = model.eval()
        self.aug = test_resize(cfg)
        self.input_format = cfg.INPUT.FORMAT

    def to_model_format(self, image_rgb: np.ndarray) -> np.ndarray:
        """An RGB page in the channel format the model was trained on (``INPUT.FORMAT``)."""
        if self.input_format == "RGB":
            return image_rgb
        if self.input_format == "BGR":
            return image_rgb[:, :, ::-1]
        return convert_PIL_to_numpy(Image.fromarray(image_rgb), self.input_format)

    def preprocess(self, image_rgb: np.ndarray) -> dict:
        """One model input, as ``DefaultPredictor.__call__`` builds it."""
        image = self.to_model_format(image_rgb)
        height, width = image.shape[:2]
        image = self.aug.get_transform(image).apply_image(image)
        tensor = torch.as_tensor(image.astype("float32").transpose(2, 0, 1))  # (C, H', W')
        return {"image": tensor, "height": height, "width": width}

    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray]) -> list[Instances]:
        if not images:
            return []
        outputs = self.model([self.preprocess(image) for image in images])
        return [output["instances"].to("cpu") for output in outputs]


def build_inference_model(cfg: CfgNode) -> torch.nn.Module:
    """``build_model(cfg)`` in eval mode with ``MODEL.WEIGHTS`` loaded (random weights only when it is empty)."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    model = build_model(cfg)
    weights = cfg.MODEL.WEIGHTS
    if weights:
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"weights not found: {weights}")
        DetectionCheckpointer(model).load(weights)
    else:
        logger.warning("MODEL.WEIGHTS is empty: the model has random weights")
    return model.eval()


def instances_to_results(instances: Instances, image_id: int, dataset_ids: Sequence[int]) -> list[dict]:
    """COCO results (``image_id``, ``category_id``, ``bbox`` XYWH in pixels, ``score``) of one page."""
    boxes = instances.pred_boxes.tensor.clone()  # (R, 4) XYXY
    boxes[:, 2:] -= boxes[:, :2]
    return [
        {"image_id": image_id, "category_id": int(dataset_ids[c]), "bbox": box, "score": score}
        for box, c, score in zip(boxes.tolist(), instances.pred_classes.tolist(), instances.scores.tolist())
    ]


def draw_overlay(image_rgb: np.ndarray, instances: Instances, class_names: Sequence[str]) -> np.ndarray:
    """The page with its detections drawn by detectron2's ``Visualizer``: an RGB array of the page's size."""
    from detectron2.utils.visualizer import Visualizer

    visualizer = Visualizer(image_rgb, Metadata(thing_classes=list(class_names)), scale=1.0)
    return visualizer.draw_instance_predictions(instances).get_image()


@dataclass
class PredictionReport:
    """What a prediction run wrote and what failed."""

    output_dir: Path
    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    failures: list[InputFailure] = field(default_factory=list)

    @property
    def json_path(self) -> Path:
        return self.output_dir / "predictions.json"

    @property
    def ok(self) -> bool:
        return not self.failures


def _failure(path: str | os.PathLike, exc: BaseException) -> InputFailure:
    """An :class:`InputFailure` from an exception, without repeating the path its message may start with."""
    path = os.fspath(path)
    message = str(exc) or type(exc).__name__
    if message.startswith(f"{path}: "):
        message = message[len(path) + 2 :]
    failure = InputFailure(path, message)
    logger.error("cannot predict %s", failure)
    return failure


def _readable_pages(files: Sequence[Path], dpi: float, failures: list[InputFailure]) -> Iterator[Page]:
    """The pages of ``files``; a file that fails to read is recorded in ``failures`` and the next one follows."""
    for path in files:
        pages = iter_pages(path, dpi=dpi)
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except Exception as exc:  # any reading error belongs to this input alone
                failures.append(_failure(path, exc))
                break
            yield page


def _overlay_name(page: Page, image_id: int, used: set[str]) -> str:
    stem = Path(page.file_name).stem
    name = f"{stem}.png" if page.page is None else f"{stem}_page{page.page:03d}.png"
    if name in used:
        name = f"{Path(name).stem}_{image_id}.png"
    used.add(name)
    return name


def _countable_files(inputs: Sequence[str | os.PathLike], failures: list[InputFailure]) -> dict[Path, int]:
    """The page count of each input file that opens and has pages; the other inputs go to ``failures``."""
    files, expand_failures = expand_inputs(inputs)
    for failure in expand_failures:
        logger.error("cannot predict %s", failure)
    failures.extend(expand_failures)
    page_counts: dict[Path, int] = {}
    for path in files:
        try:
            page_counts[path] = count_pages(path)
        except Exception as exc:  # a PDF that does not open
            failures.append(_failure(path, exc))
            continue
        if page_counts[path] == 0:
            failures.append(_failure(path, ValueError("the PDF has no pages")))
            del page_counts[path]
    return page_counts


def _predict_batch(
    predictor: BatchPredictor,
    batch: list[Page],
    report: PredictionReport,
    classes: DatasetClasses,
    overlay_dir: Path,
    used_names: set[str],
) -> None:
    """Predict one batch of pages: their overlays are saved, their images and detections added to ``report``."""
    for page, instances in zip(batch, predictor([page.image for page in batch])):
        image_id = len(report.images) + 1
        overlay = _overlay_name(page, image_id, used_names)
        Image.fromarray(draw_overlay(page.image, instances, classes.names)).save(overlay_dir / overlay)
        report.images.append(
            {
                "id": image_id,
                "file_name": page.file_name,
                "page": page.page,
                "width": page.width,
                "height": page.height,
                "overlay": f"overlays/{overlay}",
            }
        )
        report.annotations.extend(instances_to_results(instances, image_id, classes.dataset_ids))


def _write_predictions(report: PredictionReport, classes: DatasetClasses) -> None:
    """``predictions.json``, written whole or not at all (through a temporary file)."""
    content = {
        "images": report.images,
        "categories": classes.categories(),
        "annotations": report.annotations,
        "failures": [{"path": f.path, "reason": f.reason} for f in report.failures],
    }
    with atomic_open(report.json_path, "w", tmp_suffix=".tmp") as f:
        f.write(json.dumps(content))


def predict_inputs(
    predictor: BatchPredictor,
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    dpi: float = 100.0,
    batch_size: int = 4,
    classes: DatasetClasses | None = None,
    progress: bool = True,
) -> PredictionReport:
    """Predict every page of ``inputs`` and write ``output_dir/predictions.json`` and ``output_dir/overlays/``.

    ``predictions.json`` holds ``images`` (``id``, ``file_name``, ``page`` (1-based PDF page or null),
    ``width``, ``height``, ``overlay``), ``categories`` and ``annotations`` (COCO results: ``image_id``,
    ``category_id``, ``bbox`` XYWH, ``score``). Inputs that fail are logged, listed in the report and in the
    JSON's ``failures``, and skipped.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    classes = classes or dataset_classes(predictor.cfg)
    report = PredictionReport(Path(output_dir))
    overlay_dir = report.output_dir / "overlays"
    overlay_dir.mkdir(parents=True, exist_ok=True)
    page_counts = _countable_files(inputs, report.failures)
    used_names: set[str] = set()

    def run(batch: list[Page]) -> None:
        _predict_batch(predictor, batch, report, classes, overlay_dir, used_names)
        bar.update(len(batch))

    batch: list[Page] = []
    with tqdm(total=sum(page_counts.values()), unit="page", desc="predict", disable=not progress) as bar:
        for page in _readable_pages(list(page_counts), dpi, report.failures):
            batch.append(page)
            if len(batch) == batch_size:
                run(batch)
                batch = []
        if batch:
            run(batch)

    _write_predictions(report, classes)
    logger.info(
        "%d pages, %d detections -> %s (%d inputs failed)",
        len(report.images),
        len(report.annotations),
        report.json_path,
        len(report.failures),
    )
    return report
