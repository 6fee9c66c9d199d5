"""Caffe ``Threshold``."""

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
class Threshold(Elementwise):
    """``y = 1`` where ``x > threshold`` else ``0`` (float32, any layout).

    Attributes:
        threshold: The (strict) threshold.
    """

    TYPE: ClassVar[str] = "Threshold"

    threshold: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> Threshold:
        """Read ``threshold_param.threshold``."""
        return cls(name=lp.name, threshold=float(lp.threshold_param.threshold))

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Step function."""
        (x,) = f32_inputs(self, inputs)
        return [(x > np.float32(self.threshold)).astype(np.float32)]

    def lut_function(self) -> LutFunction:
        """The step function in float64 (threshold rounded to float32 as in :meth:`forward`)."""
        t = float(np.float32(self.threshold))
        return lambda x: (x > t).astype(np.float64)

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
