"""Caffe ``BNLL`` (binomial normal log likelihood, i.e. softplus)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array


@dataclasses.dataclass(frozen=True)
class BNLL(Elementwise):
    """``y = log(1 + exp(x))`` (float32, any layout)."""

    TYPE: ClassVar[str] = "BNLL"

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Softplus as ``max(x, 0) + log1p(exp(-|x|))``, which never overflows."""
        (x,) = f32_inputs(self, inputs)
        return [np.maximum(x, np.float32(0)) + np.log1p(np.exp(-np.abs(x)))]
