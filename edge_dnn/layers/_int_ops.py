"""Integer kernels shared by the layers' bit-exact references (``forward_int``).

Every function here follows ``docs/arithmetic.md`` and uses the primitives of
:mod:`edge_dnn.quant.arith` for rounding, requantization and saturation. Activations are NCHW
numpy arrays of the storage dtype of their :class:`~edge_dnn.quant.qgraph.TensorQuant` (int8,
uint8, int16; float32 for the float blobs of ARM float regions).

Exact integer sums with BLAS: the multiply-accumulate kernels convert the integer operands to
float64 and use ``np.matmul`` (or whole-array multiply/add per kernel tap). Every product
``x * w`` is an integer of magnitude <= 2**15 * 2**15 = 2**30, and the contract's accumulator
bound (section 3.4, checked by :func:`check_mac_bound` before every call) guarantees
``sum |x * w| < 2**47`` for every output channel. Hence every partial sum the BLAS forms, in
whatever order, blocking or FMA contraction it uses, is an integer below 2**47 < 2**53 and is
represented exactly in float64: the float64 result *is* the exact integer accumulator, which is
then converted to int64 without rounding. The bias is added in int64 afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from edge_dnn.errors import WeightsMismatchError
from edge_dnn.layers._util import check_count
from edge_dnn.layers.base import Array, Layer
from edge_dnn.quant import arith

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant, TensorQuant

Pair = tuple[int, int]
IntArray = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
LutFunction = Callable[[F64], F64]
"""An element-wise float64 function (the ``fn`` of ``arith.build_lut``)."""

# float64 elements of one im2col column block (16 MB): the block stays in the last-level cache.
_COLS_BUDGET = 2 << 20
# Output elements per block of the per-tap (depthwise) accumulation.
_TAP_BUDGET = 1 << 17


# ---------------------------------------------------------------------------- generic paths
def float_path(layer: Layer, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
    """The contract's ARM float path: dequantize -> float32 reference -> quantize.

    Float32 inputs (blobs of an ARM float region) are used as they are; outputs whose
    :class:`TensorQuant` is ``float32`` stay float32, the others are quantized with
    ``quantize_tensor`` and saturated to the tensor's ``[qmin, qmax]``.
    """
    xs = [tq.to_float(x, where=f"layer '{layer.name}'") for x, tq in zip(inputs, q.inputs)]
    ys = layer.forward(xs, q.params)
    return [tq.from_float(y, where=f"layer '{layer.name}'") for y, tq in zip(ys, q.outputs)]


def int_inputs(layer: Layer, inputs: Sequence[Array]) -> list[Array]:
    """Check the bottom count and view the inputs as arrays (dtype unchanged)."""
    check_count(layer, len(inputs))
    return [np.asarray(x) for x in inputs]


def passthrough(layer: Layer, inputs: Sequence[Array]) -> Array:
    """The single input of a data-movement layer (integer or float32), unchanged."""
    return int_inputs(layer, inputs)[0]


def cast_to(y: IntArray, tq: TensorQuant) -> Array:
    """An int64 result already saturated to ``tq``'s range, narrowed to its storage dtype."""
    return y.astype(tq.np_dtype)


def rescale(x: Array, src: TensorQuant, dst: TensorQuant, ms: tuple[int, int] | None) -> Array:
    """Bring an integer tensor from ``src``'s params to ``dst``'s (section 6 requantize step).

    ``ms`` is ``rescale_multiplier(src.scale, dst.scale)``, or None when the tensor is already
    at ``dst``'s scale and type (pure addressing, no arithmetic).
    """
    if ms is None:
        return np.asarray(x)
    m, s = ms
    return cast_to(arith.requantize(x, m, s, dst.qmin, dst.qmax), dst)


