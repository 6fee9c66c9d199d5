"""PYNQ video on a board: HDMI-in / MIPI frame sources, DisplayPort / HDMI-out sinks.

* :class:`PynqVideoSource`: frames from a video input of a loaded overlay through
  ``pynq.lib.video`` (the base overlay's ``video.hdmi_in``, or a ``mipi`` camera hierarchy):
  ``configure`` (24-bit BGR), ``start``, ``readframe``, ``close``. Spec ``pynq:hdmi_in``,
  ``pynq:mipi,mode=1280x720@60`` (registered in :mod:`vision_pipeline.sources`).
* :class:`DisplayPortSink`: annotated frames letterboxed to the display mode on the PS
  DisplayPort of a Zynq UltraScale+ board (``pynq.lib.video.DisplayPort``) or on an overlay's
  HDMI out (``video.hdmi_out``). Specs ``displayport[:WxH[@FPS]]`` and ``hdmi_out[:WxH[@FPS]]``
  (parsed by :func:`vision_pipeline.app.open_sink_spec`).

pynq is reached only through :mod:`arm_scheduler.pynq_api` (imported when one of these is
opened, never when this module is imported). Without a board the constructors raise the
pipeline's typed errors at once (:class:`~vision_pipeline.errors.SourceOpenError`,
:class:`~vision_pipeline.errors.SinkError`).

Why every device call runs on a thread of its own (:class:`_DeviceThread`): pynq's video drivers
block without a deadline (an HDMI frontend's ``start`` loops until a signal or a monitor is
found, a VDMA ``readframe`` / ``writeframe`` and a DRM page flip wait for an interrupt) and they
run the calling thread's asyncio event loop, which a pipeline thread does not have. The owning
thread has its own loop; callers wait for its results with a deadline, and a device that never
answers leaves a blocked daemon thread behind instead of a hung pipeline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import inspect
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, TypeVar

import cv2
import numpy as np

from arm_scheduler.errors import BoardError
from vision_pipeline.errors import (
    CorruptFrameError,
    SinkError,
    SourceError,
    SourceLostError,
    SourceOpenError,
)
from vision_pipeline.sinks import FrameResult, Sink, annotate
from vision_pipeline.sources import Frame, Source, _check_image

__all__ = [
    "DISPLAY_KINDS",
    "VIDEO_INPUTS",
    "VIDEO_OUTPUTS",
    "DisplayPortSink",
    "Letterbox",
    "PynqVideoSource",
    "letterbox_into",
    "open_display_sink",
    "open_pynq_source",
    "parse_mode",
]

_T = TypeVar("_T")

VIDEO_INPUTS: dict[str, tuple[str, ...]] = {
    "hdmi_in": ("video.hdmi_in", "hdmi_in"),
    "mipi": ("mipi",),
}
"""Input names of ``pynq:<input>`` -> attribute paths tried, in order, on the overlay (the base
overlays put HDMI in at ``video.hdmi_in`` and a MIPI camera at ``mipi``). Any other name is used
as an attribute path itself (``pynq:my_video.cam_in``)."""

VIDEO_OUTPUTS: dict[str, tuple[str, ...]] = {"hdmi_out": ("video.hdmi_out", "hdmi_out")}
"""Output names -> attribute paths tried on the overlay (``displayport`` is the PS, no overlay)."""

DISPLAY_KINDS = ("displayport", "hdmi_out")
"""Sink spec kinds handled by :func:`open_display_sink`."""

_POLL_S = 0.05  # how often a waiting read notices close()
_PREFERRED_MODES = ((1920, 1080), (1280, 720))


def _api() -> ModuleType:
    """:mod:`arm_scheduler.pynq_api`, imported on first use (it imports pynq)."""
    try:
        from arm_scheduler import pynq_api
    except ImportError as exc:
        raise BoardError(f"pynq is not installed or cannot be imported ({exc})") from None
    return pynq_api


# ---------------------------------------------------------------------------- the device thread
class _DeviceThread:
    """A daemon thread with its own asyncio event loop that runs submitted calls in order."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._stopped = False
        # Created here, made current in the thread: pynq's drivers call get_event_loop() there.
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            while True:
                fn, fut = self._jobs.get()
                if not fut.set_running_or_notify_cancel():
                    continue
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # handed to the waiting caller
                    fut.set_exception(exc)
                if fn is _STOP:
                    return
        finally:
            asyncio.set_event_loop(None)
            self.loop.close()

    def submit(self, fn: Callable[[], _T]) -> concurrent.futures.Future[_T]:
        """Queue ``fn`` (runs after every call queued before)."""
        fut: concurrent.futures.Future[_T] = concurrent.futures.Future()
        if self._stopped:
            fut.set_exception(RuntimeError("device thread stopped"))
        else:
            self._jobs.put((fn, fut))
        return fut

    def stop(self, timeout: float) -> bool:
        """End the thread after the queued calls; True if it ended within ``timeout`` seconds."""
        if not self._stopped:
            self._jobs.put((_STOP, concurrent.futures.Future()))
            self._stopped = True
        self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        return self._thread.is_alive()


