"""scripts/inspect_graph.py and graphkd.inspection on generated pages, with a tiny random teacher and student."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import networkx as nx
import pytest
import torch
from conftest import ROOT, tiny_cfg, write_cfg
from PIL import Image

from graphkd.data.synthetic import generate_synthetic_dataset
from graphkd.inspection import format_summary, inspect_pages

SCRIPT = ROOT / "scripts" / "inspect_graph.py"
TEST_SIZE = ["INPUT.MIN_SIZE_TEST", 64, "INPUT.MAX_SIZE_TEST", 160]  # small inputs: fast on two shared cores


def graphkd_cfg(teacher_cfg: str, extra: list | None = None):
    return tiny_cfg(
        extra=[
            "MODEL.META_ARCHITECTURE",
            "GraphKDRCNN",
            "TEACHER.CONFIG_FILE",
            teacher_cfg,
            *TEST_SIZE,
            *(extra or []),
        ]
    )


@pytest.fixture(autouse=True)
def _one_thread(_quiet_threads):
    # On two cores shared with other jobs, torch's intra-op threads spin: tiny convolutions run 10-30x faster
    # on one thread (the module-scoped runs below get it from ``env``).
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Two generated 600x800 pages and a blank one with a COCO json, a wide generated page, a teacher config."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("GRAPHKD_ALLOW_RANDOM_TEACHER", "1")
        root = tmp_path_factory.mktemp("inspect")
        json_path = generate_synthetic_dataset(root / "pages", 2, seed=0, size=(600, 800))
        wide_json = generate_synthetic_dataset(root / "wide", 1, seed=3, size=(640, 260))
        blank = json_path.parent / "images" / "blank.png"
        Image.new("RGB", (150, 520), (255, 255, 255)).save(blank)
        coco = json.loads(json_path.read_text())  # the blank page is in the GT, without any box
        coco["images"].append({"id": 3, "file_name": blank.name, "width": 150, "height": 520})
        json_path.write_text(json.dumps(coco))
        teacher_cfg = write_cfg(tiny_cfg(extra=["MODEL.FPN.OUT_CHANNELS", 64]), root / "teacher.yaml")
        yield SimpleNamespace(
            root=root,
            json=json_path,
            pages=[json_path.parent / "images" / f"00000{i}.png" for i in range(2)],
            wide=wide_json.parent / "images" / "000000.png",
            blank=blank,
            teacher_cfg=teacher_cfg,
            cfg=graphkd_cfg(teacher_cfg),
        )
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def gt_run(env):
    """The two pages, the first one again and the blank page, with GT from the COCO json."""
    return inspect_pages(env.cfg, [*env.pages, env.pages[0], env.blank], env.root / "gt_run", gt=env.json)


def check_outputs(result: dict) -> dict:
    """Every file of a page exists and fits the page; returns the JSON it wrote."""
    size = (result["width"], result["height"])
    with Image.open(result["file"]) as page:
        assert page.size == size
    with Image.open(result["outputs"]["graph_png"]) as graph_png:
        assert graph_png.size == size
    with Image.open(result["outputs"]["merge_png"]) as merge_png:
        assert merge_png.size == (2 * size[0], size[1])
    with open(result["outputs"]["json"]) as handle:
        written = json.load(handle)
    assert written == json.loads(json.dumps(result))
    graph = nx.read_graphml(result["outputs"]["graphml"])
    assert graph.number_of_nodes() == written["nodes"]["before_merge"]["total"]
    assert graph.number_of_edges() == written["edges"]["adjacency_before_merge"]
    for _, attrs in graph.nodes(data=True):
        assert {"node_type", "cluster", "weight", "x0", "y0", "x1", "y1"} <= attrs.keys()
        assert (
            0 <= attrs["x0"] <= attrs["x1"] <= size[0] + 1 and 0 <= attrs["y0"] <= attrs["y1"] <= size[1] + 1
        )
    for _, _, attrs in graph.edges(data=True):
        assert {"teacher_cosine", "student_cosine"} <= attrs.keys()
    for stage in ("before_merge", "after_merge", "after_sampling"):
        counts = written["nodes"][stage]
        assert counts["text"] + counts["nontext"] + counts["background"] == counts["total"]
    assert written["nodes"]["after_merge"]["total"] <= written["nodes"]["before_merge"]["total"]
    for name in ("loss_graphkd_node_fg", "loss_graphkd_node_bg", "loss_graphkd_edge"):
        assert math.isfinite(written["losses"][name]) and written["losses"][name] >= 0
    return written


def test_gt_mode_writes_page_sized_drawings_graphml_and_json(gt_run):
    assert [result["page"] for result in gt_run] == ["000000", "000001", "000000_2", "blank"]
    for result in gt_run[:3]:
        written = check_outputs(result)
        assert written["mode"] == "gt" and written["gt_boxes"] > 0
        assert written["nodes"]["before_merge"]["text"] + written["nodes"]["before_merge"]["nontext"] > 0
        assert 0.0 <= written["type_agreement_gt"] <= 1.0
        assert written["student_random_init"] is True and written["empty"] is False
    table = format_summary(gt_run)
    assert "000000" in table and "000001" in table and "L_edge" in table


def test_gt_page_without_boxes_has_no_foreground_nodes(gt_run):
    # no positive RoI: only the teacher-mined negatives (if any) are nodes
    written = check_outputs(gt_run[3])
    assert written["gt_boxes"] == 0 and written["type_agreement_gt"] is None
    assert written["nodes"]["before_merge"]["text"] + written["nodes"]["before_merge"]["nontext"] == 0


def test_gt_mode_samples_the_same_graph_for_the_same_page(gt_run):
    first, again = gt_run[0], gt_run[2]
    assert again["nodes"] == first["nodes"] and again["edges"] == first["edges"]
    assert again["losses"] == first["losses"]


def test_without_gt_nodes_are_the_teachers_top_k(env):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    DetectionCheckpointer(build_model(tiny_cfg()), save_dir=str(env.root)).save("student")
    weights = env.root / "student.pth"
    detections = inspect_pages(env.cfg, [env.wide], env.root / "detections", weights=weights, top_k=5)[0]
    written = check_outputs(detections)
    assert written["mode"] == "teacher_detections" and written["gt"] is None
    assert 0 < written["nodes"]["before_merge"]["total"] <= 5
    assert written["nodes"]["before_merge"]["background"] == 0 and written["type_agreement_gt"] is None
    assert written["student_random_init"] is False and written["student_weights"] == str(weights)

    proposals = inspect_pages(env.cfg, [env.wide], env.root / "proposals", top_k=7, node_source="proposals")[
        0
    ]
    assert check_outputs(proposals)["nodes"]["before_merge"]["total"] == 7
    assert proposals["mode"] == "teacher_proposals" and proposals["student_random_init"] is True


def test_student_weights_load_where_detectron2_forbids_load_file_outside_load(env, monkeypatch):
    """Later detectron2 versions assert inside DetectionCheckpointer._load_file when called outside load()."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    DetectionCheckpointer(build_model(tiny_cfg()), save_dir=str(env.root)).save("student_main")

    def main_load_file(self, filename):
        raise AssertionError("`_load_file` must be called inside `load`")

    monkeypatch.setattr(DetectionCheckpointer, "_load_file", main_load_file)
    weights = env.root / "student_main.pth"
    result = inspect_pages(env.cfg, [env.wide], env.root / "main", weights=weights, top_k=3)[0]
    assert check_outputs(result)["student_random_init"] is False


