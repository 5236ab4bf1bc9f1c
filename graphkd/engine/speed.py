"""Inference speed and size of a detectron2 model on the CPU (or the model's device)."""

from __future__ import annotations

import statistics
import time

import torch


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def inference_ms_per_image(model: torch.nn.Module, inputs: list[dict], warmup: int = 2) -> float:
    """Median wall-clock milliseconds of ``model([x])`` over ``inputs`` after ``warmup`` untimed calls."""
    model.eval()
    for x in inputs[:warmup]:
        model([x])
    times = []
    for x in inputs:
        if torch.cuda.is_available() and x["image"].is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        model([x])
        if torch.cuda.is_available() and x["image"].is_cuda:
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
