"""Reusing the evaluation a training run logged at its end (demo and ablation runner)."""

import json

import pytest

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
    config, weights = runs.row_run("full", 1, tmp_path, iters=200, teacher_iters=600)
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
    # an ablation row is its leaf config with the same schedule opts, nothing else
    calls.clear()
    node_config, _ = runs.row_run("node", 0, tmp_path, iters=200, teacher_iters=600)
    assert node_config == calls[-1][1] == "configs/synthetic/ablation/node.yaml"
    seed_at = s_opts.index("SEED") + 1
    assert calls[-1][3] == s_opts[:seed_at] + ["0"] + s_opts[seed_at + 1 :]  # full_s1's opts at seed 0
    # the Dsig row is its own preset, unchanged
    calls.clear()
    dsig_config, _ = runs.row_run("dsig", 0, tmp_path, iters=200, teacher_iters=600)
    assert dsig_config == runs.SYNTH_DSIG_CONFIG and calls[-1][1] == runs.SYNTH_DSIG_CONFIG
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


def test_seconds_per_iteration_reads_detectron2s_iteration_timer(tmp_path):
    """The speed the demo prints is what detectron2's IterationTimer logged through its JSONWriter: 40
    iterations at 1 s, 20 at 2 s, then 20 at 7 s -> windows of 20 with medians 1, 1, 2, 7 -> 1.5 s/iteration (the
    median over the run: one slow stretch does not move it; their mean would be 2.75)."""
    from detectron2.utils.events import EventStorage, JSONWriter

    from graphkd.engine.runs import seconds_per_iteration

    assert seconds_per_iteration(tmp_path / "metrics.json") is None  # no metrics.json
    writer = JSONWriter(str(tmp_path / "metrics.json"), window_size=20)
    with EventStorage(0) as storage:
        for it in range(80):
            storage.iter = it
            storage.put_scalars(time=1.0 if it < 40 else 2.0 if it < 60 else 7.0, total_loss=0.5)
            if (it + 1) % 20 == 0:
                writer.write()
        storage.iter = 80
        storage.put_scalar("bbox/AP", 12.0, smoothing_hint=False)  # an evaluation line, no time
        writer.write()
    writer.close()
    assert seconds_per_iteration(tmp_path / "metrics.json") == 1.5
    (tmp_path / "metrics.json").write_text(json.dumps({"iteration": 10, "bbox/AP": 1.0}) + "\n")
    assert seconds_per_iteration(tmp_path / "metrics.json") is None  # no timed iteration logged


def test_estimated_minutes_scale_the_teachers_speed_per_script():
    from graphkd.engine.runs import estimated_minutes

    # 150 no-KD iterations at 0.75 x 2 s, 150 distilled ones at 1.15 x 2 s: 225 + 345 s
    assert estimated_minutes(2.0, [("baseline", 150), ("full", 150)]) == pytest.approx(9.5)
    assert estimated_minutes(2.0, [("teacher", 60)]) == pytest.approx(2.0)
    assert estimated_minutes(2.0, [("node", 30), ("baseline_long", 30)]) == pytest.approx((69 + 45) / 60)
    assert estimated_minutes(2.0, []) == 0


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
    for row, (script, config) in runs.ROWS.items():
        cfg = load_teacher_config(str(runs.REPO_ROOT / config), [], device="cpu")
        assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == teacher_cfg.MODEL.ROI_HEADS.NUM_CLASSES, row
        assert cfg.DATASETS.TRAIN == teacher_cfg.DATASETS.TRAIN, row
        if script.endswith("distill.py"):
            assert cfg.TEACHER.CONFIG_FILE == runs.SYNTH_TEACHER_CONFIG, row
        else:
            assert cfg.MODEL.META_ARCHITECTURE == "GeneralizedRCNN", row


