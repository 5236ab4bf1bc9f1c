"""Statistics of a registered layout dataset: images, boxes per class, box sizes, text/non-text share.

    python scripts/dataset_stats.py publaynet_val
    python scripts/dataset_stats.py synth_publaynet_val --compare-publaynet --plot output/synth_stats.png
    GRAPHKD_EXTRA_DATASETS="mine=data/val.json:data/images" python scripts/dataset_stats.py mine

Any name in detectron2's DatasetCatalog works (builtins, $GRAPHKD_EXTRA_DATASETS specs).
"""

from __future__ import annotations

import argparse
import logging

from detectron2.data import DatasetCatalog, MetadataCatalog

import graphkd.data  # noqa: F401  (registers the builtin datasets)
from graphkd.data.stats import PUBLAYNET_REFERENCE, dataset_stats, format_stats, plot_stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="registered dataset name")
    parser.add_argument("--plot", metavar="PNG", help="per-class histograms of box width/height")
    parser.add_argument(
        "--compare-publaynet", action="store_true", help="show METHOD.md §9 PubLayNet values in brackets"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    records = DatasetCatalog.get(args.name)
    meta = MetadataCatalog.get(args.name)
    stats = dataset_stats(records, meta.thing_classes, meta.get("text_classes", []))
    print(format_stats(stats, PUBLAYNET_REFERENCE if args.compare_publaynet else None))
    if args.plot:
        print(f"plot -> {plot_stats(records, meta.thing_classes, args.plot)}")


if __name__ == "__main__":
    main()
