"""Train and test loaders whose failures name the file: unreadable images, empty or unregistered datasets.

detectron2 reports an unreadable image as PIL's bare ``cannot identify image file <_io.BufferedReader ...>``
and an empty training set as an ``AssertionError``. Here an image that cannot be read raises
:class:`~graphkd.engine.errors.BadImageError` with its path, or, with ``DATALOADER.SKIP_BAD_IMAGES``, is
skipped during training with a warning and a running count (another record takes its place).
"""

from __future__ import annotations

import logging
import multiprocessing
import random
from collections.abc import Callable, Sequence

from detectron2.config import CfgNode
from detectron2.data import (
    DatasetCatalog,
    DatasetMapper,
    MetadataCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.data.common import DatasetFromList
from PIL import Image

from graphkd.data import DatasetError

from .errors import BadImageError

__all__ = ["BadImageGuard", "build_test_loader", "build_train_loader", "dataset_dicts"]

logger = logging.getLogger(__name__)

# what PIL and file reading raise for a missing, truncated or non-image file (SyntaxError: some broken headers)
IMAGE_READ_ERRORS = (OSError, SyntaxError, Image.DecompressionBombError)


class BadImageGuard:
    """Wraps a dataset mapper: an image that cannot be read raises :class:`BadImageError` naming the file.

    With ``skip_bad_images`` the image is skipped with a warning instead: the guard maps a random record of
    ``replacements`` in its place (or returns ``None``, detectron2's "skip", without them). ``num_skipped``
    counts skipped images over all DataLoader worker processes (shared memory).
    """

    def __init__(
        self,
        mapper: Callable[[dict], dict | None],
        skip_bad_images: bool = False,
        replacements: Sequence[dict] | None = None,
        seed: int = 0,
    ) -> None:
        self.mapper = mapper
        self.skip_bad_images = skip_bad_images
        self.replacements = replacements
        self._rng = random.Random(seed)
        self._bad_files: set[str] = set()  # this process's; a record naming one is never drawn again
        self._num_skipped = multiprocessing.Value("q", 0)  # created before the workers fork: shared

    @property
    def num_skipped(self) -> int:
        return int(self._num_skipped.value)

    def __call__(self, dataset_dict: dict) -> dict | None:
        while True:
            try:
                return self.mapper(dataset_dict)
            except IMAGE_READ_ERRORS as exc:
                file_name = str(dataset_dict.get("file_name", "<record without file_name>"))
                reason = f"{type(exc).__name__}: {exc}"
                if not self.skip_bad_images:
                    raise BadImageError(
                        f"cannot read image {file_name} ({reason}); DATALOADER.SKIP_BAD_IMAGES True skips "
                        "unreadable training images"
                    ) from exc
                self._bad_files.add(file_name)
                with self._num_skipped.get_lock():
                    self._num_skipped.value += 1
                    count = self._num_skipped.value
                logger.warning(
                    "Skipping unreadable image %s (%s); %d skipped so far", file_name, reason, count
                )
                if self.replacements is None:
                    return None
                dataset_dict = self._replacement()

    def _replacement(self) -> dict:
        num_records = len(self.replacements)
        if len(self._bad_files) >= num_records:
            raise DatasetError(f"none of the {num_records} images of the training set can be read")
        while True:
            record = self.replacements[self._rng.randrange(num_records)]
            if str(record.get("file_name")) not in self._bad_files:
                return record


def dataset_dicts(names: Sequence[str], filter_empty: bool = True, **kwargs) -> list[dict]:
    """``get_detection_dataset_dicts``, with an unregistered or empty dataset raised as :class:`DatasetError`."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise DatasetError("no dataset given (DATASETS.TRAIN / DATASETS.TEST is empty)")
    registered = set(DatasetCatalog.list())
    unknown = [name for name in names if name not in registered]
    if unknown:
        raise DatasetError(
            f"dataset {', '.join(unknown)} is not registered: add it with DATASETS.REGISTER "
            "'name=annotations.json:image_root' or use a builtin name (graphkd.data)"
        )
    try:
        return get_detection_dataset_dicts(names, filter_empty=filter_empty, **kwargs)
    except AssertionError as exc:  # detectron2: "Dataset 'x' is empty!", "No valid data found in x."
        files = [MetadataCatalog.get(name).get("json_file") for name in names]
        where = ", ".join(f"{name} ({file})" if file else name for name, file in zip(names, files))
        hint = "; images without annotations are dropped for training (DATALOADER.FILTER_EMPTY_ANNOTATIONS)"
        raise DatasetError(
            f"dataset {where} has no usable images ({exc}){hint if filter_empty else ''}"
        ) from None


def build_train_loader(cfg: CfgNode):
    """detectron2's default train loader, with :class:`BadImageGuard` around ``DatasetMapper``."""
    records = DatasetFromList(
        dataset_dicts(
            cfg.DATASETS.TRAIN,
            filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS,
            min_keypoints=cfg.MODEL.ROI_KEYPOINT_HEAD.MIN_KEYPOINTS_PER_IMAGE if cfg.MODEL.KEYPOINT_ON else 0,
            proposal_files=cfg.DATASETS.PROPOSAL_FILES_TRAIN if cfg.MODEL.LOAD_PROPOSALS else None,
        ),
        copy=False,
    )
    guard = BadImageGuard(
        DatasetMapper(cfg, is_train=True),
        skip_bad_images=cfg.DATALOADER.SKIP_BAD_IMAGES,
        replacements=records,
        seed=max(cfg.SEED, 0),
    )
    return build_detection_train_loader(cfg, mapper=guard, dataset=records)


def build_test_loader(cfg: CfgNode, dataset_name: str):
    """detectron2's test loader; an unreadable image fails with its name (skipping would bias the metrics)."""
    proposal_files = (
        [cfg.DATASETS.PROPOSAL_FILES_TEST[list(cfg.DATASETS.TEST).index(dataset_name)]]
        if cfg.MODEL.LOAD_PROPOSALS
        else None
    )
    dicts = dataset_dicts([dataset_name], filter_empty=False, proposal_files=proposal_files)
    guard = BadImageGuard(DatasetMapper(cfg, is_train=False))
    return build_detection_test_loader(dicts, mapper=guard, num_workers=cfg.DATALOADER.NUM_WORKERS)
