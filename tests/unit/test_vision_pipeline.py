"""The threaded pipeline end to end on the float golden model of tiny graphs: lossless file
runs, drop-oldest live runs, fusion of two synchronised sensors, error propagation, shutdown."""

from __future__ import annotations

import _thread
import dataclasses
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from edge_dnn.errors import EdgeDnnError
from edge_dnn.layers.detection_output import DetectionOutput
from edge_dnn.quant.calib_data import Preprocess
from tests.unit.vision_nets import (
    TINY_CLASSIFIER,
    TINY_SSD,
    FakeCapture,
    solid_image,
    tiny_graph,
    vision_threads,
)
from vision_pipeline.backends import GraphBackend
from vision_pipeline.errors import CorruptFrameError, PipelineError, SourceLostError, StageError
from vision_pipeline.fusion import FusionConfig, FusionStage
from vision_pipeline.pipeline import Pipeline, PipelineConfig, SensorModel
from vision_pipeline.postprocess import (
    ClassifierDecoder,
    Detection,
    IouTracker,
    SSDDecoder,
    blob_detections,
)
from vision_pipeline.preprocess import Geometry, InputSpec, Preprocessor
from vision_pipeline.sinks import FrameResult, JsonLinesSink, Sink
from vision_pipeline.sources import (
    CLASS_NAMES,
    CaptureSource,
    Frame,
    ReconnectPolicy,
    SyntheticScene,
    SyntheticSource,
)
from vision_pipeline.sync import Synchronizer


@pytest.fixture(autouse=True)
def _no_stray_threads() -> object:
    before = set(vision_threads())
    yield None
    assert set(vision_threads()) <= before, vision_threads()


def _ssd_model() -> SensorModel:
    g = tiny_graph(TINY_SSD, seed=1)
    backend = GraphBackend(g, outputs=["mbox_loc", "mbox_conf", "mbox_priorbox"])
    spec = InputSpec.from_graph(g, Preprocess(mean_value=(128.0,), scale=1 / 128))
    layer = g.node("detection_out").layer
    assert isinstance(layer, DetectionOutput)
    dec = SSDDecoder(
        layer,
        loc="mbox_loc",
        conf="mbox_conf",
        priors="mbox_priorbox",
        labels=CLASS_NAMES,
    )
    return SensorModel(backend, Preprocessor.for_backend(spec, backend), dec)


class Collect(Sink):
    def __init__(self, delay: float = 0.0) -> None:
        self.results: list[FrameResult] = []
        self.closed = False
        self.delay = delay

    def write(self, result: FrameResult) -> None:
        if self.delay:
            time.sleep(self.delay)
        self.results.append(result)

    def close(self) -> None:
        self.closed = True


def test_file_source_end_to_end_is_lossless(tmp_path: Path) -> None:
    scene = SyntheticScene(seed=3, size=(72, 96), n_objects=3)
    src = SyntheticSource(scene, n_frames=12)
    out = tmp_path / "res.jsonl"
    collect = Collect(delay=0.002)  # a slower sink must not lose frames of a file source
    p = Pipeline(
        src,
        _ssd_model(),
        tracker=IouTracker(),
        sinks=[JsonLinesSink(out), collect],
        config=PipelineConfig(queue_size=1),
    )
    stats = p.run()
    assert stats.frames_in == stats.frames_out == 12
    assert sum(stats.dropped.values()) == 0
    assert [r.index for r in collect.results] == list(range(12))
    assert collect.closed
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["index"] for x in lines] == list(range(12))
    assert any(x["detections"] for x in lines)
    for r in collect.results:
        for d in r.detections:
            assert d.sensor == "visible" and d.track_id is not None
            assert 0 <= d.box[0] < d.box[2] <= 96 and 0 <= d.box[1] < d.box[3] <= 72
        assert set(r.latency_ms) >= {"capture", "infer", "post", "total"}
    for k in ("capture", "infer", "post", "sink", "total"):
        assert stats.stages[k].count == 12 and stats.stages[k].p99_ms >= stats.stages[k].p50_ms
    assert stats.fps > 0
    json.dumps(stats.to_dict())


