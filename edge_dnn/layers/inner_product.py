"""Caffe ``InnerProduct`` (fully connected)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import (
    check_mac_bound,
    float_path,
    int_inputs,
    mac_output,
    mac_weights,
    matmul_acc,
)
from edge_dnn.layers._util import count, f32_inputs, param_blob, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, canonical_axis

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class InnerProduct(Layer):
    """``y = x W^T + b`` with the input flattened from ``axis`` on.

    The input of shape ``(d0, .., d[axis-1], d[axis], ..)`` is viewed as ``M x K`` with
    ``M = d0*..*d[axis-1]`` and ``K = d[axis]*..``; the output has shape
    ``(d0, .., d[axis-1], num_output)``. Blobs (Caffe order): ``W[num_output, K]``
    (``W[K, num_output]`` when ``transpose``), then ``b[num_output]`` if ``bias_term``.

    Attributes:
        num_output: Output features.
        axis: First axis that is flattened into the feature dimension (negative: from the end).
        transpose: Weight stored as ``[K, num_output]``.
        bias_term: Whether the second blob (bias) exists.
        relu: A ReLU (slope 0) fused by ``edge_dnn.passes.FuseReLU``: ``y = max(x W^T + b, 0)``.
    """

    TYPE: ClassVar[str] = "InnerProduct"

    num_output: int
    axis: int = 1
    transpose: bool = False
    bias_term: bool = True
    relu: bool = False

    def __post_init__(self) -> None:
        if self.num_output <= 0:
            raise self.unsupported(f"num_output must be positive, got {self.num_output}")

    @classmethod
    def from_proto(cls, lp: Any) -> InnerProduct:
        """Read ``inner_product_param``.

        Raises:
            UnsupportedParameterError: ``num_output`` missing or zero.
        """
        p = lp.inner_product_param
        if not p.HasField("num_output"):
            raise Layer(name=lp.name).unsupported("inner_product_param.num_output is required")
        return cls(
            name=lp.name,
            num_output=int(p.num_output),
            axis=int(p.axis),
            transpose=bool(p.transpose),
            bias_term=bool(p.bias_term),
        )

    def _split(self, shape: Shape) -> tuple[int, Shape, int]:
        """(canonical axis, leading shape, K) of an input shape."""
        a = canonical_axis(self, self.axis, len(shape))
        return a, tuple(shape[:a]), count(tuple(shape[a:]))

    # ------------------------------------------------------------------ shapes
    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[shape[:axis] + (num_output,)]``."""
        (s,) = shapes_of(self, in_shapes)
        if not s:
            raise self.shape_error("expects an input with at least 1 axis")
        _, lead, k = self._split(s)
        if k == 0:
            raise self.shape_error(f"input {s} has no features from axis {self.axis}")
        return [(*lead, self.num_output)]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(O, K)]`` or ``[(K, O)]`` when ``transpose``, plus ``(O,)`` if ``bias_term``."""
        self.output_shapes(in_shapes)
        _, _, k = self._split(tuple(int(d) for d in in_shapes[0]))
        w: Shape = (k, self.num_output) if self.transpose else (self.num_output, k)
        return [w, (self.num_output,)] if self.bias_term else [w]

    def macs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> int:
        """Output elements x K."""
        _, _, k = self._split(tuple(int(d) for d in in_shapes[0]))
        return count(tuple(out_shapes[0])) * k

    # ------------------------------------------------------------------ float reference
    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: float32 in (any rank), float32 out (one BLAS GEMM)."""
        (x,) = f32_inputs(self, inputs)
        (out_shape,) = self.output_shapes([x.shape])
        pshapes = self.param_shapes([x.shape])
        w = param_blob(self, params, 0, pshapes[0])
        _, lead, k = self._split(x.shape)
        x2 = x.reshape(count(lead), k)
        y = x2 @ w if self.transpose else x2 @ w.T
        if self.bias_term:
            y += param_blob(self, params, 1, pshapes[1])
        if self.relu:
            np.maximum(y, 0, out=y)
        return [y.reshape(out_shape)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: a 1x1 convolution over the K flattened inputs (sections 3-4).

        Input int8/uint8/int16 (any rank), output in the type of ``q.outputs[0]``; exact
        accumulation by a float64 GEMM (exact under the checked accumulator bound), int64 bias,
        per-channel requantization, fused ReLU as ``qmin = 0``.
        """
        if q.float_path:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        (out_shape,) = self.output_shapes([x.shape])
        w = mac_weights(self, q, self.param_shapes([x.shape])[0])
        check_mac_bound(w.T if self.transpose else w, q.bias, q.inputs[0].dtype, self.name)
        _, lead, k = self._split(x.shape)
        acc = matmul_acc(x.reshape(count(lead), k), w, self.transpose)
        y = mac_output(acc, q, f"layer '{self.name}'", self.relu)
        return [y.reshape(out_shape)]

    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """He-normal weights with fan-in K (whichever way the blob is stored), N(0, 0.1) biases."""
        shapes = self.param_shapes(in_shapes)
        _, _, k = self._split(tuple(int(d) for d in in_shapes[0]))
        out = [(rng.standard_normal(shapes[0]) * np.sqrt(2.0 / max(k, 1))).astype(np.float32)]
        if self.bias_term:
            out.append((rng.standard_normal(shapes[1]) * 0.1).astype(np.float32))
        return out
