"""PYNQ video source and DisplayPort / HDMI-out sink with fake pynq video objects.

The fakes stand in for ``pynq.lib.video``'s HDMI input (``configure(PIXEL_BGR)``, ``start``,
``readframe`` returning a buffer with ``freebuffer``, ``mode``, ``close``) and display outputs
(``modes``, ``configure(mode, PIXEL_BGR)``, ``newframe``, ``writeframe``, ``close``); they are
reached by monkeypatching :mod:`arm_scheduler.pynq_api`'s ``loaded_overlay`` and
``open_display_port``. Without patches, this host (no board) must give the typed errors quickly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest

from arm_scheduler import pynq_api
from vision_pipeline.app import open_sink_spec
from vision_pipeline.errors import (
    CorruptFrameError,
    SinkError,
    SourceError,
    SourceLostError,
    SourceOpenError,
)
from vision_pipeline.pipeline import Pipeline
from vision_pipeline.postprocess import Detection
from vision_pipeline.pynq_video import (
    DisplayPortSink,
    PynqVideoSource,
    letterbox_into,
    parse_mode,
)
from vision_pipeline.sinks import FrameResult, annotate
from vision_pipeline.sources import Frame, open_source
from vision_pipeline.sync import FrameSet

BGR = pynq_api.video_api().pixel_formats["bgr"]
RGB = pynq_api.video_api().pixel_formats["rgb"]


def _pynq_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("pynq-")]


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 1.0  # a released fake may still be finishing its call
    while _pynq_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _pynq_threads() == []


# ---------------------------------------------------------------------------- fakes
@dataclasses.dataclass
class Mode:
    width: int
    height: int
    bits_per_pixel: int = 24
    fps: int = 60

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, 3)


class Buf(np.ndarray):
    """A PynqBuffer stand-in: an ndarray subclass that records ``freebuffer``."""

    freed: list[int]

    def freebuffer(self) -> None:
        self.freed.append(1)


def _buf(arr: np.ndarray, freed: list[int]) -> Buf:
    b = arr.view(Buf)
    b.freed = freed
    return b


def _picture(k: int, h: int = 36, w: int = 48) -> np.ndarray:
    """Distinct BGR content per frame: a gradient plus the frame number."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 5, yy * 7, np.full_like(xx, 10 * k)], axis=2) % 256
    return img.astype(np.uint8)


class FakeVideoIn:
    """HDMIIn-like input; ``gate`` (when set) makes ``readframe`` wait for it."""

    def __init__(self, mode: Mode | None = None, gate: threading.Event | None = None) -> None:
        self.mode = mode or Mode(48, 36, fps=30)
        self.gate = gate
        self.calls: list[str] = []
        self.configured_with: Any = None
        self.freed: list[int] = []
        self.k = 0
        self.closed = threading.Event()
        self.threads: set[str] = set()
        self.bad = 0  # this many unusable frames first

    def configure(self, arg: Any) -> None:
        self.calls.append("configure")
        self.configured_with = arg

    def start(self) -> None:
        self.calls.append("start")

    def readframe(self) -> Any:
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(0.4)
        if self.bad:
            self.bad -= 1
            return np.zeros((4, 4), np.float32)
        img = _picture(self.k, self.mode.height, self.mode.width)
        self.k += 1
        return _buf(img, self.freed)

    def close(self) -> None:
        self.calls.append("close")
        self.closed.set()


class AsyncVideoIn(FakeVideoIn):
    """Offers ``readframe_async`` (as pynq's VideoIn does); ``hang`` never completes it."""

    hang = False

    def readframe(self) -> Any:
        raise AssertionError("the async read should be used")

    async def readframe_async(self) -> Any:
        self.threads.add(threading.current_thread().name)
        if self.hang:
            await asyncio.sleep(3600)
        return FakeVideoIn.readframe(self)


