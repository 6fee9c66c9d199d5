"""Caffe ``Pooling``: MAX / AVE over 2-D windows, with Caffe's ceil rounding and AVE divisor."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.layers._conv_util import Pair, kernel_pair, stride_pair
from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, opt, spatial_pair

_POOL_METHODS = {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}


def pooled_size(size: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """Caffe's pooled output size along one axis (may be <= 0 for impossible geometry).

    ``ceil((size + 2p - k) / s) + 1`` (``floor`` in FLOOR mode); with padding, a last window
    that would start in the trailing padding (``(out-1)*s >= size + p``) is dropped.
    """
    num = size + 2 * p - k
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def ave_divisors(size: int, out: int, k: int, s: int, p: int) -> Array:
    """Caffe's AVE divisor per output position: the window clipped to ``[-p, size + p)``."""
    start = np.arange(out, dtype=np.int64) * s - p
    end = np.minimum(start + k, size + p)
    return (end - start).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Pooling(Layer):
    """2-D MAX or AVE pooling of a float32 NCHW blob with Caffe's exact geometry.

    * Output size rounds up by default (``ceil_mode``), see :func:`pooled_size`; FLOOR rounding
      comes from BVLC's ``round_mode: FLOOR`` or OpenCV's ``ceil_mode: false``.
    * MAX ignores padding (padded positions never win).
    * AVE sums the in-image values and divides by the window area clipped to ``[-pad, H+pad)``:
      padded zeros count, the part of a ceil-mode window past ``H+pad`` does not.
    * ``global_pooling`` pools the whole plane (output 1x1).
    * Without padding and with ``kernel < stride``, Caffe's ceil rounding can produce a last
      window that lies wholly outside the input. Such outputs are 0 here (OpenCV: 0 for MAX,
      NaN for AVE; Caffe: -FLT_MAX for MAX, NaN for AVE).

    Attributes:
        method: ``"MAX"`` or ``"AVE"``.
        kernel: (kh, kw); ignored when ``global_pooling``.
        stride: (sh, sw).
        pad: (ph, pw).
        global_pooling: Pool over the whole input plane.
        ceil_mode: Caffe's default rounding up of the output size (False: FLOOR).
    """

    TYPE: ClassVar[str] = "Pooling"

    method: str = "MAX"
    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)
    pad: Pair = (0, 0)
    global_pooling: bool = False
    ceil_mode: bool = True

    def __post_init__(self) -> None:
        if self.method not in ("MAX", "AVE"):
            raise self.unsupported(f"pooling method {self.method} is not supported (MAX, AVE)")
        for what, pair, lo in (("kernel", self.kernel, 1), ("stride", self.stride, 1)):
            if pair[0] < lo or pair[1] < lo:
                raise self.unsupported(f"{what} must be >= {lo}, got {pair}")
        if self.pad[0] < 0 or self.pad[1] < 0:
            raise self.unsupported(f"pad must be >= 0, got {self.pad}")
        if self.global_pooling:
            if self.pad != (0, 0) or self.stride != (1, 1):
                raise self.unsupported("global_pooling requires pad 0 and stride 1")
        elif self.pad[0] >= self.kernel[0] or self.pad[1] >= self.kernel[1]:
            raise self.unsupported(f"pad {self.pad} must be smaller than the kernel {self.kernel}")

    @classmethod
    def from_proto(cls, lp: Any) -> Pooling:
        """Read ``pooling_param`` (all kernel/stride/pad spellings, ``round_mode``/``ceil_mode``).

        Raises:
            UnsupportedParameterError: STOCHASTIC pooling, a missing kernel size, both spellings
                of one setting, or contradicting ``round_mode``/``ceil_mode``.
        """
        pp = lp.pooling_param
        probe = Layer(name=lp.name)
        method = _POOL_METHODS.get(int(pp.pool), str(pp.pool))
        if method not in ("MAX", "AVE"):
            raise probe.unsupported(f"pool: {method} is not supported (MAX, AVE)")
        ks = [pp.kernel_size] if pp.HasField("kernel_size") else []
        kh, kw = opt(pp, "kernel_h"), opt(pp, "kernel_w")
        glob = bool(pp.global_pooling)
        if glob:
            if ks or kh is not None or kw is not None:
                raise probe.unsupported("global_pooling does not take a kernel size")
            kernel = (1, 1)
        else:
            kernel = kernel_pair(probe, ks, kh, kw)
        st = [pp.stride] if pp.HasField("stride") else []
        stride = stride_pair(probe, st, opt(pp, "stride_h"), opt(pp, "stride_w"))
        pd = [pp.pad] if pp.HasField("pad") else []
        # Caffe's Pooling (unlike Convolution) requires both pad_h and pad_w when either is set.
        pad = spatial_pair(probe, "pad", pd, opt(pp, "pad_h"), opt(pp, "pad_w"), 0)
        return cls(
            name=lp.name,
            method=method,
            kernel=kernel,
            stride=stride,
            pad=pad,
            global_pooling=glob,
            ceil_mode=_ceil_mode(probe, pp),
        )

    # ------------------------------------------------------------------ shapes
    def _geometry(self, s: Shape) -> tuple[Pair, Pair]:
        """(kernel, output size) for input shape ``s`` (4-D, checked)."""
        if len(s) != 4:
            raise self.shape_error(f"expects a 4-D NCHW input, got shape {s}")
        h, w = s[2], s[3]
        if h <= 0 or w <= 0:
            raise self.shape_error(f"empty input plane {h}x{w}")
        if self.global_pooling:
            return (h, w), (1, 1)
        oh = pooled_size(h, self.kernel[0], self.stride[0], self.pad[0], self.ceil_mode)
        ow = pooled_size(w, self.kernel[1], self.stride[1], self.pad[1], self.ceil_mode)
        if oh <= 0 or ow <= 0:
            raise self.shape_error(
                f"kernel {self.kernel} with pad {self.pad} does not fit the {h}x{w} input"
            )
        return self.kernel, (oh, ow)

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(N, C, OH, OW)]``."""
        (s,) = shapes_of(self, in_shapes)
        _, (oh, ow) = self._geometry(s)
        return [(s[0], s[1], oh, ow)]

    # ------------------------------------------------------------------ float reference
    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Float reference: float32 NCHW in and out (separable per-tap max/sum over views)."""
        (x,) = f32_inputs(self, inputs)
        (kh, kw), (oh, ow) = self._geometry(x.shape)
        if self.global_pooling:
            if self.method == "MAX":
                return [x.max(axis=(2, 3), keepdims=True)]
            return [x.mean(axis=(2, 3), keepdims=True, dtype=np.float32)]
        n, c, h, w = x.shape
        (sh, sw), (ph, pw) = self.stride, self.pad
        # Rows/columns the windows touch, relative to the padded origin.
        need_h = max((oh - 1) * sh + kh, ph + h)
        need_w = max((ow - 1) * sw + kw, pw + w)
        is_max = self.method == "MAX"
        if ph or pw or need_h > h or need_w > w:
            fill = -np.inf if is_max else 0.0
            xp = np.full((n, c, need_h, need_w), fill, dtype=np.float32)
            xp[:, :, ph : ph + h, pw : pw + w] = x
        else:
            xp = x
        reduce = np.maximum if is_max else np.add
        # Windows are rectangles, so reduce along W first, then along H: kh + kw passes.
        rows = xp[:, :, :, _span(0, ow, sw)].copy()
        for j in range(1, kw):
            reduce(rows, xp[:, :, :, _span(j, ow, sw)], out=rows)
        out = rows[:, :, _span(0, oh, sh)].copy()
        for i in range(1, kh):
            reduce(out, rows[:, :, _span(i, oh, sh)], out=out)
        if is_max:
            if (oh - 1) * sh >= ph + h or (ow - 1) * sw >= pw + w:
                # Windows without any input pixel exist (only possible without padding and with
                # k < s). Caffe leaves -FLT_MAX there, OpenCV 0; 0 keeps the net finite.
                out[np.isneginf(out)] = 0.0
        else:
            # Empty windows have divisor <= 0 (Caffe and OpenCV produce NaN); their sum is 0
            # and dividing by 1 gives 0 instead.
            dh = np.maximum(ave_divisors(h, oh, kh, sh, ph), 1.0)
            dw = np.maximum(ave_divisors(w, ow, kw, sw, pw), 1.0)
            out /= np.outer(dh, dw)
        return [out]


def _span(start: int, count: int, step: int) -> slice:
    """Slice of ``count`` elements from ``start`` with ``step``."""
    return slice(start, start + step * (count - 1) + 1, step)


def _ceil_mode(layer: Layer, pp: Any) -> bool:
    """Rounding mode from BVLC ``round_mode`` (CEIL/FLOOR) and OpenCV ``ceil_mode`` (bool)."""
    fields = pp.DESCRIPTOR.fields_by_name
    from_round = None
    if "round_mode" in fields and pp.HasField("round_mode"):
        from_round = int(pp.round_mode) == 0
    from_ceil = None
    if "ceil_mode" in fields and pp.HasField("ceil_mode"):
        from_ceil = bool(pp.ceil_mode)
    if from_round is not None and from_ceil is not None and from_round != from_ceil:
        raise layer.unsupported(
            "round_mode and ceil_mode contradict each other "
            f"(round_mode {'CEIL' if from_round else 'FLOOR'}, ceil_mode {from_ceil})"
        )
    if from_round is not None:
        return from_round
    return True if from_ceil is None else from_ceil
