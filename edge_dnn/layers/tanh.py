"""Caffe ``TanH``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array


@dataclasses.dataclass(frozen=True)
class TanH(Elementwise):
    """``y = tanh(x)`` (float32, any layout)."""

    TYPE: ClassVar[str] = "TanH"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Hyperbolic tangent."""
        (x,) = f32_inputs(self, inputs)
        return [np.tanh(x)]
