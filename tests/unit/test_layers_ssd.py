"""Float golden model of the SSD layers (Normalize, PriorBox, DetectionOutput).

References: OpenCV's Caffe importer (``cv2.dnn.readNetFromCaffe``) on small prototxts, naive loop
implementations of the SSD Caffe rules written here, hand-built cases and the real
YuFaceDetectNet peer outputs.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_dnn.caffe import caffe_pb2
from edge_dnn.caffe.prototxt import parse_net_text, read_prototxt
from edge_dnn.errors import ShapeError, UnsupportedParameterError
from edge_dnn.layers.detection_output import FLT_MAX, DetectionOutput, to_opencv_layout
from edge_dnn.layers.normalize import Normalize
from edge_dnn.layers.prior_box import PriorBox

YUFACE = Path("/work/shared/caffe/nets/yufacedetectnet_v1")


# ============================================================================ helpers
def _layer_from_text(net_text: str, name: str, cls: type[Any]) -> Any:
    """Parse a net prototxt with the project's schema and build one layer by name."""
    net = parse_net_text(net_text, phase=None)
    (lp,) = [lp for lp in net.layer if lp.name == name]
    return cls.from_proto(lp)


def _opencv(
    tmp_path: Path,
    net_text: str,
    inputs: dict[str, np.ndarray],
    weights: dict[str, list[np.ndarray]] | None = None,
) -> np.ndarray:
    """Forward a prototxt (plus optional per-layer blobs) through OpenCV; the last output."""
    proto = tmp_path / "net.prototxt"
    proto.write_text(net_text)
    if weights:
        msg = caffe_pb2.NetParameter()
        for lname, blobs in weights.items():
            lp = msg.layer.add()
            lp.name = lname
            for arr in blobs:
                b = lp.blobs.add()
                b.shape.dim.extend(arr.shape)
                b.data.extend(arr.astype(np.float32).ravel().tolist())
        model = tmp_path / "net.caffemodel"
        model.write_bytes(msg.SerializeToString())
        net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    else:
        net = cv2.dnn.readNetFromCaffe(str(proto))
    for k, v in inputs.items():
        net.setInput(np.ascontiguousarray(v, dtype=np.float32), k)
    return np.asarray(net.forward())


def _input_text(name: str, shape: tuple[int, ...]) -> str:
    dims = " ".join(f"dim: {d}" for d in shape)
    return f'input: "{name}" input_shape {{ {dims} }}\n'


# ============================================================================ Normalize
def _naive_normalize(
    x: np.ndarray, scale: np.ndarray, across: bool, shared: bool, eps: float
) -> np.ndarray:
    """SSD NormalizeLayer by loops, float64: eps inside the square root."""
    n, c, h, w = x.shape
    xd = x.astype(np.float64)
    y = np.empty_like(xd)
    for i in range(n):
        if across:
            norm = math.sqrt(float((xd[i] ** 2).sum()) + eps)
            y[i] = xd[i] / norm
        else:
            for r in range(h):
                for q in range(w):
                    norm = math.sqrt(float((xd[i, :, r, q] ** 2).sum()) + eps)
                    y[i, :, r, q] = xd[i, :, r, q] / norm
        for ch in range(c):
            y[i, ch] *= float(scale[0] if shared else scale[ch])
    return y


@pytest.mark.parametrize(("across", "shared"), [(False, False), (False, True), (True, True)])
def test_normalize_vs_opencv(tmp_path: Path, across: bool, shared: bool) -> None:
    rng = np.random.default_rng(11)
    shape = (2, 5, 4, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    scale = rng.uniform(1.0, 20.0, size=(1,) if shared else (shape[1],)).astype(np.float32)
    text = _input_text("x", shape) + (
        'layer { name: "norm" type: "Normalize" bottom: "x" top: "y" '
        f"norm_param {{ across_spatial: {str(across).lower()} "
        f"channel_shared: {str(shared).lower()} }} }}\n"
    )
    layer = _layer_from_text(text, "norm", Normalize)
    assert (layer.across_spatial, layer.channel_shared) == (across, shared)
    assert layer.param_shapes([shape]) == [scale.shape]
    (got,) = layer.forward([x], [scale])
    ref = _opencv(tmp_path, text, {"x": x}, {"norm": [scale]})
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        got, _naive_normalize(x, scale, across, shared, 1e-10), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(("across", "shared"), [(True, False), (False, False), (True, True)])
def test_normalize_vs_naive_with_large_eps(across: bool, shared: bool) -> None:
    # A large eps on small values tells "sqrt(sum + eps)" from "sqrt(sum) + eps". OpenCV rejects
    # across_spatial with a per-channel scale, so that case has only the naive reference.
    rng = np.random.default_rng(12)
    shape = (2, 3, 5, 4)
    x = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, size=(1,) if shared else (3,)).astype(np.float32)
    layer = Normalize(name="n", across_spatial=across, channel_shared=shared, eps=0.25)
    (got,) = layer.forward([x], [scale])
    np.testing.assert_allclose(
        got, _naive_normalize(x, scale, across, shared, float(np.float32(0.25))), rtol=2e-6
    )


