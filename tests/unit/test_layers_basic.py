"""Float golden model of the simple Caffe layers against independent references.

References: OpenCV's Caffe importer (``cv2.dnn.readNetFromCaffe`` on a one-layer prototxt plus a
caffemodel written by ``edge_dnn.caffe.caffemodel`` for layers with blobs), and naive loop
implementations written here for what OpenCV lacks (ArgMax, Threshold, Clip, Bias) or computes
differently from BVLC Caffe (MVN's epsilon, LRN WITHIN_CHANNEL with k != 1).

Bar: max abs error <= 1e-4 * max(1, max|ref|).
"""

from __future__ import annotations

import itertools
import math
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
from edge_dnn.layers.abs_val import AbsVal
from edge_dnn.layers.arg_max import ArgMax
from edge_dnn.layers.base import Layer
from edge_dnn.layers.batch_norm import BatchNorm
from edge_dnn.layers.bias import Bias
from edge_dnn.layers.bnll import BNLL
from edge_dnn.layers.clip import Clip
from edge_dnn.layers.concat import Concat
from edge_dnn.layers.crop import Crop
from edge_dnn.layers.dropout import Dropout
from edge_dnn.layers.eltwise import Eltwise
from edge_dnn.layers.elu import ELU
from edge_dnn.layers.exp import Exp
from edge_dnn.layers.flatten import Flatten
from edge_dnn.layers.input import Input
from edge_dnn.layers.log import Log
from edge_dnn.layers.lrn import LRN
from edge_dnn.layers.mvn import MVN
from edge_dnn.layers.permute import Permute
from edge_dnn.layers.power import Power
from edge_dnn.layers.prelu import PReLU
from edge_dnn.layers.relu import ReLU
from edge_dnn.layers.reshape import Reshape
from edge_dnn.layers.scale import Scale
from edge_dnn.layers.sigmoid import Sigmoid
from edge_dnn.layers.slice import Slice
from edge_dnn.layers.softmax import Softmax
from edge_dnn.layers.split import Split
from edge_dnn.layers.tanh import TanH
from edge_dnn.layers.threshold import Threshold

CLASSES: dict[str, type[Layer]] = {
    c.TYPE: c
    for c in (
        AbsVal, ArgMax, BatchNorm, Bias, BNLL, Clip, Concat, Crop, Dropout, Eltwise, ELU, Exp,
        Flatten, Input, Log, LRN, MVN, Permute, Power, PReLU, ReLU, Reshape, Scale, Sigmoid,
        Slice, Softmax, Split, TanH, Threshold,
    )
}  # fmt: skip


# ------------------------------------------------------------------------------------ helpers
def assert_close(got: np.ndarray, ref: np.ndarray) -> None:
    """The project's float bar."""
    ref = np.asarray(ref, dtype=np.float64)
    assert got.dtype == np.float32
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.size == 0:
        return
    bar = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
    err = float(np.max(np.abs(got.astype(np.float64) - ref)))
    assert err <= bar, f"max abs error {err:.3g} > {bar:.3g}"


def layer_text(body: str, n_bottoms: int, n_tops: int, name: str = "l") -> str:
    bottoms = " ".join(f'bottom: "x{i}"' for i in range(n_bottoms))
    tops = " ".join(f'top: "y{i}"' for i in range(n_tops))
    return f'name: "{name}" {body} {bottoms} {tops}'


def make_layer(body: str, n_bottoms: int = 1, n_tops: int = 1) -> Layer:
    lp = text_format.Parse(layer_text(body, n_bottoms, n_tops), caffe_pb2.LayerParameter())
    return CLASSES[lp.type].from_proto(lp)


def run_ours(
    body: str,
    inputs: Sequence[np.ndarray],
    params: Sequence[np.ndarray] = (),
    n_tops: int = 1,
) -> list[np.ndarray]:
    """from_proto -> output_shapes -> forward, checking shapes and dtypes agree."""
    layer = make_layer(body, len(inputs), n_tops)
    shapes = layer.output_shapes([x.shape for x in inputs])
    assert [tuple(p.shape) for p in params] == [
        tuple(s) for s in layer.param_shapes([x.shape for x in inputs])
    ]
    outs = layer.forward([x.copy() for x in inputs], list(params))
    assert [o.shape for o in outs] == [tuple(s) for s in shapes]
    assert all(o.dtype == np.float32 for o in outs)
    return outs


