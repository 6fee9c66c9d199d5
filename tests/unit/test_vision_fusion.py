"""Multi-sensor fusion on hand-made detections: late fusion (cross-sensor NMS, weighted box
fusion) after projection, and confirmation by a thermal image."""

from __future__ import annotations

import numpy as np
import pytest

from vision_pipeline.calibration import RigCalibration
from vision_pipeline.errors import VisionError
from vision_pipeline.fusion import (
    FusionConfig,
    FusionStage,
    confirm_detections,
    fuse_detections,
    late_fusion,
    project_detections,
)
from vision_pipeline.postprocess import Detection, match_detections
from vision_pipeline.sources import Frame, GroundTruth

# The thermal camera sees the visible frame at half resolution, shifted by (10, 5) thermal px:
# thermal = 0.5 * visible + (10, 5).
VIS_TO_IR = np.array([[0.5, 0, 10.0], [0, 0.5, 5.0], [0, 0, 1]])


def _rig() -> RigCalibration:
    return RigCalibration.from_homographies(
        "visible",
        {"visible": (240, 320), "thermal": (140, 180)},
        {"thermal": np.linalg.inv(VIS_TO_IR)},
    )


def _to_ir(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    return (0.5 * x0 + 10, 0.5 * y0 + 5, 0.5 * x1 + 10, 0.5 * y1 + 5)


OBJECTS = [
    (20.0, 20.0, 60.0, 60.0),
    (100.0, 40.0, 150.0, 90.0),
    (200.0, 120.0, 260.0, 170.0),
    (40.0, 150.0, 90.0, 210.0),
]
TRUTH = tuple(GroundTruth(b, 1, i) for i, b in enumerate(OBJECTS))


def _case() -> dict[str, list[Detection]]:
    """Visible misses object 3 (smoke), thermal misses object 2 (cold); both have a weak false
    positive; boxes are slightly off the truth."""
    vis = [
        Detection((21, 19, 61, 59), 0.92, 1, sensor="visible"),
        Detection((99, 42, 149, 91), 0.85, 1, sensor="visible"),
        Detection((202, 118, 259, 171), 0.80, 1, sensor="visible"),
        Detection((280, 10, 310, 40), 0.30, 1, sensor="visible"),  # clutter
    ]
    ir_boxes = [OBJECTS[0], OBJECTS[1], OBJECTS[3], (150.0, 200.0, 180.0, 230.0)]
    ir_scores = [0.9, 0.75, 0.88, 0.25]
    ir = [Detection(_to_ir(b), s, 1, sensor="thermal") for b, s in zip(ir_boxes, ir_scores)]
    return {"visible": vis, "thermal": ir}


@pytest.mark.parametrize("method", ["wbf", "nms"])
def test_late_fusion_raises_f1_over_the_best_single_sensor(method: str) -> None:
    dets = _case()
    cfg = FusionConfig(method=method, iou_threshold=0.5, min_score=0.4 if method == "wbf" else 0.35)
    rig = _rig()

    def f1(ds: list[Detection]) -> float:
        return match_detections([d for d in ds if d.score >= cfg.min_score], TRUTH).f1

    single_vis = f1(dets["visible"])
    single_ir = f1(project_detections(dets["thermal"], rig.mapping("thermal", "visible")))
    fused = late_fusion(dets, rig, "visible", cfg)
    assert f1(fused) == 1.0 > max(single_vis, single_ir)
    assert len(fused) == 4
    assert all(d.sensor == "visible" for d in fused)
    by_sources = sorted(d.sources for d in fused)
    assert by_sources == [
        ("thermal",),
        ("thermal", "visible"),
        ("thermal", "visible"),
        ("visible",),
    ]


def test_weighted_box_fusion_by_hand() -> None:
    a = Detection((0, 0, 10, 10), 0.8, 1, sensor="a")
    b = Detection((2, 0, 12, 10), 0.4, 1, sensor="b")
    lone = Detection((50, 50, 60, 60), 0.6, 1, sensor="b")
    out = fuse_detections({"a": [a], "b": [b, lone]}, FusionConfig(method="wbf", iou_threshold=0.5))
    assert len(out) == 2
    top = out[0]
    # box: score-weighted mean (0.8 * a + 0.4 * b) / 1.2; score: (0.8 + 0.4) / 2 sensors
    assert top.box == pytest.approx(
        ((0.8 * 0 + 0.4 * 2) / 1.2, 0.0, (0.8 * 10 + 0.4 * 12) / 1.2, 10.0)
    )
    assert top.score == pytest.approx(0.6) and top.sources == ("a", "b")
    assert out[1].score == pytest.approx(0.3) and out[1].sources == ("b",)
    weighted = fuse_detections(
        {"a": [a], "b": [lone]}, FusionConfig(sensor_weights={"a": 3.0, "b": 1.0})
    )
    assert [d.score for d in weighted] == pytest.approx([0.6, 0.15])


def test_cross_sensor_nms_keeps_the_best_box_per_class() -> None:
    a = Detection((0, 0, 10, 10), 0.8, 1, sensor="a")
    b = Detection((1, 0, 11, 10), 0.9, 1, sensor="b")
    c = Detection((1, 0, 11, 10), 0.7, 2, sensor="b")
    out = fuse_detections({"a": [a], "b": [b, c]}, FusionConfig(method="nms"))
    assert [(d.box, d.label, d.sources) for d in out] == [
        (b.box, 1, ("a", "b")),
        (c.box, 2, ("b",)),
    ]
    agnostic = fuse_detections(
        {"a": [a], "b": [b, c]}, FusionConfig(method="nms", class_aware=False)
    )
    assert len(agnostic) == 1 and agnostic[0].sources == ("a", "b")


def test_projection_drops_boxes_outside_the_destination() -> None:
    rig = _rig()
    out = project_detections(
        [Detection((0, 0, 20, 20), 0.5, 1), Detection((-100, -100, -50, -50), 0.5, 1)],
        rig.mapping("visible", "thermal"),
    )
    assert (
        len(out) == 1
        and out[0].box == pytest.approx((10, 5, 20, 15))
        and out[0].sensor == "thermal"
    )
    bare = project_detections([Detection((0, 0, 20, 20), 0.5, 1)], VIS_TO_IR, dst_size=(12, 15))
    assert bare[0].box == pytest.approx((10, 5, 15, 12))


# ============================================================================ confirmation
def _thermal() -> np.ndarray:
    img = np.full((140, 180), 60, np.uint8)
    img += np.random.default_rng(0).integers(0, 6, size=img.shape, dtype=np.uint8)
    x0, y0, x1, y1 = (int(v) for v in _to_ir(OBJECTS[0]))
    img[y0:y1, x0:x1] = 200  # object 0 is warm
    return img


def test_confirmation_flags_drops_or_rescores() -> None:
    warm = Detection(OBJECTS[0], 0.9, 1)
    cold = Detection(OBJECTS[1], 0.8, 1)
    outside = Detection((330.0, 250.0, 400.0, 300.0), 0.7, 1)  # beyond the thermal view
    m = _rig().mapping("visible", "thermal")
    flagged = confirm_detections([warm, cold, outside], _thermal(), m, FusionConfig())
    assert [d.confirmed for d in flagged] == [True, False, None]
    assert [d.score for d in flagged] == [0.9, 0.8, 0.7]
    dropped = confirm_detections(
        [warm, cold, outside], _thermal(), VIS_TO_IR, FusionConfig(confirm_action="drop")
    )
    assert [d.box for d in dropped] == [warm.box, outside.box]
    res = confirm_detections(
        [warm, cold], _thermal(), m, FusionConfig(confirm_action="rescore", unconfirmed_factor=0.25)
    )
    assert [d.score for d in res] == pytest.approx([0.9, 0.2])
    for stat in ("mean", "max", "p90"):
        got = confirm_detections([warm, cold], _thermal(), m, FusionConfig(confirm_statistic=stat))
        assert [d.confirmed for d in got] == [True, False]
    # An absolute threshold (not relative to the median): 60..65 background passes 0.2 of 255.
    absolute = confirm_detections(
        [cold], _thermal(), m, FusionConfig(confirm_relative=False, confirm_threshold=0.2)
    )
    assert absolute[0].confirmed is True


def test_fusion_stage_fuses_then_confirms() -> None:
    dets = _case()
    thermal = Frame(_thermal(), 0, "thermal", 0)
    vis = Frame(np.zeros((240, 320, 3), np.uint8), 0, "visible", 0)
    stage = FusionStage(_rig(), FusionConfig(min_score=0.4), confirm_with="thermal")
    out = stage(dets, {"visible": vis, "thermal": thermal}, "visible")
    assert len(out) == 4
    assert sum(d.confirmed is True for d in out) == 1  # only object 0 is warm in _thermal()
    only = FusionStage(_rig(), fuse=False)(dets, {"visible": vis}, "visible")
    assert only == dets["visible"]


def test_fusion_config_validation() -> None:
    for bad in (
        {"method": "avg"},
        {"confirm_statistic": "median"},
        {"confirm_action": "ignore"},
        {"iou_threshold": 1.5},
        {"sensor_weights": {"a": -1.0}},
        {"unconfirmed_factor": 2.0},
    ):
        with pytest.raises(VisionError):
            FusionConfig(**bad)  # type: ignore[arg-type]