def test_normalize_large_eps_vs_opencv(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    shape = (1, 4, 3, 3)
    x = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    scale = np.asarray([3.0], dtype=np.float32)
    text = _input_text("x", shape) + (
        'layer { name: "norm" type: "Normalize" bottom: "x" top: "y" '
        "norm_param { across_spatial: false eps: 0.25 } }\n"
    )
    layer = _layer_from_text(text, "norm", Normalize)
    assert layer.channel_shared and layer.eps == pytest.approx(0.25)
    (got,) = layer.forward([x], [scale])
    np.testing.assert_allclose(got, _opencv(tmp_path, text, {"x": x}, {"norm": [scale]}), rtol=1e-5)


def test_normalize_defaults_params_and_errors() -> None:
    rng = np.random.default_rng(14)
    text = _input_text("x", (1, 6, 2, 2)) + (
        'layer { name: "a" type: "Normalize" bottom: "x" top: "a" }\n'
        'layer { name: "b" type: "Normalize" bottom: "x" top: "b" norm_param { '
        'across_spatial: false channel_shared: false scale_filler { type: "constant" '
        "value: 20 } } }\n"
    )
    a = _layer_from_text(text, "a", Normalize)
    b = _layer_from_text(text, "b", Normalize)
    assert (a.across_spatial, a.channel_shared, a.eps) == (True, True, 1e-10)
    assert b.scale_init == 20.0
    assert a.param_shapes([(1, 6, 2, 2)]) == [(1,)]
    assert b.param_shapes([(1, 6, 2, 2)]) == [(6,)]
    (scale,) = b.init_params([(1, 6, 2, 2)], rng)
    assert scale.shape == (6,) and scale.dtype == np.float32
    assert np.all((scale > 17.9) & (scale < 22.1))
    x = np.ones((1, 6, 2, 2), dtype=np.float32)
    with pytest.raises(ShapeError, match=r"'b'.*scale blob has 1 values, expected 6"):
        b.forward([x], [np.ones(1, dtype=np.float32)])
    with pytest.raises(ShapeError, match=r"'a'"):
        a.output_shapes([(5,)])


# ============================================================================ PriorBox
def _naive_priors(
    lh: int,
    lw: int,
    img_h: int,
    img_w: int,
    *,
    mins: tuple[float, ...],
    maxs: tuple[float, ...] = (),
    ars: tuple[float, ...] = (),
    flip: bool = True,
    clip: bool = False,
    var: tuple[float, ...] = (0.1,),
    step_h: float = 0.0,
    step_w: float = 0.0,
    offset: float = 0.5,
    truncate: bool = True,
) -> np.ndarray:
    """SSD PriorBoxLayer by loops (double precision), including the int() of the sizes."""
    ratios = [1.0]
    for a in ars:
        if all(abs(a - r) >= 1e-6 for r in ratios):
            ratios.append(a)
            if flip:
                ratios.append(1.0 / a)
    sh = step_h or img_h / lh
    sw = step_w or img_w / lw
    coords: list[float] = []
    for h in range(lh):
        for w in range(lw):
            cx, cy = (w + offset) * sw, (h + offset) * sh
            for s, mn in enumerate(mins):
                m = float(int(mn)) if truncate else mn
                boxes = [(m, m)]
                if maxs:
                    mx = float(int(maxs[s])) if truncate else maxs[s]
                    boxes.append((math.sqrt(m * mx),) * 2)
                boxes += [
                    (m * math.sqrt(r), m / math.sqrt(r)) for r in ratios if abs(r - 1) >= 1e-6
                ]
                for bw, bh in boxes:
                    coords += [
                        (cx - bw / 2) / img_w,
                        (cy - bh / 2) / img_h,
                        (cx + bw / 2) / img_w,
                        (cy + bh / 2) / img_h,
                    ]
    c = np.asarray(coords)
    if clip:
        c = np.clip(c, 0.0, 1.0)
    v = np.tile(np.resize(np.asarray(var, dtype=np.float64), 4), c.size // 4)
    return np.stack([c, v])[None]


_PRIOR_CASES = [
    # (prior_box_param text, feature HxW, image HxW)
    (
        "min_size: 30 max_size: 60 aspect_ratio: 2 flip: true clip: false "
        "variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 8 offset: 0.5",
        (5, 6),
        (40, 48),
    ),
    (
        # two min sizes, no flip, clip, one variance, step computed from a non-square image
        "min_size: 10 min_size: 16 aspect_ratio: 2 aspect_ratio: 3 flip: false clip: true "
        "variance: 0.2",
        (4, 7),
        (30, 50),
    ),
    (
        # duplicates and 1.0 among the ratios, per-min max sizes, step_h/step_w, odd offset
        "min_size: 20 max_size: 50 min_size: 40 max_size: 90 aspect_ratio: 2 aspect_ratio: 0.5 "
        "aspect_ratio: 2 aspect_ratio: 1 aspect_ratio: 3 flip: true clip: true "
        "variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step_h: 10 step_w: 12 offset: 0.3",
        (3, 4),
        (32, 45),
    ),
    (
        # OpenCV's explicit sizes with two offset pairs
        "width: 10 width: 20 height: 15 height: 8 offset_h: 0.25 offset_h: 0.75 "
        "offset_w: 0.2 offset_w: 0.6 clip: false variance: 0.1 step: 4",
        (3, 5),
        (12, 20),
    ),
    (
        # step absent and image smaller than stride*cells: boxes leave the image; clip false
        "min_size: 64 aspect_ratio: 1.5 clip: false variance: 0.1 variance: 0.1 "
        "variance: 0.2 variance: 0.2 offset: 0",
        (2, 3),
        (17, 23),
    ),
]


def _prior_net(param: str, feat: tuple[int, int], img: tuple[int, int]) -> str:
    return (
        _input_text("feat", (1, 2, *feat))
        + _input_text("data", (1, 3, *img))
        + 'layer { name: "pb" type: "PriorBox" bottom: "feat" bottom: "data" top: "pb" '
        f"prior_box_param {{ {param} }} }}\n"
    )


@pytest.mark.parametrize(("param", "feat", "img"), _PRIOR_CASES)
def test_prior_box_vs_opencv(
    tmp_path: Path, param: str, feat: tuple[int, int], img: tuple[int, int]
) -> None:
    text = _prior_net(param, feat, img)
    layer = _layer_from_text(text, "pb", PriorBox)
    fm = np.zeros((1, 2, *feat), dtype=np.float32)
    im = np.zeros((1, 3, *img), dtype=np.float32)
    (got,) = layer.forward([fm, im], [])
    ref = _opencv(tmp_path, text, {"feat": fm, "data": im})
    assert layer.output_shapes([fm.shape, im.shape]) == [ref.shape]
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


def test_prior_box_order_and_dedup_vs_naive() -> None:
    layer = PriorBox(
        name="pb",
        min_sizes=(20.0, 40.0),
        max_sizes=(50.0, 90.0),
        aspect_ratios=(2.0, 0.5, 2.0, 1.0, 3.0),
        flip=True,
        clip=True,
        variances=(0.1, 0.1, 0.2, 0.2),
        step_h=10.0,
        step_w=12.0,
        offset=0.3,
    )
    # ratios -> [1, 2, 1/2, 3, 1/3]: 0.5 and the second 2 and 1 are duplicates
    assert layer.num_priors() == 2 * (1 + 1 + 4)
    bw, bh = layer.box_sizes()
    np.testing.assert_allclose(bw[:3], [20.0, math.sqrt(20 * 50), 20 * math.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(bh[:3], [20.0, math.sqrt(20 * 50), 20 / math.sqrt(2)], rtol=1e-6)
    fm, im = np.zeros((1, 1, 3, 4), np.float32), np.zeros((1, 3, 32, 45), np.float32)
    (got,) = layer.forward([fm, im], [])
    ref = _naive_priors(
        3,
        4,
        32,
        45,
        mins=(20, 40),
        maxs=(50, 90),
        ars=(2, 0.5, 2, 1, 3),
        clip=True,
        var=(0.1, 0.1, 0.2, 0.2),
        step_h=10,
        step_w=12,
        offset=0.3,
    )
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


def test_prior_box_fractional_sizes(tmp_path: Path) -> None:
    # SSD truncates min/max sizes to int; OpenCV does not. integer_sizes picks the behaviour.
    param = "min_size: 35.84 max_size: 76.8 aspect_ratio: 2 clip: false variance: 0.1 step: 8"
    text = _prior_net(param, (4, 5), (32, 40))
    ssd = _layer_from_text(text, "pb", PriorBox)
    assert ssd.integer_sizes
    fm, im = np.zeros((1, 2, 4, 5), np.float32), np.zeros((1, 3, 32, 40), np.float32)
    (got_ssd,) = ssd.forward([fm, im], [])
    kw: dict[str, Any] = {
        "mins": (35.84,),
        "maxs": (76.8,),
        "ars": (2.0,),
        "step_h": 8,
        "step_w": 8,
    }
    np.testing.assert_allclose(got_ssd, _naive_priors(4, 5, 32, 40, **kw), atol=1e-6, rtol=0)
    (got_cv,) = dataclasses.replace(ssd, integer_sizes=False).forward([fm, im], [])
    np.testing.assert_allclose(
        got_cv, _opencv(tmp_path, text, {"feat": fm, "data": im}), atol=1e-6, rtol=0
    )
    np.testing.assert_allclose(
        got_cv, _naive_priors(4, 5, 32, 40, truncate=False, **kw), atol=1e-6, rtol=0
    )
    assert not np.allclose(got_ssd, got_cv, atol=1e-3)


@pytest.mark.parametrize(
    ("param", "img_hw"),
    [("img_size: 64", (64, 64)), ("img_h: 48 img_w: 80", (48, 80))],
)
def test_prior_box_img_size_overrides_image_bottom(param: str, img_hw: tuple[int, int]) -> None:
    # OpenCV ignores img_size/img_h/img_w (it always uses the image bottom), so the reference is
    # the naive SSD rule; the image bottom has a different size on purpose.
    text = _prior_net(f"min_size: 16 aspect_ratio: 2 variance: 0.1 {param}", (4, 5), (30, 30))
    layer = _layer_from_text(text, "pb", PriorBox)
    assert (layer.img_h, layer.img_w) == img_hw
    fm, im = np.zeros((1, 2, 4, 5), np.float32), np.zeros((1, 3, 30, 30), np.float32)
    (got,) = layer.forward([fm, im], [])
    ref = _naive_priors(4, 5, *img_hw, mins=(16,), ars=(2.0,))
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)


def test_prior_box_ssd_defaults_from_proto() -> None:
    # Unset clip means false (SSD) although OpenCV's schema says true; unset variance is 0.1.
    text = _prior_net("min_size: 100 max_size: 150 aspect_ratio: 2", (2, 2), (40, 40))
    layer = _layer_from_text(text, "pb", PriorBox)
    assert (layer.clip, layer.flip, layer.variances, layer.offset) == (False, True, (0.1,), 0.5)
    fm, im = np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 3, 40, 40), np.float32)
    (got,) = layer.forward([fm, im], [])
    assert got.min() < 0.0 and got.max() > 1.0  # not clipped
    ref = _naive_priors(2, 2, 40, 40, mins=(100,), maxs=(150,), ars=(2.0,))
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("param", "match"),
    [
        ("aspect_ratio: 2", "must provide min_size"),
        ("min_size: 10 max_size: 5", "must be greater than min_size"),
        ("min_size: 10 min_size: 20 max_size: 30", "must pair up"),
        ("min_size: 10 variance: 0.1 variance: 0.2", "1 or 4 values"),
        ("min_size: 10 step: 8 step_h: 8 step_w: 8", "not both"),
        ("min_size: 10 img_h: 8", "both img_h and img_w"),
        ("min_size: 10 width: 4 height: 4", "cannot be combined"),
        ("min_size: 10 offset: 0.5 offset_h: 0.5 offset_w: 0.5", "offset cannot be combined"),
    ],
)
def test_prior_box_bad_params(param: str, match: str) -> None:
    text = _prior_net(param, (2, 2), (8, 8))
    with pytest.raises(UnsupportedParameterError, match=f"'pb'.*{match}"):
        _layer_from_text(text, "pb", PriorBox)


