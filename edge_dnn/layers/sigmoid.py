"""Caffe ``Sigmoid``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array


@dataclasses.dataclass(frozen=True)
class Sigmoid(Elementwise):
    """``y = 1 / (1 + exp(-x))`` (float32, any layout)."""

    TYPE: ClassVar[str] = "Sigmoid"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Logistic function in the tanh form, which cannot overflow (Caffe uses it too)."""
        (x,) = f32_inputs(self, inputs)
        half = np.float32(0.5)
        return [half * np.tanh(half * x) + half]
