"""Caffe ``BatchNorm`` at inference (global statistics)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import affine_int, float_path, int_inputs
from edge_dnn.layers._util import broadcast_to_axis, count, f32_inputs, param_blob, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class BatchNorm(Layer):
    """``y = (x - mean/s) / sqrt(var/s + eps)`` per channel (axis 1) of a float32 NCHW blob.

    Blobs (Caffe order): ``mean[C]``, ``variance[C]``, ``scale_factor[1]``. Caffe stores running
    sums and the factor ``s`` they are scaled by; ``s == 0`` makes mean and variance 0. There is
    no affine part (a Scale layer follows in Caffe nets). ``use_global_stats`` is irrelevant at
    inference: the stored statistics are always used.

    Attributes:
        eps: Added to the variance.
    """

    TYPE: ClassVar[str] = "BatchNorm"

    eps: float = 1e-5

    @classmethod
    def from_proto(cls, lp: Any) -> BatchNorm:
        """Read ``batch_norm_param.eps``; the OpenCV-fork ``scale_bias`` is not supported."""
        p = lp.batch_norm_param
        layer = cls(name=lp.name, eps=float(p.eps))
        if p.scale_bias:
            raise layer.unsupported(
                "batch_norm_param.scale_bias (OpenCV fork) is not supported; use a Scale layer"
            )
        return layer

    def _channels(self, s: Shape) -> int:
        return s[1] if len(s) > 1 else 1

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """Same as the input."""
        (s,) = shapes_of(self, in_shapes)
        if not s:
            raise self.shape_error("BatchNorm needs an input with at least 1 axis")
        return [s]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(C,), (C,), (1,)]``."""
        (s,) = self.output_shapes(in_shapes)
        c = self._channels(s)
        return [(c,), (c,), (1,)]

    def macs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> int:
        """One multiply per element (the normalisation folds into a per-channel affine map)."""
        return count(tuple(out_shapes[0]))

    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """Sane statistics: mean ~ N(0, 0.1), variance ~ U(0.5, 1.5), scale factor 1."""
        (c,), _, _ = self.param_shapes(in_shapes)
        return [
            (rng.standard_normal(c) * 0.1).astype(np.float32),
            rng.uniform(0.5, 1.5, size=c).astype(np.float32),
            np.ones(1, dtype=np.float32),
        ]

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference (float32, NCHW)."""
        (x,) = f32_inputs(self, inputs)
        shp_m, shp_v, shp_s = self.param_shapes([x.shape])
        mean = param_blob(self, params, 0, shp_m)
        var = param_blob(self, params, 1, shp_v)
        sf = float(param_blob(self, params, 2, shp_s)[0])
        factor = np.float32(0.0 if sf == 0 else 1.0 / sf)
        axis = 1 if x.ndim > 1 else 0
        mean = broadcast_to_axis(mean * factor, x.ndim, axis)
        std = np.sqrt(var * factor + np.float32(self.eps))
        return [(x - mean) / broadcast_to_axis(std, x.ndim, axis)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: the per-channel (axis 1) affine map as a depthwise 1x1 convolution.

        Used when the quantizer gave the node per-channel weights (contract section 8: weight
        ``gamma_c`` quantized per channel, bias as section 3.5, requantization as section 4);
        otherwise (a second bottom, parameters not per-channel) the ARM float path.
        """
        if q.float_path or q.weights is None:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        return [affine_int(x, q, f"layer '{self.name}'")]