def test_prior_box_shape_errors() -> None:
    layer = PriorBox(name="pb", min_sizes=(4.0,))
    assert layer.output_shapes([(1, 8, 3, 5), (1, 3, 24, 40)]) == [(1, 2, 3 * 5 * 1 * 4)]
    with pytest.raises(ShapeError, match=r"'pb'.*4-D"):
        layer.output_shapes([(1, 8, 3), (1, 3, 24, 40)])
    with pytest.raises(ShapeError, match=r"'pb'.*2 bottoms"):
        layer.output_shapes([(1, 8, 3, 5)])


# ============================================================================ DetectionOutput
def _prior_blob(boxes: list[list[float]], var: tuple[float, ...] = (0.1, 0.1, 0.2, 0.2)) -> Any:
    b = np.asarray(boxes, dtype=np.float32).reshape(-1)
    v = np.tile(np.asarray(var, dtype=np.float32), len(boxes))
    return np.stack([b, v])[None]


def _det(**kw: Any) -> DetectionOutput:
    base: dict[str, Any] = {
        "name": "det",
        "num_classes": 3,
        "nms_threshold": 0.45,
        "code_type": "CORNER",
        "confidence_threshold": 0.1,
    }
    base.update(kw)
    return DetectionOutput(**base)


def _run(layer: DetectionOutput, loc: Any, conf: Any, prior: Any) -> np.ndarray:
    (out,) = layer.forward([np.asarray(loc, np.float32), np.asarray(conf, np.float32), prior], [])
    assert out.dtype == np.float32 and out.ndim == 4 and out.shape[:2] == (1, 1)
    return out[0, 0]


