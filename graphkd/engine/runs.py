"""Resumable training runs and their evaluation, shared by ``scripts/demo.py`` and ``scripts/run_experiments.py``.

Each run is a subprocess of ``scripts/train_net.py`` or ``scripts/distill.py`` (detectron2 prints progress
with an ETA); a run whose ``model_final.pth`` exists is skipped, and one with a ``last_checkpoint`` resumes.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from graphkd.io import atomic_write_json

REPO_ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)


LR_STEP_FRACTIONS = (0.75, 0.92)  # the two LR steps (x0.1 each), as fractions of the schedule


def schedule_opts(iters: int, curve_points: int = 0) -> list[str]:
    """The same schedule for every model, scaled to ``iters``: warmup, two LR steps, resumable checkpoints.

    With ``curve_points`` > 0, detectron2's EvalHook also evaluates every ``iters // curve_points`` iterations
    (the AP-vs-iteration curve of ``ap_curve``); the final evaluation happens either way.
    """
    curve = ["TEST.EVAL_PERIOD", str(max(1, iters // curve_points))] if curve_points > 0 else []
    return curve + [
        "SOLVER.MAX_ITER",
        str(iters),
        "SOLVER.STEPS",
        "({}, {})".format(*(int(iters * fraction) for fraction in LR_STEP_FRACTIONS)),
        "SOLVER.WARMUP_ITERS",
        str(max(1, min(50, iters // 10))),
        "SOLVER.CHECKPOINT_PERIOD",
        str(max(1, iters // 4)),
    ]


# The demo's schedule; the ablation defaults to it so that it reuses the demo's runs.
DEMO_ITERS = 150  # per student
DEMO_TEACHER_ITERS = 600

# The synthetic-page runs of the demo and the ablation (METHOD.md): row -> (script, config). Every distillation
# row is a leaf config on the full GraphKD config (configs/synthetic/ablation/<row>.yaml, whose comment says what
# it changes); all share one teacher.
SYNTH_CONFIGS = "configs/synthetic"  # the PubLayNet-like task; a suite's "configs" may name another task's
SYNTH_TEACHER_CONFIG = "configs/synthetic/teacher_R50.yaml"
SYNTH_GRAPHKD_CONFIG = "configs/synthetic/graphkd_R18_from_R50.yaml"
SYNTH_DSIG_CONFIG = "configs/synthetic/dsig_R18_from_R50.yaml"
ABLATION_DIR = "configs/synthetic/ablation"
_TRAIN, _DISTIL = "scripts/train_net.py", "scripts/distill.py"
ROWS: dict[str, tuple[str, str]] = {
    "teacher": (_TRAIN, SYNTH_TEACHER_CONFIG),
    "baseline": (_TRAIN, "configs/synthetic/student_R18.yaml"),
    # the no-KD student at the teacher's schedule: "GraphKD at N iterations vs no KD at 2N" (compute saved)
    "baseline_long": (_TRAIN, "configs/synthetic/student_R18.yaml"),
    # Dsig's losses value for value (its own preset: sums over images, uncapped mining, mse edges at 2.0)
    "dsig": (_DISTIL, SYNTH_DSIG_CONFIG),
    "full": (_DISTIL, SYNTH_GRAPHKD_CONFIG),
    # the light CPU student (configs/light: thinner FPN and box head, fewer test proposals), same teacher
    "light_baseline": (_TRAIN, "configs/light/student_R18_light.yaml"),
    "light_full": (_DISTIL, "configs/light/graphkd_R18light_from_R50.yaml"),
    # the paper's light pair R50 -> MobileNetV2-FPN (timm), no KD and full GraphKD
    "mnv2_baseline": (_TRAIN, "configs/synthetic/student_MNv2.yaml"),
    "mnv2_full": (_DISTIL, "configs/synthetic/graphkd_MNv2_from_R50.yaml"),
}
ROWS.update(
    {
        row: (_TRAIN if row == "thin_baseline" else _DISTIL, f"{ABLATION_DIR}/{row}.yaml")
        for row in (
            "node",
            "node_maha",
            "merge",
            "full_diag",
            "full_gt",
            "full_no_extras",
            "extras_only",
            "node_maha_edge2",
            "merge_edge2",
            "full_edge2",
            "full_diag_edge2",
            "full_gt_edge2",
            "full_fpn_low",
            "thin_baseline",
            "thin_full",
        )
    }
)
TEACHER_SCHEDULE_ROWS = {"teacher", "baseline_long"}
# The R-18 student's thinner RPN conv and box head of the thin_* rows (their YAMLs), for bench_infer.py
THIN_HEADS = ["MODEL.RPN.CONV_DIMS", "[64]", "MODEL.ROI_BOX_HEAD.FC_DIM", "256"]


# Named run lists: `run_experiments.py --suite NAME` runs (or finishes) every row of one at its schedule.
# "converged" is the study of whether GraphKD raises the student's plateau (README "Convergence"): a teacher
# that has stopped improving, students at half its schedule (and the no-KD student at the teacher's), AP
# curves from 8 evaluations per run. Its student schedule (1800) is the candidate being measured.
SUITES: dict[str, dict] = {
    "demo": {
        "iters": DEMO_ITERS,
        "teacher_iters": DEMO_TEACHER_ITERS,
        "curve_points": 0,
        "output": "output/demo",
        "rows": ["teacher", "baseline", "dsig", "node", "node_maha", "merge", "full", "full_gt", "full_diag"]
        + ["full_no_extras", "extras_only", "full_edge2"],
        "seeds_for": ["baseline", "dsig", "full", "full_edge2"],
    },
    # The schedule of issue 19's first probe (2400/1200, measured under the previous losses on another machine):
    # one session's teacher and the three rows that decide "does GraphKD beat Dsig" under the revised losses,
    # all from that one teacher (a CPU session holds all four; the converged suite does not fit one); then the
    # FPN-scale row that tests the previous losses' lead, the fast MobileNetV2 pair (issue 19 item 3), then
    # the ablation's single-seed rows at this schedule (item 2) and no KD at the teacher's schedule (item 1).
    "probe": {
        "iters": 1200,
        "teacher_iters": 2400,
        "curve_points": 4,
        "output": "output/probe",
        "rows": ["teacher", "full", "dsig", "baseline", "full_fpn_low", "mnv2_baseline", "mnv2_full"]
        + ["merge", "node", "node_maha", "full_gt", "full_diag", "baseline_long"],
        "seeds_for": ["baseline", "dsig", "full"],
    },
    # The harder task (issue 19): on the PubLayNet-like pages the no-KD R-18 given the teacher's 2400 iterations
    # reached the teacher (70.0 against 68.4), so that task cannot show a raised plateau. The DocLayNet-schema
    # pages (11 classes, many a few pixels tall) are the candidate; teacher and no-KD R-18 at the same 2400
    # iterations first (does the task separate them? measured: no, 53.5 against 57.0), then the distillation
    # rows at 1200.
    "hard_probe": {
        "iters": 1200,
        "teacher_iters": 2400,
        "curve_points": 4,
        "output": "output/hard_probe",
        "configs": "configs/synthetic_doclaynet",
        "rows": ["teacher", "baseline_long", "full", "dsig", "baseline"],
        "seeds_for": ["baseline", "dsig", "full"],
    },
    # The harder task with a teacher trained twice as long as its students (issue 19): at equal schedules the
    # from-scratch R-50 trails the R-18 (hard_probe), so the teacher gets 4800 iterations and every student
    # 2400; "baseline" at 2400 is the same command as hard_probe's baseline_long (reused when copied in).
    # Measured: teacher 64.3, baseline_long (4800) 64.9; full 63.1, dsig 62.4, no KD 57.5 (seeds 0-2); the ablation,
    # seed 0: node 62.3, node_maha 63.1 (seed 1: 63.6), merge 61.7, full_gt 62.4, full_diag 62.2 (README `hard_long`).
    "hard_long": {
        "iters": 2400,
        "teacher_iters": 4800,
        "curve_points": 4,
        "output": "output/hard_long",
        "configs": "configs/synthetic_doclaynet",
        "rows": ["teacher", "full", "dsig", "baseline", "baseline_long"]
        + ["merge", "node", "node_maha", "full_gt", "full_diag"],  # the ablation rows, one seed
        "seeds_for": ["baseline", "dsig", "full"],
    },
    "converged": {
        "iters": 1800,
        "teacher_iters": 3600,
        "curve_points": 8,
        "output": "output/converged",
        "rows": ["teacher", "baseline", "full", "dsig", "baseline_long", "node", "node_maha", "merge"]
        + ["full_gt", "full_diag", "full_edge2", "mnv2_baseline", "mnv2_full"],
        "seeds_for": ["baseline", "dsig", "full"],
    },
}


def suite_options(suite: str | None, given: dict) -> dict:
    """``run_experiments.py``'s settings: ``given`` (its flags; None = not given) over the suite's, over the
    short ablation's. The bar plot defaults to ``docs/ablation.png`` (the README's short ablation) only for
    that ablation and the demo suite; any other suite's goes to ``<output>/ablation.png``, so a long study
    never overwrites the README's figure."""
    options = {
        "rows": list(ROWS),
        "seeds_for": ["baseline", "dsig", "full", "full_edge2", "thin_baseline", "thin_full"],
        "iters": DEMO_ITERS,
        "teacher_iters": DEMO_TEACHER_ITERS,
        "curve_points": 0,
        "output": "output/demo",
        "configs": SYNTH_CONFIGS,
        **(SUITES[suite] if suite else {}),
        **{name: value for name, value in given.items() if value is not None},
    }
    if options.get("plot") is None:
        own_figure = suite in (None, "demo")
        options["plot"] = "docs/ablation.png" if own_figure else str(Path(options["output"]) / "ablation.png")
    return options


