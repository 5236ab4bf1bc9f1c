"""graphkd.io: a failed write leaves the old file and no temporary one."""

import json

import pytest
import torch

from graphkd.io import atomic_open, atomic_torch_save, atomic_write_json, atomic_write_text


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_json({"AP": 1.0}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_open(path) as f:
            f.write('{"AP": 2.')
            raise RuntimeError("disk full")
    assert json.loads(path.read_text()) == {"AP": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_text_and_torch_writes_replace_the_file(tmp_path):
    atomic_write_text("old", tmp_path / "tag")
    atomic_write_text("new", tmp_path / "tag")
    assert (tmp_path / "tag").read_text() == "new"
    atomic_torch_save({"model": {"w": torch.ones(2)}}, tmp_path / "model.pth")
    loaded = torch.load(tmp_path / "model.pth", weights_only=True)
    assert torch.equal(loaded["model"]["w"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth", "tag"]