# Two heavily overlapping boxes (IoU 0.81) and one far away; zero loc decodes to the prior.
_BOXES = [[0.1, 0.1, 0.5, 0.5], [0.12, 0.12, 0.52, 0.52], [0.6, 0.6, 0.9, 0.9]]


def test_overlapping_boxes_same_class_one_kept() -> None:
    conf = [[0.1, 0.9, 0.0, 0.2, 0.8, 0.0, 1.0, 0.0, 0.0]]
    rows = _run(_det(), np.zeros((1, 12)), conf, _prior_blob(_BOXES))
    np.testing.assert_allclose(rows, [[0, 1, 0.9, 0.1, 0.1, 0.5, 0.5]], atol=1e-7)


def test_overlapping_boxes_different_classes_both_kept() -> None:
    conf = [[0.1, 0.9, 0.0, 0.2, 0.0, 0.8, 1.0, 0.0, 0.0]]
    rows = _run(_det(), np.zeros((1, 12)), conf, _prior_blob(_BOXES))
    np.testing.assert_allclose(
        rows,
        [[0, 1, 0.9, 0.1, 0.1, 0.5, 0.5], [0, 2, 0.8, 0.12, 0.12, 0.52, 0.52]],
        atol=1e-7,
    )


def test_nms_threshold_is_inclusive_keep() -> None:
    # keep when overlap <= threshold: at a threshold just above the IoU both survive
    iou = (0.38 * 0.38) / (2 * 0.16 - 0.38 * 0.38)
    conf = [[0.1, 0.9, 0.0, 0.2, 0.8, 0.0, 1.0, 0.0, 0.0]]
    rows = _run(_det(nms_threshold=iou + 1e-4), np.zeros((1, 12)), conf, _prior_blob(_BOXES))
    assert rows[:, 2].tolist() == pytest.approx([0.9, 0.8])
    rows = _run(_det(nms_threshold=iou - 1e-4), np.zeros((1, 12)), conf, _prior_blob(_BOXES))
    assert rows[:, 2].tolist() == pytest.approx([0.9])


def _disjoint(n: int) -> list[list[float]]:
    return [[0.1 * i, 0.0, 0.1 * i + 0.05, 0.05] for i in range(n)]


def test_top_k_truncates_candidates_before_nms() -> None:
    scores = [0.5, 0.9, 0.3, 0.7, 0.6]
    conf = np.zeros((5, 2), np.float32)
    conf[:, 1] = scores
    layer = _det(num_classes=2, top_k=3)
    rows = _run(layer, np.zeros((1, 20)), conf.reshape(1, -1), _prior_blob(_disjoint(5)))
    assert rows[:, 2].tolist() == pytest.approx([0.9, 0.7, 0.6])
    np.testing.assert_allclose(rows[:, 3], [0.1, 0.3, 0.4], atol=1e-7)