def prepare_output(output: str) -> Path:
    """What the demo and the ablation runner set up first: their log lines (which run trains, resumes or is
    skipped), ``$GRAPHKD_DATASETS`` (default ``./datasets`` of the repository) and the output folder."""
    logging.basicConfig(level=logging.WARNING, format="[%(name)s] %(message)s")
    logger.setLevel(logging.INFO)
    os.environ.setdefault("GRAPHKD_DATASETS", str(REPO_ROOT / "datasets"))
    out = (REPO_ROOT / output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


def row_of(run: str) -> str:
    """The row of a run key ``<row>_s<seed>``."""
    return run.rsplit("_s", 1)[0]


def row_seeds(row: str, seeds: list[int], seeds_for: list[str]) -> list[int]:
    """The seeds ``row`` runs with: ``seeds`` for the rows in ``seeds_for`` (never the teacher, the one run every
    student distils from), seed 0 for the others."""
    return list(seeds) if row in seeds_for and row != "teacher" else [0]


def row_config(row: str, configs: str = SYNTH_CONFIGS) -> tuple[str, str]:
    """``(script, config)`` of ``row`` on the task whose configs are under ``configs``: ``ROWS``' config with
    ``configs/synthetic/`` replaced by ``configs/`` (the same file name there). A row that has no such file
    is an error naming it, never a silent fallback to the other task's config."""
    script, config = ROWS[row]
    task = configs.rstrip("/")
    if task != SYNTH_CONFIGS:
        mapped = task + config[len(SYNTH_CONFIGS) :]
        if not config.startswith(SYNTH_CONFIGS + "/") or not (REPO_ROOT / mapped).is_file():
            raise FileNotFoundError(
                f"row {row!r} has no config for the task of {configs}: {mapped} is missing"
            )
        config = mapped
    return script, config


def row_run(
    row: str,
    seed: int,
    out: Path,
    iters: int,
    teacher_iters: int,
    curve_points: int = 0,
    configs: str = SYNTH_CONFIGS,
) -> tuple[str, Path]:
    """Train (or resume, or skip) ``row`` with ``seed`` under ``out/<row>_s<seed>``.

    The teacher is always ``out/teacher_s0`` (trained first when missing) with ``teacher_iters`` iterations;
    the students get ``iters``, except those of ``TEACHER_SCHEDULE_ROWS``, which get ``teacher_iters``.
    ``configs`` picks the task (``row_config``). Returns ``(config, final checkpoint)`` for evaluation.
    """
    script, config = row_config(row, configs)
    if row == "teacher":
        iters, seed = teacher_iters, 0
    elif row in TEACHER_SCHEDULE_ROWS:
        iters = teacher_iters
    run_opts = schedule_opts(iters, curve_points) + ["SEED", str(seed)]
    if script == _DISTIL:
        teacher = row_run("teacher", 0, out, iters, teacher_iters, curve_points, configs)[1]
        run_opts += ["TEACHER.WEIGHTS", str(teacher)]  # the config names the task's teacher_R50.yaml
    return config, train_run(script, config, out / f"{row}_s{seed}", run_opts)


def train_run(script: str, config: str, out_dir: Path, opts: list[str]) -> Path:
    """Train (or resume, or skip) one run; returns the path of its final checkpoint.

    A run trained start to finish by this call records its wall-clock time in ``train_time.json``.
    """
    final = out_dir / "model_final.pth"
    if final.exists():
        logger.info("%s: %s exists, skipping training", out_dir.name, final)
        return final
    cmd = [sys.executable, str(REPO_ROOT / script), "--config-file", str(REPO_ROOT / config)]
    resumed = (out_dir / "last_checkpoint").exists()
    if resumed:
        cmd.append("--resume")
    cmd += ["OUTPUT_DIR", str(out_dir), *opts]
    logger.info("%s: %s", out_dir.name, " ".join(cmd[1:]))
    start = time.time()
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    record = {"seconds": round(time.time() - start, 1), "resumed": resumed, "opts": opts}
    (out_dir / "train_time.json").write_text(json.dumps(record, indent=2) + "\n")
    return final


def train_minutes(out_dir: Path) -> float | None:
    """Minutes the run's training took (``train_time.json``), or None when unknown or resumed."""
    path = out_dir / "train_time.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return None if record.get("resumed") else record["seconds"] / 60


# One training iteration's CPU cost relative to the teacher's, for the demo's ETA: a no-KD R-18 iteration and a
# distilled one (which also runs the teacher's forward pass). From the 2026-12-03 probe on one machine, the medians
# of detectron2's per-iteration time (seconds_per_iteration): teacher 1.91, no-KD R-18 1.42, distilled R-18
# 1.99-2.32 s/iteration (output/probe/*/metrics.json of that session).
ITERATION_COST_VS_TEACHER = {_TRAIN: 0.75, _DISTIL: 1.15}


def seconds_per_iteration(metrics_file: Path) -> float | None:
    """The run's measured training speed: the median of detectron2's per-iteration ``time`` over its
    ``metrics.json`` (each entry is the median over its logging window), or None when the run logged none."""
    times = [record["time"] for record in metrics_records(metrics_file) if "time" in record]
    return statistics.median(times) if times else None


def estimated_minutes(teacher_seconds_per_iteration: float, rows: list[tuple[str, int]]) -> float:
    """Training minutes of ``rows`` ((row, iterations) pairs) at the teacher's measured speed, each scaled
    by its script's ``ITERATION_COST_VS_TEACHER`` (the teacher's own rows by 1; evaluations not included)."""
    cost = {row: 1.0 if row == "teacher" else ITERATION_COST_VS_TEACHER[ROWS[row][0]] for row, _ in rows}
    return sum(iters * teacher_seconds_per_iteration * cost[row] for row, iters in rows) / 60


def evaluate_run(
    config: str, weights: Path, out_dir: Path, opts: list[str] = (), num_timed: int = 20
) -> dict:
    """COCO box AP on the config's first test set, parameter count, median CPU inference ms/image and the
    run's training minutes (when ``out_dir`` recorded them)."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import DatasetCatalog, detection_utils
    from detectron2.engine import default_argument_parser

    from graphkd.config import as_plain_student
    from graphkd.inference.predictor import test_resize

    from .speed import count_parameters, inference_ms_per_image
    from .trainer import GraphKDTrainer, setup_cfg

    args = default_argument_parser().parse_args(
        [
            "--config-file",
            str(REPO_ROOT / config),
            *opts,
            "OUTPUT_DIR",
            str(out_dir),
        ]
    )
    cfg = as_plain_student(setup_cfg(args))  # the student alone: no teacher is built
    model = GraphKDTrainer.build_model(cfg)
    DetectionCheckpointer(model).load(str(weights))
    results = final_evaluation(out_dir / "metrics.json")
    if results is None:  # not evaluated at the end of training (or evaluated elsewhere): evaluate now
        tested = GraphKDTrainer.test(cfg, model)  # detectron2 unwraps the dict when there is one test set
        results = dict(tested.get(cfg.DATASETS.TEST[0], tested)["bbox"])
    if num_timed > 0:
        resize = test_resize(cfg)
        inputs = []
        for record in DatasetCatalog.get(cfg.DATASETS.TEST[0])[:num_timed]:
            image = detection_utils.read_image(record["file_name"], format=cfg.INPUT.FORMAT)
            resized = resize.get_transform(image).apply_image(image)
            tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
            inputs.append({"image": tensor, "height": image.shape[0], "width": image.shape[1]})
        results["cpu_ms_per_image"] = inference_ms_per_image(model, inputs)
    results["params_M"] = count_parameters(model) / 1e6
    minutes = train_minutes(out_dir)
    if minutes is not None:
        results["train_min"] = minutes
    return results


def metrics_records(metrics_file: Path) -> list[dict]:
    """The records of a detectron2 ``metrics.json`` (JSONWriter: one JSON object per line), in file order;
    empty when the file does not exist (the run has not logged yet)."""
    if not metrics_file.exists():
        return []
    return [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]


def final_evaluation(metrics_file: Path) -> dict | None:
    """The box AP detectron2's EvalHook logged at the run's last logged iteration, or None.

    The last iteration is read from the log itself: the schedule may have been overridden on the command
    line, so the config file's ``SOLVER.MAX_ITER`` is not the run's.
    """
    rows = metrics_records(metrics_file)
    last = max((r.get("iteration", -1) for r in rows), default=-1)
    final = [r for r in rows if r.get("iteration", -1) == last and "bbox/AP" in r]
    if not final:
        return None
    return {k[len("bbox/") :]: v for k, v in final[-1].items() if k.startswith("bbox/")}


def ap_curve(metrics_file: Path) -> list[dict]:
    """Every evaluation detectron2's EvalHook logged in ``metrics.json``, in iteration order: ``{"iteration": i,
    "AP": ..., "AP-<class>": ...}`` (iteration as logged, i.e. the 0-based index of the last trained step)."""
    points = {}
    for record in metrics_records(metrics_file):
        if "bbox/AP" in record:  # a resumed run may log one iteration twice: the later line wins
            points[record["iteration"]] = {
                k[len("bbox/") :]: v for k, v in record.items() if k.startswith("bbox/")
            }
    return [{"iteration": i, **points[i]} for i in sorted(points)]


def plateau_gains(curve: list[dict]) -> dict[str, float | None]:
    """How much a run still gained near its end, from its AP curve (``ap_curve``), in AP points:

    - ``last_quarter``: final AP minus the AP at 75% of the schedule (the study's convergence rule);
    - ``before_step``: the AP at the first LR step minus the AP a quarter of the schedule earlier, i.e. the
      gain over the last quarter at the constant LR (a run still rising here has not plateaued);
    - ``after_step``: final AP minus the AP at the first evaluation after the first LR step.

    With the LR step at 75% (``LR_STEP_FRACTIONS``) ``last_quarter`` always holds the step's jump; the other two
    separate that jump from the trend. A gain is ``None`` when its evaluations are missing.
    """
    if not curve:
        return {"last_quarter": None, "before_step": None, "after_step": None}
    # detectron2's EvalHook logs a periodic evaluation at the index of the step it follows (k*period - 1), and
    # the final one, after training, at MAX_ITER: steps trained = iteration + 1, except for the last point
    steps = [p["iteration"] + 1 for p in curve[:-1]] + [curve[-1]["iteration"]]
    by_fraction = {round(n / steps[-1], 3): p["AP"] for n, p in zip(steps, curve, strict=True)}
    step = LR_STEP_FRACTIONS[0]

    def gain(start: float, end: float) -> float | None:
        start_ap, end_ap = by_fraction.get(round(start, 3)), by_fraction.get(round(end, 3))
        return None if start_ap is None or end_ap is None else end_ap - start_ap

    after = [fraction for fraction in sorted(by_fraction) if step < fraction < 1.0]
    return {
        "last_quarter": gain(0.75, 1.0),
        "before_step": gain(step - 0.25, step),
        "after_step": gain(after[0], 1.0) if after else None,
    }


def summarize_seeds(results: dict[str, dict], rows: list[str]) -> dict[str, dict]:
    """Per row, the mean of every float metric over its ``<row>_s<seed>`` runs, the AP half range, the seed count."""
    summary = {}
    for row in rows:
        runs = [r for key, r in results.items() if row_of(key) == row]
        if not runs:
            continue
        metrics = {k for r in runs for k, v in r.items() if isinstance(v, float)}
        aps = [r["AP"] for r in runs]
        summary[row] = {k: statistics.mean(r[k] for r in runs if k in r) for k in sorted(metrics)}
        summary[row].update(AP_spread=(max(aps) - min(aps)) / 2, seeds=len(runs))
    return summary


def cached_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def save_results(path: Path, results: dict) -> None:
    """Merge ``results`` into the file (under a lock), so that runs of the suite in parallel processes, each
    with its own rows, keep each other's entries; the file is replaced atomically."""
    import fcntl

    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = {**cached_results(path), **results}
        atomic_write_json(merged, path, indent=2)
        results.update(merged)


def markdown_table(rows: dict[str, dict], extra_columns: tuple[tuple[str, str, str], ...] = ()) -> str:
    """AP, AP50, AP75 and per-class AP of each run, plus ``(key, header, format)`` extra columns."""
    classes = sorted({k[3:] for r in rows.values() for k in r if k.startswith("AP-")})
    keys = ["AP", "AP50", "AP75", *[f"AP-{c}" for c in classes]]
    header = ["run", *keys, *[h for _, h, _ in extra_columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in rows.items():
        cells = [name] + [f"{r[k]:.1f}" if k in r else "-" for k in keys]
        cells += [format(r[k], fmt) if k in r else "-" for k, _, fmt in extra_columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
