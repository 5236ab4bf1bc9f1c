"""COCO box AP of a detections file (standard COCO results format) against COCO-format ground truth.

    python scripts/evaluate.py --gt datasets/publaynet/val.json --predictions output/coco_instances_results.json
    python scripts/evaluate.py --gt val.json --predictions results.json --json-out metrics.json

Prints AP, AP50, AP75, APs/m/l and per-class AP (pycocotools' official numbers, as detectron2's
COCOEvaluator reports them). The logic is ``graphkd.engine.coco_eval.evaluate_coco``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys

from graphkd.engine.coco_eval import COCO_METRICS, evaluate_coco


def format_table(rows: list[tuple[str, float]], headers: tuple[str, str]) -> str:
    """A two-column table: tabulate's pipe format when installed, plain aligned text otherwise."""
    try:
        from tabulate import tabulate
    except ImportError:
        width = max(len(str(name)) for name, _ in [headers, *rows])
        lines = [f"{headers[0]:<{width}}  {headers[1]:>7}", f"{'-' * width}  {'-' * 7}"]
        lines += [f"{name:<{width}}  {value:>7.3f}" for name, value in rows]
        return "\n".join(lines)
    return tabulate(rows, headers=headers, tablefmt="pipe", floatfmt=".3f", numalign="right")


def _json_safe(value):
    """NaN (no ground truth in that range) becomes null, so the output is strict JSON."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return None if isinstance(value, float) and math.isnan(value) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gt", required=True, help="COCO-format ground-truth annotations (.json)")
    parser.add_argument("--predictions", required=True, help="detections in COCO results format (.json)")
    parser.add_argument("--json-out", help="also write the metrics to this JSON file")
    parser.add_argument("--iou-type", default="bbox", choices=("bbox", "segm"), help="what to evaluate")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        results = evaluate_coco(args.gt, args.predictions, iou_type=args.iou_type)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    print(format_table([(name, results[name]) for name in COCO_METRICS], ("metric", "value")))
    print()
    print(format_table(list(results["per_class"].items()), ("category", "AP")))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(_json_safe(results), handle, indent=2)
        print(f"\nwrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
