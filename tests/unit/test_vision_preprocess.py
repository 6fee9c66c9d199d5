"""Preprocessing into backend buffers: Caffe semantics (vs a hand computation and vs
Preprocess.apply), quantized integer inputs, letterbox geometry and the no-extra-copy rule."""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Mapping

import cv2
import numpy as np
import pytest

import edge_dnn
from edge_dnn.quant.calib_data import Preprocess
from edge_dnn.quant.qgraph import TensorQuant
from tests.unit.vision_nets import TINY_CLASSIFIER, TINY_SSD, tiny_graph
from vision_pipeline.backends import GraphBackend, InferenceBackend, QuantizedBackend
from vision_pipeline.errors import PreprocessError
from vision_pipeline.preprocess import Geometry, InputSpec, Preprocessor


def _frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# ============================================================================ float path
def test_mean_scale_crop_and_channel_order_match_a_hand_computation() -> None:
    frame = _frame(6, 7)  # already at the resize size: no interpolation involved
    pre = Preprocess(
        resize=(6, 7), crop_size=4, mean_value=(10.0, 20.0, 30.0), scale=0.5, channel_order="RGB"
    )
    spec = InputSpec("data", (1, 3, 4, 4), pre)
    buf = np.zeros((1, 3, 4, 4), np.float32)
    geo = Preprocessor(spec, buf)(frame)
    want = np.zeros((3, 4, 4), np.float32)
    y0, x0 = (6 - 4) // 2, (7 - 4) // 2
    for c in range(3):
        for y in range(4):
            for x in range(4):
                bgr = frame[y0 + y, x0 + x, 2 - c]  # RGB channel c is BGR channel 2 - c
                want[c, y, x] = (np.float32(bgr) - np.float32(pre.mean_value[c])) * np.float32(0.5)
    assert np.array_equal(buf[0], want)
    assert geo.offset == (-x0, -y0) == (-1.0, -1.0) and geo.scale == (1.0, 1.0)


@pytest.mark.parametrize("grey_model", [False, True])
def test_resized_frames_equal_caffe_preprocess_apply(grey_model: bool) -> None:
    frame = _frame(120, 160, seed=2)
    c = 1 if grey_model else 3
    mean = np.random.default_rng(3).uniform(0, 255, size=(c, 40, 48)).astype(np.float32)
    pre = Preprocess(
        resize=(40, 48), crop_size=32, mean_blob=mean, scale=1 / 64, grayscale=grey_model
    )
    spec = InputSpec("data", (1, c, 32, 32), pre)
    buf = np.zeros((1, c, 32, 32), np.float32)
    Preprocessor(spec, buf)(frame)
    src = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if grey_model else frame
    want = pre.apply(cv2.resize(src, (48, 40), interpolation=cv2.INTER_LINEAR))
    assert np.array_equal(buf[0], want)


def test_grey_frames_feed_colour_models_like_a_colour_decode() -> None:
    grey = _frame(20, 30)[:, :, 0].copy()
    spec = InputSpec("data", (1, 3, 20, 30), Preprocess(mean_value=(1.0, 2.0, 3.0)))
    buf = np.zeros((1, 3, 20, 30), np.float32)
    Preprocessor(spec, buf)(grey)
    want = Preprocess(mean_value=(1.0, 2.0, 3.0)).apply(np.repeat(grey[:, :, None], 3, axis=2))
    assert np.array_equal(buf[0], want)


# ============================================================================ integer path
def _naive_quantize(x: np.ndarray, scale: float, lo: int, hi: int) -> np.ndarray:
    out = np.empty(x.shape, dtype=np.int64)
    for i, v in np.ndenumerate(x):
        r = float(v) / scale
        q = math.floor(abs(r) + 0.5) * (1 if r >= 0 else -1)  # half away from zero
        out[i] = min(max(q, lo), hi)
    return out


