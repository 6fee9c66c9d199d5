"""Convolution, Deconvolution, InnerProduct and Pooling float references.

Every forward is checked against OpenCV's Caffe importer on a one-layer net (prototxt + a
caffemodel written with the project's writer) and/or a naive loop implementation written here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from google.protobuf import text_format

from edge_dnn.caffe import caffe_pb2
from edge_dnn.caffe.caffemodel import write_caffemodel
from edge_dnn.errors import ShapeError, UnsupportedParameterError, WeightsMismatchError
from edge_dnn.layers import _conv_util
from edge_dnn.layers.base import Layer
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.deconvolution import Deconvolution
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.pooling import Pooling

F32 = np.float32


# ------------------------------------------------------------------------------------ helpers
def lp(layer_type: str, body: str, name: str = "L") -> Any:
    """A LayerParameter from the text of its parameter block."""
    return text_format.Parse(
        f'name: "{name}" type: "{layer_type}" bottom: "data" top: "out" {body}',
        caffe_pb2.LayerParameter(),
    )


def opencv_forward(
    tmp_path: Path, layer_type: str, body: str, x: np.ndarray, blobs: Sequence[np.ndarray]
) -> np.ndarray:
    """Run one layer through cv2.dnn.readNetFromCaffe."""
    dims = " ".join(f"dim: {d}" for d in x.shape)
    proto = (
        f'name: "t"\ninput: "data"\ninput_shape {{ {dims} }}\n'
        f'layer {{ name: "L" type: "{layer_type}" bottom: "data" top: "out" {body} }}\n'
    )
    p = tmp_path / "net.prototxt"
    p.write_text(proto)
    m = tmp_path / "net.caffemodel"
    write_caffemodel([("L", layer_type, [np.asarray(b, F32) for b in blobs])], m)
    net = cv2.dnn.readNetFromCaffe(str(p), str(m))
    net.setInput(x)
    return np.asarray(net.forward(), dtype=F32)


def assert_close(y: np.ndarray, ref: np.ndarray) -> None:
    assert y.dtype == F32
    assert y.shape == ref.shape, (y.shape, ref.shape)
    bar = 1e-4 * max(1.0, float(np.abs(ref).max(initial=0.0)))
    err = float(np.abs(y.astype(np.float64) - ref).max(initial=0.0))
    assert err <= bar, f"max abs error {err} > {bar}"


def rand(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(F32)


# ------------------------------------------------------------------------- naive references
def naive_conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride: tuple[int, int],
    pad: tuple[int, int],
    dil: tuple[int, int],
    group: int,
) -> np.ndarray:
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // group
    oh = (h + 2 * pad[0] - (dil[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wd + 2 * pad[1] - (dil[1] * (kw - 1) + 1)) // stride[1] + 1
    xd = x.astype(np.float64)
    y = np.zeros((n, o, oh, ow))
    for s, oc, i, j in itertools.product(range(n), range(o), range(oh), range(ow)):
        g = oc // og
        acc = 0.0 if b is None else float(b[oc])
        for ci, p, q in itertools.product(range(cg), range(kh), range(kw)):
            r = i * stride[0] - pad[0] + p * dil[0]
            col = j * stride[1] - pad[1] + q * dil[1]
            if 0 <= r < h and 0 <= col < wd:
                acc += xd[s, g * cg + ci, r, col] * float(w[oc, ci, p, q])
        y[s, oc, i, j] = acc
    return y


def naive_deconv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride: tuple[int, int],
    pad: tuple[int, int],
    dil: tuple[int, int],
    group: int,
) -> np.ndarray:
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = c // group
    o = og * group
    oh = stride[0] * (h - 1) + dil[0] * (kh - 1) + 1 - 2 * pad[0]
    ow = stride[1] * (wd - 1) + dil[1] * (kw - 1) + 1 - 2 * pad[1]
    y = np.zeros((n, o, oh, ow))
    for s, ci, i, j in itertools.product(range(n), range(c), range(h), range(wd)):
        g = ci // cg
        for oo, p, q in itertools.product(range(og), range(kh), range(kw)):
            r = i * stride[0] - pad[0] + p * dil[0]
            col = j * stride[1] - pad[1] + q * dil[1]
            if 0 <= r < oh and 0 <= col < ow:
                y[s, g * og + oo, r, col] += float(x[s, ci, i, j]) * float(w[ci, oo, p, q])
    if b is not None:
        y += b.reshape(1, o, 1, 1)
    return y


def naive_pool(
    x: np.ndarray,
    method: str,
    k: tuple[int, int],
    s: tuple[int, int],
    p: tuple[int, int],
    ceil_mode: bool = True,
) -> np.ndarray:
    """Caffe's pooling written out window by window."""
    n, c, h, w = x.shape

    def size(i: int, kk: int, ss: int, pp: int) -> int:
        v = (i + 2 * pp - kk) / ss
        out = int(np.ceil(v) if ceil_mode else np.floor(v)) + 1
        if pp and (out - 1) * ss >= i + pp:
            out -= 1
        return out

    oh, ow = size(h, k[0], s[0], p[0]), size(w, k[1], s[1], p[1])
    y = np.zeros((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        hs, ws = i * s[0] - p[0], j * s[1] - p[1]
        he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
        area = (he - hs) * (we - ws)
        win = x[:, :, max(hs, 0) : min(he, h), max(ws, 0) : min(we, w)].astype(np.float64)
        if method == "MAX":
            y[:, :, i, j] = win.max(axis=(2, 3))
        else:
            y[:, :, i, j] = win.sum(axis=(2, 3)) / area
    return y


# ------------------------------------------------------------------------------ convolution
CONV_CASES = [
    # (id, C, H, W, convolution_param body, N)
    ("3x3_pad1", 3, 7, 6, "num_output: 5 kernel_size: 3 pad: 1", 1),
    ("grouped", 4, 6, 6, "num_output: 6 kernel_size: 3 group: 2 pad: 1", 1),
    ("depthwise", 8, 7, 7, "num_output: 8 kernel_size: 3 group: 8 pad: 1 stride: 2", 1),
    ("depthwise_mult2", 4, 6, 5, "num_output: 8 kernel_size: 3 group: 4", 2),
    ("depthwise_s1", 6, 7, 8, "num_output: 6 kernel_size: 3 group: 6 pad: 1", 2),
    (
        "depthwise_s1_dilated_asym",
        4,
        9,
        8,
        "num_output: 4 kernel_h: 3 kernel_w: 2 group: 4 dilation: 2 pad: 2 bias_term: false",
        1,
    ),
    ("dilated", 3, 9, 8, "num_output: 4 kernel_size: 3 dilation: 2 pad: 2", 1),
    (
        "asymmetric",
        3,
        9,
        11,
        "num_output: 4 kernel_h: 3 kernel_w: 5 pad_h: 1 pad_w: 2 stride_h: 2 stride_w: 1",
        1,
    ),
    (
        "asym_repeated",
        2,
        8,
        9,
        "num_output: 3 kernel_size: 2 kernel_size: 3 stride: 1 stride: 2",
        1,
    ),
    ("no_bias", 3, 6, 6, "num_output: 4 kernel_size: 3 bias_term: false", 1),
    ("1x1", 6, 5, 4, "num_output: 7 kernel_size: 1", 1),
    ("1x1_stride2_grouped", 6, 7, 7, "num_output: 4 kernel_size: 1 stride: 2 group: 2", 2),
    ("batch_stride2", 3, 8, 8, "num_output: 4 kernel_size: 3 stride: 2 pad: 1", 3),
    ("7x7_s2", 3, 16, 16, "num_output: 4 kernel_size: 7 stride: 2 pad: 3", 1),
]


def conv_blobs(
    layer: Convolution | Deconvolution, shape: tuple[int, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    return [rand(rng, *s, scale=0.5) for s in layer.param_shapes([shape])]


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_convolution_matches_opencv_and_naive(case: tuple[Any, ...], tmp_path: Path) -> None:
    cid, c, h, w, body, n = case
    rng = np.random.default_rng(len(cid) * 7 + c)
    layer = Convolution.from_proto(lp("Convolution", f"convolution_param {{ {body} }}"))
    x = rand(rng, n, c, h, w)
    blobs = conv_blobs(layer, x.shape, rng)
    (y,) = layer.forward([x], blobs)
    assert y.shape == layer.output_shapes([x.shape])[0]
    b = blobs[1] if layer.bias_term else None
    ref = naive_conv(x, blobs[0], b, layer.stride, layer.pad, layer.dilation, layer.group)
    assert_close(y, ref)
    cv = opencv_forward(tmp_path, "Convolution", f"convolution_param {{ {body} }}", x, blobs)
    assert_close(y, cv)


@pytest.mark.parametrize("budget", [64, 700, 5000])
def test_convolution_column_blocks(budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small column budgets exercise the row-block and multi-sample-block paths."""
    monkeypatch.setattr(_conv_util, "_COLS_BUDGET", budget)
    monkeypatch.setattr(_conv_util, "_TAP_BUDGET", 50)
    monkeypatch.setattr(_conv_util, "_ROWS_TAP_BUDGET", 50)
    rng = np.random.default_rng(budget)
    for body, c in (
        ("num_output: 4 kernel_size: 3 pad: 1 group: 2", 4),
        ("num_output: 6 kernel_size: 3 pad: 1 stride: 2 group: 3", 3),
        ("num_output: 5 kernel_h: 2 kernel_w: 3 dilation: 2", 2),
        ("num_output: 3 kernel_size: 3 pad: 1 group: 3", 3),
        ("num_output: 6 kernel_size: 3 stride: 2 group: 3", 3),
    ):
        layer = Convolution.from_proto(lp("Convolution", f"convolution_param {{ {body} }}"))
        x = rand(rng, 3, c, 9, 7)
        blobs = conv_blobs(layer, x.shape, rng)
        (y,) = layer.forward([x], blobs)
        ref = naive_conv(
            x, blobs[0], blobs[1], layer.stride, layer.pad, layer.dilation, layer.group
        )
        assert_close(y, ref)


@pytest.mark.parametrize(
    ("n", "c", "h", "w", "o", "body"),
    [
        (1, 4, 9, 7, 3, "kernel_size: 3 pad: 1"),
        (2, 3, 10, 6, 5, "kernel_size: 3"),
        (3, 2, 7, 11, 4, "kernel_h: 3 kernel_w: 5 pad_h: 2 pad_w: 1"),
        (1, 3, 13, 5, 2, "kernel_h: 3 kernel_w: 1 pad_h: 1 pad_w: 0 bias_term: false"),
    ],
)
@pytest.mark.parametrize("budget", [40, 1 << 20])
def test_convolution_winograd_rows_path(
    n: int, c: int, h: int, w: int, o: int, body: str, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Winograd-along-H path, forced on small shapes (partial last tiles, row blocks)."""
    monkeypatch.setattr(_conv_util, "_WINOGRAD_MIN_PLANE", 1)
    monkeypatch.setattr(_conv_util, "_WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(_conv_util, "_WINOGRAD_BUDGET", budget)
    rng = np.random.default_rng(n * 100 + h)
    layer = Convolution.from_proto(
        lp("Convolution", f"convolution_param {{ num_output: {o} {body} }}")
    )
    x = rand(rng, n, c, h, w)
    blobs = conv_blobs(layer, x.shape, rng)
    oh, ow = layer.output_shapes([x.shape])[0][2:]
    assert _conv_util._winograd_rows_pays(
        x.shape, blobs[0].shape, layer.stride, layer.dilation, layer.group, oh, ow
    )
    (y,) = layer.forward([x], blobs)
    b = blobs[1] if layer.bias_term else None
    assert_close(y, naive_conv(x, blobs[0], b, layer.stride, layer.pad, layer.dilation, 1))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (Convolution(name="im2col", num_output=4, kernel=(3, 3), pad=(1, 1)), (1, 3, 8, 8)),
        (Convolution(name="im2col_n", num_output=4, kernel=(3, 3), pad=(1, 1)), (3, 3, 8, 8)),
        (Convolution(name="pointwise", num_output=4, kernel=(1, 1)), (2, 3, 5, 5)),
        (Convolution(name="dw", num_output=6, kernel=(3, 3), group=6, pad=(1, 1)), (2, 6, 7, 7)),
        (Convolution(name="wino", num_output=32, kernel=(3, 3), pad=(1, 1)), (1, 32, 28, 28)),
        (
            Pooling(name="pool", method="AVE", kernel=(3, 3), stride=(2, 2), pad=(1, 1)),
            (2, 3, 9, 9),
        ),
        (Deconvolution(name="deconv", num_output=2, kernel=(2, 2), stride=(2, 2)), (1, 3, 4, 4)),
    ],
    ids=lambda v: v.name if isinstance(v, Layer) else None,
)
def test_outputs_do_not_alias_reused_scratch(
    layer: Layer, shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kernels reuse work buffers between calls; an earlier output must stay intact."""
    monkeypatch.setattr(_conv_util, "_WINOGRAD_MIN_CHANNELS", 16)
    monkeypatch.setattr(_conv_util, "_COLS_BUDGET", 300)  # row blocks for the 1-sample case
    rng = np.random.default_rng(2)
    params = layer.init_params([shape], rng)
    x1, x2 = rand(rng, *shape), rand(rng, *shape)
    (y1,) = layer.forward([x1], params)
    keep = y1.copy()
    (y2,) = layer.forward([x2], params)
    assert not np.shares_memory(y1, y2)
    assert np.array_equal(y1, keep)
    (y1_again,) = layer.forward([x1], params)
    assert np.array_equal(y1_again, keep)


def test_convolution_resnet_sized_layer_matches_opencv(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    body = "convolution_param { num_output: 64 kernel_size: 3 pad: 1 }"
    layer = Convolution.from_proto(lp("Convolution", body))
    x = rand(rng, 1, 64, 28, 28)
    blobs = layer.init_params([x.shape], rng)
    # Big enough for the Winograd-along-H path with the default thresholds.
    assert _conv_util._winograd_rows_pays(x.shape, blobs[0].shape, (1, 1), (1, 1), 1, 28, 28)
    (y,) = layer.forward([x], blobs)
    assert_close(y, opencv_forward(tmp_path, "Convolution", body, x, blobs))


def test_convolution_shapes_params_macs() -> None:
    layer = Convolution.from_proto(
        lp("Convolution", "convolution_param { num_output: 8 kernel_size: 3 stride: 2 group: 2 }")
    )
    assert layer.kernel == (3, 3) and layer.stride == (2, 2) and layer.pad == (0, 0)
    assert layer.output_shapes([(2, 4, 9, 10)]) == [(2, 8, 4, 4)]
    assert layer.param_shapes([(2, 4, 9, 10)]) == [(8, 2, 3, 3), (8,)]
    assert layer.macs([(2, 4, 9, 10)], [(2, 8, 4, 4)]) == 2 * 8 * 4 * 4 * 2 * 9
    dil = Convolution.from_proto(
        lp("Convolution", "convolution_param { num_output: 1 kernel_size: 3 dilation: 3 pad: 1 }")
    )
    # (10 + 2 - (3*2+1)) // 1 + 1 = 6
    assert dil.output_shapes([(1, 1, 10, 10)]) == [(1, 1, 6, 6)]
    nb = Convolution.from_proto(
        lp("Convolution", "convolution_param { num_output: 2 kernel_size: 1 bias_term: false }")
    )
    assert nb.param_shapes([(1, 3, 4, 4)]) == [(2, 3, 1, 1)]
    one_pad = Convolution.from_proto(
        lp("Convolution", "convolution_param { num_output: 2 kernel_size: 3 pad_h: 2 }")
    )
    assert one_pad.pad == (2, 0)
    params = layer.init_params([(2, 4, 9, 10)], np.random.default_rng(0))
    assert [p.shape for p in params] == [(8, 2, 3, 3), (8,)]
    assert all(p.dtype == F32 for p in params)


# ---------------------------------------------------------------------------- deconvolution
DECONV_CASES = [
    ("s2_p1_k4", 3, 4, 5, "num_output: 2 kernel_size: 4 stride: 2 pad: 1", 1),
    ("grouped", 4, 3, 4, "num_output: 6 kernel_size: 3 stride: 2 group: 2", 2),
    ("depthwise_upsample", 3, 4, 4, "num_output: 3 kernel_size: 4 stride: 2 pad: 1 group: 3", 1),
    ("depthwise_mult", 2, 3, 3, "num_output: 4 kernel_size: 3 stride: 3 group: 2", 1),
    ("dilated_no_bias", 2, 4, 3, "num_output: 3 kernel_size: 3 dilation: 2 bias_term: false", 1),
    (
        "asymmetric",
        2,
        3,
        4,
        "num_output: 2 kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 1",
        1,
    ),
]


@pytest.mark.parametrize("case", DECONV_CASES, ids=[c[0] for c in DECONV_CASES])
def test_deconvolution_matches_opencv_and_naive(case: tuple[Any, ...], tmp_path: Path) -> None:
    cid, c, h, w, body, n = case
    rng = np.random.default_rng(len(cid) * 11 + c)
    layer = Deconvolution.from_proto(lp("Deconvolution", f"convolution_param {{ {body} }}"))
    x = rand(rng, n, c, h, w)
    blobs = conv_blobs(layer, x.shape, rng)
    (y,) = layer.forward([x], blobs)
    assert y.shape == layer.output_shapes([x.shape])[0]
    b = blobs[1] if layer.bias_term else None
    ref = naive_deconv(x, blobs[0], b, layer.stride, layer.pad, layer.dilation, layer.group)
    assert_close(y, ref)
    if layer.dilation == (1, 1):
        # OpenCV 4.11 ignores dilation in Deconvolution (its output is the undilated size).
        cv = opencv_forward(tmp_path, "Deconvolution", f"convolution_param {{ {body} }}", x, blobs)
        assert_close(y, cv)


def test_deconvolution_shapes_params_macs_init() -> None:
    layer = Deconvolution.from_proto(
        lp(
            "Deconvolution",
            "convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 group: 2 }",
        )
    )
    # 2*(5-1) + 4 - 2 = 10
    assert layer.output_shapes([(1, 4, 5, 7)]) == [(1, 6, 10, 14)]
    assert layer.param_shapes([(1, 4, 5, 7)]) == [(4, 3, 4, 4), (6,)]
    assert layer.macs([(1, 4, 5, 7)], [(1, 6, 10, 14)]) == 4 * 5 * 7 * 3 * 16
    w, b = layer.init_params([(1, 4, 5, 7)], np.random.default_rng(0))
    assert w.shape == (4, 3, 4, 4) and b.shape == (6,) and w.dtype == F32
    # fan-in = (C/group) * kh*kw / (sh*sw) = 2 * 16 / 4 = 8
    big = Deconvolution(name="d", num_output=64, kernel=(4, 4), stride=(2, 2))
    wb = big.init_params([(1, 64, 3, 3)], np.random.default_rng(1))[0]
    assert abs(float(wb.std()) - np.sqrt(2.0 / (64 * 16 / 4))) < 0.01


# ---------------------------------------------------------------------------- inner product
IP_CASES = [
    ("axis1_4d", (2, 3, 4, 5), "num_output: 7"),
    ("axis2", (2, 3, 4, 5), "num_output: 6 axis: 2"),
    ("transpose", (3, 10), "num_output: 4 transpose: true"),
    (
        "axis2_transpose_no_bias",
        (2, 3, 4, 2),
        "num_output: 5 axis: 2 transpose: true bias_term: false",
    ),
    ("axis_neg1", (2, 3, 8), "num_output: 3 axis: -1"),
]


@pytest.mark.parametrize("case", IP_CASES, ids=[c[0] for c in IP_CASES])
def test_inner_product_matches_opencv_and_numpy(case: tuple[Any, ...], tmp_path: Path) -> None:
    cid, shape, body = case
    rng = np.random.default_rng(len(cid))
    layer = InnerProduct.from_proto(lp("InnerProduct", f"inner_product_param {{ {body} }}"))
    x = rand(rng, *shape)
    blobs = [rand(rng, *s) for s in layer.param_shapes([x.shape])]
    (y,) = layer.forward([x], blobs)
    a = layer.axis % x.ndim
    x2 = x.reshape(int(np.prod(shape[:a])), -1).astype(np.float64)
    w = blobs[0].astype(np.float64)
    ref = x2 @ (w if layer.transpose else w.T)
    if layer.bias_term:
        ref = ref + blobs[1]
    ref = ref.reshape(*shape[:a], layer.num_output)
    assert_close(y, ref)
    if len(shape) == 4 and not layer.transpose:
        # OpenCV 4.11 ignores `transpose` (it reads the [K, O] blob as [O, K]); Caffe computes
        # x @ W for transpose, which the numpy reference above checks.
        cv = opencv_forward(tmp_path, "InnerProduct", f"inner_product_param {{ {body} }}", x, blobs)
        assert_close(y, cv.reshape(ref.shape))


def test_inner_product_shapes_params_macs_init() -> None:
    layer = InnerProduct.from_proto(lp("InnerProduct", "inner_product_param { num_output: 10 }"))
    assert layer.output_shapes([(4, 3, 2, 2)]) == [(4, 10)]
    assert layer.param_shapes([(4, 3, 2, 2)]) == [(10, 12), (10,)]
    assert layer.macs([(4, 3, 2, 2)], [(4, 10)]) == 4 * 10 * 12
    t = InnerProduct(name="t", num_output=300, axis=2, transpose=True)
    assert t.output_shapes([(2, 3, 4, 5)]) == [(2, 3, 300)]
    assert t.param_shapes([(2, 3, 4, 5)]) == [(20, 300), (300,)]
    w = t.init_params([(2, 3, 4, 5)], np.random.default_rng(0))[0]
    assert w.shape == (20, 300) and abs(float(w.std()) - np.sqrt(2.0 / 20)) < 0.02


# ---------------------------------------------------------------------------------- pooling
POOL_CASES = [
    # (id, H, W, pooling_param body)
    ("max_ceil_pad", 6, 6, "pool: MAX kernel_size: 3 stride: 2 pad: 1"),
    ("ave_ceil_pad", 6, 6, "pool: AVE kernel_size: 3 stride: 2 pad: 1"),
    ("ave_overhang_clipped", 7, 8, "pool: AVE kernel_size: 3 stride: 2 pad: 1"),
    ("ave_last_window_dropped", 5, 5, "pool: AVE kernel_size: 2 stride: 2 pad: 1"),
    ("max_last_window_dropped", 5, 7, "pool: MAX kernel_size: 2 stride: 2 pad: 1"),
    ("ave_big_pad", 5, 6, "pool: AVE kernel_size: 4 stride: 3 pad: 2"),
    ("max_googlenet", 13, 13, "pool: MAX kernel_size: 3 stride: 2"),
    ("ave_ceil_no_pad", 14, 9, "pool: AVE kernel_size: 3 stride: 2"),
    ("ave_s1", 7, 7, "pool: AVE kernel_size: 3 stride: 1 pad: 1"),
    (
        "asymmetric",
        9,
        10,
        "pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0",
    ),
    (
        "ave_asymmetric",
        9,
        10,
        "pool: AVE kernel_h: 2 kernel_w: 4 stride_h: 2 stride_w: 3 pad_h: 0 pad_w: 1",
    ),
    ("max_ceil_mode_false", 6, 7, "pool: MAX kernel_size: 3 stride: 2 pad: 1 ceil_mode: false"),
    ("ave_ceil_mode_false", 8, 8, "pool: AVE kernel_size: 3 stride: 2 ceil_mode: false"),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pooling_matches_opencv_and_naive(case: tuple[Any, ...], tmp_path: Path) -> None:
    cid, h, w, body = case
    rng = np.random.default_rng(len(cid) + h)
    layer = Pooling.from_proto(lp("Pooling", f"pooling_param {{ {body} }}"))
    x = rand(rng, 2, 3, h, w)
    (y,) = layer.forward([x], [])
    assert y.shape == layer.output_shapes([x.shape])[0]
    ref = naive_pool(x, layer.method, layer.kernel, layer.stride, layer.pad, layer.ceil_mode)
    assert_close(y, ref)
    assert_close(y, opencv_forward(tmp_path, "Pooling", f"pooling_param {{ {body} }}", x, []))


@pytest.mark.parametrize("method", ["MAX", "AVE"])
def test_global_pooling_matches_opencv(method: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    body = f"pooling_param {{ pool: {method} global_pooling: true }}"
    layer = Pooling.from_proto(lp("Pooling", body))
    x = rand(rng, 2, 5, 7, 6)
    (y,) = layer.forward([x], [])
    assert y.shape == (2, 5, 1, 1)
    ref = x.max(axis=(2, 3)) if method == "MAX" else x.astype(np.float64).mean(axis=(2, 3))
    assert_close(y, ref.reshape(2, 5, 1, 1))
    assert_close(y, opencv_forward(tmp_path, "Pooling", body, x, []))


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize(
    "spelling", ["round_mode: FLOOR", "ceil_mode: false", "round_mode: FLOOR ceil_mode: false"]
)
def test_pooling_floor_mode_matches_naive(method: str, spelling: str) -> None:
    rng = np.random.default_rng(9)
    body = f"pooling_param {{ pool: {method} kernel_size: 3 stride: 2 pad: 1 {spelling} }}"
    layer = Pooling.from_proto(lp("Pooling", body))
    assert not layer.ceil_mode
    x = rand(rng, 1, 2, 8, 7)
    (y,) = layer.forward([x], [])
    # floor((8+2-3)/2)+1 = 4, floor((7+2-3)/2)+1 = 4; CEIL would give 5 and 4.
    assert y.shape == (1, 2, 4, 4)
    assert_close(y, naive_pool(x, method, (3, 3), (2, 2), (1, 1), ceil_mode=False))


def test_pooling_explicit_ceil_round_mode() -> None:
    layer = Pooling.from_proto(
        lp("Pooling", "pooling_param { kernel_size: 2 stride: 2 round_mode: CEIL ceil_mode: true }")
    )
    assert layer.ceil_mode and layer.output_shapes([(1, 1, 5, 5)]) == [(1, 1, 3, 3)]


def test_pooling_empty_windows_are_zero() -> None:
    """k < s without padding: Caffe's ceil rounding adds a window past the input."""
    for method in ("MAX", "AVE"):
        layer = Pooling(name="p", method=method, kernel=(1, 1), stride=(2, 2))
        x = rand(np.random.default_rng(0), 1, 2, 6, 6) - 10.0
        (y,) = layer.forward([x], [])
        assert y.shape == (1, 2, 4, 4)  # ceil((6-1)/2)+1 = 4, last window starts at row 6
        assert_close(y[:, :, :3, :3], x[:, :, ::2, ::2])
        assert np.all(y[:, :, 3, :] == 0) and np.all(y[:, :, :, 3] == 0)


def test_pooling_shapes() -> None:
    p = Pooling(name="p", method="MAX", kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    # ceil((6+2-3)/2)+1 = 4; (4-1)*2 = 6 < 6+1 keeps it
    assert p.output_shapes([(1, 2, 6, 6)]) == [(1, 2, 4, 4)]
    q = Pooling(name="q", method="AVE", kernel=(2, 2), stride=(2, 2), pad=(1, 1))
    # ceil((5+2-2)/2)+1 = 4; (4-1)*2 = 6 >= 5+1 drops it
    assert q.output_shapes([(1, 1, 5, 5)]) == [(1, 1, 3, 3)]
    g = Pooling(name="g", method="AVE", global_pooling=True)
    assert g.output_shapes([(3, 4, 7, 9)]) == [(3, 4, 1, 1)]
    assert p.param_shapes([(1, 2, 6, 6)]) == [] and p.macs([(1, 2, 6, 6)], [(1, 2, 4, 4)]) == 0


# ----------------------------------------------------------------------------------- errors
def _raises(exc: type[Exception], fn: Any, name: str = "L") -> None:
    with pytest.raises(exc) as info:
        fn()
    assert f"'{name}'" in str(info.value)


@pytest.mark.parametrize(
    ("layer_type", "body", "exc"),
    [
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_size: 3 axis: 2 }",
            UnsupportedParameterError,
        ),
        ("Convolution", "convolution_param { kernel_size: 3 }", UnsupportedParameterError),
        ("Convolution", "convolution_param { num_output: 2 }", UnsupportedParameterError),
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3 }",
            UnsupportedParameterError,
        ),
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_h: 3 }",
            UnsupportedParameterError,
        ),
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_size: 0 }",
            UnsupportedParameterError,
        ),
        (
            "Convolution",
            "convolution_param { num_output: 3 kernel_size: 1 group: 2 }",
            UnsupportedParameterError,
        ),
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_size: 3 stride: 0 }",
            UnsupportedParameterError,
        ),
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_size: 3 kernel_size: 3 kernel_size: 3 }",
            UnsupportedParameterError,
        ),
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_size: 3 dilation: 0 }",
            UnsupportedParameterError,
        ),
        (
            "Convolution",
            "convolution_param { num_output: 2 kernel_size: 3 pad: 1 pad_h: 1 }",
            UnsupportedParameterError,
        ),
        (
            "Deconvolution",
            "convolution_param { num_output: 2 kernel_size: 3 axis: 0 }",
            UnsupportedParameterError,
        ),
        (
            "Deconvolution",
            "convolution_param { num_output: 0 kernel_size: 3 }",
            UnsupportedParameterError,
        ),
        ("InnerProduct", "inner_product_param { bias_term: false }", UnsupportedParameterError),
        ("Pooling", "pooling_param { pool: STOCHASTIC kernel_size: 2 }", UnsupportedParameterError),
        ("Pooling", "pooling_param { pool: MAX }", UnsupportedParameterError),
        (
            "Pooling",
            "pooling_param { kernel_size: 3 kernel_h: 3 kernel_w: 3 }",
            UnsupportedParameterError,
        ),
        ("Pooling", "pooling_param { kernel_size: 3 pad: 3 }", UnsupportedParameterError),
        (
            "Pooling",
            "pooling_param { global_pooling: true kernel_size: 3 }",
            UnsupportedParameterError,
        ),
        ("Pooling", "pooling_param { global_pooling: true stride: 2 }", UnsupportedParameterError),
        (
            "Pooling",
            "pooling_param { kernel_size: 3 round_mode: FLOOR ceil_mode: true }",
            UnsupportedParameterError,
        ),
        ("Pooling", "pooling_param { kernel_size: 3 stride: 0 }", UnsupportedParameterError),
        ("Pooling", "pooling_param { kernel_size: 3 pad_w: 1 }", UnsupportedParameterError),
        (
            "Pooling",
            "pooling_param { kernel_size: 3 pad: 1 pad_h: 1 pad_w: 1 }",
            UnsupportedParameterError,
        ),
        ("Pooling", "pooling_param { kernel_size: 3 stride_h: 2 }", UnsupportedParameterError),
    ],
)
def test_bad_parameters_raise_naming_the_layer(
    layer_type: str, body: str, exc: type[Exception]
) -> None:
    classes: dict[str, type[Layer]] = {
        "Convolution": Convolution,
        "Deconvolution": Deconvolution,
        "InnerProduct": InnerProduct,
        "Pooling": Pooling,
    }
    cls = classes[layer_type]
    _raises(exc, lambda: cls.from_proto(lp(layer_type, body)))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (Convolution(name="L", num_output=4, kernel=(3, 3), group=2), (1, 3, 8, 8)),
        (Convolution(name="L", num_output=4, kernel=(5, 5)), (1, 3, 4, 8)),
        (
            Convolution(name="L", num_output=4, kernel=(3, 3), dilation=(4, 4), pad=(1, 1)),
            (1, 3, 6, 6),
        ),
        (Convolution(name="L", num_output=4, kernel=(3, 3)), (3, 8, 8)),
        (Deconvolution(name="L", num_output=4, kernel=(2, 2), group=4), (1, 6, 3, 3)),
        (Deconvolution(name="L", num_output=4, kernel=(1, 1), pad=(1, 1)), (1, 2, 2, 2)),
        (Deconvolution(name="L", num_output=4, kernel=(3, 3)), (1, 2, 3)),
        (InnerProduct(name="L", num_output=4, axis=3), (2, 3)),
        (InnerProduct(name="L", num_output=4), (2, 0, 3)),
        (Pooling(name="L", kernel=(3, 3)), (1, 2, 9)),
        (Pooling(name="L", kernel=(5, 5), stride=(2, 2)), (1, 2, 2, 2)),
    ],
)
def test_bad_shapes_raise_shape_error(layer: Layer, shape: tuple[int, ...]) -> None:
    _raises(ShapeError, lambda: layer.output_shapes([shape]))
    if 0 not in shape:
        x = np.zeros(shape, F32)
        _raises(ShapeError, lambda: layer.forward([x], []))


