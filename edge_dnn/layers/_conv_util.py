"""Parameter parsing and fast float32 kernels shared by Convolution, Deconvolution and Pooling.

The kernels are numpy only and work on NCHW float32 arrays. Their Python loops run over kernel
taps, groups of samples or row chunks, never over pixels or channels; the arithmetic is done by
BLAS (``np.matmul``) or by whole-array numpy operations over strided views.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_dnn.layers.base import Array, Layer, opt, spatial_pair

Pair = tuple[int, int]

# Budget (in float32 elements) of one im2col column block. A block that stays in the last-level
# cache is consumed by the GEMM while still hot; on the 2-core reference machine 2-4M floats
# (8-16 MB, L3 is 32 MB) measured best, larger blocks only cost bandwidth.
_COLS_BUDGET = 2 << 20
# Budget of one block of the per-tap (depthwise) accumulation, in output elements per operand.
_TAP_BUDGET = 1 << 17
_ROWS_TAP_BUDGET = 1 << 16
# Scratch buffers up to this many float32 elements are kept between calls (see scratch()).
_SCRATCH_MAX = 16 << 20
_scratch_tls = threading.local()


# ---------------------------------------------------------------------------------- parameters
def kernel_pair(layer: Layer, repeated: Sequence[int], h: int | None, w: int | None) -> Pair:
    """Kernel size (h, w) from ``kernel_size`` (repeated or single) / ``kernel_h``+``kernel_w``.

    Raises:
        UnsupportedParameterError: no kernel size, a zero size, or both spellings.
    """
    kh, kw = spatial_pair(layer, "kernel", repeated, h, w, 0)
    if kh <= 0 or kw <= 0:
        if not len(repeated) and h is None and w is None:
            raise layer.unsupported("kernel_size (or kernel_h and kernel_w) is required")
        raise layer.unsupported(f"kernel size must be positive, got {kh}x{kw}")
    return kh, kw


def pad_pair(layer: Layer, repeated: Sequence[int], h: int | None, w: int | None) -> Pair:
    """Padding (h, w) from ``pad`` / ``pad_h``+``pad_w``.

    Unlike the kernel and the stride, Caffe lets one of ``pad_h``/``pad_w`` default to 0.
    """
    if h is not None or w is not None:
        return spatial_pair(layer, "pad", repeated, h or 0, w or 0, 0)
    return spatial_pair(layer, "pad", repeated, None, None, 0)


def stride_pair(layer: Layer, repeated: Sequence[int], h: int | None, w: int | None) -> Pair:
    """Stride (h, w) from ``stride`` / ``stride_h``+``stride_w`` (default 1)."""
    sh, sw = spatial_pair(layer, "stride", repeated, h, w, 1)
    if sh <= 0 or sw <= 0:
        raise layer.unsupported(f"stride must be positive, got {sh}x{sw}")
    return sh, sw


def conv_geometry(layer: Layer, cp: Any) -> tuple[Pair, Pair, Pair, Pair]:
    """(kernel, stride, pad, dilation) of a ``ConvolutionParameter`` (Convolution/Deconvolution).

    Raises:
        UnsupportedParameterError: missing or invalid values, or a non-2-D specification.
    """
    kernel = kernel_pair(layer, list(cp.kernel_size), opt(cp, "kernel_h"), opt(cp, "kernel_w"))
    stride = stride_pair(layer, list(cp.stride), opt(cp, "stride_h"), opt(cp, "stride_w"))
    pad = pad_pair(layer, list(cp.pad), opt(cp, "pad_h"), opt(cp, "pad_w"))
    dilation = spatial_pair(layer, "dilation", list(cp.dilation), None, None, 1)
    if dilation[0] <= 0 or dilation[1] <= 0:
        raise layer.unsupported(f"dilation must be positive, got {dilation}")
    return kernel, stride, pad, dilation


def check_conv_fields(
    layer: Layer,
    num_output: int,
    kernel: Pair,
    stride: Pair,
    pad: Pair,
    dilation: Pair,
    group: int,
) -> None:
    """Validate the attributes shared by Convolution and Deconvolution.

    Raises:
        UnsupportedParameterError: naming the layer.
    """
    if num_output <= 0:
        raise layer.unsupported(f"num_output must be positive, got {num_output}")
    if group <= 0:
        raise layer.unsupported(f"group must be positive, got {group}")
    if num_output % group:
        raise layer.unsupported(f"num_output {num_output} is not divisible by group {group}")
    for what, pair, lo in (
        ("kernel", kernel, 1),
        ("stride", stride, 1),
        ("pad", pad, 0),
        ("dilation", dilation, 1),
    ):
        if len(pair) != 2 or pair[0] < lo or pair[1] < lo:
            raise layer.unsupported(f"{what} must be two integers >= {lo}, got {pair}")


def conv_out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    """Caffe's convolution output size ``(size + 2p - (d*(k-1)+1)) // s + 1`` (may be <= 0)."""
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def deconv_out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    """Caffe's deconvolution output size ``s*(size-1) + d*(k-1)+1 - 2p`` (may be <= 0)."""
    return s * (size - 1) + d * (k - 1) + 1 - 2 * p


