"""Distributed runs on the CPU: two gloo processes train GraphKD with DDP and evaluate together."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from test_engine_robustness_utils import as_opts, make_pages, run_opts, script_args


def _worker(opts: list[str], eval_opts: list[str], report_dir: str) -> None:
    """One rank: a few GraphKD iterations, then --eval-only of the saved student on the validation pages."""
    from detectron2.utils import comm

    from graphkd.engine.trainer import GraphKDTrainer, run, setup_cfg

    torch.set_num_threads(1)
    rank = comm.get_rank()
    trainer = GraphKDTrainer(setup_cfg(script_args(opts)))
    trainer.resume_or_load(resume=False)
    trainer.train()
    student = trainer.model.module  # DDP-wrapped
    torch.save(
        {k: v.detach() for k, v in student.named_parameters()}, Path(report_dir) / f"params_{rank}.pth"
    )
    if comm.is_main_process():  # metrics are all-reduced onto the main process's storage
        losses = {
            k: [v for v, _ in h.values()] for k, h in trainer.storage.histories().items() if "loss" in k
        }
        (Path(report_dir) / "losses.json").write_text(json.dumps(losses))
    comm.synchronize()  # model_student.pth is written by the main process at the end of train()
    results = run(script_args(eval_opts, eval_only=True))
    if comm.is_main_process():
        (Path(report_dir) / "results.json").write_text(json.dumps(results))


@pytest.mark.slow
def test_two_cpu_processes_train_in_sync_and_evaluate_together(tiny_teacher, tmp_path):
    from detectron2.engine.launch import _find_free_port

    from graphkd.engine.launch import launch
    from graphkd.engine.trainer import run

    train_json, train_images = make_pages(tmp_path / "train", num_pages=4)
    val_json, val_images = make_pages(tmp_path / "val", num_pages=5, seed=1)  # odd: ranks get 3 and 2 pages
    out = tmp_path / "out"
    opts = run_opts(tiny_teacher, train_json, train_images, out, name="robust_ddp_train") + as_opts(
        {
            "SOLVER.MAX_ITER": 3,
            "DATASETS.REGISTER": f'("robust_ddp_train={train_json}:{train_images}", '
            f'"robust_ddp_val={val_json}:{val_images}")',
            "DATASETS.TEST": '("robust_ddp_val",)',
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST": 0.0,  # a barely trained model: keep its low-score boxes
        }
    )

    def eval_opts(output_dir: Path) -> list[str]:
        return opts + as_opts({"MODEL.WEIGHTS": out / "model_student.pth", "OUTPUT_DIR": output_dir})

    launch(
        _worker,
        2,
        dist_url=f"tcp://127.0.0.1:{_find_free_port()}",
        args=(opts, eval_opts(tmp_path / "eval_ddp"), str(tmp_path)),
    )

    params = [torch.load(tmp_path / f"params_{rank}.pth", weights_only=True) for rank in (0, 1)]
    assert params[0].keys() == params[1].keys()
    assert all(torch.equal(params[0][k], params[1][k]) for k in params[0])
    final = torch.load(out / "model_final.pth", weights_only=True)["model"]  # written by rank 0
    assert all(torch.equal(final[k], v) for k, v in params[0].items())
    losses = json.loads((tmp_path / "losses.json").read_text())
    for name in ("loss_graphkd_node_fg", "loss_graphkd_edge", "loss_cls", "total_loss"):
        assert len(losses[name]) == 3 and all(math.isfinite(v) for v in losses[name]), name

    distributed = json.loads((tmp_path / "results.json").read_text())["bbox"]
    single = run(script_args(eval_opts(tmp_path / "eval_single"), eval_only=True))["bbox"]
    assert distributed.keys() == single.keys()
    for metric, value in single.items():
        assert distributed[metric] == pytest.approx(value, abs=1e-9, nan_ok=True), metric
    ddp_predictions = torch.load(
        tmp_path / "eval_ddp/inference/robust_ddp_val/instances_predictions.pth", weights_only=False
    )
    single_predictions = torch.load(
        tmp_path / "eval_single/inference/robust_ddp_val/instances_predictions.pth", weights_only=False
    )
    assert sorted(p["image_id"] for p in ddp_predictions) == [1, 2, 3, 4, 5]  # gathered from both ranks
    assert sum(len(p["instances"]) for p in ddp_predictions) == sum(
        len(p["instances"]) for p in single_predictions
    )
    assert sum(len(p["instances"]) for p in single_predictions) > 0
