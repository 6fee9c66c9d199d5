"""Caffe ``Clip`` (BVLC master)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array


@dataclasses.dataclass(frozen=True)
class Clip(Elementwise):
    """``y = max(min, min(x, max))`` (float32, any layout; ``min`` wins if ``min > max``).

    Attributes:
        min: Lower bound.
        max: Upper bound.
    """

    TYPE: ClassVar[str] = "Clip"

    min: float = 0.0
    max: float = 0.0

    @classmethod
    def from_proto(cls, lp: Any) -> Clip:
        """Read ``clip_param.min``/``max`` (both required, as in Caffe)."""
        p = lp.clip_param
        if not (lp.HasField("clip_param") and p.HasField("min") and p.HasField("max")):
            raise cls(name=lp.name).unsupported("clip_param.min and clip_param.max are required")
        return cls(name=lp.name, min=float(p.min), max=float(p.max))

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Clamp in Caffe's order of operations."""
        (x,) = f32_inputs(self, inputs)
        return [np.maximum(np.float32(self.min), np.minimum(x, np.float32(self.max)))]