def test_keep_top_k_across_classes_and_row_order() -> None:
    # 3 classes x 3 disjoint boxes; keep_top_k keeps the 4 best across classes, rows grouped by
    # label (SSD), each label by descending score.
    conf = np.asarray(
        [[0.0, 0.9, 0.2], [0.0, 0.3, 0.8], [0.0, 0.5, 0.85]], dtype=np.float32
    ).reshape(1, -1)
    layer = _det(keep_top_k=4)
    rows = _run(layer, np.zeros((1, 12)), conf, _prior_blob(_disjoint(3)))
    assert rows[:, 1].tolist() == [1, 1, 2, 2]
    assert rows[:, 2].tolist() == pytest.approx([0.9, 0.5, 0.85, 0.8])
    # OpenCV layout: sorted by score and zero padded to keep_top_k
    cv_rows = to_opencv_layout(rows[None, None], 5)[0, 0]
    assert cv_rows[:, 2].tolist() == pytest.approx([0.9, 0.85, 0.8, 0.5, 0.0])
    assert not cv_rows[4].any()


def test_confidence_threshold_is_strict_and_background_ignored() -> None:
    conf = np.asarray([[0.99, 0.25, 0.0], [0.99, 0.2500001, 0.0]], dtype=np.float32)
    layer = _det(confidence_threshold=0.25)
    rows = _run(layer, np.zeros((1, 8)), conf.reshape(1, -1), _prior_blob(_disjoint(2)))
    assert rows[:, 1].tolist() == [1] and rows[0, 2] == np.float32(0.2500001)
    # background 2: class 0 is a real class now, class 2 is skipped
    layer = _det(confidence_threshold=0.25, background_label_id=2)
    conf2 = np.asarray([[0.9, 0.0, 0.99], [0.0, 0.0, 0.99]], dtype=np.float32)
    rows = _run(layer, np.zeros((1, 8)), conf2.reshape(1, -1), _prior_blob(_disjoint(2)))
    assert rows[:, :3].tolist() == [[0.0, 0.0, pytest.approx(0.9)]]


def test_share_location_false_uses_per_class_boxes() -> None:
    # loc layout: prior-major, then class, then 4 offsets; CORNER with variance (0.1.. ) scaling
    loc = np.zeros((2, 3, 4), dtype=np.float32)
    loc[0, 1] = [1.0, 0.0, 0.0, 0.0]  # class 1 of prior 0: xmin += 0.1 * 1
    loc[0, 2] = [0.0, 0.0, 0.0, -1.0]  # class 2 of prior 0: ymax -= 0.2 * 1
    loc[0, 0] = [5.0, 5.0, 5.0, 5.0]  # background loc: never decoded into output
    conf = np.asarray([[0.0, 0.9, 0.8], [0.0, 0.0, 0.0]], dtype=np.float32)
    layer = _det(share_location=False)
    rows = _run(layer, loc.reshape(1, -1), conf.reshape(1, -1), _prior_blob(_disjoint(2)))
    np.testing.assert_allclose(
        rows,
        [[0, 1, 0.9, 0.1, 0.0, 0.05, 0.05], [0, 2, 0.8, 0.0, 0.0, 0.05, 0.05 - 0.2]],
        atol=1e-7,
    )


def test_no_detections_gives_caffe_ssd_placeholder_rows() -> None:
    layer = _det()
    conf = np.zeros((1, 9), dtype=np.float32)
    rows = _run(layer, np.zeros((1, 12)), conf, _prior_blob(_BOXES))
    assert rows.tolist() == [[0, -1, -1, -1, -1, -1, -1]]
    rows = _run(layer, np.zeros((2, 12)), np.zeros((2, 9)), _prior_blob(_BOXES))
    assert rows.tolist() == [[0, -1, -1, -1, -1, -1, -1], [1, -1, -1, -1, -1, -1, -1]]
    assert not to_opencv_layout(rows[None, None], 4).any()
    # keep_top_k 0 drops everything, so the placeholder appears too
    conf_hit = [[0.1, 0.9, 0.0, 0.2, 0.8, 0.0, 1.0, 0.0, 0.0]]
    rows = _run(_det(keep_top_k=0), np.zeros((1, 12)), conf_hit, _prior_blob(_BOXES))
    assert rows.tolist() == [[0, -1, -1, -1, -1, -1, -1]]


def test_adaptive_eta() -> None:
    # B overlaps A with IoU 0.6: kept at threshold 0.9, suppressed once eta halves it to 0.45.
    a = [0.0, 0.0, 0.4, 0.4]
    b = [0.0, 0.0, 0.4, 0.24]  # inside A, area 0.6 of A
    conf = [[0.0, 0.9, 0.0, 0.8]]
    prior = _prior_blob([a, b])
    keep_both = _run(_det(num_classes=2, nms_threshold=0.9), np.zeros((1, 8)), conf, prior)
    assert len(keep_both) == 2
    one = _run(_det(num_classes=2, nms_threshold=0.9, eta=0.5), np.zeros((1, 8)), conf, prior)
    assert one[:, 2].tolist() == pytest.approx([0.9])
    # a threshold of 0.5 is not > 0.5, so eta leaves it alone and C (IoU 0.4 with A) survives
    c = [0.0, 0.0, 0.4, 0.16]
    prior = _prior_blob([a, c])
    both = _run(_det(num_classes=2, nms_threshold=0.5, eta=0.5), np.zeros((1, 8)), conf, prior)
    assert len(both) == 2


