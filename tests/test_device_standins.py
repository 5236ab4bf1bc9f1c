"""The GPU check's torch_scatter stand-in (benchmarks/device/standins) computes what torch-scatter computes."""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch_scatter

STANDIN = Path(__file__).resolve().parents[1] / "benchmarks/device/standins/torch_scatter/__init__.py"


def load_standin():
    spec = importlib.util.spec_from_file_location("torch_scatter_standin", STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_mean_matches_torch_scatter(dim):
    standin = load_standin()
    generator = torch.Generator().manual_seed(0)
    src = torch.randn(7, 5, 3, generator=generator)
    size = src.size(dim)
    index = torch.randint(0, 4, (size,), generator=generator)
    index[0] = 5  # so clusters 1..4 may be empty and dim_size (7) leaves two rows that nothing maps to
    shape = [1] * src.dim()
    shape[dim] = size
    full_index = index.view(shape).expand_as(src)
    expected = torch_scatter.scatter_mean(src, full_index, dim=dim, dim_size=7)
    got = standin.scatter_mean(src, index, dim=dim, dim_size=7)
    torch.testing.assert_close(got, expected)
    assert (got.select(dim if dim >= 0 else src.dim() + dim, 6) == 0).all()  # empty rows are zeros in both


def test_scatter_mean_as_merge_calls_it():
    """graphkd/graph/merge.py's call: node features (N, C, S) averaged into clusters along dim 0."""
    standin = load_standin()
    value = torch.randn(10, 4, 6)
    cluster = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4, 4, 1])
    expected = torch.stack([value[cluster == c].mean(0) for c in range(5)])  # the mean, by definition
    torch.testing.assert_close(standin.scatter_mean(value, cluster, dim=0, dim_size=5), expected)
    with pytest.raises(NotImplementedError, match="out="):
        standin.scatter_mean(value, cluster, dim=0, out=torch.zeros(5, 4, 6))