def test_wrong_bottom_count_and_weights() -> None:
    conv = Convolution(name="L", num_output=2, kernel=(3, 3))
    x = np.zeros((1, 3, 5, 5), F32)
    _raises(ShapeError, lambda: conv.output_shapes([x.shape, x.shape]))
    _raises(WeightsMismatchError, lambda: conv.forward([x], [np.zeros((2, 3, 3, 3), F32)]))
    _raises(
        WeightsMismatchError,
        lambda: conv.forward([x], [np.zeros((2, 3, 2, 3), F32), np.zeros(2, F32)]),
    )
    ip = InnerProduct(name="L", num_output=4)
    _raises(WeightsMismatchError, lambda: ip.forward([x], [np.zeros((4, 74), F32)]))
    # Legacy 1-padded blobs (V1 caffemodels) are accepted by element count.
    w = np.ones((1, 1, 4, 75), F32)
    (y,) = ip.forward([x + 1], [w, np.zeros((1, 1, 1, 4), F32)])
    assert_close(y, np.full((1, 4), 75.0))


def test_direct_construction_is_validated() -> None:
    _raises(UnsupportedParameterError, lambda: Convolution(name="L", num_output=4, kernel=(0, 3)))
    _raises(
        UnsupportedParameterError,
        lambda: Deconvolution(name="L", num_output=3, kernel=(2, 2), group=2),
    )
    _raises(UnsupportedParameterError, lambda: InnerProduct(name="L", num_output=0))
    _raises(UnsupportedParameterError, lambda: Pooling(name="L", method="STOCHASTIC"))
    _raises(UnsupportedParameterError, lambda: Pooling(name="L", kernel=(2, 2), pad=(2, 0)))
