"""Source failures inside running pipelines: missing / unreadable / truncated / corrupt files,
a camera lost mid-stream (reconnecting, or giving up), a lost secondary sensor and corrupt
frames. Each must end with a clear typed error or a clean end of stream, within a deadline, and
leave no thread behind (every test compares ``threading.enumerate()`` before and after)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_dnn.cli import main
from tests.unit.vision_nets import FakeCapture, solid_image
from vision_pipeline.app import open_sources
from vision_pipeline.errors import CorruptFrameError, SourceLostError, SourceOpenError
from vision_pipeline.pipeline import Pipeline
from vision_pipeline.sinks import FrameResult
from vision_pipeline.sources import (
    CaptureSource,
    ImageFolderSource,
    ReconnectPolicy,
    SyntheticScene,
    SyntheticSource,
    open_source,
)
from vision_pipeline.sync import Synchronizer

FAST = ReconnectPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02)


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0  # a finished thread may still be unwinding
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) <= before, threading.enumerate()


def _clip(path: Path, n: int = 10) -> Path:
    rng = np.random.default_rng(0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (64, 48))
    for _ in range(n):
        w.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    w.release()
    return path


def _run(src: Any, **kw: Any) -> tuple[list[FrameResult], float]:
    got: list[FrameResult] = []
    t0 = time.monotonic()
    Pipeline(src, on_result=got.append, **kw).run()
    return got, time.monotonic() - t0


# ============================================================================ files
def test_missing_file_is_a_clear_error_from_the_api_and_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "clip.avi"
    with pytest.raises(SourceOpenError, match=r"clip\.avi.*not found"):
        open_sources([str(missing)])
    rc = main(["pipeline", "--model", "m.edm", "--source", str(missing), "--sink", "window"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "clip.avi" in err and "not found" in err


def test_unreadable_video_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.avi"
    bad.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)))
    with pytest.raises(SourceOpenError, match="cannot be opened"):
        open_source(str(bad))


def test_truncated_and_damaged_video_files_end_cleanly(tmp_path: Path) -> None:
    whole = _clip(tmp_path / "clip.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(whole[: len(whole) * 6 // 10])
    damaged = bytearray(whole)
    damaged[len(whole) // 2 : len(whole) // 2 + 400] = bytes(400)
    (tmp_path / "damaged.avi").write_bytes(bytes(damaged))
    got, secs = _run(CaptureSource(tmp_path / "cut.avi"))
    assert 1 <= len(got) < 10 and secs < 3.0  # the frames before the cut, then the end
    got, secs = _run(CaptureSource(tmp_path / "damaged.avi"))
    assert 1 <= len(got) <= 10 and secs < 3.0  # a damaged frame is lost or decoded, no hang


def test_corrupt_image_in_a_folder_raises_or_is_skipped(tmp_path: Path) -> None:
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"{k}.png"), solid_image(10 * k))
    (tmp_path / "1b.png").write_bytes(b"\x89PNG not really")
    got: list[FrameResult] = []
    with pytest.raises(CorruptFrameError, match=r"1b\.png"):
        Pipeline(ImageFolderSource(tmp_path), on_result=got.append).run()
    assert len(got) <= 2  # the frames before the corrupt one (0.png, 1.png)
    got2, _ = _run(ImageFolderSource(tmp_path, on_corrupt="skip"))
    assert [int(r.image[0, 0, 0]) for r in got2] == [0, 10, 20]


# ============================================================================ cameras
def test_camera_lost_mid_stream_stops_the_pipeline_with_a_typed_error() -> None:
    first = FakeCapture([solid_image(k) for k in range(5)])  # then stops returning frames
    caps = [first]
    src = CaptureSource(
        0,
        capture_factory=lambda: caps.pop(0) if caps else FakeCapture([], opened=False),
        reconnect=FAST,
    )
    got: list[FrameResult] = []
    t0 = time.monotonic()
    with pytest.raises(SourceLostError, match="camera0") as ei:
        Pipeline(src, on_result=got.append).run()
    assert time.monotonic() - t0 < 3.0
    assert ei.value.attempts == 2 and first.released
    assert len(got) <= 5  # live source: frames may have been dropped, never invented


def test_camera_lost_mid_stream_reconnects_and_the_run_continues() -> None:
    caps = [FakeCapture([solid_image(k) for k in range(3)]), FakeCapture([], opened=False)]
    caps.append(FakeCapture([solid_image(10 + k) for k in range(20)]))
    src = CaptureSource(
        "rtsp://cam.local/stream",
        capture_factory=lambda: caps.pop(0),
        reconnect=ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02),
    )
    got: list[FrameResult] = []
    stats = Pipeline(src, on_result=got.append, max_frames=6).run()
    assert src.reconnects == 1 and stats.frames_in == 6
    seen = [int(r.image[0, 0, 0]) for r in got]
    assert seen == sorted(seen) and seen[-1] >= 10  # frames after the reconnection arrived


def test_real_video_capture_that_stops_returning_frames_is_reopened(tmp_path: Path) -> None:
    # A real cv2.VideoCapture on a file treated as a live stream: at the end of the file it
    # stops returning frames, the source reopens it (backoff), then the file disappears.
    path = _clip(tmp_path / "cam.avi", n=4)
    opened: list[int] = []

    def factory() -> cv2.VideoCapture:
        opened.append(1)
        return cv2.VideoCapture(str(path) if len(opened) <= 2 else str(tmp_path / "gone.avi"))

    src = CaptureSource(path, live=True, capture_factory=factory, reconnect=FAST)
    got: list[FrameResult] = []
    with pytest.raises(SourceLostError):
        Pipeline(src, on_result=got.append).run()
    assert src.reconnects == 1 and src.frames_read == 8 and len(opened) == 4


def test_corrupt_frames_in_a_stream_are_skipped_then_rejected() -> None:
    bad = np.zeros((0, 0, 3), np.uint8)
    script = [solid_image(1), bad, solid_image(2), solid_image(3)]
    src = CaptureSource("file.avi", live=False, capture_factory=lambda: FakeCapture(script))
    got, _ = _run(src)
    assert [int(r.image[0, 0, 0]) for r in got] == [1, 2, 3] and src.corrupt_frames == 1
    flood = CaptureSource(
        "file.avi",
        live=False,
        capture_factory=lambda: FakeCapture([solid_image(1), *[bad] * 4]),
        reconnect=ReconnectPolicy(max_corrupt=2),
    )
    with pytest.raises(CorruptFrameError, match="3 unusable frames"):
        Pipeline(flood).run()


def test_lost_secondary_sensor_stops_a_synchronised_pipeline() -> None:
    scene = SyntheticScene(seed=1, size=(48, 64), n_objects=1)
    visible = SyntheticSource(scene, "visible", n_frames=50)
    caps = [FakeCapture([np.zeros((24, 32), np.uint8)] * 3)]
    thermal = CaptureSource(
        1,
        name="thermal",
        capture_factory=lambda: caps.pop(0) if caps else FakeCapture([], opened=False),
        reconnect=FAST,
    )
    t0 = time.monotonic()
    with pytest.raises(SourceLostError, match="thermal"):
        Pipeline(Synchronizer(visible, [thermal], tolerance_ms=1e12, require_all=False)).run()
    assert time.monotonic() - t0 < 3.0
