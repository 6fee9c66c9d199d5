"""``Permute`` of the SSD Caffe fork (axis transposition)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import passthrough
from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Permute(Layer):
    """Transpose the axes of a float32 blob: output axis ``i`` is input axis ``order[i]``.

    As in SSD Caffe, axes missing from ``order`` are appended in increasing order (an empty
    order is the identity).

    Attributes:
        order: The (possibly partial) permutation.
    """

    TYPE: ClassVar[str] = "Permute"

    order: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", tuple(int(o) for o in self.order))
        if len(set(self.order)) != len(self.order):
            raise self.unsupported(f"permute order {list(self.order)} has duplicate axes")
        if any(o < 0 for o in self.order):
            raise self.unsupported(f"permute order {list(self.order)} has negative axes")

    @classmethod
    def from_proto(cls, lp: Any) -> Permute:
        """Read ``permute_param.order``."""
        return cls(name=lp.name, order=tuple(lp.permute_param.order))

    def full_order(self, ndim: int) -> tuple[int, ...]:
        """The complete permutation for an ``ndim``-D input."""
        if any(o >= ndim for o in self.order):
            raise self.shape_error(
                f"permute order {list(self.order)} names an axis beyond the input's {ndim} axes"
            )
        return self.order + tuple(i for i in range(ndim) if i not in self.order)

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """The permuted shape."""
        (s,) = shapes_of(self, in_shapes)
        return [tuple(s[o] for o in self.full_order(len(s)))]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: a contiguous transposed copy."""
        (x,) = f32_inputs(self, inputs)
        return [np.ascontiguousarray(np.transpose(x, self.full_order(x.ndim)))]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the same transposition of the integers, scale unchanged."""
        x = passthrough(self, inputs)
        return [np.ascontiguousarray(np.transpose(x, self.full_order(x.ndim)))]
