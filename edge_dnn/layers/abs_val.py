"""Caffe ``AbsVal``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import LutFunction, lut_int
from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class AbsVal(Elementwise):
    """``y = |x|`` (float32, any layout)."""

    TYPE: ClassVar[str] = "AbsVal"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Absolute value."""
        (x,) = f32_inputs(self, inputs)
        return [np.abs(x)]

    def lut_function(self) -> LutFunction:
        """``|x|`` in float64, for the lookup table."""
        return np.abs

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
