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