def run_cv(
    tmp_path: Path,
    body: str,
    inputs: Sequence[np.ndarray],
    params: Sequence[np.ndarray] = (),
    n_tops: int = 1,
) -> list[np.ndarray]:
    """The same layer through OpenCV's Caffe importer.

    With several tops, each gets an identity consumer (a default Power layer): OpenCV sizes the
    outputs of a multi-top layer (Slice, Split) by the number of consumed tops. A single top has
    none, because OpenCV would fuse it into some layers (MVN).
    """
    decl = "".join(
        f'input: "x{i}"\ninput_shape {{ {" ".join(f"dim: {d}" for d in x.shape)} }}\n'
        for i, x in enumerate(inputs)
    )
    sinks = "".join(
        f'layer {{ name: "o{i}" type: "Power" bottom: "y{i}" top: "z{i}" }}\n'
        for i in range(n_tops)
        if n_tops > 1
    )
    proto = tmp_path / "net.prototxt"
    proto.write_text(
        f'name: "t"\n{decl}layer {{ {layer_text(body, len(inputs), n_tops)} }}\n{sinks}'
    )
    if params:
        lp = text_format.Parse(layer_text(body, len(inputs), n_tops), caffe_pb2.LayerParameter())
        model = tmp_path / "net.caffemodel"
        write_caffemodel([("l", lp.type, list(params))], model)
        net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    else:
        net = cv2.dnn.readNetFromCaffe(str(proto))
    for i, x in enumerate(inputs):
        net.setInput(np.ascontiguousarray(x, dtype=np.float32), f"x{i}")
    outs = net.forward([f"o{i}" for i in range(n_tops)] if n_tops > 1 else ["l"])
    return [np.asarray(o) for o in outs]


def compare_cv(
    tmp_path: Path,
    body: str,
    inputs: Sequence[np.ndarray],
    params: Sequence[np.ndarray] = (),
    n_tops: int = 1,
) -> list[np.ndarray]:
    ours = run_ours(body, inputs, params, n_tops)
    ref = run_cv(tmp_path, body, inputs, params, n_tops)
    assert len(ours) == len(ref)
    for o, r in zip(ours, ref):
        assert_close(o, r.reshape(o.shape) if r.size == o.size else r)
    return ours