# What each ablation row changes against the config it builds on (METHOD.md's ablation, written out here):
# key -> value; every other key must equal the base's.
_NO_TEXT = {"GRAPHKD.MERGE.ENABLED": False, "GRAPHKD.SAMPLING.MODE": "none"}
_EDGE2 = {"GRAPHKD.EDGE_LOSS_WEIGHT": 2.0}
_ABLATION_DIFFS = {
    "node": {"GRAPHKD.EDGE_LOSS_WEIGHT": 0.0, **_NO_TEXT},
    "node_maha": _NO_TEXT,
    "merge": {"GRAPHKD.SAMPLING.MODE": "none"},
    "full_diag": {"GRAPHKD.EDGE_LOSS.TYPE": "mahalanobis_diag"},
    "full_gt": {"GRAPHKD.NODE_TYPE.MODE": "gt"},
    "full_no_extras": {f"GRAPHKD.EXTRAS.{k}_WEIGHT": 0.0 for k in ("FPN", "LOGIT", "BOX")},
    "extras_only": {
        "GRAPHKD.NODE_LOSS.FG_WEIGHT": 0.0,
        "GRAPHKD.NODE_LOSS.BG_WEIGHT": 0.0,
        "GRAPHKD.EDGE_LOSS_WEIGHT": 0.0,
        **_NO_TEXT,
    },
    "node_maha_edge2": {**_NO_TEXT, **_EDGE2},
    "merge_edge2": {"GRAPHKD.SAMPLING.MODE": "none", **_EDGE2},
    "full_edge2": _EDGE2,
    "full_diag_edge2": {"GRAPHKD.EDGE_LOSS.TYPE": "mahalanobis_diag", **_EDGE2},
    "full_gt_edge2": {"GRAPHKD.NODE_TYPE.MODE": "gt", **_EDGE2},
    "full_fpn_low": {"GRAPHKD.EXTRAS.FPN_WEIGHT": 0.05},
    "thin_baseline": {"MODEL.RPN.CONV_DIMS": [64], "MODEL.ROI_BOX_HEAD.FC_DIM": 256},
    "thin_full": {"MODEL.RPN.CONV_DIMS": [64], "MODEL.ROI_BOX_HEAD.FC_DIM": 256},
}


def _flat(cfg, prefix=""):
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = list(value) if isinstance(value, tuple | list) else value
    return out


def test_each_ablation_yaml_changes_exactly_its_keys():
    from graphkd.config import get_graphkd_cfg
    from graphkd.engine import runs

    yaml_rows = {row for row, (_, config) in runs.ROWS.items() if config.startswith(runs.ABLATION_DIR)}
    assert yaml_rows == set(_ABLATION_DIFFS)
    for row, expected in _ABLATION_DIFFS.items():
        leaf = get_graphkd_cfg()
        leaf.merge_from_file(str(runs.REPO_ROOT / runs.ROWS[row][1]))
        base = get_graphkd_cfg()
        base_file = (
            "configs/synthetic/student_R18.yaml" if row == "thin_baseline" else runs.SYNTH_GRAPHKD_CONFIG
        )
        base.merge_from_file(str(runs.REPO_ROOT / base_file))
        leaf_flat, base_flat = _flat(leaf), _flat(base)
        changed = {k: v for k, v in leaf_flat.items() if base_flat[k] != v}
        assert changed == expected, row


def test_the_harder_task_differs_from_the_synthetic_one_only_in_its_task_keys():
    """configs/synthetic_doclaynet: each row maps to a config there that equals the synthetic row's key for key,
    except the data, the class count (the DocLayNet schema's 11), the teacher config and the output folder; a row
    without such a config is an error naming the missing file."""
    from detectron2.data import MetadataCatalog

    import graphkd.data  # noqa: F401  (registers the builtin synthetic sets)
    from graphkd.config import get_graphkd_cfg
    from graphkd.data.classes import DOCLAYNET_CLASSES
    from graphkd.engine import runs

    hard = "configs/synthetic_doclaynet"
    assert len(DOCLAYNET_CLASSES) == 11
    for name in ("synth_doclaynet_train", "synth_doclaynet_val"):
        assert MetadataCatalog.get(name).thing_classes == list(DOCLAYNET_CLASSES), name
    # every row that a suite runs on this task (hard_probe, hard_long: the five rows and the ablation's)
    task_rows = {
        row for suite in runs.SUITES.values() if suite.get("configs") == hard for row in suite["rows"]
    }
    assert {"teacher", "baseline", "baseline_long", "full", "dsig", "merge", "full_gt"} <= task_rows
    for row in sorted(task_rows):
        script, config = runs.row_config(row, hard)
        assert script == runs.ROWS[row][0] and config == runs.ROWS[row][1].replace(
            "configs/synthetic/", hard + "/"
        )
        cfgs = []
        for path in (config, runs.ROWS[row][1]):
            cfg = get_graphkd_cfg()
            cfg.merge_from_file(str(runs.REPO_ROOT / path))
            cfgs.append(_flat(cfg))
        changed = {k: v for k, v in cfgs[0].items() if cfgs[1][k] != v}
        expected = {
            "DATASETS.TRAIN": ["synth_doclaynet_train"],
            "DATASETS.TEST": ["synth_doclaynet_val"],
            "MODEL.ROI_HEADS.NUM_CLASSES": 11,
            "OUTPUT_DIR": changed.get("OUTPUT_DIR"),
        }
        if script.endswith("distill.py"):
            expected["TEACHER.CONFIG_FILE"] = f"{hard}/teacher_R50.yaml"
        assert changed == expected, row
        assert changed["OUTPUT_DIR"].startswith("output/synthetic_doclaynet/"), row
    with pytest.raises(FileNotFoundError, match="synthetic_doclaynet/ablation/full_fpn_low.yaml"):
        runs.row_config("full_fpn_low", hard)
    assert runs.row_config("merge") == runs.ROWS["merge"]  # the default task is configs/synthetic


