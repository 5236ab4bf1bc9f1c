"""Register layout datasets in detectron2's ``DatasetCatalog`` / ``MetadataCatalog``.

Builtin names resolve under ``$GRAPHKD_DATASETS`` (default ``./datasets``) when
:func:`register_builtin_datasets` runs (at ``import graphkd.data``); nothing is read until a dataset is
used, and a missing one then names the path it looked for and how to get the data.

Extra datasets without Python: ``GRAPHKD_EXTRA_DATASETS="name=json_file:image_root[:text1,text2];..."``
is read at import (see :func:`register_from_spec`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from detectron2.data import DatasetCatalog, MetadataCatalog

from . import synthetic
from .classes import (
    DOCLAYNET_CLASSES,
    DOCLAYNET_TEXT_CLASSES,
    HJ_CLASSES,
    HJ_TEXT_CLASSES,
    PRIMA_CLASSES,
    PRIMA_TEXT_CLASSES,
    PUBLAYNET_CLASSES,
    PUBLAYNET_TEXT_CLASSES,
    default_text_classes,
)
from .coco import category_mapping, load_layout_coco_json, read_coco_json
from .errors import DatasetError

logger = logging.getLogger(__name__)

__all__ = [
    "BUILTIN_DATASETS",
    "DATASETS_ENV",
    "EXTRA_DATASETS_ENV",
    "datasets_root",
    "default_text_classes",
    "ensure_synthetic",
    "register_builtin_datasets",
    "register_from_spec",
    "register_layout_dataset",
    "register_synthetic_dataset",
    "text_class_ids",
]

DATASETS_ENV = "GRAPHKD_DATASETS"
EXTRA_DATASETS_ENV = "GRAPHKD_EXTRA_DATASETS"

# family -> (class names in category-id order 1..N, text classes, how to get the data)
_FAMILIES: dict[str, tuple[list[str], list[str], str]] = {
    "publaynet": (
        PUBLAYNET_CLASSES,
        PUBLAYNET_TEXT_CLASSES,
        "download publaynet.tar.gz from https://github.com/ibm-aur-nlp/PubLayNet and extract it into {root}",
    ),
    "doclaynet": (
        DOCLAYNET_CLASSES,
        DOCLAYNET_TEXT_CLASSES,
        "download DocLayNet_core.zip from https://github.com/DS4SD/DocLayNet and extract it into "
        "{root}/DocLayNet_core",
    ),
    "prima": (
        PRIMA_CLASSES,
        PRIMA_TEXT_CLASSES,
        "download the PRImA Layout Analysis Dataset (https://www.primaresearch.org/datasets/Layout_Analysis), "
        "put its images in {root}/prima/images and run: python scripts/convert_prima.py --pages XML_DIR "
        "--images {root}/prima/images --out {root}/prima",
    ),
    "hj": (
        HJ_CLASSES,
        HJ_TEXT_CLASSES,
        "request HJDataset (https://dell-research-harvard.github.io/HJDataset/) and place its COCO files as "
        "{root}/HJDataset/annotations/instances_{{train,val}}.json with images in {root}/HJDataset/{{train,val}}/",
    ),
}

# name -> (family, json file, image root), paths relative to $GRAPHKD_DATASETS
BUILTIN_DATASETS: dict[str, tuple[str, str, str]] = {
    "publaynet_train": ("publaynet", "publaynet/train.json", "publaynet/train"),
    "publaynet_val": ("publaynet", "publaynet/val.json", "publaynet/val"),
    "doclaynet_train": ("doclaynet", "DocLayNet_core/COCO/train.json", "DocLayNet_core/PNG"),
    "doclaynet_val": ("doclaynet", "DocLayNet_core/COCO/val.json", "DocLayNet_core/PNG"),
    "doclaynet_test": ("doclaynet", "DocLayNet_core/COCO/test.json", "DocLayNet_core/PNG"),
    "prima_train": ("prima", "prima/train.json", "prima/images"),
    "prima_val": ("prima", "prima/val.json", "prima/images"),
    "hj_train": ("hj", "HJDataset/annotations/instances_train.json", "HJDataset/train"),
    "hj_val": ("hj", "HJDataset/annotations/instances_val.json", "HJDataset/val"),
}

# name -> (subdirectory, pages, seed, schema) of the builtin synthetic sets. The DocLayNet-schema pages (11
# classes, many of them a few pixels tall at the CPU configs' 256x341) are the harder task of
# configs/synthetic_doclaynet (issue 19's candidate for separating the R-18 from the R-50; at 2400 iterations
# from scratch it did not: README, "A harder task")
BUILTIN_SYNTHETIC: dict[str, tuple[str, int, int, str]] = {
    "synth_publaynet_train": ("synth_publaynet/train", 1000, 0, "publaynet"),
    "synth_publaynet_val": ("synth_publaynet/val", 200, 1, "publaynet"),
    "synth_doclaynet_train": ("synth_doclaynet/train", 1000, 0, "doclaynet"),
    "synth_doclaynet_val": ("synth_doclaynet/val", 200, 1, "doclaynet"),
}


def datasets_root() -> Path:
    """``$GRAPHKD_DATASETS``, default ``./datasets``."""
    return Path(os.environ.get(DATASETS_ENV, "datasets"))


def _register(name: str, loader: Callable[[], list[dict]], **metadata: object) -> None:
    """(Re-)register ``name``: replaces an existing registration and its metadata."""
    if name in DatasetCatalog:
        DatasetCatalog.remove(name)
    if name in MetadataCatalog:
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, loader)
    MetadataCatalog.get(name).set(
        evaluator_type="coco", **{k: v for k, v in metadata.items() if v is not None}
    )


def register_layout_dataset(
    name: str,
    json_file: str | Path,
    image_root: str | Path,
    text_classes: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> None:
    """Register a COCO-format layout dataset; nothing is read until it is used.

    Without ``class_names`` the classes are the file's categories in id order, set in the metadata on
    first load (or by :func:`text_class_ids`). Without ``text_classes`` the text-like ones are picked by
    name (METHOD §2). Re-registering a name replaces it.
    """
    json_file, image_root = str(json_file), str(image_root)
    if class_names is not None and text_classes is None:
        text_classes = default_text_classes(class_names)
    if class_names is not None and text_classes is not None:
        unknown = [t for t in text_classes if t not in class_names]
        if unknown:
            raise ValueError(
                f"dataset {name!r}: text classes {unknown} are not among its classes {list(class_names)}"
            )
    _register(
        name,
        partial(load_layout_coco_json, json_file, image_root, name),
        json_file=json_file,
        image_root=image_root,
        thing_classes=list(class_names) if class_names is not None else None,
        text_classes=list(text_classes) if text_classes is not None else None,
    )


def _load_builtin(name: str, json_file: Path, image_root: Path, how_to: str) -> list[dict]:
    root = datasets_root()
    if not json_file.is_file():
        raise DatasetError(
            f"dataset {name!r}: {json_file} not found ($GRAPHKD_DATASETS={root}); to get it: {how_to}"
        )
    if not image_root.is_dir():
        raise DatasetError(f"dataset {name!r}: image folder {image_root} not found; to get it: {how_to}")
    return load_layout_coco_json(json_file, image_root, name)


def register_builtin_datasets(root: str | Path | None = None) -> None:
    """(Re-)register the builtin datasets under ``root`` (default ``$GRAPHKD_DATASETS``); reads no files."""
    root = Path(root) if root is not None else datasets_root()
    for name, (family, json_rel, image_rel) in BUILTIN_DATASETS.items():
        classes, text, how_to = _FAMILIES[family]
        json_file, image_root = root / json_rel, root / image_rel
        _register(
            name,
            partial(_load_builtin, name, json_file, image_root, how_to.format(root=root)),
            json_file=str(json_file),
            image_root=str(image_root),
            thing_classes=list(classes),
            thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(classes))},
            text_classes=list(text),
        )
    for name, (subdir, pages, seed, schema) in BUILTIN_SYNTHETIC.items():
        register_synthetic_dataset(name, root / subdir, pages, seed, schema=schema)


# --- synthetic ----------------------------------------------------------------------------------------


def _synthetic_info(num_pages: int, seed: int, size: Sequence[int], schema: str, noise: bool) -> dict:
    return {
        "generator_version": synthetic.GENERATOR_VERSION,
        "schema": schema,
        "num_pages": int(num_pages),
        "seed": int(seed),
        "size": [int(size[0]), int(size[1])],
        "noise": bool(noise),
    }


def _synthetic_is_current(root: Path, want: dict) -> bool:
    json_file = root / "annotations.json"
    if not json_file.is_file():
        return False
    try:
        with open(json_file) as f:
            info = json.load(f).get("info", {})
    except (OSError, json.JSONDecodeError):
        return False
    return all(info.get(k) == v for k, v in want.items())


def ensure_synthetic(
    root: str | Path,
    num_pages: int,
    seed: int,
    size: tuple[int, int] = (600, 800),
    schema: str = "publaynet",
    noise: bool = True,
) -> Path:
    """Generate the synthetic set into ``root`` unless it is already there with the same parameters.

    Generation goes to a temporary sibling folder that is renamed into place, so concurrent processes
    (one per GPU) never see a half-written set.
    """
    root = Path(root)
    want = _synthetic_info(num_pages, seed, size, schema, noise)
    if _synthetic_is_current(root, want):
        return root / "annotations.json"
    if root.exists():
        logger.warning("%s holds a different synthetic set; regenerating it with %s", root, want)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    synthetic.generate_synthetic_dataset(
        tmp, num_pages, seed, tuple(size), schema, noise=noise, progress=True
    )
    if _synthetic_is_current(root, want):  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
        return root / "annotations.json"
    if root.exists():
        old = root.parent / f".{root.name}.old{os.getpid()}"
        os.rename(root, old)
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(tmp, root)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not _synthetic_is_current(root, want):
            raise
    return root / "annotations.json"


def _load_synthetic(
    name: str, root: Path, num_pages: int, seed: int, size: tuple[int, int], schema: str, noise: bool
) -> list[dict]:
    json_file = ensure_synthetic(root, num_pages, seed, size, schema, noise)
    return load_layout_coco_json(json_file, root / "images", name)


def register_synthetic_dataset(
    name: str,
    root: str | Path,
    num_pages: int,
    seed: int,
    size: tuple[int, int] = (600, 800),
    schema: str = "publaynet",
    noise: bool = True,
) -> None:
    """Register a synthetic set that is generated into ``root`` on first use (progress bar) and cached."""
    if schema not in synthetic.SCHEMAS:
        raise ValueError(f"unknown schema {schema!r}; expected one of {sorted(synthetic.SCHEMAS)}")
    root = Path(root)
    classes = synthetic.SCHEMAS[schema]
    _register(
        name,
        partial(_load_synthetic, name, root, num_pages, seed, tuple(size), schema, noise),
        json_file=str(root / "annotations.json"),
        image_root=str(root / "images"),
        thing_classes=list(classes),
        thing_dataset_id_to_contiguous_id={i + 1: i for i in range(len(classes))},
        text_classes=list(synthetic.TEXT_CLASSES[schema]),
    )


# --- specs and text classes ---------------------------------------------------------------------------


def register_from_spec(spec: str) -> str:
    """Register ``"name=json_file:image_root[:text_class1,text_class2]"``; returns the name."""
    name, sep, rest = spec.strip().partition("=")
    parts = rest.split(":")
    if not sep or not name.strip() or len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError(f"bad dataset spec {spec!r}; expected 'name=json_file:image_root[:text1,text2]'")
    text = [t.strip() for t in parts[2].split(",") if t.strip()] if len(parts) == 3 else None
    register_layout_dataset(name.strip(), parts[0], parts[1], text_classes=text)
    return name.strip()


def register_extra_from_env() -> list[str]:
    """Register every spec in ``$GRAPHKD_EXTRA_DATASETS`` (semicolon-separated)."""
    value = os.environ.get(EXTRA_DATASETS_ENV, "")
    names = []
    for spec in value.split(";"):
        if spec.strip():
            try:
                names.append(register_from_spec(spec))
            except ValueError as e:
                raise ValueError(f"${EXTRA_DATASETS_ENV}: {e}") from e
    return names


def text_class_ids(dataset_name: str) -> list[int]:
    """Contiguous ids of the dataset's text-like classes (metadata ``text_classes``)."""
    meta = MetadataCatalog.get(dataset_name)
    if meta.get("thing_classes") is None:
        json_file = meta.get("json_file")
        if json_file is None:
            raise KeyError(f"dataset {dataset_name!r} has no thing_classes or json_file in its metadata")
        names, id_map = category_mapping(json_file, read_coco_json(json_file), None)
        meta.set(thing_classes=names, thing_dataset_id_to_contiguous_id=id_map)
        if meta.get("text_classes") is None:  # set together with the class names, as on first load
            meta.text_classes = default_text_classes(names)
    classes = list(meta.thing_classes)
    text = meta.get("text_classes")
    if text is None:
        text = default_text_classes(classes)
        meta.text_classes = text
    unknown = [t for t in text if t not in classes]
    if unknown:
        raise DatasetError(f"dataset {dataset_name!r}: text classes {unknown} are not among {classes}")
    return [classes.index(t) for t in text]
