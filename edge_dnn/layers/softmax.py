"""Caffe ``Softmax``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis


@dataclasses.dataclass(frozen=True)
class Softmax(Layer):
    """``y = exp(x - max) / sum(exp(x - max))`` along ``axis`` (float32, NCHW: 1 = channels).

    Attributes:
        axis: Normalised axis (negative: from the end).
    """

    TYPE: ClassVar[str] = "Softmax"

    axis: int = 1

    @classmethod
    def from_proto(cls, lp: Any) -> Softmax:
        """Read ``softmax_param.axis``."""
        return cls(name=lp.name, axis=int(lp.softmax_param.axis))

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same as the input (``axis`` must exist)."""
        (s,) = shapes_of(self, in_shapes)
        canonical_axis(self, self.axis, len(s))
        return [s]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference, shifted by the maximum so ``exp`` cannot overflow."""
        (x,) = f32_inputs(self, inputs)
        a = canonical_axis(self, self.axis, x.ndim)
        if x.size == 0:
            return [x.copy()]
        e = np.exp(x - x.max(axis=a, keepdims=True))
        return [e / e.sum(axis=a, keepdims=True)]
