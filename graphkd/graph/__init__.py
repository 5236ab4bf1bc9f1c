"""Instance graphs for GraphKD (METHOD.md §1-5), built on PyTorch Geometric; no detectron2 here.

`build_instance_graphs` turns the pooled RoI features of a batch into a PyG `Batch` (one graph per
image) with node types and spatial adjacency; `TextNodeMerge` and `AdaptiveNodeSampler` are the
pooling layers applied to it; `to_networkx`/`write_graphml` export one graph for inspection.
"""

from .adjacency import spatial_adjacency
from .build import NODE_TYPE_MODES, build_instance_graphs
from .components import ConnectedComponents
from .export import to_networkx, write_graphml
from .merge import MergeOutput, TextNodeMerge
from .node_types import (
    NODE_BACKGROUND,
    NODE_NONTEXT,
    NODE_TEXT,
    covariance_node_types,
    covariance_statistic,
    gt_node_types,
    node_type_agreement,
    otsu_threshold,
)
from .sampler import SAMPLING_MODES, AdaptiveNodeSampler, SampleOutput
from .similarity import edge_cosine

__all__ = [
    "NODE_BACKGROUND",
    "NODE_NONTEXT",
    "NODE_TEXT",
    "NODE_TYPE_MODES",
    "SAMPLING_MODES",
    "AdaptiveNodeSampler",
    "ConnectedComponents",
    "MergeOutput",
    "SampleOutput",
    "TextNodeMerge",
    "build_instance_graphs",
    "covariance_node_types",
    "covariance_statistic",
    "edge_cosine",
    "gt_node_types",
    "node_type_agreement",
    "otsu_threshold",
    "spatial_adjacency",
    "to_networkx",
    "write_graphml",
]
