"""Bit-exactness of every layer's integer reference (``forward_int``, docs/arithmetic.md).

Each layer is compared, with ``np.array_equal``, against a reference written here with Python
integers (arbitrary precision, explicit loops over small shapes), ``fractions.Fraction`` and
an independent implementation of the multiplier derivation. Nothing here calls
``edge_dnn.quant.arith``: the references follow the contract's text.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_dnn.layers.concat import Concat
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.crop import Crop
from edge_dnn.layers.deconvolution import Deconvolution
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.flatten import Flatten
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.permute import Permute
from edge_dnn.layers.pooling import Pooling
from edge_dnn.layers.prelu import PReLU
from edge_dnn.layers.relu import ReLU
from edge_dnn.layers.reshape import Reshape
from edge_dnn.layers.scale import Scale
from edge_dnn.layers.sigmoid import Sigmoid
from edge_dnn.layers.slice import Slice
from edge_dnn.layers.softmax import Softmax
from edge_dnn.layers.split import Split
from edge_dnn.layers.tanh import TanH
from edge_dnn.quant.qgraph import NodeQuant, TensorQuant

pytestmark = pytest.mark.golden

RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
NP = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16}


# ---------------------------------------------------------------------------- references
def rha(v: Fraction) -> int:
    """Round half away from zero, exactly."""
    m = math.floor(abs(v) + Fraction(1, 2))
    return m if v >= 0 else -m


def ref_requant(acc: int, m: int, s: int, qmin: int, qmax: int) -> int:
    """clamp(floor((acc * M + 2**(S-1)) / 2**S)) with Python ints (>> floors)."""
    return min(max((acc * m + (1 << (s - 1))) >> s, qmin), qmax)


def ref_rescale(x: np.ndarray, ms: tuple[int, int], qmin: int, qmax: int) -> np.ndarray:
    """Element-wise requantize step (acc = x) with Python ints."""
    vals = [ref_requant(int(v), ms[0], ms[1], qmin, qmax) for v in x.ravel().tolist()]
    return np.array(vals, dtype=np.int64).reshape(x.shape)


def ref_multiplier(real: float) -> tuple[int, int]:
    """Section 4.1, written independently: (M, S) with M / 2**S ~ real."""
    mag = abs(real)
    if mag == 0.0:
        return 0, 1
    f, e = math.frexp(mag)
    s = 16 - e
    m = rha(Fraction(f) * 2**16)
    if m == 2**16:
        m, s = 2**15, s - 1
    if s > 63:
        s, m = 63, rha(Fraction(mag) * 2**63)
    return (-m if real < 0 else m), s


def f32(v: float) -> float:
    return float(np.float32(v))


def tq(scale: float, dtype: str, nonneg: bool = False) -> TensorQuant:
    lo, hi = RANGES[dtype]
    return TensorQuant(f32(scale), dtype, 0 if nonneg else lo, hi)


def node(
    name: str, ins: Sequence[TensorQuant], outs: Sequence[TensorQuant], **kw: Any
) -> NodeQuant:
    return NodeQuant(name, "test", "int8", "engine", list(ins), list(outs), **kw)


def rand_q(rng: np.random.Generator, shape: Sequence[int], dtype: str) -> np.ndarray:
    lo, hi = RANGES[dtype]
    return rng.integers(lo, hi + 1, size=tuple(shape)).astype(NP[dtype])


def out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - (d * (k - 1) + 1)) // s + 1


# ---------------------------------------------------------------------------- convolution
CONV_CASES = [
    # (C, O, H, W, kernel, stride, pad, dilation, group, relu, in_dtype, mode)
    (3, 5, 6, 7, (3, 3), (1, 1), (1, 1), (1, 1), 1, False, "int8", "int8"),
    (4, 6, 7, 6, (3, 2), (2, 1), (1, 0), (1, 1), 2, True, "uint8", "int8"),
    (4, 4, 8, 8, (3, 3), (1, 2), (2, 2), (2, 2), 4, True, "uint8", "int8"),  # depthwise, dilated
    (3, 6, 5, 5, (3, 3), (1, 1), (1, 1), (1, 1), 3, False, "int8", "int8"),  # multiplier 2
    (4, 3, 5, 4, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, "uint8", "int8"),  # pointwise
    (2, 3, 6, 6, (3, 3), (2, 2), (1, 1), (2, 1), 1, False, "int16", "int16"),
    (4, 4, 6, 6, (3, 3), (1, 1), (1, 1), (1, 1), 4, True, "int16", "int16"),
]


def ref_conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    M: np.ndarray,
    S: np.ndarray,
    stride: tuple[int, int],
    pad: tuple[int, int],
    dil: tuple[int, int],
    group: int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // group
    oh = out_size(h, kh, stride[0], pad[0], dil[0])
    ow = out_size(wd, kw, stride[1], pad[1], dil[1])
    y = np.zeros((n, o, oh, ow), dtype=np.int64)
    xs, ws = x.tolist(), w.tolist()
    for ni, oc, i, j in itertools.product(range(n), range(o), range(oh), range(ow)):
        g = oc // og
        acc = int(b[oc])
        for ci, a, bb in itertools.product(range(cg), range(kh), range(kw)):
            r = i * stride[0] - pad[0] + a * dil[0]
            s = j * stride[1] - pad[1] + bb * dil[1]
            if 0 <= r < h and 0 <= s < wd:
                acc += xs[ni][g * cg + ci][r][s] * ws[oc][ci][a][bb]
        y[ni, oc, i, j] = ref_requant(acc, int(M[oc]), int(S[oc]), qmin, qmax)
    return y


def mac_params(
    rng: np.random.Generator, o: int, k: int, mode: str, in_dtype: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random weights of shape (o, k), bias, M, S giving outputs that are mostly unsaturated."""
    wmax = 127 if mode == "int8" else 32767
    w = rng.integers(-wmax, wmax + 1, size=(o, k))
    xmax = RANGES[in_dtype][1]
    typical = math.sqrt(k) * wmax * xmax / 2
    b = rng.integers(-int(typical), int(typical) + 1, size=o)
    M = rng.integers(1 << 15, 1 << 16, size=o)
    # Shift so that a typical accumulator lands around +-60 output LSBs.
    s0 = max(1, round(math.log2(typical * 2**15.5 / 60)))
    S = rng.integers(s0 - 1, s0 + 2, size=o)
    return w, b, M, S


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"g{c[8]}k{c[4]}s{c[5]}d{c[7]}{c[10]}")
def test_convolution_bit_exact(case: tuple[Any, ...]) -> None:
    c, o, h, wd, kernel, stride, pad, dil, group, relu, in_dtype, mode = case
    rng = np.random.default_rng(1000 + CONV_CASES.index(case))
    layer = Convolution(
        "conv",
        num_output=o,
        kernel=kernel,
        stride=stride,
        pad=pad,
        dilation=dil,
        group=group,
        relu=relu,
    )
    x = rand_q(rng, (2, c, h, wd), in_dtype)
    cg = c // group
    w2, b, M, S = mac_params(rng, o, cg * kernel[0] * kernel[1], mode, in_dtype)
    w = w2.reshape(o, cg, *kernel).astype(np.int8 if mode == "int8" else np.int16)
    out_dtype = "int16" if mode == "int16" else ("uint8" if relu else "int8")
    out = tq(0.05, out_dtype, nonneg=relu)
    q = node("conv", [tq(0.02, in_dtype)], [out], weights=w, bias=b, M=M, S=S)
    (y,) = layer.forward_int([x], q)
    ref = ref_conv(x, w, b, M, S, stride, pad, dil, group, out.qmin, out.qmax)
    assert y.dtype == NP[out_dtype]
    assert np.array_equal(y.astype(np.int64), ref)
    assert len(np.unique(ref)) > 10  # the test exercises real values, not only saturation


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3),  # groups
    st.integers(1, 2),  # input channels per group
    st.integers(1, 2),  # output channels per group
    st.tuples(st.integers(1, 3), st.integers(1, 3)),  # kernel
    st.tuples(st.integers(1, 3), st.integers(1, 3)),  # stride
    st.tuples(st.integers(0, 2), st.integers(0, 2)),  # pad
    st.tuples(st.integers(1, 2), st.integers(1, 2)),  # dilation
    st.sampled_from(["int8", "uint8", "int16"]),
    st.booleans(),  # fused ReLU
    st.integers(0, 2**32 - 1),
)
def test_convolution_random_geometry(
    group: int,
    cg: int,
    og: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad: tuple[int, int],
    dil: tuple[int, int],
    in_dtype: str,
    relu: bool,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    c, o = cg * group, og * group
    h = dil[0] * (kernel[0] - 1) + 1 + int(rng.integers(0, 4))
    wd = dil[1] * (kernel[1] - 1) + 1 + int(rng.integers(0, 4))
    mode = "int16" if in_dtype == "int16" else "int8"
    layer = Convolution(
        "conv",
        num_output=o,
        kernel=kernel,
        stride=stride,
        pad=pad,
        dilation=dil,
        group=group,
        relu=relu,
    )
    x = rand_q(rng, (2, c, h, wd), in_dtype)
    w2, b, M, S = mac_params(rng, o, cg * kernel[0] * kernel[1], mode, in_dtype)
    w = w2.reshape(o, cg, *kernel).astype(np.int8 if mode == "int8" else np.int16)
    out = tq(0.05, "int16" if mode == "int16" else ("uint8" if relu else "int8"), nonneg=relu)
    q = node("conv", [tq(0.02, in_dtype)], [out], weights=w, bias=b, M=M, S=S)
    (y,) = layer.forward_int([x], q)
    ref = ref_conv(x, w, b, M, S, stride, pad, dil, group, out.qmin, out.qmax)
    assert np.array_equal(y.astype(np.int64), ref)


def test_convolution_fused_relu_enforced_by_layer() -> None:
    """A fused ReLU clamps at 0 even if the output tensor's range were signed."""
    rng = np.random.default_rng(7)
    layer = Convolution("c", num_output=3, kernel=(3, 3), pad=(1, 1), relu=True)
    x = rand_q(rng, (1, 2, 5, 5), "int8")
    w2, b, M, S = mac_params(rng, 3, 18, "int8", "int8")
    w = w2.reshape(3, 2, 3, 3).astype(np.int8)
    out = tq(0.1, "int8")
    q = node("c", [tq(0.02, "int8")], [out], weights=w, bias=b, M=M, S=S)
    (y,) = layer.forward_int([x], q)
    ref = ref_conv(x, w, b, M, S, (1, 1), (1, 1), (1, 1), 1, 0, 127)
    assert np.array_equal(y.astype(np.int64), ref)


def test_convolution_worked_example() -> None:
    """docs/arithmetic.md section 10: acc 6763 -> 9, -6763 -> -9, -3000 -> -4, 200000 -> 127."""
    layer = Convolution("c", num_output=1, kernel=(1, 1), bias_term=False)
    # One 1x1 tap with weight 1 and the example's (M, S) = (46976, 25): y = requantize(x).
    xs = np.array([6763, -6763, -3000, 32767], dtype=np.int16).reshape(1, 1, 1, 4)
    q = node(
        "c",
        [tq(1.0, "int16")],
        [tq(0.05, "int8")],
        weights=np.ones((1, 1, 1, 1), np.int16),
        M=np.array([46976]),
        S=np.array([25]),
    )
    (y,) = layer.forward_int([xs], q)
    assert y.ravel().tolist() == [9, -9, -4, 46]
    assert ref_multiplier((f32(0.02) * f32(0.0035)) / f32(0.05)) == (46976, 25)


# ---------------------------------------------------------------------------- inner product
@pytest.mark.parametrize(
    "transpose,in_dtype,mode,relu",
    [
        (False, "int8", "int8", False),
        (True, "uint8", "int8", True),
        (False, "int16", "int16", True),
    ],
)
def test_inner_product_bit_exact(transpose: bool, in_dtype: str, mode: str, relu: bool) -> None:
    rng = np.random.default_rng(11)
    layer = InnerProduct("ip", num_output=7, transpose=transpose, relu=relu)
    x = rand_q(rng, (3, 2, 3, 4), in_dtype)
    k = 24
    w2, b, M, S = mac_params(rng, 7, k, mode, in_dtype)
    wdt = np.int8 if mode == "int8" else np.int16
    w = (w2.T if transpose else w2).astype(wdt)
    out_dtype = "int16" if mode == "int16" else ("uint8" if relu else "int8")
    out = tq(0.1, out_dtype, nonneg=relu)
    q = node("ip", [tq(0.02, in_dtype)], [out], weights=np.ascontiguousarray(w), bias=b, M=M, S=S)
    (y,) = layer.forward_int([x], q)
    xs = x.reshape(3, k).tolist()
    ref = [
        [
            ref_requant(
                int(b[o]) + sum(xs[n][i] * int(w2[o, i]) for i in range(k)),
                int(M[o]),
                int(S[o]),
                out.qmin,
                out.qmax,
            )
            for o in range(7)
        ]
        for n in range(3)
    ]
    assert y.shape == (3, 7) and y.dtype == NP[out_dtype]
    assert np.array_equal(y.astype(np.int64), np.array(ref))


# ---------------------------------------------------------------------------- deconvolution
def test_deconvolution_bit_exact() -> None:
    rng = np.random.default_rng(12)
    c, o, group, kernel, stride, pad = 4, 6, 2, (3, 3), (2, 2), (1, 1)
    layer = Deconvolution("de", num_output=o, kernel=kernel, stride=stride, pad=pad, group=group)
    x = rand_q(rng, (2, c, 4, 3), "int8")
    og, cg = o // group, c // group
    w = rng.integers(-127, 128, size=(c, og, *kernel)).astype(np.int8)
    b = rng.integers(-5000, 5000, size=o)
    M = rng.integers(1 << 15, 1 << 16, size=o)
    S = rng.integers(22, 24, size=o)
    out = tq(0.1, "int8")
    q = node("de", [tq(0.02, "int8")], [out], weights=w, bias=b, M=M, S=S)
    (y,) = layer.forward_int([x], q)
    n, _, h, wd = x.shape
    hf, wf = stride[0] * (h - 1) + kernel[0], stride[1] * (wd - 1) + kernel[1]
    full = [[[[0] * wf for _ in range(hf)] for _ in range(o)] for _ in range(n)]
    for ni, ci, i, j in itertools.product(range(n), range(c), range(h), range(wd)):
        g = ci // cg
        for jo, a, bb in itertools.product(range(og), range(kernel[0]), range(kernel[1])):
            full[ni][g * og + jo][i * stride[0] + a][j * stride[1] + bb] += int(
                x[ni, ci, i, j]
            ) * int(w[ci, jo, a, bb])
    oh, ow = hf - 2 * pad[0], wf - 2 * pad[1]
    ref = np.array(
        [
            [
                [
                    [
                        ref_requant(
                            full[ni][oc][r + pad[0]][s + pad[1]] + int(b[oc]),
                            int(M[oc]),
                            int(S[oc]),
                            -128,
                            127,
                        )
                        for s in range(ow)
                    ]
                    for r in range(oh)
                ]
                for oc in range(o)
            ]
            for ni in range(n)
        ]
    )
    assert np.array_equal(y.astype(np.int64), ref)


# ---------------------------------------------------------------------------- pooling
def caffe_pool_out(n: int, k: int, s: int, p: int) -> int:
    out = -(-(n + 2 * p - k) // s) + 1
    if p > 0 and (out - 1) * s >= n + p:
        out -= 1
    return out


POOL_CASES = [
    # (H, W, kernel, stride, pad, dtype)
    (6, 6, (3, 3), (2, 2), (0, 0), "int8"),  # ceil-mode border windows: areas 9, 6, 4
    (7, 7, (3, 3), (2, 2), (1, 1), "uint8"),  # padding counts in the divisor
    (5, 8, (2, 3), (2, 3), (1, 1), "int16"),
    (7, 5, (3, 2), (1, 2), (0, 1), "uint8"),
]


def ref_pool(x: np.ndarray, kernel: Any, stride: Any, pad: Any, is_max: bool) -> tuple[Any, Any]:
    n, c, h, w = x.shape
    oh = caffe_pool_out(h, kernel[0], stride[0], pad[0])
    ow = caffe_pool_out(w, kernel[1], stride[1], pad[1])
    vals = np.zeros((n, c, oh, ow), dtype=object)
    areas = np.zeros((oh, ow), dtype=object)
    for i, j in itertools.product(range(oh), range(ow)):
        hs, ws = i * stride[0] - pad[0], j * stride[1] - pad[1]
        he, we = min(hs + kernel[0], h + pad[0]), min(ws + kernel[1], w + pad[1])
        areas[i, j] = (he - hs) * (we - ws)
        rows = range(max(hs, 0), min(he, h))
        cols = range(max(ws, 0), min(we, w))
        for ni, ci in itertools.product(range(n), range(c)):
            win = [int(x[ni, ci, r, s]) for r in rows for s in cols]
            vals[ni, ci, i, j] = max(win) if is_max else sum(win)
    return vals, areas


@pytest.mark.parametrize("case", POOL_CASES)
def test_ave_pooling_bit_exact(case: tuple[Any, ...]) -> None:
    h, w, kernel, stride, pad, dtype = case
    rng = np.random.default_rng(20 + POOL_CASES.index(case))
    layer = Pooling("p", method="AVE", kernel=kernel, stride=stride, pad=pad)
    x = rand_q(rng, (2, 3, h, w), dtype)
    tin, out = tq(0.05, dtype), tq(0.04, dtype)
    (y,) = layer.forward_int([x], node("p", [tin], [out]))
    sums, areas = ref_pool(x, kernel, stride, pad, False)
    ratio = tin.scale / out.scale  # float64 division of the float32 values, as the contract
    ref = np.vectorize(
        lambda sm, a: ref_requant(int(sm), *ref_multiplier(ratio / a), out.qmin, out.qmax)
    )(sums, areas[None, None])
    assert y.dtype == NP[dtype]
    assert np.array_equal(y.astype(np.int64), ref.astype(np.int64))


def test_ave_pooling_worked_example_multipliers() -> None:
    """Section 10: 6x6, k3 s2 -> areas [[9,9,6],[9,9,6],[6,6,4]] and their (M, S)."""
    _, areas = ref_pool(np.zeros((1, 1, 6, 6), np.int8), (3, 3), (2, 2), (0, 0), False)
    assert areas.tolist() == [[9, 9, 6], [9, 9, 6], [6, 6, 4]]
    ratio = f32(0.05) / f32(0.04)
    assert ref_multiplier(ratio / 4) == (40960, 17)
    assert ref_multiplier(ratio / 6) == (54613, 18)
    assert ref_multiplier(ratio / 9) == (36409, 18)


def test_global_ave_pooling_bit_exact() -> None:
    rng = np.random.default_rng(30)
    layer = Pooling("gp", method="AVE", global_pooling=True)
    x = rand_q(rng, (2, 5, 7, 7), "uint8")
    tin, out = tq(0.05, "uint8"), tq(0.05, "uint8")
    (y,) = layer.forward_int([x], node("gp", [tin], [out]))
    m, s = ref_multiplier((tin.scale / out.scale) / 49)
    assert (m, s) == (42799, 21)
    ref = [
        [ref_requant(int(x[n, c].astype(np.int64).sum()), m, s, 0, 255) for c in range(5)]
        for n in range(2)
    ]
    assert np.array_equal(y.reshape(2, 5).astype(np.int64), np.array(ref))


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pooling_bit_exact(case: tuple[Any, ...]) -> None:
    h, w, kernel, stride, pad, dtype = case
    rng = np.random.default_rng(40 + POOL_CASES.index(case))
    layer = Pooling("p", method="MAX", kernel=kernel, stride=stride, pad=pad)
    x = rand_q(rng, (2, 3, h, w), dtype)
    t = tq(0.05, dtype)
    (y,) = layer.forward_int([x], node("p", [t], [t]))
    ref, _ = ref_pool(x, kernel, stride, pad, True)
    assert y.dtype == x.dtype
    assert np.array_equal(y.astype(np.int64), ref.astype(np.int64))


# ---------------------------------------------------------------------------- eltwise
def ref_eltwise_sum(
    xs: Sequence[np.ndarray],
    scales: Sequence[float],
    coeffs: Sequence[float],
    s_out: float,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    reals = [(f32(k) * s) / s_out for k, s in zip(coeffs, scales)]
    _, S = ref_multiplier(max(abs(r) for r in reals))
    Ms = [rha(Fraction(r) * 2**S) for r in reals]
    flat = [x.astype(np.int64).ravel().tolist() for x in xs]
    out = [
        ref_requant(sum(m * v[i] for m, v in zip(Ms, flat)), 1, S, qmin, qmax)
        for i in range(len(flat[0]))
    ]
    return np.array(out).reshape(xs[0].shape)


@pytest.mark.parametrize("relu", [False, True])
def test_eltwise_sum_different_scales_with_coefficients(relu: bool) -> None:
    rng = np.random.default_rng(50 + relu)
    coeffs = (1.0, -0.5, 0.3)
    layer = Eltwise("e", operation="SUM", coeff=coeffs, relu=relu)
    ins = [tq(0.05, "int8"), tq(0.2, "uint8"), tq(0.013, "int16")]
    out = tq(0.1, "uint8" if relu else "int8", nonneg=relu)
    xs = [rand_q(rng, (2, 3, 4, 5), t.dtype) for t in ins]
    reals = [(f32(k) * t.scale) / out.scale for k, t in zip(coeffs, ins)]
    _, S = ref_multiplier(max(abs(r) for r in reals))
    Ms = [rha(Fraction(r) * 2**S) for r in reals]
    q = node("e", ins, [out], tables={"eltwise": {"M": Ms, "S": S}})
    (y,) = layer.forward_int(xs, q)
    ref = ref_eltwise_sum(xs, [t.scale for t in ins], coeffs, out.scale, out.qmin, out.qmax)
    assert np.array_equal(y.astype(np.int64), ref)


def test_eltwise_sum_worked_example() -> None:
    """Section 10: s_a 0.05, s_b 0.2, s_out 0.1 -> M 8192 / 32768, S 14; (37, -11) -> -3."""
    a, b = np.array([[37]], np.int8), np.array([[-11]], np.int8)
    ref = ref_eltwise_sum([a, b], [f32(0.05), f32(0.2)], [1.0, 1.0], f32(0.1), -128, 127)
    assert ref.ravel().tolist() == [-3]
    layer = Eltwise("e", operation="SUM")
    q = node(
        "e",
        [tq(0.05, "int8"), tq(0.2, "int8")],
        [tq(0.1, "int8")],
        tables={"eltwise": {"M": [8192, 32768], "S": 14}},
    )
    assert layer.forward_int([a, b], q)[0].ravel().tolist() == [-3]


def test_eltwise_max_unifies_scales() -> None:
    rng = np.random.default_rng(60)
    layer = Eltwise("m", operation="MAX")
    out = tq(0.1, "int8")
    ins = [out, tq(0.07, "int8"), tq(0.3, "uint8")]
    xs = [rand_q(rng, (2, 4, 3, 3), t.dtype) for t in ins]
    ms = [ref_multiplier(t.scale / out.scale) for t in ins[1:]]
    (y,) = layer.forward_int(xs, node("m", ins, [out], tables={"rescale": [None, *ms]}))
    conv = [xs[0].astype(np.int64)] + [ref_rescale(x, m, -128, 127) for x, m in zip(xs[1:], ms)]
    assert np.array_equal(y.astype(np.int64), np.maximum.reduce(conv))


def test_eltwise_prod_folds_left() -> None:
    rng = np.random.default_rng(61)
    layer = Eltwise("p", operation="PROD")
    ins = [tq(0.05, "int8"), tq(0.03, "uint8"), tq(0.02, "int8")]
    out = tq(0.004, "int8")
    xs = [rand_q(rng, (2, 3, 4), t.dtype) for t in ins]
    steps = [
        ref_multiplier(ins[0].scale * ins[1].scale / out.scale),
        ref_multiplier(out.scale * ins[2].scale / out.scale),
    ]
    (y,) = layer.forward_int(xs, node("p", ins, [out], tables={"prod": steps}))
    a, b, c = (x.astype(np.int64).ravel().tolist() for x in xs)
    ref = []
    for i in range(len(a)):
        p = ref_requant(a[i] * b[i], *steps[0], -127, 127)
        ref.append(ref_requant(p * c[i], *steps[1], -128, 127))
    assert np.array_equal(y.astype(np.int64).ravel(), np.array(ref))


# ---------------------------------------------------------------------------- concat
def test_concat_of_different_scales() -> None:
    rng = np.random.default_rng(70)
    layer = Concat("cat", axis=1)
    out = tq(0.1, "int8")
    relu_in = TensorQuant(out.scale, "int8", 0, 127)  # a ReLU producer retargeted: [0, 127]
    ins = [relu_in, tq(0.05, "int8"), tq(0.3, "uint8"), tq(0.1, "int16")]
    xs = [rand_q(rng, (2, c, 3, 3), t.dtype) for c, t in zip((2, 3, 1, 2), ins)]
    xs[0] = np.abs(xs[0].astype(np.int16)).clip(0, 127).astype(np.int8)
    ms = [ref_multiplier(t.scale / out.scale) for t in ins[1:]]
    (y,) = layer.forward_int(xs, node("cat", ins, [out], tables={"rescale": [None, *ms]}))
    parts = [xs[0].astype(np.int64)] + [ref_rescale(x, m, -128, 127) for x, m in zip(xs[1:], ms)]
    assert y.dtype == np.int8 and y.shape == (2, 8, 3, 3)
    assert np.array_equal(y.astype(np.int64), np.concatenate(parts, axis=1))


def test_concat_float_region() -> None:
    layer = Concat("cat", axis=2)
    a = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    b = -np.arange(4, dtype=np.float32).reshape(1, 2, 2)
    f = TensorQuant.float32()
    (y,) = layer.forward_int([a, b], node("cat", [f, f], [f]))
    assert y.dtype == np.float32 and np.array_equal(y, np.concatenate([a, b], axis=2))


# ---------------------------------------------------------------------------- activations
def test_relu_standalone_and_leaky() -> None:
    rng = np.random.default_rng(80)
    x = rand_q(rng, (2, 3, 4, 4), "int8")
    t = tq(0.05, "int8")
    (y,) = ReLU("r").forward_int([x], node("r", [t], [TensorQuant(t.scale, "int8", 0, 127)]))
    assert y.dtype == np.int8 and np.array_equal(y, np.maximum(x, 0))
    out = tq(0.04, "int8")
    ratio = t.scale / out.scale
    mp, sp = ref_multiplier(ratio)
    mn, sn = ref_multiplier(f32(0.1) * ratio)
    q = node("r", [t], [out], tables={"prelu": (mp, sp, mn, sn)})
    (y,) = ReLU("r", negative_slope=0.1).forward_int([x], q)
    ref = np.vectorize(
        lambda v: (
            ref_requant(int(v), mp, sp, -128, 127)
            if v >= 0
            else ref_requant(int(v), mn, sn, -128, 127)
        )
    )(x)
    assert np.array_equal(y.astype(np.int64), ref)


def test_prelu_per_channel() -> None:
    rng = np.random.default_rng(81)
    x = rand_q(rng, (2, 3, 4), "int16")
    slopes = [0.25, -0.1, 0.0]
    tin, out = tq(0.001, "int16"), tq(0.0012, "int16")
    ratio = tin.scale / out.scale
    mp, sp = ref_multiplier(ratio)
    mns = [ref_multiplier(f32(a) * ratio) for a in slopes]
    q = node(
        "p",
        [tin],
        [out],
        tables={"prelu": (mp, sp, np.array([m for m, _ in mns]), np.array([s for _, s in mns]))},
    )
    (y,) = PReLU("p").forward_int([x], q)
    ref = np.zeros(x.shape, dtype=np.int64)
    for n, c, i in itertools.product(range(2), range(3), range(4)):
        v = int(x[n, c, i])
        m, s = (mp, sp) if v >= 0 else mns[c]
        ref[n, c, i] = ref_requant(v, m, s, -32768, 32767)
    assert np.array_equal(y.astype(np.int64), ref)


@pytest.mark.parametrize(
    "layer,fn,in_dtype,out_dtype",
    [
        (Sigmoid("s"), lambda v: 1.0 / (1.0 + math.exp(-v)), "int8", "uint8"),
        (TanH("t"), math.tanh, "uint8", "int8"),
    ],
)
def test_lut_layers(
    layer: Any, fn: Callable[[float], float], in_dtype: str, out_dtype: str
) -> None:
    from edge_dnn.quant.arith import build_lut  # the table is compile-time data

    tin, out = tq(0.04, in_dtype), tq(1 / 255 if out_dtype == "uint8" else 1 / 127, out_dtype)
    lut = build_lut(layer.lut_function(), in_dtype, tin.scale, out_dtype, out.scale)
    lo, hi = RANGES[in_dtype]
    olo, ohi = RANGES[out_dtype]
    # Independent table: fn in float64, one float64 division by the scale, exact rounding.
    # (fn via math may differ from numpy's in the last ulp; such a value would have to sit on
    # a rounding tie of the table, which the assertion would reveal.)
    ref = [
        min(max(rha(Fraction(fn(q * tin.scale) / out.scale)), olo), ohi) for q in range(lo, hi + 1)
    ]
    assert lut.tolist() == ref
    rng = np.random.default_rng(90)
    x = rand_q(rng, (2, 3, 5), in_dtype)
    (y,) = layer.forward_int([x], node("l", [tin], [out], tables={"lut": lut}))
    assert y.dtype == NP[out_dtype]
    assert np.array_equal(y.astype(np.int64), np.array(ref)[x.astype(np.int64) - lo])


# ---------------------------------------------------------------------------- affine
def test_scale_as_depthwise_affine() -> None:
    rng = np.random.default_rng(95)
    layer = Scale("sc", axis=1, num_axes=1, bias_term=True)
    x = rand_q(rng, (2, 4, 3, 3), "uint8")
    w = np.array([127, -127, 90, 0], dtype=np.int8)
    b = np.array([1000, -2000, 0, 55], dtype=np.int64)
    M = np.array([40000, 50000, 33000, 60000])
    S = np.array([16, 17, 15, 16])
    q = node("sc", [tq(0.05, "uint8")], [tq(0.1, "int8")], weights=w, bias=b, M=M, S=S)
    (y,) = layer.forward_int([x], q)
    ref = np.zeros(x.shape, dtype=np.int64)
    for idx in itertools.product(range(2), range(4), range(3), range(3)):
        c = idx[1]
        ref[idx] = ref_requant(int(x[idx]) * int(w[c]) + int(b[c]), int(M[c]), int(S[c]), -128, 127)
    assert np.array_equal(y.astype(np.int64), ref)


# ---------------------------------------------------------------------------- float path
def test_float_path_dequantize_forward_quantize() -> None:
    rng = np.random.default_rng(99)
    x = rand_q(rng, (2, 5), "int8")
    tin, out = tq(0.1, "int8"), tq(1 / 255, "uint8", nonneg=True)
    (y,) = Softmax("sm").forward_int([x], node("sm", [tin], [out]))
    xf = (x.astype(np.float32) * np.float32(tin.scale)).astype(np.float32)
    p = Softmax("sm").forward([xf], [])[0]
    ref = [min(max(rha(Fraction(float(v)) / Fraction(out.scale)), 0), 255) for v in p.ravel()]
    assert y.dtype == np.uint8 and y.ravel().tolist() == ref


# ---------------------------------------------------------------------------- data movement
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_data_movement_is_exact(dtype: str) -> None:
    rng = np.random.default_rng(100)
    x = rand_q(rng, (2, 6, 3, 4), dtype)
    t = tq(0.05, dtype)

    def run(layer: Any, ins: list[np.ndarray], n_out: int = 1) -> list[np.ndarray]:
        return list(layer.forward_int(ins, node(layer.name, [t] * len(ins), [t] * n_out)))

    assert np.array_equal(run(Flatten("f"), [x])[0], x.reshape(2, -1))
    assert np.array_equal(run(Reshape("r", shape=(0, -1, 4)), [x])[0], x.reshape(2, 18, 4))
    assert np.array_equal(run(Permute("p", order=(0, 2, 3, 1)), [x])[0], x.transpose(0, 2, 3, 1))
    a, b = run(Slice("s", axis=1, slice_points=(2,), num_tops=2), [x], 2)
    assert np.array_equal(a, x[:, :2]) and np.array_equal(b, x[:, 2:])
    s1, s2 = run(Split("sp", num_tops=2), [x], 2)
    assert np.array_equal(s1, x) and np.array_equal(s2, x)
    ref_shape = np.zeros((2, 6, 2, 2), dtype=x.dtype)
    (cr,) = run(Crop("c", axis=2, offset=(1,)), [x, ref_shape])
    assert np.array_equal(cr, x[:, :, 1:3, 1:3])
    for out in (run(Flatten("f"), [x])[0], a, cr):
        assert out.dtype == x.dtype
