"""Benchmark of the batched graph library against a naive per-image Python-loop reference (CPU).

Times (median of several runs) and peak memory (resident-set high-water mark above the level before
the call) of building the graphs (node typing, adjacency and batching included), node typing alone,
text-node merging and adaptive sampling, for B in {2, 8} images x K in {128, 512, 2048} RoIs per
image. The synthetic pages look like RPN output: RoIs jittered around a two-column layout of GT
regions (70% text) plus random background RoIs, so graphs are as dense as real proposal graphs.

    .venv/bin/python benchmarks/bench_graph.py            # full table, a few minutes
    .venv/bin/python benchmarks/bench_graph.py --quick    # smoke run, seconds

Memory: each measured call runs once more in a forked child that tells glibc to map every block of
1 MiB or more on its own (mallopt) and to give back its free heap (malloc_trim), so freed tensors of
earlier runs neither hide nor inflate the peak; the peak is the child's resident-set high-water mark
(VmHWM, reset through /proc/self/clear_refs) during the call above its resident set before it. The
same stage on a tiny batch runs first, to fault in code pages the child does not share yet. Times come from the parent, with
the default allocator.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data
from torch_geometric.utils import coalesce, scatter, subgraph
from torch_scatter import scatter_mean

from graphkd.graph import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    AdaptiveNodeSampler,
    TextNodeMerge,
    build_instance_graphs,
    covariance_node_types,
)

GAP, MIN_AXIS_OVERLAP = 1.0, 0.5
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
MERGE_THRESHOLD, MERGE_ROUNDS, MIN_TEXT_RATIO = 0.8, 3, 1.0
BETA, BG_ALPHA = 1.0, 7.5


# ----------------------------------------------------------------------------- synthetic RoIs
def synthetic_rois(num_images: int, nodes_per_image: int, channels: int, seed: int = 0) -> dict:
    """RoIs of ``num_images`` 600x800 pages, all tensors made at once (no per-node loop)."""
    generator = torch.Generator().manual_seed(seed)
    regions_per_image, cells = 16, 49
    num_regions = num_images * regions_per_image
    # Regions: two columns of stacked blocks, 70% text.
    slot = torch.arange(regions_per_image).repeat(num_images)
    column, row = slot % 2, slot // 2
    x0 = 50 + column * 260.0
    y0 = 60 + row * 88.0
    heights = 20 + 60 * torch.rand(num_regions, generator=generator)
    region_boxes = torch.stack([x0, y0, x0 + 240, y0 + heights], dim=1)
    region_is_text = torch.rand(num_regions, generator=generator) < 0.7
    prototypes = torch.randn(num_regions, channels, 1, generator=generator)

    total = num_images * nodes_per_image
    image = torch.arange(num_images).repeat_interleave(nodes_per_image)
    region = image * regions_per_image + torch.randint(0, regions_per_image, (total,), generator=generator)
    is_background = torch.rand(total, generator=generator) < 0.25
    box = region_boxes[region]
    size = torch.cat([box[:, 2:] - box[:, :2]] * 2, dim=1)
    box = box + 0.08 * size * torch.randn(total, 4, generator=generator)  # positive RoIs: IoU ~0.7+
    corner = torch.rand(total, 2, generator=generator) * torch.tensor([550.0, 750.0])
    random_box = torch.cat([corner, corner + 10 + 40 * torch.rand(total, 2, generator=generator)], dim=1)
    box = torch.where(is_background[:, None], random_box, box)

    # Teacher features: a region prototype plus spatial noise, strong for non-text regions.
    spatial_scale = torch.where(region_is_text[region], 0.3, 1.5)[:, None, None]
    teacher = prototypes[region] + spatial_scale * torch.randn(total, channels, cells, generator=generator)
    teacher[is_background] = torch.randn(int(is_background.sum()), channels, cells, generator=generator)
    student = teacher + 0.5 * torch.randn(total, channels, cells, generator=generator)
    return {
        "student_feats": student.view(total, channels, 7, 7),
        "teacher_feats": teacher.view(total, channels, 7, 7),
        "boxes": box,
        "num_nodes_per_image": [nodes_per_image] * num_images,
        "is_background": is_background,
    }


# ----------------------------------------------------------------------------- naive reference
def naive_otsu(values: list[float]) -> float:
    """Otsu's threshold by a Python scan over the sorted values."""
    ordered = sorted(values)
    count, total = len(ordered), sum(ordered)
    best, threshold, running = -1.0, (ordered[-1] if ordered else math.nan), 0.0
    for k in range(1, count):
        running += ordered[k - 1]
        if ordered[k - 1] == ordered[k]:
            continue
        between = (k / count) * (1 - k / count) * (running / k - (total - running) / (count - k)) ** 2
        if between > best * (1 + 1e-9):
            best, threshold = between, (ordered[k - 1] + ordered[k]) / 2
    return threshold


