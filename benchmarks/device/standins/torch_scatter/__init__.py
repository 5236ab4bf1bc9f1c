"""GPU-check stand-in for torch-scatter, used only on a lent GPU machine that lacks it.

The GPU machine's image has its own torch (2.11+cu130) and no torch-scatter, nothing can be fetched there, and
compiling torch-scatter's CUDA kernels would take most of a session's device time. GraphKD uses one function
of it (``scatter_mean``, in ``graphkd/graph/merge.py``), so this stand-in gives that function through PyG's
native ``torch_geometric.utils.scatter`` (``torch.scatter_reduce``), the same reduction. GraphKD's setup never
installs it; ``benchmarks/device/run_gpu_check.sh`` puts it on PYTHONPATH only when ``import torch_scatter``
fails, and the report's environment table names it. ``tests/test_device_standins.py`` checks it against the
real torch-scatter.
"""

from torch_geometric.utils import scatter as _scatter

__version__ = "2.1.2 (GPU-check stand-in: torch_geometric.utils.scatter)"


def scatter_mean(src, index, dim=-1, out=None, dim_size=None):
    if out is not None:
        raise NotImplementedError("out= is not supported by the GPU-check stand-in of torch_scatter")
    return _scatter(src, index, dim=dim, dim_size=dim_size, reduce="mean")
