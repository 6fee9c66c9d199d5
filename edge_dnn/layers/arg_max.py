"""Caffe ``ArgMax``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._util import count, f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis


@dataclasses.dataclass(frozen=True)
class ArgMax(Layer):
    """Indices (and/or values) of the ``top_k`` largest entries, as float32, in Caffe's layout.

    * ``axis`` set: along that axis; the output is the input shape with ``axis`` of size
      ``top_k``, holding indices, or the values instead when ``out_max_val``.
    * ``axis`` unset: over all of ``x[n]`` flattened; the output is
      ``[N, 1 or 2, top_k]`` padded with 1s to the input's rank (at least 3): channel 0 holds the
      indices and, with ``out_max_val``, channel 1 the values.

    Ties rank the larger index first (Caffe sorts (value, index) pairs in descending order).

    Attributes:
        out_max_val: Output the maximal values (see above).
        top_k: Number of entries.
        axis: Reduction axis, or None for Caffe's flattened mode.
    """

    TYPE: ClassVar[str] = "ArgMax"

    out_max_val: bool = False
    top_k: int = 1
    axis: int | None = None

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise self.unsupported(f"argmax top_k must be >= 1, got {self.top_k}")

    @classmethod
    def from_proto(cls, lp: Any) -> ArgMax:
        """Read ``argmax_param``."""
        p = lp.argmax_param
        return cls(
            name=lp.name,
            out_max_val=bool(p.out_max_val),
            top_k=int(p.top_k),
            axis=int(p.axis) if p.HasField("axis") else None,
        )

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """See the class docstring."""
        (s,) = shapes_of(self, in_shapes)
        if not s:
            raise self.shape_error("ArgMax needs an input with at least 1 axis")
        if self.axis is not None:
            a = canonical_axis(self, self.axis, len(s))
            if self.top_k > s[a]:
                raise self.shape_error(f"top_k {self.top_k} exceeds axis {a} of size {s[a]}")
            return [(*s[:a], self.top_k, *s[a + 1 :])]
        if self.top_k > count(s[1:]):
            raise self.shape_error(
                f"top_k {self.top_k} exceeds the {count(s[1:])} entries per sample of {s}"
            )
        out = [1] * max(len(s), 3)
        out[0] = s[0]
        out[1] = 2 if self.out_max_val else 1
        out[2] = self.top_k
        return [tuple(out)]

    def _top_k(self, v: Array) -> tuple[Array, Array]:
        """Top-k indices and values along the last axis, ties to the larger index."""
        d = v.shape[-1]
        rev = v[..., ::-1]
        # A stable sort of the reversed row puts equal values in descending index order.
        order = np.argsort(-rev, axis=-1, kind="stable")[..., : self.top_k]
        idx = (d - 1) - order
        return idx, np.take_along_axis(v, idx, axis=-1)

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32 indices/values)."""
        (x,) = f32_inputs(self, inputs)
        (out_shape,) = self.output_shapes([x.shape])
        if self.axis is not None:
            a = canonical_axis(self, self.axis, x.ndim)
            idx, val = self._top_k(np.moveaxis(x, a, -1))
            res = val if self.out_max_val else idx.astype(np.float32)
            return [np.ascontiguousarray(np.moveaxis(res, -1, a), dtype=np.float32)]
        idx, val = self._top_k(x.reshape(x.shape[0], -1))
        parts = [idx.astype(np.float32)] + ([val] if self.out_max_val else [])
        return [np.stack(parts, axis=1).reshape(out_shape).astype(np.float32, copy=False)]