def naive_node_types(teacher: torch.Tensor, is_background: torch.Tensor) -> torch.Tensor:
    """Node types of one image."""
    statistic = teacher.flatten(2).float().var(dim=-1, correction=0).mean(dim=-1)
    foreground = ~is_background
    node_type = torch.full_like(is_background, NODE_BACKGROUND, dtype=torch.long)
    values = statistic[foreground]
    if values.numel() < 4:
        node_type[foreground] = NODE_TEXT
        return node_type
    high = values > naive_otsu(values.tolist())
    high_is_text = int(high.sum()) > int((~high).sum())
    node_type[foreground] = torch.where(high == high_is_text, NODE_TEXT, NODE_NONTEXT)
    return node_type


def naive_adjacency(boxes: torch.Tensor) -> torch.Tensor:
    """All pairs of one image at once."""
    if boxes.size(0) == 0:
        return torch.zeros(2, 0, dtype=torch.long)
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    a, b = boxes[:, None, :], boxes[None, :, :]
    overlap_x = torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])
    overlap_y = torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])
    same_column = (-overlap_y <= GAP * heights.median()) & (
        overlap_x >= MIN_AXIS_OVERLAP * torch.minimum(widths[:, None], widths[None, :])
    )
    side_by_side = (-overlap_x <= GAP * widths.median()) & (
        overlap_y >= MIN_AXIS_OVERLAP * torch.minimum(heights[:, None], heights[None, :])
    )
    adjacent = ((overlap_x > 0) & (overlap_y > 0)) | same_column | side_by_side
    adjacent.fill_diagonal_(False)
    return adjacent.nonzero().t()


def naive_build(rois: dict) -> Batch:
    graphs, start = [], 0
    for size in rois["num_nodes_per_image"]:
        part = slice(start, start + size)
        start += size
        is_background = rois["is_background"][part]
        graphs.append(
            Data(
                x=rois["student_feats"][part].flatten(1),
                x_teacher=rois["teacher_feats"][part].detach().flatten(1),
                box=rois["boxes"][part],
                node_type=naive_node_types(rois["teacher_feats"][part], is_background),
                edge_index=naive_adjacency(rois["boxes"][part]),
            )
        )
    return Batch.from_data_list(graphs)


def naive_typing(rois: dict) -> list[torch.Tensor]:
    out, start = [], 0
    for size in rois["num_nodes_per_image"]:
        part = slice(start, start + size)
        start += size
        out.append(naive_node_types(rois["teacher_feats"][part], rois["is_background"][part]))
    return out


