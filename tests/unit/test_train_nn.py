"""The numpy trainer's layers: forward against naive loops, backward against finite differences.

Gradient checks run in float64 on small shapes: for a layer ``y = f(x, params)`` and a fixed
random ``r``, the scalar ``L = sum(y * r)`` has ``dL/dy = r``; every analytic gradient from
``backward(r)`` is compared with central differences of ``L`` (step 1e-6).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edge_dnn.errors import EdgeDnnError, ShapeError
from edge_dnn.train import digits, nn
from edge_dnn.zoo import zoo_path

EPS = 1e-6
RTOL = 1e-6


def numeric_grad(f: Callable[[], float], a: np.ndarray) -> np.ndarray:
    """Central-difference gradient of ``f`` with respect to every element of ``a`` (in place)."""
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + EPS
        fp = f()
        flat[i] = old - EPS
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * EPS)
    return g


def assert_close(analytic: np.ndarray, numeric: np.ndarray) -> None:
    scale = max(1.0, float(np.abs(numeric).max()))
    err = float(np.abs(analytic - numeric).max())
    assert err <= RTOL * scale, f"max abs error {err:.3g} (scale {scale:.3g})"


def check_module(m: nn.Module, x: np.ndarray, params: list[np.ndarray], seed: int) -> None:
    """Gradient check of ``m`` with respect to its input and each of its blobs."""
    rng = np.random.default_rng(seed)
    y = m.forward(x, params)
    r = rng.standard_normal(y.shape)
    dx, dps = m.backward(r, params)
    assert dx.shape == x.shape and dx.dtype == np.float64
    assert [d.shape for d in dps] == [p.shape for p in params]

    def loss() -> float:
        return float((m.forward(x, params) * r).sum())

    assert_close(dx, numeric_grad(loss, x))
    for p, dp in zip(params, dps):
        assert_close(dp, numeric_grad(loss, p))


def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int, stride: int) -> np.ndarray:
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - k) // stride + 1
    ow = (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for a in range(n):
        for f in range(o):
            for i in range(oh):
                for j in range(ow):
                    win = xp[a, :, i * stride : i * stride + k, j * stride : j * stride + k]
                    y[a, f, i, j] = (win * w[f]).sum() + b[f]
    return y


def naive_maxpool(x: np.ndarray, k: int, s: int, p: int) -> np.ndarray:
    """Caffe's max pooling written out: ceil rounding, windows clipped to the real image."""
    n, c, h, w = x.shape
    oh = -(-(h + 2 * p - k) // s) + 1
    ow = -(-(w + 2 * p - k) // s) + 1
    if p and (oh - 1) * s >= h + p:
        oh -= 1
    if p and (ow - 1) * s >= w + p:
        ow -= 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = max(i * s - p, 0), max(j * s - p, 0)
            y1, x1 = min(i * s - p + k, h), min(j * s - p + k, w)
            y[:, :, i, j] = x[:, :, y0:y1, x0:x1].max(axis=(2, 3))
    return y


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.01 apart and away from 0, so no kink or tie is within a step."""
    n = int(np.prod(shape))
    v = (rng.permutation(n) - n / 2 + 0.5) * 0.01
    return v.reshape(shape).astype(np.float64)


# ============================================================================ forward references
@pytest.mark.parametrize(("pad", "stride", "hw"), [(1, 1, (5, 6)), (0, 2, (7, 6)), (2, 3, (6, 5))])
def test_conv_forward_matches_naive(pad: int, stride: int, hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    m = nn.Conv2d("c", 3, 4, 3, pad=pad, stride=stride)
    x = rng.standard_normal((2, 3, *hw))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    y = m.forward(x, [w, b])
    ref = naive_conv(x, w, b, pad, stride)
    assert y.shape == ref.shape == (2, *m.output_shape((3, *hw)))
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("k", "s", "p", "hw"),
    [(2, 2, 0, (8, 8)), (2, 2, 0, (5, 7)), (3, 2, 1, (5, 6)), (3, 1, 0, (4, 4))],
)
def test_maxpool_forward_matches_naive(k: int, s: int, p: int, hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    m = nn.MaxPool2d("p", k, s, pad=p)
    x = rng.standard_normal((2, 3, *hw))
    y = m.forward(x, [])
    ref = naive_maxpool(x, k, s, p)
    assert y.shape == ref.shape == (2, *m.output_shape((3, *hw)))
    np.testing.assert_array_equal(y, ref)


def test_maxpool_tie_goes_to_first_in_window() -> None:
    m = nn.MaxPool2d("p", 2, 2)
    x = np.ones((1, 1, 2, 2))
    m.forward(x, [])
    dx, _ = m.backward(np.ones((1, 1, 1, 1)), [])
    np.testing.assert_array_equal(dx[0, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_inner_product_flattens_chw_in_c_order() -> None:
    rng = np.random.default_rng(3)
    m = nn.InnerProduct("ip", 12, 5)
    x = rng.standard_normal((2, 3, 2, 2))
    w, b = rng.standard_normal((5, 12)), rng.standard_normal(5)
    ref = np.array(
        [
            [sum(w[o, i] * x[a].ravel()[i] for i in range(12)) + b[o] for o in range(5)]
            for a in range(2)
        ]
    )
    np.testing.assert_allclose(m.forward(x, [w, b]), ref, rtol=1e-12)


def test_im2col_col2im_are_adjoint() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 6, 5))
    cols, _, _ = nn.im2col(x, 3, 3, 1, 2)
    c = rng.standard_normal(cols.shape)
    lhs = float((cols * c).sum())
    rhs = float((x * nn.col2im(c, x.shape, 3, 3, 1, 2)).sum())
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


# ============================================================================ gradient checks
@pytest.mark.parametrize(("pad", "stride"), [(1, 1), (0, 2)])
def test_conv_gradients(pad: int, stride: int) -> None:
    rng = np.random.default_rng(10)
    m = nn.Conv2d("c", 2, 3, 3, pad=pad, stride=stride)
    x = rng.standard_normal((2, 2, 5, 5))
    check_module(m, x, [rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)], seed=11)


def test_relu_gradient() -> None:
    rng = np.random.default_rng(12)
    check_module(nn.ReLU("r"), distinct(rng, (2, 3, 4, 4)), [], seed=13)


@pytest.mark.parametrize(
    ("k", "s", "p", "hw"), [(2, 2, 0, (4, 6)), (3, 2, 1, (5, 5)), (3, 1, 0, (5, 4))]
)
def test_maxpool_gradient(k: int, s: int, p: int, hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(14)
    check_module(nn.MaxPool2d("p", k, s, pad=p), distinct(rng, (2, 2, *hw)), [], seed=15)


def test_inner_product_gradients() -> None:
    rng = np.random.default_rng(16)
    m = nn.InnerProduct("ip", 12, 4)
    x = rng.standard_normal((3, 3, 2, 2))
    check_module(m, x, [rng.standard_normal((4, 12)), rng.standard_normal(4)], seed=17)


def test_softmax_gradient_and_rows_sum_to_one() -> None:
    rng = np.random.default_rng(18)
    x = rng.standard_normal((3, 5)) * 3
    m = nn.Softmax("s")
    np.testing.assert_allclose(m.forward(x, []).sum(axis=1), 1.0, rtol=1e-12)
    check_module(m, x, [], seed=19)


def test_softmax_cross_entropy_value_and_gradient() -> None:
    rng = np.random.default_rng(20)
    logits = rng.standard_normal((4, 6)) * 2
    labels = rng.integers(0, 6, 4)
    loss, grad = nn.softmax_cross_entropy(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(4), labels]).mean(), rel=1e-12)
    assert_close(grad, numeric_grad(lambda: nn.softmax_cross_entropy(logits, labels)[0], logits))


def test_sequential_end_to_end_gradient() -> None:
    """The digits-shaped chain (shrunk) through the loss: every blob's gradient."""
    rng = np.random.default_rng(21)
    net = nn.Sequential(
        [
            nn.Conv2d("c1", 1, 2, 3, pad=1),
            nn.ReLU("r1"),
            nn.MaxPool2d("p1", 2),
            nn.Conv2d("c2", 2, 3, 3, pad=1),
            nn.ReLU("r2"),
            nn.MaxPool2d("p2", 2),
            nn.InnerProduct("ip1", 3, 4),
            nn.ReLU("r3"),
            nn.InnerProduct("ip2", 4, 3),
        ],
        input_shape=(1, 4, 4),
    )
    params = net.init_params(rng, np.float64)
    for blobs in params.values():
        blobs[1][...] = rng.standard_normal(blobs[1].shape) * 0.1
    x = rng.standard_normal((3, 1, 4, 4))
    labels = np.array([0, 2, 1])
    _, d = nn.softmax_cross_entropy(net.forward(x, params), labels)
    grads = net.backward(d, params)
    assert set(grads) == {"c1", "c2", "ip1", "ip2"}

    def loss() -> float:
        return nn.softmax_cross_entropy(net.forward(x, params), labels)[0]

    for name, blobs in params.items():
        for p, g in zip(blobs, grads[name]):
            assert_close(g, numeric_grad(loss, p))


# ============================================================================ shapes, export
def test_shape_errors_name_the_layer() -> None:
    with pytest.raises(ShapeError, match="'conv9'"):
        nn.Sequential([nn.Conv2d("conv9", 3, 4, 3)], input_shape=(1, 8, 8))
    with pytest.raises(ShapeError, match="'ipx'"):
        nn.Sequential([nn.InnerProduct("ipx", 10, 2)], input_shape=(1, 3, 3))


def test_to_net_parameter_structure() -> None:
    net = nn.Sequential(
        [
            nn.Conv2d("conv1", 1, 4, 3, pad=1),
            nn.ReLU("relu1"),
            nn.MaxPool2d("pool1", 2),
            nn.InnerProduct("ip1", 16, 3),
        ],
        input_shape=(1, 4, 4),
    )
    p = net.to_net_parameter("t")
    assert [lp.type for lp in p.layer] == [
        "Input",
        "Convolution",
        "ReLU",
        "Pooling",
        "InnerProduct",
    ]
    assert list(p.layer[0].input_param.shape[0].dim) == [1, 1, 4, 4]
    assert (list(p.layer[2].bottom), list(p.layer[2].top)) == (["conv1"], ["conv1"])
    assert list(p.layer[3].bottom) == ["conv1"]
    assert p.layer[1].convolution_param.num_output == 4
    assert list(p.layer[1].convolution_param.pad) == [1]
    assert p.layer[3].pooling_param.kernel_size == 2
    assert p.layer[4].inner_product_param.num_output == 3


# ============================================================================ optimizers
@pytest.mark.parametrize("make", [lambda: nn.SGD(0.1, momentum=0.9), lambda: nn.Adam(0.1)])
def test_optimizers_minimise_a_quadratic(make: Callable[[], nn.SGD | nn.Adam]) -> None:
    rng = np.random.default_rng(22)
    target = rng.standard_normal((3, 2))
    params = {"w": [np.zeros((3, 2))]}
    opt = make()
    for _ in range(300):
        opt.step(params, {"w": [params["w"][0] - target]})
    np.testing.assert_allclose(params["w"][0], target, atol=1e-3)


def test_sgd_momentum_and_decay_formula() -> None:
    params = {"l": [np.array([[1.0]]), np.array([1.0])]}
    opt = nn.SGD(0.1, momentum=0.5, weight_decay=0.2)
    g = {"l": [np.array([[1.0]]), np.array([1.0])]}
    opt.step(params, g)
    opt.step(params, g)
    # weight: v1 = -0.1*(1+0.2*1) = -0.12 -> 0.88; v2 = 0.5*v1 - 0.1*(1+0.176) = -0.1776
    assert params["l"][0][0, 0] == pytest.approx(0.88 - 0.1776)
    # bias: no decay: v1 = -0.1, v2 = -0.15
    assert params["l"][1][0] == pytest.approx(1.0 - 0.1 - 0.15)


# ============================================================================ digits trainer
def test_train_digits_is_seeded() -> None:
    """Two one-epoch runs with one seed give identical float32 blobs and metrics."""
    p1, m1 = digits.train_digits(seed=3, epochs=1)
    p2, m2 = digits.train_digits(seed=3, epochs=1)
    assert set(p1) == {"conv1", "conv2", "ip1", "ip2"}
    for name in p1:
        for a, b in zip(p1[name], p2[name]):
            assert a.dtype == np.float32
            np.testing.assert_array_equal(a, b)
    m1.pop("train_seconds")
    m2.pop("train_seconds")
    assert m1 == m2
    assert m1["float_test_accuracy"] > 0.5


def test_export_round_trip(tmp_path: Path) -> None:
    """export_model + load_params is lossless; the side files are written."""
    params = digits.build_net().init_params(np.random.default_rng(5))
    digits.export_model(tmp_path, params, {"seed": 5})
    back = digits.load_params(tmp_path)
    assert set(back) == set(params)
    for name in params:
        for a, b in zip(params[name], back[name]):
            np.testing.assert_array_equal(a, b)
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"seed": 5}
    assert len(json.loads((tmp_path / "split.json").read_text())["test"]) == 450
    assert (tmp_path / "digits.prototxt").read_text().startswith("#")


def test_zoo_unknown_model_names_the_choices() -> None:
    with pytest.raises(EdgeDnnError, match=r"no bundled model 'nope'.*digits"):
        zoo_path("nope")
