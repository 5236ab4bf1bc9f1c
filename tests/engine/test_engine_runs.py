"""Reusing the evaluation a training run logged at its end (demo and ablation runner)."""

import json

from graphkd.engine.runs import final_evaluation


def test_final_evaluation_is_read_at_the_last_logged_iteration(tmp_path):
    metrics = tmp_path / "metrics.json"
    rows = [
        {"iteration": 99, "total_loss": 1.0},
        {"iteration": 100, "bbox/AP": 1.5, "bbox/AP-text": 2.0},  # mid-run evaluation
        {"iteration": 299, "total_loss": 0.8},
        {"iteration": 300, "bbox/AP": 4.6, "bbox/AP-text": 13.3},  # after the last iteration
    ]
    metrics.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert final_evaluation(metrics) == {"AP": 4.6, "AP-text": 13.3}


def test_no_final_evaluation_means_none(tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps({"iteration": 100, "bbox/AP": 1.5}) + "\n" + json.dumps({"iteration": 300}) + "\n"
    )
    assert final_evaluation(metrics) is None
    assert final_evaluation(tmp_path / "missing.json") is None


def test_demo_and_ablation_runs_share_teacher_and_opts(tmp_path, monkeypatch):
    """The demo's three runs are the ablation's teacher_s0/baseline_s0/full_s0: same folders, same opts."""
    from graphkd.engine import runs

    calls = []

    def fake_train_run(script, config, out_dir, opts):
        calls.append((script, config, out_dir.name, list(opts)))
        return out_dir / "model_final.pth"

    monkeypatch.setattr(runs, "train_run", fake_train_run)
    config, weights, opts = runs.row_run("full", 1, tmp_path, iters=200, teacher_iters=600)
    assert config == runs.SYNTH_GRAPHKD_CONFIG and weights == tmp_path / "full_s1" / "model_final.pth"
    (t_script, _, t_dir, t_opts), (s_script, _, s_dir, s_opts) = calls
    assert (t_script, t_dir, s_script, s_dir) == (
        "scripts/train_net.py",
        "teacher_s0",
        "scripts/distill.py",
        "full_s1",
    )
    assert t_opts[t_opts.index("SOLVER.MAX_ITER") + 1] == "600" and t_opts[t_opts.index("SEED") + 1] == "0"
    assert s_opts[s_opts.index("SOLVER.MAX_ITER") + 1] == "200" and s_opts[s_opts.index("SEED") + 1] == "1"
    assert s_opts[s_opts.index("TEACHER.WEIGHTS") + 1] == str(tmp_path / "teacher_s0" / "model_final.pth")
    # an ablation row is the GraphKD config plus its diff, nothing else
    calls.clear()
    _, _, node_opts = runs.row_run("node", 0, tmp_path, iters=200, teacher_iters=600)
    assert node_opts == runs.ROWS["node"][2] and "GRAPHKD.EDGE_LOSS_WEIGHT" in node_opts
    assert calls[-1][1] == runs.SYNTH_GRAPHKD_CONFIG and calls[-1][3][-len(node_opts) - 2 : -2] == node_opts
    # the Dsig row is its own preset, unchanged
    calls.clear()
    dsig_config, _, dsig_opts = runs.row_run("dsig", 0, tmp_path, iters=200, teacher_iters=600)
    assert (
        dsig_config == runs.SYNTH_DSIG_CONFIG and dsig_opts == [] and calls[-1][1] == runs.SYNTH_DSIG_CONFIG
    )
    # the baseline is a plain detectron2 run: no teacher is trained or passed for it
    calls.clear()
    runs.row_run("baseline", 0, tmp_path, iters=200, teacher_iters=600)
    assert [c[2] for c in calls] == ["baseline_s0"] and "TEACHER.WEIGHTS" not in calls[0][3]


def test_train_minutes_ignores_resumed_runs(tmp_path):
    from graphkd.engine.runs import train_minutes

    assert train_minutes(tmp_path) is None
    (tmp_path / "train_time.json").write_text(json.dumps({"seconds": 90.0, "resumed": False}))
    assert train_minutes(tmp_path) == 1.5
    (tmp_path / "train_time.json").write_text(json.dumps({"seconds": 90.0, "resumed": True}))
    assert train_minutes(tmp_path) is None


def test_summarize_seeds_averages_each_row_over_its_seeds():
    from graphkd.engine.runs import summarize_seeds

    results = {
        "full_s0": {"AP": 9.0, "AP50": 24.0, "train_min": 7.0},
        "full_s1": {"AP": 7.0, "AP50": 20.0},  # resumed: no train time
        "full_diag_s0": {"AP": 5.0, "AP50": 10.0},  # another row sharing the prefix
        "baseline_s0": {"AP": 2.0, "AP50": 8.0},
    }
    summary = summarize_seeds(results, ["baseline", "full", "full_diag", "dsig"])
    assert list(summary) == ["baseline", "full", "full_diag"]  # rows without runs are left out
    assert summary["full"] == {"AP": 8.0, "AP50": 22.0, "train_min": 7.0, "AP_spread": 1.0, "seeds": 2}
    assert summary["full_diag"]["AP"] == 5.0 and summary["full_diag"]["seeds"] == 1
    assert summary["baseline"]["AP_spread"] == 0.0


def test_every_distillation_row_distils_the_shared_teacher():
    """row_run hands every distillation row teacher_s0's weights: its config must name that teacher's config,
    and its student must predict the teacher's classes."""
    from graphkd.engine import runs
    from graphkd.modeling.teacher import load_teacher_config

    teacher_cfg = load_teacher_config(str(runs.REPO_ROOT / runs.SYNTH_TEACHER_CONFIG), [], device="cpu")
    for row, (script, config, opts) in runs.ROWS.items():
        cfg = load_teacher_config(str(runs.REPO_ROOT / config), list(opts), device="cpu")
        assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == teacher_cfg.MODEL.ROI_HEADS.NUM_CLASSES, row
        assert cfg.DATASETS.TRAIN == teacher_cfg.DATASETS.TRAIN, row
        if script.endswith("distill.py"):
            assert cfg.TEACHER.CONFIG_FILE == runs.SYNTH_TEACHER_CONFIG, row
        else:
            assert cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN", row
