"""Timestamp synchronisation (pairing and drop policy) and sensor calibration files/mappings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vision_pipeline.calibration import RigCalibration, project_boxes
from vision_pipeline.errors import SensorCalibrationError, SyncError
from vision_pipeline.sources import Frame, Source, SyntheticScene, SyntheticSource
from vision_pipeline.sync import FrameSet, Synchronizer

MS = 1_000_000


class ListSource(Source):
    """Frames with given timestamps (ms); the image holds the frame index."""

    def __init__(self, name: str, stamps_ms: list[float]) -> None:
        self.name = name
        self.live = False
        self.stamps = [round(t * MS) for t in stamps_ms]
        self.k = 0
        self.closed = False

    def read(self) -> Frame | None:
        if self.k >= len(self.stamps) or self.closed:
            return None
        k = self.k
        self.k += 1
        return Frame(np.full((2, 2), k, np.uint8), self.stamps[k], self.name, k)

    def close(self) -> None:
        self.closed = True


def _pairs(sync: Synchronizer, sensor: str) -> list[tuple[int, int | None]]:
    return [(fs.index, fs.frames[sensor].index if sensor in fs.frames else None) for fs in sync]


# ============================================================================ sync
def test_nearest_secondary_frame_within_tolerance_is_paired() -> None:
    p = ListSource("rgb", [0, 33, 66, 100, 133])
    s = ListSource("ir", [2, 20, 40, 61, 99, 140])
    sync = Synchronizer(p, [s], tolerance_ms=10)
    got = _pairs(sync, "ir")
    # 0 ~ 2; 33: nothing within 10 ms (20 and 40 are 13 and 7 away -> 40 is 7 away) -> 40;
    # 66 ~ 61; 100 ~ 99; 133 ~ 140.
    assert got == [(0, 0), (1, 2), (2, 3), (3, 4), (4, 5)]
    st = sync.stats
    assert st.emitted == 5 and st.primary_frames == 5 and st.dropped_primary == 0
    assert st.matched["ir"] == 5
    assert st.dropped["ir"] == 1  # frame at 20 ms was never used


def test_primary_frames_without_partner_are_dropped_and_counted() -> None:
    p = ListSource("rgb", [0, 50, 100, 150, 200])
    s = ListSource("ir", [1, 104, 148])
    sync = Synchronizer(p, [s], tolerance_ms=5)
    assert _pairs(sync, "ir") == [(0, 0), (2, 1), (3, 2)]
    st = sync.stats
    # 50 has no partner; 200 comes after the secondary ended with nothing pending -> end.
    assert st.dropped_primary == 1 and st.emitted == 3 and st.dropped["ir"] == 0


def test_partial_sets_when_not_all_sensors_are_required() -> None:
    p = ListSource("rgb", [0, 50, 100])
    s = ListSource("ir", [49])
    sync = Synchronizer(p, [s], tolerance_ms=5, require_all=False)
    assert _pairs(sync, "ir") == [(0, None), (1, 0), (2, None)]
    assert sync.stats.missing["ir"] == 2 and sync.stats.emitted == 3


def test_stale_and_skipped_secondary_frames_are_counted() -> None:
    # The secondary runs 4x faster: most of its frames cannot be paired.
    p = ListSource("rgb", [t * 40.0 for t in range(10)])
    s = ListSource("ir", [t * 10.0 + 1 for t in range(40)])
    sync = Synchronizer(p, [s], tolerance_ms=4)
    sets = list(sync)
    assert len(sets) == 10
    for fs in sets:
        assert abs(fs.frames["ir"].timestamp_ns - fs.timestamp_ns) <= 4 * MS
    st = sync.stats
    assert st.matched["ir"] == 10
    # Every secondary frame read is either paired, dropped, or still pending (read-ahead).
    pending = len(sync._pending["ir"])
    assert st.matched["ir"] + st.dropped["ir"] + pending == s.k


def test_three_sensors_and_synthetic_rates() -> None:
    scene = SyntheticScene(seed=0, size=(64, 64), n_objects=1)
    rgb = SyntheticSource(scene, "visible", n_frames=30, fps=30)
    ir = SyntheticSource(scene, "thermal", n_frames=10, fps=9, offset_s=0.004)
    depth = ListSource("depth", [k * 1000 / 15 for k in range(15)])
    sync = Synchronizer(rgb, [ir, depth], tolerance_ms=17)
    sets = list(sync)
    assert sets and all(set(fs.frames) == {"visible", "thermal", "depth"} for fs in sets)
    assert all(
        abs(f.timestamp_ns - fs.timestamp_ns) <= 17 * MS for fs in sets for f in fs.frames.values()
    )
    assert sync.stats.dropped_primary + sync.stats.emitted == sync.stats.primary_frames
    assert sync.sensors == ["visible", "thermal", "depth"]
    sync.close()
    assert depth.closed


def test_sync_configuration_errors() -> None:
    a, b = ListSource("x", [0]), ListSource("x", [0])
    with pytest.raises(SyncError, match="distinct"):
        Synchronizer(a, [b], 10)
    with pytest.raises(SyncError):
        Synchronizer(a, [ListSource("y", [])], -1)


def test_frameset_single() -> None:
    f = Frame(np.zeros((2, 2), np.uint8), 5, "cam", 3)
    fs = FrameSet.single(f)
    assert fs.main is f and fs.index == 3 and fs.timestamp_ns == 5 and fs.primary == "cam"


# ============================================================================ calibration
def _rig_dict() -> dict[str, Any]:
    H = [[2.0, 0.1, 5.0], [0.05, 2.1, -3.0], [1e-4, 2e-4, 1.0]]
    return {
        "format": "edge-dnn-sensor-calibration",
        "version": 1,
        "reference": "visible",
        "sensors": {
            "visible": {"width": 320, "height": 240},
            "thermal": {"width": 160, "height": 120, "homography_to_reference": H},
        },
    }


def test_homography_round_trip_and_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(_rig_dict()))
    rig = RigCalibration.load(path)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 150, size=(50, 2))
    m = rig.mapping("thermal", "visible")
    there = m.map_points(pts)
    back = m.inverse().map_points(there)
    assert np.allclose(back, pts, atol=1e-9)
    # Independent check: the homography applied by hand.
    H = np.asarray(_rig_dict()["sensors"]["thermal"]["homography_to_reference"])
    hom = np.c_[pts, np.ones(50)] @ H.T
    assert np.allclose(there, hom[:, :2] / hom[:, 2:], atol=1e-9)
    assert np.allclose(rig.homography("visible", "visible"), np.eye(3))
    # Save and reload: identical mappings.
    rig.save(tmp_path / "copy.json")
    again = RigCalibration.load(tmp_path / "copy.json")
    assert np.allclose(again.homography("visible", "thermal"), rig.homography("visible", "thermal"))


def test_box_mapping_bounds_corners_and_clips() -> None:
    rig = RigCalibration.from_dict(_rig_dict())
    m = rig.mapping("thermal", "visible")
    boxes = np.array([[10, 10, 30, 40], [150, 110, 400, 400]], float)
    got = m.map_boxes(boxes, clip=False)
    assert np.allclose(got, project_boxes(m.H, boxes))
    clipped = m.map_boxes(boxes)
    assert (clipped[:, [0, 2]] <= 320).all() and (clipped[:, [1, 3]] <= 240).all()
    outside = m.map_boxes(np.array([[-500, -500, -400, -400]], float))
    assert np.isnan(outside).all()


def test_intrinsics_extrinsics_and_plane_match_3d_projection() -> None:
    K1 = np.array([[300.0, 0, 160], [0, 300, 120], [0, 0, 1]])
    K2 = np.array([[150.0, 0, 80], [0, 150, 60], [0, 0, 1]])
    rvec = np.array([0.02, -0.05, 0.01])
    R, _ = cv2.Rodrigues(rvec)
    t = np.array([0.3, -0.1, 0.05])
    n, d = np.array([0.0, 0.1, 1.0]), 8.0
    data = {
        "format": "edge-dnn-sensor-calibration",
        "version": 1,
        "reference": "visible",
        "plane": {"normal": n.tolist(), "distance": d},
        "sensors": {
            "visible": {"width": 320, "height": 240, "K": K1.tolist()},
            "thermal": {
                "width": 160,
                "height": 120,
                "K": K2.tolist(),
                "R": R.tolist(),
                "t": t.tolist(),
            },
        },
    }
    rig = RigCalibration.from_dict(data)
    # 3D points on the plane n.X = d (in reference camera coordinates), projected by both cameras.
    rng = np.random.default_rng(1)
    xy = rng.uniform(-2, 2, size=(20, 2))
    nn = n / np.linalg.norm(n)
    dd = d / np.linalg.norm(n)
    z = (dd - nn[0] * xy[:, 0] - nn[1] * xy[:, 1]) / nn[2]
    X = np.c_[xy, z]
    p1, _ = cv2.projectPoints(X, np.zeros(3), np.zeros(3), K1, np.zeros(5))
    p2, _ = cv2.projectPoints(X, rvec, t, K2, np.zeros(5))
    got = rig.mapping("visible", "thermal").map_points(p1.reshape(-1, 2))
    assert np.allclose(got, p2.reshape(-1, 2), atol=1e-6)


def test_distortion_is_removed_and_reapplied() -> None:
    K = [[200.0, 0, 100], [0, 200, 80], [0, 0, 1]]
    data = {
        "format": "edge-dnn-sensor-calibration",
        "version": 1,
        "reference": "a",
        "sensors": {
            "a": {"width": 200, "height": 160, "K": K, "dist": [-0.2, 0.05, 0.001, -0.001]},
            "b": {
                "width": 200,
                "height": 160,
                "K": K,
                "dist": [0.1, 0.0, 0.0, 0.0],
                "homography_to_reference": np.eye(3).tolist(),
            },
        },
    }
    rig = RigCalibration.from_dict(data)
    pts = np.array([[20.0, 30.0], [100.0, 80.0], [180.0, 140.0]])
    there = rig.mapping("a", "b").map_points(pts)
    back = rig.mapping("b", "a").map_points(there)
    assert np.allclose(back, pts, atol=1e-3)
    assert np.allclose(there[1], [100.0, 80.0], atol=1e-6)  # the principal point stays put
    assert not np.allclose(there[0], pts[0], atol=0.5)  # different lenses move the corners


def test_synthetic_scene_calibration_maps_ground_truth() -> None:
    scene = SyntheticScene(seed=4, size=(120, 160), n_objects=3)
    rig = scene.calibration()
    _, gv = scene.render("visible", 0.3)
    _, gt = scene.render("thermal", 0.3)
    by_id = {g.object_id: g for g in gv}
    m = rig.mapping("visible", "thermal")
    for g in gt:
        got = m.map_boxes(np.asarray([by_id[g.object_id].box]))[0]
        assert np.allclose(got, g.box, atol=1e-6)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "'format'"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(extra=1), "unknown top-level"),
        (lambda d: d.update(reference="radar"), "reference sensor 'radar'"),
        (lambda d: d["sensors"]["thermal"].update(width=-3), "'width'"),
        (
            lambda d: d["sensors"]["thermal"].update(homography_to_reference=[[1, 2], [3, 4]]),
            "shape",
        ),
        (
            lambda d: d["sensors"]["thermal"].update(homography_to_reference=[[0] * 3] * 3),
            "singular",
        ),
        (
            lambda d: d["sensors"]["thermal"].update(
                homography_to_reference=[[float("nan")] * 3] * 3
            ),
            "NaN",
        ),
        (lambda d: d["sensors"]["thermal"].pop("homography_to_reference"), "needs 'homography"),
        (
            lambda d: d["sensors"].update(
                thermal={
                    "width": 8,
                    "height": 8,
                    "R": np.eye(3).tolist(),
                    "t": [0, 0, 1],
                    "K": np.eye(3).tolist(),
                }
            ),
            "needs 'K'",
        ),
        (lambda d: d["sensors"]["visible"].update(dist=[0.1, 0.2]), "needs 'K'|coefficients"),
        (lambda d: d["sensors"]["visible"].update(colour="red"), "unknown key"),
    ],
)
def test_bad_calibration_files_raise_typed_errors(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object], message: str
) -> None:
    d = _rig_dict()
    mutate(d)
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(d))
    with pytest.raises(SensorCalibrationError, match=message) as ei:
        RigCalibration.load(path)
    assert ei.value.path == str(path)


def test_unreadable_calibration_files(tmp_path: Path) -> None:
    with pytest.raises(SensorCalibrationError, match="not found"):
        RigCalibration.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "format": "edge-dnn-sensor-calibration",\n  "version": 1,,\n}')
    with pytest.raises(SensorCalibrationError, match="line 3, column"):
        RigCalibration.load(bad)
    rig = RigCalibration.from_dict(_rig_dict())
    with pytest.raises(SensorCalibrationError, match="unknown sensor 'radar'"):
        rig.mapping("radar", "visible")