def randn(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ------------------------------------------------------------------------ element-wise layers
UNARY_CV = [
    'type: "ReLU"',
    'type: "ReLU" relu_param { negative_slope: 0.1 }',
    'type: "ELU"',
    'type: "ELU" elu_param { alpha: 0.5 }',
    'type: "Sigmoid"',
    'type: "TanH"',
    'type: "AbsVal"',
    'type: "BNLL"',
    'type: "Dropout" dropout_param { dropout_ratio: 0.3 }',
    'type: "Power" power_param { power: 2 scale: 0.5 shift: 1.5 }',
    'type: "Power" power_param { power: 3 }',
    'type: "Power" power_param { scale: -2 shift: 0.25 }',
    'type: "Exp"',
    'type: "Exp" exp_param { base: 2 scale: 0.5 shift: 0.3 }',
    'type: "Exp" exp_param { scale: -0.7 shift: 1 }',
    # OpenCV's Caffe Log ignores base/scale/shift: those are tested in test_unary_naive.
    'type: "Log"',
]


@pytest.mark.parametrize("body", UNARY_CV)
def test_unary_vs_opencv(tmp_path: Path, body: str) -> None:
    rng = np.random.default_rng(1)
    x = randn(rng, 2, 3, 4, 5, scale=2.0)
    if "Log" in body:
        x = np.abs(x) + 0.01
    compare_cv(tmp_path, body, [x])


def test_unary_naive() -> None:
    """Element-wise layers against scalar Python math, including OpenCV-less Clip/Threshold."""
    rng = np.random.default_rng(2)
    x = randn(rng, 2, 3, 4, scale=3.0)
    x[0, 0, :3] = [0.0, 0.5, -0.5]
    cases: list[tuple[str, Any]] = [
        ('type: "ReLU" relu_param { negative_slope: -0.2 }', lambda v: v if v > 0 else -0.2 * v),
        ('type: "Sigmoid"', lambda v: 1 / (1 + math.exp(-v))),
        ('type: "BNLL"', lambda v: math.log1p(math.exp(v))),
        ('type: "ELU" elu_param { alpha: 2 }', lambda v: v if v > 0 else 2 * (math.exp(v) - 1)),
        ('type: "Threshold" threshold_param { threshold: 0.5 }', lambda v: float(v > 0.5)),
        ('type: "Threshold"', lambda v: float(v > 0)),
        ('type: "Clip" clip_param { min: -1 max: 0.75 }', lambda v: min(max(v, -1), 0.75)),
        ('type: "Exp" exp_param { base: 3 scale: 0.5 shift: -1 }', lambda v: 3 ** (0.5 * v - 1)),
        ('type: "Log" log_param { base: 3 scale: 0.5 shift: 8 }', lambda v: math.log(v / 2 + 8, 3)),
        ('type: "Log" log_param { base: 2 scale: 2 shift: 30 }', lambda v: math.log2(2 * v + 30)),
        ('type: "Power" power_param { power: 0 scale: 3 }', lambda v: 1.0),
        ('type: "Power" power_param { power: 2 scale: 0 shift: 3 }', lambda v: 9.0),
    ]
    for body, f in cases:
        (y,) = run_ours(body, [x])
        ref = np.vectorize(f, otypes=[np.float64])(x.astype(np.float64))
        assert_close(y, ref)


def test_power_nan_and_log_domain() -> None:
    x = np.array([[-1.0, 0.0, 4.0]], dtype=np.float32)
    (y,) = run_ours('type: "Power" power_param { power: 0.5 }', [x])
    assert np.isnan(y[0, 0]) and y[0, 1] == 0 and y[0, 2] == 2
    (y,) = run_ours('type: "Log"', [x])
    assert np.isnan(y[0, 0]) and y[0, 1] == -np.inf


def test_bnll_sigmoid_extremes_are_finite() -> None:
    x = np.array([[-1e4, -100.0, 100.0, 1e4]], dtype=np.float32)
    (b,) = run_ours('type: "BNLL"', [x])
    (s,) = run_ours('type: "Sigmoid"', [x])
    assert np.all(np.isfinite(b)) and np.all(np.isfinite(s))
    assert b[0, 3] == np.float32(1e4) and s[0, 0] == 0 and s[0, 3] == 1


def test_dropout_scale_train_false() -> None:
    x = np.ones((1, 2, 2, 2), dtype=np.float32)
    (y,) = run_ours('type: "Dropout" dropout_param { dropout_ratio: 0.25 scale_train: false }', [x])
    assert np.allclose(y, 0.75)


@pytest.mark.parametrize("shared", [False, True])
def test_prelu_vs_opencv(tmp_path: Path, shared: bool) -> None:
    rng = np.random.default_rng(3)
    x = randn(rng, 2, 4, 3, 5)
    layer = make_layer(f'type: "PReLU" prelu_param {{ channel_shared: {str(shared).lower()} }}')
    (shp,) = layer.param_shapes([x.shape])
    assert shp == ((1,) if shared else (4,))
    slope = rng.uniform(-0.5, 0.5, size=shp).astype(np.float32)
    body = f'type: "PReLU" prelu_param {{ channel_shared: {str(shared).lower()} }}'
    (y,) = compare_cv(tmp_path, body, [x], [slope])
    s = np.broadcast_to(slope.reshape(1, -1, 1, 1), (1, 4, 1, 1))
    assert_close(y, np.where(x > 0, x, x * s))


# ----------------------------------------------------------------------------------------- LRN
def naive_lrn(x: np.ndarray, n: int, alpha: float, beta: float, k: float, within: bool) -> Any:
    N, C, H, W = x.shape
    y = np.zeros(x.shape, dtype=np.float64)
    p = (n - 1) // 2
    for b, c, h, w in itertools.product(range(N), range(C), range(H), range(W)):
        s = 0.0
        if within:
            for i, j in itertools.product(range(h - p, h + p + 1), range(w - p, w + p + 1)):
                if 0 <= i < H and 0 <= j < W:
                    s += float(x[b, c, i, j]) ** 2
            scale = 1 + alpha / (n * n) * s
        else:
            for cc in range(max(0, c - p), min(C, c + p + 1)):
                s += float(x[b, cc, h, w]) ** 2
            scale = k + alpha / n * s
        y[b, c, h, w] = x[b, c, h, w] * scale**-beta
    return y


@pytest.mark.parametrize(
    "params",
    [
        "local_size: 5 alpha: 0.0001 beta: 0.75",
        # OpenCV 4.11 ignores k (uses 1): k != 1 is tested against the naive reference.
        "local_size: 3 alpha: 2 beta: 0.5",
        "local_size: 5 alpha: 1 beta: 0.75 norm_region: WITHIN_CHANNEL",
        "local_size: 3 alpha: 3 beta: 1.2 norm_region: WITHIN_CHANNEL",
    ],
)
def test_lrn_vs_opencv(tmp_path: Path, params: str) -> None:
    rng = np.random.default_rng(4)
    x = randn(rng, 2, 7, 6, 5, scale=2.0)
    compare_cv(tmp_path, f'type: "LRN" lrn_param {{ {params} }}', [x])


@pytest.mark.parametrize("within", [False, True])
def test_lrn_naive(within: bool) -> None:
    rng = np.random.default_rng(5)
    x = randn(rng, 1, 6, 5, 4, scale=2.0)
    region = "WITHIN_CHANNEL" if within else "ACROSS_CHANNELS"
    body = (
        f'type: "LRN" lrn_param {{ local_size: 3 alpha: 1.5 beta: 0.6 k: 3 norm_region: {region} }}'
    )
    (y,) = run_ours(body, [x])
    # WITHIN_CHANNEL ignores k in Caffe (its Power layer has shift 1).
    assert_close(y, naive_lrn(x, 3, 1.5, 0.6, 3.0, within))


def test_lrn_rejects_even_size_and_non_4d() -> None:
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "LRN" lrn_param { local_size: 4 }')
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "LRN"').output_shapes([(2, 3, 4)])


# ----------------------------------------------------------------------------------------- MVN
def naive_mvn(x: np.ndarray, norm_var: bool, across: bool, eps: float) -> np.ndarray:
    y = np.zeros(x.shape, dtype=np.float64)
    x64 = x.astype(np.float64)
    for n in range(x.shape[0]):
        groups = [slice(None)] if across else [slice(c, c + 1) for c in range(x.shape[1])]
        for g in groups:
            v = x64[n, g]
            m = v.mean()
            out = v - m
            if norm_var:
                out = out / (math.sqrt(((v - m) ** 2).mean()) + eps)
            y[n, g] = out
    return y


@pytest.mark.parametrize(
    "params",
    ["", "across_channels: true", "normalize_variance: false", "eps: 0.001 across_channels: true"],
)
def test_mvn(tmp_path: Path, params: str) -> None:
    rng = np.random.default_rng(6)
    x = randn(rng, 2, 3, 4, 5, scale=2.0) + 1.0
    (y,) = run_ours(f'type: "MVN" mvn_param {{ {params} }}', [x])
    layer = make_layer(f'type: "MVN" mvn_param {{ {params} }}')
    assert isinstance(layer, MVN)
    assert_close(y, naive_mvn(x, layer.normalize_variance, layer.across_channels, layer.eps))
    # OpenCV puts eps inside the square root; accept its result where that is below the bar.
    if layer.eps <= 1e-6:
        assert_close(y, run_cv(tmp_path, f'type: "MVN" mvn_param {{ {params} }}', [x])[0])


def test_mvn_eps_outside_sqrt() -> None:
    """BVLC semantics: eps is added to the standard deviation, not the variance."""
    rng = np.random.default_rng(7)
    x = randn(rng, 1, 2, 3, 3, scale=0.1)
    (y,) = run_ours('type: "MVN" mvn_param { eps: 0.5 }', [x])
    assert_close(y, naive_mvn(x, True, False, 0.5))


# ----------------------------------------------------------------------------------- BatchNorm
def naive_bn(x: np.ndarray, mean: Any, var: Any, sf: float, eps: float) -> np.ndarray:
    f = 0.0 if sf == 0 else 1.0 / sf
    y = np.zeros(x.shape, dtype=np.float64)
    for c in range(x.shape[1]):
        y[:, c] = (x[:, c] - mean[c] * f) / math.sqrt(var[c] * f + eps)
    return y


@pytest.mark.parametrize(("sf", "eps"), [(1.0, 1e-5), (7.5, 1e-3), (0.0, 1e-5)])
def test_batchnorm_vs_opencv(tmp_path: Path, sf: float, eps: float) -> None:
    rng = np.random.default_rng(8)
    x = randn(rng, 2, 4, 3, 3)
    layer = make_layer(f'type: "BatchNorm" batch_norm_param {{ eps: {eps} }}')
    params = layer.init_params([x.shape], rng)
    params[0] = params[0] * 10
    params[1] = params[1] * max(sf, 1.0)
    params[2] = np.array([sf], dtype=np.float32)
    body = f'type: "BatchNorm" batch_norm_param {{ eps: {eps} }}'
    (y,) = compare_cv(tmp_path, body, [x], params)
    assert_close(y, naive_bn(x, params[0], params[1], sf, eps))


def test_batchnorm_params_and_init() -> None:
    layer = make_layer('type: "BatchNorm"')
    assert layer.param_shapes([(1, 6, 2, 2)]) == [(6,), (6,), (1,)]
    mean, var, sf = layer.init_params([(1, 6, 2, 2)], np.random.default_rng(0))
    assert np.all((var >= 0.5) & (var <= 1.5)) and sf.tolist() == [1.0]
    assert abs(float(mean.mean())) < 0.2
    with pytest.raises(WeightsMismatchError, match="'l'"):
        layer.forward([np.zeros((1, 6, 2, 2), np.float32)], [mean, var])


# --------------------------------------------------------------------------------- Scale, Bias
def naive_scale(x: np.ndarray, s: np.ndarray, axis: int, b: np.ndarray | None = None) -> Any:
    y = np.zeros(x.shape, dtype=np.float64)
    for idx in itertools.product(*(range(d) for d in x.shape)):
        j = idx[axis : axis + s.ndim] if s.ndim else ()
        y[idx] = x[idx] * s[j] + (b[j] if b is not None else 0.0)
    return y


SCALE_CASES = [
    # (scale_param, x shape, axis used, param shape)
    ("", (2, 3, 4, 5), 1, (3,)),
    ("bias_term: true", (2, 3, 4, 5), 1, (3,)),
    ("axis: 1 num_axes: 2 bias_term: true", (2, 3, 4, 5), 1, (3, 4)),
    ("axis: 0", (2, 3, 4, 5), 0, (2,)),
    ("axis: 2 num_axes: -1", (2, 3, 4, 5), 2, (4, 5)),
    ("axis: -1", (2, 3, 4, 5), 3, (5,)),
    ("num_axes: 0 bias_term: true", (2, 3, 4, 5), 0, ()),
]


@pytest.mark.parametrize(("params", "shape", "axis", "pshape"), SCALE_CASES)
def test_scale_one_bottom(params: str, shape: Any, axis: int, pshape: Any) -> None:
    rng = np.random.default_rng(9)
    x = randn(rng, *shape)
    layer = make_layer(f'type: "Scale" scale_param {{ {params} }}')
    blobs = layer.init_params([shape], rng)
    assert [b.shape for b in blobs] == [pshape] * len(blobs)
    assert np.all((blobs[0] >= 0.5) & (blobs[0] <= 1.5))
    (y,) = run_ours(f'type: "Scale" scale_param {{ {params} }}', [x], blobs)
    assert_close(y, naive_scale(x, blobs[0], axis, blobs[1] if len(blobs) > 1 else None))


@pytest.mark.parametrize(
    "params", ["", "bias_term: true", "axis: 1 num_axes: 2 bias_term: true", "axis: 0"]
)
def test_scale_vs_opencv(tmp_path: Path, params: str) -> None:
    rng = np.random.default_rng(10)
    x = randn(rng, 2, 3, 4, 5)
    body = f'type: "Scale" scale_param {{ {params} }}'
    blobs = make_layer(body).init_params([x.shape], rng)
    compare_cv(tmp_path, body, [x], blobs)


@pytest.mark.parametrize(
    ("params", "sshape", "axis"),
    [("", (3,), 1), ("axis: 1 bias_term: true", (3, 4), 1), ("axis: 0", (2, 3), 0)],
)
def test_scale_two_bottoms(tmp_path: Path, params: str, sshape: Any, axis: int) -> None:
    rng = np.random.default_rng(11)
    x = randn(rng, 2, 3, 4, 5)
    s = randn(rng, *sshape)
    body = f'type: "Scale" scale_param {{ {params} }}'
    layer = make_layer(body, n_bottoms=2)
    blobs = layer.init_params([x.shape, s.shape], rng)
    assert len(blobs) == (1 if "bias_term" in params else 0)
    (y,) = run_ours(body, [x, s], blobs)
    assert_close(y, naive_scale(x, s, axis, blobs[0] if blobs else None))
    if not blobs and axis == 1 and s.ndim == 1:
        # OpenCV's two-bottom Scale reads the scale per channel, as Caffe does for this case.
        assert_close(y, run_cv(tmp_path, body, [x, s])[0].reshape(y.shape))


def test_scale_shape_errors() -> None:
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Scale"', n_bottoms=2).output_shapes([(2, 3, 4, 5), (4,)])
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Scale" scale_param { axis: 2 num_axes: 3 }').param_shapes([(2, 3, 4, 5)])
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Scale" scale_param { axis: 4 }').output_shapes([(2, 3, 4, 5)])
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Scale"').output_shapes([(1, 2), (2,), (2,)])


@pytest.mark.parametrize(
    ("params", "axis", "pshape"),
    [("", 1, (3,)), ("axis: 1 num_axes: 2", 1, (3, 4)), ("axis: 0 num_axes: -1", 0, (2, 3, 4))],
)
def test_bias_one_bottom(params: str, axis: int, pshape: Any) -> None:
    rng = np.random.default_rng(12)
    x = randn(rng, 2, 3, 4)
    layer = make_layer(f'type: "Bias" bias_param {{ {params} }}')
    (b,) = layer.init_params([x.shape], rng)
    assert b.shape == pshape
    (y,) = run_ours(f'type: "Bias" bias_param {{ {params} }}', [x], [b])
    assert_close(y, naive_scale(x, np.ones(pshape, np.float32), axis, b))


def test_bias_two_bottoms() -> None:
    rng = np.random.default_rng(13)
    x = randn(rng, 2, 3, 4)
    b = randn(rng, 3, 4)
    (y,) = run_ours('type: "Bias"', [x, b])
    assert_close(y, x + b[None])
    assert make_layer('type: "Bias"', n_bottoms=2).param_shapes([x.shape, b.shape]) == []


# ---------------------------------------------------------------------------------- Eltwise
@pytest.mark.parametrize(
    ("params", "n"),
    [
        ("", 2),
        ("operation: SUM coeff: 0.5 coeff: -2 coeff: 1.25", 3),
        ("operation: PROD", 3),
        ("operation: MAX", 4),
    ],
)
def test_eltwise_vs_opencv(tmp_path: Path, params: str, n: int) -> None:
    rng = np.random.default_rng(14)
    xs = [randn(rng, 2, 3, 4, 5) for _ in range(n)]
    (y,) = compare_cv(tmp_path, f'type: "Eltwise" eltwise_param {{ {params} }}', xs)
    if "coeff" in params:
        assert_close(y, 0.5 * xs[0] - 2 * xs[1] + 1.25 * xs[2])


def test_eltwise_errors() -> None:
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Eltwise" eltwise_param { operation: MAX coeff: 1 coeff: 2 }')
    layer = make_layer('type: "Eltwise" eltwise_param { coeff: 1 coeff: 2 }', n_bottoms=3)
    with pytest.raises(ShapeError, match="'l'"):
        layer.output_shapes([(1, 2)] * 3)
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Eltwise"', n_bottoms=2).output_shapes([(1, 2), (1, 3)])
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Eltwise"').output_shapes([(1, 2)])


# ------------------------------------------------------------------------- shape manipulation
@pytest.mark.parametrize(
    ("params", "shapes"),
    [
        ("", [(2, 3, 4, 5), (2, 1, 4, 5), (2, 6, 4, 5)]),
        ("axis: 2", [(2, 3, 4, 5), (2, 3, 2, 5)]),
        ("axis: -1", [(2, 3, 4, 5), (2, 3, 4, 1)]),
        ("concat_dim: 2", [(2, 3, 4, 5), (2, 3, 1, 5)]),
        ("axis: 0", [(2, 3, 4, 5), (1, 3, 4, 5)]),
    ],
)
def test_concat(tmp_path: Path, params: str, shapes: Any) -> None:
    rng = np.random.default_rng(15)
    xs = [randn(rng, *s) for s in shapes]
    layer = make_layer(f'type: "Concat" concat_param {{ {params} }}', len(xs))
    assert isinstance(layer, Concat)
    (y,) = run_ours(f'type: "Concat" concat_param {{ {params} }}', xs)
    assert_close(y, np.concatenate(xs, axis=layer.axis))
    # OpenCV cannot concatenate along the batch axis and ignores the legacy concat_dim.
    if layer.axis != 0 and "concat_dim" not in params:
        assert_close(y, run_cv(tmp_path, f'type: "Concat" concat_param {{ {params} }}', xs)[0])


def test_concat_errors() -> None:
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Concat" concat_param { axis: 1 concat_dim: 1 }')
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Concat"', 2).output_shapes([(1, 2, 3, 3), (1, 2, 3, 4)])
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Concat"', 2).output_shapes([(1, 2, 3, 3), (1, 2, 3)])


@pytest.mark.parametrize(
    ("params", "n_tops", "sizes"),
    [
        ("slice_point: 1 slice_point: 4", 3, [1, 3, 2]),
        ("", 3, [2, 2, 2]),
        ("axis: 2 slice_point: 3", 2, [3, 1]),
        ("slice_dim: 1 slice_point: 5", 2, [5, 1]),
        ("axis: -1", 5, [1] * 5),
    ],
)
def test_slice_vs_opencv(tmp_path: Path, params: str, n_tops: int, sizes: list[int]) -> None:
    rng = np.random.default_rng(16)
    x = randn(rng, 2, 6, 4, 5)
    outs = compare_cv(tmp_path, f'type: "Slice" slice_param {{ {params} }}', [x], n_tops=n_tops)
    axis = 2 if "axis: 2" in params else (3 if "axis: -1" in params else 1)
    assert [o.shape[axis] for o in outs] == sizes
    assert_close(np.concatenate(outs, axis=axis), x)


def test_slice_errors() -> None:
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Slice"', n_tops=4).output_shapes([(1, 6, 2, 2)])
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Slice" slice_param { slice_point: 2 }', n_tops=3).output_shapes(
            [(1, 6, 2, 2)]
        )
    with pytest.raises(ShapeError, match="'l'"):
        make_layer(
            'type: "Slice" slice_param { slice_point: 4 slice_point: 2 }', n_tops=3
        ).output_shapes([(1, 6, 2, 2)])
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Slice" slice_param { axis: 1 slice_dim: 1 }', n_tops=2)
    assert make_layer('type: "Slice"', n_tops=2).num_outputs(1) is None


