"""Caffe ``Split`` (one blob to several identical tops)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from edge_dnn.layers._int_ops import passthrough
from edge_dnn.layers._util import f32_inputs, shapes_of, top_count
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Split(Layer):
    """Copy a float32 blob to ``num_tops`` tops.

    Attributes:
        num_tops: Number of tops (from the prototxt).
    """

    TYPE: ClassVar[str] = "Split"

    num_tops: int = 1

    @classmethod
    def from_proto(cls, lp: Any) -> Split:
        """Read the top count."""
        return cls(name=lp.name, num_tops=top_count(cls(name=lp.name), lp.top))

    def num_outputs(self, num_inputs: int) -> int | None:
        """As many tops as the prototxt declares."""
        return None

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """The input shape, once per top."""
        (s,) = shapes_of(self, in_shapes)
        return [s] * self.num_tops

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: independent copies (no aliasing between tops)."""
        (x,) = f32_inputs(self, inputs)
        return [x.copy() for _ in range(self.num_tops)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: aliasing (every top is the input buffer), scale unchanged."""
        x = passthrough(self, inputs)
        return [x] * self.num_tops