def test_batch_of_two_images() -> None:
    conf = np.asarray(
        [
            [0.1, 0.9, 0.0, 0.2, 0.8, 0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.7, 0.0, 0.0, 0.0, 0.0, 0.6, 0],
        ],
        dtype=np.float32,
    )
    rows = _run(_det(), np.zeros((2, 12)), conf, _prior_blob(_BOXES))
    assert rows[:, :3].tolist() == [
        [0, 1, pytest.approx(0.9)],
        [1, 1, pytest.approx(0.6)],
        [1, 2, pytest.approx(0.7)],
    ]


def test_decode_hand_values() -> None:
    prior = _prior_blob([[0.2, 0.2, 0.6, 0.6]])
    loc = np.asarray([[1.0, -1.0, 0.5, 0.0]], dtype=np.float32)
    conf = np.asarray([[0.0, 1.0]], dtype=np.float32)

    def box(**kw: Any) -> list[float]:
        return _run(_det(num_classes=2, **kw), loc, conf, prior)[0, 3:].tolist()

    cx, cy = 0.4 + 0.1 * 1.0 * 0.4, 0.4 - 0.1 * 0.4
    w, h = math.exp(0.2 * 0.5) * 0.4, 0.4
    want = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    np.testing.assert_allclose(box(code_type="CENTER_SIZE"), want, atol=1e-6)
    cx, cy, w = 0.4 + 1.0 * 0.4, 0.4 - 0.4, math.exp(0.5) * 0.4
    np.testing.assert_allclose(
        box(code_type="CENTER_SIZE", variance_encoded_in_target=True),
        [cx - w / 2, cy - 0.2, cx + w / 2, cy + 0.2],
        atol=1e-6,
    )
    np.testing.assert_allclose(box(code_type="CORNER"), [0.3, 0.1, 0.7, 0.6], atol=1e-6)
    np.testing.assert_allclose(
        box(code_type="CORNER_SIZE"),
        [0.2 + 0.04, 0.2 - 0.04, 0.6 + 0.2 * 0.5 * 0.4, 0.6],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        box(code_type="CORNER_SIZE", variance_encoded_in_target=True),
        [0.2 + 0.4, 0.2 - 0.4, 0.6 + 0.2, 0.6],
        atol=1e-6,
    )
    # OpenCV's clip: decoded boxes clamped to [0, 1]
    np.testing.assert_allclose(
        box(code_type="CORNER", variance_encoded_in_target=True, clip=True),
        [1.0, 0.0, 1.0, 0.6],
        atol=1e-6,
    )


