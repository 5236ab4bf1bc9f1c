"""Print the versions GraphKD runs with: ``python -m graphkd.env [--config-file CONFIG [KEY VALUE ...]]``.

With a config, also what its student and teacher are initialised from (file, keys loaded, missing, unexpected)
and which input format and normalisation each uses, as the training log says.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import sys
from pathlib import Path


def _version(module_name: str) -> str:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # report, never crash: this is the tool people run when something is broken
        return f"not importable ({type(exc).__name__}: {exc})"
    return str(getattr(module, "__version__", "unknown version"))


def detectron2_ops() -> str:
    """Say whether detectron2's compiled C++/CUDA ops are present (the Python-only install has a stub)."""
    try:
        import detectron2
        from detectron2 import _C
    except Exception as exc:
        return f"absent ({type(exc).__name__})"
    if (Path(detectron2.__file__).parent / "_GRAPHKD_PYTHON_ONLY").exists():
        return "absent (Python-only install: scripts/install_detectron2.py; rotated/deformable ops raise)"
    return f"present ({getattr(_C, '__file__', '?')})"


def detectron2_has_ops() -> bool:
    """True when detectron2's compiled ops are importable (False for the Python-only install)."""
    return detectron2_ops().startswith("present")


def detectron2_flavour() -> str:
    """Which detectron2 this is. 0.6 and upstream main both say ``__version__ == "0.6"``, so main is told by a
    feature 0.6 lacks: ``detectron2.modeling.backbone.vit`` (ViTDet, added after the 0.6 release)."""
    try:
        import detectron2
    except Exception as exc:
        return f"not importable ({type(exc).__name__})"
    is_main = importlib.util.find_spec("detectron2.modeling.backbone.vit") is not None
    release = "main (after 0.6: has modeling.backbone.vit)" if is_main else "0.6 release"
    ops = "compiled C++ ops" if detectron2_has_ops() else "Python only, _C stand-in"
    return f"{release}, {ops} ({Path(detectron2.__file__).parent})"


def collect_env() -> list[tuple[str, str]]:
    rows = [("python", sys.version.split()[0]), ("platform", platform.platform())]
    for name in (
        "graphkd",
        "torch",
        "torchvision",
        "detectron2",
        "torch_geometric",
        "torch_scatter",
        "networkx",
        "pycocotools",
        "timm",
        "numpy",
    ):
        rows.append((name, _version(name)))
    rows.append(("detectron2 build", detectron2_flavour()))
    rows.append(("detectron2 C++ ops", detectron2_ops()))
    try:
        import torch

        cuda = torch.cuda.is_available()
        rows.append(("CUDA available", f"{cuda}" + (f" ({torch.cuda.get_device_name(0)})" if cuda else "")))
        rows.append(("torch CUDA build", str(torch.version.cuda)))
    except Exception as exc:
        rows.append(("CUDA available", f"unknown ({exc})"))
    return rows


def initialisation_rows(config_file: str, opts: list[str]) -> list[tuple[str, str]]:
    """Which weights the student (and the teacher) of ``config_file`` start from, as training would load them
    (``MODEL.WEIGHTS``, ``MODEL.TIMM.PRETRAINED_FILE``, ``TEACHER.WEIGHTS``), with keys loaded, missing and
    unexpected, and each network's input format and normalisation."""
    from graphkd.config import load_config
    from graphkd.engine.checkpoint import AtomicCheckpointer
    from graphkd.engine.trainer import GraphKDTrainer
    from graphkd.modeling.pretrained import init_reports

    cfg = load_config(config_file, opts)
    model = GraphKDTrainer.build_model(cfg)
    checkpointer = AtomicCheckpointer(model)
    checkpointer.load(cfg.MODEL.WEIGHTS)
    return [(f"init {r.network}", r.describe()) for r in init_reports(model, cfg, checkpointer.last_load)]


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config-file", default="", help="also say what the student and teacher of this config start from"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    rows = collect_env()
    if args.config_file:
        rows += initialisation_rows(args.config_file, args.opts)
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