def test_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    x = randn(rng, 1, 2, 3, 3)
    outs = compare_cv(tmp_path, 'type: "Split"', [x], n_tops=3)
    assert len(outs) == 3
    outs[0][...] = 0  # tops must not alias each other
    assert_close(outs[1], x)


@pytest.mark.parametrize(
    ("params", "out"),
    [
        ("", (2, 60)),
        ("axis: 2", (2, 3, 20)),
        ("axis: 1 end_axis: 2", (2, 12, 5)),
        ("axis: 0 end_axis: -2", (24, 5)),
    ],
)
def test_flatten_vs_opencv(tmp_path: Path, params: str, out: Any) -> None:
    rng = np.random.default_rng(18)
    x = randn(rng, 2, 3, 4, 5)
    (y,) = compare_cv(tmp_path, f'type: "Flatten" flatten_param {{ {params} }}', [x])
    assert y.shape == out
    assert_close(y, x.reshape(out))


@pytest.mark.parametrize(
    ("params", "out"),
    [
        ("shape { dim: 0 dim: -1 }", (2, 60)),
        ("shape { dim: 0 dim: 0 dim: -1 dim: 2 }", (2, 3, 10, 2)),
        ("shape { dim: -1 dim: 5 dim: 4 }", (6, 5, 4)),
        ("shape { dim: 2 dim: 2 } axis: 2 num_axes: 1", (2, 3, 2, 2, 5)),
        ("shape { dim: -1 } axis: 1", (2, 60)),
        ("shape { dim: 1 dim: 1 } axis: -1", (2, 3, 4, 5, 1, 1)),
    ],
)
def test_reshape_vs_opencv(tmp_path: Path, params: str, out: Any) -> None:
    rng = np.random.default_rng(19)
    x = randn(rng, 2, 3, 4, 5)
    (y,) = run_ours(f'type: "Reshape" reshape_param {{ {params} }}', [x])
    assert y.shape == out
    assert_close(y, x.reshape(out))
    if len(out) <= 4:
        ref = run_cv(tmp_path, f'type: "Reshape" reshape_param {{ {params} }}', [x])[0]
        assert_close(y, ref.reshape(out))


