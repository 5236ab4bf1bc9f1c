"""Teacher loading: config and checkpoint formats load exactly; every mismatch raises, naming what differs."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model

from graphkd.modeling.teacher import (
    TeacherLoadError,
    build_teacher,
    load_teacher_config,
    read_checkpoint,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
TINY_TEACHER_OPTS = [
    "MODEL.FPN.OUT_CHANNELS", "32",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
    "MODEL.RPN.BATCH_SIZE_PER_IMAGE", "32",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16",
]  # fmt: skip


@pytest.fixture(scope="module")
def teacher_files(tmp_path_factory):
    """A tiny R18-FPN teacher config (3 classes), its random weights saved by detectron2, and its state."""
    root = tmp_path_factory.mktemp("teacher")
    config_file = root / "teacher.yaml"
    config_file.write_text(
        f'_BASE_: "{CONFIG_DIR / "Base-R18-FPN.yaml"}"\nMODEL:\n  ROI_HEADS:\n    NUM_CLASSES: 3\n'
    )
    cfg = load_teacher_config(str(config_file), TINY_TEACHER_OPTS)
    torch.manual_seed(0)
    model = build_model(cfg)
    DetectionCheckpointer(model, save_dir=str(root)).save("teacher_final")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return {
        "root": root,
        "config_file": config_file,
        "cfg": cfg,
        "pth": root / "teacher_final.pth",
        "state": state,
    }


def _assert_same_weights(model, state):
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_load_teacher_config_merges_file_and_opts(teacher_files):
    cfg = load_teacher_config(
        str(teacher_files["config_file"]), ["MODEL.ROI_BOX_HEAD.FC_DIM", "48"], device="cpu"
    )
    assert cfg.MODEL.RESNETS.DEPTH == 18 and cfg.MODEL.ROI_HEADS.NUM_CLASSES == 3
    assert cfg.MODEL.ROI_BOX_HEAD.FC_DIM == 48 and cfg.MODEL.DEVICE == "cpu"
    assert "TEACHER" in cfg  # GraphKD's keys are there for configs that use them


def test_load_teacher_config_missing_file_names_it(tmp_path):
    missing = tmp_path / "no_such_teacher.yaml"
    with pytest.raises(FileNotFoundError, match="no_such_teacher.yaml"):
        load_teacher_config(str(missing))


def test_load_teacher_config_rejects_non_detectron2_yaml(tmp_path):
    unknown_key = tmp_path / "not_d2.yaml"
    unknown_key.write_text("MODEL:\n  NOT_A_KEY: 1\n")
    with pytest.raises(ValueError, match=r"not_d2\.yaml.*MODEL\.NOT_A_KEY"):
        load_teacher_config(str(unknown_key))
    broken = tmp_path / "broken.yaml"
    broken.write_text("MODEL: [1, 2\n")
    with pytest.raises(ValueError, match=r"broken\.yaml"):
        load_teacher_config(str(broken))


def test_build_teacher_from_pth_is_an_exact_frozen_copy(teacher_files):
    teacher = build_teacher(teacher_files["cfg"], str(teacher_files["pth"]), expected_num_classes=3)
    _assert_same_weights(teacher, teacher_files["state"])
    assert not any(p.requires_grad for p in teacher.parameters())
    assert not any(m.training for m in teacher.modules())


def test_merged_student_teacher_checkpoint_loads_the_teacher_part(teacher_files, tmp_path):
    merged = {f"teacher.{k}": v for k, v in teacher_files["state"].items()}
    merged["backbone.bottom_up.stem.conv1.weight"] = torch.zeros(3)  # a student key: dropped
    merged["roi_heads.box_predictor.cls_score.weight"] = torch.zeros(2, 2)
    path = tmp_path / "merged.pth"
    torch.save({"model": merged, "iteration": 10}, path)
    state = read_checkpoint(str(path), teacher_part=True)["model"]
    assert set(state) == set(teacher_files["state"])
    teacher = build_teacher(teacher_files["cfg"], str(path))
    _assert_same_weights(teacher, teacher_files["state"])


def test_bare_state_dict_loads(teacher_files, tmp_path):
    path = tmp_path / "bare.pth"
    torch.save(teacher_files["state"], path)
    assert set(read_checkpoint(str(path), teacher_part=True)["model"]) == set(teacher_files["state"])


def test_detectron2_model_zoo_pkl_loads(teacher_files, tmp_path):
    path = tmp_path / "model_final.pkl"
    numpy_state = {k: v.numpy() for k, v in teacher_files["state"].items()}
    with open(path, "wb") as f:
        pickle.dump(
            {"model": numpy_state, "__author__": "Detectron2 Model Zoo", "matching_heuristics": True}, f
        )
    teacher = build_teacher(teacher_files["cfg"], str(path))
    _assert_same_weights(teacher, teacher_files["state"])


def test_missing_and_unreadable_checkpoints_are_named(teacher_files, tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        read_checkpoint(str(tmp_path / "absent.pth"), teacher_part=True)["model"]
    with pytest.raises(FileNotFoundError, match="absent.pkl"):
        build_teacher(teacher_files["cfg"], str(tmp_path / "absent.pkl"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pth"):
        read_checkpoint(str(garbage), teacher_part=True)["model"]


def test_student_class_count_mismatch_names_both_counts(teacher_files):
    with pytest.raises(TeacherLoadError, match="teacher has 3 classes.*student 5"):
        build_teacher(teacher_files["cfg"], str(teacher_files["pth"]), expected_num_classes=5)


def test_checkpoint_class_count_mismatch_names_both_counts(teacher_files):
    cfg = teacher_files["cfg"].clone()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 4
    with pytest.raises(TeacherLoadError, match="checkpoint .* has 3 classes.*config has 4"):
        build_teacher(cfg, str(teacher_files["pth"]))


@pytest.mark.parametrize(
    ("suffix", "key"),
    [
        (".pth", "roi_heads.box_head.fc2.weight"),
        (".pkl", "roi_heads.box_head.fc2.weight"),
        (".pkl", "box_head.fc2.weight"),  # a model-zoo name that detectron2 matches by suffix
    ],
)
def test_shape_mismatch_names_the_key_and_shapes(teacher_files, tmp_path, suffix, key):
    state = dict(teacher_files["state"])
    del state["roi_heads.box_head.fc2.weight"]
    state[key] = torch.zeros(64, 32)
    path = tmp_path / f"bad_shape{suffix}"
    if suffix == ".pkl":
        numpy_state = {k: v.numpy() for k, v in state.items()}
        with open(path, "wb") as f:
            pickle.dump({"model": numpy_state, "__author__": "test", "matching_heuristics": True}, f)
    else:
        torch.save({"model": state}, path)
    with pytest.raises(TeacherLoadError, match=rf"{key}: checkpoint \(64, 32\) vs model \(64, 64\)"):
        build_teacher(teacher_files["cfg"], str(path))


def test_missing_weights_are_listed_with_their_count(teacher_files, tmp_path):
    state = {k: v for k, v in teacher_files["state"].items() if not k.startswith("roi_heads.box_head.")}
    path = tmp_path / "partial.pth"
    torch.save({"model": state}, path)
    with pytest.raises(TeacherLoadError, match=r"lacks weights .*4 keys: roi_heads\.box_head\.fc1"):
        build_teacher(teacher_files["cfg"], str(path))


def test_unexpected_keys_warn_when_few_and_raise_when_many(teacher_files, tmp_path, caplog):
    state = dict(teacher_files["state"])
    state["extra.one"] = torch.zeros(1)
    path = tmp_path / "few_extra.pth"
    torch.save({"model": state}, path)
    with caplog.at_level(logging.WARNING, logger="graphkd.modeling.teacher"):
        build_teacher(teacher_files["cfg"], str(path))
    assert "extra.one" in caplog.text
    state.update({f"other_arch.layer{i}.weight": torch.zeros(1) for i in range(10)})
    torch.save({"model": state}, path)
    with pytest.raises(TeacherLoadError, match="another architecture"):
        build_teacher(teacher_files["cfg"], str(path))


def test_empty_weights_raise_unless_random_teacher_allowed(teacher_files, monkeypatch):
    monkeypatch.delenv("GRAPHKD_ALLOW_RANDOM_TEACHER", raising=False)
    with pytest.raises(TeacherLoadError, match="TEACHER.WEIGHTS is empty"):
        build_teacher(teacher_files["cfg"], "")
    monkeypatch.setenv("GRAPHKD_ALLOW_RANDOM_TEACHER", "1")
    teacher = build_teacher(teacher_files["cfg"], "")
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training


class _WritesAFileWhenUnpickled:
    """Unpickling this runs ``exec``: what a malicious checkpoint could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _malicious_checkpoint(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "teacher_evil.pth"
    torch.save({"model": {"w": torch.ones(2)}, "extra": _WritesAFileWhenUnpickled(str(marker))}, path)
    return path, marker


def test_checkpoint_needing_full_unpickling_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    from graphkd.modeling.teacher import TRUST_ENV, UntrustedCheckpointError, read_checkpoint

    monkeypatch.delenv(TRUST_ENV, raising=False)
    path, marker = _malicious_checkpoint(tmp_path)
    with pytest.raises(UntrustedCheckpointError) as info:
        read_checkpoint(str(path))
    message = str(info.value)
    assert str(path) in message and TRUST_ENV in message and "--trust-checkpoint" in message
    assert not marker.exists()


def test_checkpoint_needing_full_unpickling_loads_with_the_opt_in(tmp_path, monkeypatch, caplog):
    from graphkd.modeling.teacher import TRUST_ENV, read_checkpoint

    monkeypatch.setenv(TRUST_ENV, "1")
    path, marker = _malicious_checkpoint(tmp_path)
    with caplog.at_level("WARNING", logger="graphkd.modeling.teacher"):
        checkpoint = read_checkpoint(str(path))
    assert torch.equal(checkpoint["model"]["w"], torch.ones(2))
    assert marker.exists()  # the opt-in really is full unpickling
    assert "full unpickling" in caplog.text and str(path) in caplog.text


def test_plain_tensor_checkpoint_loads_without_the_opt_in(tmp_path, monkeypatch):
    from graphkd.modeling.teacher import TRUST_ENV, read_checkpoint

    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = tmp_path / "plain.pth"
    torch.save({"model": {"w": torch.arange(3.0)}, "iteration": 7}, path)
    checkpoint = read_checkpoint(str(path))
    assert torch.equal(checkpoint["model"]["w"], torch.arange(3.0)) and checkpoint["iteration"] == 7
