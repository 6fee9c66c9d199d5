"""Caffe ``Clip`` (BVLC master)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import LutFunction, lut_int
from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Clip(Elementwise):
    """``y = max(min, min(x, max))`` (float32, any layout; ``min`` wins if ``min > max``).

    Attributes:
        min: Lower bound.
        max: Upper bound.
    """

    TYPE: ClassVar[str] = "Clip"

    min: float = 0.0
    max: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> Clip:
        """Read ``clip_param.min``/``max`` (both required, as in Caffe)."""
        p = lp.clip_param
        if not (lp.HasField("clip_param") and p.HasField("min") and p.HasField("max")):
            raise cls(name=lp.name).unsupported("clip_param.min and clip_param.max are required")
        return cls(name=lp.name, min=float(p.min), max=float(p.max))

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Clamp in Caffe's order of operations."""
        (x,) = f32_inputs(self, inputs)
        return [np.maximum(np.float32(self.min), np.minimum(x, np.float32(self.max)))]

    def lut_function(self) -> LutFunction:
        """The clamp in float64 (bounds rounded to float32 as in :meth:`forward`)."""
        lo, hi = float(np.float32(self.min)), float(np.float32(self.max))
        return lambda x: np.maximum(lo, np.minimum(x, hi))

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
