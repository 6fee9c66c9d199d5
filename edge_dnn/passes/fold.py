"""Folding passes: affine layers into the weights and bias of the layer before them.

``conv -> BatchNorm -> Scale`` (ResNet, MobileNet) computes ``a * (W * x + b) + c`` per output
channel, which is the convolution with weights ``a[o] * W[o]`` and bias ``a * b + c``; the
engine then never sees the affine layers. Folding is only legal when the producer's output has
no other reader (and is not a network output): the pre-affine values must not be needed.

Considered and left out:

* An affine layer *before* a convolution (e.g. input normalisation): the multiplicative part
  folds into the input channels of ``W``, but the additive part does not commute with zero
  padding, and a mean-subtracting ``Power``/``Scale`` on the input is better done in the
  vision pipeline's preprocessing.
* Affine maps that are not per-channel on the producer's output axis (Scale with
  ``num_axes: 2`` over C and H, or an InnerProduct with ``axis: 2``): they would need per-pixel
  biases, which Caffe's layers cannot express.
* Scale/Bias with a second bottom (the operand is data, not a constant), and ``Power`` with
  ``power != 1`` (not affine): they stay (ARM integer kernels / LUTs, docs/arithmetic.md).
* A standalone Bias or Power is kept as it is (Bias is already a per-channel add; Power goes
  to a LUT); only BatchNorm is rewritten, because Scale is the layer the quantizer maps to the
  engine's per-channel affine op.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from edge_dnn.graph import Node
from edge_dnn.layers.batch_norm import BatchNorm
from edge_dnn.layers.dropout import Dropout
from edge_dnn.layers.power import Power
from edge_dnn.layers.scale import Scale
from edge_dnn.passes.affine import affine_of, fold_into
from edge_dnn.passes.base import GraphPass, WorkGraph


class FoldAffine(GraphPass):
    """Fold any affine layer into a preceding weight layer, or merge it into a preceding Scale.

    Sources (``y = a * x + b``, one bottom, constant per-channel ``a``/``b``): BatchNorm, Scale,
    Bias, ``Power`` with ``power == 1`` and Dropout. Targets: Convolution, Deconvolution and
    InnerProduct (without a fused ReLU); and, for this generic pass, a one-bottom per-channel
    Scale or Bias, which becomes one ``Scale`` with bias. The target's output must have the
    affine layer as its only reader and must not be a network output. The target keeps its
    name; the affine layer disappears and its output name moves to the target (see
    :mod:`edge_dnn.passes.base`). Targets always get ``bias_term=True``.
    """

    name: ClassVar[str] = "fold_affine"
    SOURCES: ClassVar[tuple[str, ...]] = ("BatchNorm", "Scale", "Bias", "Power", "Dropout")
    """Caffe types folded by this pass."""
    MERGE: ClassVar[bool] = True
    """Whether one-bottom Scale/Bias layers are targets too."""

    def is_source(self, node: Node) -> bool:
        """Whether ``node`` is one of the affine layers this pass folds."""
        return node.type in self.SOURCES

    def rewrite_node(self, work: WorkGraph, node: Node) -> bool:
        """Fold ``node`` into the producer of its input if everything allows it."""
        if not self.is_source(node) or len(node.inputs) != 1 or len(node.outputs) != 1:
            return False
        x = node.inputs[0]
        if work.sole_consumer(x) is not node:
            return False
        target = work.producer(x)
        if len(target.outputs) != 1:
            return False
        shape = work.shapes[x]
        ab = affine_of(node, shape)
        if ab is None:
            return False
        folded = fold_into(target, ab, shape, merge=self.MERGE)
        if folded is None:
            return False
        target.layer, target.params = folded
        removed = work.bypass(node)
        # x has one reader and is not an output; its producer is a weight/Scale layer, not an
        # Input: bypass always renames x to the affine layer's output.
        assert removed, f"could not bypass folded layer '{node.name}'"
        return True


class FoldBatchNorm(FoldAffine):
    """Fold BatchNorm into a preceding Convolution, Deconvolution or InnerProduct.

    Caffe semantics: ``y = (x - m * f) / sqrt(v * f + eps)`` with ``f = 1 / scale_factor``
    (``f = 0`` when the stored factor is 0). A convolution without bias gets one
    (``bias_term=True``) holding ``-m * f / sqrt(v * f + eps)``.
    """

    name: ClassVar[str] = "fold_batch_norm"
    SOURCES: ClassVar[tuple[str, ...]] = ("BatchNorm",)
    MERGE: ClassVar[bool] = False


class FoldScale(FoldAffine):
    """Fold one-bottom Scale (per channel, with or without bias) and Bias layers into a preceding
    Convolution, Deconvolution or InnerProduct (run after :class:`FoldBatchNorm`, this removes
    ResNet's and MobileNet's BatchNorm+Scale pairs completely)."""

    name: ClassVar[str] = "fold_scale"
    SOURCES: ClassVar[tuple[str, ...]] = ("Scale", "Bias")
    MERGE: ClassVar[bool] = False


class FoldPower(FoldAffine):
    """Fold ``Power`` with ``power == 1`` (``y = shift + scale * x``) and a test-time scaling
    Dropout (``scale_train: false``, ``y = (1 - ratio) * x``) into a preceding Convolution,
    Deconvolution or InnerProduct."""

    name: ClassVar[str] = "fold_power"
    SOURCES: ClassVar[tuple[str, ...]] = ("Power", "Dropout")
    MERGE: ClassVar[bool] = False

    def is_source(self, node: Node) -> bool:
        """Power with ``power == 1`` or a Dropout that scales at test time."""
        layer = node.layer
        if isinstance(layer, Power):
            return layer.power == 1.0
        return isinstance(layer, Dropout) and not layer.scale_train


class StandaloneAffineToScale(GraphPass):
    """Rewrite every BatchNorm (on an input with a channel axis) as an equivalent ``Scale``.

    ``Scale(axis=1, num_axes=1, bias_term=True)`` with ``gamma = 1 / sqrt(v * f + eps)`` and
    ``beta = -m * f * gamma``; same node name and tensors. Meant to run after the fold passes,
    so that only BatchNorms without a foldable producer are left; on its own it converts every
    BatchNorm (a following :class:`FoldAffine` still folds or merges the resulting Scale).
    """

    name: ClassVar[str] = "standalone_affine_to_scale"

    def rewrite_node(self, work: WorkGraph, node: Node) -> bool:
        """Replace a BatchNorm's layer and blobs by the equivalent Scale's."""
        if not isinstance(node.layer, BatchNorm) or len(node.inputs) != 1:
            return False
        shape = work.shapes[node.inputs[0]]
        if len(shape) < 2:
            return False
        ab = affine_of(node, shape)
        if ab is None:
            return False
        c = shape[1]
        node.layer = Scale(name=node.layer.name, axis=1, num_axes=1, bias_term=True)
        node.params = [
            ab[0].reshape(c).astype(np.float32),
            ab[1].reshape(c).astype(np.float32),
        ]
        return True