def test_reshape_errors() -> None:
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Reshape" reshape_param { shape { dim: -1 dim: -1 } }')
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Reshape" reshape_param { shape { dim: 7 dim: -1 } }').output_shapes(
            [(2, 3, 4, 5)]
        )
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Reshape" reshape_param { shape { dim: 3 dim: 5 } }').output_shapes(
            [(2, 3, 4, 5)]
        )


@pytest.mark.parametrize("order", [(0, 2, 3, 1), (0, 3), (), (1, 0, 3, 2)])
def test_permute_vs_opencv(tmp_path: Path, order: tuple[int, ...]) -> None:
    rng = np.random.default_rng(20)
    x = randn(rng, 2, 3, 4, 5)
    body = 'type: "Permute" permute_param { ' + " ".join(f"order: {o}" for o in order) + " }"
    (y,) = run_ours(body, [x])
    full = list(order) + [i for i in range(4) if i not in order]
    assert_close(y, np.transpose(x, full))
    if len(order) == 4:  # OpenCV only accepts complete orders
        assert_close(y, run_cv(tmp_path, body, [x])[0])


def test_permute_errors() -> None:
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Permute" permute_param { order: 1 order: 1 }')
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Permute" permute_param { order: 4 }').output_shapes([(1, 2, 3, 4)])