def test_results_match_running_the_model_directly() -> None:
    scene = SyntheticScene(seed=5, size=(64, 64), n_objects=2)
    model = _ssd_model()
    got: list[FrameResult] = []
    Pipeline(SyntheticSource(scene, n_frames=3), model, on_result=got.append).run()
    ref = _ssd_model()
    for r in got:
        geo = ref.preprocessor(r.image)
        outs = ref.backend.run({"data": ref.preprocessor.buffer})
        want = [
            dataclasses.replace(d, sensor="visible")
            for d in ref.decoder(outs, geo)
            if isinstance(d, Detection)
        ]
        assert r.detections == want
    assert any(r.detections for r in got)


def test_classifier_pipeline_reports_top_k() -> None:
    g = tiny_graph(TINY_CLASSIFIER)
    backend = GraphBackend(g)
    model = SensorModel(
        backend,
        Preprocessor.for_backend(
            InputSpec.from_graph(g, Preprocess(scale=1 / 255, grayscale=True)), backend
        ),
        ClassifierDecoder("prob", k=2, labels=list("abcde")),
    )
    got: list[FrameResult] = []
    scene = SyntheticScene(seed=0, size=(48, 48), n_objects=1)
    stats = Pipeline(SyntheticSource(scene, n_frames=4), model, on_result=got.append).run()
    assert stats.frames_out == 4
    assert all(len(r.classes) == 2 and r.classes[0].score >= r.classes[1].score for r in got)
    assert all(r.detections == [] for r in got)


def test_live_source_drops_oldest_and_stays_bounded() -> None:
    scene = SyntheticScene(seed=1, size=(48, 64), n_objects=2)
    src = SyntheticSource(scene, live=True)  # endless, as fast as it can render
    slow = Collect(delay=0.02)
    p = Pipeline(src, _ssd_model(), sinks=[slow], config=PipelineConfig(queue_size=2))
    stats = p.run(duration=0.3)
    assert stats.frames_in > stats.frames_out > 0
    assert sum(stats.dropped.values()) > 0
    # What was delivered is in capture order, and never older than a few queue slots.
    idx = [r.index for r in slow.results]
    assert idx == sorted(idx)
    assert stats.stages["total"].p99_ms < 500


def test_two_synchronised_sensors_are_fused_and_confirmed() -> None:
    scene = SyntheticScene(seed=7, size=(120, 160), n_objects=4, noise=(2.0, 2.0))
    rgb = SyntheticSource(scene, "visible", n_frames=10, fps=30)
    ir = SyntheticSource(scene, "thermal", n_frames=10, fps=30, offset_s=0.002)
    sync = Synchronizer(rgb, [ir], tolerance_ms=5)

    def visible_oracle(frame: Frame) -> list[Detection]:
        # Stands in for a trained detector: the visible objects' true boxes.
        assert frame.ground_truth is not None
        return [
            Detection(g.box, 0.9, g.label, CLASS_NAMES[g.label], "visible")
            for g in frame.ground_truth
            if g.visible
        ]

    def thermal_blobs(frame: Frame) -> list[Detection]:
        return [
            Detection(d.box, 0.9, 0, "warm", "thermal")
            for d in blob_detections(frame.image, threshold=60, min_area=20, sensor="thermal")
        ]

    fusion = FusionStage(
        scene.calibration(),
        FusionConfig(class_aware=False, iou_threshold=0.3),
        confirm_with="thermal",
    )
    got: list[FrameResult] = []
    stats = Pipeline(
        sync,
        detectors={"visible": visible_oracle, "thermal": thermal_blobs},
        fusion=fusion,
        tracker=IouTracker(class_aware=False),
        on_result=got.append,
    ).run()
    assert stats.frames_out == 10 and stats.sync is not None and stats.sync.emitted == 10
    assert all(set(r.frames.frames) == {"visible", "thermal"} for r in got)
    assert all(r.per_sensor.keys() == {"visible", "thermal"} for r in got)
    both = [d for r in got for d in r.detections if d.sources == ("thermal", "visible")]
    assert both, "some objects are seen by both sensors"
    assert any(d.confirmed for r in got for d in r.detections)
    assert all(d.sensor == "visible" for r in got for d in r.detections)