class FakeDisplay:
    """DisplayPort-like output (``modes`` present) or HDMIOut-like (``with_modes=False``)."""

    def __init__(self, with_modes: bool = True, gate: threading.Event | None = None) -> None:
        if with_modes:
            self.modes = [Mode(1280, 720), Mode(1920, 1080, fps=60), Mode(1920, 1080, fps=30)]
        self.gate = gate
        self.configured: tuple[Any, Any] | None = None
        self.shown: list[np.ndarray] = []
        self.closed = threading.Event()
        self.fail: Exception | None = None
        self.mode: Any = None

    def configure(self, mode: Any, pixelformat: Any) -> None:
        self.configured = (mode, pixelformat)
        self.mode = mode

    def start(self) -> None:
        pass

    def newframe(self) -> np.ndarray:
        # Undefined contents, like a real frame buffer.
        return np.full((self.mode.height, self.mode.width, 3), 77, np.uint8)

    def writeframe(self, frame: np.ndarray) -> None:
        if self.gate is not None:
            self.gate.wait(5.0)
        if self.fail is not None:
            raise self.fail
        self.shown.append(frame.copy())

    def close(self) -> None:
        self.closed.set()


class FakeOverlay:
    """A pynq.Overlay stand-in: hierarchies as attributes, ``hierarchy_dict``."""

    bitfile_name = "fake.bit"

    def __init__(self, **hier: Any) -> None:
        self.hierarchy_dict = {k: v for k, v in hier.items() if v is not None}
        self.seen: dict[str, Any] = {}
        for k, v in self.hierarchy_dict.items():
            setattr(self, k, v)

    def __getattr__(self, name: str) -> Any:  # unknown IP: AttributeError, as pynq does
        raise AttributeError(name)


class Video(FakeOverlay):
    """The base overlay's ``video`` hierarchy."""

    def __init__(self, hdmi_in: Any = None, hdmi_out: Any = None) -> None:
        super().__init__(hdmi_in=hdmi_in, hdmi_out=hdmi_out)


@pytest.fixture()
def overlay(monkeypatch: pytest.MonkeyPatch) -> FakeOverlay:
    ol = FakeOverlay(video=Video(FakeVideoIn(), FakeDisplay(with_modes=False)))

    def loaded(bitfile: Any = None, download: bool = False) -> FakeOverlay:
        ol.seen.update(bitfile=bitfile, download=download)
        return ol

    monkeypatch.setattr(pynq_api, "loaded_overlay", loaded)
    return ol


def _result(img: np.ndarray, k: int = 0) -> FrameResult:
    dets = [Detection((4.0, 4.0, 20.0, 18.0), 0.9, 1, "box")]
    return FrameResult(FrameSet.single(Frame(img, k, "cam", k)), dets, fps=5.0)


def _wait_for(cond: Any, timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


def _expected_letterbox(img: np.ndarray, big_h: int, big_w: int) -> np.ndarray:
    """Reference: the scale, size and offsets worked out by hand, then one cv2.resize."""
    h, w = img.shape[:2]
    if w * big_h >= h * big_w:  # width-bound
        nw, nh = big_w, min(big_h, max(1, int(np.floor(h * big_w / w + 0.5))))
    else:
        nh, nw = big_h, min(big_w, max(1, int(np.floor(w * big_h / h + 0.5))))
    out = np.zeros((big_h, big_w, 3), np.uint8)
    y0, x0 = (big_h - nh) // 2, (big_w - nw) // 2
    interp = cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR
    src = img if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2)
    out[y0 : y0 + nh, x0 : x0 + nw] = (
        src if (nw, nh) == (w, h) else cv2.resize(src, (nw, nh), interpolation=interp)
    )
    return out