def test_ap_curve_lists_every_evaluation_once_in_iteration_order(tmp_path):
    from graphkd.engine.runs import ap_curve, schedule_opts

    metrics = tmp_path / "metrics.json"
    rows = [
        {"iteration": 224, "bbox/AP": 3.0, "bbox/AP-text": 5.0},
        {"iteration": 239, "total_loss": 1.0},
        {"iteration": 449, "bbox/AP": 6.0},
        {"iteration": 449, "bbox/AP": 6.5},  # a resumed run logs the iteration again: the later line wins
        {"iteration": 899, "bbox/AP": 9.0},
    ]
    metrics.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert ap_curve(metrics) == [
        {"iteration": 224, "AP": 3.0, "AP-text": 5.0},
        {"iteration": 449, "AP": 6.5},
        {"iteration": 899, "AP": 9.0},
    ]
    assert ap_curve(tmp_path / "absent.json") == []
    opts = schedule_opts(1800, curve_points=8)
    assert opts[opts.index("TEST.EVAL_PERIOD") + 1] == "225"
    assert "TEST.EVAL_PERIOD" not in schedule_opts(1800)


def test_plateau_gains_split_the_last_quarter_at_the_lr_step():
    from graphkd.engine.runs import LR_STEP_FRACTIONS, plateau_gains, schedule_opts

    # 1800 iterations evaluated every 225 as detectron2 logs them: iteration k*225-1, the last one at MAX_ITER.
    aps = [10.0, 20.0, 30.0, 40.0, 44.0, 46.0, 55.0, 55.5]  # the step at 1350 lifts 46 -> 55
    curve = [{"iteration": 225 * (i + 1) - 1, "AP": ap} for i, ap in enumerate(aps[:-1])]
    curve.append({"iteration": 1800, "AP": aps[-1]})
    gains = plateau_gains(curve)
    assert gains["last_quarter"] == pytest.approx(55.5 - 46.0)  # 1350 -> 1800
    assert gains["before_step"] == pytest.approx(46.0 - 40.0)  # 900 -> 1350, constant LR
    assert gains["after_step"] == pytest.approx(55.5 - 55.0)  # 1575 -> 1800
    opts = schedule_opts(1800)
    assert opts[opts.index("SOLVER.STEPS") + 1] == "(1350, 1656)"
    assert LR_STEP_FRACTIONS[0] == 0.75
    # the probe's 1200-iteration students evaluated every 300: 899 + 1 = 900 is 75% of 1200 exactly (counting the
    # final point's MAX_ITER as 1201 steps put 900 at 74.9% and lost every gain)
    probe = [{"iteration": i, "AP": ap} for i, ap in ((299, 44.0), (599, 53.4), (899, 57.7), (1200, 68.3))]
    gains = plateau_gains(probe)
    assert gains["last_quarter"] == pytest.approx(68.3 - 57.7)
    assert gains["before_step"] == pytest.approx(57.7 - 53.4)
    assert gains["after_step"] is None  # no evaluation between the step (900) and the end
    # a curve without the evaluations a gain needs says so instead of guessing
    sparse = plateau_gains([{"iteration": 899, "AP": 5.0}, {"iteration": 1800, "AP": 9.0}])
    assert sparse == {"last_quarter": None, "before_step": None, "after_step": None}
    assert plateau_gains([]) == {"last_quarter": None, "before_step": None, "after_step": None}


