"""Determinism: the same SEED on the CPU gives bit-identical GraphKD losses run after run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from test_engine_robustness_utils import as_opts, make_pages, run_opts, script_args

LOSSES = (
    "total_loss",
    "loss_cls",
    "loss_box_reg",
    "loss_rpn_cls",
    "loss_rpn_loc",
    "loss_graphkd_node_fg",
    "loss_graphkd_edge",
)


def first_losses(teacher, json_file, image_root, output_dir, num_iters: int = 10) -> dict[str, list[float]]:
    """The losses of the first ``num_iters`` iterations of a tiny GraphKD run with a fixed SEED."""
    from graphkd.engine.trainer import GraphKDTrainer, setup_cfg

    opts = run_opts(teacher, Path(json_file), Path(image_root), Path(output_dir))
    opts += as_opts({"SOLVER.MAX_ITER": num_iters, "DATALOADER.NUM_WORKERS": 0, "SEED": 1234})
    trainer = GraphKDTrainer(setup_cfg(script_args(opts)))  # setup_cfg seeds every RNG from SEED
    trainer.resume_or_load(resume=False)
    trainer.train()
    return {name: [value for value, _ in trainer.storage.history(name).values()] for name in LOSSES}


_IN_A_NEW_PROCESS = """
import json, sys
import torch
torch.set_num_threads(int(sys.argv[8]))
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from test_engine_robustness_determinism import first_losses
losses = first_losses((sys.argv[3], sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7])
print("LOSSES " + json.dumps(losses))
"""


@pytest.mark.slow
def test_same_seed_gives_identical_first_10_losses(tiny_teacher, tmp_path):
    json_file, image_root = make_pages(tmp_path / "pages")
    first = first_losses(tiny_teacher, json_file, image_root, tmp_path / "first")
    second = first_losses(tiny_teacher, json_file, image_root, tmp_path / "second")
    assert all(len(values) == 10 for values in first.values())
    assert first == second  # exact: no tolerance
    assert len(set(first["loss_graphkd_edge"])) > 1  # the runs did train (losses change)

    # A fresh interpreter with another hash seed (set/dict orders of strings change) gives the same numbers.
    # It needs the same number of torch threads: CPU kernels split their float reductions by thread, so the
    # last bits of a sum depend on the thread count (1 here, conftest's; 2 would differ from iteration 0).
    args = [
        str(ROOT / "tests"),
        str(Path(__file__).parent),
        *tiny_teacher,
        str(json_file),
        str(image_root),
        str(tmp_path / "third"),
        str(torch.get_num_threads()),
    ]
    result = subprocess.run(
        [sys.executable, "-c", _IN_A_NEW_PROCESS, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "4321"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("LOSSES "))
    assert json.loads(line[len("LOSSES ") :]) == first
