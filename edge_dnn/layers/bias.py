"""Caffe ``Bias`` (per-axis addition)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import affine_int, float_path, int_inputs
from edge_dnn.layers._util import (
    broadcast_to_axis,
    f32_inputs,
    operand_shape,
    param_blob,
)
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Bias(Layer):
    """``y = x + b``, ``b`` broadcast along ``x``'s axes from ``axis`` on.

    One bottom: ``b`` is the blob, of shape ``x.shape[axis:axis+num_axes]`` (``num_axes=-1``: to
    the end, ``0``: a scalar). Two bottoms: bottom 1 is ``b`` (its shape must match ``x`` from
    ``axis``; ``num_axes`` is ignored) and there is no blob. Float32, any layout.

    Attributes:
        axis: First axis of ``x`` the bias applies to (negative: from the end).
        num_axes: Number of axes the bias spans (-1: to the end).
    """

    TYPE: ClassVar[str] = "Bias"
    MAX_INPUTS: ClassVar[int | None] = 2

    axis: int = 1
    num_axes: int = 1

    @classmethod
    def from_proto(cls, lp: Any) -> Bias:
        """Read ``bias_param``."""
        p = lp.bias_param
        layer = cls(name=lp.name, axis=int(p.axis), num_axes=int(p.num_axes))
        if layer.num_axes < -1:
            raise layer.unsupported(f"bias_param.num_axes must be >= -1, got {layer.num_axes}")
        return layer

    def _operand(self, in_shapes: Sequence[Shape]) -> tuple[Shape, int, Shape]:
        """(input shape, axis the bias applies at, bias shape)."""
        return operand_shape(self, in_shapes, self.axis, self.num_axes, "bias")

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same as bottom 0."""
        return [self._operand(in_shapes)[0]]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[b]`` with one bottom, none with two."""
        _, _, bshape = self._operand(in_shapes)
        return [] if len(in_shapes) == 2 else [bshape]

    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """Small biases, ``b ~ N(0, 0.1)``."""
        return [
            (rng.standard_normal(s) * 0.1).astype(np.float32) for s in self.param_shapes(in_shapes)
        ]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32)."""
        xs = f32_inputs(self, inputs)
        x = xs[0]
        _, a, bshape = self._operand([t.shape for t in xs])
        b = xs[1].reshape(bshape) if len(xs) == 2 else param_blob(self, params, 0, bshape)
        return [np.asarray(x + broadcast_to_axis(b, x.ndim, a), dtype=np.float32)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the per-channel (axis 1) affine map as a depthwise 1x1 convolution.

        Used when the quantizer gave the node per-channel weights (contract section 8: weight
        ``gamma_c`` quantized per channel, bias as section 3.5, requantization as section 4);
        otherwise (a second bottom, parameters not per-channel) the ARM float path.
        """
        if q.float_path or q.weights is None:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        return [affine_int(x, q, f"layer '{self.name}'")]
