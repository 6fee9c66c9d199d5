"""Caffe ``ReLU`` (with the leaky ``negative_slope``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import cast_to, float_path, int_inputs
from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array
from edge_dnn.quant import arith

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class ReLU(Elementwise):
    """``y = max(x, 0) + negative_slope * min(x, 0)`` element-wise (float32, any layout).

    Attributes:
        negative_slope: Slope for negative inputs (0: plain ReLU).
    """

    TYPE: ClassVar[str] = "ReLU"

    negative_slope: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> ReLU:
        """Read ``relu_param.negative_slope``."""
        return cls(name=lp.name, negative_slope=float(lp.relu_param.negative_slope))

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """The leaky rectifier."""
        (x,) = f32_inputs(self, inputs)
        if self.negative_slope == 0.0:
            return [np.maximum(x, np.float32(0))]
        zero = np.float32(0)
        return [np.maximum(x, zero) + np.float32(self.negative_slope) * np.minimum(x, zero)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (contract section 7), any layout.

        Plain ReLU: ``max(q, 0)``, same scale and type. Leaky ReLU: ``requantize_piecewise``
        with ``q.tables["prelu"] = (Mp, Sp, Mn, Sn)`` into the type of ``q.outputs[0]``.
        """
        if q.float_path:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        if self.negative_slope == 0.0:
            return [np.maximum(x, x.dtype.type(0))]
        out = q.outputs[0]
        mp, sp, mn, sn = q.tables["prelu"]
        y = arith.requantize_piecewise(
            x, mp, sp, mn, sn, out.qmin, out.qmax, where=f"layer '{self.name}'"
        )
        return [cast_to(y, out)]
