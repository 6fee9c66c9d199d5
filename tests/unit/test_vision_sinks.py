"""Sinks: MJPEG over HTTP read by a real client, video file, JSON lines, window, annotation."""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.unit.vision_nets import vision_threads
from vision_pipeline.errors import DisplayUnavailableError, SinkError
from vision_pipeline.postprocess import ClassScore, Detection
from vision_pipeline.sinks import (
    FrameResult,
    JsonLinesSink,
    MjpegServerSink,
    VideoFileSink,
    WindowSink,
    annotate,
)
from vision_pipeline.sources import Frame
from vision_pipeline.sync import FrameSet


def _result(k: int, h: int = 48, w: int = 64) -> FrameResult:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : (k * 7) % w] = (0, 0, 255)
    dets = [Detection((5.0, 5.0, 30.0, 25.0), 0.87, 2, "disc", track_id=k, confirmed=True)]
    return FrameResult(
        FrameSet.single(Frame(img, 1000 * k, "cam", k)),
        dets,
        {"cam": dets},
        [ClassScore(3, "cat", 0.5)],
        {"infer": 1.5},
        fps=12.0,
    )


def _read_part(resp: http.client.HTTPResponse) -> bytes:
    """One part of a multipart/x-mixed-replace body: boundary, headers, JPEG."""
    line = resp.readline()
    while line in (b"\r\n", b""):
        line = resp.readline()
    assert line.startswith(b"--")
    length = None
    while True:
        h = resp.readline()
        if h == b"\r\n":
            break
        k, _, v = h.decode().partition(":")
        if k.lower() == "content-length":
            length = int(v)
        if k.lower() == "content-type":
            assert v.strip() == "image/jpeg"
    assert length is not None
    return resp.read(length)


# ============================================================================ MJPEG
def test_mjpeg_stream_is_readable_by_an_http_client() -> None:
    before = set(vision_threads())
    sink = MjpegServerSink(max_clients=1, quality=90)
    assert sink.host == "127.0.0.1" and sink.url.startswith("http://127.0.0.1:")
    stop = threading.Event()

    def feed() -> None:
        k = 0
        while not stop.is_set():
            sink.write(_result(k))
            k += 1
            time.sleep(0.01)

    feeder = threading.Thread(target=feed, name="vision-test-feeder")
    feeder.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
        conn.request("GET", "/stream.mjpg")
        resp = conn.getresponse()
        assert resp.status == 200
        assert (resp.getheader("Content-Type") or "").startswith("multipart/x-mixed-replace")
        images = [
            cv2.imdecode(np.frombuffer(_read_part(resp), np.uint8), cv2.IMREAD_COLOR)
            for _ in range(3)
        ]
        for img in images:
            assert img is not None and img.shape == (48, 64, 3)
        # The client limit is 1: a second stream client is refused with 503.
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(sink.url, timeout=5)
        assert ei.value.code == 503
        ei.value.close()
        # The snapshot endpoint and the index page are served meanwhile.
        with urllib.request.urlopen(f"http://127.0.0.1:{sink.port}/snapshot.jpg", timeout=5) as r:
            snap = cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)
        assert snap.shape == (48, 64, 3)
        with pytest.raises(urllib.error.HTTPError) as e404:
            urllib.request.urlopen(f"http://127.0.0.1:{sink.port}/nothing", timeout=5)
        assert e404.value.code == 404
        e404.value.close()
    finally:
        stop.set()
        feeder.join(5)
        t0 = time.monotonic()
        sink.close()  # the connected client is still open: close must not wait for it
        assert time.monotonic() - t0 < 3.0
        conn.close()
    assert set(vision_threads()) <= before
    sink.close()  # idempotent
    with pytest.raises(SinkError):
        sink.write(_result(0))


def test_mjpeg_snapshot_before_any_frame_and_bad_arguments() -> None:
    with MjpegServerSink() as sink:
        assert isinstance(sink, MjpegServerSink)
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(f"http://127.0.0.1:{sink.port}/snapshot.jpg", timeout=5)
        assert ei.value.code == 503
        ei.value.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{sink.port}/", timeout=5) as r:
            assert b"/stream.mjpg" in r.read()
        with pytest.raises(SinkError, match="cannot bind"):
            MjpegServerSink(port=sink.port)
    for bad in ({"max_clients": 0}, {"quality": 0}, {"path": "x"}):
        with pytest.raises(SinkError):
            MjpegServerSink(**bad)  # type: ignore[arg-type]


# ============================================================================ files
@pytest.mark.parametrize(("fourcc", "ext"), [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_video_file_sink_writes_readable_video(tmp_path: Path, fourcc: str, ext: str) -> None:
    path = tmp_path / f"out{ext}"
    with VideoFileSink(path, fps=10, fourcc=fourcc) as sink:
        for k in range(5):
            sink.write(_result(k))
        sink.write(_result(5, h=96, w=128))  # another size: resized to the first one
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (48, 64, 3)
        n += 1
    cap.release()
    assert n == 6


def test_video_sink_errors(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="does not exist"):
        VideoFileSink(tmp_path / "no" / "x.avi")
    with pytest.raises(SinkError, match="fourcc"):
        VideoFileSink(tmp_path / "x.avi", fourcc="MJPEG")


def test_json_lines_sink(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonLinesSink(path) as sink:
        for k in range(3):
            sink.write(_result(k))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    d = rows[1]["detections"][0]
    assert d["box"] == [5.0, 5.0, 30.0, 25.0] and d["name"] == "disc" and d["track_id"] == 1
    assert rows[0]["classes"] == [{"label": 3, "name": "cat", "score": 0.5}]
    assert rows[0]["latency_ms"] == {"infer": 1.5} and rows[0]["size"] == [48, 64]
    buf = io.StringIO()
    s = JsonLinesSink(buf)
    s.write(_result(0))
    s.close()
    assert json.loads(buf.getvalue())["sensor"] == "cam" and not buf.closed
    with pytest.raises(SinkError, match="cannot open"):
        JsonLinesSink(tmp_path / "missing" / "x.jsonl")


def test_window_sink_without_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayUnavailableError, match="MjpegServerSink"):
        WindowSink()


# ============================================================================ drawing
def test_annotate_draws_on_a_copy() -> None:
    img = np.zeros((100, 120), np.uint8)
    dets = [
        Detection((10.0, 40.0, 60.0, 90.0), 0.5, 1, "box", track_id=7),
        Detection((70.0, 10.0, 110.0, 50.0), 0.4, 2, confirmed=False),
    ]
    out = annotate(img, dets, [ClassScore(1, "box", 0.9)], fps=29.5)
    assert out.shape == (100, 120, 3) and out.dtype == np.uint8
    assert not img.any()  # input untouched
    assert out[40:90, 10].any() and out[89, 10:60].any()  # box edges
    assert out[60, 30].sum() == 0  # box interior stays
