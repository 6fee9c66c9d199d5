"""Caffe ``Log``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import LutFunction, lut_int
from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Log(Elementwise):
    """``y = log_base(shift + scale * x)`` (float32, any layout); ``base = -1`` means ``e``.

    Non-positive arguments give ``-inf``/NaN, as in Caffe.

    Attributes:
        base: Base of the logarithm, ``> 0`` and ``!= 1``, or ``-1`` for ``e``.
        scale: Input scale.
        shift: Input shift.
    """

    TYPE: ClassVar[str] = "Log"

    base: float = -1.0
    scale: float = 1.0
    shift: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> Log:
        """Read ``log_param``."""
        p = lp.log_param
        layer = cls(name=lp.name, base=float(p.base), scale=float(p.scale), shift=float(p.shift))
        if not ((layer.base > 0 and layer.base != 1) or layer.base == -1):
            raise layer.unsupported(
                f"log_param.base must be positive and not 1, or -1, got {layer.base}"
            )
        return layer

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Scaled, shifted logarithm."""
        (x,) = f32_inputs(self, inputs)
        base_scale = np.float32(1.0 if self.base == -1 else 1.0 / math.log(self.base))
        y = x
        if self.scale != 1:
            y = y * np.float32(self.scale)
        if self.shift != 0:
            y = y + np.float32(self.shift)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.log(y)
        return [y * base_scale if base_scale != 1 else y]

    def lut_function(self) -> LutFunction:
        """``log_base(shift + scale * x)`` in float64 (non-positive arguments: -inf / NaN)."""
        base_scale = 1.0 if self.base == -1 else 1.0 / math.log(self.base)
        scale, shift = float(np.float32(self.scale)), float(np.float32(self.shift))
        return lambda x: np.log(shift + scale * x) * base_scale

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
