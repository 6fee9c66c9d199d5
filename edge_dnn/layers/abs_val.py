"""Caffe ``AbsVal``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array


@dataclasses.dataclass(frozen=True)
class AbsVal(Elementwise):
    """``y = |x|`` (float32, any layout)."""

    TYPE: ClassVar[str] = "AbsVal"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Absolute value."""
        (x,) = f32_inputs(self, inputs)
        return [np.abs(x)]