# ============================================================================ the source
def test_frames_flow_with_timestamps_and_bgr_configuration(overlay: FakeOverlay) -> None:
    dev = overlay.video.hdmi_in
    t0 = time.monotonic_ns()
    src = open_source("pynq:hdmi_in")
    assert isinstance(src, PynqVideoSource)
    assert overlay.seen == {"bitfile": None, "download": False}
    assert dev.calls == ["configure", "start"] and dev.configured_with is BGR
    assert (src.name, src.live, src.size, src.fps) == ("hdmi_in", True, (36, 48), 30.0)
    frames = [src.read() for _ in range(3)]
    t1 = time.monotonic_ns()
    assert all(f is not None for f in frames)
    stamps = [f.timestamp_ns for f in frames if f is not None]
    assert t0 <= stamps[0] < stamps[1] < stamps[2] <= t1
    for k, f in enumerate(frames):
        assert f is not None and (f.index, f.sensor) == (k, "hdmi_in")
        assert type(f.image) is np.ndarray and f.image.flags.c_contiguous
        assert np.array_equal(f.image, _picture(k))
    assert len(dev.freed) == 3  # every VDMA buffer went back to pynq's cache
    assert dev.threads == {"pynq-video-in:hdmi_in"}  # device calls on the owning thread
    src.close()
    assert dev.closed.is_set() and dev.calls[-1] == "close"
    assert src.read() is None
    src.close()  # idempotent


def test_rgb_input_is_swapped_and_the_async_read_is_used(overlay: FakeOverlay) -> None:
    dev = AsyncVideoIn()
    overlay.video.hdmi_in = dev
    with open_source("pynq:hdmi_in,rgb=1,name=cam") as src:
        f = src.read()
    assert f is not None and f.sensor == "cam"
    assert np.array_equal(f.image, _picture(0)[:, :, ::-1])
    assert dev.closed.is_set()


def test_mipi_is_configured_with_the_requested_video_mode(
    overlay: FakeOverlay, monkeypatch: pytest.MonkeyPatch
) -> None:
    cam = FakeVideoIn(Mode(1920, 1080, fps=30))
    overlay.mipi = cam  # type: ignore[attr-defined]
    with open_source("pynq:mipi,mode=1920x1080@30,overlay=/boot/base.bit,download=1") as src:
        assert isinstance(src, PynqVideoSource)
        assert src.fps == 30.0 and src.size == (1080, 1920)
    m = cam.configured_with
    assert (m.width, m.height, m.bits_per_pixel, m.fps) == (1920, 1080, 24, 30)
    assert overlay.seen == {"bitfile": "/boot/base.bit", "download": True}


def test_a_device_object_can_be_given_directly() -> None:
    dev = FakeVideoIn()
    with PynqVideoSource(dev, name="front") as src:
        f = src.read()
    assert f is not None and f.sensor == "front" and dev.closed.is_set()


def test_read_deadline_raises_source_lost(overlay: FakeOverlay) -> None:
    gate = threading.Event()
    overlay.video.hdmi_in = FakeVideoIn(gate=gate)
    src = PynqVideoSource("hdmi_in", read_timeout=0.15)
    t = time.monotonic()
    with pytest.raises(SourceLostError, match=r"no frame within 0\.15s") as ei:
        src.read()
    assert 0.14 <= time.monotonic() - t < 1.0  # generous: CI machines are loaded
    assert ei.value.source == "hdmi_in"
    gate.set()
    assert src.read() is not None  # the pending read is picked up
    src.close()


def test_a_hung_async_read_times_out_without_wedging_the_device_thread(
    overlay: FakeOverlay,
) -> None:
    dev = AsyncVideoIn()
    dev.hang = True
    overlay.video.hdmi_in = dev
    src = PynqVideoSource("hdmi_in", read_timeout=0.1)
    with pytest.raises(SourceLostError):
        src.read()
    t = time.monotonic()
    src.close()
    assert time.monotonic() - t < 1.5 and dev.closed.is_set()


def test_close_from_another_thread_ends_a_waiting_read(overlay: FakeOverlay) -> None:
    gate = threading.Event()
    overlay.video.hdmi_in = FakeVideoIn(gate=gate)
    src = PynqVideoSource("hdmi_in", read_timeout=5.0)
    timer = threading.Timer(0.05, src.close)
    timer.start()
    t = time.monotonic()
    assert src.read() is None
    assert time.monotonic() - t < 1.5
    timer.join()


def test_corrupt_frames_are_skipped_then_raise(overlay: FakeOverlay) -> None:
    dev = overlay.video.hdmi_in
    dev.bad = 2
    with PynqVideoSource("hdmi_in", max_corrupt=2) as src:
        f = src.read()
        assert f is not None and f.index == 0 and src.corrupt_frames == 2
        dev.bad = 3
        with pytest.raises(CorruptFrameError, match="3 unusable frames"):
            src.read()


