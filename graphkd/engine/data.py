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
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.data.common import DatasetFromList, MapDataset
from PIL import Image

from graphkd.data import DatasetError

from .errors import BadImageError

__all__ = ["BadImageGuard", "SkipNoneMapDataset", "build_test_loader", "build_train_loader", "dataset_dicts"]

logger = logging.getLogger(__name__)

# what PIL and file reading raise for a missing, truncated or non-image file (SyntaxError: some broken headers)
IMAGE_READ_ERRORS = (OSError, SyntaxError, Image.DecompressionBombError)


class BadImageGuard:
    """Wraps a dataset mapper: an image that cannot be read raises :class:`BadImageError` naming the file,
    or, with ``skip_bad_images``, makes the mapper return ``None`` (skip) with a warning.

    ``num_skipped`` counts skipped images across DataLoader worker processes (shared memory).
    """

    def __init__(self, mapper: Callable[[dict], dict | None], skip_bad_images: bool = False) -> None:
        self.mapper = mapper
        self.skip_bad_images = skip_bad_images
        self._num_skipped = multiprocessing.Value("q", 0)  # created before the workers fork: shared

    @property
    def num_skipped(self) -> int:
        return int(self._num_skipped.value)

    def __call__(self, dataset_dict: dict) -> dict | None:
        try:
            return self.mapper(dataset_dict)
        except IMAGE_READ_ERRORS as exc:
            file_name = dataset_dict.get("file_name", "<record without file_name>")
            reason = f"{type(exc).__name__}: {exc}"
            if not self.skip_bad_images:
                raise BadImageError(
                    f"cannot read image {file_name} ({reason}); set DATALOADER.SKIP_BAD_IMAGES True to skip "
                    "unreadable training images"
                ) from exc
            with self._num_skipped.get_lock():
                self._num_skipped.value += 1
                count = self._num_skipped.value
        logger.warning("Skipping unreadable image %s (%s); %d skipped so far", file_name, reason, count)
        return None


class SkipNoneMapDataset(MapDataset):
    """detectron2's map-style ``MapDataset``: a record the mapper returns ``None`` for is replaced by a random
    other one. detectron2 0.6's own retry passes a set to ``random.sample`` (a TypeError since Python 3.11)."""

    def __init__(self, dataset, map_func: Callable[[dict], dict | None], seed: int = 42) -> None:
        super().__init__(dataset, map_func)
        self._skip_rng = random.Random(seed)
        self._skipped: set[int] = set()

    def __getitem__(self, idx: int):
        index = int(idx)
        while True:
            if index not in self._skipped:
                data = self._map_func(self._dataset[index])
                if data is not None:
                    return data
                self._skipped.add(index)
            if len(self._skipped) >= len(self._dataset):
                raise DatasetError(f"all {len(self._dataset)} records of the dataset were skipped as unreadable")
            index = self._skip_rng.randrange(len(self._dataset))


def dataset_dicts(names: Sequence[str], filter_empty: bool = True, **kwargs) -> list[dict]:
    """``get_detection_dataset_dicts``, with an unregistered or empty dataset raised as :class:`DatasetError`."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise DatasetError("no dataset given (DATASETS.TRAIN / DATASETS.TEST is empty)")
    registered = DatasetCatalog.list()
    unknown = [name for name in names if name not in registered]
    if unknown:
        raise DatasetError(
            f"dataset {', '.join(unknown)} is not registered: add it with DATASETS.REGISTER "
            "'name=annotations.json:image_root' or use a builtin name (graphkd.data)"
        )
    try:
        return get_detection_dataset_dicts(names, filter_empty=filter_empty, **kwargs)
    except AssertionError as exc:  # detectron2: "Dataset 'x' is empty!", "No valid data found in x."
        hint = " (images without annotations are dropped for training)" if filter_empty else ""
        raise DatasetError(f"{', '.join(names)}: no images to use: {exc}{hint}") from None


def build_train_loader(cfg: CfgNode):
    """detectron2's default train loader, with :class:`BadImageGuard` around ``DatasetMapper``."""
    dicts = dataset_dicts(
        cfg.DATASETS.TRAIN,
        filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS,
        min_keypoints=cfg.MODEL.ROI_KEYPOINT_HEAD.MIN_KEYPOINTS_PER_IMAGE if cfg.MODEL.KEYPOINT_ON else 0,
        proposal_files=cfg.DATASETS.PROPOSAL_FILES_TRAIN if cfg.MODEL.LOAD_PROPOSALS else None,
    )
    guard = BadImageGuard(DatasetMapper(cfg, is_train=True), skip_bad_images=cfg.DATALOADER.SKIP_BAD_IMAGES)
    dataset = SkipNoneMapDataset(DatasetFromList(dicts, copy=False), guard)
    return build_detection_train_loader(cfg, dataset=dataset, mapper=None)


def build_test_loader(cfg: CfgNode, dataset_name: str):
    """detectron2's test loader; an unreadable image fails with its name (skipping would bias the metrics)."""
    dicts = dataset_dicts(
        [dataset_name],
        filter_empty=False,
        proposal_files=[
            cfg.DATASETS.PROPOSAL_FILES_TEST[list(cfg.DATASETS.TEST).index(dataset_name)]
        ]
        if cfg.MODEL.LOAD_PROPOSALS
        else None,
    )
    return build_detection_test_loader(dicts, mapper=BadImageGuard(DatasetMapper(cfg, is_train=False)),
                                       num_workers=cfg.DATALOADER.NUM_WORKERS)
