"""Caffe ``Threshold``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array


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