# ---------------------------------------------------------------------------- MAC kernels
def check_mac_bound(w_oc: Array, bias: Array | None, act: str, layer: str) -> None:
    """Section 3.4 accumulator bound; also what makes the float64 GEMM below exact.

    Args:
        w_oc: Quantized weights, output channel first ((O, ...) any trailing shape).
        bias: Quantized bias (O,) or None.
        act: Activation type name of the input (int8, uint8, int16).
        layer: Layer name for the error.

    Raises:
        AccumulatorOverflowError: some channel's worst case reaches 2**47.
    """
    arith.check_accumulator_bound(w_oc, bias, act, layer=layer)


def _padded64(x: Array, ph: int, pw: int) -> npt.NDArray[np.float64]:
    """Integer NCHW ``x`` as float64, zero-padded (zero point 0: padding is integer 0)."""
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=np.float64)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    return xp


def _tap(start: int, count: int, step: int) -> slice:
    return slice(start, start + step * (count - 1) + 1, step)


def conv2d_acc(
    x: Array, w: Array, stride: Pair, pad: Pair, dilation: Pair, group: int, out_hw: Pair
) -> IntArray:
    """Exact integer convolution sums (no bias) of integer NCHW ``x`` with OIHW ``w``.

    Caffe geometry (cross-correlation, zero padding, groups, dilation). The caller has checked
    the accumulator bound (see the module docstring for why float64 is then exact).

    Returns:
        int64 (N, O, OH, OW).
    """
    n, c = x.shape[:2]
    o, cg, kh, kw = w.shape
    oh, ow = out_hw
    sh, sw = stride
    dh, dw = dilation
    xp = _padded64(x, pad[0], pad[1])
    wf = w.astype(np.float64)
    if cg == 1 and group > 1:
        return _conv_per_tap(xp, wf, stride, dilation, group, out_hw)
    og = o // group
    kg = cg * kh * kw
    wg = wf.reshape(group, og, kg)
    plane = oh * ow
    out = np.empty((n, o, oh, ow), dtype=np.float64)
    per_sample = c * kh * kw * plane
    if per_sample <= _COLS_BUDGET:
        nb = max(1, min(n, _COLS_BUDGET // max(per_sample, 1)))
        for n0 in range(0, n, nb):
            b = min(nb, n - n0)
            cols = np.empty((c, kh, kw, b, oh, ow), dtype=np.float64)
            for i in range(kh):
                rs = _tap(i * dh, oh, sh)
                for j in range(kw):
                    cols[:, i, j] = xp[n0 : n0 + b, :, rs, _tap(j * dw, ow, sw)].transpose(
                        1, 0, 2, 3
                    )
            res = np.matmul(wg, cols.reshape(group, kg, b * plane))
            out[n0 : n0 + b] = res.reshape(o, b, oh, ow).transpose(1, 0, 2, 3)
    else:
        rows = max(1, min(oh, _COLS_BUDGET // max(c * kh * kw * ow, 1)))
        for s in range(n):
            flat = out[s].reshape(group, og, plane)
            for r0 in range(0, oh, rows):
                r = min(rows, oh - r0)
                cols = np.empty((c, kh, kw, r, ow), dtype=np.float64)
                for i in range(kh):
                    rs = _tap(r0 * sh + i * dh, r, sh)
                    for j in range(kw):
                        cols[:, i, j] = xp[s, :, rs, _tap(j * dw, ow, sw)]
                flat[:, :, r0 * ow : (r0 + r) * ow] = np.matmul(wg, cols.reshape(group, kg, r * ow))
    return out.astype(np.int64)


def _conv_per_tap(
    xp: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    stride: Pair,
    dilation: Pair,
    group: int,
    out_hw: Pair,
) -> IntArray:
    """Depthwise-style convolution (one input channel per group): sum over taps, exact."""
    n = xp.shape[0]
    o, _, kh, kw = w.shape
    oh, ow = out_hw
    mult = o // group
    sh, sw = stride
    dh, dw = dilation
    wt = w.reshape(group, mult, kh, kw)
    out = np.zeros((n, group, mult, oh, ow), dtype=np.float64)
    cb = max(1, min(group, _TAP_BUDGET // max(n * mult * oh * ow, 1)))
    for c0 in range(0, group, cb):
        c1 = min(group, c0 + cb)
        acc = out[:, c0:c1]
        for i in range(kh):
            rs = _tap(i * dh, oh, sh)
            for j in range(kw):
                src = xp[:, c0:c1, None, rs, _tap(j * dw, ow, sw)]
                acc += src * wt[None, c0:c1, :, i, j, None, None]
    return out.reshape(n, o, oh, ow).astype(np.int64)


def deconv2d_acc(
    x: Array, w: Array, stride: Pair, pad: Pair, dilation: Pair, group: int
) -> IntArray:
    """Exact integer transposed-convolution sums (no bias), Caffe layout ``W[C, O/g, kh, kw]``.

    Every output pixel receives at most ``C/g * kh * kw`` products of its channel's weights, so
    the accumulator bound on the output-channel view of ``w`` covers every partial sum.

    Returns:
        int64 (N, O, OH, OW) with ``OH = sh*(H-1) + dh*(kh-1)+1 - 2ph`` (OW alike).
    """
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    sh, sw = stride
    dh, dw = dilation
    ph, pw = pad
    o = og * group
    cg = c // group
    hf = sh * (h - 1) + dh * (kh - 1) + 1
    wf = sw * (wd - 1) + dw * (kw - 1) + 1
    full = np.zeros((n, group, og, hf, wf), dtype=np.float64)
    xf = x.astype(np.float64)
    xt = xf.reshape(n, group, cg, h * wd).transpose(1, 2, 0, 3).reshape(group, cg, n * h * wd)
    wt = w.astype(np.float64).reshape(group, cg, og * kh * kw).transpose(0, 2, 1)
    cols = np.matmul(wt, xt).reshape(group, og, kh, kw, n, h, wd)
    for i in range(kh):
        rs = _tap(i * dh, h, sh)
        for j in range(kw):
            full[:, :, :, rs, _tap(j * dw, wd, sw)] += cols[:, :, i, j].transpose(2, 0, 1, 3, 4)
    oh, ow = hf - 2 * ph, wf - 2 * pw
    out = full.reshape(n, o, hf, wf)[:, :, ph : ph + oh, pw : pw + ow]
    return np.ascontiguousarray(out).astype(np.int64)


def matmul_acc(x2: Array, w: Array, transpose: bool) -> IntArray:
    """Exact integer ``x2 @ W^T`` (``x2 @ W`` when ``transpose``) of InnerProduct, int64."""
    a = x2.astype(np.float64)
    b = w.astype(np.float64)
    return (a @ b if transpose else a @ b.T).astype(np.int64)


def mac_weights(layer: Layer, q: NodeQuant, shape: tuple[int, ...]) -> Array:
    """``q.weights`` checked against the blob shape the layer needs.

    Raises:
        WeightsMismatchError: missing weights, a non-integer dtype or a wrong shape.
    """
    w = q.weights
    if w is None or np.asarray(w).dtype.kind not in "iu":
        raise WeightsMismatchError(layer.name, "the quantized node has no integer weights")
    if tuple(w.shape) != tuple(shape):
        raise WeightsMismatchError(
            layer.name, f"quantized weights have shape {list(w.shape)}, expected {list(shape)}"
        )
    return np.asarray(w)


def deconv_out_channel_view(w: Array, group: int) -> Array:
    """Deconvolution weights ``(C, O/g, kh, kw)`` as ``(O, C/g * kh * kw)``, output channel first.

    Row ``g * O/g + j`` holds every weight that contributes to output channel ``j`` of group
    ``g``: the per-channel scales and the accumulator bound are computed on this view.
    """
    c, og = w.shape[:2]
    cg = c // group
    v = w.reshape(group, cg, og, -1).transpose(0, 2, 1, 3)
    return v.reshape(group * og, -1)


def deconv_from_out_channel_view(v: Array, group: int, shape: tuple[int, ...]) -> Array:
    """Inverse of :func:`deconv_out_channel_view` for a blob of ``shape``."""
    c, og = shape[:2]
    cg = c // group
    return v.reshape(group, og, cg, -1).transpose(0, 2, 1, 3).reshape(shape)


def mac_output(acc: IntArray, q: NodeQuant, where: str, relu: bool = False) -> Array:
    """Bias add (int64) and per-channel requantization of MAC accumulators (axis 1).

    The output range ``[qmin, qmax]`` of ``q.outputs[0]`` already has ``qmin = 0`` for a fused
    ReLU (uint8 [0, 255], int16 [0, 32767], or int8 [0, 127] into a concat); ``relu`` enforces
    it whatever the tensor's range says.
    """
    if q.M is None or q.S is None:
        raise arith.QuantizationError("missing requantization multipliers", where)
    shape = [1] * acc.ndim
    shape[1] = acc.shape[1]
    if q.bias is not None:
        acc = acc + np.asarray(q.bias, dtype=np.int64).reshape(shape)
    out = q.outputs[0]
    qmin = max(out.qmin, 0) if relu else out.qmin
    y = arith.requantize(acc, q.M, q.S, qmin, out.qmax, axis=1, where=where)
    return cast_to(y, out)


# ---------------------------------------------------------------------------- pooling
def pool_int(
    x: Array, is_max: bool, kernel: Pair, stride: Pair, pad: Pair, out_hw: Pair
) -> IntArray:
    """Integer MAX, or the integer window SUM for AVE, with Caffe's geometry.

    Only the window clipped to the valid input ``[0, H) x [0, W)`` takes part (padding and the
    ceil-mode overhang never win a MAX and add nothing to a SUM). A window with no input pixel
    at all (possible only without padding and with kernel < stride) gives 0, like the float
    reference.

    Returns:
        int64 (N, C, OH, OW).
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, pad, out_hw
    need_h = max((oh - 1) * sh + kh, ph + h)
    need_w = max((ow - 1) * sw + kw, pw + w)
    # Sentinel below every int16 value: padding never wins a MAX and marks empty windows.
    fill = np.iinfo(np.int64).min if is_max else 0
    xp = np.full((n, c, need_h, need_w), fill, dtype=np.int64)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    reduce = np.maximum if is_max else np.add
    # Windows are rectangles: reduce the kw column taps first, then the kh row taps.
    rows = xp[:, :, :, _tap(0, ow, sw)].copy()
    for j in range(1, kw):
        reduce(rows, xp[:, :, :, _tap(j, ow, sw)], out=rows)
    out = rows[:, :, _tap(0, oh, sh)].copy()
    for i in range(1, kh):
        reduce(out, rows[:, :, _tap(i, oh, sh)], out=out)
    if is_max:
        out[out == fill] = 0
    return out


# ---------------------------------------------------------------------------- per-channel affine
def affine_int(x: Array, q: NodeQuant, where: str) -> Array:
    """Per-channel ``y = gamma_c * x + beta_c`` as a depthwise 1x1 convolution (section 8).

    ``q.weights`` holds the quantized ``gamma`` (C,), ``q.bias`` the quantized ``beta`` in the
    accumulator scale, ``q.M``/``q.S`` the per-channel multipliers; channels are axis 1.
    """
    if q.weights is None:
        raise arith.QuantizationError("missing per-channel weights", where)
    xi = np.asarray(x).astype(np.int64)
    shape = [1] * xi.ndim
    shape[1] = xi.shape[1]
    acc = xi * np.asarray(q.weights, dtype=np.int64).reshape(shape)
    return mac_output(acc, q, where)


# ---------------------------------------------------------------------------- lookup tables
def lut_int(layer: Layer, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
    """Element-wise function through the layer's compile-time table (section 7)."""
    if q.float_path:
        return float_path(layer, inputs, q)
    (x,) = inputs
    lut = q.tables["lut"]
    y = arith.apply_lut(x, lut, q.inputs[0].dtype, where=f"layer '{layer.name}'")
    return [np.asarray(y).astype(q.outputs[0].np_dtype)]
