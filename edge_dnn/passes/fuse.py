"""ReLU fusion: a plain ReLU becomes the ``relu`` flag of the layer that produces its input."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from edge_dnn.graph import Node
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.relu import ReLU
from edge_dnn.passes.base import GraphPass, WorkGraph


class FuseReLU(GraphPass):
    """Fuse ``ReLU`` (``negative_slope == 0``) into its producer's ``relu: bool`` field.

    Producers: Convolution, InnerProduct and Eltwise with ``operation == "SUM"``. The
    pre-ReLU tensor must have the ReLU as its only reader and must not be a network output
    (otherwise its un-rectified values are still needed). The producer's output takes the
    ReLU's output name (see :mod:`edge_dnn.passes.base`), so ``conv1`` still means the rectified
    blob. Leaky ReLUs, and ReLUs after other layers (Scale, Concat, Pooling ...), are kept.
    """

    name: ClassVar[str] = "fuse_relu"

    def rewrite_node(self, work: WorkGraph, node: Node) -> bool:
        """Fuse ``node`` if it is a plain ReLU after a fusable producer."""
        layer = node.layer
        if not isinstance(layer, ReLU) or layer.negative_slope != 0.0 or len(node.inputs) != 1:
            return False
        x = node.inputs[0]
        if work.sole_consumer(x) is not node:
            return False
        producer = work.producer(x)
        target = producer.layer
        if not (
            isinstance(target, (Convolution, InnerProduct))
            or (isinstance(target, Eltwise) and target.operation == "SUM")
        ):
            return False
        producer.layer = dataclasses.replace(target, relu=True)
        removed = work.bypass(node)
        # x has one reader, is not an output and is not produced by an Input: always renamed.
        assert removed, f"could not bypass fused ReLU '{node.name}'"
        return True
