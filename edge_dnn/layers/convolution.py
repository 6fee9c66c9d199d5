"""Caffe ``Convolution``: grouped, dilated 2-D cross-correlation of an NCHW blob."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._conv_util import (
    Pair,
    check_conv_fields,
    conv2d,
    conv_out_size,
    conv_param_kwargs,
)
from edge_dnn.layers._int_ops import (
    check_mac_bound,
    conv2d_acc,
    float_path,
    int_inputs,
    mac_output,
    mac_weights,
)
from edge_dnn.layers._util import count, f32_inputs, param_blob, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Convolution(Layer):
    """2-D convolution (Caffe semantics: cross-correlation, zero padding, groups, dilation).

    Blobs (Caffe order): ``W[num_output, C/group, kh, kw]``, then ``b[num_output]`` if
    ``bias_term``. Output size per spatial axis: ``(H + 2p - (d*(k-1)+1)) // s + 1``.
    Only ``axis == 1`` (NCHW, 2 spatial axes) is supported.

    Attributes:
        num_output: Output channels.
        kernel: (kh, kw).
        stride: (sh, sw).
        pad: (ph, pw), zeros added on both sides.
        dilation: (dh, dw).
        group: Channel groups (``group == C`` with ``num_output == C`` is depthwise).
        bias_term: Whether the second blob (bias) exists.
        relu: A ReLU (slope 0) fused by ``edge_dnn.passes.FuseReLU``: ``y = max(conv, 0)``.
    """

    TYPE: ClassVar[str] = "Convolution"

    num_output: int
    kernel: Pair
    stride: Pair = (1, 1)
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)
    group: int = 1
    bias_term: bool = True
    relu: bool = False

    def __post_init__(self) -> None:
        check_conv_fields(
            self, self.num_output, self.kernel, self.stride, self.pad, self.dilation, self.group
        )

    @classmethod
    def from_proto(cls, lp: Any) -> Convolution:
        """Read ``convolution_param`` (kernel/pad/stride in any Caffe spelling, dilation, group).

        Raises:
            UnsupportedParameterError: ``axis != 1``, missing ``num_output`` or kernel size,
                non-2-D specification, or inconsistent values.
        """
        return cls(**conv_param_kwargs(lp))

    # ------------------------------------------------------------------ shapes
    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(N, num_output, OH, OW)]`` for a 4-D NCHW input."""
        (s,) = shapes_of(self, in_shapes)
        if len(s) != 4:
            raise self.shape_error(f"expects a 4-D NCHW input, got shape {s}")
        n, c, h, w = s
        if c % self.group:
            raise self.shape_error(f"input channels {c} are not divisible by group {self.group}")
        oh = conv_out_size(h, self.kernel[0], self.stride[0], self.pad[0], self.dilation[0])
        ow = conv_out_size(w, self.kernel[1], self.stride[1], self.pad[1], self.dilation[1])
        if oh <= 0 or ow <= 0:
            raise self.shape_error(
                f"input {h}x{w} is smaller than the dilated kernel "
                f"{self.kernel[0]}x{self.kernel[1]} (dilation {self.dilation}, pad {self.pad})"
            )
        return [(n, self.num_output, oh, ow)]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(O, C/group, kh, kw)]`` plus ``(O,)`` if ``bias_term``."""
        self.output_shapes(in_shapes)
        c = int(in_shapes[0][1])
        shapes: list[Shape] = [(self.num_output, c // self.group, *self.kernel)]
        if self.bias_term:
            shapes.append((self.num_output,))
        return shapes

    def macs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> int:
        """Output elements x (C/group) x kh x kw."""
        c = int(in_shapes[0][1])
        return count(tuple(out_shapes[0])) * (c // self.group) * self.kernel[0] * self.kernel[1]

    # ------------------------------------------------------------------ float reference
    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: float32 NCHW in, float32 NCHW out.

        BLAS GEMMs on im2col blocks (1x1: on the input itself; stride-1 3-row kernels on large
        planes: Winograd F(4, 3) along H), per-tap accumulation for depthwise convolutions.
        """
        (x,) = f32_inputs(self, inputs)
        pshapes = self.param_shapes([x.shape])
        w = param_blob(self, params, 0, pshapes[0])
        b = param_blob(self, params, 1, pshapes[1]) if self.bias_term else None
        y = conv2d(x, w, b, self.stride, self.pad, self.dilation, self.group)
        if self.relu:
            np.maximum(y, 0, out=y)
        return [y]

    # ------------------------------------------------------------------ integer reference
    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (contract sections 3-4), NCHW.

        Input int8/uint8/int16, output in the type of ``q.outputs[0]``. Exact accumulation
        (float64 GEMM, exact under the checked accumulator bound), int64 bias add, per-channel
        requantization; a fused ReLU is the output range's ``qmin = 0``.
        """

        if q.float_path:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        (out_shape,) = self.output_shapes([x.shape])
        w = mac_weights(self, q, self.param_shapes([x.shape])[0])
        check_mac_bound(w, q.bias, q.inputs[0].dtype, self.name)
        acc = conv2d_acc(
            x, w, self.stride, self.pad, self.dilation, self.group, (out_shape[2], out_shape[3])
        )
        return [mac_output(acc, q, f"layer '{self.name}'", self.relu)]
