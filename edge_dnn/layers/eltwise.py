"""Caffe ``Eltwise`` (element-wise sum with coefficients, product or maximum)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape

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
    """

    TYPE: ClassVar[str] = "Eltwise"
    MIN_INPUTS: ClassVar[int] = 2
    MAX_INPUTS: ClassVar[int | None] = None

    operation: str = "SUM"
    coeff: tuple[float, ...] = ()

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
            return [y]
        op = np.multiply if self.operation == "PROD" else np.maximum
        y = xs[0].copy()
        for x in xs[1:]:
            op(y, x, out=y)
        return [y]
