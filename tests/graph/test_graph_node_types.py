"""Node typing: Otsu split, covariance statistic, GT split, agreement (METHOD.md §2)."""

import math

import pytest
import torch

import graphkd.graph.node_types as node_types_module
from graphkd.graph import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    covariance_node_types,
    covariance_statistic,
    gt_node_types,
    node_type_agreement,
    otsu_threshold,
)


def reference_otsu(values: list[float]) -> float:
    """Brute-force Otsu on one graph: try every split between distinct sorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    best, threshold = -1.0, max(ordered)
    n = len(ordered)
    for k in range(1, n):
        if ordered[k - 1] == ordered[k]:
            continue
        low, high = ordered[:k], ordered[k:]
        between = (k / n) * ((n - k) / n) * (sum(low) / k - sum(high) / (n - k)) ** 2
        if between > best * (1 + 1e-9):  # near-ties go to the first split
            best, threshold = between, (ordered[k - 1] + ordered[k]) / 2
    return threshold


def feats_with_statistic(stats: list[float], channels: int = 3, cells: int = 4) -> torch.Tensor:
    """``(N, C, P)`` features whose s = tr(Cov)/C equals ``stats`` (each channel: +-sqrt(s) pattern)."""
    pattern = torch.tensor([1.0, -1.0] * (cells // 2))  # population variance 1
    feats = torch.tensor(stats).sqrt()[:, None, None] * pattern[None, None, :]
    return feats.expand(-1, channels, -1) + torch.arange(channels, dtype=torch.float32)[None, :, None]


@pytest.mark.parametrize("chunk", [1 << 20, 300])  # one chunk; one node per chunk
def test_covariance_statistic_is_mean_spatial_variance(monkeypatch, chunk):
    monkeypatch.setattr(node_types_module, "_STATISTIC_CHUNK_ELEMENTS", chunk)
    feats = torch.tensor([[[0.0, 2.0, 0.0, 2.0], [1.0, 1.0, 1.0, 1.0]]])  # (1, C=2, P=4)
    assert covariance_statistic(feats).tolist() == [0.5]  # channel variances 1 and 0
    pooled = torch.randn(3, 5, 7, 7, generator=torch.Generator().manual_seed(0)) + 100.0
    expected = torch.stack([torch.cov(x.reshape(5, 49).double(), correction=0).trace() / 5 for x in pooled])
    torch.testing.assert_close(covariance_statistic(pooled), expected.float())


def test_otsu_splits_bimodal_values_between_the_modes():
    values = torch.tensor([1.0, 1.1, 0.9, 1.05, 5.0, 5.2, 4.9])
    threshold = otsu_threshold(values)
    assert threshold.shape == (1,)
    assert threshold.item() == pytest.approx((1.1 + 4.9) / 2)


def test_otsu_batched_equals_reference_per_graph():
    generator = torch.Generator().manual_seed(0)
    sizes = [0, 1, 2, 5, 9, 3, 0]
    values = torch.rand(sum(sizes), generator=generator).mul(10).round()  # ties included
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    thresholds = otsu_threshold(values, batch, num_graphs=len(sizes))
    start = 0
    for graph, size in enumerate(sizes):
        expected = reference_otsu(values[start : start + size].tolist())
        start += size
        if math.isnan(expected):
            assert math.isnan(thresholds[graph].item())
        else:
            assert thresholds[graph].item() == pytest.approx(expected)


def test_otsu_constant_values_give_one_class():
    assert otsu_threshold(torch.tensor([2.0, 2.0, 2.0])).tolist() == [2.0]


def test_covariance_types_larger_group_is_text():
    # Image 0: 4 low-variance (text) + 2 high; image 1: 2 low + 3 high (high is the larger: text).
    stats = [1.0, 1.2, 0.8, 1.1, 9.0, 9.5] + [1.0, 1.1, 8.0, 8.5, 9.0]
    batch = torch.tensor([0] * 6 + [1] * 5)
    node_type = covariance_node_types(feats_with_statistic(stats), batch)
    text, nontext = NODE_TEXT, NODE_NONTEXT
    assert node_type.tolist() == [text] * 4 + [nontext] * 2 + [nontext] * 2 + [text] * 3


def test_covariance_types_background_and_small_images():
    stats = [1.0, 9.0, 1.0, 5.0, 1.0, 1.0, 9.0, 9.0]
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    is_background = torch.tensor([False, False, False, True, False, False, False, False])
    node_type = covariance_node_types(feats_with_statistic(stats), batch, is_background, num_graphs=3)
    # Image 0 has 3 foreground nodes (< 4): all text. Image 1: a 2-2 tie goes to the low-variance group.
    assert node_type.tolist() == [0, 0, 0, NODE_BACKGROUND, 0, 0, 1, 1]
    assert covariance_node_types(torch.zeros(0, 3, 4), torch.zeros(0, dtype=torch.long)).numel() == 0


def test_covariance_types_under_autocast_match_float32():
    feats = feats_with_statistic([1.0, 1.2, 0.8, 1.1, 9.0, 9.5])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        node_type = covariance_node_types(feats.bfloat16())
    assert node_type.tolist() == [0, 0, 0, 0, 1, 1]


def test_gt_node_types_and_agreement():
    gt_classes = torch.tensor([0, 1, 2, 3, 4, -1, 2])
    is_background = torch.tensor([False, False, False, False, False, False, True])
    node_type = gt_node_types(gt_classes, [0, 1, 2], is_background)
    assert node_type.tolist() == [0, 0, 0, 1, 1, -1, NODE_BACKGROUND]
    predicted = torch.tensor([0, 1, 0, 1, 0, 0, NODE_BACKGROUND])
    assert node_type_agreement(predicted, node_type) == pytest.approx(3 / 5)
    assert math.isnan(node_type_agreement(torch.tensor([2, 2]), torch.tensor([0, 1])))


@pytest.mark.parametrize(
    "text_classes",
    [[0, 1, 2], (0, 1, 2), {0, 1, 2}, frozenset({2, 1, 0}), torch.tensor([0, 1, 2])],
    ids=["list", "tuple", "set", "frozenset", "tensor"],
)
def test_gt_node_types_takes_text_classes_as_any_collection(text_classes):
    """Metadata may hold the text ids as a list, a tuple, a set or a tensor: all give the same types."""
    gt_classes = torch.tensor([2, 3, 0, -1, 4, 1])
    assert gt_node_types(gt_classes, text_classes).tolist() == [0, 1, 0, -1, 1, 0]


def test_otsu_batched_constant_graph_before_another_keeps_its_maximum():
    """A single-class graph followed by another graph: no split may reach across into the next graph."""
    values = torch.tensor([1.0, 1.0, 1.0, 5.0, 6.0, 9.0])
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    thresholds = otsu_threshold(values, batch)
    assert thresholds[0].item() == 1.0  # the maximum: one class
    assert thresholds[1].item() == pytest.approx(7.5)  # {5, 6} | {9}


@pytest.mark.parametrize("scale", [1e-4, 1.0, 1e4])
def test_otsu_split_is_scale_invariant(scale):
    """The between-class variance of small statistics is far below 1: the split must not depend on scale."""
    values = torch.tensor([0.10, 0.12, 0.11, 0.90, 0.95]) * scale
    assert otsu_threshold(values).item() == pytest.approx(0.51 * scale, rel=1e-5)


def test_covariance_types_of_a_trailing_image_with_background_only():
    stats = [1.0, 1.2, 0.8, 1.1, 9.0, 9.5, 3.0, 4.0]
    batch = torch.tensor([0] * 6 + [1] * 2)
    is_background = torch.tensor([False] * 6 + [True] * 2)
    node_type = covariance_node_types(feats_with_statistic(stats), batch, is_background)
    assert node_type.tolist() == [0, 0, 0, 0, 1, 1, NODE_BACKGROUND, NODE_BACKGROUND]


def test_covariance_statistic_is_float32_also_without_nodes():
    assert covariance_statistic(torch.zeros(0, 3, 7, 7, dtype=torch.bfloat16)).dtype == torch.float32
