"""Caffe ``MVN`` (mean-variance normalisation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape


@dataclasses.dataclass(frozen=True)
class MVN(Layer):
    """Mean (and variance) normalisation per sample and channel, or per sample.

    ``y = (x - mean) / (sqrt(var) + eps)`` with the population variance, following **BVLC Caffe**
    (eps outside the square root). OpenCV computes ``(x - mean) / sqrt(var + eps)`` instead; the
    two agree whenever ``eps`` is negligible against the standard deviation. Without
    ``normalize_variance``: ``y = x - mean``.

    The statistics run over H*W (or C*H*W with ``across_channels``) of a float32 blob with at
    most 4 axes (Caffe reads num/channels through its legacy 4-D accessors).

    Attributes:
        normalize_variance: Divide by the standard deviation.
        across_channels: Share statistics over all channels of a sample.
        eps: Added to the standard deviation.
    """

    TYPE: ClassVar[str] = "MVN"

    normalize_variance: bool = True
    across_channels: bool = False
    eps: float = 1e-9

    @classmethod
    def from_proto(cls, lp: Any) -> MVN:
        """Read ``mvn_param``."""
        p = lp.mvn_param
        return cls(
            name=lp.name,
            normalize_variance=bool(p.normalize_variance),
            across_channels=bool(p.across_channels),
            eps=float(p.eps),
        )

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same as the input (1 to 4 axes)."""
        (s,) = shapes_of(self, in_shapes)
        if not 1 <= len(s) <= 4:
            raise self.shape_error(f"MVN needs an input with 1 to 4 axes, got {s}")
        return [s]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32, NCHW)."""
        (x,) = f32_inputs(self, inputs)
        self.output_shapes([x.shape])
        groups = (
            x.shape[0] if self.across_channels else x.shape[0] * (x.shape[1] if x.ndim > 1 else 1)
        )
        flat = x.reshape(groups, -1)
        if flat.shape[1] == 0:
            return [x.copy()]
        centred = flat - flat.mean(axis=1, keepdims=True)
        if self.normalize_variance:
            std = np.sqrt(np.mean(centred * centred, axis=1, keepdims=True))
            centred = centred / (std + np.float32(self.eps))
        return [centred.reshape(x.shape).astype(np.float32, copy=False)]
