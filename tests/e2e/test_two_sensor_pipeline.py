"""The bundled detector on the emulated board over synthetic two-sensor clips with ground truth.

``synthdet`` (trained by ``python -m vision_pipeline.train_detector``, committed in
``edge_dnn/zoo/synthdet``) is quantized on frames of other scenes (KL calibration), compiled for
the ZCU104 overlay and run by :class:`~vision_pipeline.backends.CompiledBackend` on the emulated
board, once per sensor, inside the threaded pipeline built by
:func:`~vision_pipeline.app.build_pipeline`: a visible 240x320 camera and a thermal 120x160
camera of the same scene (different field of view, 4 ms apart), synchronised by timestamp,
heat-map decoding, then late fusion into the visible frame.

Every clip's objects are partly hidden from one sensor (camouflage and smoke in visible light,
cold objects and the narrower field of view in thermal). Precision, recall and F1 (class-aware,
IoU >= 0.5, against the objects at least one sensor can detect; see
:mod:`vision_pipeline.evaluation`) are printed and recorded for each sensor alone (its
detections projected into the visible frame), for the fused result (weighted box fusion and
cross-sensor NMS), and for thermal confirmation of the visible detections. Asserted: sensible
figures and both late fusions raising F1 over the best single sensor.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable

import pytest

from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from vision_pipeline.app import build_pipeline
from vision_pipeline.detector import PREPROCESS, load_synthdet
from vision_pipeline.evaluation import FINAL, DetectionEvaluator, union_truth
from vision_pipeline.fusion import FusionConfig, confirm_detections
from vision_pipeline.postprocess import MatchCounts, match_detections
from vision_pipeline.sinks import FrameResult
from vision_pipeline.sources import SyntheticScene, SyntheticSource
from vision_pipeline.train_detector import make_samples

pytestmark = pytest.mark.e2e

CLIPS = (11, 12, 13)
"""Scene seeds of the clips (the detector was trained and calibrated on other scenes)."""
FRAMES = 30
OBJECTS = 6
FUSION = {  # IoU 0.4: a box projected between the sensors grows a little (rotated views)
    "wbf": FusionConfig(method="wbf", iou_threshold=0.4, class_aware=False),
    "nms": FusionConfig(method="nms", iou_threshold=0.4, class_aware=False),
}


@pytest.fixture(scope="module")
def board_model() -> CompiledModel:
    calib = make_samples(310_000, 8, 0).x  # 8 scenes x 2 sensors, preprocessed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(load_synthdet(), {"data": calib}, method="kl", progress=False)
    model = compile_model(qg, "zcu104", preprocess=PREPROCESS)
    assert not model.arm_steps  # the whole network runs on the engine
    return model


def _clip(model: CompiledModel, seed: int, fusion: str) -> tuple[DetectionEvaluator, list]:
    scene = SyntheticScene(seed=seed, n_objects=OBJECTS)
    rig = scene.calibration()
    sources = [
        SyntheticSource(scene, "visible", n_frames=FRAMES),
        SyntheticSource(scene, "thermal", n_frames=FRAMES, offset_s=0.004),
    ]
    ev = DetectionEvaluator(rig)
    results: list[FrameResult] = []

    def collect(r: FrameResult) -> None:
        ev(r)
        results.append(r)

    stats = build_pipeline(
        model,
        sources,
        fusion=fusion,
        calibration=rig,
        fusion_config=FUSION[fusion],
        tolerance_ms=10.0,
        on_result=collect,
    ).run()
    assert stats.frames_out == FRAMES and stats.sync is not None
    assert stats.sync.matched == {"thermal": FRAMES}
    return ev, [(rig, r) for r in results]


def _fmt(c: MatchCounts) -> str:
    return (
        f"precision {c.precision:.3f}  recall {c.recall:.3f}  F1 {c.f1:.3f}  "
        f"(tp {c.tp}, fp {c.fp}, fn {c.fn})"
    )


@pytest.mark.parametrize("fusion", ["wbf", "nms"])
def test_late_fusion_raises_f1_over_the_best_single_sensor(
    board_model: CompiledModel, fusion: str, record_property: Callable[[str, object], None]
) -> None:
    before = set(threading.enumerate())
    totals: dict[str, MatchCounts] = {}
    results = []
    for seed in CLIPS:
        ev, res = _clip(board_model, seed, fusion)
        results += res
        for k, c in ev.counts.items():
            totals[k] = totals.get(k, MatchCounts()) + c
    assert set(threading.enumerate()) <= before

    # (b) thermal confirmation of the visible detections (reported)
    confirmed = {True: MatchCounts(), False: MatchCounts(), None: MatchCounts()}
    for rig, r in results:
        truth = union_truth(r.frames)
        assert truth is not None
        judged = confirm_detections(
            r.per_sensor["visible"],
            r.frames.frames["thermal"].image,
            rig.mapping("visible", "thermal"),
            FusionConfig(),
        )
        for flag in confirmed:
            confirmed[flag] += match_detections([d for d in judged if d.confirmed is flag], truth)

    n = len(CLIPS) * FRAMES
    lines = [f"two-sensor clips {CLIPS}, {n} frame sets, synthdet on the emulated zcu104:"]
    for key in ("visible", "thermal", FINAL):
        name = f"fused ({fusion})" if key == FINAL else f"{key} alone"
        lines.append(f"  {name:<14} {_fmt(totals[key])}")
        c = totals[key]
        record_property(
            f"{fusion}_{key}", {"precision": c.precision, "recall": c.recall, "f1": c.f1}
        )
    for flag, label in ((True, "confirmed"), (False, "unconfirmed"), (None, "not judged")):
        c = confirmed[flag]
        lines.append(f"  visible {label:<11} tp {c.tp:3d} fp {c.fp:3d}")
    print("\n" + "\n".join(lines))

    vis, ir, fused = totals["visible"], totals["thermal"], totals[FINAL]
    best = max(vis.f1, ir.f1)
    assert fused.f1 > best, "\n".join(lines)
    assert fused.recall > max(vis.recall, ir.recall)  # each sensor finds what the other misses
    assert fused.precision >= 0.7 and fused.recall >= 0.7
    assert vis.precision >= 0.5 and ir.precision >= 0.7
