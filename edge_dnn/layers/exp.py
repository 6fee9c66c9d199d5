"""Caffe ``Exp``."""

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
class Exp(Elementwise):
    """``y = base ** (shift + scale * x)`` (float32, any layout); ``base = -1`` means ``e``.

    Computed as Caffe does: ``outer * exp(inner * x)`` with ``inner = ln(base) * scale`` and
    ``outer = base ** shift``.

    Attributes:
        base: Base of the power, ``> 0``, or ``-1`` for ``e``.
        scale: Input scale.
        shift: Input shift.
    """

    TYPE: ClassVar[str] = "Exp"

    base: float = -1.0
    scale: float = 1.0
    shift: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> Exp:
        """Read ``exp_param``."""
        p = lp.exp_param
        layer = cls(name=lp.name, base=float(p.base), scale=float(p.scale), shift=float(p.shift))
        if not (layer.base > 0 or layer.base == -1):
            raise layer.unsupported(f"exp_param.base must be positive or -1, got {layer.base}")
        return layer

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Scaled exponential."""
        (x,) = f32_inputs(self, inputs)
        natural = self.base == -1
        log_base = 1.0 if natural else math.log(self.base)
        inner = np.float32(log_base * self.scale)
        if self.shift == 0:
            outer = np.float32(1)
        else:
            outer = np.float32(math.exp(self.shift) if natural else self.base**self.shift)
        with np.errstate(over="ignore"):
            y = np.exp(x * inner if inner != 1 else x)
            return [y * outer if outer != 1 else y]

    def lut_function(self) -> LutFunction:
        """``base ** (shift + scale * x)`` in float64, computed as :meth:`forward` does."""
        natural = self.base == -1
        inner = (1.0 if natural else math.log(self.base)) * self.scale
        if self.shift == 0:
            outer = 1.0
        else:
            outer = math.exp(self.shift) if natural else self.base**self.shift
        return lambda x: outer * np.exp(inner * x)

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
