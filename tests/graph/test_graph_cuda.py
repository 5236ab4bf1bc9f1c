"""The graph pipeline on CUDA (and under CUDA autocast) matches the CPU result. Skipped without CUDA."""

import pytest
import torch

from graphkd.graph import AdaptiveNodeSampler, TextNodeMerge, build_instance_graphs

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def make_rois(device: str) -> dict:
    generator = torch.Generator().manual_seed(0)
    sizes = [40, 0, 25, 1]
    total = sum(sizes)
    region = torch.randint(0, 6, (total,), generator=generator)
    prototypes = torch.randn(6, 8, 1, generator=generator)
    teacher = prototypes[region] + 0.1 * torch.randn(total, 8, 16, generator=generator)
    corner = torch.rand(total, 2, generator=generator) * 100
    boxes = torch.cat([corner, corner + 10 + 10 * torch.rand(total, 2, generator=generator)], dim=1)
    rois = {
        "student_feats": torch.randn(total, 4, 16, generator=generator),
        "teacher_feats": teacher,
        "boxes": boxes,
        "num_nodes_per_image": sizes,
        "is_background": torch.rand(total, generator=generator) < 0.1,
    }
    return {
        key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in rois.items()
    }


def run_pipeline(device: str, autocast: bool = False):
    rois = make_rois(device)
    with torch.autocast(
        device, dtype=torch.float16 if device == "cuda" else torch.bfloat16, enabled=autocast
    ):
        batch = build_instance_graphs(**rois)
        merged = TextNodeMerge(threshold=0.8)(batch)
        sampled = AdaptiveNodeSampler(mode="weight")(merged.batch)
    return batch, merged, sampled


@pytest.mark.parametrize("autocast", [False, True])
def test_cuda_matches_cpu(autocast):
    cpu_batch, cpu_merged, cpu_sampled = run_pipeline("cpu")
    batch, merged, sampled = run_pipeline("cuda", autocast)
    for key in ("node_type", "edge_index", "ptr", "batch"):
        assert torch.equal(batch[key].cpu(), cpu_batch[key]), key
    assert torch.equal(merged.cluster.cpu(), cpu_merged.cluster)
    torch.testing.assert_close(merged.batch.x.cpu(), cpu_merged.batch.x)
    torch.testing.assert_close(sampled.weight.cpu(), cpu_sampled.weight)
    assert sampled.batch.num_graphs == 4 and sampled.batch.x.is_cuda
