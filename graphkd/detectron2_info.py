"""Which detectron2 this is and whether its compiled ops are there (a leaf: imports nothing from graphkd)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["detectron2_flavour", "detectron2_has_ops", "detectron2_ops"]


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
