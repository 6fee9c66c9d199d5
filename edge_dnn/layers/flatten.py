"""Caffe ``Flatten``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from edge_dnn.layers._int_ops import passthrough
from edge_dnn.layers._util import count, f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Flatten(Layer):
    """Merge axes ``axis..end_axis`` (inclusive) into one; data order is unchanged.

    Attributes:
        axis: First merged axis (negative: from the end).
        end_axis: Last merged axis (negative: from the end; -1 = last).
    """

    TYPE: ClassVar[str] = "Flatten"

    axis: int = 1
    end_axis: int = -1

    @classmethod
    def from_proto(cls, lp: Any) -> Flatten:
        """Read ``flatten_param``."""
        p = lp.flatten_param
        return cls(name=lp.name, axis=int(p.axis), end_axis=int(p.end_axis))

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``shape[:axis] + (prod(shape[axis:end_axis+1]),) + shape[end_axis+1:]``."""
        (s,) = shapes_of(self, in_shapes)
        a = canonical_axis(self, self.axis, len(s))
        e = canonical_axis(self, self.end_axis, len(s))
        if e < a:
            raise self.shape_error(
                f"Flatten end_axis {self.end_axis} comes before axis {self.axis} for input {s}"
            )
        return [(*s[:a], count(s[a : e + 1]), *s[e + 1 :])]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: a reshape (copy)."""
        (x,) = f32_inputs(self, inputs)
        (out,) = self.output_shapes([x.shape])
        return [x.reshape(out).copy()]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: metadata only (a reshape of the NCHW buffer), scale unchanged."""
        x = passthrough(self, inputs)
        (out,) = self.output_shapes([x.shape])
        return [x.reshape(out)]
