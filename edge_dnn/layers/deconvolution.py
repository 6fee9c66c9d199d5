"""Caffe ``Deconvolution``: the transpose (gradient) of a grouped, dilated 2-D convolution."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._conv_util import (
    Pair,
    check_conv_fields,
    conv_param_kwargs,
    deconv2d,
    deconv_out_size,
)
from edge_dnn.layers._int_ops import (
    check_mac_bound,
    deconv2d_acc,
    deconv_out_channel_view,
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
class Deconvolution(Layer):
    """2-D transposed convolution with Caffe's semantics and blob layout.

    Every input pixel scatters ``x * W[c, :, :, :]`` into a ``kh x kw`` output window at
    ``stride`` spacing; ``pad`` rows/columns are then cropped from each side. Blobs (Caffe
    order): ``W[C, num_output/group, kh, kw]`` (input channels first, unlike Convolution), then
    ``b[num_output]`` if ``bias_term``. Output size: ``s*(H-1) + d*(k-1)+1 - 2p``.

    Attributes:
        num_output: Output channels.
        kernel: (kh, kw).
        stride: (sh, sw), the upsampling factor.
        pad: (ph, pw), cropped from both sides of the full output.
        dilation: (dh, dw).
        group: Channel groups.
        bias_term: Whether the second blob (bias) exists.
    """

    TYPE: ClassVar[str] = "Deconvolution"

    num_output: int
    kernel: Pair
    stride: Pair = (1, 1)
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)
    group: int = 1
    bias_term: bool = True

    def __post_init__(self) -> None:
        check_conv_fields(
            self, self.num_output, self.kernel, self.stride, self.pad, self.dilation, self.group
        )

    @classmethod
    def from_proto(cls, lp: Any) -> Deconvolution:
        """Read ``convolution_param`` (Deconvolution shares Convolution's parameter message).

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
        if h <= 0 or w <= 0:
            raise self.shape_error(f"empty input plane {h}x{w}")
        oh = deconv_out_size(h, self.kernel[0], self.stride[0], self.pad[0], self.dilation[0])
        ow = deconv_out_size(w, self.kernel[1], self.stride[1], self.pad[1], self.dilation[1])
        if oh <= 0 or ow <= 0:
            raise self.shape_error(
                f"pad {self.pad} crops the whole {oh + 2 * self.pad[0]}x"
                f"{ow + 2 * self.pad[1]} output of a {h}x{w} input"
            )
        return [(n, self.num_output, oh, ow)]

    def param_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(C, O/group, kh, kw)]`` plus ``(O,)`` if ``bias_term``."""
        self.output_shapes(in_shapes)
        c = int(in_shapes[0][1])
        shapes: list[Shape] = [(c, self.num_output // self.group, *self.kernel)]
        if self.bias_term:
            shapes.append((self.num_output,))
        return shapes

    def macs(self, in_shapes: Sequence[Shape], out_shapes: Sequence[Shape]) -> int:
        """Input elements x (O/group) x kh x kw (every input pixel meets each of its taps once)."""
        og = self.num_output // self.group
        return count(tuple(in_shapes[0])) * og * self.kernel[0] * self.kernel[1]

    # ------------------------------------------------------------------ float reference
    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: float32 NCHW in, float32 NCHW out (GEMM + col2im, or per tap)."""
        (x,) = f32_inputs(self, inputs)
        pshapes = self.param_shapes([x.shape])
        w = param_blob(self, params, 0, pshapes[0])
        b = param_blob(self, params, 1, pshapes[1]) if self.bias_term else None
        return [deconv2d(x, w, b, self.stride, self.pad, self.dilation, self.group)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (ARM int, contract section 8): exact sums, then sections 3.5-4.

        Input int8/uint8/int16 NCHW, output in the type of ``q.outputs[0]``. ``q.weights`` has
        the blob layout ``(C, O/group, kh, kw)``; ``q.M``/``q.S``/``q.bias`` are per output
        channel. The accumulator bound is checked on the output-channel view of the weights.
        """
        if q.float_path:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        self.output_shapes([x.shape])
        w = mac_weights(self, q, self.param_shapes([x.shape])[0])
        check_mac_bound(
            deconv_out_channel_view(w, self.group), q.bias, q.inputs[0].dtype, self.name
        )
        acc = deconv2d_acc(x, w, self.stride, self.pad, self.dilation, self.group)
        return [mac_output(acc, q, f"layer '{self.name}'")]

    def init_params(self, in_shapes: Sequence[Shape], rng: np.random.Generator) -> list[Array]:
        """He-normal weights and N(0, 0.1) biases.

        The weight blob is ``(C, O/group, kh, kw)``, so its trailing dimensions are the fan-out;
        an output pixel sums about ``(C/group) * kh*kw / (sh*sw)`` products, which is the
        fan-in used here.
        """
        shapes = self.param_shapes(in_shapes)
        c = int(in_shapes[0][1])
        taps = (c // self.group) * self.kernel[0] * self.kernel[1]
        fan_in = max(1.0, taps / (self.stride[0] * self.stride[1]))
        out = [(rng.standard_normal(shapes[0]) * np.sqrt(2.0 / fan_in)).astype(np.float32)]
        if self.bias_term:
            out.append((rng.standard_normal(shapes[1]) * 0.1).astype(np.float32))
        return out
