"""Caffe ``Sigmoid``."""

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
class Sigmoid(Elementwise):
    """``y = 1 / (1 + exp(-x))`` (float32, any layout)."""

    TYPE: ClassVar[str] = "Sigmoid"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Logistic function in the tanh form, which cannot overflow (Caffe uses it too)."""
        (x,) = f32_inputs(self, inputs)
        half = np.float32(0.5)
        return [half * np.tanh(half * x) + half]

    def lut_function(self) -> LutFunction:
        """The logistic function in float64 (tanh form), for the lookup table."""
        return lambda x: 0.5 * np.tanh(0.5 * x) + 0.5

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
