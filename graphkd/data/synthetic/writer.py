"""A synthetic dataset on disk: pages rendered (in worker processes) to PNG, regions written as COCO JSON."""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from graphkd.io import atomic_write_json

from .layout import render_page
from .schema import SCHEMAS, check_schema

logger = logging.getLogger(__name__)

__all__ = ["GENERATOR_VERSION", "generate_synthetic_dataset"]

GENERATOR_VERSION = 1  # bump when the pages a seed produces change

PageResult = tuple[str, list[dict]]  # image file name, regions as {"bbox": [x, y, w, h], "category": name}


def _render_and_save(
    i: int, image_dir: Path, seed: int, size: tuple[int, int], schema: str, noise: bool
) -> PageResult:
    """Page ``i`` of a set: rendered from its own RNG, saved as PNG; returns its file name and regions."""
    img, regions = render_page(np.random.default_rng([seed, i]), size, schema, noise=noise)
    file_name = f"{i:06d}.png"
    img.save(image_dir / file_name, format="PNG", compress_level=1)
    return file_name, regions


@contextlib.contextmanager
def _rendered_pages(
    render: Callable[[int], PageResult], num_pages: int, workers: int, progress: bool, out_dir: Path
) -> Iterator[Iterable[PageResult]]:
    """Pages ``0..num_pages-1`` in order, rendered by a process pool that lives as long as the context."""
    with contextlib.ExitStack() as stack:
        if workers > 1 and num_pages > 1:
            # fork: the children only render (numpy, PIL) and need nothing re-imported
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            pool = stack.enter_context(ProcessPoolExecutor(min(workers, num_pages), mp_context=context))
            pages = pool.map(render, range(num_pages), chunksize=max(1, min(16, num_pages // (4 * workers))))
        else:
            pages = map(render, range(num_pages))
        if progress:
            try:
                from tqdm import tqdm

                pages = tqdm(pages, total=num_pages, desc=f"synthetic pages -> {out_dir}", unit="page")
            except ImportError:  # tqdm is optional here
                logger.info("generating %d synthetic pages into %s", num_pages, out_dir)
        yield pages


def _coco_records(
    pages: Iterable[PageResult], width: int, height: int, category_ids: dict[str, int]
) -> tuple[list[dict], list[dict]]:
    """COCO ``images`` and ``annotations`` of the pages, ids from 1 in page order."""
    images, annotations = [], []
    for i, (file_name, regions) in enumerate(pages):
        image_id = i + 1
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for region in regions:
            x, y, w, h = region["bbox"]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_ids[region["category"]],
                    "bbox": [x, y, w, h],
                    "area": round(w * h, 2),
                    "iscrowd": 0,
                    "segmentation": [
                        [x, y, round(x + w, 2), y, round(x + w, 2), round(y + h, 2), x, round(y + h, 2)]
                    ],
                }
            )
    return images, annotations


def _write_json_atomically(coco: dict, json_path: Path) -> None:
    """Write to a temporary sibling and rename it into place, so readers never see half a file."""
    # the pid in the temporary name: several processes may generate the same set at once
    atomic_write_json(coco, json_path, separators=(",", ":"), tmp_suffix=f".tmp{os.getpid()}")


def generate_synthetic_dataset(
    out_dir: str | Path,
    num_pages: int,
    seed: int = 0,
    size: tuple[int, int] = (600, 800),  # (width, height)
    schema: str = "publaynet",
    noise: bool = True,
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Render pages + write out_dir/annotations.json (COCO) and out_dir/images/*.png; returns the json path.

    Deterministic for a seed: page ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so the
    output does not depend on ``workers`` (processes rendering pages; default: the CPU count, at most 8;
    1 renders in this process).
    """
    check_schema(schema)
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    class_names = SCHEMAS[schema]
    category_ids = {name: i + 1 for i, name in enumerate(class_names)}
    width, height = int(size[0]), int(size[1])
    workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    render = functools.partial(
        _render_and_save,
        image_dir=image_dir,
        seed=int(seed),
        size=(width, height),
        schema=schema,
        noise=noise,
    )
    with _rendered_pages(render, num_pages, workers, progress, out_dir) as pages:
        images, annotations = _coco_records(pages, width, height, category_ids)
    coco = {
        "info": {
            "description": "GraphKD synthetic document pages",
            "generator_version": GENERATOR_VERSION,
            "schema": schema,
            "num_pages": num_pages,
            "seed": int(seed),
            "size": [width, height],
            "noise": bool(noise),
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": category_ids[n], "name": n, "supercategory": "layout"} for n in class_names],
    }
    json_path = out_dir / "annotations.json"
    _write_json_atomically(coco, json_path)
    return json_path
