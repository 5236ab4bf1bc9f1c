"""Interrupted runs: atomic checkpoints, and ``scripts/distill.py --resume`` after a SIGKILL mid-run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT
from test_engine_robustness_utils import (
    GRAPHKD_CONFIG,
    as_opts,
    make_pages,
    metrics_rows,
    run_opts,
    script_args,
)
from torch import nn

from graphkd.engine.checkpoint import AtomicCheckpointer


class _Counter:
    """A checkpointable with state, like the trainer passed to the checkpointer."""

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def state_dict(self) -> dict:
        return {"value": self.value}

    def load_state_dict(self, state: dict) -> None:
        self.value = state["value"]


def test_failed_checkpoint_write_leaves_previous_checkpoint_and_tag(tmp_path, monkeypatch):
    model, counter = nn.Linear(4, 2), _Counter(1)
    checkpointer = AtomicCheckpointer(model, str(tmp_path), trainer=counter)
    checkpointer.save("model_0000001", iteration=1)
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"

    real_save = torch.save

    def save_half_then_die(data, f):  # the process dies in the middle of writing the file
        real_save(data, f)
        f.truncate(f.tell() // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", save_half_then_die)  # the one torch.save graphkd.io calls
    counter.value = 3
    with pytest.raises(KeyboardInterrupt):
        checkpointer.save("model_0000003", iteration=3)
    monkeypatch.undo()

    assert not (tmp_path / "model_0000003.pth").exists()
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"
    resumed = AtomicCheckpointer(nn.Linear(4, 2), str(tmp_path), trainer=_Counter())
    extra = resumed.resume_or_load("", resume=True)
    assert extra["iteration"] == 1 and resumed.checkpointables["trainer"].value == 1
    assert torch.equal(resumed.model.weight, model.weight)


def test_tag_is_written_after_the_checkpoint_it_names(tmp_path, monkeypatch):
    """A kill between the two writes leaves the old tag naming the old, complete checkpoint."""
    checkpointer = AtomicCheckpointer(nn.Linear(2, 2), str(tmp_path))
    checkpointer.save("model_0000001")

    def die(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpointer, "tag_last_checkpoint", die)
    with pytest.raises(KeyboardInterrupt):
        checkpointer.save("model_0000003")
    assert (tmp_path / "model_0000003.pth").exists()  # complete, merely not tagged yet
    assert checkpointer.get_checkpoint_file() == str(tmp_path / "model_0000001.pth")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last_checkpoint",
        "model_0000001.pth",
        "model_0000003.pth",
    ]


_SAVE_FOREVER = """
import sys, torch
from torch import nn
from graphkd.engine.checkpoint import AtomicCheckpointer
model = nn.Sequential(*[nn.Linear(512, 512) for _ in range(24)])  # ~25 MB: saving takes a while
checkpointer = AtomicCheckpointer(model, sys.argv[1])
iteration = 0
while True:
    with torch.no_grad():
        model[0].bias.fill_(iteration)
    checkpointer.save(f"model_{iteration:07d}", iteration=iteration)
    iteration += 1
"""


@pytest.mark.slow
def test_sigkill_while_saving_leaves_a_loadable_last_checkpoint(tmp_path):
    script = tmp_path / "save_forever.py"
    script.write_text(_SAVE_FOREVER)
    out = tmp_path / "ckpt"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        kills = 0
        deadline = time.time() + 300
        while kills == 0 and time.time() < deadline:
            partial = list(out.glob("*.pth.tmp")) if out.exists() else []
            if partial and (out / "last_checkpoint").exists():  # writing the second or a later checkpoint
                proc.send_signal(signal.SIGKILL)
                kills += 1
            time.sleep(0.005)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert kills == 1 and proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]

    name = (out / "last_checkpoint").read_text()
    state = torch.load(out / name, weights_only=True)
    assert state["iteration"] == int(name[len("model_") : -len(".pth")])
    assert torch.all(state["model"]["0.bias"] == state["iteration"])
    for finished in out.glob("model_*.pth"):  # every file under a final name is complete
        torch.load(finished, weights_only=True)
    # the leftover temporary file does not disturb the next run
    resumed = AtomicCheckpointer(nn.Sequential(*[nn.Linear(512, 512) for _ in range(24)]), str(out))
    assert resumed.resume_or_load("", resume=True)["iteration"] == state["iteration"]
    resumed.save("model_9999999", iteration=9999999)
    assert (out / "last_checkpoint").read_text() == "model_9999999.pth"


def test_trainer_checkpoints_atomically_and_resumes_iteration_lr_and_momentum(tiny_teacher, tmp_path):
    """In process: the trainer's checkpoint holds the optimizer, and resume restores all of it."""
    from graphkd.engine.trainer import GraphKDTrainer, setup_cfg

    json_file, image_root = make_pages(tmp_path / "pages", num_pages=2)
    opts = run_opts(tiny_teacher, json_file, image_root, tmp_path / "out")
    opts += as_opts({"SOLVER.MAX_ITER": 2, "SOLVER.CHECKPOINT_PERIOD": 1, "SOLVER.MOMENTUM": 0.9})
    cfg = setup_cfg(script_args(opts))
    trainer = GraphKDTrainer(cfg)
    assert isinstance(trainer.checkpointer, AtomicCheckpointer)
    trainer.resume_or_load(resume=False)
    trainer.train()
    saved = torch.load(tmp_path / "out" / "model_0000001.pth", weights_only=True)
    assert saved["iteration"] == 1 and "LRScheduler" in saved["trainer"]["hooks"]
    momentum = saved["trainer"]["_trainer"]["optimizer"]["state"]
    assert momentum and all(torch.isfinite(s["momentum_buffer"]).all() for s in momentum.values())

    resumed = GraphKDTrainer(cfg)
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 2
    assert resumed.scheduler.last_epoch == trainer.scheduler.last_epoch == 2
    assert resumed.optimizer.param_groups[0]["lr"] == trainer.optimizer.param_groups[0]["lr"]
    restored = resumed.optimizer.state_dict()["state"]
    assert restored.keys() == momentum.keys()
    assert all(torch.equal(restored[k]["momentum_buffer"], momentum[k]["momentum_buffer"]) for k in momentum)