@pytest.mark.parametrize(
    ("dtype", "scale", "mean", "qmin"),
    [
        ("int8", 2.0, 127.0, -128),
        ("int8", 0.0371, 100.0, -128),
        ("uint8", 1.5, 0.0, 0),
        ("int16", 0.01, 128.0, -32768),
    ],
)
def test_quantized_input_matches_tensorquant_and_rounds_half_away(
    dtype: str, scale: float, mean: float, qmin: int
) -> None:
    frame = _frame(24, 24, seed=5)
    pre = Preprocess(mean_value=(mean,))
    tq = TensorQuant.of(scale, dtype, nonnegative=qmin == 0)
    spec = InputSpec("data", (1, 3, 24, 24), pre, tq)
    buf = np.zeros((1, 3, 24, 24), tq.np_dtype)
    Preprocessor(spec, buf)(frame)
    x = pre.apply(frame)
    assert np.array_equal(buf[0], tq.quantize(x))
    assert np.array_equal(buf[0].astype(np.int64), _naive_quantize(x, tq.scale, tq.qmin, tq.qmax))
    if scale == 2.0:  # odd (pixel - 127) values land exactly on .5: ties must round away
        assert np.any((x / 2.0) % 1 == 0.5)


def _lanes(c: int, h: int, w: int, dtype: str, lanes: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A DMA-buffer-like destination: ``[H][W][lanes]`` words (sentinel 77), and the strided
    ``[1, C, H, W]`` view of its first ``c`` lanes (what ``Runtime.input_buffer`` returns)."""
    words = np.full((h, w, lanes), 77, dtype=dtype)
    return words, words[:, :, :c].transpose(2, 0, 1)[None]


@pytest.mark.parametrize(
    ("dtype", "order", "grey", "crop", "blob"),
    [
        ("int8", "BGR", False, False, False),
        ("int8", "RGB", False, True, False),
        ("uint8", "BGR", False, True, False),
        ("int16", "RGB", False, False, False),
        ("int8", "BGR", True, True, False),
        ("int8", "RGB", False, True, True),  # a mean image: the general arithmetic path
    ],
)
def test_quantized_frames_land_in_a_strided_dma_view_exactly(
    dtype: str, order: str, grey: bool, crop: bool, blob: bool
) -> None:
    frame = _frame(90, 120, seed=11)
    c = 1 if grey else 3
    size = (40, 52) if crop else (32, 32)
    mean_blob = (
        np.random.default_rng(12).uniform(0, 255, (c, *size)).astype(np.float32) if blob else None
    )
    pre = Preprocess(
        resize=size,
        crop_size=32 if crop else None,
        mean_value=() if blob else (104.0, 117.0, 123.0)[:c],
        mean_blob=mean_blob,
        scale=0.0172,
        channel_order=order,
        grayscale=grey,
    )
    tq = TensorQuant.of(0.03 if dtype != "int16" else 0.0005, dtype, nonnegative=dtype == "uint8")
    spec = InputSpec("data", (1, c, 32, 32), pre, tq)
    words, view = _lanes(c, 32, 32, dtype)
    p = Preprocessor(spec, view)
    assert p.buffer is view and (p._lut is None) == blob
    p(frame)
    p(frame)  # again: the in-place lookup must not leak into the next frame
    src = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if grey else frame
    want = tq.quantize(pre.apply(cv2.resize(src, size[::-1], interpolation=cv2.INTER_LINEAR)))
    assert np.array_equal(view[0], want)
    assert (words[:, :, c:] == 77).all()  # the other lanes are not touched
    assert p.copies == 0


def test_a_read_only_buffer_is_a_slot_in_flight() -> None:
    spec = InputSpec("data", (1, 3, 8, 8), quant=TensorQuant.of(1.0, "int8"))
    _, view = _lanes(3, 8, 8, "int8")
    p = Preprocessor(spec, view)
    view.flags.writeable = False  # what Runtime.submit_prepared does
    with pytest.raises(PreprocessError, match="in flight"):
        p(_frame(8, 8))
    view.flags.writeable = True
    p(_frame(8, 8))


def test_quantized_backend_consumes_integers_bit_exactly() -> None:
    g = tiny_graph(TINY_SSD)
    calib = np.random.default_rng(1).uniform(-2, 2, size=(4, 3, 32, 32)).astype(np.float32)
    qg = edge_dnn.quantize(g, calib, method="minmax", progress=False)
    pre = Preprocess(mean_value=(128.0,), scale=1 / 64)
    spec = InputSpec.from_quantized(qg, pre)
    assert spec.quant == qg.tensors["data"]
    ib = QuantizedBackend(qg)
    p = Preprocessor.for_backend(spec, ib)
    assert p.buffer is ib.input_buffer("data") and p.buffer.dtype == np.int8
    frame = _frame(48, 64, seed=9)
    p(frame)
    got = ib.run({"data": p.buffer})
    fb = QuantizedBackend(qg, integer_inputs=False)
    pf = Preprocessor.for_backend(InputSpec.from_graph(qg.graph, pre), fb)
    assert pf.buffer.dtype == np.float32
    pf(frame)
    want = qg.run({"data": pf.buffer})
    assert np.array_equal(got["detection_out"], want["detection_out"])
    assert np.array_equal(fb.run({"data": pf.buffer})["detection_out"], want["detection_out"])


# ============================================================================ geometry
def test_letterbox_keeps_aspect_and_maps_boxes_back() -> None:
    frame = _frame(100, 200)
    spec = InputSpec(
        "data",
        (1, 3, 64, 64),
        Preprocess(mean_value=(128.0,)),
        resize_mode="letterbox",
        pad_value=128,
    )
    buf = np.full((1, 3, 64, 64), 7.0, np.float32)
    geo = Preprocessor(spec, buf)(frame)
    assert geo.scale == (0.32, 0.32) and geo.offset == (0.0, 16.0)
    assert (buf[0, :, :16] == 0).all() and (buf[0, :, 48:] == 0).all()  # pad 128 - mean 128
    inner = cv2.resize(frame, (64, 32), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(buf[0, :, 16:48], inner.transpose(2, 0, 1).astype(np.float32) - 128)
    boxes = np.array([[0, 0, 200, 100], [50, 25, 150, 75]], float)
    assert np.allclose(geo.to_frame(geo.to_input(boxes)), boxes)
    assert np.allclose(geo.normalized_to_frame(np.array([[0, 0.25, 1, 0.75]])), [[0, 0, 200, 100]])


def test_stretch_geometry_maps_normalized_boxes_to_pixels() -> None:
    geo = Preprocessor(InputSpec("data", (1, 3, 64, 64)), np.zeros((1, 3, 64, 64), np.float32))(
        _frame(128, 256)
    )
    assert geo == Geometry((128, 256), (64, 64), (0.25, 0.5), (0.0, 0.0))
    got = geo.normalized_to_frame(np.array([[0.25, 0.5, 0.75, 1.0], [-0.1, -0.1, 1.2, 0.5]]))
    assert np.allclose(got, [[64, 64, 192, 128], [0, 0, 256, 64]])


# ============================================================================ no extra copies
class SpyBackend:
    """Records the arrays ``run`` receives."""

    def __init__(self, inner: GraphBackend) -> None:
        self.inner = inner
        self.seen: list[np.ndarray] = []

    def input_buffer(self, name: str) -> np.ndarray:
        return self.inner.input_buffer(name)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.seen.extend(inputs.values())
        return self.inner.run(inputs)


@pytest.mark.parametrize(
    ("mode", "quant"),
    [
        ("stretch", None),
        ("letterbox", None),
        ("stretch", "int8"),
        ("letterbox", "int8"),
        ("stretch", "int16"),
        ("stretch", "int8-dma"),
    ],
)
def test_no_full_frame_copies_on_the_hot_path(mode: str, quant: str | None) -> None:
    g = tiny_graph(TINY_SSD)
    backend: InferenceBackend = SpyBackend(GraphBackend(g))
    dtype = (quant or "").removesuffix("-dma")
    tq = TensorQuant.of(0.05 if dtype == "int8" else 0.001, dtype) if quant else None
    spec = InputSpec(
        "data", (1, 3, 32, 32), Preprocess(mean_value=(120.0,), scale=0.02), tq, resize_mode=mode
    )
    buf = backend.input_buffer("data") if quant is None else np.zeros((1, 3, 32, 32), dtype)
    if quant == "int8-dma":
        buf = _lanes(3, 32, 32, dtype)[1]
    p = Preprocessor(spec, buf)
    frames = [_frame(480, 640, seed=s) for s in range(4)]
    p(frames[0])
    allocs = p.allocations
    tracemalloc.start()
    try:
        for f in frames[1:]:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            p(f)
            peak = tracemalloc.get_traced_memory()[1] - before
            # A frame is 921,600 bytes; the float32 network input 12 KiB. Only small
            # temporaries (ufunc buffers, views) may be allocated per frame.
            assert peak < 64 * 1024, peak
    finally:
        tracemalloc.stop()
    assert p.copies == 0 and p.allocations == allocs
    assert p.buffer is buf
    if quant is None:
        backend.run({"data": p.buffer})
        assert isinstance(backend, SpyBackend)
        assert backend.seen[-1] is backend.input_buffer("data")
        assert np.shares_memory(backend.seen[-1], buf)


def test_preprocessor_for_backend_writes_into_the_backend_buffer() -> None:
    g = tiny_graph(TINY_CLASSIFIER)
    backend = GraphBackend(g)
    p = Preprocessor.for_backend(InputSpec.from_graph(g), backend)
    assert p.buffer is backend.input_buffer("data")
    p(_frame(30, 40))
    assert np.shares_memory(p.buffer, backend.input_buffer("data"))
    assert backend.input_buffer("data").any()


# ============================================================================ errors
def test_preprocess_errors_are_typed() -> None:
    spec = InputSpec("data", (1, 3, 8, 8))
    with pytest.raises(PreprocessError, match="shape"):
        Preprocessor(spec, np.zeros((1, 3, 8, 9), np.float32))
    with pytest.raises(PreprocessError, match="no input quantization"):
        Preprocessor(spec, np.zeros((1, 3, 8, 8), np.int8))
    with pytest.raises(PreprocessError, match="quantized as int8"):
        Preprocessor(
            InputSpec("data", (1, 3, 8, 8), quant=TensorQuant.of(1.0, "int8")),
            np.zeros((1, 3, 8, 8), np.uint8),
        )
    with pytest.raises(PreprocessError, match="float32 or int"):
        Preprocessor(spec, np.zeros((1, 3, 8, 8), np.float64))
    p = Preprocessor(spec, np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(PreprocessError, match="uint8"):
        p(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(PreprocessError, match="HxWx3"):
        p(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(PreprocessError, match="grayscale=True"):
        InputSpec("data", (1, 1, 8, 8), Preprocess())
    with pytest.raises(PreprocessError, match="crop_size"):
        InputSpec("data", (1, 3, 8, 8), Preprocess(crop_size=6))
    with pytest.raises(PreprocessError, match=r"\[1, 1 or 3, H, W\]"):
        InputSpec("data", (2, 3, 8, 8))
    crop_only = Preprocessor(
        InputSpec("data", (1, 3, 8, 8), Preprocess(crop_size=8)), np.zeros((1, 3, 8, 8), np.float32)
    )
    with pytest.raises(PreprocessError, match="smaller than crop_size"):
        crop_only(np.zeros((6, 6, 3), np.uint8))
    with pytest.raises(PreprocessError, match="malformed"):
        InputSpec.from_metadata("data", (1, 3, 8, 8), {"bogus": 1})


def test_input_spec_from_metadata_round_trip() -> None:
    pre = Preprocess(resize=(10, 12), crop_size=8, mean_value=(1.0, 2.0, 3.0), scale=0.5)
    tq = TensorQuant.of(0.25, "int8")
    spec = InputSpec.from_metadata("data", (1, 3, 8, 8), pre.to_dict(), tq.to_dict())
    assert spec.preprocess == pre and spec.quant == tq and spec.resize_hw == (10, 12)
