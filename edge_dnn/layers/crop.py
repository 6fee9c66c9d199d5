"""Caffe ``Crop``: crop bottom 0 to the shape of bottom 1."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import int_inputs
from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Crop(Layer):
    """Crop bottom 0 (float32) on axes ``axis..`` to bottom 1's dimensions.

    Axes before ``axis`` keep bottom 0's size. ``offset`` is empty (all 0), one value (used for
    every cropped axis) or one value per cropped axis. Bottom 1 only supplies its shape.

    Attributes:
        axis: First cropped axis (negative: from the end).
        offset: Crop offsets.
    """

    TYPE: ClassVar[str] = "Crop"
    MIN_INPUTS: ClassVar[int] = 2
    MAX_INPUTS: ClassVar[int | None] = 2

    axis: int = 2
    offset: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "offset", tuple(int(o) for o in self.offset))

    @classmethod
    def from_proto(cls, lp: Any) -> Crop:
        """Read ``crop_param``."""
        p = lp.crop_param
        return cls(name=lp.name, axis=int(p.axis), offset=tuple(p.offset))

    def _window(self, in_shapes: Sequence[Shape]) -> tuple[Shape, tuple[slice, ...]]:
        a_shape, b_shape = shapes_of(self, in_shapes)
        nd = len(a_shape)
        if len(b_shape) != nd:
            raise self.shape_error(
                f"Crop bottoms must have the same number of axes, got {a_shape} and {b_shape}"
            )
        start = canonical_axis(self, self.axis, nd)
        ncrop = nd - start
        if len(self.offset) > 1 and len(self.offset) != ncrop:
            raise self.shape_error(
                f"Crop has {len(self.offset)} offsets for {ncrop} cropped axes (from axis {start})"
            )
        out = list(a_shape)
        window = [slice(None)] * nd
        for i in range(start, nd):
            off = 0 if not self.offset else self.offset[0 if len(self.offset) == 1 else i - start]
            if off + b_shape[i] > a_shape[i]:
                raise self.shape_error(
                    f"Crop on axis {i}: offset {off} + size {b_shape[i]} exceeds {a_shape[i]}"
                )
            out[i] = b_shape[i]
            window[i] = slice(off, off + b_shape[i])
        return tuple(out), tuple(window)

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Bottom 0's shape with the cropped axes taken from bottom 1."""
        return [self._window(in_shapes)[0]]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: a contiguous copy of the window."""
        xs = f32_inputs(self, inputs)
        _, window = self._window([x.shape for x in xs])
        return [xs[0][window].copy()]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the same window of bottom 0's integers, scale unchanged."""
        xs = int_inputs(self, inputs)
        _, window = self._window([x.shape for x in xs])
        return [np.ascontiguousarray(xs[0][window])]
