"""The bundled ``synthdet`` detector: head decoding, training targets and loss, the training
script (one tiny epoch), the committed artifact, and :class:`CompiledBackend`."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_dnn
from edge_dnn.compiler import compile_model
from edge_dnn.emulator.run import run_compiled
from edge_dnn.errors import InputError
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import available_models, model_files, zoo_path
from vision_pipeline import train_detector as td
from vision_pipeline.backends import CompiledBackend, ModelRunnerLike
from vision_pipeline.detector import (
    INPUT_SHAPE,
    NUM_CLASSES,
    PREPROCESS,
    STRIDE,
    HeatmapDecoder,
    load_synthdet,
    nms,
)
from vision_pipeline.errors import VisionError
from vision_pipeline.preprocess import Geometry, Preprocessor
from vision_pipeline.sources import GroundTruth

GH, GW = INPUT_SHAPE[2] // STRIDE, INPUT_SHAPE[3] // STRIDE


def _heads(peaks: list[tuple[int, int, int, float, tuple[float, float, float, float]]]) -> tuple:
    """Heads with background logits -6 and the given (class, row, col, logit, box) cells."""
    heat = np.full((1, NUM_CLASSES, GH, GW), -6.0, np.float32)
    box = np.zeros((1, 4, GH, GW), np.float32)
    for k, i, j, z, b in peaks:
        heat[0, k, i, j] = z
        box[0, :, i, j] = b
    return heat, box


# ============================================================================ decoding
def test_decoder_turns_a_peak_into_a_frame_box_by_hand() -> None:
    # class 1 (label 2) at cell (3, 5): centre offset (0.25, -0.5) cells, size 32x16 input px
    heat, box = _heads([(1, 3, 5, 2.0, (0.25, -0.5, math.log(2.0), 0.0))])
    geo = Geometry((240, 320), INPUT_SHAPE[2:], (128 / 320, 96 / 240), (0.0, 0.0))
    dets = HeatmapDecoder(sensor="cam")({"heat": heat, "box": box}, geo)
    assert len(dets) == 1
    d = dets[0]
    cx, cy = (5 + 0.5 + 0.25) * STRIDE, (3 + 0.5 - 0.5) * STRIDE  # input pixels
    want = np.array([cx - 16, cy - 8, cx + 16, cy + 8]) / np.array([0.4, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(d.box, want, atol=1e-9)
    assert d.label == 2 and d.name == "disc" and d.sensor == "cam"
    assert d.score == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_decoder_keeps_local_maxima_above_threshold_and_suppresses_overlaps() -> None:
    heat, box = _heads(
        [
            (0, 2, 2, 3.0, (0, 0, 0, 0)),
            (0, 2, 3, 1.0, (0, 0, 0, 0)),  # neighbour of a higher peak: not a maximum
            (2, 2, 2, 2.0, (0.1, 0, 0, 0)),  # another class on the same object: NMS drops it
            (1, 8, 12, 0.5, (0, 0, 0.5, 0.5)),  # score 0.62
            (1, 10, 1, -1.0, (0, 0, 0, 0)),  # score 0.27: below min_score
        ]
    )
    geo = Geometry(INPUT_SHAPE[2:], INPUT_SHAPE[2:], (1.0, 1.0), (0.0, 0.0))
    dets = HeatmapDecoder(min_score=0.35)({"heat": heat, "box": box}, geo)
    assert [(d.label, round(d.score, 3)) for d in dets] == [(1, 0.953), (2, 0.622)]
    everything = HeatmapDecoder(min_score=0.2, nms_iou=1.0)({"heat": heat, "box": box}, geo)
    assert [d.label for d in everything] == [1, 3, 2, 2]


def test_nms_by_hand() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    keep = nms(boxes, np.array([0.5, 0.9, 0.3, 0.5]), 0.5)
    assert keep.tolist() == [1, 2]


def test_decoder_errors_are_typed() -> None:
    geo = Geometry((8, 8), (8, 8), (1.0, 1.0), (0.0, 0.0))
    with pytest.raises(VisionError, match="not among"):
        HeatmapDecoder()({"heat": np.zeros((1, 3, 1, 1))}, geo)
    with pytest.raises(VisionError, match="heads must be"):
        HeatmapDecoder()({"heat": np.zeros((1, 3, 2, 2)), "box": np.zeros((1, 4, 3, 2))}, geo)
    with pytest.raises(VisionError):
        HeatmapDecoder(min_score=2.0)


# ============================================================================ training pieces
def test_targets_peak_at_centre_cells_and_ignore_undetectable_objects() -> None:
    truth = [
        GroundTruth((20.0, 20.0, 44.0, 36.0), 1, 0),  # centre (32, 28): cell (3, 4)
        GroundTruth((80.0, 50.0, 120.0, 90.0), 3, 1, visible=False),
    ]
    heat, heat_w, reg, reg_w = td.build_targets(truth)
    assert heat.shape == (NUM_CLASSES, GH, GW)
    assert np.argwhere(heat >= 1.0).tolist() == [[0, 3, 4]]
    assert heat[2].max() == 0.0  # the ignored bar is no positive ...
    assert heat_w[8, 12] == 0.0 and heat_w[0, 0] == 1.0  # ... and no negative either
    np.testing.assert_allclose(
        reg[:, 3, 4], [32 / 8 - 4.5, 28 / 8 - 3.5, math.log(24 / 16), math.log(16 / 16)], atol=1e-6
    )
    assert reg_w[3, 4] == 1.0 and reg_w[2:5, 3:6].min() >= 0.25 and reg_w[0, 0] == 0.0


def test_focal_loss_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    truth = [GroundTruth((20.0, 20.0, 44.0, 36.0), 2, 0), GroundTruth((90, 40, 100, 80), 3, 1)]
    heat, heat_w, reg, reg_w = (a[None].astype(np.float64) for a in td.build_targets(truth))
    out = rng.standard_normal((1, NUM_CLASSES + 4, GH, GW))

    def loss(o: np.ndarray) -> tuple[float, np.ndarray, dict[str, float]]:
        return td.focal_loss(o, heat, heat_w, reg, reg_w, box_weight=0.7)

    grad = loss(out)[1]
    cells = [tuple(int(v) for v in c) for c in rng.integers(0, [1, 7, GH, GW], size=(25, 4))]
    cells += [(0, 1, 3, 4), (0, 4, 3, 4), (0, 6, 3, 4)]
    eps = 1e-6
    for c in cells:
        a, b = out.copy(), out.copy()
        a[c] += eps
        b[c] -= eps
        num = (loss(a)[0] - loss(b)[0]) / (2 * eps)
        assert num == pytest.approx(grad[c], abs=1e-6), c


def test_training_script_runs_one_tiny_epoch_and_exports_a_caffe_model(tmp_path: Path) -> None:
    out = tmp_path / "m"
    rc = td.main(
        [
            *("--out", str(out), "--epochs", "1", "--train-scenes", "3"),
            *("--heldout-scenes", "1", "--quiet"),
        ]
    )
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["epochs"] == 1 and metrics["data"]["num_train_samples"] == 6
    assert set(metrics["evaluation"]["heldout_float"]) == {"visible", "thermal", "all"}
    # The export equals the training network: edge-dnn's float model and OpenCV's importer.
    g = load_synthdet(out)
    assert g.outputs == ["heat", "box"]
    x = td.make_samples(td.HELDOUT_SEED_BASE, 1, 0).x[:1]
    got = g.run({"data": x})
    net = cv2.dnn.readNetFromCaffe(str(out / "synthdet.prototxt"), str(out / "synthdet.caffemodel"))
    net.setInput(x)
    for name, ref in zip(["heat", "box"], net.forward(["heat", "box"])):
        np.testing.assert_allclose(got[name], ref, atol=1e-4, rtol=1e-4)


def test_training_is_reproducible_from_the_seed() -> None:
    cfg = td.TrainConfig(train_scenes=2, heldout_scenes=1, epochs=1, batch_size=2)
    a, _ = td.train_detector(cfg)
    b, _ = td.train_detector(cfg)
    assert all(np.array_equal(x, y) for k in a for x, y in zip(a[k], b[k]))


# ============================================================================ the artifact
def test_bundled_detector_artifact_and_its_metrics() -> None:
    assert "synthdet" in available_models()
    _, weights = model_files("synthdet")
    assert weights.stat().st_size < 1 << 20
    m = json.loads((zoo_path("synthdet") / "metrics.json").read_text())
    held = m["evaluation"]["heldout_float"]
    for sensor in ("visible", "thermal"):
        assert held[sensor]["precision"] >= 0.6 and held[sensor]["recall"] >= 0.5, held
    assert m["made_by"].startswith("python -m vision_pipeline.train_detector")
    g = load_synthdet()
    assert g.inputs == {"data": INPUT_SHAPE}
    assert {n.type for n in g.nodes} <= {"Input", "Convolution", "ReLU", "Pooling"}


# ============================================================================ CompiledBackend
class _Recorder:
    """A runner that records its feeds and delegates to the emulated board."""

    def __init__(self, inner: ModelRunnerLike) -> None:
        self.inner = inner
        self.feeds: list[dict[str, np.ndarray]] = []

    def run(self, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
        self.feeds.append({k: v.copy() for k, v in feeds.items()})
        return self.inner.run(feeds, raw=raw)


def test_compiled_backend_feeds_exact_quantized_inputs_to_an_injected_runner() -> None:
    from edge_dnn.emulator.run import ModelRunner

    g = load_synthdet()
    rng = np.random.default_rng(3)
    calib = rng.uniform(-2, 2, (2, *INPUT_SHAPE[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(g, {"data": calib}, method="minmax", progress=False)
    model = compile_model(qg, "zcu104", preprocess=PREPROCESS)
    rec = _Recorder(ModelRunner(model))
    be = CompiledBackend(model, runner=rec)
    assert isinstance(rec, ModelRunnerLike)
    spec = be.input_spec()
    assert spec.preprocess == PREPROCESS and spec.quant == model.tensors["data"].quant
    pre = Preprocessor.for_backend(spec, be)
    assert pre.buffer is be.input_buffer("data") and pre.buffer.dtype == np.int8
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    pre(frame)
    out = be.run({"data": pre.buffer})
    assert set(out) == {"heat", "box"} and out["heat"].dtype == np.float32
    fed = rec.feeds[0]["data"]
    assert np.array_equal(model.tensors["data"].quant.quantize(fed), pre.buffer)
    ref = run_compiled(model, {"data": fed})
    assert all(np.array_equal(out[k], ref[k]) for k in out)
    raw = CompiledBackend(model, outputs=["box"], raw_outputs=True).run({"data": pre.buffer})
    assert list(raw) == ["box"] and raw["box"].dtype.kind == "i"
    with pytest.raises(InputError, match="no output"):
        CompiledBackend(model, outputs=["nope"])
    with pytest.raises(Exception, match="no input"):
        be.input_buffer("nope")


def test_compiled_backend_matches_the_integer_reference_on_a_frame() -> None:
    g = edge_dnn.load_caffe(*model_files("synthdet"))
    x = np.random.default_rng(5).uniform(-2, 2, (1, *INPUT_SHAPE[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(g, {"data": x}, method="minmax", progress=False)
    be = CompiledBackend(compile_model(qg, "zcu104"), raw_outputs=True)
    q = qg.tensors["data"].quantize(x)
    got = be.run({"data": q})
    ref = qg.run({"data": x}, raw=True)
    assert all(np.array_equal(got[k], ref[k]) for k in ("heat", "box"))
