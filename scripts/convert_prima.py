"""Convert the PRImA Layout Analysis Dataset (PAGE-XML) to COCO train/val files.

    python scripts/convert_prima.py --pages PRImA/XML --images datasets/prima/images --out datasets/prima
    python scripts/convert_prima.py --pages XML --images Images --out out --val-fraction 0.1 --seed 3

Writes OUT/train.json and OUT/val.json (file names relative to --images); the builtin datasets
``prima_{train,val}`` read them from $GRAPHKD_DATASETS/prima/. Region-type mapping: graphkd/data/prima.py.
"""

from __future__ import annotations

import argparse
import logging

from graphkd.data.prima import convert_prima


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", required=True, help="folder of PAGE-XML files")
    parser.add_argument("--images", required=True, help="folder of the page images")
    parser.add_argument("--out", required=True, help="output folder for train.json / val.json")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    train, val = convert_prima(args.pages, args.images, args.out, args.val_fraction, args.seed)
    logging.info("wrote %s and %s", train, val)


if __name__ == "__main__":
    main()
