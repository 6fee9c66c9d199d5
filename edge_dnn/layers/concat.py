"""Caffe ``Concat``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import int_inputs, rescale
from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Concat(Layer):
    """Concatenation of 1 or more float32 bottoms along ``axis`` (NCHW: 1 = channels).

    Attributes:
        axis: Concatenation axis (negative: from the end); the legacy ``concat_dim`` maps here.
    """

    TYPE: ClassVar[str] = "Concat"
    MAX_INPUTS: ClassVar[int | None] = None

    axis: int = 1

    @classmethod
    def from_proto(cls, lp: Any) -> Concat:
        """Read ``concat_param.axis`` or the legacy ``concat_dim`` (not both, as in Caffe)."""
        p = lp.concat_param
        if p.HasField("concat_dim"):
            if p.HasField("axis"):
                raise cls(name=lp.name).unsupported(
                    "concat_param sets both axis and concat_dim; set only one"
                )
            return cls(name=lp.name, axis=int(p.concat_dim))
        return cls(name=lp.name, axis=int(p.axis))

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Bottom 0's shape with the concatenation axis summed over the bottoms."""
        shapes = shapes_of(self, in_shapes)
        first = shapes[0]
        a = canonical_axis(self, self.axis, len(first))
        total = 0
        for i, s in enumerate(shapes):
            if len(s) != len(first) or s[:a] + s[a + 1 :] != first[:a] + first[a + 1 :]:
                raise self.shape_error(
                    f"Concat bottom {i} has shape {s}, incompatible with bottom 0 {first} "
                    f"(only axis {a} may differ)"
                )
            total += s[a]
        return [(*first[:a], total, *first[a + 1 :])]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32)."""
        xs = f32_inputs(self, inputs)
        self.output_shapes([x.shape for x in xs])
        return [np.concatenate(xs, axis=canonical_axis(self, self.axis, xs[0].ndim))]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (contract section 6), output type of ``q.outputs[0]``.

        Inputs already at the output's scale and type are copied (engine addressing); the
        others go through a requantize step with ``q.tables["rescale"][i] = (M, S)``. A float32
        output (ARM float region, e.g. prior boxes) concatenates the inputs as float32.
        """
        xs = int_inputs(self, inputs)
        self.output_shapes([x.shape for x in xs])
        axis = canonical_axis(self, self.axis, xs[0].ndim)
        out = q.outputs[0]
        if out.is_float:
            return [np.concatenate([tq.to_float(x) for x, tq in zip(xs, q.inputs)], axis=axis)]
        rs = q.tables["rescale"]
        parts = [rescale(x, tq, out, ms) for x, tq, ms in zip(xs, q.inputs, rs)]
        return [np.concatenate([p.astype(out.np_dtype, copy=False) for p in parts], axis=axis)]
