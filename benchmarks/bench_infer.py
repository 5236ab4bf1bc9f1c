"""CPU inference speed, size and FLOPs: the R-50-FPN teacher vs the students (R-18-FPN standard, thin heads, light;
MobileNetV2-FPN).

    python benchmarks/bench_infer.py                      # 20 timed pages after 3 warm-up pages
    python benchmarks/bench_infer.py --num-pages 5 --warmup 1 --threads 2

Every model sees the same generated 600x800 pages, preprocessed as ``scripts/predict.py`` does (resized
to the synthetic configs' INPUT.MIN/MAX_SIZE_TEST, the same for all five), one page per call: PyTorch eager ``model([x])`` and the
TorchScript trace (``graphkd.inference.export.trace_model``) of the same model. The ten variants run
interleaved, page by page, so a busy machine slows them alike; the table gives the median wall-clock
ms/page (and pages/s) over the timed pages after the warm-up pages, and the median process CPU time per
page (all threads), which another process's load disturbs less. Weights are random (fixed seed): the cost
of the backbone, FPN, RPN and box head does not depend on them; only the final per-class NMS does, slightly,
through how many boxes pass the score threshold. FLOPs are fvcore's count on one page through detectron2's
``FlopCountAnalysis`` (one multiply-add = one flop; ops without an fvcore handle, e.g. NMS, count as zero).
Prints a markdown table. One torch thread by default: on the shared 2-core development machine, two threads
made every timing 5-10x slower and erratic (OpenMP threads waiting on each other under load), while one
thread gives wall times equal to CPU times, page after page.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from graphkd.data.synthetic import render_page
from graphkd.engine.runs import THIN_HEADS
from graphkd.engine.speed import count_parameters
from graphkd.inference import BatchPredictor, setup_inference_cfg
from graphkd.inference.export import trace_model

ROOT = Path(__file__).resolve().parents[1]
MODELS = [  # (name, config, opts)
    ("teacher R-50-FPN", "configs/synthetic/teacher_R50.yaml", []),
    ("student R-18-FPN", "configs/synthetic/student_R18.yaml", []),
    ("R-18-FPN, thin RPN + box head (rows thin_*)", "configs/synthetic/student_R18.yaml", THIN_HEADS),
    ("light student R-18-FPN", "configs/light/student_R18_light.yaml", []),
    ("student MobileNetV2-FPN (timm)", "configs/synthetic/student_MNv2.yaml", []),
]


PARTS = ("body", "FPN", "RPN", "RoI heads")  # FLOPs columns per part of a detectron2 R-CNN


def gflops(model: nn.Module, inputs: dict) -> dict[str, float]:
    """fvcore GFLOPs of one page: ``total`` and one entry per :data:`PARTS` (the FPN is the backbone minus
    its bottom-up body)."""
    from detectron2.utils.analysis import FlopCountAnalysis  # after trace_model (caffe2-free patch)

    analysis = FlopCountAnalysis(model, [inputs])
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    by_module = analysis.by_module()
    prefix = next(p for p in ("model.", "") if f"{p}backbone" in by_module)  # detectron2's wrapper names it
    body, backbone = by_module[f"{prefix}backbone.bottom_up"], by_module[f"{prefix}backbone"]
    flops = {
        "total": analysis.total(),
        "body": body,
        "FPN": backbone - body,
        "RPN": by_module[f"{prefix}proposal_generator"],
        "RoI heads": by_module[f"{prefix}roi_heads"],
    }
    return {part: value / 1e9 for part, value in flops.items()}


def build_variants(pages: list[np.ndarray]) -> tuple[dict[str, dict], dict[tuple[str, str], Callable]]:
    """Per model: size and FLOPs; per (model, "eager"|"torchscript"): a call running one preprocessed page."""
    info: dict[str, dict] = {}
    variants: dict[tuple[str, str], Callable] = {}
    for name, config, opts in MODELS:
        cfg = setup_inference_cfg(ROOT / config, opts=opts, device="cpu")
        torch.manual_seed(0)
        predictor = BatchPredictor(cfg)
        model = predictor.model
        inputs = [predictor.preprocess(page) for page in pages]
        traced, _ = trace_model(model, inputs[0]["image"])
        info[name] = {
            "params_M": count_parameters(model) / 1e6,
            "gflops": gflops(model, inputs[0]),
            "inputs": inputs,
        }
        variants[name, "eager"] = lambda x, model=model: model([x])
        variants[name, "torchscript"] = lambda x, traced=traced: traced(x["image"])
    return info, variants


@torch.no_grad()
def time_interleaved(
    info: dict[str, dict], variants: dict[tuple[str, str], Callable], warmup: int
) -> dict[tuple[str, str], dict]:
    """Median wall-clock and process-CPU ms/page of each variant; warm-up pages first, then every page."""
    num_pages = len(next(iter(info.values()))["inputs"])
    for index in range(min(warmup, num_pages)):
        for (name, _), run in variants.items():
            run(info[name]["inputs"][index])
    wall: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
    cpu: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
    for index in range(num_pages):
        for key, run in variants.items():
            x = info[key[0]]["inputs"][index]
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            run(x)
            wall[key].append((time.perf_counter() - wall_start) * 1000)
            cpu[key].append((time.process_time() - cpu_start) * 1000)
    return {
        key: {"wall_ms": statistics.median(wall[key]), "cpu_ms": statistics.median(cpu[key])}
        for key in variants
    }


def markdown_table(info: dict[str, dict], times: dict[tuple[str, str], dict]) -> str:
    header = [
        "model", "params (M)", "GFLOPs", *[f"GFLOPs {part}" for part in PARTS], "eager ms/page", "eager pages/s", "eager CPU ms/page",
        "TorchScript ms/page", "TorchScript pages/s", "TorchScript CPU ms/page", "speed-up vs teacher (eager)",
    ]  # fmt: skip
    teacher = MODELS[0][0]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, *_ in MODELS:
        eager, traced = times[name, "eager"], times[name, "torchscript"]
        cells = [
            name, f"{info[name]['params_M']:.1f}", f"{info[name]['gflops']['total']:.1f}",
            *[f"{info[name]['gflops'][part]:.2f}" for part in PARTS],
            f"{eager['wall_ms']:.0f}", f"{1000 / eager['wall_ms']:.2f}", f"{eager['cpu_ms']:.0f}",
            f"{traced['wall_ms']:.0f}", f"{1000 / traced['wall_ms']:.2f}", f"{traced['cpu_ms']:.0f}",
            f"{times[teacher, 'eager']['wall_ms'] / eager['wall_ms']:.2f}x",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-pages", type=int, default=20, help="timed pages (medians over them)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed pages per variant before timing")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: torch's default); see the module docstring",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    pages = [
        np.asarray(render_page(np.random.default_rng([7, i]), size=(600, 800))[0].convert("RGB"))
        for i in range(args.num_pages)
    ]
    info, variants = build_variants(pages)
    times = time_interleaved(info, variants, args.warmup)
    height, width = info[MODELS[0][0]]["inputs"][0]["image"].shape[1:]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"CPU inference, {args.num_pages} generated 600x800 pages resized to {width}x{height}, batch 1, "
        f"{torch.get_num_threads()} torch threads on {os.cpu_count()} cores (load average {load:.1f}), "
        f"random-init weights; medians after {args.warmup} warm-up pages, variants interleaved\n"
    )
    print(markdown_table(info, times))


if __name__ == "__main__":
    main()
