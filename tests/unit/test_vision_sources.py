"""Frame sources: synthetic scene determinism and ground truth, image folders, video capture
failures (missing file, lost camera with reconnection, corrupt frames), the extension point."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.unit.vision_nets import FakeCapture, solid_image, vision_threads
from vision_pipeline.errors import (
    CorruptFrameError,
    SourceError,
    SourceLostError,
    SourceOpenError,
)
from vision_pipeline.sources import (
    CLASS_NAMES,
    CaptureSource,
    Frame,
    ImageFolderSource,
    ReconnectPolicy,
    Source,
    SyntheticScene,
    SyntheticSource,
    open_source,
    register_source,
)


# ============================================================================ synthetic scene
def test_synthetic_scene_is_deterministic_and_random_access() -> None:
    a = SyntheticScene(seed=7, size=(96, 128), n_objects=4)
    b = SyntheticScene(seed=7, size=(96, 128), n_objects=4)
    forward = [a.render(m, k / 30.0, k) for k in range(5) for m in ("visible", "thermal")]
    backward = [
        b.render(m, k / 30.0, k) for k in reversed(range(5)) for m in ("visible", "thermal")
    ]
    backward = [backward[(4 - k) * 2 + i] for k in range(5) for i in range(2)]
    for (ia, ga), (ib, gb) in zip(forward, backward):
        assert np.array_equal(ia, ib)
        assert ga == gb
    other, _ = SyntheticScene(seed=8, size=(96, 128), n_objects=4).render("visible", 0.0)
    assert not np.array_equal(forward[0][0], other)


def test_synthetic_frames_have_the_documented_form() -> None:
    scene = SyntheticScene(seed=1, size=(96, 128), n_objects=3)
    vis, gt = scene.render("visible", 0.5, 3)
    th, _ = scene.render("thermal", 0.5, 3)
    assert vis.shape == (96, 128, 3) and vis.dtype == np.uint8 and vis.flags.c_contiguous
    assert th.shape == scene.thermal_size == (48, 64) and th.dtype == np.uint8
    assert len(gt) == 3
    assert {g.object_id for g in gt} == {0, 1, 2}
    for g in gt:
        assert 1 <= g.label < len(CLASS_NAMES)


def test_objects_move_with_constant_velocity_and_bounce_inside_the_frame() -> None:
    scene = SyntheticScene(seed=3, size=(80, 120), n_objects=5, speed=(200.0, 300.0))
    h, w = scene.size
    prev = None
    for k in range(60):
        boxes = scene.boxes_at(k / 30.0)
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        sizes = boxes[:, 2:] - boxes[:, :2]
        assert np.array_equal(sizes, [[o.width, o.height] for o in scene.objects])
        if prev is not None:  # one frame at <= 300 px/s moves at most ~10 px (+1 rounding)
            assert np.abs(boxes - prev).max() <= 300 / 30 + 1
        prev = boxes
    # Far in time the objects are still in the frame (reflection, not escape).
    far = scene.boxes_at(1234.5)
    assert (far[:, 2] <= w).all() and (far[:, 0] >= 0).all()


def test_visible_ground_truth_boxes_cover_the_drawn_objects() -> None:
    scene = SyntheticScene(
        seed=5,
        size=(120, 160),
        n_objects=3,
        noise=(0.0, 0.0),
        smoke=False,
        camouflaged_fraction=0.0,
    )
    img, gt = scene.render("visible", 0.2)
    diff = np.abs(img.astype(np.int16) - scene.background.astype(np.int16)).sum(axis=2) > 0
    inside = np.zeros_like(diff)
    for g in gt:
        x0, y0, x1, y1 = (int(v) for v in g.box)
        inside[y0:y1, x0:x1] = True
    # Every changed pixel is inside some ground-truth box, and each visible box has changes.
    assert not (diff & ~inside).any()
    for g in gt:
        x0, y0, x1, y1 = (int(v) for v in g.box)
        if g.visible:
            assert diff[y0:y1, x0:x1].mean() > 0.5


def test_thermal_ground_truth_is_the_projection_of_the_visible_one() -> None:
    scene = SyntheticScene(seed=11, size=(120, 160), n_objects=4, cold_fraction=0.0)
    _, gv = scene.render("visible", 1.0)
    th, gt = scene.render("thermal", 1.0)
    H = scene.homography
    by_id = {g.object_id: g for g in gv}
    tw, thh = scene.thermal_size[1], scene.thermal_size[0]
    for g in gt:
        x0, y0, x1, y1 = by_id[g.object_id].box
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], float) @ H.T
        xy = corners[:, :2] / corners[:, 2:]
        want = (
            max(xy[:, 0].min(), 0),
            max(xy[:, 1].min(), 0),
            min(xy[:, 0].max(), tw),
            min(xy[:, 1].max(), thh),
        )
        assert np.allclose(g.box, want)
        if g.visible:  # warm objects are bright in the thermal image
            bx0, by0, bx1, by1 = (round(v) for v in g.box)
            assert th[by0:by1, bx0:bx1].mean() > np.median(th) + 40


def test_fusion_relevant_flags_make_some_objects_single_modality() -> None:
    scene = SyntheticScene(
        seed=2, size=(120, 160), n_objects=8, camouflaged_fraction=0.25, cold_fraction=0.25
    )
    assert sum(o.camouflaged for o in scene.objects) == 2
    assert sum(o.cold for o in scene.objects) == 2
    assert not any(o.camouflaged and o.cold for o in scene.objects)
    _, gv = scene.render("visible", 0.0)
    for g, o in zip(gv, scene.objects):
        if o.camouflaged:
            assert not g.visible


def test_synthetic_source_timestamps_and_length() -> None:
    scene = SyntheticScene(seed=0, size=(64, 64), n_objects=2, t0_ns=1_000)
    src = SyntheticSource(scene, "thermal", n_frames=4, fps=10.0, offset_s=0.05)
    frames = list(src)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.timestamp_ns for f in frames] == [
        1_000 + 50_000_000 + k * 100_000_000 for k in range(4)
    ]
    assert all(f.sensor == "thermal" and f.ground_truth is not None for f in frames)
    assert src.read() is None
    j1 = [f.timestamp_ns for f in SyntheticSource(scene, n_frames=5, jitter_ms=3.0)]
    j2 = [f.timestamp_ns for f in SyntheticSource(scene, n_frames=5, jitter_ms=3.0)]
    assert j1 == j2
    nominal = [round(k / 30.0 * 1e9) + 1_000 for k in range(5)]
    assert all(abs(a - b) <= 3_000_000 for a, b in zip(j1, nominal))


def test_bad_synthetic_arguments_raise_typed_errors() -> None:
    with pytest.raises(SourceError):
        SyntheticScene(size=(8, 8))
    with pytest.raises(SourceError):
        SyntheticScene(homography=np.zeros((3, 3)))
    with pytest.raises(SourceError):
        SyntheticSource(SyntheticScene(size=(64, 64)), "radar")


# ============================================================================ image folder
def test_image_folder_is_read_in_sorted_order(tmp_path: Path) -> None:
    for name, v in (("b.png", 20), ("a.png", 10), ("c.jpg", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((8, 9, 3), v, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    with ImageFolderSource(tmp_path, fps=10) as src:
        frames = list(src)
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 20, 30]
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[1].timestamp_ns - frames[0].timestamp_ns == 100_000_000


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceOpenError, match="not found"):
        ImageFolderSource(tmp_path / "missing")
    with pytest.raises(SourceOpenError, match="no image files"):
        ImageFolderSource(tmp_path)
    cv2.imwrite(str(tmp_path / "0.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "1.png").write_bytes(b"\x89PNG garbage")
    cv2.imwrite(str(tmp_path / "2.png"), np.ones((4, 4, 3), np.uint8))
    src = ImageFolderSource(tmp_path)
    assert src.read() is not None
    with pytest.raises(CorruptFrameError, match=r"1\.png"):
        src.read()
    skip = ImageFolderSource(tmp_path, on_corrupt="skip")
    assert len(list(skip)) == 2 and skip.corrupt_frames == 1


# ============================================================================ video capture
def test_missing_video_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(SourceOpenError, match="not found"):
        CaptureSource(tmp_path / "nope.avi")
    with pytest.raises(SourceOpenError):
        open_source(str(tmp_path / "nope.mp4"))


def test_video_file_frames_and_end_of_stream(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (32, 24))
    for k in range(6):
        w.write(np.full((24, 32, 3), 40 * k, np.uint8))
    w.release()
    with CaptureSource(path) as src:
        assert not src.live and src.fps == pytest.approx(25.0)
        frames = list(src)
    assert len(frames) == 6
    assert frames[0].image.shape == (24, 32, 3)
    assert frames[1].timestamp_ns - frames[0].timestamp_ns == 40_000_000
    assert abs(int(frames[5].image.mean()) - 200) <= 3


def test_lost_camera_reconnects_then_raises_without_hanging() -> None:
    before = set(vision_threads())
    caps = [
        FakeCapture([solid_image(1), solid_image(2)]),  # first connection: 2 frames, then lost
        FakeCapture([], opened=False),  # reconnection attempt 1 fails
        FakeCapture([solid_image(3)]),  # attempt 2 succeeds: one frame, then lost again
    ]
    made: list[FakeCapture] = []

    def factory() -> FakeCapture:
        c = caps.pop(0) if caps else FakeCapture([], opened=False)
        made.append(c)
        return c

    policy = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)
    src = CaptureSource(0, capture_factory=factory, reconnect=policy)
    assert src.live
    vals = [int(src.read().image[0, 0, 0]) for _ in range(3)]  # type: ignore[union-attr]
    assert vals == [1, 2, 3]
    assert src.reconnects == 1
    t0 = time.monotonic()
    with pytest.raises(SourceLostError) as ei:
        src.read()
    assert time.monotonic() - t0 < 1.0
    assert ei.value.attempts == 3 and "camera0" in str(ei.value)
    assert made[0].released
    src.close()
    assert set(vision_threads()) <= before


def test_close_interrupts_the_reconnection_backoff() -> None:
    caps = [FakeCapture([solid_image(1)])]
    src = CaptureSource(
        0,
        capture_factory=lambda: caps.pop(0) if caps else FakeCapture([], opened=False),
        reconnect=ReconnectPolicy(max_attempts=50, initial_delay=0.5, max_delay=0.5),
    )
    assert src.read() is not None
    timer = threading.Timer(0.1, src.close)
    timer.start()
    t0 = time.monotonic()
    assert src.read() is None  # closed during the backoff wait: end of stream, no error
    assert time.monotonic() - t0 < 0.45
    timer.join()


def test_corrupt_frames_are_skipped_then_rejected() -> None:
    bad = [np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 3), np.float32), "junk"]
    src = CaptureSource(
        "cam",
        live=True,
        capture_factory=lambda: FakeCapture([bad[0], solid_image(9), *bad * 3]),
        reconnect=ReconnectPolicy(max_corrupt=3),
    )
    f = src.read()
    assert f is not None and int(f.image[0, 0, 0]) == 9 and src.corrupt_frames == 1
    with pytest.raises(CorruptFrameError, match="unusable frames"):
        src.read()
    src.close()


def test_unopenable_camera_is_a_typed_error() -> None:
    with pytest.raises(SourceOpenError):
        CaptureSource(3, capture_factory=lambda: FakeCapture([], opened=False))


def test_grey_and_bgra_frames_are_normalised() -> None:
    src = CaptureSource(
        "cam",
        live=False,
        capture_factory=lambda: FakeCapture(
            [np.zeros((4, 5, 1), np.uint8), np.zeros((4, 5, 4), np.uint8)]
        ),
    )
    a, b = src.read(), src.read()
    assert a is not None and a.image.shape == (4, 5)
    assert b is not None and b.image.shape == (4, 5, 3)
    assert src.read() is None


# ============================================================================ extension point
def test_register_source_scheme_extends_open_source() -> None:
    class Const(Source):
        def __init__(self, rest: str, **kw: Any) -> None:
            self.name = f"const{rest}"
            self.live = True
            self.n = 0

        def read(self) -> Frame | None:
            self.n += 1
            return Frame(solid_image(self.n), time.monotonic_ns(), self.name, self.n - 1)

        def close(self) -> None:
            pass

    register_source("test-const", Const)
    src = open_source("test-const:7")
    assert isinstance(src, Const) and src.name == "const7"
    with pytest.raises(SourceError):
        register_source("rtsp", Const)
    with pytest.raises(SourceError):
        register_source("bad scheme", Const)
    syn = open_source("synthetic:4", size=(64, 64), n_frames=2)
    assert len(list(syn)) == 2
