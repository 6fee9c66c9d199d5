"""SSD ``Normalize`` layer: L2 normalisation followed by a learned scale.

Semantics follow the SSD Caffe fork (weiliu89/caffe ``NormalizeLayer``):

* ``across_spatial`` (default true): one norm per image over all ``C*H*W`` values,
  ``norm = sqrt(sum(x**2) + eps)``, and the output is ``x * (1 / norm)``.
* otherwise: one norm per pixel over the channels, ``norm = sqrt(eps + sum_c(x**2))``, and the
  output is ``x / norm``.

In both cases ``eps`` is added **inside** the square root, before it is taken. The result is then
multiplied by ``scale[0]`` (``channel_shared``, default true) or by ``scale[c]`` per channel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers.base import Array, Layer, Shape, opt


@dataclasses.dataclass(frozen=True)
class Normalize(Layer):
    """SSD L2 normalisation with a learned scale (``norm_param``).

    Attributes:
        across_spatial: Normalise over ``C*H*W`` per image (True) or over ``C`` per pixel.
        channel_shared: One scale value for all channels (blob ``[1]``) or one per channel
            (blob ``[C]``).
        eps: Added to the sum of squares before the square root.
        scale_init: The value of a ``constant`` ``scale_filler`` (SSD's default filler is the
            constant 1.0). Only ``init_params`` uses it.
    """

    TYPE: ClassVar[str] = "Normalize"

    across_spatial: bool = True
    channel_shared: bool = True
    eps: float = 1e-10
    scale_init: float = 1.0

    @classmethod
    def from_proto(cls, lp: Any) -> Normalize:
        """Build from ``lp.norm_param`` (``NormalizeBBoxParameter``, LayerParameter field 149)."""
        if not lp.HasField("norm_param"):
            return cls(name=lp.name)
        p = lp.norm_param
        across = opt(p, "across_spatial")
        shared = opt(p, "channel_shared")
        eps = opt(p, "eps")
        scale_init = 1.0
        if p.HasField("scale_filler"):
            f = p.scale_filler
            # Only a constant filler gives a meaningful "typical" scale; other fillers are for
            # training and init_params falls back to 1.0.
            if (opt(f, "type") or "constant") == "constant":
                scale_init = float(f.value) if f.HasField("value") else 0.0
        return cls(
            name=lp.name,
            across_spatial=True if across is None else bool(across),
            channel_shared=True if shared is None else bool(shared),
            eps=1e-10 if eps is None else float(eps),
            scale_init=scale_init,
        )

    # ------------------------------------------------------------------ shapes
    def _check_input(self, shape: Shape) -> None:
        if len(shape) < 2:
            raise self.shape_error(
                f"input must have at least 2 axes (N, C, ...), got shape {tuple(shape)}"
            )

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same shape as the input (at least 2-D, NC[HW])."""
        self._check_input(in_shapes[0])
        return [tuple(in_shapes[0])]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``scale``: ``(1,)`` if ``channel_shared`` else ``(C,)``.

        SSD itself writes the shared scale as a 0-axis blob (shape ``[]``, count 1); a weights
        loader should accept any blob with the right element count.
        """
        self._check_input(in_shapes[0])
        return [(1,)] if self.channel_shared else [(int(in_shapes[0][1]),)]

    def macs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> int:
        """One MAC per element for the sum of squares and one multiply for normalise*scale."""
        return 2 * int(np.prod(in_shapes[0]))

    # ------------------------------------------------------------------ float reference
    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Normalise ``inputs[0]`` (float32, N C [H W ...]) and scale it by ``params[0]``.

        Returns:
            One float32 array with the input's shape.
        """
        x = np.asarray(inputs[0], dtype=np.float32)
        self._check_input(x.shape)
        if len(params) != 1:
            raise self.shape_error(f"expected 1 parameter blob (scale), got {len(params)}")
        n, c = x.shape[0], x.shape[1]
        scale = np.asarray(params[0], dtype=np.float32).reshape(-1)
        want = 1 if self.channel_shared else c
        if scale.size != want:
            raise self.shape_error(
                f"scale blob has {scale.size} values, expected {want} "
                f"(channel_shared={self.channel_shared}, C={c})"
            )
        x3 = x.reshape(n, c, -1)
        eps = np.float64(np.float32(self.eps))
        if self.across_spatial:
            # Sum of squares in float64: Caffe's float BLAS asum over up to C*H*W values would
            # otherwise be order-dependent; float64 is closer to the exact value.
            ss = np.einsum("ncs,ncs->n", x3, x3, dtype=np.float64)
            norm = np.sqrt((ss + eps).astype(np.float32))
            inv = (1.0 / norm.astype(np.float64)).astype(np.float32)
            y = x3 * inv[:, None, None]
        else:
            ss = np.einsum("ncs,ncs->ns", x3, x3, dtype=np.float64)
            norm = np.sqrt((ss + eps).astype(np.float32))
            y = x3 / norm[:, None, :]
        y = y * scale[0] if self.channel_shared else y * scale[None, :, None]
        return [y.reshape(x.shape).astype(np.float32, copy=False)]

    # ------------------------------------------------------------------ weights
    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """Scale values around the prototxt's constant ``scale_filler`` value (+-10 %)."""
        (shp,) = self.param_shapes(in_shapes)
        base = self.scale_init if self.scale_init != 0.0 else 1.0
        jitter = 1.0 + 0.1 * rng.uniform(-1.0, 1.0, size=shp)
        return [(base * jitter).astype(np.float32)]
