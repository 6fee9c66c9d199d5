"""Caffe ``ELU``."""

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
class ELU(Elementwise):
    """``y = x`` for ``x > 0``, else ``alpha * (exp(x) - 1)`` (float32, any layout).

    Attributes:
        alpha: Scale of the negative branch.
    """

    TYPE: ClassVar[str] = "ELU"

    alpha: float = 1.0

    @classmethod
    def from_proto(cls, lp: Any) -> ELU:
        """Read ``elu_param.alpha``."""
        return cls(name=lp.name, alpha=float(lp.elu_param.alpha))

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """The exponential linear unit (``expm1`` keeps small negatives accurate)."""
        (x,) = f32_inputs(self, inputs)
        zero = np.float32(0)
        return [np.maximum(x, zero) + np.float32(self.alpha) * np.expm1(np.minimum(x, zero))]

    def lut_function(self) -> LutFunction:
        """The ELU in float64 (``alpha`` rounded to float32 as in :meth:`forward`)."""
        alpha = float(np.float32(self.alpha))
        return lambda x: np.maximum(x, 0.0) + alpha * np.expm1(np.minimum(x, 0.0))

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the compile-time lookup table ``q.tables["lut"]`` (section 7)."""
        return lut_int(self, inputs, q)
