"""Caffe ``Scale`` (per-axis multiplication, optional bias)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import affine_int, float_path, int_inputs
from edge_dnn.layers._util import (
    broadcast_to_axis,
    count,
    f32_inputs,
    operand_shape,
    param_blob,
)
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Scale(Layer):
    """``y = x * gamma (+ beta)``, ``gamma`` broadcast along ``x``'s axes from ``axis`` on.

    One bottom: ``gamma`` is blob 0 of shape ``x.shape[axis:axis+num_axes]`` (``num_axes=-1``: to
    the end, ``0``: a scalar), then ``beta`` of the same shape if ``bias_term`` (default false).
    Two bottoms: bottom 1 is ``gamma`` (its shape must match ``x`` from ``axis``; ``num_axes`` is
    ignored) and the only blob is ``beta`` if ``bias_term``. Float32, any layout (NCHW for
    images).

    Attributes:
        axis: First axis of ``x`` the scale applies to (negative: from the end).
        num_axes: Number of axes the scale spans (-1: to the end).
        bias_term: Add a learned bias.
    """

    TYPE: ClassVar[str] = "Scale"
    MAX_INPUTS: ClassVar[int | None] = 2

    axis: int = 1
    num_axes: int = 1
    bias_term: bool = False

    @classmethod
    def from_proto(cls, lp: Any) -> Scale:
        """Read ``scale_param``."""
        p = lp.scale_param
        layer = cls(
            name=lp.name, axis=int(p.axis), num_axes=int(p.num_axes), bias_term=bool(p.bias_term)
        )
        if layer.num_axes < -1:
            raise layer.unsupported(f"scale_param.num_axes must be >= -1, got {layer.num_axes}")
        return layer

    def _operand(self, in_shapes: Sequence[Shape]) -> tuple[Shape, int, Shape]:
        """(input shape, axis the scale applies at, scale shape)."""
        return operand_shape(self, in_shapes, self.axis, self.num_axes, "scale")

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same as bottom 0."""
        return [self._operand(in_shapes)[0]]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[gamma]`` (+ ``[beta]``) with one bottom; ``[beta]`` or none with two."""
        _, _, sshape = self._operand(in_shapes)
        shapes = [] if len(in_shapes) == 2 else [sshape]
        return [*shapes, sshape] if self.bias_term else shapes

    def macs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> int:
        """One multiply per output element."""
        return count(tuple(out_shapes[0]))

    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """``gamma ~ U(0.5, 1.5)``, ``beta ~ N(0, 0.1)``."""
        _, _, sshape = self._operand(in_shapes)
        out = []
        if len(in_shapes) == 1:
            out.append(rng.uniform(0.5, 1.5, size=sshape).astype(np.float32))
        if self.bias_term:
            out.append((rng.standard_normal(sshape) * 0.1).astype(np.float32))
        return out

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32)."""
        xs = f32_inputs(self, inputs)
        x = xs[0]
        _, a, sshape = self._operand([t.shape for t in xs])
        if len(xs) == 2:
            gamma = xs[1].reshape(sshape)
            k = 0
        else:
            gamma = param_blob(self, params, 0, sshape)
            k = 1
        y = x * broadcast_to_axis(gamma, x.ndim, a)
        if self.bias_term:
            y = y + broadcast_to_axis(param_blob(self, params, k, sshape), x.ndim, a)
        return [y]

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
