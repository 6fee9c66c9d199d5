"""Caffe ``PReLU``: ReLU with a learned negative slope per channel (or one shared slope)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import cast_to, float_path, int_inputs
from edge_dnn.layers._util import broadcast_to_axis, f32_inputs, param_blob, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape
from edge_dnn.quant import arith

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class PReLU(Layer):
    """``y = max(x, 0) + slope[c] * min(x, 0)`` with ``c`` the channel (axis 1).

    Input: float32, at least 2-D (N, C, ...). Blob: ``slope[C]``, or ``slope[1]`` when shared.

    Attributes:
        channel_shared: One slope for all channels.
    """

    TYPE: ClassVar[str] = "PReLU"

    channel_shared: bool = False

    @classmethod
    def from_proto(cls, lp: Any) -> PReLU:
        """Read ``prelu_param.channel_shared``."""
        return cls(name=lp.name, channel_shared=bool(lp.prelu_param.channel_shared))

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same as the input, which must have at least 2 axes."""
        (s,) = shapes_of(self, in_shapes)
        if len(s) < 2:
            raise self.shape_error(f"PReLU needs an input with at least 2 axes, got {s}")
        return [s]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(1,)]`` if shared, else ``[(C,)]``."""
        (s,) = self.output_shapes(in_shapes)
        return [(1,)] if self.channel_shared else [(s[1],)]

    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """Slopes uniform in [0.05, 0.3] (Caffe's default filler is the constant 0.25)."""
        (shp,) = self.param_shapes(in_shapes)
        return [rng.uniform(0.05, 0.3, size=shp).astype(np.float32)]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32, NCHW)."""
        (x,) = f32_inputs(self, inputs)
        (shp,) = self.param_shapes([x.shape])
        slope = param_blob(self, params, 0, shp)
        if not self.channel_shared:
            slope = broadcast_to_axis(slope, x.ndim, 1)
        zero = np.float32(0)
        return [np.maximum(x, zero) + slope * np.minimum(x, zero)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (ARM int, contract section 7): ``requantize_piecewise``, NCHW.

        ``q.tables["prelu"] = (Mp, Sp, Mn, Sn)``; ``Mn``/``Sn`` per channel (axis 1), or scalars
        for ``channel_shared``. Output in the type of ``q.outputs[0]``.
        """
        if q.float_path:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        self.output_shapes([x.shape])
        out = q.outputs[0]
        mp, sp, mn, sn = q.tables["prelu"]
        y = arith.requantize_piecewise(
            x, mp, sp, mn, sn, out.qmin, out.qmax, axis=1, where=f"layer '{self.name}'"
        )
        return [cast_to(y, out)]