def _STOP() -> None:  # noqa: N802 (a sentinel, compared by identity)
    """The stop sentinel of :class:`_DeviceThread`."""


def _wait(fut: concurrent.futures.Future[_T], timeout: float) -> bool:
    """Whether ``fut`` finished within ``timeout`` seconds."""
    done, _ = concurrent.futures.wait([fut], timeout=max(0.0, timeout))
    return bool(done)


def _close_device(dev: Any) -> None:
    """Close a pynq video device, ignoring its failures (it is being abandoned anyway)."""
    close = getattr(dev, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


# ---------------------------------------------------------------------------- helpers
def parse_mode(text: str) -> tuple[int, int, int | None]:
    """``"WxH"`` or ``"WxH@FPS"`` -> (width, height, fps or None).

    Raises:
        ValueError: malformed text or non-positive numbers.
    """
    size, _, rate = text.strip().lower().partition("@")
    w, sep, h = size.partition("x")
    if not sep:
        raise ValueError(f"mode {text!r}: write WIDTHxHEIGHT or WIDTHxHEIGHT@FPS")
    try:
        width, height = int(w), int(h)
        fps = int(rate) if rate else None
    except ValueError:
        raise ValueError(f"mode {text!r}: write WIDTHxHEIGHT or WIDTHxHEIGHT@FPS") from None
    if width <= 0 or height <= 0 or (fps is not None and fps <= 0):
        raise ValueError(f"mode {text!r}: width, height and fps must be positive")
    return width, height, fps


def _resolve(overlay: Any, paths: Sequence[str], what: str) -> Any:
    """The first attribute path of ``paths`` that exists on the overlay.

    Raises:
        BoardError: none exists (the message lists the overlay's hierarchies).
    """
    for path in paths:
        obj = overlay
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    hier = sorted(getattr(overlay, "hierarchy_dict", {}) or {})
    bit = getattr(overlay, "bitfile_name", None) or type(overlay).__name__
    raise BoardError(
        f"overlay {bit} has no {what} at {' or '.join(paths)} (its hierarchies: "
        f"{', '.join(hier) or 'none'}); load a design with PYNQ's video subsystem (e.g. the "
        "board's base overlay) or pass overlay="
    )


def _overlay(overlay: Any, download: bool) -> Any:
    """An overlay object: ``overlay`` itself, or one opened from a bitstream path / the PL."""
    if overlay is None or isinstance(overlay, (str, os.PathLike)):
        return _api().loaded_overlay(overlay, download=download)
    return overlay


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """Where :func:`letterbox_into` put the image.

    Attributes:
        scale: Display pixels per image pixel (both axes).
        x0: Left edge of the image in the display, pixels.
        y0: Top edge of the image in the display, pixels.
        width: Width of the scaled image, pixels.
        height: Height of the scaled image, pixels.
    """

    scale: float
    x0: int
    y0: int
    width: int
    height: int


def letterbox_into(dst: np.ndarray, img: np.ndarray) -> Letterbox:
    """Scale ``img`` to fit ``dst`` keeping its aspect ratio, centred, with black borders.

    Every pixel of ``dst`` is written (display buffers start with undefined contents).

    Args:
        dst: uint8 HxWx3 BGR display frame (may be a strided view), written in place.
        img: uint8 hxwx3 BGR or hxw grey image.

    Returns:
        The placement.

    Raises:
        SinkError: ``dst`` is not HxWx3 uint8 or ``img`` is not a uint8 image.
    """
    if dst.ndim != 3 or dst.shape[2] != 3 or dst.dtype != np.uint8:
        raise SinkError(f"display frame must be HxWx3 uint8, got {dst.shape} {dst.dtype}")
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or img.size == 0:
        raise SinkError(f"image must be uint8 HxWx3 or HxW, got {img.shape} {img.dtype}")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    big_h, big_w = int(dst.shape[0]), int(dst.shape[1])
    h, w = int(img.shape[0]), int(img.shape[1])
    scale = min(big_w / w, big_h / h)
    nw = min(big_w, max(1, round(w * scale)))
    nh = min(big_h, max(1, round(h * scale)))
    x0, y0 = (big_w - nw) // 2, (big_h - nh) // 2
    if (nw, nh) != (w, h):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        img = cv2.resize(img, (nw, nh), interpolation=interp)
    dst[:y0] = 0
    dst[y0 + nh :] = 0
    dst[y0 : y0 + nh, :x0] = 0
    dst[y0 : y0 + nh, x0 + nw :] = 0
    dst[y0 : y0 + nh, x0 : x0 + nw] = img
    return Letterbox(scale, x0, y0, nw, nh)


# ---------------------------------------------------------------------------- the source
class PynqVideoSource(Source):
    """Frames from a PYNQ video input (HDMI in, MIPI camera) of the overlay in the PL.

    Opening configures the input for 24-bit BGR (HDMI: ``configure(PIXEL_BGR)``, which waits for
    the input signal to lock; MIPI: ``configure(VideoMode(w, h, 24, fps))``) and starts it.
    Every frame is copied out of the VDMA buffer, which then goes back to pynq's frame cache
    (``freebuffer``); the copy is the :class:`Frame`'s image. Timestamps are
    ``time.monotonic_ns()`` when ``readframe`` returned.

    Args:
        device: ``"hdmi_in"``, ``"mipi"`` (:data:`VIDEO_INPUTS`), another attribute path on the
            overlay, or a pynq video input object (``base.video.hdmi_in``) to use as is.
        name: Sensor name (default: the input name, or ``"pynq_video"`` for an object).
        overlay: A ``pynq.Overlay``, a bitstream path, or None: the design loaded in the PL.
        download: Program a bitstream given as ``overlay`` into the PL first (this replaces
            the loaded design, e.g. the DNN overlay); default: only read its ``.hwh``.
        kind: ``"hdmi"`` or ``"mipi"`` (how to configure); default from the input name.
        mode: (width, height, fps) a MIPI camera is configured for (default 1280x720 at 60).
        rgb: The input delivers RGB (channels are swapped to BGR during the copy).
        open_timeout: Seconds to find, configure and start the input (parsing a large overlay
            takes seconds on the board; HDMI waits for a signal).
        read_timeout: Seconds one ``read`` waits for a frame.
        close_timeout: Seconds ``close`` waits for the device to stop.
        max_corrupt: Unusable frames in a row before :class:`CorruptFrameError`.

    Raises:
        SourceOpenError: no board, no such input in the overlay, pynq failed, or no signal
            within ``open_timeout``.
        SourceError: bad arguments.
    """

    live = True

    def __init__(
        self,
        device: str | Any = "hdmi_in",
        *,
        name: str | None = None,
        overlay: Any = None,
        download: bool = False,
        kind: str | None = None,
        mode: tuple[int, int, int] | None = None,
        rgb: bool = False,
        open_timeout: float = 20.0,
        read_timeout: float = 2.0,
        close_timeout: float = 2.0,
        max_corrupt: int = 10,
    ) -> None:
        label = device if isinstance(device, str) else "pynq_video"
        self.name = name or label
        self.input = label
        if kind is None:
            kind = "mipi" if label.rsplit(".", 1)[-1].startswith("mipi") else "hdmi"
        if kind not in ("hdmi", "mipi"):
            raise SourceError(f"kind must be 'hdmi' or 'mipi', got {kind!r}", source=self.name)
        if not (open_timeout > 0 and read_timeout > 0 and close_timeout > 0):
            raise SourceError("timeouts must be positive", source=self.name)
        if max_corrupt < 0:
            raise SourceError("max_corrupt must be >= 0", source=self.name)
        self.kind = kind
        self.mipi_mode = mode or (1280, 720, 60)
        self.rgb = bool(rgb)
        self.read_timeout = float(read_timeout)
        self.close_timeout = float(close_timeout)
        self.max_corrupt = int(max_corrupt)
        self.frames_read = 0
        self.corrupt_frames = 0
        self._device: Any = None if isinstance(device, str) else device
        self._closed = threading.Event()
        self._close_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._pending: concurrent.futures.Future[tuple[Any, int]] | None = None
        self._async_read = False
        self._worker = _DeviceThread(f"pynq-video-in:{self.name}")
        fut = self._worker.submit(lambda: self._open(device, overlay, download))
        try:
            if not _wait(fut, open_timeout):
                hint = " (is a powered HDMI source connected?)" if kind == "hdmi" else ""
                raise SourceOpenError(
                    f"the video input '{label}' did not start within {open_timeout:g}s{hint}",
                    source=self.name,
                )
            try:
                width, height, fps = fut.result()
            except BoardError as exc:
                raise SourceOpenError(
                    f"cannot open PYNQ video input '{label}': {exc}", source=self.name
                ) from None
            except (SourceError, SinkError):
                raise
            except Exception as exc:  # pynq's own RuntimeError / ValueError / OSError
                raise SourceOpenError(
                    f"pynq cannot start video input '{label}': {type(exc).__name__}: {exc}",
                    source=self.name,
                ) from None
        except BaseException:
            self.close()
            raise
        self.size = (height, width)
        self.fps = fps

    # ------------------------------------------------------------------ on the device thread
    def _open(self, device: str | Any, overlay: Any, download: bool) -> tuple[int, int, float]:
        if isinstance(device, str):
            paths = VIDEO_INPUTS.get(device, (device,))
            self._device = _resolve(_overlay(overlay, download), paths, "video input")
        dev = self._device
        api = _api().video_api()
        if self.kind == "mipi":
            w, h, f = self.mipi_mode
            dev.configure(api.VideoMode(int(w), int(h), 24, int(f)))
        else:
            dev.configure(api.pixel_formats["bgr"])
        dev.start()
        self._async_read = inspect.iscoroutinefunction(getattr(dev, "readframe_async", None))
        m = dev.mode
        fps = float(getattr(m, "fps", 0) or 0)
        return int(m.width), int(m.height), fps if 0 < fps < 1000 else 30.0

    def _grab(self) -> tuple[Any, int]:
        dev = self._device
        if self._async_read:
            # Cancellable: a lost signal cannot wedge this thread (the blocking readframe
            # would wait for the VDMA interrupt forever).
            buf = self._worker.loop.run_until_complete(
                asyncio.wait_for(dev.readframe_async(), self.read_timeout)
            )
        else:
            buf = dev.readframe()
        ts = time.monotonic_ns()
        try:
            if isinstance(buf, np.ndarray):
                arr = np.asarray(buf)  # drops the PynqBuffer subclass
                if self.rgb and arr.ndim == 3 and arr.shape[2] >= 3:
                    img: Any = np.ascontiguousarray(arr[:, :, 2::-1])
                else:
                    img = np.array(arr, copy=True, order="C")
            else:
                img = buf
        finally:
            free = getattr(buf, "freebuffer", None)
            if callable(free):  # back to the VDMA's frame cache
                with contextlib.suppress(Exception):
                    free()
        return img, ts

    # ------------------------------------------------------------------ reading
    def read(self) -> Frame | None:
        """The next frame; None after ``close``.

        Raises:
            SourceLostError: no frame within ``read_timeout`` (signal lost, cable pulled) or
                the device failed.
            CorruptFrameError: more than ``max_corrupt`` unusable frames in a row.
        """
        with self._read_lock:
            corrupt_run = 0
            while not self._closed.is_set():
                fut = self._pending
                if fut is None:
                    fut = self._pending = self._worker.submit(self._grab)
                deadline = time.monotonic() + self.read_timeout
                while not _wait(fut, min(_POLL_S, deadline - time.monotonic())):
                    if self._closed.is_set():
                        return None
                    if time.monotonic() >= deadline:
                        raise self._lost()  # the read stays pending for the next call
                self._pending = None
                try:
                    img, ts = fut.result()
                except TimeoutError:
                    raise self._lost() from None
                except Exception as exc:
                    if self._closed.is_set():
                        return None
                    raise SourceLostError(
                        f"reading a frame failed: {type(exc).__name__}: {exc}",
                        source=self.name,
                        attempts=0,
                    ) from None
                good = _check_image(img, self.name)
                if good is None:
                    self.corrupt_frames += 1
                    corrupt_run += 1
                    if corrupt_run > self.max_corrupt:
                        raise CorruptFrameError(
                            f"{corrupt_run} unusable frames in a row; expected HxWx3 or HxW "
                            "uint8 images",
                            source=self.name,
                        )
                    continue
                idx = self.frames_read
                self.frames_read += 1
                return Frame(np.ascontiguousarray(good), ts, self.name, idx)
            return None

    def _lost(self) -> SourceLostError:
        return SourceLostError(
            f"no frame within {self.read_timeout:g}s (video signal lost or cable pulled?)",
            source=self.name,
            attempts=0,
        )

    def close(self) -> None:
        """Stop and close the input (idempotent, any thread); a waiting ``read`` returns None.

        Waits up to ``close_timeout`` for the device thread; a device that does not answer
        is left to its (daemon) thread.
        """
        with self._close_lock:
            if self._closed.is_set():
                return
            self._closed.set()
        worker = getattr(self, "_worker", None)
        if worker is None:
            return
        worker.submit(lambda: _close_device(self._device))
        worker.stop(self.close_timeout)


def open_pynq_source(rest: str, **kwargs: Any) -> PynqVideoSource:
    """Open ``pynq:<input>[,key=value,...]`` (the part after ``pynq:`` is ``rest``).

    Keys: ``name``, ``overlay`` (bitstream path; default the loaded design), ``download``
    (0/1), ``mode`` (``WxH@FPS``, MIPI), ``rgb`` (0/1), ``open_timeout``, ``read_timeout``
    (seconds). ``kwargs`` go to :class:`PynqVideoSource` (they win over the spec's keys).

    Raises:
        SourceError: a malformed spec; SourceOpenError: see :class:`PynqVideoSource`.
    """
    spec = f"pynq:{rest}"
    items = [s.strip() for s in rest.split(",") if s.strip()]
    if not items or "=" in items[0]:
        raise SourceError(
            "write pynq:<input>[,key=value,...] with input hdmi_in, mipi or an overlay "
            "attribute path",
            source=spec,
        )
    opts: dict[str, Any] = {}
    for item in items[1:]:
        key, sep, value = (s.strip() for s in item.partition("="))
        key = key.lower()
        try:
            if not sep:
                raise ValueError("write key=value")
            if key in ("name", "overlay"):
                opts[key] = value
            elif key in ("download", "rgb"):
                opts[key] = _flag(value)
            elif key == "mode":
                w, h, f = parse_mode(value)
                opts["mode"] = (w, h, 60 if f is None else f)
            elif key in ("open_timeout", "read_timeout"):
                opts[key] = float(value)
            else:
                raise ValueError(
                    "keys: name, overlay, download, mode, rgb, open_timeout, read_timeout"
                )
        except ValueError as exc:
            raise SourceError(f"bad option '{item}': {exc}", source=spec) from None
    opts.update(kwargs)
    return PynqVideoSource(items[0], **opts)


def _flag(value: str) -> bool:
    v = value.lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not 0/1")


# ---------------------------------------------------------------------------- the sink
class DisplayPortSink(Sink):
    """Shows annotated frames on the PS DisplayPort or an overlay's HDMI out.

    Each frame is letterboxed (:func:`letterbox_into`) into a frame buffer of the display mode
    (``newframe``) and handed to the display (``writeframe``). ``write`` never blocks: the
    device thread shows the newest frame and frames that arrive while it is busy replace the
    waiting one (counted in ``frames_dropped``).

    Args:
        output: ``"displayport"`` (``pynq.lib.video.DisplayPort``, Zynq UltraScale+),
            ``"hdmi_out"`` (the overlay's ``video.hdmi_out``), another attribute path on the
            overlay, or a pynq video output object to use as is.
        mode: Display mode ``(width, height)`` or ``"WxH[@FPS]"``. DisplayPort: one of the
            monitor's modes (default: 1920x1080, else 1280x720, else the monitor's first);
            HDMI out: any mode the IP supports (default 1280x720).
        fps: Refresh rate (default: DisplayPort the first offered at that size, HDMI out 60).
        overlay: For HDMI out: a ``pynq.Overlay``, a bitstream path or None (the loaded one).
        download: Program a bitstream given as ``overlay`` first (replaces the loaded design).
        draw: Annotate the frames (else show them raw).
        pixel_format: pynq pixel format ``configure`` gets (``"bgr"`` or ``"rgb"``); the frame
            buffers always receive OpenCV's B, G, R byte order. Default: ``"rgb"`` for a DRM
            display (pynq's ``PIXEL_RGB`` is DRM fourcc ``RG24``, stored B, G, R in memory),
            ``"bgr"`` for a VDMA output (identity colour conversion). Change it if a display
            shows red and blue swapped.
        open_timeout: Seconds to open and configure the output (HDMI out waits for a monitor).
        write_timeout: A frame not accepted by the display for this long makes the next
            ``write`` raise (monitor gone, display stalled).
        close_timeout: Seconds ``close`` waits for the device thread.

    Raises:
        SinkError: no board, no such output, a mode the monitor does not offer, pynq failed,
            or the output did not open within ``open_timeout``.
    """

    name = "display"

    def __init__(
        self,
        output: str | Any = "displayport",
        mode: tuple[int, int] | str | None = None,
        fps: int | None = None,
        *,
        overlay: Any = None,
        download: bool = False,
        draw: bool = True,
        pixel_format: str | None = None,
        open_timeout: float = 20.0,
        write_timeout: float = 2.0,
        close_timeout: float = 2.0,
    ) -> None:
        self.label = output if isinstance(output, str) else "pynq_display"
        self.name = self.label
        size: tuple[int, int] | None = None
        if isinstance(mode, str):
            try:
                w, h, f = parse_mode(mode)
            except ValueError as exc:
                raise SinkError(f"{self.label}: {exc}") from None
            size, fps = (w, h), fps if fps is not None else f
        elif mode is not None:
            size = (int(mode[0]), int(mode[1]))
            if size[0] <= 0 or size[1] <= 0:
                raise SinkError(f"{self.label}: mode must be positive, got {mode}")
        if not (open_timeout > 0 and write_timeout > 0 and close_timeout > 0):
            raise SinkError(f"{self.label}: timeouts must be positive")
        if pixel_format not in (None, "bgr", "rgb"):
            raise SinkError(
                f"{self.label}: pixel_format must be 'bgr' or 'rgb', got {pixel_format!r}"
            )
        self.draw = bool(draw)
        self.pixel_format = pixel_format
        self.write_timeout = float(write_timeout)
        self.close_timeout = float(close_timeout)
        self.frames_shown = 0
        self.frames_dropped = 0
        self._device: Any = None if isinstance(output, str) else output
        self._cond = threading.Condition()
        self._pending: np.ndarray | None = None
        self._draining = False
        self._busy_since: float | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._worker = _DeviceThread(f"pynq-display:{self.label}")
        fut = self._worker.submit(lambda: self._open(output, size, fps, overlay, download))
        try:
            if not _wait(fut, open_timeout):
                raise SinkError(
                    f"{self.label}: the display did not open within {open_timeout:g}s "
                    "(is a monitor connected?)"
                )
            try:
                self.mode: tuple[int, int, int] = fut.result()
            except SinkError:
                raise
            except BoardError as exc:
                raise SinkError(f"{self.label}: {exc}") from None
            except Exception as exc:  # pynq's RuntimeError ("Monitor is not detected") etc.
                raise SinkError(
                    f"{self.label}: pynq cannot open the display: {type(exc).__name__}: {exc}"
                ) from None
        except BaseException:
            self._closed = True
            self._worker.submit(lambda: _close_device(self._device))
            self._worker.stop(self.close_timeout)
            raise

    # ------------------------------------------------------------------ on the device thread
    def _open(
        self,
        output: str | Any,
        size: tuple[int, int] | None,
        fps: int | None,
        overlay: Any,
        download: bool,
    ) -> tuple[int, int, int]:
        api = _api()
        if output == "displayport":
            self._device = api.open_display_port(event_loop=self._worker.loop)
        elif isinstance(output, str):
            paths = VIDEO_OUTPUTS.get(output, (output,))
            self._device = _resolve(_overlay(overlay, download), paths, "video output")
        dev = self._device
        video = api.video_api()
        offered = getattr(dev, "modes", None)
        if offered is not None:  # a DRM display: only the monitor's modes can be set
            m = _choose_mode(list(offered), size, fps, self.label)
        else:
            w, h = size or (1280, 720)
            m = video.VideoMode(w, h, 24, 60 if fps is None else fps)
        pf = self.pixel_format or ("rgb" if offered is not None else "bgr")
        dev.configure(m, video.pixel_formats[pf])
        dev.start()
        return int(m.width), int(m.height), int(m.fps)

    def _drain(self) -> None:
        """Show pending frames until none is left (runs on the device thread)."""
        dev = self._device
        while True:
            with self._cond:
                img, self._pending = self._pending, None
                if img is None or self._closed:
                    self._draining = False
                    return
                self._busy_since = time.monotonic()
            try:
                frame = dev.newframe()
                try:
                    letterbox_into(frame, img)
                    dev.writeframe(frame)
                except BaseException:
                    free = getattr(frame, "freebuffer", None)
                    if callable(free):
                        with contextlib.suppress(Exception):
                            free()
                    raise
            except Exception as exc:
                with self._cond:
                    self._error = exc
                    self._draining = False
                    self._busy_since = None
                return
            with self._cond:
                self._busy_since = None
                self.frames_shown += 1

    # ------------------------------------------------------------------ the sink interface
    def write(self, result: FrameResult) -> None:
        """Queue the (annotated) frame for the display; returns at once.

        Raises:
            SinkError: after ``close``; the display failed on an earlier frame; a frame has
                been waiting for the display longer than ``write_timeout``.
        """
        if self._closed:
            raise SinkError(f"{self.label}: write after close")
        img = (
            annotate(result.image, result.detections, result.classes, result.fps or None)
            if self.draw
            else result.image
        )
        with self._cond:
            if self._error is not None:
                exc = self._error
                raise SinkError(
                    f"{self.label}: showing a frame failed: {type(exc).__name__}: {exc}"
                )
            busy = self._busy_since
            if busy is not None and time.monotonic() - busy > self.write_timeout:
                raise SinkError(
                    f"{self.label}: the display has not taken a frame for "
                    f"{self.write_timeout:g}s (monitor disconnected?)"
                )
            if self._pending is not None:
                self.frames_dropped += 1
            self._pending = img
            if not self._draining:
                self._draining = True
                self._worker.submit(self._drain)

    def close(self) -> None:
        """Stop showing frames and close the display (idempotent).

        Raises:
            SinkError: the device thread did not stop within ``close_timeout``.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._pending = None
        self._worker.submit(lambda: _close_device(self._device))
        if not self._worker.stop(self.close_timeout):
            raise SinkError(
                f"{self.label}: the display thread did not stop within {self.close_timeout:g}s"
            )


def _choose_mode(
    offered: list[Any], size: tuple[int, int] | None, fps: int | None, label: str
) -> Any:
    """The monitor mode to set: the requested size (and rate), else a preferred size."""

    def fits(m: Any, wh: tuple[int, int]) -> bool:
        return (int(m.width), int(m.height)) == wh and (fps is None or int(m.fps) == fps)

    wanted = [size] if size is not None else list(_PREFERRED_MODES)
    for wh in wanted:
        for m in offered:
            if fits(m, wh):
                return m
    if size is None and fps is None and offered:
        return offered[0]
    have = ", ".join(f"{m.width}x{m.height}@{m.fps}" for m in offered) or "none"
    want = f"{size[0]}x{size[1]}" if size else "a mode"
    raise SinkError(
        f"{label}: the monitor does not offer {want}{'' if fps is None else f'@{fps}'}; "
        f"it offers {have}"
    )


def open_display_sink(spec: str) -> DisplayPortSink:
    """Open ``displayport[:WxH[@FPS]][,key=value...]`` or ``hdmi_out[:...]``.

    Keys after the mode: ``overlay`` (bitstream path, HDMI out), ``download`` (0/1),
    ``draw`` (0/1), ``format`` (``bgr``/``rgb``: see :class:`DisplayPortSink`),
    ``open_timeout``, ``write_timeout`` (seconds).

    Raises:
        SinkError: a malformed spec; see :class:`DisplayPortSink`.
    """
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in DISPLAY_KINDS:
        raise SinkError(f"sink '{spec}': not a display ({', '.join(DISPLAY_KINDS)})")
    items = [s.strip() for s in rest.split(",") if s.strip()]
    mode: str | None = None
    if items and "=" not in items[0]:
        mode = items.pop(0)
    opts: dict[str, Any] = {}
    for item in items:
        key, sep, value = (s.strip() for s in item.partition("="))
        key = key.lower()
        try:
            if not sep:
                raise ValueError("write key=value")
            if key == "mode":
                mode = value
            elif key == "overlay":
                opts[key] = value
            elif key == "format":
                opts["pixel_format"] = value.lower()
            elif key in ("download", "draw"):
                opts[key] = _flag(value)
            elif key in ("open_timeout", "write_timeout"):
                opts[key] = float(value)
            else:
                raise ValueError(
                    "keys: mode, overlay, download, draw, format, open_timeout, write_timeout"
                )
        except ValueError as exc:
            raise SinkError(f"sink '{spec}': bad option '{item}': {exc}") from None
    return DisplayPortSink(kind, mode, **opts)