# ---------------------------------------------------------------------------- vs OpenCV
def _random_det_inputs(
    rng: np.random.Generator, num: int, p: int, c: int, n_loc: int, pixel: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ctr = rng.uniform(0.1, 0.9, size=(p, 2))
    wh = rng.uniform(0.05, 0.4, size=(p, 2))
    boxes = np.concatenate([ctr - wh / 2, ctr + wh / 2], axis=1)
    if pixel:
        boxes = boxes * 100.0
    prior = _prior_blob(boxes.tolist())
    loc = (rng.standard_normal((num, p * n_loc * 4)) * 0.5).astype(np.float32)
    logits = rng.standard_normal((num, p, c)) * 1.5
    conf = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return loc, conf.reshape(num, -1).astype(np.float32), prior


def _det_net(num: int, p: int, c: int, n_loc: int, param: str) -> str:
    # OpenCV wants a boxes-only prior blob when the variances are encoded in the target.
    prior_ch = 1 if "variance_encoded_in_target: true" in param else 2
    return (
        _input_text("loc", (num, p * n_loc * 4))
        + _input_text("conf", (num, p * c))
        + _input_text("prior", (1, prior_ch, p * 4))
        + 'layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" '
        f'bottom: "prior" top: "det" detection_output_param {{ {param} }} }}\n'
    )


_DET_CASES = [
    # (num, priors, classes, detection_output_param)
    (
        1,
        60,
        4,
        "num_classes: 4 share_location: true background_label_id: 0 nms_param { "
        "nms_threshold: 0.45 top_k: 40 } code_type: CENTER_SIZE keep_top_k: 12 "
        "confidence_threshold: 0.3",
    ),
    (
        1,
        60,
        4,
        "num_classes: 4 share_location: false background_label_id: 0 nms_param { "
        "nms_threshold: 0.3 } code_type: CENTER_SIZE keep_top_k: 200 confidence_threshold: 0.25",
    ),
    (
        2,
        50,
        3,
        "num_classes: 3 share_location: true background_label_id: 1 nms_param { "
        "nms_threshold: 0.5 top_k: 10 } code_type: CORNER keep_top_k: 8 "
        "confidence_threshold: 0.2",
    ),
    (
        1,
        80,
        2,
        "num_classes: 2 share_location: true background_label_id: 0 nms_param { nms_threshold: 0.2 "
        "top_k: 30 } code_type: CENTER_SIZE variance_encoded_in_target: true keep_top_k: 30 "
        "confidence_threshold: 0.4 clip: true",
    ),
    (
        1,
        40,
        3,
        "num_classes: 3 share_location: true background_label_id: 0 "
        "nms_param { nms_threshold: 0.4 } code_type: CENTER_SIZE keep_top_k: 40 "
        "confidence_threshold: 0.3 normalized_bbox: false",
    ),
]


@pytest.mark.parametrize(("num", "p", "c", "param"), _DET_CASES)
def test_detection_output_vs_opencv(tmp_path: Path, num: int, p: int, c: int, param: str) -> None:
    text = _det_net(num, p, c, 1 if "share_location: false" not in param else c, param)
    layer = _layer_from_text(text, "det", DetectionOutput)
    rng = np.random.default_rng(20 + p + c + num)
    loc, conf, prior = _random_det_inputs(
        rng, num, p, c, layer.num_loc_classes, pixel=not layer.normalized_bbox
    )
    if layer.variance_encoded_in_target:
        prior = prior[:, :1]
    (got,) = layer.forward([loc, conf, prior], [])
    ref = _opencv(tmp_path, text, {"loc": loc, "conf": conf, "prior": prior})
    bound = layer.output_shapes([loc.shape, conf.shape, prior.shape])[0]
    assert bound == ref.shape  # same static shape as OpenCV's getMemoryShapes
    assert 1 <= got.shape[2] <= bound[2]
    real = int((got[0, 0, :, 1] != -1).sum())
    assert real == int((ref[0, 0, :, 2] != 0).sum()) > 0
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(to_opencv_layout(got, ref.shape[2]), ref, rtol=0, atol=1e-5 * scale)


# ---------------------------------------------------------------------------- vs naive SSD
def _naive_detection_output(
    layer: DetectionOutput, loc: np.ndarray, conf: np.ndarray, prior: np.ndarray
) -> np.ndarray:
    """SSD DetectionOutput by loops in double precision (normalized boxes)."""
    num = loc.shape[0]
    nc, nl = layer.num_classes, layer.num_loc_classes
    p = prior.shape[2] // 4
    pb = prior[0, 0].reshape(p, 4).astype(np.float64)
    pv = prior[0, 1].reshape(p, 4).astype(np.float64)
    ld = loc.reshape(num, p, nl, 4).astype(np.float64)
    cd = conf.reshape(num, p, nc).astype(np.float64)

    def decode(pr: np.ndarray, v: np.ndarray, b: np.ndarray) -> list[float]:
        if layer.variance_encoded_in_target:
            v = np.ones(4)
        pw, ph = pr[2] - pr[0], pr[3] - pr[1]
        if layer.code_type == "CORNER":
            return [pr[k] + v[k] * b[k] for k in range(4)]
        if layer.code_type == "CORNER_SIZE":
            sz = [pw, ph, pw, ph]
            return [pr[k] + v[k] * b[k] * sz[k] for k in range(4)]
        cx = v[0] * b[0] * pw + (pr[0] + pr[2]) / 2
        cy = v[1] * b[1] * ph + (pr[1] + pr[3]) / 2
        w, h = math.exp(v[2] * b[2]) * pw, math.exp(v[3] * b[3]) * ph
        return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]

    def size(b: list[float]) -> float:
        if b[2] < b[0] or b[3] < b[1]:
            return 0.0
        return (b[2] - b[0]) * (b[3] - b[1])

    def iou(a: list[float], b: list[float]) -> float:
        iw = min(a[2], b[2]) - max(a[0], b[0])
        ih = min(a[3], b[3]) - max(a[1], b[1])
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        return inter / (size(a) + size(b) - inter)

    rows: list[list[float]] = []
    for i in range(num):
        boxes = [[decode(pb[j], pv[j], ld[i, j, lc]) for lc in range(nl)] for j in range(p)]
        picked: dict[int, list[int]] = {}
        for c in range(nc):
            if c == layer.background_label_id:
                continue
            lc = 0 if layer.share_location else c
            cand = [j for j in range(p) if cd[i, j, c] > np.float32(layer.confidence_threshold)]
            cand.sort(key=lambda j: -cd[i, j, c])  # Python's sort is stable
            if layer.top_k > -1:
                cand = cand[: layer.top_k]
            kept: list[int] = []
            thr = layer.nms_threshold
            for j in cand:
                if all(iou(boxes[j][lc], boxes[k][lc]) <= thr for k in kept):
                    kept.append(j)
                    if layer.eta < 1 and thr > 0.5:
                        thr *= layer.eta
            picked[c] = kept
        total = sum(len(v) for v in picked.values())
        if layer.keep_top_k > -1 and total > layer.keep_top_k:
            pairs = [(cd[i, j, c], c, j) for c in sorted(picked) for j in picked[c]]
            pairs.sort(key=lambda t: -t[0])
            picked = {c: [] for c in picked}
            for _, c, j in pairs[: layer.keep_top_k]:
                picked[c].append(j)
        for c in sorted(picked):
            lc = 0 if layer.share_location else c
            for j in picked[c]:
                rows.append([i, c, cd[i, j, c], *boxes[j][lc]])
    if not rows:
        rows = [[i, -1, -1, -1, -1, -1, -1] for i in range(num)]
    return np.asarray(rows, dtype=np.float64)


@pytest.mark.parametrize(
    "kw",
    [
        {"code_type": "CENTER_SIZE", "keep_top_k": 10, "top_k": 50},
        {"code_type": "CORNER_SIZE", "share_location": False, "eta": 0.8, "nms_threshold": 0.7},
        {
            "code_type": "CORNER",
            "background_label_id": 3,
            "keep_top_k": 25,
            "eta": 0.9,
            "nms_threshold": 0.6,
            "variance_encoded_in_target": True,
        },
        {
            "code_type": "CENTER_SIZE",
            "num_classes": 2,
            "background_label_id": -5,
            "share_location": False,
            "confidence_threshold": -FLT_MAX,
            "top_k": 30,
        },
    ],
)
def test_detection_output_vs_naive_ssd(kw: dict[str, Any]) -> None:
    params: dict[str, Any] = {
        "name": "det",
        "num_classes": 4,
        "nms_threshold": 0.45,
        "confidence_threshold": 0.25,
    }
    params.update(kw)
    layer = DetectionOutput(**params)
    rng = np.random.default_rng(30 + len(kw))
    num, p = 2, 70
    loc, conf, prior = _random_det_inputs(rng, num, p, layer.num_classes, layer.num_loc_classes)
    (got,) = layer.forward([loc, conf, prior], [])
    ref = _naive_detection_output(layer, loc, conf, prior)
    assert got.shape == (1, 1, ref.shape[0], 7)
    np.testing.assert_allclose(got[0, 0], ref, rtol=0, atol=2e-6)


