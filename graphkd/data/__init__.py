"""Document layout datasets: COCO loading with validation, builtin registrations, synthetic pages.

Importing this package registers, in detectron2's ``DatasetCatalog``/``MetadataCatalog`` (cheaply: no
file is read until a dataset is used), these names under ``$GRAPHKD_DATASETS`` (default ``./datasets``):

=========================================  ==========================================================
``publaynet_{train,val}``                  ``publaynet/{train,val}.json``, images ``publaynet/{train,val}/``
``doclaynet_{train,val,test}``             ``DocLayNet_core/COCO/{split}.json``, images ``DocLayNet_core/PNG/``
``prima_{train,val}``                      ``prima/{split}.json`` from ``scripts/convert_prima.py``, images ``prima/images/``
``hj_{train,val}``                         ``HJDataset/annotations/instances_{split}.json``, images ``HJDataset/{split}/``
``synth_publaynet_{train,val}``            1000 / 200 synthetic pages (seeds 0 / 1), generated on first use
                                           into ``synth_publaynet/{train,val}``
=========================================  ==========================================================

Each has metadata ``thing_classes`` (category-id order), ``thing_dataset_id_to_contiguous_id``,
``text_classes`` (METHOD §2), ``json_file``, ``image_root`` and ``evaluator_type="coco"``. Call
:func:`register_builtin_datasets` again after changing ``$GRAPHKD_DATASETS`` at run time.

Your own COCO-format dataset, three ways::

    register_layout_dataset("mine_train", "data/train.json", "data/images", text_classes=["paragraph"])
    register_from_spec("mine_train=data/train.json:data/images:paragraph,heading")
    GRAPHKD_EXTRA_DATASETS="mine_train=data/train.json:data/images;mine_val=data/val.json:data/images"

The spec is ``name=json_file:image_root[:text_class1,text_class2]``; ``$GRAPHKD_EXTRA_DATASETS`` holds
specs separated by ``;`` and is read at import. Without text classes, the text-like ones are picked by
name from the known datasets' lists. Loading validates the file (:mod:`graphkd.data.coco`) and raises
:class:`DatasetError` naming the file and record.

The synthetic generator, PRImA converter, statistics and drawing helpers need no detectron2.
"""

from __future__ import annotations

from .coco import DatasetError, load_layout_coco_json
from .synthetic import SCHEMAS, TEXT_CLASSES, generate_synthetic_dataset, render_page

try:
    import detectron2  # noqa: F401
except ImportError:  # the generator, converters and statistics work without it
    _HAS_DETECTRON2 = False
else:
    _HAS_DETECTRON2 = True
    from .catalog import (
        BUILTIN_DATASETS,
        datasets_root,
        register_builtin_datasets,
        register_extra_from_env,
        register_from_spec,
        register_layout_dataset,
        register_synthetic_dataset,
        text_class_ids,
    )

    register_builtin_datasets()
    register_extra_from_env()

__all__ = [
    "BUILTIN_DATASETS",
    "DatasetError",
    "SCHEMAS",
    "TEXT_CLASSES",
    "datasets_root",
    "generate_synthetic_dataset",
    "load_layout_coco_json",
    "register_builtin_datasets",
    "register_from_spec",
    "register_layout_dataset",
    "register_synthetic_dataset",
    "render_page",
    "text_class_ids",
]


def __getattr__(name: str):
    if name in __all__ and not _HAS_DETECTRON2:
        raise ImportError(f"graphkd.data.{name} needs detectron2, which is not installed")
    raise AttributeError(f"module 'graphkd.data' has no attribute {name!r}")