def test_no_signal_within_the_open_deadline(overlay: FakeOverlay) -> None:
    gate = threading.Event()
    dev = overlay.video.hdmi_in
    dev.configure = lambda arg: gate.wait(5.0)  # type: ignore[method-assign,assignment]
    t = time.monotonic()
    with pytest.raises(SourceOpenError, match=r"did not start within 0\.1s.*HDMI source"):
        PynqVideoSource("hdmi_in", open_timeout=0.1, close_timeout=0.05)
    assert time.monotonic() - t < 1.5
    gate.set()  # when the signal comes, the device thread closes the input and ends
    assert dev.closed.wait(1.0)


def test_overlay_without_the_input_names_what_it_has(overlay: FakeOverlay) -> None:
    del overlay.video.hdmi_in
    with pytest.raises(SourceOpenError, match=r"no video input at video\.hdmi_in or hdmi_in"):
        open_source("pynq:hdmi_in")
    with pytest.raises(SourceOpenError, match=r"hierarchies: video"):
        open_source("pynq:my.camera")


def test_a_pynq_driver_error_becomes_a_source_open_error(
    overlay: FakeOverlay, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(arg: Any) -> None:
        raise RuntimeError("HDMI RX must be ready to get mode")

    monkeypatch.setattr(overlay.video.hdmi_in, "configure", broken)
    with pytest.raises(SourceOpenError, match="RuntimeError: HDMI RX must be ready"):
        open_source("pynq:hdmi_in")
    assert overlay.video.hdmi_in.closed.is_set()


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("pynq:", "write pynq:<input>"),
        ("pynq:name=x", "write pynq:<input>"),
        ("pynq:hdmi_in,colour=1", "bad option 'colour=1'"),
        ("pynq:mipi,mode=1280", "WIDTHxHEIGHT"),
        ("pynq:hdmi_in,rgb=maybe", "not 0/1"),
        ("pynq:hdmi_in,read_timeout=fast", "bad option"),
    ],
)
def test_bad_source_specs(spec: str, match: str) -> None:
    with pytest.raises(SourceError, match=match):
        open_source(spec)


@pytest.mark.skipif(pynq_api.real_board_present(), reason="on a board the input may exist")
def test_no_board_gives_the_clear_error_quickly() -> None:
    t = time.monotonic()
    with pytest.raises(SourceOpenError, match=r"hdmi_in.*needs a PYNQ board") as ei:
        open_source("pynq:hdmi_in")
    assert time.monotonic() - t < 2.0
    assert ei.value.source == "hdmi_in"


