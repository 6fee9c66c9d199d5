"""Caffe ``LRN`` (local response normalisation), both normalisation regions."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import cast_to, float_path, int_inputs
from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape
from edge_dnn.quant import arith

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant

_REGIONS = ("ACROSS_CHANNELS", "WITHIN_CHANNEL")


@dataclasses.dataclass(frozen=True)
class LRN(Layer):
    """Local response normalisation of a 4-D NCHW float32 blob, exactly as BVLC Caffe.

    * ``ACROSS_CHANNELS``: ``y = x * (k + alpha/n * sum_{c' in window(c)} x[c']^2) ** -beta``,
      the window being ``n`` channels centred on ``c``, clipped at the channel ends.
    * ``WITHIN_CHANNEL``: Caffe builds it from an AVE pooling of ``x^2`` (kernel ``n``, stride 1,
      zero padding ``(n-1)/2``, always divided by ``n*n``) followed by a Power layer with
      ``shift 1``: ``y = x * (1 + alpha/(n*n) * sum_{n x n window} x^2) ** -beta``. ``k`` is
      **not** used in this mode (Caffe ignores it).

    Attributes:
        local_size: Window size ``n`` (odd).
        alpha: Scale.
        beta: Exponent.
        k: Additive constant (ACROSS_CHANNELS only).
        norm_region: ``"ACROSS_CHANNELS"`` or ``"WITHIN_CHANNEL"``.
    """

    TYPE: ClassVar[str] = "LRN"

    local_size: int = 5
    alpha: float = 1.0
    beta: float = 0.75
    k: float = 1.0
    norm_region: str = "ACROSS_CHANNELS"

    def __post_init__(self) -> None:
        if self.norm_region not in _REGIONS:
            raise self.unsupported(f"unknown LRN norm_region {self.norm_region!r}")
        if self.local_size < 1 or self.local_size % 2 != 1:
            raise self.unsupported(f"LRN local_size must be odd, got {self.local_size}")

    @classmethod
    def from_proto(cls, lp: Any) -> LRN:
        """Read ``lrn_param``."""
        p = lp.lrn_param
        region = int(p.norm_region)
        if region not in (0, 1):
            raise cls(name=lp.name).unsupported(f"unknown LRN norm_region {region}")
        return cls(
            name=lp.name,
            local_size=int(p.local_size),
            alpha=float(p.alpha),
            beta=float(p.beta),
            k=float(p.k),
            norm_region=_REGIONS[region],
        )

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same as the input, which must be 4-D (as Caffe requires)."""
        (s,) = shapes_of(self, in_shapes)
        if len(s) != 4:
            raise self.shape_error(f"LRN needs a 4-D (N, C, H, W) input, got {s}")
        return [s]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32, NCHW)."""
        (x,) = f32_inputs(self, inputs)
        self.output_shapes([x.shape])
        n = self.local_size
        pad = (n - 1) // 2
        sq = x * x
        if self.norm_region == "ACROSS_CHANNELS":
            padded = np.pad(sq, ((0, 0), (pad, pad), (0, 0), (0, 0)))
            c = x.shape[1]
            acc = np.zeros_like(x)
            for t in range(n):
                acc += padded[:, t : t + c]
            scale = np.float32(self.k) + np.float32(self.alpha / n) * acc
        else:
            h, w = x.shape[2], x.shape[3]
            padded = np.pad(sq, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            rows = np.zeros((x.shape[0], x.shape[1], h, w + 2 * pad), dtype=np.float32)
            for t in range(n):
                rows += padded[:, :, t : t + h, :]
            acc = np.zeros_like(x)
            for t in range(n):
                acc += rows[:, :, :, t : t + w]
            # Pooling divides by n*n; the Power layer then applies alpha and shift 1.
            scale = np.float32(1) + np.float32(self.alpha) * (acc / np.float32(n * n))
        return [x * np.power(scale, np.float32(-self.beta))]

    # ------------------------------------------------------------------ integer reference
    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (``docs/arithmetic.md`` section 5.1), NCHW.

        ACROSS_CHANNELS with a factor table (``q.tables["lrn"]``: ``lut`` uint16[256],
        ``shift``, ``frac``): exact int64 sum of squares over the channel window, table lookup,
        ``clamp((q * f + 2**(F-1)) >> F, qmin, qmax)``. Without a table (WITHIN_CHANNEL, int16
        tensors, a layer the quantizer sent to the float path) it is the ARM float path.
        """
        table = q.tables.get("lrn")
        if q.float_path or table is None:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        self.output_shapes([x.shape])
        out = q.outputs[0]
        y = arith.lrn_int(
            x,
            table["lut"],
            int(table["shift"]),
            int(table["frac"]),
            self.local_size,
            out.qmin,
            out.qmax,
            where=f"layer '{self.name}'",
        )
        return [cast_to(y, out)]
