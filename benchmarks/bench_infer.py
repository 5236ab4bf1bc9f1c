"""CPU inference speed, size and FLOPs: R-50-FPN teacher vs R-18-FPN student vs the light R-18-FPN student.

    python benchmarks/bench_infer.py                      # 20 timed pages after 3 warm-up pages
    python benchmarks/bench_infer.py --num-pages 5 --warmup 1 --threads 2

Every model sees the same generated 600x800 pages, preprocessed as ``scripts/predict.py`` does (the
synthetic configs resize them to 384x512), one page per call. Times are medians over the timed pages of
PyTorch eager ``model([x])`` and of the TorchScript trace (``graphkd.inference.export``) of the same model.
Weights are random (initialised with a fixed seed): the speed of the backbone, FPN, RPN and box head does not
depend on them; only the final per-class NMS does, slightly, through how many boxes pass the score threshold.
FLOPs are fvcore's count on one page through detectron2's ``FlopCountAnalysis`` (one multiply-add = one
flop; ops fvcore has no handle for, e.g. NMS and RoIAlign, count as zero). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from graphkd.data.synthetic import render_page
from graphkd.engine.speed import count_parameters, inference_ms_per_image
from graphkd.inference import BatchPredictor, setup_inference_cfg
from graphkd.inference.export import trace_model

ROOT = Path(__file__).resolve().parents[1]
MODELS = [  # (name, config)
    ("teacher R-50-FPN", "configs/synthetic/teacher_R50.yaml"),
    ("student R-18-FPN", "configs/synthetic/student_R18.yaml"),
    ("light student R-18-FPN", "configs/light/student_R18_light.yaml"),
]


class TracedAsModel(nn.Module):
    """A traced detector behind detectron2's ``model([{"image": ...}])`` call, so both are timed alike."""

    def __init__(self, traced: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.traced = traced

    def forward(self, inputs: list[dict]) -> list:
        return [self.traced(x["image"]) for x in inputs]


def gflops(model: nn.Module, inputs: dict) -> float:
    from detectron2.utils.analysis import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, [inputs])
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis.total() / 1e9


def bench_model(config: str, pages: list[np.ndarray], warmup: int) -> dict:
    cfg = setup_inference_cfg(ROOT / config, device="cpu")
    torch.manual_seed(0)
    predictor = BatchPredictor(cfg)
    model = predictor.model
    inputs = [predictor.preprocess(page) for page in pages]
    traced, _ = trace_model(model, inputs[0]["image"])
    # inference_ms_per_image runs inputs[:warmup] untimed, then times every input
    eager_ms = inference_ms_per_image(model, inputs, warmup=warmup)
    traced_ms = inference_ms_per_image(TracedAsModel(traced), inputs, warmup=warmup)
    return {
        "params_M": count_parameters(model) / 1e6,
        "gflops": gflops(model, inputs[0]),
        "eager_ms": eager_ms,
        "traced_ms": traced_ms,
        "size": tuple(inputs[0]["image"].shape[1:]),
    }


def markdown_table(rows: dict[str, dict]) -> str:
    header = [
        "model",
        "params (M)",
        "GFLOPs",
        "eager ms/page",
        "eager pages/s",
        "TorchScript ms/page",
        "TorchScript pages/s",
        "speed-up vs teacher (eager)",
    ]
    teacher_ms = next(iter(rows.values()))["eager_ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, r in rows.items():
        cells = [
            name,
            f"{r['params_M']:.1f}",
            f"{r['gflops']:.1f}",
            f"{r['eager_ms']:.0f}",
            f"{1000 / r['eager_ms']:.2f}",
            f"{r['traced_ms']:.0f}",
            f"{1000 / r['traced_ms']:.2f}",
            f"{teacher_ms / r['eager_ms']:.2f}x",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-pages", type=int, default=20, help="timed pages per model (medians over them)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed pages before timing")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    pages = [
        np.asarray(render_page(np.random.default_rng([7, i]), size=(600, 800))[0].convert("RGB"))
        for i in range(args.num_pages)
    ]
    rows = {}
    for name, config in MODELS:
        rows[name] = bench_model(config, pages, args.warmup)
        print(f"[bench_infer] {name}: {rows[name]}", flush=True)
    height, width = next(iter(rows.values()))["size"]
    print(
        f"\nCPU inference, {args.num_pages} generated 600x800 pages resized to {width}x{height}, batch 1, "
        f"{torch.get_num_threads()} threads, random-init weights; medians after {args.warmup} warm-up pages\n"
    )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