@pytest.mark.parametrize(
    ("params", "ref_shape"),
    [
        ("", (2, 3, 4, 3)),
        ("offset: 1", (2, 3, 4, 3)),
        ("offset: 2 offset: 1", (2, 3, 4, 3)),
        ("axis: 1 offset: 1 offset: 0 offset: 2", (2, 2, 4, 3)),
        ("axis: -1 offset: 3", (2, 3, 7, 3)),
    ],
)
def test_crop_vs_opencv(tmp_path: Path, params: str, ref_shape: Any) -> None:
    rng = np.random.default_rng(21)
    x = randn(rng, 2, 3, 7, 6)
    r = randn(rng, *ref_shape)
    (y,) = compare_cv(tmp_path, f'type: "Crop" crop_param {{ {params} }}', [x, r])
    layer = make_layer(f'type: "Crop" crop_param {{ {params} }}', 2)
    assert isinstance(layer, Crop)
    start = layer.axis % 4
    offs = [0] * 4
    for i in range(start, 4):
        offs[i] = (
            0 if not layer.offset else layer.offset[0 if len(layer.offset) == 1 else i - start]
        )
    idx = tuple(slice(o, o + n) for o, n in zip(offs, y.shape))
    assert_close(y, x[idx])


def test_crop_errors() -> None:
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Crop" crop_param { offset: 5 }', 2).output_shapes(
            [(1, 1, 6, 6), (1, 1, 2, 2)]
        )
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Crop" crop_param { offset: 1 offset: 1 offset: 1 }', 2).output_shapes(
            [(1, 1, 6, 6), (1, 1, 2, 2)]
        )
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "Crop"').output_shapes([(1, 1, 6, 6)])


