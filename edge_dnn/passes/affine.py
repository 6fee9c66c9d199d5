"""Affine maps of layers and folding them into weights (helpers of :mod:`edge_dnn.passes.fold`).

An *affine layer* computes ``y = a * x + b`` element-wise with ``a`` and ``b`` constant arrays
broadcast against ``x``: BatchNorm (inference), one-bottom Scale and Bias, ``Power`` with
``power == 1`` and Dropout (identity, or the test-time scaling of ``scale_train: false``). The
helpers here return ``a`` and ``b`` as float64 arrays with ``x``'s rank (size-1 axes broadcast)
and fold them into the per-output-channel weights and bias of a producer. All folding arithmetic
is float64, rounded once to float32.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edge_dnn.graph import Node
from edge_dnn.layers._util import broadcast_to_axis, span_shape
from edge_dnn.layers.base import Layer, Shape
from edge_dnn.layers.batch_norm import BatchNorm
from edge_dnn.layers.bias import Bias
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.deconvolution import Deconvolution
from edge_dnn.layers.dropout import Dropout
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.power import Power
from edge_dnn.layers.scale import Scale

Affine = tuple[np.ndarray, np.ndarray]
"""``(a, b)``: float64 arrays of the input's rank, broadcastable to it."""


def _blob(params: list[np.ndarray], i: int, shape: Shape) -> np.ndarray:
    return np.asarray(params[i], dtype=np.float64).reshape(shape)


def _full(layer: Layer, x: Shape, axis: int, num_axes: int, what: str) -> tuple[int, Shape]:
    """(axis, parameter shape) of a one-bottom Scale/Bias on input shape ``x``."""
    a, pshape = span_shape(layer, x, axis, num_axes, what)
    return (0 if not pshape else a), pshape


def affine_of(node: Node, shape: Shape) -> Affine | None:
    """The affine map of ``node`` applied to an input of ``shape``, or None.

    None when the node is not an affine function of a single input (other types, Scale/Bias
    with a second bottom, Power with ``power != 1``) or when its parameter blobs are missing.
    """
    layer = node.layer
    nd = len(shape)
    one = np.ones((1,) * nd)
    zero = np.zeros((1,) * nd)
    if len(node.inputs) != 1 or len(node.outputs) != 1:
        return None
    need = layer.param_shapes([shape])
    if len(node.params) != len(need):
        return None
    if isinstance(layer, BatchNorm):
        if nd < 1:
            return None
        c = shape[1] if nd > 1 else 1
        mean = _blob(node.params, 0, (c,))
        var = _blob(node.params, 1, (c,))
        sf = float(_blob(node.params, 2, (1,))[0])
        factor = 0.0 if sf == 0 else 1.0 / sf
        std = np.sqrt(var * factor + float(np.float32(layer.eps)))
        axis = 1 if nd > 1 else 0
        return broadcast_to_axis(1.0 / std, nd, axis), broadcast_to_axis(
            -mean * factor / std, nd, axis
        )
    if isinstance(layer, Scale):
        axis, pshape = _full(layer, shape, layer.axis, layer.num_axes, "scale")
        gamma = broadcast_to_axis(_blob(node.params, 0, pshape), nd, axis)
        beta = (
            broadcast_to_axis(_blob(node.params, 1, pshape), nd, axis) if layer.bias_term else zero
        )
        return gamma, beta
    if isinstance(layer, Bias):
        axis, pshape = _full(layer, shape, layer.axis, layer.num_axes, "bias")
        return one, broadcast_to_axis(_blob(node.params, 0, pshape), nd, axis)
    if isinstance(layer, Power):
        if layer.power != 1.0:
            return None
        # The float reference rounds scale and shift to float32 before using them.
        return one * float(np.float32(layer.scale)), one * float(np.float32(layer.shift))
    if isinstance(layer, Dropout):
        if layer.scale_train:
            return one, zero
        return one * float(np.float32(1.0 - layer.dropout_ratio)), zero
    return None


def along(p: np.ndarray, axis: int, size: int) -> np.ndarray | None:
    """``p`` (an affine operand of some rank) as a vector along ``axis`` of length ``size``.

    None when ``p`` varies along any other axis (the map is not per-channel on ``axis``).
    """
    if any(d != 1 for i, d in enumerate(p.shape) if i != axis):
        return None
    if p.shape[axis] not in (1, size):
        return None
    return np.broadcast_to(p.reshape(-1), (size,)).astype(np.float64)


def _scale_target(node: Node, shape: Shape) -> Affine | None:
    """A one-bottom Scale/Bias target's own map, as per-channel (axis 1) vectors."""
    if len(shape) < 2 or len(node.inputs) != 1:
        return None
    ab = affine_of(node, shape)
    if ab is None:
        return None
    a, b = along(ab[0], 1, shape[1]), along(ab[1], 1, shape[1])
    if a is None or b is None:
        return None
    return a, b


def fold_into(
    target: Node, ab: Affine, shape: Shape, *, merge: bool
) -> tuple[Layer, list[np.ndarray]] | None:
    """Fold ``y = a * t + b`` (``t`` = ``target``'s output of ``shape``) into ``target``.

    Targets: Convolution and Deconvolution (per output channel, axis 1), InnerProduct (per
    output feature, the last axis) and, when ``merge``, a one-bottom per-channel Scale or Bias
    (the result is a ``Scale`` with bias). The folded layer always has a bias term.

    Returns:
        The new ``(layer, params)`` of the target, or None if the fold does not apply (the map
        is not per-channel on the target's output axis, missing blobs, a fused ReLU ...).
    """
    layer = target.layer
    nd = len(shape)
    if isinstance(layer, (Convolution, Deconvolution, InnerProduct)):
        if getattr(layer, "relu", False):
            return None
        f = nd - 1 if isinstance(layer, InnerProduct) else 1
        c = layer.num_output
        a, b = along(ab[0], f, c), along(ab[1], f, c)
        need = 2 if layer.bias_term else 1
        if a is None or b is None or len(target.params) != need:
            return None
        w = np.asarray(target.params[0], dtype=np.float64)
        if isinstance(layer, Convolution):
            w = w * a.reshape((c,) + (1,) * (w.ndim - 1))
        elif isinstance(layer, Deconvolution):
            # W[C_in, O/group, kh, kw]: output channel g*(O/group)+j is column j of group g.
            g = layer.group
            cin, og = w.shape[0], w.shape[1]
            w = (
                w.reshape(g, cin // g, og, *w.shape[2:])
                * a.reshape(g, 1, og, *((1,) * (w.ndim - 2)))
            ).reshape(w.shape)
        elif layer.transpose:
            w = w * a.reshape(1, c)
        else:
            w = w * a.reshape(c, 1)
        bias = (
            np.asarray(target.params[1], dtype=np.float64).reshape(c)
            if layer.bias_term
            else np.zeros(c)
        )
        new_b = a * bias + b
        new_layer = dataclasses.replace(layer, bias_term=True)
        return new_layer, [w.astype(np.float32), new_b.astype(np.float32)]
    if merge and isinstance(layer, (Scale, Bias)):
        own = _scale_target(target, shape)  # Scale/Bias keep bottom 0's shape
        if own is None:
            return None
        c = shape[1]
        a, b = along(ab[0], 1, c), along(ab[1], 1, c)
        if a is None or b is None:
            return None
        merged = Scale(name=layer.name, axis=1, num_axes=1, bias_term=True)
        return merged, [(a * own[0]).astype(np.float32), (a * own[1] + b).astype(np.float32)]
    return None