def test_detection_output_shapes_and_errors() -> None:
    layer = _det(keep_top_k=7)
    shapes = [(2, 10 * 4), (2, 10 * 3), (1, 2, 10 * 4)]
    assert layer.output_shapes(shapes) == [(1, 1, 14, 7)]
    # no keep_top_k: (classes - background) * min(P, top_k) per image, at least N
    assert _det(top_k=4).output_shapes(shapes) == [(1, 1, 2 * 2 * 4, 7)]
    assert _det().output_shapes(shapes) == [(1, 1, 2 * 2 * 10, 7)]
    assert _det(keep_top_k=0).output_shapes(shapes) == [(1, 1, 2, 7)]
    # 4-D loc/conf from a Flatten-less net are fine
    assert layer.output_shapes([(2, 40, 1, 1), (2, 30, 1, 1), (1, 2, 40)]) == [(1, 1, 14, 7)]
    with pytest.raises(ShapeError, match=r"'det'.*loc has 36 values"):
        layer.output_shapes([(2, 36), (2, 30), (1, 2, 40)])
    with pytest.raises(ShapeError, match=r"'det'.*conf has 20 values"):
        layer.output_shapes([(2, 40), (2, 20), (1, 2, 40)])
    with pytest.raises(ShapeError, match=r"'det'.*prior bottom"):
        layer.output_shapes([(2, 40), (2, 30), (1, 2, 41)])
    with pytest.raises(ShapeError, match=r"'det'.*3 bottoms"):
        layer.output_shapes([(2, 40), (2, 30)])
    with pytest.raises(UnsupportedParameterError, match=r"'det'.*num_classes"):
        _det(num_classes=0)
    with pytest.raises(UnsupportedParameterError, match=r"'det'.*code_type"):
        _det(code_type="CENTER")
    with pytest.raises(UnsupportedParameterError, match=r"'det'.*eta"):
        _det(eta=0.0)
    with pytest.raises(UnsupportedParameterError, match=r"'det'.*background_label_id -1"):
        _det(background_label_id=-1)


def test_detection_output_from_proto_defaults() -> None:
    text = _det_net(1, 4, 2, 1, "num_classes: 2") + (
        'layer { name: "bad" type: "DetectionOutput" bottom: "loc" bottom: "conf" '
        'bottom: "prior" top: "bad" }\n'
    )
    layer = _layer_from_text(text, "det", DetectionOutput)
    assert layer == DetectionOutput(name="det", num_classes=2)
    assert layer.nms_threshold == pytest.approx(0.3)
    assert (layer.top_k, layer.keep_top_k, layer.eta) == (-1, -1, 1.0)
    assert layer.confidence_threshold == -FLT_MAX and layer.code_type == "CORNER"
    with pytest.raises(UnsupportedParameterError, match=r"'bad'.*num_classes"):
        _layer_from_text(text, "bad", DetectionOutput)


# ---------------------------------------------------------------------------- real net
def test_yufacedetectnet_end_to_end() -> None:
    """PriorBox + DetectionOutput from the real prototxt vs the OpenCV 4.12 peer outputs."""
    net = read_prototxt(YUFACE / "yufacedetectnet-open-v1.prototxt")
    layers = {lp.name: lp for lp in net.layer}
    peer = YUFACE / "peer_opencv412"
    img = np.zeros((1, 3, 240, 320), dtype=np.float32)
    # Feature maps of conv3_3..conv6_3 at strides 8, 16, 32, 64 (ceil-mode pooling).
    feats = {"conv3_3": (30, 40), "conv4_3": (15, 20), "conv5_3": (8, 10), "conv6_3": (4, 5)}
    priors = []
    for stem, hw in feats.items():
        pb = PriorBox.from_proto(layers[f"{stem}_norm_mbox_priorbox"])
        priors.append(pb.forward([np.zeros((1, 1, *hw), np.float32), img], [])[0])
    prior = np.concatenate(priors, axis=2)
    ref_prior = np.load(peer / "mbox_priorbox.npy")
    assert prior.shape == ref_prior.shape
    np.testing.assert_allclose(prior, ref_prior, rtol=0, atol=1e-6)

    det = DetectionOutput.from_proto(layers["detection_out"])
    assert (det.num_classes, det.code_type, det.keep_top_k, det.top_k) == (
        2,
        "CENTER_SIZE",
        50,
        100,
    )
    loc = np.load(peer / "mbox_loc.npy")
    conf = np.load(peer / "mbox_conf_flatten.npy")
    (got,) = det.forward([loc, conf, prior], [])
    ref = np.load(peer / "detection_out.npy")
    assert det.output_shapes([loc.shape, conf.shape, prior.shape]) == [ref.shape]
    n_ref = int((ref[0, 0, :, 2] != 0).sum())
    assert got.shape == (1, 1, n_ref, 7)  # OpenCV zero-pads to keep_top_k rows
    bar = 1e-4 * max(1.0, float(np.abs(ref).max()))
    assert float(np.abs(got[0, 0] - ref[0, 0, :n_ref]).max()) <= bar
    assert float(np.abs(to_opencv_layout(got, ref.shape[2]) - ref).max()) <= bar
