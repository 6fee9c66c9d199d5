"""Caffe ``Slice`` (split a blob into several tops along an axis)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from edge_dnn.layers._int_ops import passthrough
from edge_dnn.layers._util import f32_inputs, shapes_of, top_count
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Slice(Layer):
    """Cut a float32 blob along ``axis`` into ``num_tops`` consecutive pieces.

    With ``slice_points`` (``num_tops - 1`` strictly increasing cut positions) the pieces are
    ``[0, p0), [p0, p1), ...``; without them the axis is split into equal parts.

    Attributes:
        axis: Slicing axis (negative: from the end); the legacy ``slice_dim`` maps here.
        slice_points: Cut positions, or empty for an equal split.
        num_tops: Number of tops (from the prototxt).
    """

    TYPE: ClassVar[str] = "Slice"

    axis: int = 1
    slice_points: tuple[int, ...] = ()
    num_tops: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "slice_points", tuple(int(p) for p in self.slice_points))

    @classmethod
    def from_proto(cls, lp: Any) -> Slice:
        """Read ``slice_param`` (``axis`` or legacy ``slice_dim``, not both) and the top count."""
        p = lp.slice_param
        layer = cls(name=lp.name)
        if p.HasField("slice_dim"):
            if p.HasField("axis"):
                raise layer.unsupported("slice_param sets both axis and slice_dim; set only one")
            axis = int(p.slice_dim)
        else:
            axis = int(p.axis)
        return cls(
            name=lp.name,
            axis=axis,
            slice_points=tuple(p.slice_point),
            num_tops=top_count(layer, lp.top),
        )

    def num_outputs(self, num_inputs: int) -> int | None:
        """As many tops as the prototxt declares."""
        return None

    def _sizes(self, s: Shape) -> tuple[int, list[int]]:
        a = canonical_axis(self, self.axis, len(s))
        dim = s[a]
        if self.slice_points:
            if len(self.slice_points) != self.num_tops - 1:
                raise self.shape_error(
                    f"{len(self.slice_points)} slice points for {self.num_tops} tops; "
                    f"need {self.num_tops - 1}"
                )
            bounds = [0, *self.slice_points, dim]
            sizes = [hi - lo for lo, hi in itertools.pairwise(bounds)]
            if any(n <= 0 for n in sizes):
                raise self.shape_error(
                    f"slice points {list(self.slice_points)} must be strictly increasing and "
                    f"inside (0, {dim}) on axis {a}"
                )
            return a, sizes
        if dim % self.num_tops != 0:
            raise self.shape_error(
                f"{self.num_tops} tops do not evenly divide axis {a} of size {dim}"
            )
        return a, [dim // self.num_tops] * self.num_tops

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """One shape per top."""
        (s,) = shapes_of(self, in_shapes)
        a, sizes = self._sizes(s)
        return [(*s[:a], n, *s[a + 1 :]) for n in sizes]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32): contiguous copies of the pieces."""
        (x,) = f32_inputs(self, inputs)
        a, sizes = self._sizes(tuple(x.shape))
        out = []
        start = 0
        for n in sizes:
            idx = (slice(None),) * a + (slice(start, start + n),)
            out.append(x[idx].copy())
            start += n
        return out

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the same pieces of the integers, scale unchanged."""
        x = passthrough(self, inputs)
        a, sizes = self._sizes(tuple(x.shape))
        out = []
        start = 0
        for n in sizes:
            out.append(x[(slice(None),) * a + (slice(start, start + n),)])
            start += n
        return out
