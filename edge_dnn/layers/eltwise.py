"""Caffe ``Eltwise`` (element-wise sum with coefficients, product or maximum)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import cast_to, float_path, int_inputs, rescale
from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape
from edge_dnn.quant import arith

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant

_OPS = ("PROD", "SUM", "MAX")
"""Caffe's EltwiseOp enum values, in order."""


@dataclasses.dataclass(frozen=True)
class Eltwise(Layer):
    """Element-wise combination of 2 or more same-shaped float32 bottoms.

    ``SUM``: ``y = sum_i coeff[i] * x_i`` (coefficients default to 1); ``PROD``: product;
    ``MAX``: maximum.

    Attributes:
        operation: ``"SUM"``, ``"PROD"`` or ``"MAX"``.
        coeff: One coefficient per bottom (SUM only), or empty for all ones.
        relu: A ReLU (slope 0) fused by ``edge_dnn.passes.FuseReLU``: ``y = max(y, 0)``.
    """

    TYPE: ClassVar[str] = "Eltwise"
    MIN_INPUTS: ClassVar[int] = 2
    MAX_INPUTS: ClassVar[int | None] = None

    operation: str = "SUM"
    coeff: tuple[float, ...] = ()
    relu: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "coeff", tuple(float(c) for c in self.coeff))
        if self.operation not in _OPS:
            raise self.unsupported(f"unknown Eltwise operation {self.operation!r}")
        if self.coeff and self.operation != "SUM":
            raise self.unsupported("Eltwise only takes coefficients for the SUM operation")

    @classmethod
    def from_proto(cls, lp: Any) -> Eltwise:
        """Read ``eltwise_param``."""
        p = lp.eltwise_param
        op = int(p.operation)
        if not 0 <= op < len(_OPS):
            raise cls(name=lp.name).unsupported(f"unknown Eltwise operation {op}")
        return cls(name=lp.name, operation=_OPS[op], coeff=tuple(p.coeff))

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """The common shape of all bottoms."""
        shapes = shapes_of(self, in_shapes)
        for i, s in enumerate(shapes[1:], start=1):
            if s != shapes[0]:
                raise self.shape_error(
                    f"Eltwise bottoms must have equal shapes; bottom 0 is {shapes[0]}, "
                    f"bottom {i} is {s}"
                )
        if self.coeff and len(self.coeff) != len(shapes):
            raise self.shape_error(
                f"Eltwise has {len(self.coeff)} coefficients for {len(shapes)} bottoms"
            )
        return [shapes[0]]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32, any layout)."""
        xs = f32_inputs(self, inputs)
        self.output_shapes([x.shape for x in xs])
        if self.operation == "SUM":
            coeff = self.coeff or (1.0,) * len(xs)
            y = np.zeros_like(xs[0])
            for c, x in zip(coeff, xs):
                y += x if c == 1.0 else np.float32(c) * x
            if self.relu:
                np.maximum(y, 0, out=y)
            return [y]
        op = np.multiply if self.operation == "PROD" else np.maximum
        y = xs[0].copy()
        for x in xs[1:]:
            op(y, x, out=y)
        if self.relu:
            np.maximum(y, 0, out=y)
        return [y]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (contract section 6), any layout, output type of ``q.outputs[0]``.

        SUM: ``eltwise_add_int`` with the signed multipliers ``q.tables["eltwise"]`` (Caffe
        coefficients folded in, one shared shift). MAX: inputs brought to the output scale
        (``q.tables["rescale"]``: copy or requantize step), then integer maximum. PROD: fold
        left, each partial product requantized to the output scale with
        ``q.tables["prod"][i]``; partial products saturate to ``[-qmax, qmax]``, the last to the
        output range. A fused ReLU is the output range's ``qmin = 0``.
        """
        if q.float_path:
            return float_path(self, inputs, q)
        xs = int_inputs(self, inputs)
        self.output_shapes([x.shape for x in xs])
        out = q.outputs[0]
        qmin = max(out.qmin, 0) if self.relu else out.qmin
        where = f"layer '{self.name}'"
        if self.operation == "SUM":
            t = q.tables["eltwise"]
            y = arith.eltwise_add_int(xs, t["M"], t["S"], qmin, out.qmax, where=where)
        elif self.operation == "MAX":
            rs = q.tables["rescale"]
            parts = [rescale(x, tq, out, ms) for x, tq, ms in zip(xs, q.inputs, rs)]
            y = parts[0].astype(np.int64)

            for p in parts[1:]:
                y = np.maximum(y, p)
            y = arith.saturate(y, qmin, out.qmax)
        else:
            steps = q.tables["prod"]
            y = xs[0].astype(np.int64)
            for i, x in enumerate(xs[1:]):
                m, s = steps[i]
                lo, hi = (qmin, out.qmax) if i == len(xs) - 2 else (-out.qmax, out.qmax)
                y = arith.requantize(y * x.astype(np.int64), m, s, lo, hi, where=where)
        return [cast_to(y, out)]