# ------------------------------------------------------------------------------------ Softmax
@pytest.mark.parametrize("axis", [1, 2, -1, 0])
def test_softmax_vs_opencv(tmp_path: Path, axis: int) -> None:
    rng = np.random.default_rng(22)
    x = randn(rng, 2, 3, 4, 5, scale=5.0)
    body = f'type: "Softmax" softmax_param {{ axis: {axis} }}'
    (y,) = compare_cv(tmp_path, body, [x])
    e = np.exp(x.astype(np.float64))
    assert_close(y, e / e.sum(axis=axis, keepdims=True))


def test_softmax_large_inputs() -> None:
    x = np.array([[1000.0, 1001.0, -1000.0]], dtype=np.float32)
    (y,) = run_ours('type: "Softmax"', [x])
    assert np.all(np.isfinite(y)) and abs(float(y.sum()) - 1) < 1e-6


# ------------------------------------------------------------------------------------- ArgMax
def naive_argmax(x: np.ndarray, k: int, out_max_val: bool, axis: int | None) -> np.ndarray:
    """Caffe's algorithm, literally: sort (value, index) pairs descending per row."""
    if axis is None:
        rows = x.reshape(x.shape[0], -1)
        out = np.zeros((x.shape[0], 2 if out_max_val else 1, k), dtype=np.float64)
        for n in range(rows.shape[0]):
            pairs = sorted(((float(v), j) for j, v in enumerate(rows[n])), reverse=True)[:k]
            out[n, 0] = [j for _, j in pairs]
            if out_max_val:
                out[n, 1] = [v for v, _ in pairs]
        return out.reshape(out.shape + (1,) * (x.ndim - 3))
    xm = np.moveaxis(x, axis, -1)
    res = np.zeros((*xm.shape[:-1], k), dtype=np.float64)
    for idx in itertools.product(*(range(d) for d in xm.shape[:-1])):
        pairs = sorted(((float(v), j) for j, v in enumerate(xm[idx])), reverse=True)[:k]
        res[idx] = [v if out_max_val else j for v, j in pairs]
    return np.moveaxis(res, -1, axis)


