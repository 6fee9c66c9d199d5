"""Caffe ``TanH``."""

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
class TanH(Elementwise):
    """``y = tanh(x)`` (float32, any layout)."""

    TYPE: ClassVar[str] = "TanH"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Hyperbolic tangent."""
        (x,) = f32_inputs(self, inputs)
        return [np.tanh(x)]

    def lut_function(self) -> LutFunction:
        """``tanh`` in float64, for the lookup table."""
        return np.tanh

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