@pytest.mark.skipif(pynq_api.real_board_present(), reason="on a board the input may exist")
def test_cli_reports_the_missing_board_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from edge_dnn.cli import main

    assert main(["pipeline", "--model", "absent.edm", "--source", "pynq:hdmi_in"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a PYNQ board" in err[0]


# ============================================================================ letterboxing
@pytest.mark.parametrize(
    ("src_hw", "dst_hw"),
    [((36, 48), (720, 1280)), ((100, 40), (60, 80)), ((60, 80), (60, 80)), ((50, 300), (90, 160))],
)
def test_letterbox_matches_the_hand_computed_placement(
    src_hw: tuple[int, int], dst_hw: tuple[int, int]
) -> None:
    rng = np.random.default_rng(sum(src_hw))
    img = rng.integers(0, 256, (*src_hw, 3), dtype=np.uint8)
    dst = np.full((*dst_hw, 3), 77, np.uint8)  # garbage: every pixel must be written
    box = letterbox_into(dst, img)
    assert np.array_equal(dst, _expected_letterbox(img, *dst_hw))
    assert box.x0 + box.width <= dst_hw[1] and box.y0 + box.height <= dst_hw[0]


def test_letterbox_grey_image_into_a_strided_frame() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    raw = np.full((60, 100 * 3 + 32), 9, np.uint8)  # DRM rows padded to a larger stride
    dst = raw[:, : 100 * 3].reshape(60, 100, 3)
    assert not dst.flags.c_contiguous
    letterbox_into(dst, img)
    assert np.array_equal(dst, _expected_letterbox(img, 60, 100))
    assert np.all(raw[:, 300:] == 9)  # the padding is not touched


def test_letterbox_rejects_bad_frames() -> None:
    with pytest.raises(SinkError, match="HxWx3 uint8"):
        letterbox_into(np.zeros((4, 4, 4), np.uint8), np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(SinkError, match="image must be uint8"):
        letterbox_into(np.zeros((4, 4, 3), np.uint8), np.zeros((2, 2, 3), np.float32))


def test_parse_mode() -> None:
    assert parse_mode("1280x720") == (1280, 720, None)
    assert parse_mode(" 1920X1080@30 ") == (1920, 1080, 30)
    for bad in ("1280", "0x720", "axb", "640x480@0"):
        with pytest.raises(ValueError):
            parse_mode(bad)


# ============================================================================ the sink
@pytest.fixture()
def display(monkeypatch: pytest.MonkeyPatch) -> FakeDisplay:
    dp = FakeDisplay()

    def open_dp(event_loop: Any = None) -> FakeDisplay:
        assert isinstance(event_loop, asyncio.AbstractEventLoop)
        assert threading.current_thread().name.startswith("pynq-display")
        return dp

    monkeypatch.setattr(pynq_api, "open_display_port", open_dp)
    return dp


def test_displayport_shows_letterboxed_annotated_frames(display: FakeDisplay) -> None:
    sink = open_sink_spec("displayport")
    assert isinstance(sink, DisplayPortSink) and display.configured is not None
    mode, pf = display.configured
    # DRM fourcc RG24 (pynq's PIXEL_RGB) stores B, G, R bytes: OpenCV's order
    assert (mode.width, mode.height, mode.fps) == (1920, 1080, 60) and pf is RGB
    assert sink.mode == (1920, 1080, 60)
    res = _result(_picture(1))
    sink.write(res)
    _wait_for(lambda: sink.frames_shown == 1)
    want = _expected_letterbox(annotate(res.image, res.detections, fps=res.fps), 1080, 1920)
    assert np.array_equal(display.shown[0], want)
    sink.close()
    assert display.closed.is_set()
    with pytest.raises(SinkError, match="write after close"):
        sink.write(res)
    sink.close()


def test_displayport_mode_from_the_spec_must_be_offered(display: FakeDisplay) -> None:
    with open_sink_spec("displayport:1920x1080@30,draw=0,format=bgr") as sink:
        assert isinstance(sink, DisplayPortSink) and display.configured is not None
        assert display.configured[1] is BGR
        assert sink.mode == (1920, 1080, 30)
        sink.write(_result(_picture(2)))
        _wait_for(lambda: len(display.shown) == 1)
    assert np.array_equal(display.shown[0], _expected_letterbox(_picture(2), 1080, 1920))
    with pytest.raises(SinkError, match=r"does not offer 1024x768; it offers 1280x720@60"):
        open_sink_spec("displayport:1024x768")
    assert display.closed.is_set()


def test_hdmi_out_uses_the_overlay_output(overlay: FakeOverlay) -> None:
    out = overlay.video.hdmi_out
    with open_sink_spec("hdmi_out:800x600@30") as sink:
        assert isinstance(sink, DisplayPortSink)
        assert sink.mode == (800, 600, 30)
        m, pf = out.configured
        assert (m.width, m.height, m.bits_per_pixel, m.fps) == (800, 600, 24, 30) and pf is BGR
    assert out.closed.is_set()
    with open_sink_spec("hdmi_out") as sink:
        assert isinstance(sink, DisplayPortSink)
        assert sink.mode == (1280, 720, 60)


def test_write_never_blocks_and_a_stalled_display_raises(display: FakeDisplay) -> None:
    display.gate = threading.Event()
    sink = DisplayPortSink("displayport", (1280, 720), write_timeout=0.2, draw=False)
    t = time.monotonic()
    sink.write(_result(_picture(0)))
    _wait_for(lambda: sink._busy_since is not None)  # the display holds frame 0
    for k in range(1, 5):
        sink.write(_result(_picture(k)))  # each replaces the waiting one
    assert time.monotonic() - t < 0.5
    assert sink.frames_dropped == 3
    time.sleep(0.25)
    with pytest.raises(SinkError, match=r"has not taken a frame for 0\.2s"):
        sink.write(_result(_picture(9)))
    display.gate.set()
    _wait_for(lambda: len(display.shown) == 2)
    assert np.array_equal(display.shown[1], _expected_letterbox(_picture(4), 720, 1280))
    sink.close()


def test_a_display_failure_is_raised_by_the_next_write(display: FakeDisplay) -> None:
    display.fail = OSError(5, "Can't write frame")
    with DisplayPortSink(draw=False) as sink:
        sink.write(_result(_picture(0)))
        _wait_for(lambda: sink._error is not None)
        with pytest.raises(SinkError, match="showing a frame failed: OSError"):
            sink.write(_result(_picture(1)))


def test_display_open_deadline_and_driver_errors(
    display: FakeDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    monkeypatch.setattr(display, "configure", lambda m, pf: gate.wait(5.0))
    with pytest.raises(SinkError, match=r"did not open within 0\.1s"):
        DisplayPortSink(open_timeout=0.1, close_timeout=0.05)
    gate.set()
    assert display.closed.wait(1.0)

    def monitorless(m: Any, pf: Any) -> None:
        raise RuntimeError("Monitor is not detected")

    monkeypatch.setattr(display, "configure", monitorless)
    with pytest.raises(SinkError, match="RuntimeError: Monitor is not detected"):
        DisplayPortSink()


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("displayport:big", "WIDTHxHEIGHT"),
        ("displayport:640x480,draw=2", "not 0/1"),
        ("hdmi_out:640x480,colour=1", "bad option 'colour=1'"),
        ("displayport:format=yuv", "pixel_format must be 'bgr' or 'rgb'"),
    ],
)
def test_bad_sink_specs(spec: str, match: str) -> None:
    with pytest.raises(SinkError, match=match):
        open_sink_spec(spec)


@pytest.mark.skipif(pynq_api.real_board_present(), reason="on a board the display may exist")
def test_no_board_sink_errors_quickly() -> None:
    t = time.monotonic()
    with pytest.raises(SinkError, match=r"displayport: DisplayPort output needs a PYNQ board"):
        open_sink_spec("displayport")
    with pytest.raises(SinkError, match=r"hdmi_out: a PYNQ overlay needs a PYNQ board"):
        open_sink_spec("hdmi_out")
    assert time.monotonic() - t < 2.0


# ============================================================================ in a pipeline
def test_pipeline_from_hdmi_in_to_displayport_closes_both(
    overlay: FakeOverlay, display: FakeDisplay
) -> None:
    dev = overlay.video.hdmi_in
    src = open_source("pynq:hdmi_in")
    sink = open_sink_spec("displayport:1280x720")

    def detect(frame: Frame) -> list[Detection]:
        return [Detection((2.0, 3.0, 20.0, 25.0), 0.8, 2, "disc")]

    assert isinstance(sink, DisplayPortSink)
    shown: list[FrameResult] = []

    def on_result(r: FrameResult) -> None:
        # Called after the sink's write: wait until the display took this frame, so that
        # the end of the stream (close drops a frame still waiting) cannot race it away.
        shown.append(r)
        _wait_for(lambda: sink.frames_shown == len(shown))

    stats = Pipeline(
        src, detectors={"hdmi_in": detect}, sinks=[sink], max_frames=4, on_result=on_result
    ).run()
    assert stats.frames_in == 4 and 1 <= stats.frames_out <= 4
    assert dev.closed.is_set() and display.closed.is_set()  # closed on shutdown
    assert len(display.shown) == len(shown) == stats.frames_out
    for r, frame in zip(shown, display.shown):
        want = _expected_letterbox(annotate(r.image, r.detections, fps=r.fps or None), 720, 1280)
        assert np.array_equal(frame, want)
