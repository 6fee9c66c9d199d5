"""Removal of layers that are the identity at inference."""

from __future__ import annotations

from typing import ClassVar

from edge_dnn.graph import Node
from edge_dnn.layers.dropout import Dropout
from edge_dnn.layers.power import Power
from edge_dnn.layers.split import Split
from edge_dnn.passes.base import GraphPass, WorkGraph


def is_identity(node: Node) -> bool:
    """Whether ``node`` returns its single input unchanged at inference."""
    layer = node.layer
    if len(node.inputs) != 1 or len(node.outputs) != 1:
        return False
    if isinstance(layer, Dropout):
        return layer.scale_train
    if isinstance(layer, Split):
        return True
    if isinstance(layer, Power):
        return layer.power == 1.0 and layer.scale == 1.0 and layer.shift == 0.0
    return False


class RemoveDropout(GraphPass):
    """Remove Dropout and the other layers that are the identity at inference.

    Removed: Dropout (Caffe semantics, ``scale_train: true``), Split with a single top, and
    ``Power`` with ``power = scale = 1, shift = 0``. A Dropout with ``scale_train: false``
    (OpenCV fork, ``y = (1 - ratio) * x``) is not an identity and is left to
    :class:`~edge_dnn.passes.fold.FoldPower`. Multi-top Splits stay (each top is a separate
    tensor name; the engine aliases them anyway).

    Names: for ``x -> Dropout -> y`` the producer of ``x`` is rewired to write ``y`` and every
    reader of ``x`` reads ``y`` (same values), so the network output names never change even
    when ``y`` is one (``fc8 -> drop -> prob``-style tails). When ``x`` is itself a network
    input or output, ``y``'s readers read ``x`` instead; when both ``x`` and ``y`` are pinned
    that way, the Dropout is kept.
    """

    name: ClassVar[str] = "remove_dropout"

    def rewrite_node(self, work: WorkGraph, node: Node) -> bool:
        """Bypass ``node`` if it is an inference-time identity."""
        return is_identity(node) and work.bypass(node)
