"""Cost of one GraphKD training iteration on this machine, against its parts.

    python benchmarks/bench_step.py                       # batch 2, 512 RoIs/image, synthetic pages, CPU
    python benchmarks/bench_step.py --iters 5 --warmup 1  # a quick look
    python benchmarks/bench_step.py --device cuda --amp --json out.json MODEL.FPN.OUT_CHANNELS 256 ...

Times (median over --iters after --warmup, same batch every time):
  student step    plain Faster R-CNN training step of the student (forward + backward + SGD step)
  teacher fwd     the frozen teacher on the same images and the student's sampled RoIs (no_grad)
  GraphKD step    the full GraphKDRCNN training step (student + teacher + graph losses)
  graph part      building, typing, merging, sampling and both losses, forward + backward, alone
and prints the GraphKD overhead (GraphKD - student - teacher) / (student + teacher), the peak RSS and, on CUDA,
the peak GPU memory. ``--amp`` runs every forward under ``torch.autocast`` (float16 on CUDA, bfloat16 on the CPU)
with a ``GradScaler`` on CUDA, as detectron2's AMPTrainer does; ``--json`` also writes the numbers to a file.
Weights are random (GRAPHKD_ALLOW_RANDOM_TEACHER): speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

import torch


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, iters: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def profile_graph_part(fn, top: int) -> dict:
    """Profile one call of ``fn`` (torch.profiler, CPU and, when present, CUDA); print its ``top`` costliest ops
    and return the counts that say whether it is launch-bound: aten ops, host syncs (a scalar or a nonzero read
    back from the device), and on CUDA the kernel launches and stream/device synchronisations."""
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    _sync()
    with profile(activities=activities) as prof:
        fn()
        _sync()
    events = prof.key_averages()
    print(events.table(sort_by="self_cuda_time_total" if cuda else "self_cpu_time_total", row_limit=top))

    def count(*keys: str) -> int:
        return sum(e.count for e in events if e.key in keys)

    counts = {
        "aten_ops": sum(e.count for e in events if e.key.startswith("aten::")),
        "host_syncs": count("aten::_local_scalar_dense", "aten::nonzero"),
        "kernel_launches": count("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"),
        "cuda_synchronize": count("cudaStreamSynchronize", "cudaDeviceSynchronize"),
    }
    print("graph part profile: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
    return counts


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/synthetic/graphkd_R18_from_R50.yaml")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rois", type=int, default=512, help="MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="MODEL.DEVICE (cpu or cuda)")
    parser.add_argument("--amp", action="store_true", help="mixed precision (autocast + GradScaler on CUDA)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="also profile one graph part (torch.profiler) and print its N costliest ops, the op count and host syncs",
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args()
    os.environ.setdefault("GRAPHKD_ALLOW_RANDOM_TEACHER", "1")

    from detectron2.data import DatasetCatalog, DatasetMapper
    from detectron2.modeling import GeneralizedRCNN, build_model
    from detectron2.utils.events import EventStorage

    import graphkd.data  # noqa: F401
    import graphkd.modeling  # noqa: F401
    from graphkd.config import get_graphkd_cfg

    cfg = get_graphkd_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(
        [
            "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE",
            args.rois,
            "TEACHER.WEIGHTS",
            "",
            "MODEL.DEVICE",
            args.device,
        ]
        + list(args.opts)
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    mapper = DatasetMapper(cfg, is_train=True)
    inputs = [mapper(record) for record in DatasetCatalog.get(cfg.DATASETS.TRAIN[0])[: args.batch]]
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    device_type = torch.device(args.device).type
    amp_dtype = torch.float16 if device_type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(device_type, enabled=args.amp and device_type == "cuda")

    def autocast():
        return torch.autocast(device_type=device_type, dtype=amp_dtype, enabled=args.amp)

    def step(forward) -> None:
        with autocast():
            losses = forward()
        optimizer.zero_grad()
        scaler.scale(sum(losses.values())).backward()
        scaler.step(optimizer)
        scaler.update()

    captured = {}
    distiller_forward = model.distiller.forward

    def capture(*a, **k):
        captured["args"] = [x.detach() if torch.is_tensor(x) else x for x in a]
        captured["kwargs"] = k
        return distiller_forward(*a, **k)

    model.distiller.forward = capture
    with EventStorage():
        with autocast():
            model(inputs)  # one pass to capture the graph part's inputs and the sampled boxes
        model.distiller.forward = distiller_forward
        student_pooled, teacher_pooled, boxes, num_nodes, background, gt_classes = captured["args"]
        negatives = captured["kwargs"].get("negatives")
        if negatives is not None:
            negatives = negatives._replace(student=negatives.student.detach())

        rows = {}
        rows["student step"] = timed(
            lambda: step(lambda: GeneralizedRCNN.forward(model, inputs)), args.iters, args.warmup
        )
        rss_student = peak_rss_mb()
        images = model.preprocess_image(inputs)
        # the GT on the model's device, as GeneralizedRCNN.forward moves it (the inputs stay on the CPU)
        gt_instances = [x["instances"].to(model.device) for x in inputs]
        with torch.no_grad():
            proposals, _ = model.proposal_generator(images, model.backbone(images.tensor), gt_instances)
            sampled = model.roi_heads.label_and_sample_proposals(proposals, gt_instances)
        sampled_boxes = [p.proposal_boxes for p in sampled]

        def teacher_fwd():
            with autocast():
                model.teacher_forward(inputs, sampled_boxes)

        rows["teacher fwd"] = timed(teacher_fwd, args.iters, args.warmup)
        rows["GraphKD step"] = timed(lambda: step(lambda: model(inputs)), args.iters, args.warmup)
        rss_graphkd = peak_rss_mb()

        def graph_part():
            feats = student_pooled.clone().requires_grad_(True)
            with autocast():
                losses, _ = model.distiller(
                    feats, teacher_pooled, boxes, num_nodes, background, gt_classes, negatives=negatives
                )
            sum(losses.values()).backward()

        rows["graph part"] = timed(graph_part, args.iters, args.warmup)
        profile = profile_graph_part(graph_part, args.profile) if args.profile else None

    base = rows["student step"] + rows["teacher fwd"]
    overhead = (rows["GraphKD step"] - base) / base
    print(
        f"config {args.config_file}, batch {args.batch}, {args.rois} RoIs/image, {len(boxes)} graph nodes, "
        f"threads {torch.get_num_threads()}, median of {args.iters} after {args.warmup} warm-up"
    )
    print("| part | ms/iter |\n|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.0f} |")
    print(f"GraphKD overhead (GraphKD - student - teacher) / (student + teacher): {100 * overhead:.1f}%")
    print(f"graph part / (student + teacher): {100 * rows['graph part'] / base:.1f}%")
    print(
        f"peak RSS: {rss_student:.0f} MB after the student steps, {rss_graphkd:.0f} MB after the GraphKD steps"
    )
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device_type == "cuda" else None
    if gpu_mb is not None:
        print(f"peak GPU memory allocated: {gpu_mb:.0f} MB")
    if args.json:
        record = {
            "config": args.config_file,
            "device": args.device,
            "amp": args.amp,
            "batch": args.batch,
            "rois_per_image": args.rois,
            "graph_nodes": len(boxes),
            "ms": rows,
            "overhead_pct": 100 * overhead,
            "graph_part_pct": 100 * rows["graph part"] / base,
            "peak_rss_mb": rss_graphkd,
            "peak_gpu_mb": gpu_mb,
            "graph_part_profile": profile,
            "opts": list(args.opts),
        }
        with open(args.json, "w") as handle:
            json.dump(record, handle, indent=2)


if __name__ == "__main__":
    main()