# ------------------------------------------------------------------------------------ helpers
def scratch(slot: str, shape: tuple[int, ...]) -> Array:
    """An uninitialised float32 work array that is reused by later calls (per thread and slot).

    Fresh multi-megabyte temporaries are returned to the OS by the allocator and cost a page
    fault per 4 KiB on their next use, which on the reference machine doubled the time of a
    whole-net forward pass. Kernels take their temporaries from here instead. The result must
    never escape the kernel (outputs are always fresh arrays), and two arrays in use at the same
    time need different ``slot`` names.
    """
    size = 1
    for d in shape:
        size *= int(d)
    bufs: dict[str, Array] = _scratch_tls.__dict__.setdefault("bufs", {})
    buf = bufs.get(slot)
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=np.float32)
        if size <= _SCRATCH_MAX:
            bufs[slot] = buf
    return buf[:size].reshape(shape)


def _padded(x: Array, ph: int, pw: int, slot: str = "pad") -> Array:
    """``x`` (N, C, H, W) zero-padded by ``ph`` rows and ``pw`` columns on both sides.

    The result is ``x`` itself without padding, else a :func:`scratch` array.
    """
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    xp = scratch(slot, (n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, :ph] = 0.0
    xp[:, :, ph + h :] = 0.0
    xp[:, :, ph : ph + h, :pw] = 0.0
    xp[:, :, ph : ph + h, pw + w :] = 0.0
    xp[:, :, ph : ph + h, pw : pw + w] = x
    return xp


def _tap(start: int, count: int, step: int) -> slice:
    """Slice of ``count`` elements from ``start`` with ``step``."""
    return slice(start, start + step * (count - 1) + 1, step)


# -------------------------------------------------------------------------------- convolution
def conv2d(
    x: Array,
    w: Array,
    bias: Array | None,
    stride: Pair,
    pad: Pair,
    dilation: Pair,
    group: int,
) -> Array:
    """Caffe convolution (cross-correlation) of a float32 NCHW batch.

    Args:
        x: Input (N, C, H, W), float32.
        w: Weights (O, C/group, kh, kw), float32.
        bias: (O,) float32 or None.
        stride, pad, dilation: (h, w) pairs.
        group: Number of groups; C and O are multiples of it.

    Returns:
        (N, O, OH, OW) float32 with ``OH = (H + 2ph - (dh*(kh-1)+1)) // sh + 1`` (OW alike).
        The caller guarantees OH, OW >= 1.
    """
    _, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = conv_out_size(h, kh, stride[0], pad[0], dilation[0])
    ow = conv_out_size(wd, kw, stride[1], pad[1], dilation[1])
    if cg == 1 and group > 1 and o == group and stride == (1, 1):
        out = _conv_depthwise_rows(x, w, pad, dilation, oh, ow)
    elif cg == 1 and group > 1:
        out = _conv_per_tap(x, w, stride, pad, dilation, group, oh, ow)
    elif kh == 1 and kw == 1 and pad == (0, 0):
        out = _conv_pointwise(x, w, stride, group, oh, ow)
    elif _winograd_rows_pays(x.shape, w.shape, stride, dilation, group, oh, ow):
        out = _conv_winograd_rows(x, w, pad, oh, ow)
    else:
        out = _conv_im2col(x, w, stride, pad, dilation, group, oh, ow)
    if bias is not None:
        out += bias.reshape(1, o, 1, 1)
    return out


def _conv_pointwise(x: Array, w: Array, stride: Pair, group: int, oh: int, ow: int) -> Array:
    """1x1 convolution without padding: the input itself is the column matrix."""
    n, c = x.shape[:2]
    o = w.shape[0]
    if stride != (1, 1):
        x = x[:, :, _tap(0, oh, stride[0]), _tap(0, ow, stride[1])]
    cols = x.reshape(n, group, c // group, oh * ow)
    out = np.matmul(w.reshape(group, o // group, c // group), cols)
    return out.reshape(n, o, oh, ow)


def _conv_im2col(
    x: Array,
    w: Array,
    stride: Pair,
    pad: Pair,
    dilation: Pair,
    group: int,
    oh: int,
    ow: int,
) -> Array:
    """General convolution: im2col into a cache-sized column block, one batched GEMM per block.

    The column block is laid out (C, kh, kw, samples/rows, OW) so that the rows of group ``g``
    are contiguous and ``np.matmul`` runs one GEMM per group on it without copies.
    """
    n, c = x.shape[:2]
    o, cg, kh, kw = w.shape
    sh, sw = stride
    dh, dw = dilation
    og = o // group
    kg = cg * kh * kw
    xp = _padded(x, pad[0], pad[1])
    wg = w.reshape(group, og, kg)
    plane = oh * ow
    per_sample = c * kh * kw * plane
    out = np.empty((n, o, oh, ow), dtype=np.float32)
    if per_sample <= _COLS_BUDGET:
        # Whole samples per block: the GEMM sees (samples x OH x OW) columns.
        nb = max(1, min(n, _COLS_BUDGET // max(per_sample, 1)))
        buf = scratch("cols", (per_sample * nb,))
        for n0 in range(0, n, nb):
            b = min(nb, n - n0)
            cols = buf[: per_sample * b].reshape(c, kh, kw, b, oh, ow)
            for i in range(kh):
                rs = _tap(i * dh, oh, sh)
                for j in range(kw):
                    src = xp[n0 : n0 + b, :, rs, _tap(j * dw, ow, sw)]
                    cols[:, i, j] = src.transpose(1, 0, 2, 3)
            res = np.matmul(wg, cols.reshape(group, kg, b * plane))
            if n == 1:
                return res.reshape(1, o, oh, ow)  # the GEMM result is the output, no copy
            if b == 1:
                out[n0] = res.reshape(o, oh, ow)
            else:
                out[n0 : n0 + b] = res.reshape(o, b, oh, ow).transpose(1, 0, 2, 3)
        return out
    # Large planes: blocks of output rows of one sample.
    rows = max(1, min(oh, _COLS_BUDGET // (c * kh * kw * ow)))
    buf = scratch("cols", (c * kh * kw * rows * ow,))
    res_buf = scratch("res", (o * rows * ow,))
    for s in range(n):
        flat = out[s].reshape(group, og, plane)
        for r0 in range(0, oh, rows):
            r = min(rows, oh - r0)
            cols = buf[: c * kh * kw * r * ow].reshape(c, kh, kw, r, ow)
            for i in range(kh):
                rs = _tap(r0 * sh + i * dh, r, sh)
                for j in range(kw):
                    cols[:, i, j] = xp[s, :, rs, _tap(j * dw, ow, sw)]
            res = res_buf[: o * r * ow].reshape(group, og, r * ow)
            np.matmul(wg, cols.reshape(group, kg, r * ow), out=res)
            flat[:, :, r0 * ow : (r0 + r) * ow] = res
    return out


# Winograd F(4, 3) along H (interpolation points 0, 1, -1, 2, -2, inf): four output rows from six
# input rows with 6 instead of 12 multiplications per column tap.
_WG_BT = np.array(
    [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ],
    dtype=np.float32,
)
_WG_G = np.array(
    [
        [1 / 4, 0, 0],
        [-1 / 6, -1 / 6, -1 / 6],
        [-1 / 6, 1 / 6, -1 / 6],
        [1 / 24, 1 / 12, 1 / 6],
        [1 / 24, -1 / 12, 1 / 6],
        [0, 0, 1],
    ],
    dtype=np.float32,
)
_WG_AT = np.array(
    [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ],
    dtype=np.float32,
)
# The row-Winograd path halves the GEMM work but adds transforms proportional to (C + O) * plane;
# measured on the 2-core reference machine it wins from about 28x28 planes with 64+ channels.
_WINOGRAD_MIN_PLANE = 28 * 28
_WINOGRAD_MIN_CHANNELS = 32
# Budget (float32 elements) of the transformed input of one group of samples.
_WINOGRAD_BUDGET = 1 << 20


def _winograd_rows_pays(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: Pair,
    dilation: Pair,
    group: int,
    oh: int,
    ow: int,
) -> bool:
    """Whether :func:`_conv_winograd_rows` applies to and is faster for this convolution."""
    o, c, kh, _ = w_shape
    return (
        kh == 3
        and stride == (1, 1)
        and dilation == (1, 1)
        and group == 1
        and oh * ow >= _WINOGRAD_MIN_PLANE
        and min(o, c) >= _WINOGRAD_MIN_CHANNELS
    )


def _conv_winograd_rows(x: Array, w: Array, pad: Pair, oh: int, ow: int) -> Array:
    """Stride-1 convolution with a 3-row kernel: Winograd F(4, 3) along H, GEMMs along W.

    Rows: the input is cut into tiles of 6 rows (4-row steps), transformed with B^T; the filter
    with G. Columns: each of the kw column taps is the transformed input shifted by one element,
    which on rows flattened with their padded pitch is a plain strided matrix, so every
    Winograd component ``u`` is one GEMM ``(O, kw*C) @ (kw*C, samples*tiles*pitch)``. The
    columns past OW of each row are computed and dropped. A^T then yields 4 output rows per tile.
    """
    n, c, h, wd = x.shape
    o, _, _, kw = w.shape
    ph, pw = pad
    th = -(-oh // 4)
    hp, wp = 4 * th + 2, wd + 2 * pw
    # Transformed filter, (u, o, j, c): row o of component u multiplies the stacked shifts j.
    w_rows = scratch("wg_w", (3, o, kw, c))
    w_rows[...] = w.transpose(2, 0, 3, 1)
    u_mat = scratch("wg_u", (6, o, kw * c))
    np.matmul(_WG_G, w_rows.reshape(3, o * kw * c), out=u_mat.reshape(6, o * kw * c))
    xp = scratch("pad", (c, n, hp, wp))
    xp[:, :, :ph] = 0.0
    xp[:, :, ph + h :] = 0.0
    xp[:, :, ph : ph + h, :pw] = 0.0
    xp[:, :, ph : ph + h, pw + wd :] = 0.0
    xp[:, :, ph : ph + h, pw : pw + wd] = x.transpose(1, 0, 2, 3)
    out = np.empty((n, o, oh, ow), dtype=np.float32)
    # Blocks of whole samples, or of tile rows of one sample, sized to stay in cache.
    per_row = 6 * c * wp
    if per_row * th <= _WINOGRAD_BUDGET:
        nb, nt_max = max(1, min(n, _WINOGRAD_BUDGET // (per_row * th))), th
    else:
        nb, nt_max = 1, max(1, _WINOGRAD_BUDGET // per_row)
    for n0 in range(0, n, nb):
        b = min(nb, n - n0)
        dst = out[n0 : n0 + b].transpose(1, 0, 2, 3)
        for t0 in range(0, th, nt_max):
            nt = min(nt_max, th - t0)
            _winograd_rows_block(xp[:, n0 : n0 + b], u_mat, kw, t0, nt, oh, ow, dst)
    return out


def _winograd_rows_block(
    xp: Array, u_mat: Array, kw: int, t0: int, nt: int, oh: int, ow: int, dst: Array
) -> None:
    """Tile rows ``[t0, t0 + nt)`` of :func:`_conv_winograd_rows` into ``dst`` (O, N, OH, OW)."""
    c, b, _, wp = xp.shape
    o = u_mat.shape[1]
    length = b * nt * wp
    rows = scratch("wg_rows", (6, c, b, nt, wp))
    for i in range(6):
        r0 = 4 * t0 + i
        rows[i] = xp[:, :, r0 : r0 + 4 * (nt - 1) + 1 : 4]
    # Per component u the channels lie end to end; the kw - 1 spare elements keep the shifted
    # views in bounds (what spills into the next channel only reaches dropped columns).
    t = scratch("wg_t", (6, c * length + kw - 1))
    t[:, c * length :] = 0.0
    np.matmul(_WG_BT, rows.reshape(6, c * length), out=t[:, : c * length])
    m = scratch("wg_m", (6, o, length))
    cols = scratch("cols", (kw, c, length))
    for u in range(6):
        for j in range(kw):
            cols[j] = t[u, j : j + c * length].reshape(c, length)
        np.matmul(u_mat[u], cols.reshape(kw * c, length), out=m[u])
    y = scratch("res", (4, o, b, nt, wp))
    np.matmul(_WG_AT, m.reshape(6, o * length), out=y.reshape(4, o * length))
    for r in range(4):
        nr = min(nt, -(-(oh - r) // 4) - t0)
        if nr > 0:
            start = 4 * t0 + r
            dst[:, :, start : start + 4 * (nr - 1) + 1 : 4] = y[r, :, :, :nr, :ow]


def _conv_depthwise_rows(x: Array, w: Array, pad: Pair, dilation: Pair, oh: int, ow: int) -> Array:
    """Stride-1 depthwise convolution (one output per input channel) on flattened rows.

    With every padded plane flattened at its row pitch, each tap is a contiguous slice at offset
    ``i*dh*pitch + j*dw`` and one (planes x length) multiply-add with a per-plane coefficient;
    the ``pitch - OW`` extra columns per row are computed and dropped. Contiguous 2-D operands
    run about twice as fast in numpy as the strided 4-D tap views of :func:`_conv_per_tap`.
    """
    n, c, h, wd = x.shape
    _, _, kh, kw = w.shape
    ph, pw = pad
    dh, dw = dilation
    hp, wp = h + 2 * ph, wd + 2 * pw
    planes = n * c
    length = oh * wp
    extra = dw * (kw - 1)  # the last taps read up to this far past the last row
    xp = scratch("pad", (planes, hp * wp + extra))
    xp[:, hp * wp :] = 0.0
    grid = xp[:, : hp * wp].reshape(planes, hp, wp)
    grid[:, :ph] = 0.0
    grid[:, ph + h :] = 0.0
    grid[:, ph : ph + h, :pw] = 0.0
    grid[:, ph : ph + h, pw + wd :] = 0.0
    grid[:, ph : ph + h, pw : pw + wd] = x.reshape(planes, h, wd)
    coef = np.broadcast_to(w.reshape(1, c, kh * kw), (n, c, kh * kw)).reshape(planes, kh * kw)
    full = scratch("res", (planes, length))
    nb = max(1, min(planes, _ROWS_TAP_BUDGET // max(length, 1)))
    tmp = scratch("tap", (nb, length))
    for c0 in range(0, planes, nb):
        c1 = min(planes, c0 + nb)
        acc, t = full[c0:c1], tmp[: c1 - c0]
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            off = i * dh * wp + j * dw
            src = xp[c0:c1, off : off + length]
            if k == 0:
                np.multiply(src, coef[c0:c1, k : k + 1], out=acc)
            else:
                np.multiply(src, coef[c0:c1, k : k + 1], out=t)
                acc += t
    return full.reshape(n, c, oh, wp)[:, :, :, :ow].copy()


def _conv_per_tap(
    x: Array,
    w: Array,
    stride: Pair,
    pad: Pair,
    dilation: Pair,
    group: int,
    oh: int,
    ow: int,
) -> Array:
    """Convolution with one input channel per group (depthwise, with any channel multiplier).

    Accumulates ``weight[tap] * shifted input`` over the kh*kw taps for all channels at once,
    in channel blocks that stay in cache; no block-diagonal GEMM is formed.
    """
    n = x.shape[0]
    o, _, kh, kw = w.shape
    mult = o // group
    sh, sw = stride
    dh, dw = dilation
    xp = _padded(x, pad[0], pad[1])
    out = np.empty((n, group, mult, oh, ow), dtype=np.float32)
    wt = w.reshape(group, mult, kh, kw)
    cb = max(1, min(group, _TAP_BUDGET // max(n * mult * oh * ow, 1)))
    tmp = scratch("tap", (n, cb, mult, oh, ow))
    for c0 in range(0, group, cb):
        c1 = min(group, c0 + cb)
        acc = out[:, c0:c1]
        t = tmp[:, : c1 - c0]
        first = True
        for i in range(kh):
            rs = _tap(i * dh, oh, sh)
            for j in range(kw):
                src = xp[:, c0:c1, None, rs, _tap(j * dw, ow, sw)]
                coef = wt[None, c0:c1, :, i, j, None, None]
                if first:
                    np.multiply(src, coef, out=acc)
                    first = False
                else:
                    np.multiply(src, coef, out=t)
                    acc += t
    return out.reshape(n, o, oh, ow)


# ------------------------------------------------------------------------------ deconvolution
def deconv2d(
    x: Array,
    w: Array,
    bias: Array | None,
    stride: Pair,
    pad: Pair,
    dilation: Pair,
    group: int,
) -> Array:
    """Caffe deconvolution (the transpose of :func:`conv2d`) of a float32 NCHW batch.

    Args:
        x: Input (N, C, H, W), float32.
        w: Weights (C, O/group, kh, kw), float32 (Caffe's Deconvolution blob layout).
        bias: (O,) float32 or None.
        stride, pad, dilation: (h, w) pairs.
        group: Number of groups.

    Returns:
        (N, O, OH, OW) float32 with ``OH = sh*(H-1) + dh*(kh-1)+1 - 2ph`` (OW alike).
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
    full = np.zeros((n, group, og, hf, wf), dtype=np.float32)
    if cg == 1:
        # One input channel per group: scatter weight[tap] * input for all channels at once.
        wt = w.reshape(group, og, kh, kw)
        tmp = np.empty((n, group, og, h, wd), dtype=np.float32)
        for i in range(kh):
            rs = _tap(i * dh, h, sh)
            for j in range(kw):
                np.multiply(x[:, :, None], wt[None, :, :, i, j, None, None], out=tmp)
                full[:, :, :, rs, _tap(j * dw, wd, sw)] += tmp
    else:
        # GEMM per group over all samples: cols (g, og*kh*kw, N*H*W), then col2im per tap.
        xt = x.reshape(n, group, cg, h * wd).transpose(1, 2, 0, 3).reshape(group, cg, n * h * wd)
        wt = w.reshape(group, cg, og * kh * kw).transpose(0, 2, 1)
        cols = np.matmul(wt, xt).reshape(group, og, kh, kw, n, h, wd)
        for i in range(kh):
            rs = _tap(i * dh, h, sh)
            for j in range(kw):
                full[:, :, :, rs, _tap(j * dw, wd, sw)] += cols[:, :, i, j].transpose(2, 0, 1, 3, 4)
    oh, ow = hf - 2 * ph, wf - 2 * pw
    out = np.ascontiguousarray(full.reshape(n, o, hf, wf)[:, :, ph : ph + oh, pw : pw + ow])
    if bias is not None:
        out += bias.reshape(1, o, 1, 1)
    return out


def conv_param_kwargs(lp: Any) -> dict[str, Any]:
    """Constructor arguments of Convolution/Deconvolution from ``lp.convolution_param``.

    Raises:
        UnsupportedParameterError: ``axis != 1``, missing ``num_output`` or kernel size,
            non-2-D specification, or inconsistent values (naming the layer).
    """
    cp = lp.convolution_param
    probe = Layer(name=lp.name)
    if cp.axis != 1:
        raise probe.unsupported(f"convolution_param.axis {cp.axis} (only 1 is supported)")
    if not cp.HasField("num_output"):
        raise probe.unsupported("convolution_param.num_output is required")
    kernel, stride, pad, dilation = conv_geometry(probe, cp)
    return {
        "name": lp.name,
        "num_output": int(cp.num_output),
        "kernel": kernel,
        "stride": stride,
        "pad": pad,
        "dilation": dilation,
        "group": int(cp.group),
        "bias_term": bool(cp.bias_term),
    }