def naive_merge_graph(graph: Data) -> Data:
    """Per-graph merging: per-image tensors, a Python union-find over the kept edges."""
    node_type, teacher, edge_index = graph.node_type, graph.x_teacher, graph.edge_index
    members = torch.arange(graph.num_nodes)  # input node -> current node
    for _ in range(MERGE_ROUNDS):
        is_text = node_type == NODE_TEXT
        if int(is_text.sum()) <= MIN_TEXT_RATIO * int((node_type == NODE_NONTEXT).sum()):
            break
        source, target = edge_index
        candidate = edge_index[:, (source < target) & is_text[source] & is_text[target]]
        unit = F.normalize(teacher, dim=-1)
        score = (unit @ unit.t())[candidate[0], candidate[1]]  # one Gram matrix per image
        kept = candidate[:, score >= MERGE_THRESHOLD].t().tolist()
        if not kept:
            break
        parent = list(range(node_type.numel()))

        def find(node: int, parent: list[int] = parent) -> int:
            while parent[node] != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        for p, q in kept:
            low, high = sorted((find(p), find(q)))
            parent[high] = low
        roots = [find(node) for node in range(len(parent))]
        index = {root: position for position, root in enumerate(sorted(set(roots)))}
        cluster = torch.tensor([index[root] for root in roots], dtype=torch.long)
        members = cluster[members]
        node_type = node_type[torch.tensor([root == node for node, root in enumerate(roots)])]
        teacher = scatter_mean(graph.x_teacher, members, dim=0)
        edge_index = cluster[edge_index]
        edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    count = node_type.numel()
    size = torch.bincount(members, minlength=count)
    box = torch.cat(
        [
            scatter(graph.box[:, :2], members, dim=0, dim_size=count, reduce="min"),
            scatter(graph.box[:, 2:], members, dim=0, dim_size=count, reduce="max"),
        ],
        dim=1,
    )
    loops = (size > 1).nonzero().view(-1)
    edge_index = coalesce(torch.cat([edge_index, loops.expand(2, -1)], dim=1), num_nodes=count)
    return Data(
        x=scatter_mean(graph.x, members, dim=0, dim_size=count),
        x_teacher=scatter_mean(graph.x_teacher, members, dim=0, dim_size=count),
        box=box,
        node_type=node_type,
        cluster_size=size,
        edge_index=edge_index,
    )


def naive_merge(batch: Batch) -> Batch:
    return Batch.from_data_list([naive_merge_graph(graph) for graph in batch.to_data_list()])


def naive_sample(batch: Batch, generator: torch.Generator) -> Batch:
    graphs = []
    for graph in batch.to_data_list():
        node_type = graph.node_type
        text = (node_type == NODE_TEXT).nonzero().view(-1)
        nontext = int((node_type == NODE_NONTEXT).sum())
        quota = min(max(math.ceil(BETA * nontext), 1), text.numel())
        chosen = text[torch.randperm(text.numel(), generator=generator)[:quota]]
        keep = torch.cat([(node_type != NODE_TEXT).nonzero().view(-1), chosen]).sort().values
        kept_type = node_type[keep]
        foreground = int((kept_type != NODE_BACKGROUND).sum())
        background = int((kept_type == NODE_BACKGROUND).sum())
        bg_weight = BG_ALPHA * foreground / background if foreground and background else 1.0
        weight = torch.where(kept_type == NODE_BACKGROUND, bg_weight, 1.0)
        edge_index, _ = subgraph(keep, graph.edge_index, relabel_nodes=True, num_nodes=graph.num_nodes)
        graphs.append(
            Data(
                x=graph.x[keep],
                x_teacher=graph.x_teacher[keep],
                box=graph.box[keep],
                node_type=kept_type,
                weight=weight,
                edge_index=edge_index,
            )
        )
    return Batch.from_data_list(graphs)


