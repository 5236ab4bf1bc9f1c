"""Shared fixtures: tiny detectron2 configs and inputs that build and run in well under a second on a CPU."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# Shrinks a document-layout Faster R-CNN to something a unit test can train on the CPU.
TINY_OPTS = [
    "MODEL.DEVICE",
    "cpu",
    "MODEL.FPN.OUT_CHANNELS",
    32,
    "MODEL.ROI_BOX_HEAD.FC_DIM",
    64,
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE",
    64,
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN",
    300,
    "MODEL.RPN.POST_NMS_TOPK_TRAIN",
    100,
    "MODEL.RPN.PRE_NMS_TOPK_TEST",
    100,
    "MODEL.RPN.POST_NMS_TOPK_TEST",
    50,
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE",
    64,
    "MODEL.ROI_HEADS.NUM_CLASSES",
    5,
    "DATASETS.TRAIN",
    (),
    "DATASETS.TEST",
    (),
]


def tiny_cfg(base: str = "configs/Base-R18-FPN.yaml", extra: list | None = None):
    """A detectron2+GraphKD config from a repo config file with TINY_OPTS and ``extra`` applied."""
    from graphkd.config import get_graphkd_cfg

    cfg = get_graphkd_cfg()
    cfg.merge_from_file(str(ROOT / base))
    cfg.merge_from_list([str(v) if not isinstance(v, str) else v for v in TINY_OPTS + list(extra or [])])
    return cfg


def write_cfg(cfg, path: Path) -> str:
    path.write_text(cfg.dump())
    return str(path)


def random_page_inputs(num_images: int = 2, height: int = 128, width: int = 160, seed: int = 0) -> list[dict]:
    """detectron2 model inputs: random images with a few page-like GT boxes of classes 0..4."""
    from detectron2.structures import Boxes, Instances

    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for i in range(num_images):
        image = torch.randint(0, 255, (3, height, width), generator=generator, dtype=torch.uint8)
        boxes = torch.tensor(
            [[10, 10, 150, 30], [10, 40, 75, 120], [85, 40, 150, 70], [85, 75, 150, 120]], dtype=torch.float32
        )[: 3 + i % 2]
        instances = Instances((height, width))
        instances.gt_boxes = Boxes(boxes)
        instances.gt_classes = torch.tensor([1, 0, 3, 0])[: len(boxes)]
        inputs.append({"image": image.float(), "instances": instances, "height": height, "width": width})
    return inputs


@pytest.fixture
def tiny_teacher(tmp_path, monkeypatch):
    """A tiny R-18-FPN teacher (64 FPN channels) saved as a checkpoint: (config path, weights path)."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    torch.manual_seed(0)
    cfg = tiny_cfg(extra=["MODEL.FPN.OUT_CHANNELS", 64])
    model = build_model(cfg)
    weights = tmp_path / "teacher.pth"
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("teacher")
    return write_cfg(cfg, tmp_path / "teacher.yaml"), str(weights)


def assert_teacher_outside_and_frozen(model) -> None:
    """A GraphKD model's teacher: not in its state dict or parameters, frozen, kept in eval mode by
    ``model.train()``; the 1x1 adapter exists (the tiny students have 32 channels, the tiny teacher 64)."""
    teacher = model.teacher
    assert not any(k.startswith("teacher") for k in model.state_dict())
    assert all(p.requires_grad is False for p in teacher.parameters())
    assert not {id(p) for p in model.parameters()} & {id(p) for p in teacher.parameters()}
    model.train()
    assert not teacher.training
    assert model.distiller.adapter is not None


def assert_graph_gradients_reach_student_only(model) -> None:
    """Two SGD steps on the graph losses alone: gradients reach the student's stem and the adapter; the
    teacher's weights and BN buffers stay as they were."""
    from detectron2.utils.events import EventStorage

    model.train()
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with EventStorage():
        for _ in range(2):
            losses = model(random_page_inputs())
            optimizer.zero_grad()
            (losses["loss_graphkd_node_fg"] + losses["loss_graphkd_edge"]).backward()
            assert model.backbone.bottom_up.stem.conv1.weight.grad.abs().sum() > 0
            assert model.distiller.adapter.weight.grad.abs().sum() > 0
            optimizer.step()
    after = model.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN buffers included


@pytest.fixture(autouse=True)
def _quiet_threads():
    # Unit-test tensors are tiny: one thread is as fast, and spinning worker threads on a shared 2-core
    # machine made small convolutions ~30x slower. Subprocess tests (scripts) keep torch's default.
    torch.set_num_threads(1)
    yield


def pytest_configure(config):
    """Under mutmut (``make mutation``), one temporary folder per test process, removed when it ends.

    mutmut runs every mutant's tests in a process forked from one that has imported the suite; pytest's numbered
    ``pytest-of-<user>/pytest-N`` folders of those processes were never removed, and 250 of them (45-930 MB
    each: tiny teachers, generated pages) filled the disk twice. Each process now writes under
    ``$TMPDIR/graphkd-mutmut/<pid>``, removed at the end of its session, and folders of processes that died
    first are removed by the next one.
    """
    if not os.environ.get("MUTANT_UNDER_TEST") or config.option.basetemp:
        return
    root = Path(tempfile.gettempdir()) / "graphkd-mutmut"
    root.mkdir(exist_ok=True)
    for folder in root.iterdir():
        if folder.name.isdigit() and not _process_alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    basetemp = root / str(os.getpid())
    config.option.basetemp = str(basetemp)
    config.add_cleanup(lambda: shutil.rmtree(basetemp, ignore_errors=True))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
