"""Detect layout regions on page images and PDFs with a trained (student) detector.

    python scripts/predict.py --config-file configs/synthetic/student_R18.yaml \
        --weights output/synthetic/student_R18/model_final.pth --input page.png paper.pdf scans/ "more/*.jpg" \
        --output output/predictions
    python scripts/predict.py --config-file configs/synthetic/graphkd_R18_from_R50.yaml \
        --weights output/demo/full_s0/model_student.pth --input paper.pdf --output out \
        --device cuda --score-thresh 0.3 --dpi 150 --batch-size 8 INPUT.MIN_SIZE_TEST 512

Inputs are page images (png, jpg, jpeg, tif, tiff), PDFs (rendered page by page at --dpi with pypdfium2),
folders (searched recursively, sorted) and glob patterns. A GraphKD config predicts as its plain student, so
no teacher is needed. Writes DIR/predictions.json (``images``: id, file_name, page (1-based PDF page or null),
width, height, overlay; ``categories``; ``annotations`` in COCO results format: image_id, category_id (the
dataset's ids: metadata ``thing_dataset_id_to_contiguous_id`` when the config's datasets have it, else
contiguous id + 1), bbox XYWH in page pixels, score; ``failures``) and DIR/overlays/*.png, one per page.
--score-thresh (default 0.5) replaces the config's ``MODEL.ROI_HEADS.SCORE_THRESH_TEST``; trailing
``KEY VALUE`` pairs override the config (put them last: after --input, the first config key ends the input
list). An input that cannot be read is reported and skipped; the exit status is 1 when any input failed, 2
when nothing could run. The logic is ``graphkd.inference``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from graphkd.inference import BatchPredictor, dataset_classes, predict_inputs, setup_inference_cfg
from graphkd.inference.pages import split_trailing_opts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, help="detectron2/GraphKD config of the model")
    parser.add_argument("--weights", required=True, help="the student's checkpoint (.pth or .pkl)")
    parser.add_argument(
        "--input", nargs="+", required=True, help="page images, PDFs, folders or glob patterns"
    )
    parser.add_argument("--output", required=True, help="folder for predictions.json and overlays/")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: MODEL.DEVICE (CPU without CUDA)")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="minimum detection score")
    parser.add_argument("--dpi", type=float, default=100.0, help="resolution PDF pages are rendered at")
    parser.add_argument("--batch-size", type=int, default=4, help="pages per model call")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, KEY VALUE ...")
    args = parser.parse_args(argv)
    args.input, args.opts = split_trailing_opts(args.input, args.opts)
    if not args.input:
        parser.error("--input needs at least one image, PDF, folder or pattern")
    if args.batch_size < 1 or args.dpi <= 0:
        parser.error("--batch-size must be >= 1 and --dpi > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = setup_inference_cfg(args.config_file, args.weights, args.opts, args.device, args.score_thresh)
        predictor = BatchPredictor(cfg)
    except (FileNotFoundError, RuntimeError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    classes = dataset_classes(cfg)
    logging.getLogger(__name__).info("class names and ids from %s", classes.source)
    report = predict_inputs(
        predictor, args.input, args.output, dpi=args.dpi, batch_size=args.batch_size, classes=classes
    )
    print(f"{len(report.images)} pages, {len(report.annotations)} detections: {report.json_path}")
    if report.failures:
        print(f"{len(report.failures)} input(s) failed:", file=sys.stderr)
        for failure in report.failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