# ----------------------------------------------------------------------------- measurement
def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_mib(function: Callable[[], object], warm_up: Callable[[], object]) -> float:
    """Resident-set high-water mark of ``function()`` above the resident set before it (MiB), NaN if unknown.

    ``warm_up`` (the same stage on a tiny batch) first faults in the code pages that the forked child
    does not share with the parent yet, so that they do not count.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: measure, report, exit without running the parent's cleanup
        peak = math.nan
        try:
            os.close(read_end)
            libc = ctypes.CDLL(None)
            libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
            libc.mallopt(_M_TRIM_THRESHOLD, 1 << 20)
            warm_up()
            gc.collect()
            libc.malloc_trim(0)  # give back the free heap memory inherited from the parent
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
            before = _status_kib("VmRSS")
            function()
            peak = (_status_kib("VmHWM") - before) / 1024
        except Exception:
            pass
        finally:
            os.write(write_end, repr(peak).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        report = reader.read()
    os.waitpid(pid, 0)
    try:
        return float(report)
    except ValueError:
        return math.nan


def stage_functions(rois: dict) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """``{stage: (batched, naive)}`` closures over one batch of RoIs."""
    batch = build_instance_graphs(**rois)
    merged = TextNodeMerge(MERGE_THRESHOLD, MERGE_ROUNDS, MIN_TEXT_RATIO)(batch).batch
    naive_batch = naive_build(rois)
    assert torch.equal(naive_batch.edge_index, batch.edge_index), "naive and batched edges differ"
    assert torch.equal(naive_batch.node_type, batch.node_type), "naive and batched node types differ"
    naive_merged = naive_merge(naive_batch)
    assert torch.equal(naive_merged.cluster_size, merged.cluster_size), "naive and batched merges differ"
    return {
        "build": (lambda: build_instance_graphs(**rois), lambda: naive_build(rois)),
        "typing": (
            lambda: covariance_node_types(rois["teacher_feats"], batch.batch, rois["is_background"]),
            lambda: naive_typing(rois),
        ),
        "merge": (
            lambda: TextNodeMerge(MERGE_THRESHOLD, MERGE_ROUNDS, MIN_TEXT_RATIO)(batch),
            lambda: naive_merge(naive_batch),
        ),
        "sample": (
            lambda: AdaptiveNodeSampler("sample", BETA, BG_ALPHA)(merged, torch.Generator().manual_seed(0)),
            lambda: naive_sample(merged, torch.Generator().manual_seed(0)),
        ),
    }


def bench_size(num_images: int, nodes: int, channels: int, repeats: int) -> list[tuple]:
    """Rows ``(stage, edges, batched s, naive s, batched MiB, naive MiB)`` for one batch size."""
    rois = synthetic_rois(num_images, nodes, channels)
    stages = stage_functions(rois)
    tiny = stage_functions(synthetic_rois(2, 16, channels, seed=1))  # warm-ups
    num_edges = build_instance_graphs(**rois).edge_index.size(1)
    rows = []
    for stage, (batched, naive) in stages.items():
        tiny[stage][0](), tiny[stage][1]()  # one-time costs (lazy imports, PyG code generation) go first
        batched_time, naive_time = median_seconds(batched, repeats), median_seconds(naive, repeats)
        batched_peak, naive_peak = peak_mib(batched, tiny[stage][0]), peak_mib(naive, tiny[stage][1])
        rows.append((stage, num_edges, batched_time, naive_time, batched_peak, naive_peak))
    merged = TextNodeMerge(MERGE_THRESHOLD, MERGE_ROUNDS, MIN_TEXT_RATIO)(build_instance_graphs(**rois))
    rows.append(("merged", merged.batch.num_nodes, rois["boxes"].size(0)))
    return rows


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    sizes = [(2, 128), (2, 512)] if args.quick else [(b, k) for b in (2, 8) for k in (128, 512, 2048)]
    repeats = 1 if args.quick else args.repeats
    header = (
        f"{'B':>2} {'K':>5} {'C':>4} {'edges':>8} {'stage':<7} {'batched ms':>11} {'naive ms':>10} "
        f"{'speedup':>8} {'batched MiB':>12} {'naive MiB':>10}"
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), median of {repeats} run(s)")
    print(header)
    print("-" * len(header))
    slower = []
    for num_images, nodes in sizes:
        channels = args.channels if nodes < 2048 else args.channels_2048
        size_repeats = repeats if nodes < 2048 else max(1, min(repeats, 3))
        for row in bench_size(num_images, nodes, channels, size_repeats):
            if row[0] == "merged":
                print(f"{'':>13} merging keeps {row[1]} of {row[2]} nodes")
                continue
            stage, edges, batched_time, naive_time, batched_peak, naive_peak = row
            if batched_time >= naive_time:
                slower.append((num_images, nodes, stage))
            print(
                f"{num_images:>2} {nodes:>5} {channels:>4} {edges:>8} {stage:<7} "
                f"{batched_time * 1e3:>11.1f} {naive_time * 1e3:>10.1f} {naive_time / batched_time:>7.1f}x "
                f"{batched_peak:>12.1f} {naive_peak:>10.1f}",
                flush=True,
            )
        gc.collect()
    if slower:
        print(f"batched path NOT faster for: {slower}")
    else:
        print("batched path faster than the naive reference at every size and stage")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="two small sizes, one run each")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per stage (median)")
    parser.add_argument("--channels", type=int, default=256, help="feature channels C (7x7 cells)")
    parser.add_argument("--channels-2048", type=int, default=64, help="C for K = 2048, to bound memory")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
