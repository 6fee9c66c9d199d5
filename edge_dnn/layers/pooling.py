"""Caffe ``Pooling``: MAX / AVE over 2-D windows, with Caffe's ceil rounding and AVE divisor."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._conv_util import Pair, kernel_pair, scratch, stride_pair
from edge_dnn.layers._int_ops import cast_to, float_path, int_inputs, pool_int
from edge_dnn.layers._util import f32_inputs, shapes_of
from edge_dnn.layers.base import Array, Layer, Shape, opt, spatial_pair
from edge_dnn.quant import arith

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant

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
        out = _pool2d(x, self.method == "MAX", (kh, kw), self.stride, self.pad, (oh, ow))
        return [out]

    # ------------------------------------------------------------------ integer reference
    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference (contract section 5), NCHW.

        MAX: integer maximum over the window clipped to the input; the output keeps the input's
        scale and type. AVE: exact int64 window sum, then ``avgpool_requantize`` with the Caffe
        divisor of each window (padding counts, ceil-mode overhang does not) and
        ``ratio = f64(s_in) / f64(s_out)``, one ``(M, S)`` per distinct area.
        """
        if q.float_path:
            return float_path(self, inputs, q)
        (x,) = int_inputs(self, inputs)
        kernel, (oh, ow) = self._geometry(x.shape)
        stride, pad = ((1, 1), (0, 0)) if self.global_pooling else (self.stride, self.pad)
        out = q.outputs[0]
        where = f"layer '{self.name}'"
        if self.method == "MAX":
            y = pool_int(x, True, kernel, stride, pad, (oh, ow))
            return [cast_to(arith.saturate(y, out.qmin, out.qmax), out)]
        sums = pool_int(x, False, kernel, stride, pad, (oh, ow))
        in_hw = (int(x.shape[2]), int(x.shape[3]))
        areas = arith.caffe_avgpool_areas(in_hw, kernel, stride, pad, (oh, ow))
        # A window wholly outside the input (no padding, kernel < stride) has divisor <= 0 and
        # sum 0; divisor 1 gives 0 as the float reference does.
        areas = np.maximum(areas, 1)
        ratio = float(np.float64(q.inputs[0].scale) / np.float64(out.scale))
        y = arith.avgpool_requantize(sums, areas, ratio, out.qmin, out.qmax, where=where)
        return [cast_to(y, out)]


# Input elements per block of planes: a block, its W-reduced copy and its output stay in L2.
_POOL_BUDGET = 1 << 17


def _tap_range(count: int, s: int, offset: int, size: int) -> tuple[int, int, int]:
    """Outputs ``[lo, hi)`` whose tap ``o*s + offset`` lies in ``[0, size)``; ``lo``'s tap."""
    lo = max(0, -(offset // s))
    hi = max(lo, min(count, (size - 1 - offset) // s + 1))
    return lo, hi, lo * s + offset


def _reduce_taps(
    dst: Array, src: Array, taps: list[tuple[int, int, int]], s: int, axis: int, is_max: bool
) -> None:
    """``dst`` = max/sum over ``taps`` of strided views of ``src`` along ``axis`` (1 or 2).

    Each tap only touches the outputs whose input lies inside the plane, so padding is never
    materialised. A first tap that covers every output initialises ``dst``; otherwise it
    starts at -inf (MAX) or 0 (AVE).
    """
    count = dst.shape[axis]
    reduce = np.maximum if is_max else np.add
    init = bool(taps) and taps[0][0] == 0 and taps[0][1] == count
    if not init:
        dst.fill(-np.inf if is_max else 0.0)
    for k, (lo, hi, start) in enumerate(taps):
        if hi <= lo:
            continue
        sl = slice(start, start + s * (hi - lo - 1) + 1, s)
        if axis == 2:
            d, v = dst[:, :, lo:hi], src[:, :, sl]
        else:
            d, v = dst[:, lo:hi, :], src[:, sl, :]
        if k == 0 and init:
            np.copyto(d, v)
        else:
            reduce(d, v, out=d)


def _pool2d(x: Array, is_max: bool, kernel: Pair, stride: Pair, pad: Pair, out_hw: Pair) -> Array:
    """MAX/AVE pooling of a float32 NCHW array with Caffe's geometry (see :class:`Pooling`).

    Separable: the windows are rectangles, so the kw column taps are reduced first and the kh
    row taps then, block by block of planes that stay in cache.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, pad, out_hw
    planes = x.reshape(n * c, h, w)
    out = np.empty((n * c, oh, ow), dtype=np.float32)
    col_taps = [_tap_range(ow, sw, j - pw, w) for j in range(kw)]
    row_taps = [_tap_range(oh, sh, i - ph, h) for i in range(kh)]
    # A tap covering every output goes first: it initialises the accumulator (stable sort).
    col_taps.sort(key=lambda t: not (t[0] == 0 and t[1] == ow))
    row_taps.sort(key=lambda t: not (t[0] == 0 and t[1] == oh))
    nb = max(1, min(n * c, _POOL_BUDGET // max(h * w, 1)))
    tmp = scratch("pool", (nb, h, ow))
    for c0 in range(0, n * c, nb):
        c1 = min(n * c, c0 + nb)
        t = tmp[: c1 - c0]
        _reduce_taps(t, planes[c0:c1], col_taps, sw, 2, is_max)
        _reduce_taps(out[c0:c1], t, row_taps, sh, 1, is_max)
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
    return out.reshape(n, c, oh, ow)


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