def test_every_suite_runs_known_rows_teacher_first_and_students_at_half_the_teachers_schedule():
    """A suite's run list must be runnable by row_run (known rows), train its teacher before any row that
    distils from it, seed only rows it runs, and give its students half the teacher's iterations (the
    study's "GraphKD at N vs no KD at 2N" comparison rests on that ratio)."""
    from graphkd.engine import runs

    assert {"demo", "probe", "converged"} <= set(runs.SUITES)
    for name, suite in runs.SUITES.items():
        rows = suite["rows"]
        assert set(rows) <= set(runs.ROWS), name
        assert len(set(rows)) == len(rows), name
        assert rows[0] == "teacher", name
        assert set(suite["seeds_for"]) <= set(rows), name
        assert suite["teacher_iters"] == 2 * suite["iters"] or name == "demo", name
        assert suite["output"].startswith("output/"), name
        for row in rows:  # every row has a config for the suite's task (a missing one raises, naming it)
            runs.row_config(row, suite.get("configs", runs.SYNTH_CONFIGS))
    # the demo's 600-iteration teacher trains four times as long as its 150-iteration students
    assert runs.SUITES["demo"]["teacher_iters"] == 4 * runs.SUITES["demo"]["iters"]


@pytest.mark.parametrize(
    ("args", "rc", "message"),
    [
        ([], 2, "usage: bash scripts/previous_losses.sh OUTPUT ITERS TEACHER_ITERS"),
        (["{out}", "1200", "24o0"], 2, "not a whole number: '24o0'"),
        (["{out}", "1200", "2400", "-1"], 2, "not a whole number: '-1'"),
        (["{out}", "1200", "2400"], 1, "no teacher at {out}/teacher_s0/model_final.pth"),
    ],
)
def test_previous_losses_refuses_bad_arguments_and_a_missing_teacher_before_touching_anything(
    tmp_path, args, rc, message
):
    """The previous-losses row never trains its own teacher: without OUTPUT/teacher_s0/model_final.pth it stops
    naming the file, and it creates no worktree, link or dataset copy on the way."""
    import subprocess

    from graphkd.engine.runs import REPO_ROOT

    out = tmp_path / "probe"
    had_worktree = (REPO_ROOT / ".worktrees" / "prev-losses").exists()
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "previous_losses.sh"), *(a.format(out=out) for a in args)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == rc, proc.stderr
    assert message.format(out=out) in proc.stderr
    assert not out.exists()
    assert (REPO_ROOT / ".worktrees" / "prev-losses").exists() == had_worktree


def test_only_the_short_ablation_writes_the_readmes_bar_plot():
    """A suite's bar plot goes to its own output folder: a long study (probe, converged) must not overwrite
    docs/ablation.png, the README's figure of the 150-iteration ablation; flags still win over the suite."""
    from graphkd.engine.runs import SUITES, suite_options

    unset = {"rows": None, "iters": None, "output": None, "plot": None, "seeds": [0]}
    assert suite_options(None, unset)["plot"] == "docs/ablation.png"
    assert suite_options("demo", unset)["plot"] == "docs/ablation.png"
    for suite in set(SUITES) - {"demo"}:
        options = suite_options(suite, unset)
        assert options["plot"] == f"{SUITES[suite]['output']}/ablation.png", suite
        assert options["iters"] == SUITES[suite]["iters"] and options["rows"] == SUITES[suite]["rows"], suite
    moved = suite_options("probe", {**unset, "output": "output/elsewhere", "iters": 30})
    assert (moved["plot"], moved["output"], moved["iters"]) == (
        "output/elsewhere/ablation.png",
        "output/elsewhere",
        30,
    )
    assert moved["teacher_iters"] == SUITES["probe"]["teacher_iters"]
    assert suite_options("probe", {**unset, "plot": ""})["plot"] == ""  # '' = no bar plot
    assert suite_options(None, {**unset, "plot": "x.png"})["plot"] == "x.png"


