"""Caffe ``Power``."""

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
class Power(Elementwise):
    """``y = (shift + scale * x) ** power`` (float32, any layout).

    As in Caffe, ``power * scale == 0`` gives a constant: 1 if ``power == 0``, else
    ``shift ** power``. Negative bases with a fractional power give NaN, as C ``pow`` does.

    Attributes:
        power: Exponent.
        scale: Input scale.
        shift: Input shift.
    """

    TYPE: ClassVar[str] = "Power"

    power: float = 1.0
    scale: float = 1.0
    shift: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> Power:
        """Read ``power_param``."""
        p = lp.power_param
        return cls(name=lp.name, power=float(p.power), scale=float(p.scale), shift=float(p.shift))

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Power function with Caffe's special cases."""
        (x,) = f32_inputs(self, inputs)
        power, scale, shift = (np.float32(v) for v in (self.power, self.scale, self.shift))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if power * scale == 0:
                value = np.float32(1) if power == 0 else np.power(shift, power)
                return [np.full(x.shape, value, dtype=np.float32)]
            y = x
            if scale != 1:
                y = y * scale
            if shift != 0:
                y = y + shift
            if power != 1:
                y = np.power(y, power)
            return [y if y is not x else x.copy()]

    def lut_function(self) -> LutFunction:
        """The power function in float64 (``forward``'s special cases, float32 parameters)."""
        power, scale, shift = (float(np.float32(v)) for v in (self.power, self.scale, self.shift))
        if power * scale == 0:
            value = 1.0 if power == 0 else float(np.power(shift, power))
            return lambda x: np.full(x.shape, value)
        return lambda x: np.power(shift + scale * x, power)

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