# ============================================================================ failures
def test_lost_camera_error_reaches_the_caller_typed() -> None:
    caps = [FakeCapture([solid_image(1), solid_image(2), solid_image(3)])]
    src = CaptureSource(
        0,
        capture_factory=lambda: caps.pop(0) if caps else FakeCapture([], opened=False),
        reconnect=ReconnectPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01),
    )
    got: list[FrameResult] = []
    p = Pipeline(src, on_result=got.append)
    t0 = time.monotonic()
    with pytest.raises(SourceLostError) as ei:
        p.run()
    assert time.monotonic() - t0 < 3.0
    assert any("capture" in n for n in getattr(ei.value, "__notes__", []))
    assert len(got) <= 3


def test_corrupt_frames_stop_the_pipeline_with_a_typed_error() -> None:
    bad = np.zeros((0, 0, 3), np.uint8)
    src = CaptureSource(
        "cam",
        live=True,
        capture_factory=lambda: FakeCapture([solid_image(1), *[bad] * 5]),
        reconnect=ReconnectPolicy(max_corrupt=2),
    )
    with pytest.raises(CorruptFrameError, match="unusable"):
        Pipeline(src, _ssd_model()).run()


def test_unexpected_stage_exception_is_wrapped() -> None:
    def broken(outputs: Mapping[str, np.ndarray], geo: Geometry) -> list[Detection]:
        raise ValueError("decoder bug")

    m = _ssd_model()
    model = SensorModel(m.backend, m.preprocessor, broken)
    scene = SyntheticScene(seed=0, size=(48, 48), n_objects=1)
    p = Pipeline(SyntheticSource(scene, n_frames=50), model)
    with pytest.raises(StageError, match="decoder bug") as ei:
        p.run()
    assert ei.value.stage == "post" and isinstance(ei.value.__cause__, ValueError)
    assert isinstance(ei.value, EdgeDnnError)


def test_sink_errors_and_misconfigured_models() -> None:
    class Bad(Sink):
        def write(self, result: FrameResult) -> None:
            raise OSError("disk full")

    scene = SyntheticScene(seed=0, size=(48, 48), n_objects=1)
    with pytest.raises(StageError, match="disk full") as ei:
        Pipeline(SyntheticSource(scene, n_frames=5), sinks=[Bad()]).run()
    assert ei.value.stage == "sink"
    m = _ssd_model()
    other = Preprocessor(m.preprocessor.spec, np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(PipelineError, match="backend's buffer"):
        Pipeline(SyntheticSource(scene), SensorModel(m.backend, other, m.decoder))


def test_stop_and_ctrl_c_shut_down_cleanly() -> None:
    scene = SyntheticScene(seed=0, size=(48, 48), n_objects=1)
    p = Pipeline(SyntheticSource(scene, live=True, pace=True, fps=50), _ssd_model())
    p.start()
    time.sleep(0.1)
    p.stop()
    stats = p.join(timeout=0)
    assert stats.frames_out > 0 and not stats.interrupted
    with pytest.raises(PipelineError):
        p.start()

    # Ctrl-C while run() waits in the main thread.
    p2 = Pipeline(SyntheticSource(scene), _ssd_model())  # endless, lossless
    timer = threading.Timer(0.15, _thread.interrupt_main)
    timer.start()
    stats2 = p2.run()
    timer.join()
    assert stats2.interrupted and stats2.frames_out > 0


def test_max_frames_ends_an_endless_source() -> None:
    scene = SyntheticScene(seed=0, size=(48, 48), n_objects=1)
    got: list[FrameResult] = []
    with Pipeline(SyntheticSource(scene), max_frames=7, on_result=got.append) as p:
        stats = p.run()
    assert stats.frames_in == stats.frames_out == len(got) == 7
