"""detectron2's ``TracingAdapter`` (and ``detectron2.utils.analysis``) without detectron2's caffe2 export API.

detectron2 0.6's ``detectron2/export/__init__.py`` imports ``export/api.py``, which imports ``caffe2`` at
module level. PyTorch wheels have shipped no caffe2 since 1.10, so there ``import detectron2.export`` fails,
and with it ``detectron2.utils.analysis`` (which imports ``TracingAdapter`` from it); later detectron2
versions import caffe2 lazily. When the import fails for that reason, :func:`load_detectron2_export`
registers ``detectron2.export`` as a bare package that holds the parts needing no caffe2
(``TracingAdapter``, ``scripting_with_instances``, ``dump_torchscript_IR``); the caffe2 API
(``Caffe2Tracer``, ``export_caffe2_model``, ...) stays unavailable. A detectron2 whose ``detectron2.export``
imports is used as it is.

Importing this module registers nothing: the ``sys.modules`` entry is made by calling
:func:`load_detectron2_export` (``graphkd.inference.export.tracing_adapter`` does, before each trace).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import types

logger = logging.getLogger(__name__)

__all__ = ["load_detectron2_export"]


def load_detectron2_export() -> types.ModuleType:
    """``detectron2.export``, imported whole when possible, else without its caffe2 parts."""
    try:
        return importlib.import_module("detectron2.export")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "caffe2":
            raise
    import detectron2

    sys.modules.pop("detectron2.export", None)  # the partly initialised package of the failed import
    package = types.ModuleType(
        "detectron2.export", "detectron2.export without the caffe2 API (no caffe2 here)"
    )
    package.__path__ = [os.path.join(os.path.dirname(detectron2.__file__), "export")]
    package.__package__ = "detectron2.export"
    sys.modules["detectron2.export"] = package
    detectron2.export = package
    flatten = importlib.import_module("detectron2.export.flatten")
    torchscript = importlib.import_module("detectron2.export.torchscript")
    package.TracingAdapter = flatten.TracingAdapter
    package.scripting_with_instances = torchscript.scripting_with_instances
    package.dump_torchscript_IR = torchscript.dump_torchscript_IR
    package.__all__ = ["TracingAdapter", "scripting_with_instances", "dump_torchscript_IR"]
    logger.debug("caffe2 is not installed: loaded detectron2.export without its caffe2 API")
    return package