def test_trainer_state_works_with_later_detectron2_trainer_state(tiny_teacher, tmp_path, monkeypatch):
    """Later detectron2 versions add "_trainer" in DefaultTrainer.state_dict and require it on load; ours
    saves it once and still loads checkpoints without it (detectron2 0.6's)."""
    from detectron2.engine import DefaultTrainer

    from graphkd.engine.trainer import GraphKDTrainer, setup_cfg

    def main_state_dict(self):  # detectron2 main's DefaultTrainer.state_dict / load_state_dict
        ret = super(DefaultTrainer, self).state_dict()
        ret["_trainer"] = self._trainer.state_dict()
        return ret

    def main_load_state_dict(self, state_dict):
        super(DefaultTrainer, self).load_state_dict(state_dict)
        self._trainer.load_state_dict(state_dict["_trainer"])

    monkeypatch.setattr(DefaultTrainer, "state_dict", main_state_dict, raising=False)
    monkeypatch.setattr(DefaultTrainer, "load_state_dict", main_load_state_dict, raising=False)
    json_file, image_root = make_pages(tmp_path / "pages", num_pages=2)
    cfg = setup_cfg(script_args(run_opts(tiny_teacher, json_file, image_root, tmp_path / "out")))
    trainer = GraphKDTrainer(cfg)
    state = trainer.state_dict()
    assert set(state) == {"iteration", "hooks", "_trainer"} and "optimizer" in state["_trainer"]
    trainer.load_state_dict({"iteration": 7, "hooks": state["hooks"]})  # a 0.6 checkpoint: no "_trainer"
    assert trainer.iter == 7


def _expected_lrs(opts: list[str], num_iters: int) -> list[float]:
    """The LR of iterations 0..num_iters-1 under the config's schedule, stepped without interruption."""
    from graphkd.engine.trainer import GraphKDTrainer, setup_cfg

    cfg = setup_cfg(script_args(opts))
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=cfg.SOLVER.BASE_LR)
    scheduler = GraphKDTrainer.build_lr_scheduler(cfg, optimizer)
    lrs = []
    for _ in range(num_iters):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def _distill(opts: list[str], *flags: str) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "scripts" / "distill.py"), "--config-file", str(ROOT / GRAPHKD_CONFIG)]
    return subprocess.Popen(
        [*cmd, *flags, *opts], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.mark.slow
def test_distill_killed_mid_run_resumes_at_the_checkpoint_with_the_same_lr_schedule(tiny_teacher, tmp_path):
    max_iter = 12
    out = tmp_path / "out"
    json_file, image_root = make_pages(tmp_path / "pages")
    opts = run_opts(tiny_teacher, json_file, image_root, out) + as_opts(
        {
            "SOLVER.MAX_ITER": max_iter,
            "SOLVER.CHECKPOINT_PERIOD": 2,
            "SOLVER.WARMUP_ITERS": 6,  # the LR changes at every iteration up to 6, and again at 8
            "SOLVER.STEPS": "(8,)",
            "SOLVER.GAMMA": 0.1,
        }
    )
    first = _distill(opts)
    try:
        deadline = time.time() + 400
        tag = out / "last_checkpoint"
        # kill once the checkpoint after iteration 4 is complete and tagged (the tag follows the file)
        while not (tag.exists() and tag.read_text() >= "model_0000003.pth"):
            assert first.poll() is None, f"run ended before its 4th iteration:\n{first.stdout.read()[-3000:]}"
            assert time.time() < deadline, "no checkpoint after 400 s"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    assert not (out / "model_final.pth").exists(), "the run finished before it was killed: nothing resumed"

    last = (out / "last_checkpoint").read_text()
    killed_at = torch.load(out / last, weights_only=True)["iteration"]
    assert killed_at >= 3 and killed_at % 2 == 1  # CHECKPOINT_PERIOD 2: after iterations 4, 6, ...

    second = _distill(opts, "--resume")
    log, _ = second.communicate(timeout=900)
    assert second.returncode == 0, log[-3000:]
    assert f"Starting training from iteration {killed_at + 1}" in log

    lrs = _expected_lrs(opts, max_iter)
    resumed_iters = []
    for path in [*sorted(out.glob("model_0*.pth")), out / "model_final.pth"]:
        state = torch.load(path, weights_only=True)
        if state["iteration"] <= killed_at:
            continue
        resumed_iters.append(state["iteration"])
        optimizer = state["trainer"]["_trainer"]["optimizer"]
        # after iteration i the optimizer holds the LR of iteration i + 1 (the scheduler has stepped)
        expected = lrs[state["iteration"] + 1] if state["iteration"] + 1 < max_iter else None
        if expected is not None:
            assert optimizer["param_groups"][0]["lr"] == pytest.approx(expected, rel=1e-9), path.name
    assert resumed_iters and min(resumed_iters) == killed_at + 2 and max(resumed_iters) == max_iter - 1

    rows = [row for row in metrics_rows(out) if "lr" in row]
    assert rows and all(row["iteration"] > killed_at for row in rows)  # counting continued, never restarted
    for row in rows:
        assert row["lr"] == pytest.approx(lrs[row["iteration"]], rel=1e-9), row["iteration"]
    assert (out / "model_student.pth").exists()
