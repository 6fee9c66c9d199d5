"""Caffe ``BNLL`` (binomial normal log likelihood, i.e. softplus)."""

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
class BNLL(Elementwise):
    """``y = log(1 + exp(x))`` (float32, any layout)."""

    TYPE: ClassVar[str] = "BNLL"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Softplus as ``max(x, 0) + log1p(exp(-|x|))``, which never overflows."""
        (x,) = f32_inputs(self, inputs)
        return [np.maximum(x, np.float32(0)) + np.log1p(np.exp(-np.abs(x)))]

    def lut_function(self) -> LutFunction:
        """Softplus in float64, for the lookup table."""
        return lambda x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
