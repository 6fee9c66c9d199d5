"""Parameter parsing and fast float32 kernels shared by Convolution, Deconvolution and Pooling.

The kernels are numpy only and work on NCHW float32 arrays. Their Python loops run over kernel
taps, groups of samples or row chunks, never over pixels or channels; the arithmetic is done by
BLAS (``np.matmul``) or by whole-array numpy operations over strided views.
"""

from __future__ import annotations

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
def _padded(x: Array, ph: int, pw: int) -> Array:
    """``x`` (N, C, H, W) zero-padded by ``ph`` rows and ``pw`` columns on both sides."""
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=np.float32)
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
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = conv_out_size(h, kh, stride[0], pad[0], dilation[0])
    ow = conv_out_size(wd, kw, stride[1], pad[1], dilation[1])
    if cg == 1 and group > 1:
        out = _conv_per_tap(x, w, stride, pad, dilation, group, oh, ow)
    elif kh == 1 and kw == 1 and pad == (0, 0):
        out = _conv_pointwise(x, w, stride, group, oh, ow)
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
    if per_sample <= _COLS_BUDGET or n > 1 and per_sample * 2 <= _COLS_BUDGET:
        # Whole samples per block: the GEMM sees (samples x OH x OW) columns.
        nb = max(1, min(n, _COLS_BUDGET // max(per_sample, 1)))
        buf = np.empty(per_sample * nb, dtype=np.float32)
        for n0 in range(0, n, nb):
            b = min(nb, n - n0)
            cols = buf[: per_sample * b].reshape(c, kh, kw, b, oh, ow)
            for i in range(kh):
                rs = _tap(i * dh, oh, sh)
                for j in range(kw):
                    src = xp[n0 : n0 + b, :, rs, _tap(j * dw, ow, sw)]
                    cols[:, i, j] = src.transpose(1, 0, 2, 3)
            res = np.matmul(wg, cols.reshape(group, kg, b * plane))
            if b == 1:
                out[n0] = res.reshape(o, oh, ow)
            else:
                out[n0 : n0 + b] = res.reshape(o, b, oh, ow).transpose(1, 0, 2, 3)
        return out
    # Large planes: blocks of output rows of one sample.
    rows = max(1, min(oh, _COLS_BUDGET // (c * kh * kw * ow)))
    buf = np.empty(c * kh * kw * rows * ow, dtype=np.float32)
    for s in range(n):
        flat = out[s].reshape(group, og, plane)
        for r0 in range(0, oh, rows):
            r = min(rows, oh - r0)
            cols = buf[: c * kh * kw * r * ow].reshape(c, kh, kw, r, ow)
            for i in range(kh):
                rs = _tap(r0 * sh + i * dh, r, sh)
                for j in range(kw):
                    cols[:, i, j] = xp[s, :, rs, _tap(j * dw, ow, sw)]
            flat[:, :, r0 * ow : (r0 + r) * ow] = np.matmul(wg, cols.reshape(group, kg, r * ow))
    return out


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
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    mult = o // group
    sh, sw = stride
    dh, dw = dilation
    xp = _padded(x, pad[0], pad[1])
    out = np.empty((n, group, mult, oh, ow), dtype=np.float32)
    wt = w.reshape(group, mult, kh, kw)
    cb = max(1, min(group, _TAP_BUDGET // max(n * mult * oh * ow, 1)))
    tmp = np.empty((n, cb, mult, oh, ow), dtype=np.float32)
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