def test_readme_probe_tables_are_the_probe_results_file():
    """Every AP in the README's same-teacher probe tables (curve points, final AP, per class) is the value in
    docs/results/probe_results_2026-12-03.json, rounded: the README's numbers come from the runs' results."""
    import re

    from graphkd.data.catalog import default_text_classes
    from graphkd.data.classes import DOCLAYNET_CLASSES
    from graphkd.engine.runs import REPO_ROOT as root

    readme = root.joinpath("README.md").read_text()
    section = readme[readme.index("### Same-teacher probe") : readme.index("## How it works")]
    results = json.loads(root.joinpath("docs/results/probe_results_2026-12-03.json").read_text())
    rows = [line.split("|")[1:-1] for line in section.splitlines() if re.match(r"\| [a-z0-9_]+_s\d", line)]
    assert len(rows) >= 2 * 5
    text_like = default_text_classes(DOCLAYNET_CLASSES)  # the harder task's text-like / non-text split
    other = [c for c in DOCLAYNET_CLASSES if c not in text_like]
    assert len(text_like) == 8 and other == ["Formula", "Picture", "Table"]
    checked = 0
    for cells in rows:
        label = cells[0].strip()
        key = ("prev_losses_" if "previous losses" in label else "") + label.split()[0].rstrip(",")
        run = results[key]
        values = [c.strip().strip("*") for c in cells[1:]]
        if len(values) == 5:  # per class: text, title, list, table, figure
            expected = [run[f"AP-{c}"] for c in ("text", "title", "list", "table", "figure")]
        elif len(values) == len(DOCLAYNET_CLASSES):  # per class on the harder (DocLayNet-schema) task
            expected = [run[f"AP-{c}"] for c in DOCLAYNET_CLASSES]
        elif len(values) == 4:  # AP, mean AP of the text-like classes, of the others, Text's AP (harder task)
            means = [sum(run[f"AP-{c}"] for c in group) / len(group) for group in (text_like, other)]
            expected = [run["AP"], *means, run["AP-Text"]]
        else:  # iterations, AP @25/50/75/100%, gain, train
            curve = [point["AP"] for point in run.get("curve", [])]
            values = values[1:5]
            expected = curve[:3] + [run["AP"]] if curve else [None] * 3 + [run["AP"]]
        for shown, value in zip(values, expected, strict=True):
            if value is None:
                assert shown == "-", (key, shown)
            else:
                assert shown == f"{value:.1f}", (key, shown, value)
                checked += 1
    assert checked >= 5 * 5 + 4 * 4
    # seed tables: "| <row key>, seeds 0, 1, 2 | mean AP | half the min-max range | per-seed APs |"
    seed_rows = [
        line.split("|")[1:-1] for line in section.splitlines() if re.match(r"\| [a-z0-9_]+, seeds ", line)
    ]
    assert seed_rows
    for cells in seed_rows:
        key, seeds = cells[0].split(", seeds ")
        aps = [results[f"{key.strip()}_s{seed.strip()}"]["AP"] for seed in seeds.split(",")]
        mean, half_range = sum(aps) / len(aps), (max(aps) - min(aps)) / 2
        shown = [c.strip().strip("*") for c in cells[1:]]
        assert shown == [f"{mean:.1f}", f"{half_range:.1f}", " / ".join(f"{ap:.1f}" for ap in aps)], key


def test_row_seeds_runs_the_teacher_once_and_the_other_rows_at_seed_0():
    """Every student distils from the one teacher (seed 0); only the --seeds-for rows repeat over the seeds,
    the others run at seed 0 whatever --seeds says (the ablation's single-seed rows)."""
    from graphkd.engine.runs import row_seeds

    seeds_for = ["baseline", "full", "teacher"]
    assert row_seeds("full", [0, 1, 2], seeds_for) == [0, 1, 2]
    assert row_seeds("baseline", [1, 2], seeds_for) == [1, 2]
    assert row_seeds("teacher", [0, 1, 2], seeds_for) == [0]
    assert row_seeds("merge", [0, 1, 2], seeds_for) == [0]
    assert row_seeds("merge", [2], seeds_for) == [0]
