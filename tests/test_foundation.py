"""The installed stack: imports, detectron2's Faster R-CNN R-50-FPN on the CPU, and the detectron2 installer."""

import subprocess
import sys
from pathlib import Path

import torch
from conftest import ROOT, random_page_inputs, tiny_cfg


def test_stack_imports_and_env_report():
    result = subprocess.run([sys.executable, "-m", "graphkd.env"], capture_output=True, text=True, check=True)
    for name in ("torch", "detectron2", "torch_geometric", "torch_scatter", "networkx", "pycocotools"):
        assert name in result.stdout
    assert "not importable" not in result.stdout


def test_faster_rcnn_r50_fpn_trains_one_step_on_cpu():
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    torch.manual_seed(0)
    model = build_model(tiny_cfg("configs/Base-R50-FPN.yaml"))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    with EventStorage():
        losses = model(random_page_inputs())
    total = sum(losses.values())
    assert torch.isfinite(total)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    assert model.backbone.bottom_up.res5[0].conv1.weight.grad is not None


def test_install_detectron2_keeps_an_existing_install():
    import detectron2

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "install_detectron2.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(Path(detectron2.__file__).parent) in result.stdout
    assert "found" in result.stdout  # nothing downloaded or replaced


def test_detectron2_c_stub_fails_clearly_when_a_cpp_op_is_called():
    from graphkd.env import detectron2_has_ops

    if detectron2_has_ops():  # a compiled detectron2: nothing to check
        return
    from detectron2 import _C

    try:
        _C.nms_rotated(torch.zeros(1, 5), torch.zeros(1), 0.5)
    except ImportError as exc:
        assert "nms_rotated" in str(exc) and "Python-only" in str(exc)
    else:
        raise AssertionError("the _C stand-in accepted a C++ op call")


def test_env_names_the_detectron2_it_found():
    """0.6 and main both say __version__ 0.6: the report tells them apart by main's ViTDet backbone module,
    checked here against the installed files themselves, and says whether the C++ ops are real."""
    import detectron2

    from graphkd.env import detectron2_flavour

    package = Path(detectron2.__file__).parent
    flavour = detectron2_flavour()
    has_vit = (package / "modeling" / "backbone" / "vit.py").is_file()
    assert flavour.startswith("main") == has_vit, flavour
    is_stub = (package / "_GRAPHKD_PYTHON_ONLY").exists()
    assert ("Python only" in flavour) == is_stub and ("compiled C++ ops" in flavour) == (not is_stub)
    assert str(package) in flavour