@pytest.mark.parametrize(
    ("params", "axis"),
    [
        ("", None),
        ("top_k: 3", None),
        ("top_k: 2 out_max_val: true", None),
        ("axis: 1", 1),
        ("axis: 1 top_k: 2 out_max_val: true", 1),
        ("axis: -1 top_k: 3", 3),
        ("axis: 2 out_max_val: true", 2),
    ],
)
def test_argmax_naive(params: str, axis: int | None) -> None:
    rng = np.random.default_rng(23)
    x = np.round(randn(rng, 2, 4, 3, 5), 1)  # rounding creates ties
    x[0, 0, 0, :] = 9.0
    (y,) = run_ours(f'type: "ArgMax" argmax_param {{ {params} }}', [x])
    layer = make_layer(f'type: "ArgMax" argmax_param {{ {params} }}')
    assert isinstance(layer, ArgMax)
    ref = naive_argmax(x, layer.top_k, layer.out_max_val, axis)
    assert_close(y, ref)
    if axis is None:
        assert y.shape == (2, 2 if layer.out_max_val else 1, layer.top_k, 1)


def test_argmax_3d_layout_and_errors() -> None:
    x = np.array([[[1.0, 5.0, 3.0]]], dtype=np.float32)
    (y,) = run_ours('type: "ArgMax" argmax_param { out_max_val: true top_k: 2 }', [x])
    assert y.tolist() == [[[1.0, 2.0], [5.0, 3.0]]]
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "ArgMax" argmax_param { top_k: 4 }').output_shapes([(1, 1, 3)])
    with pytest.raises(ShapeError, match="'l'"):
        make_layer('type: "ArgMax" argmax_param { axis: 1 top_k: 2 }').output_shapes([(1, 1, 3)])
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "ArgMax" argmax_param { top_k: 0 }')


# -------------------------------------------------------------------------------------- Input
def test_input_layer() -> None:
    lp = text_format.Parse(
        'name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 '
        "dim: 8 } }",
        caffe_pb2.LayerParameter(),
    )
    layer = Input.from_proto(lp)
    assert layer.shape == (1, 3, 8, 8)
    assert Input.MIN_INPUTS == Input.MAX_INPUTS == 0
    assert layer.output_shapes([]) == [(1, 3, 8, 8)]
    with pytest.raises(ShapeError, match="'data'"):
        layer.output_shapes([(1, 3, 8, 8)])
    bad = text_format.Parse('name: "d" type: "Input" top: "d"', caffe_pb2.LayerParameter())
    with pytest.raises(UnsupportedParameterError, match="'d'"):
        Input.from_proto(bad)


# ----------------------------------------------------------------------------- common checks
@pytest.mark.parametrize(
    "body", ['type: "ReLU"', 'type: "Softmax"', 'type: "Flatten"', 'type: "PReLU"']
)
def test_wrong_bottom_count(body: str) -> None:
    with pytest.raises(ShapeError, match="'l'"):
        make_layer(body, 2).output_shapes([(1, 2, 3, 3), (1, 2, 3, 3)])


def test_clip_requires_bounds() -> None:
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Clip" clip_param { min: 0 }')


def test_exp_log_reject_bad_base() -> None:
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Exp" exp_param { base: -2 }')
    with pytest.raises(UnsupportedParameterError, match="'l'"):
        make_layer('type: "Log" log_param { base: 1 }')


def test_classes_are_frozen_and_typed() -> None:
    for type_name, cls in CLASSES.items():
        assert type_name == cls.TYPE and issubclass(cls, Layer)
        assert "forward" in vars(cls) or cls is Input  # implemented, not inherited
        layer = cls(name="n")
        with pytest.raises(AttributeError):
            layer.name = "m"  # type: ignore[misc]


def test_forward_checks_param_blobs() -> None:
    x = np.zeros((1, 3, 2, 2), dtype=np.float32)
    with pytest.raises(WeightsMismatchError, match="'l'"):
        make_layer('type: "Scale"').forward([x], [np.ones(4, np.float32)])
    with pytest.raises(WeightsMismatchError, match="'l'"):
        make_layer('type: "PReLU"').forward([x], [])
    # Legacy 1-padded blobs of the right element count are accepted.
    (y,) = make_layer('type: "Scale"').forward([x + 1], [np.full((1, 1, 1, 3), 2, np.float32)])
    assert np.all(y == 2)


def test_init_params_ranges() -> None:
    rng = np.random.default_rng(24)
    (slope,) = make_layer('type: "PReLU"').init_params([(1, 8, 2, 2)], rng)
    assert slope.shape == (8,) and np.all((slope > 0) & (slope < 1))
    (b,) = make_layer('type: "Bias" bias_param { num_axes: 2 }').init_params([(1, 8, 2, 2)], rng)
    assert b.shape == (8, 2) and float(np.abs(b).max()) < 1.0
    assert make_layer('type: "ReLU"').init_params([(1, 8, 2, 2)], rng) == []


def test_macs() -> None:
    shp = (2, 3, 4, 5)
    assert make_layer('type: "Scale"').macs([shp], [shp]) == 120
    assert make_layer('type: "BatchNorm"').macs([shp], [shp]) == 120
    assert make_layer('type: "ReLU"').macs([shp], [shp]) == 0
