"""Caffe ``Reshape``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from edge_dnn.layers._int_ops import passthrough
from edge_dnn.layers._util import count, f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Reshape(Layer):
    """Reshape (data order unchanged) by replacing the axes ``[axis, axis+num_axes)``.

    In ``shape``, ``0`` copies the corresponding input dimension and one ``-1`` is inferred from
    the element count, as in Caffe.

    Attributes:
        shape: The new dimensions of the replaced range.
        axis: First replaced axis; negative counts from the end, ``-1`` meaning *after* the last
            axis (Caffe's convention for Reshape).
        num_axes: Number of replaced axes (-1: to the end).
    """

    TYPE: ClassVar[str] = "Reshape"

    shape: tuple[int, ...] = ()
    axis: int = 0
    num_axes: int = -1

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if any(d < -1 for d in self.shape):
            raise self.unsupported(f"reshape dimensions must be >= -1, got {list(self.shape)}")
        if self.shape.count(-1) > 1:
            raise self.unsupported(f"reshape shape {list(self.shape)} has more than one -1")
        if self.num_axes < -1:
            raise self.unsupported(f"reshape num_axes must be >= -1, got {self.num_axes}")

    @classmethod
    def from_proto(cls, lp: Any) -> Reshape:
        """Read ``reshape_param``."""
        p = lp.reshape_param
        return cls(
            name=lp.name,
            shape=tuple(p.shape.dim),
            axis=int(p.axis),
            num_axes=int(p.num_axes),
        )

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """The new shape (0 copied, -1 inferred)."""
        (s,) = shapes_of(self, in_shapes)
        nd = len(s)
        start = self.axis if self.axis >= 0 else nd + self.axis + 1
        if not 0 <= start <= nd:
            raise self.shape_error(f"reshape axis {self.axis} out of range for input {s}")
        end = nd if self.num_axes == -1 else start + self.num_axes
        if end > nd:
            raise self.shape_error(
                f"reshape axis {self.axis} + num_axes {self.num_axes} exceeds the {nd} axes of {s}"
            )
        new = list(self.shape)
        for i, d in enumerate(new):
            if d == 0:
                if start + i >= nd:
                    raise self.shape_error(
                        f"reshape dimension {i} is 0 (copy) but input {s} has no axis {start + i}"
                    )
                new[i] = s[start + i]
        top = list(s[:start]) + new + list(s[end:])
        if -1 in top:
            j = top.index(-1)
            known = count(tuple(top[:j] + top[j + 1 :]))
            if known == 0 or count(s) % known != 0:
                raise self.shape_error(
                    f"cannot infer the -1 of reshape {list(self.shape)} for input {s}"
                )
            top[j] = count(s) // known
        out = tuple(top)
        if count(out) != count(s):
            raise self.shape_error(
                f"reshape to {out} ({count(out)} elements) from {s} ({count(s)} elements)"
            )
        return [out]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: a reshape (copy)."""
        (x,) = f32_inputs(self, inputs)
        (out,) = self.output_shapes([x.shape])
        return [x.reshape(out).copy()]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: metadata only (the buffer is unchanged), scale unchanged."""
        x = passthrough(self, inputs)
        (out,) = self.output_shapes([x.shape])
        return [x.reshape(out)]
