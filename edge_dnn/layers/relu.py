"""Caffe ``ReLU`` (with the leaky ``negative_slope``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array


@dataclasses.dataclass(frozen=True)
class ReLU(Elementwise):
    """``y = max(x, 0) + negative_slope * min(x, 0)`` element-wise (float32, any layout).

    Attributes:
        negative_slope: Slope for negative inputs (0: plain ReLU).
    """

    TYPE: ClassVar[str] = "ReLU"

    negative_slope: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> ReLU:
        """Read ``relu_param.negative_slope``."""
        return cls(name=lp.name, negative_slope=float(lp.relu_param.negative_slope))

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """The leaky rectifier."""
        (x,) = f32_inputs(self, inputs)
        if self.negative_slope == 0.0:
            return [np.maximum(x, np.float32(0))]
        zero = np.float32(0)
        return [np.maximum(x, zero) + np.float32(self.negative_slope) * np.minimum(x, zero)]
