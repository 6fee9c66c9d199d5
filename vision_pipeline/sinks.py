"""Outputs of the pipeline: annotated video, JSON lines, a window, an MJPEG HTTP stream.

A sink receives one :class:`FrameResult` per processed frame through ``write`` and releases its
resources in ``close`` (idempotent); sinks are context managers. :func:`annotate` draws boxes,
labels, scores, track ids, confirmation marks, top-k classes and the frame rate.

Sinks:

* :class:`VideoFileSink`: ``cv2.VideoWriter`` (``MJPG`` in ``.avi``, ``mp4v`` in ``.mp4``).
* :class:`JsonLinesSink`: one JSON object per frame (detections, classes, latencies).
* :class:`WindowSink`: ``cv2.imshow`` when a display exists, else
  :class:`~vision_pipeline.errors.DisplayUnavailableError` at construction.
* :class:`MjpegServerSink`: ``multipart/x-mixed-replace`` JPEG stream from a small threaded
  ``http.server`` bound to 127.0.0.1 by default, with a bounded number of clients and a clean
  shutdown (every thread joined with a deadline).

On a board, :class:`vision_pipeline.pynq_video.DisplayPortSink` shows the frames on the PS
DisplayPort or an overlay's HDMI out (sink specs ``displayport`` / ``hdmi_out``, opened by
:func:`vision_pipeline.app.open_sink_spec`; that module is imported only then, as it reaches
pynq).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import os
import socketserver
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import cv2
import numpy as np

from vision_pipeline.errors import DisplayUnavailableError, SinkError
from vision_pipeline.postprocess import ClassScore, Detection
from vision_pipeline.sync import FrameSet

__all__ = [
    "FrameResult",
    "JsonLinesSink",
    "MjpegServerSink",
    "Sink",
    "VideoFileSink",
    "WindowSink",
    "annotate",
    "display_available",
]


_K = TypeVar("_K", bound="Sink")


# ---------------------------------------------------------------------------- the result record
@dataclasses.dataclass(eq=False)
class FrameResult:
    """Everything the pipeline knows about one frame (set).

    Attributes:
        frames: The synchronised frames (``frames.main`` is the primary frame).
        detections: Final detections in the primary frame (fused, confirmed, tracked).
        per_sensor: Detections of each sensor before fusion, in its own frame.
        classes: Classification top-k of the primary frame (empty for detectors).
        latency_ms: Per stage processing time, milliseconds, plus ``total`` (capture to sink).
        fps: Pipeline throughput when the frame was finished, frames per second.
    """

    frames: FrameSet
    detections: list[Detection] = dataclasses.field(default_factory=list)
    per_sensor: dict[str, list[Detection]] = dataclasses.field(default_factory=dict)
    classes: list[ClassScore] = dataclasses.field(default_factory=list)
    latency_ms: dict[str, float] = dataclasses.field(default_factory=dict)
    fps: float = 0.0

    @property
    def image(self) -> np.ndarray:
        """The primary frame's image."""
        return self.frames.main.image

    @property
    def index(self) -> int:
        """The primary frame's index."""
        return self.frames.index

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no pixels)."""
        f = self.frames.main
        return {
            "index": f.index,
            "timestamp_ns": f.timestamp_ns,
            "sensor": f.sensor,
            "size": list(f.size),
            "sensors": {k: v.index for k, v in self.frames.frames.items()},
            "detections": [d.to_dict() for d in self.detections],
            "per_sensor": {k: [d.to_dict() for d in v] for k, v in self.per_sensor.items()},
            "classes": [c.to_dict() for c in self.classes],
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
            "fps": round(self.fps, 2),
        }


# ---------------------------------------------------------------------------- drawing
def _color(label: int) -> tuple[int, int, int]:
    """A stable, saturated BGR colour per class id."""
    hue = (label * 47) % 180
    hsv = np.array([[[hue, 220, 255]]], dtype=np.uint8)
    b, g, r = (int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
    return b, g, r


def annotate(
    image: np.ndarray,
    detections: Sequence[Detection] = (),
    classes: Sequence[ClassScore] = (),
    fps: float | None = None,
    thickness: int = 2,
) -> np.ndarray:
    """Draw detections, classes and the frame rate on a BGR copy of ``image``.

    Each box shows ``name`` (or ``#label``), the score, ``id <track>`` and a confirmation mark
    (``+`` confirmed, ``?`` unconfirmed); dashed-looking thin boxes are unconfirmed.

    Args:
        image: uint8 HxWx3 BGR or HxW grey frame (not modified).
        detections: Boxes in the frame's pixels.
        classes: Top-k classes, listed in the top-left corner.
        fps: Frames per second shown in the top-right corner.
        thickness: Box line width, pixels.

    Returns:
        uint8 HxWx3 BGR annotated image.
    """
    img = np.asarray(image)
    out = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img.copy()
    h, w = out.shape[:2]
    scale = max(0.35, min(h, w) / 600.0)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for d in detections:
        c = _color(d.label)
        x0, y0, x1, y1 = (round(v) for v in d.box)
        th = 1 if d.confirmed is False else thickness
        cv2.rectangle(out, (x0, y0), (max(x1 - 1, x0), max(y1 - 1, y0)), c, th)
        text = f"{d.name or '#' + str(d.label)} {d.score:.2f}"
        if d.track_id is not None:
            text += f" id{d.track_id}"
        if d.confirmed is not None:
            text += " +" if d.confirmed else " ?"
        (tw, tht), base = cv2.getTextSize(text, font, scale, 1)
        ty = y0 - 2 if y0 - tht - base - 2 >= 0 else min(y1 + tht + 2, h - 1)
        cv2.rectangle(out, (x0, ty - tht - base), (x0 + tw, ty + base - 1), c, -1)
        cv2.putText(out, text, (x0, ty - 1), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    y = int(20 * scale / 0.5)
    for cs in classes:
        cv2.putText(
            out,
            f"{cs.name or cs.label}: {cs.score:.3f}",
            (5, y),
            font,
            scale,
            (0, 255, 0),
            1,
            cv2.LINE_AA,
        )
        y += int(18 * scale / 0.5)
    if fps is not None:
        text = f"{fps:.1f} fps"
        (tw, _), _ = cv2.getTextSize(text, font, scale, 1)
        cv2.putText(
            out,
            text,
            (w - tw - 5, int(20 * scale / 0.5)),
            font,
            scale,
            (0, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out


def _annotated(result: FrameResult) -> np.ndarray:
    return annotate(result.image, result.detections, result.classes, result.fps or None)


# ---------------------------------------------------------------------------- the interface
class Sink:
    """Base class of the sinks (context manager; ``close`` is idempotent)."""

    name: str = "sink"

    def write(self, result: FrameResult) -> None:
        """Consume one result.

        Raises:
            SinkError: the output cannot be written.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (idempotent)."""

    def __enter__(self: _K) -> _K:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------- video file
_FOURCC_EXT = {"MJPG": ".avi", "XVID": ".avi", "mp4v": ".mp4", "avc1": ".mp4"}


class VideoFileSink(Sink):
    """An annotated video file.

    Args:
        path: Output file (``.avi`` for MJPG, ``.mp4`` for mp4v).
        fps: Frame rate written in the file.
        fourcc: Codec four-character code (``MJPG`` or ``mp4v`` are always available).
        size: (width, height); default: the first frame's size. Frames of another size are
            resized.
        draw: Annotate the frames (else write them raw).

    Raises:
        SinkError: bad arguments; the writer cannot be opened (on the first ``write``).
    """

    name = "video"

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float = 30.0,
        fourcc: str = "MJPG",
        size: tuple[int, int] | None = None,
        draw: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        if len(fourcc) != 4:
            raise SinkError(f"{self.path}: fourcc must have 4 characters, got {fourcc!r}")
        if not fps > 0:
            raise SinkError(f"{self.path}: fps must be positive, got {fps}")
        parent = Path(self.path).resolve().parent
        if not parent.is_dir():
            raise SinkError(f"{self.path}: folder {parent} does not exist")
        self.fps = float(fps)
        self.fourcc = fourcc
        self.size = size
        self.draw = bool(draw)
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._closed = False

    def write(self, result: FrameResult) -> None:
        """Append one (annotated) frame."""
        if self._closed:
            raise SinkError(f"{self.path}: write after close")
        img = _annotated(result) if self.draw else result.image
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if self._writer is None:
            if self.size is None:
                self.size = (int(img.shape[1]), int(img.shape[0]))
            w = cv2.VideoWriter(
                self.path, cv2.VideoWriter.fourcc(*self.fourcc), self.fps, self.size
            )
            if not w.isOpened():
                raise SinkError(
                    f"{self.path}: OpenCV cannot open a video writer with fourcc "
                    f"'{self.fourcc}' (use MJPG with .avi or mp4v with .mp4)"
                )
            self._writer = w
        if (img.shape[1], img.shape[0]) != self.size:
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(img))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file."""
        self._closed = True
        w, self._writer = self._writer, None
        if w is not None:
            w.release()


# ---------------------------------------------------------------------------- JSON lines
class JsonLinesSink(Sink):
    """One JSON object per frame (:meth:`FrameResult.to_dict`), one per line.

    Args:
        target: File path (created/truncated) or an open text stream (not closed by the sink).
        flush: Flush after every line (for ``tail -f``).

    Raises:
        SinkError: the file cannot be opened or written.
    """

    name = "jsonl"

    def __init__(self, target: str | os.PathLike[str] | IO[str], flush: bool = True) -> None:
        self._own = isinstance(target, (str, os.PathLike))
        self._f: IO[str] | None
        if isinstance(target, (str, os.PathLike)):
            self.path = os.fspath(target)
            try:
                self._f = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise SinkError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        else:
            self.path = str(getattr(target, "name", "<stream>"))
            self._f = target
        self.flush = bool(flush)
        self.lines = 0

    def write(self, result: FrameResult) -> None:
        """Write the frame's line."""
        if self._f is None:
            raise SinkError(f"{self.path}: write after close")
        try:
            self._f.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
            if self.flush:
                self._f.flush()
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot write: {exc.strerror or exc}") from None
        self.lines += 1

    def close(self) -> None:
        """Close the file (an external stream is only flushed)."""
        f, self._f = self._f, None
        if f is None:
            return
        try:
            if self._own:
                f.close()
            else:
                f.flush()
        except OSError:
            pass


# ---------------------------------------------------------------------------- window
def display_available() -> bool:
    """Whether a window can be shown: a display server and an OpenCV build with a GUI."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    info = cv2.getBuildInformation()
    gui = [ln for ln in info.splitlines() if ln.strip().startswith("GUI:")]
    return not (gui and gui[0].split(":", 1)[1].strip().upper() == "NONE")


class WindowSink(Sink):
    """Shows annotated frames in a host window (``cv2.imshow``).

    Pressing ``q`` or Esc sets ``quit_requested`` (the pipeline stops).

    Args:
        title: Window title.

    Raises:
        DisplayUnavailableError: no display server, or OpenCV was built without a GUI
            (``opencv-python-headless``); use :class:`MjpegServerSink` or a video file instead.
    """

    name = "window"

    def __init__(self, title: str = "edge-dnn") -> None:
        if not display_available():
            raise DisplayUnavailableError(
                "no display available (no DISPLAY/WAYLAND_DISPLAY or OpenCV without GUI "
                "support); stream with MjpegServerSink or write a video file instead"
            )
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise DisplayUnavailableError(f"OpenCV cannot open a window: {exc}") from None
        self.quit_requested = False
        self._open = True

    def write(self, result: FrameResult) -> None:
        """Show the frame and poll the keyboard."""
        if not self._open:
            raise SinkError(f"window '{self.title}': write after close")
        cv2.imshow(self.title, _annotated(result))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.quit_requested = True

    def close(self) -> None:
        """Close the window."""
        if self._open:
            self._open = False
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(self.title)


# ---------------------------------------------------------------------------- MJPEG over HTTP
_BOUNDARY = "edgednnframe"


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the handler threads
    allow_reuse_address = True
    sink: MjpegServerSink


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = 5.0  # socket timeout: a stalled client cannot block a write forever
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        sink = self.server.sink
        path = self.path.split("?", 1)[0]
        if path == sink.path:
            self._stream(sink)
        elif path == "/snapshot.jpg":
            jpeg = sink.latest()
            if jpeg is None:
                self.send_error(503, "no frame yet")
                return
            self._send(200, "image/jpeg", jpeg)
        elif path == "/":
            page = f'<html><body><img src="{sink.path}"></body></html>'.encode()
            self._send(200, "text/html; charset=utf-8", page)
        else:
            self.send_error(404)

    def _send(self, code: int, ctype: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, sink: MjpegServerSink) -> None:
        if not sink._slots.acquire(blocking=False):
            self.send_error(503, f"too many clients (limit {sink.max_clients})")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("Pragma", "no-cache")
            self.end_headers()
            seq = -1
            while True:
                got = sink._next(seq, timeout=0.25)
                if got is None:
                    if sink._stopping.is_set():
                        return
                    continue
                seq, jpeg = got
                self.wfile.write(
                    f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode("ascii")
                )
                self.wfile.write(jpeg)
                self.wfile.write(b"\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            return  # the client went away or stalled
        finally:
            sink._slots.release()


class MjpegServerSink(Sink):
    """Serves the annotated frames as an MJPEG stream over HTTP.

    Endpoints: ``path`` (default ``/stream.mjpg``: ``multipart/x-mixed-replace`` JPEG frames),
    ``/snapshot.jpg`` (the latest frame) and ``/`` (an HTML page showing the stream). Every
    client gets the newest frame (slow clients skip frames; the sink never blocks on them).

    Args:
        host: Interface to bind; 127.0.0.1 (local only) unless told otherwise.
        port: TCP port; 0 picks a free one (see ``port`` / ``url`` after construction).
        max_clients: Concurrent stream clients; more get HTTP 503.
        quality: JPEG quality (1..100).
        path: URL path of the stream.
        draw: Annotate the frames.
        join_timeout: Seconds ``close`` waits for the server threads.

    Raises:
        SinkError: bad arguments or the port cannot be bound.
    """

    name = "mjpeg"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        max_clients: int = 4,
        quality: int = 80,
        path: str = "/stream.mjpg",
        draw: bool = True,
        join_timeout: float = 5.0,
    ) -> None:
        if max_clients < 1:
            raise SinkError(f"max_clients must be >= 1, got {max_clients}")
        if not 1 <= quality <= 100:
            raise SinkError(f"JPEG quality must be in 1..100, got {quality}")
        if not path.startswith("/") or path in ("/", "/snapshot.jpg"):
            raise SinkError(f"invalid stream path {path!r}")
        self.max_clients = int(max_clients)
        self.quality = int(quality)
        self.path = path
        self.draw = bool(draw)
        self.join_timeout = float(join_timeout)
        self._slots = threading.BoundedSemaphore(self.max_clients)
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self.frames_encoded = 0
        try:
            self._server = _Server((host, int(port)), _Handler)
        except OSError as exc:
            raise SinkError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
        self._server.sink = self
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="mjpeg-server"
        )
        self._thread.start()
        self._closed = False

    @property
    def url(self) -> str:
        """URL of the stream."""
        return f"http://{self.host}:{self.port}{self.path}"

    def latest(self) -> bytes | None:
        """The latest JPEG, or None before the first frame."""
        with self._cond:
            return self._jpeg

    def _next(self, seq: int, timeout: float) -> tuple[int, bytes] | None:
        with self._cond:
            if self._seq == seq or self._jpeg is None:
                self._cond.wait(timeout)
            if self._seq == seq or self._jpeg is None:
                return None
            return self._seq, self._jpeg

    def write(self, result: FrameResult) -> None:
        """Encode the frame and publish it to the clients."""
        if self._closed:
            raise SinkError(f"{self.url}: write after close")
        img = _annotated(result) if self.draw else result.image
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise SinkError(f"{self.url}: JPEG encoding failed for a {img.shape} image")
        data = buf.tobytes()
        with self._cond:
            self._jpeg = data
            self._seq += 1
            self._cond.notify_all()
        self.frames_encoded += 1

    def close(self) -> None:
        """Stop serving: clients are disconnected, every server thread is joined.

        Raises:
            SinkError: a server thread did not finish within ``join_timeout``.
        """
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + self.join_timeout
        self._server.shutdown()  # returns once serve_forever has left its loop
        self._server.server_close()  # joins the handler threads (they exit within ~0.25 s)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            raise SinkError(f"{self.url}: the server thread did not stop in {self.join_timeout}s")
