"""Graph passes run before quantization (see :mod:`edge_dnn.passes.base` for the contract).

Every pass maps a :class:`~edge_dnn.graph.Graph` to a new one computing the same function;
:func:`run_passes` applies :data:`DEFAULT_PASSES`, the quantizer's pipeline.
"""

from edge_dnn.passes.base import DEFAULT_PASSES, GraphPass, WorkGraph, copy_graph, run_passes
from edge_dnn.passes.fold import (
    FoldAffine,
    FoldBatchNorm,
    FoldPower,
    FoldScale,
    StandaloneAffineToScale,
)
from edge_dnn.passes.fuse import FuseReLU
from edge_dnn.passes.identity import RemoveDropout

__all__ = [
    "DEFAULT_PASSES",
    "FoldAffine",
    "FoldBatchNorm",
    "FoldPower",
    "FoldScale",
    "FuseReLU",
    "GraphPass",
    "RemoveDropout",
    "StandaloneAffineToScale",
    "WorkGraph",
    "copy_graph",
    "run_passes",
]
