"""Draw and export the GraphKD instance graph of page images: nodes, types, merges, edges, weights and losses.

    python scripts/inspect_graph.py --config-file configs/synthetic/graphkd_R18_from_R50.yaml \
        --input page.png scan.jpg --output output/inspect \
        --weights output/demo/full_s0/model_student.pth \
        TEACHER.WEIGHTS output/demo/teacher_s0/model_final.pth
    python scripts/inspect_graph.py --config-file configs/synthetic/graphkd_R18_from_R50.yaml \
        --input datasets/synth_publaynet/val/images/000000.png --gt datasets/synth_publaynet/val/annotations.json \
        --output output/inspect TEACHER.WEIGHTS output/demo/teacher_s0/model_final.pth
    python scripts/inspect_graph.py --config-file CFG --dataset synth_publaynet_val --num-images 4 --output out ...

Without GT the nodes are the teacher's top --top-k detections (or RPN proposals, --nodes proposals) and there
are no background nodes. With --gt (a COCO json whose images are matched to the inputs by file name) or
--dataset, the nodes are those of a training step: GT boxes plus the student's sampled proposals, positives
and teacher-mined negatives. The student is random unless --weights is given (the JSON says which).

For each page, DIR gets <page>_graph.png (the graph over the page, the page's size), <page>_merge.png (before
and after text-node merging, side by side), <page>.graphml (networkx) and <page>.json (counts, GT agreement,
losses); a summary table is printed. Trailing KEY VALUE pairs override the config. The logic is
``graphkd.inspection``. Exit status 2 when the run could not start (e.g. a missing input, named).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from graphkd.inference.pages import split_trailing_opts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, help="GraphKD config (GraphKDRCNN with a teacher)")
    parser.add_argument("--input", nargs="*", default=[], help="page images (png, jpg, ...)")
    parser.add_argument("--output", required=True, help="folder for the drawings, GraphML and JSON files")
    parser.add_argument("--weights", help="the student's checkpoint (random student weights without it)")
    parser.add_argument("--gt", help="COCO json with the pages' GT boxes, images matched by file name")
    parser.add_argument("--dataset", help="registered dataset to take GT (and, without --input, pages) from")
    parser.add_argument("--num-images", type=int, help="at most this many pages (all by default)")
    parser.add_argument("--top-k", type=int, default=100, help="teacher nodes per page without GT")
    parser.add_argument(
        "--nodes",
        choices=("detections", "proposals"),
        default="detections",
        help="without GT: the teacher's final detections or its RPN proposals",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the proposal and node sampling")
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow checkpoints that need full unpickling (they can run code): only for files you trust",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, KEY VALUE ...")
    args = parser.parse_args(argv)
    args.input, args.opts = split_trailing_opts(args.input, args.opts)
    if not args.input and not args.dataset:
        parser.error("give --input images, or --dataset to take pages from")
    if args.gt and args.dataset:
        parser.error("--gt and --dataset both give GT: choose one")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.trust_checkpoint:
        from graphkd.modeling.teacher import TRUST_ENV

        os.environ[TRUST_ENV] = "1"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from graphkd.inspection import format_summary, inspect_pages, load_inspect_config

    try:
        cfg = load_inspect_config(args.config_file, args.opts)
        results = inspect_pages(
            cfg,
            args.input,
            args.output,
            weights=args.weights,
            gt=args.gt,
            top_k=args.top_k,
            dataset=args.dataset,
            num_images=args.num_images,
            node_source=args.nodes,
            seed=args.seed,
        )
    except (FileNotFoundError, KeyError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(results))
    empty = sum(result["empty"] for result in results)
    print(f"{len(results)} pages ({empty} with an empty graph) written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