def test_blank_page_where_nothing_is_found_gives_an_empty_graph(env):
    # a random teacher scores every class about 1/6: a 0.9 threshold is a teacher that finds nothing
    cfg = graphkd_cfg(env.teacher_cfg, ["TEACHER.OPTS", '["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.9"]'])
    result = inspect_pages(cfg, [env.blank], env.root / "blank")[0]
    written = check_outputs(result)
    assert written["empty"] is True and "empty" in written["note"]
    assert written["nodes"]["before_merge"]["total"] == 0 and written["edges"]["relation_pairs"] == 0
    assert all(
        written["losses"][k] == 0.0
        for k in ("loss_graphkd_node_fg", "loss_graphkd_node_bg", "loss_graphkd_edge")
    )
    assert "empty graph" in format_summary([result])


def test_dataset_pages_come_with_their_gt(env):
    from graphkd.data import register_layout_dataset

    register_layout_dataset("inspect_test_pages", env.json, env.json.parent / "images")
    results = inspect_pages(env.cfg, [], env.root / "dataset", dataset="inspect_test_pages", num_images=1)
    assert len(results) == 1 and results[0]["mode"] == "gt"
    with open(env.json) as handle:
        coco = json.load(handle)
    assert results[0]["gt_boxes"] == sum(ann["image_id"] == 1 for ann in coco["annotations"])
    check_outputs(results[0])


def test_missing_or_unmatched_input_is_named(env, capsys):
    missing = env.root / "no_such_page.png"
    with pytest.raises(FileNotFoundError, match="no_such_page.png"):
        inspect_pages(env.cfg, [env.pages[0], missing], env.root / "missing")
    unlisted = shutil.copy(env.wide, env.root / "not_in_the_gt.png")
    with pytest.raises(ValueError, match="not_in_the_gt.png"):
        inspect_pages(env.cfg, [unlisted], env.root / "missing", gt=env.json)

    spec = importlib.util.spec_from_file_location("inspect_graph_script", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    config = write_cfg(env.cfg, env.root / "missing.yaml")
    assert (
        script.main(["--config-file", config, "--input", str(missing), "--output", str(env.root / "m")]) == 2
    )
    assert "no_such_page.png" in capsys.readouterr().err


def test_script_end_to_end(env):
    config = write_cfg(env.cfg, env.root / "graphkd.yaml")
    out = env.root / "script"
    command = [
        sys.executable,
        str(SCRIPT),
        "--config-file",
        config,
        "--input",
        str(env.pages[1]),
        "--output",
        str(out),
        "--gt",
        str(env.json),
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE",
        "32",
    ]
    environment = {**os.environ, "GRAPHKD_ALLOW_RANDOM_TEACHER": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "000001" in done.stdout and "L_fg" in done.stdout
    for name in ("000001_graph.png", "000001_merge.png", "000001.graphml", "000001.json"):
        assert (out / name).is_file(), name
    with open(out / "000001.json") as handle:
        assert check_outputs(json.load(handle))["mode"] == "gt"
