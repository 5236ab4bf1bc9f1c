"""Generate synthetic PubLayNet-like (or DocLayNet-like) pages with COCO annotations.

    python scripts/make_synthetic.py --num-pages 1000 --seed 0 --out datasets/synth_publaynet/train
    python scripts/make_synthetic.py --num-pages 4 --seed 0 --out /tmp/synth --preview docs/synthetic_pages.png
    python scripts/make_synthetic.py --num-pages 100 --schema doclaynet --size 600 800 --no-noise --out /tmp/dl

Writes OUT/annotations.json and OUT/images/*.png; --preview also tiles the first 4 pages with their
boxes drawn per class (graphkd.data.visualize).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from PIL import Image

from graphkd.data.synthetic import SCHEMAS, generate_synthetic_dataset
from graphkd.data.visualize import preview_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-pages", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, nargs=2, default=(600, 800), metavar=("W", "H"))
    parser.add_argument("--schema", choices=sorted(SCHEMAS), default="publaynet")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--no-noise", action="store_true", help="no blur/rotation/JPEG degradations")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes rendering pages (default: the CPU count, at most 8)",
    )
    parser.add_argument("--preview", metavar="PNG", help="also draw the first 4 pages with their boxes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    start = time.perf_counter()
    json_path = generate_synthetic_dataset(
        args.out,
        args.num_pages,
        args.seed,
        tuple(args.size),
        args.schema,
        noise=not args.no_noise,
        progress=True,
        workers=args.workers,
    )
    elapsed = time.perf_counter() - start
    logging.info(
        "%d pages in %.1f s (%.1f pages/s) -> %s",
        args.num_pages,
        elapsed,
        args.num_pages / elapsed,
        json_path,
    )
    if args.preview:
        coco = json.loads(json_path.read_text())
        names = {c["id"]: c["name"] for c in coco["categories"]}
        pages = []
        for image in coco["images"][:4]:
            anns = [
                {"bbox": a["bbox"], "category": names[a["category_id"]]}
                for a in coco["annotations"]
                if a["image_id"] == image["id"]
            ]
            pages.append((Image.open(Path(args.out) / "images" / image["file_name"]).convert("RGB"), anns))
        preview_grid(pages, SCHEMAS[args.schema], args.preview)
        logging.info("preview -> %s", args.preview)


if __name__ == "__main__":
    main()
