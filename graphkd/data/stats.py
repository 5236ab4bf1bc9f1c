"""Layout dataset statistics: boxes per class, box sizes as page fractions, text/non-text share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["PUBLAYNET_REFERENCE", "dataset_stats", "format_stats", "plot_stats"]

# METHOD.md §9, measured on 20 public PubLayNet pages: mean/max regions per page, median w/h fraction.
PUBLAYNET_REFERENCE: dict[str, dict[str, float]] = {
    "text": {"per_image_mean": 6.8, "per_image_max": 17, "median_w": 0.40, "median_h": 0.09},
    "title": {"per_image_mean": 1.7, "per_image_max": 8, "median_w": 0.15, "median_h": 0.015},
    "list": {"per_image_mean": 0.3, "per_image_max": 2, "median_w": 0.38, "median_h": 0.075},
    "table": {"per_image_mean": 0.3, "per_image_max": 2, "median_w": 0.82, "median_h": 0.20},
    "figure": {"per_image_mean": 0.5, "per_image_max": 2, "median_w": 0.71, "median_h": 0.26},
}


def _box_fractions(record: dict) -> tuple[list[int], np.ndarray]:
    """Category ids and (w, h) of each box as fractions of the page, (N, 2)."""
    width, height = float(record["width"]), float(record["height"])
    cats, sizes = [], []
    for ann in record.get("annotations", []):
        x0, y0, a, b = ann["bbox"]
        xyxy = int(ann.get("bbox_mode", 1)) == 0  # BoxMode.XYXY_ABS
        w, h = (a - x0, b - y0) if xyxy else (a, b)
        cats.append(int(ann["category_id"]))
        sizes.append((w / width, h / height))
    return cats, np.asarray(sizes, dtype=np.float64).reshape(-1, 2)


def dataset_stats(
    records: Sequence[dict], class_names: Sequence[str], text_classes: Sequence[str] = ()
) -> dict:
    """Statistics of detectron2 dataset dicts (contiguous ``category_id``) or of any records shaped alike."""
    n_classes = len(class_names)
    counts = np.zeros((len(records), n_classes), dtype=np.int64)
    sizes: list[list[np.ndarray]] = [[] for _ in range(n_classes)]
    for i, record in enumerate(records):
        cats, wh = _box_fractions(record)
        for c, size in zip(cats, wh):
            counts[i, c] += 1
            sizes[c].append(size)
    total = int(counts.sum())
    per_class = {}
    for c, name in enumerate(class_names):
        wh = np.asarray(sizes[c]).reshape(-1, 2)
        per_class[name] = {
            "count": int(counts[:, c].sum()),
            "share": float(counts[:, c].sum() / total) if total else 0.0,
            "per_image_mean": float(counts[:, c].mean()) if len(records) else 0.0,
            "per_image_max": int(counts[:, c].max()) if len(records) else 0,
            "median_w": float(np.median(wh[:, 0])) if len(wh) else float("nan"),
            "median_h": float(np.median(wh[:, 1])) if len(wh) else float("nan"),
            "min_h": float(wh[:, 1].min()) if len(wh) else float("nan"),
            "max_h": float(wh[:, 1].max()) if len(wh) else float("nan"),
        }
    text_boxes = sum(per_class[n]["count"] for n in text_classes if n in per_class)
    return {
        "images": len(records),
        "boxes": total,
        "boxes_per_image": total / len(records) if len(records) else 0.0,
        "text_share": text_boxes / total if total else 0.0,
        "text_classes": list(text_classes),
        "per_class": per_class,
    }


def format_stats(stats: dict, reference: dict[str, dict[str, float]] | None = None) -> str:
    """A plain-text table; with ``reference`` (e.g. :data:`PUBLAYNET_REFERENCE`) its values in brackets."""
    ref = reference or {}

    def cell(name: str, key: str, fmt: str) -> str:
        value = format(stats["per_class"][name][key], fmt)
        return f"{value} [{format(ref[name][key], fmt)}]" if name in ref and key in ref[name] else value

    lines = [
        f"images {stats['images']}, boxes {stats['boxes']} ({stats['boxes_per_image']:.2f}/image), "
        f"text-like share {stats['text_share']:.2f} (text classes: {', '.join(stats['text_classes']) or '-'})",
        f"{'class':<16}{'boxes':>8}{'share':>7}{'mean/img':>14}{'max/img':>10}{'median w':>16}{'median h':>16}"
        f"{'h range':>15}",
    ]
    for name, s in stats["per_class"].items():
        lines.append(
            f"{name:<16}{s['count']:>8}{s['share']:>7.2f}{cell(name, 'per_image_mean', '.2f'):>14}"
            f"{cell(name, 'per_image_max', 'g'):>10}{cell(name, 'median_w', '.3f'):>16}"
            f"{cell(name, 'median_h', '.3f'):>16}{s['min_h']:>7.3f}-{s['max_h']:<7.3f}"
        )
    if ref:
        lines.append("[brackets]: reference values")
    return "\n".join(lines)


def plot_stats(records: Sequence[dict], class_names: Sequence[str], out_png: str | Path) -> Path:
    """Per-class histograms of box width and height (page fractions) into ``out_png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes: list[list[np.ndarray]] = [[] for _ in class_names]
    for record in records:
        cats, wh = _box_fractions(record)
        for c, size in zip(cats, wh):
            sizes[c].append(size)
    fig, axes = plt.subplots(2, len(class_names), figsize=(2.6 * len(class_names), 4.8), squeeze=False)
    bins = np.linspace(0, 1, 26)
    for c, name in enumerate(class_names):
        wh = np.asarray(sizes[c]).reshape(-1, 2)
        for row, label in enumerate(("width", "height")):
            ax = axes[row, c]
            ax.hist(wh[:, row], bins=bins, color=f"C{c % 10}")
            ax.set_title(f"{name} {label}" if row == 0 else label, fontsize=9)
            ax.tick_params(labelsize=7)
    fig.suptitle("box size / page size per class", fontsize=10)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png
