"""Print the versions GraphKD runs with: ``python -m graphkd.env [--config-file CONFIG [KEY VALUE ...]]``.

With a config, also what its student and teacher are initialised from (file, keys loaded, missing, unexpected)
and which input format and normalisation each uses, as the training log says.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import sys

from graphkd.detectron2_info import detectron2_flavour, detectron2_has_ops, detectron2_ops

__all__ = ["collect_env", "detectron2_flavour", "detectron2_has_ops", "detectron2_ops", "main"]


def _version(module_name: str) -> str:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # report, never crash: this is the tool people run when something is broken
        return f"not importable ({type(exc).__name__}: {exc})"
    return str(getattr(module, "__version__", "unknown version"))


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
    from graphkd.engine.checkpoint import AtomicCheckpointer
    from graphkd.engine.setup import load_config
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
