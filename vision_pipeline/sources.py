"""Frame sources: cameras, video files, streams, image folders and a synthetic two-sensor scene.

Every source implements :class:`Source`: ``read()`` returns the next :class:`Frame` or None at
the end of the stream, ``close()`` releases it (idempotent, callable from another thread), and a
source is a context manager and an iterator of frames.

Sources:

* :class:`CaptureSource`: anything ``cv2.VideoCapture`` opens: a camera index, a video file, an
  RTSP/HTTP URL or a GStreamer pipeline string (when OpenCV is built with GStreamer). Live
  sources (cameras, streams) reconnect with exponential backoff when frames stop, then raise
  :class:`~vision_pipeline.errors.SourceLostError`. Reads are bounded by the backend: the
  FFmpeg backend (files, URLs) by the policy's ``read_timeout``, cameras (V4L2) by OpenCV's
  own poll timeout; a GStreamer pipeline read waits as long as the pipeline does.
* :class:`ImageFolderSource`: the images of a folder in sorted file-name order.
* :class:`SyntheticScene` / :class:`SyntheticSource`: a deterministic scene of moving objects
  with ground truth, rendered by a visible camera and by a lower-resolution thermal camera
  whose field of view is related by a known homography.

Board video inputs
------------------
``pynq:<input>[,key=value,...]`` (``pynq:hdmi_in``, ``pynq:mipi,mode=1280x720@60``) opens
:class:`vision_pipeline.pynq_video.PynqVideoSource`: PYNQ's HDMI-in / MIPI video pipeline of the
overlay on the board (that module, and pynq, are imported only when such a spec is opened).

Extension point
---------------
Another kind of input is a subclass of :class:`Source` implementing ``read``/``close``
(timestamps from ``time.monotonic_ns()`` at capture, ``live = True``) registered under a scheme
with :func:`register_source`::

    register_source("pynq-hdmi", lambda rest, **kw: MyHdmiSource(rest, **kw))
    src = open_source("pynq-hdmi:0")

:func:`open_source` then resolves ``"<scheme>:<rest>"`` specs through the registry before the
built-in rules (camera index, folder, file, URL, GStreamer string).
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np

from edge_dnn.errors import ImageReadError
from edge_dnn.quant.calib_data import IMAGE_EXTENSIONS
from vision_pipeline.calibration import RigCalibration
from vision_pipeline.errors import (
    CorruptFrameError,
    SourceError,
    SourceLostError,
    SourceOpenError,
)
from vision_pipeline.images import read_image

__all__ = [
    "CLASS_NAMES",
    "CaptureLike",
    "CaptureSource",
    "Frame",
    "GroundTruth",
    "ImageFolderSource",
    "ReconnectPolicy",
    "SceneObject",
    "Source",
    "SyntheticScene",
    "SyntheticSource",
    "open_source",
    "register_source",
]

_S = TypeVar("_S", bound="Source")

Box = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)`` in pixels of a frame (x right, y down; x1/y1 exclusive edges)."""


# ---------------------------------------------------------------------------- frames
@dataclasses.dataclass(frozen=True)
class GroundTruth:
    """One annotated object in one frame.

    Attributes:
        box: ``(x0, y0, x1, y1)`` float pixels in the frame's own coordinates.
        label: Class id (1-based; 0 is SSD's background).
        object_id: Identity of the object across frames and sensors.
        visible: Whether the object is detectable in this sensor's image (mostly unoccluded and
            with enough contrast); an evaluation counts only visible objects as positives.
    """

    box: Box
    label: int
    object_id: int
    visible: bool = True


@dataclasses.dataclass(frozen=True, eq=False)
class Frame:
    """One image from one sensor.

    Attributes:
        image: uint8 pixels, HxWx3 BGR (colour) or HxW (grey/thermal), C-contiguous.
        timestamp_ns: Capture time in nanoseconds on the monotonic clock
            (``time.monotonic_ns()``), or on the source's stream clock for files and synthetic
            scenes (start + index / fps), which keeps runs reproducible.
        sensor: Name of the sensor (the source's ``name``).
        index: Sequence number of the frame within its source (0-based, counting every frame
            delivered, not the skipped corrupt ones).
        ground_truth: Annotations when the source knows them (synthetic scenes), else None.
    """

    image: np.ndarray
    timestamp_ns: int
    sensor: str
    index: int
    ground_truth: tuple[GroundTruth, ...] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.image.shape[0]), int(self.image.shape[1])


def _check_image(img: Any, source: str) -> np.ndarray | None:
    """The image if it is a usable uint8 frame, else None (the caller counts a corrupt frame)."""
    if not isinstance(img, np.ndarray) or img.size == 0 or img.dtype != np.uint8:
        return None
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3):
        return img
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return None


# ---------------------------------------------------------------------------- the interface
class Source(abc.ABC):
    """A stream of frames.

    Attributes:
        name: Sensor name put in every frame (``Frame.sensor``).
        live: True when frames arrive in real time whether or not they are consumed (cameras,
            network streams): a pipeline then drops the oldest frames to bound latency. False
            for files and generators, which a pipeline reads losslessly.
    """

    name: str
    live: bool = False

    @abc.abstractmethod
    def read(self) -> Frame | None:
        """The next frame, or None at the end of the stream (or after ``close``).

        Raises:
            SourceError: the source failed (subclasses name the reason).
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the source (idempotent; safe to call from another thread)."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            f = self.read()
            if f is None:
                return
            yield f


SourceFactory = Callable[..., Source]
_SCHEMES: dict[str, SourceFactory] = {}


def register_source(scheme: str, factory: SourceFactory) -> None:
    """Register a source kind for :func:`open_source` specs ``"<scheme>:<rest>"``.

    Args:
        scheme: Lower-case scheme name (letters, digits, ``-``, ``_``), e.g. ``pynq-hdmi``.
        factory: Called as ``factory(rest, **kwargs)``; returns a :class:`Source`.

    Raises:
        SourceError: an invalid scheme name, or one of the built-in URL schemes.
    """
    s = str(scheme).lower()
    if not s or not all(c.isalnum() or c in "-_" for c in s):
        raise SourceError(f"invalid scheme name {scheme!r}", source=str(scheme))
    if s in ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp", "file", "synthetic"):
        raise SourceError(f"scheme '{s}' is built in and cannot be replaced", source=s)
    _SCHEMES[s] = factory


def _open_pynq(rest: str, **kwargs: Any) -> Source:
    """``pynq:<input>[,key=value,...]``: a :class:`vision_pipeline.pynq_video.PynqVideoSource`."""
    # Imported on use: it reaches pynq, which only a board needs.
    from vision_pipeline.pynq_video import open_pynq_source

    return open_pynq_source(rest, **kwargs)


_SCHEMES["pynq"] = _open_pynq


def open_source(spec: int | str | os.PathLike[str], **kwargs: Any) -> Source:
    """Open a source from a spec.

    Rules, in order: a registered ``"<scheme>:..."``; an int or a string of digits (camera
    index); ``"synthetic"`` or ``"synthetic:<seed>"`` (the visible camera of a
    :class:`SyntheticScene`); an existing folder (:class:`ImageFolderSource`); anything else
    goes to :class:`CaptureSource` (video file, URL, GStreamer string).

    Args:
        spec: The spec.
        kwargs: Passed to the source's constructor.

    Raises:
        SourceOpenError: the source cannot be opened.
    """
    if isinstance(spec, int):
        return CaptureSource(spec, **kwargs)
    s = os.fspath(spec)
    scheme, sep, rest = s.partition(":")
    if sep and scheme.lower() in _SCHEMES:
        return _SCHEMES[scheme.lower()](rest, **kwargs)
    if s.isdigit():
        return CaptureSource(int(s), **kwargs)
    if scheme == "synthetic":
        seed = int(rest) if sep and rest.isdigit() else 0
        n = kwargs.pop("n_frames", None)
        return SyntheticSource(SyntheticScene(seed=seed, **kwargs), "visible", n_frames=n)
    if Path(s).is_dir():
        return ImageFolderSource(s, **kwargs)
    return CaptureSource(s, **kwargs)


# ---------------------------------------------------------------------------- cv2.VideoCapture
class CaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` a :class:`CaptureSource` uses (fakes implement it)."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...

    def get(self, prop: int) -> float: ...


@dataclasses.dataclass(frozen=True)
class ReconnectPolicy:
    """How a live :class:`CaptureSource` recovers from lost frames.

    After a failed read the capture is released and reopened up to ``max_attempts`` times,
    waiting ``initial_delay * multiplier**k`` seconds (at most ``max_delay``) before attempt
    ``k``; the waits end early when the source is closed.

    Attributes:
        max_attempts: Reopen attempts before :class:`SourceLostError` (0: fail at once).
        initial_delay: Seconds before the first attempt.
        max_delay: Cap of one wait, seconds.
        multiplier: Backoff factor.
        open_timeout: Seconds the backend may take to open a URL (OpenCV's FFmpeg backend).
        read_timeout: Seconds the backend may block in one read (FFmpeg backend).
        max_corrupt: Consecutive corrupt frames tolerated before :class:`CorruptFrameError`.
    """

    max_attempts: int = 5
    initial_delay: float = 0.1
    max_delay: float = 2.0
    multiplier: float = 2.0
    open_timeout: float = 5.0
    read_timeout: float = 5.0
    max_corrupt: int = 10

    def __post_init__(self) -> None:
        if self.max_attempts < 0 or self.max_corrupt < 0:
            raise SourceError("max_attempts and max_corrupt must be >= 0", source="<policy>")
        if not (self.initial_delay >= 0 and self.max_delay >= 0 and self.multiplier >= 1):
            raise SourceError("delays must be >= 0 and multiplier >= 1", source="<policy>")
        if not (self.open_timeout > 0 and self.read_timeout > 0):
            raise SourceError("timeouts must be positive", source="<policy>")

    def delays(self) -> list[float]:
        """The wait before each attempt, seconds."""
        return [
            min(self.initial_delay * self.multiplier**k, self.max_delay)
            for k in range(self.max_attempts)
        ]


def _is_live_spec(spec: int | str) -> bool:
    if isinstance(spec, int):
        return True
    s = spec.strip()
    return "://" in s or "!" in s  # URL or GStreamer pipeline description


class CaptureSource(Source):
    """A camera, video file, network stream or GStreamer pipeline through ``cv2.VideoCapture``.

    Args:
        spec: Camera index, file path, URL (``rtsp://...``) or GStreamer pipeline string
            (contains ``!``; needs OpenCV built with GStreamer).
        name: Sensor name; default ``camera<index>`` or the file/URL.
        live: Override whether the source is live (default: cameras, URLs and pipelines are).
        fps: Frame rate of the stream clock for non-live sources when the file does not tell.
        reconnect: Recovery policy of live sources.
        capture_factory: Builds the capture object (default: ``cv2.VideoCapture`` with the
            policy's timeouts); tests pass a fake implementing :class:`CaptureLike`.

    Raises:
        SourceOpenError: a missing video file, or a capture that does not open.
    """

    def __init__(
        self,
        spec: int | str | os.PathLike[str],
        name: str | None = None,
        live: bool | None = None,
        fps: float = 30.0,
        reconnect: ReconnectPolicy | None = None,
        capture_factory: Callable[[], CaptureLike] | None = None,
    ) -> None:
        self.spec: int | str = spec if isinstance(spec, int) else os.fspath(spec)
        self.name = name or (f"camera{self.spec}" if isinstance(self.spec, int) else self.spec)
        self.live = _is_live_spec(self.spec) if live is None else bool(live)
        self.policy = reconnect or ReconnectPolicy()
        self._factory = capture_factory or self._default_factory
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._cap: CaptureLike | None = None
        self.frames_read = 0
        self.corrupt_frames = 0
        self.reconnects = 0
        if (
            capture_factory is None
            and isinstance(self.spec, str)
            and not self.live
            and not Path(self.spec).is_file()
        ):
            raise SourceOpenError("video file not found", source=self.spec)
        self._cap = self._open()
        if self._cap is None:
            raise SourceOpenError("cannot be opened by OpenCV's VideoCapture", source=self.name)
        got = 0.0
        try:
            got = float(self._cap.get(cv2.CAP_PROP_FPS))
        except (cv2.error, TypeError, ValueError):
            got = 0.0
        self.fps = got if math.isfinite(got) and 0 < got < 1000 else float(fps)
        self._t0 = time.monotonic_ns()

    # ------------------------------------------------------------------ opening
    def _default_factory(self) -> CaptureLike:
        spec = self.spec
        if isinstance(spec, int):
            return cv2.VideoCapture(spec)
        if "!" in spec:
            return cv2.VideoCapture(spec, cv2.CAP_GSTREAMER)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.policy.open_timeout * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.policy.read_timeout * 1000),
        ]
        return cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)

    def _open(self) -> CaptureLike | None:
        try:
            cap = self._factory()
            if cap.isOpened():
                return cap
            cap.release()
        except cv2.error:
            pass
        return None

    # ------------------------------------------------------------------ reading
    def read(self) -> Frame | None:
        """The next frame; None at the end of a file or after ``close``.

        Raises:
            SourceLostError: a live source stopped and did not come back within the policy.
            CorruptFrameError: more than ``max_corrupt`` unusable frames in a row.
        """
        with self._lock:
            try:
                return self._read_locked()
            finally:
                if self._closed.is_set():
                    self._release()  # close() could not take the lock while we were reading

    def _read_locked(self) -> Frame | None:
        corrupt_run = 0
        while not self._closed.is_set():
            cap = self._cap
            ok, img = (False, None) if cap is None else self._safe_read(cap)
            if not ok:
                if not self.live:
                    return None
                self._reconnect()
                continue
            good = _check_image(img, self.name)
            if good is None:
                self.corrupt_frames += 1
                corrupt_run += 1
                if corrupt_run > self.policy.max_corrupt:
                    raise CorruptFrameError(
                        f"{corrupt_run} unusable frames in a row (last: "
                        f"{_describe(img)}); expected HxWx3 or HxW uint8 images",
                        source=self.name,
                    )
                continue
            idx = self.frames_read
            self.frames_read += 1
            if self.live:
                ts = time.monotonic_ns()
            else:
                ts = self._t0 + round(idx * 1e9 / self.fps)
            return Frame(np.ascontiguousarray(good), ts, self.name, idx)
        return None

    @staticmethod
    def _safe_read(cap: CaptureLike) -> tuple[bool, Any]:
        try:
            ok, img = cap.read()
        except cv2.error:
            return False, None
        return bool(ok), img

    def _reconnect(self) -> None:
        """Reopen with backoff; raise SourceLostError when every attempt failed."""
        self._release()
        for delay in self.policy.delays():
            if self._closed.wait(delay):
                return
            cap = self._open()
            if cap is not None:
                self._cap = cap
                self.reconnects += 1
                return
        raise SourceLostError(
            f"no frames and {self.policy.max_attempts} reconnection attempt(s) failed "
            f"(backoff {self.policy.initial_delay:g}s..{self.policy.max_delay:g}s)",
            source=self.name,
            attempts=self.policy.max_attempts,
        )

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            with contextlib.suppress(cv2.error):
                cap.release()

    def close(self) -> None:
        """Release the capture; never blocks (a read in progress releases it on its way out
        and returns None, or its frame if one was already decoded)."""
        self._closed.set()
        if self._lock.acquire(blocking=False):
            try:
                self._release()
            finally:
                self._lock.release()


def _describe(img: Any) -> str:
    if isinstance(img, np.ndarray):
        return f"array of shape {list(img.shape)} and dtype {img.dtype}"
    return type(img).__name__


# ---------------------------------------------------------------------------- image folders
class ImageFolderSource(Source):
    """The images of one folder (not recursive), in sorted file-name order.

    Args:
        folder: The folder.
        name: Sensor name (default: the folder's name).
        fps: Rate of the stream clock that stamps the frames (start + index / fps).
        grayscale: Decode as grey (HxW) images.
        on_corrupt: ``"raise"`` (:class:`CorruptFrameError` naming the file) or ``"skip"``
            (counted in ``corrupt_frames``).
        loop: Start again after the last image (an endless source).

    Raises:
        SourceOpenError: the folder does not exist or holds no image files.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        name: str | None = None,
        fps: float = 30.0,
        grayscale: bool = False,
        on_corrupt: str = "raise",
        loop: bool = False,
    ) -> None:
        root = Path(folder)
        self.name = name or root.name or str(root)
        self.live = False
        if on_corrupt not in ("raise", "skip"):
            raise SourceError(
                f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}", str(root)
            )
        if not root.is_dir():
            raise SourceOpenError("image folder not found", source=str(root))
        self.files = sorted(
            p
            for p in root.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not self.files:
            raise SourceOpenError(
                f"no image files (suffixes {', '.join(sorted(IMAGE_EXTENSIONS))})",
                source=str(root),
            )
        if not fps > 0:
            raise SourceError(f"fps must be positive, got {fps}", source=str(root))
        self.fps = float(fps)
        self.grayscale = bool(grayscale)
        self.on_corrupt = on_corrupt
        self.loop = bool(loop)
        self.corrupt_frames = 0
        self._pos = 0
        self._index = 0
        self._closed = False
        self._t0 = time.monotonic_ns()

    def read(self) -> Frame | None:
        """The next image; None after the last one (unless looping) or after ``close``.

        Raises:
            CorruptFrameError: an image cannot be decoded (``on_corrupt="raise"``).
        """
        while not self._closed:
            if self._pos >= len(self.files):
                if not self.loop or self.corrupt_frames >= len(self.files):
                    return None
                self._pos = 0
            p = self.files[self._pos]
            self._pos += 1
            try:
                img = read_image(p, grayscale=self.grayscale)
            except ImageReadError as exc:
                if self.on_corrupt == "raise":
                    raise CorruptFrameError(str(exc), source=self.name) from None
                self.corrupt_frames += 1
                continue
            idx = self._index
            self._index += 1
            return Frame(img, self._t0 + round(idx * 1e9 / self.fps), self.name, idx)
        return None

    def close(self) -> None:
        """Stop reading (there is nothing to release)."""
        self._closed = True


# ---------------------------------------------------------------------------- synthetic scene
CLASS_NAMES: tuple[str, ...] = ("background", "box", "disc", "bar")
"""Class names of the synthetic scene; label 0 is the background (SSD convention)."""

_MODALITIES = ("visible", "thermal")


@dataclasses.dataclass(frozen=True)
class SceneObject:
    """One moving object of a :class:`SyntheticScene` (visible-camera pixels, seconds).

    Attributes:
        object_id: Identity (0-based).
        label: Class id: 1 box (rectangle), 2 disc (ellipse), 3 bar (elongated rectangle).
        width: Box width, pixels.
        height: Box height, pixels.
        x0: Centre x at t = 0.
        y0: Centre y at t = 0.
        vx: Horizontal velocity, pixels per second (the object bounces off the frame edges).
        vy: Vertical velocity, pixels per second.
        color: BGR base colour.
        temperature: Thermal intensity in [0, 1] (background about 0.25).
        camouflaged: Its colour matches the background (low visible contrast).
        cold: Its temperature is close to the background (low thermal contrast).
        texture: (fx, fy, phase) of the sinusoidal texture over its surface.
    """

    object_id: int
    label: int
    width: int
    height: int
    x0: float
    y0: float
    vx: float
    vy: float
    color: tuple[int, int, int]
    temperature: float
    camouflaged: bool
    cold: bool
    texture: tuple[float, float, float]


def _bounce(p0: float, v: float, t: float, lo: float, hi: float) -> float:
    """Position at time t of a point moving at v that reflects off lo and hi (triangle wave)."""
    span = hi - lo
    if span <= 0:
        return lo
    u = (p0 - lo + v * t) % (2 * span)
    return lo + (u if u <= span else 2 * span - u)


class SyntheticScene:
    """A deterministic scene of moving objects seen by a visible and a thermal camera.

    Objects of :data:`CLASS_NAMES` (textured rectangles, ellipses and bars) move with constant
    velocity over a static cluttered background and bounce off the frame edges. Positions are a
    closed-form function of time, so any frame can be rendered in any order and the same
    ``seed`` always gives the same pixels and ground truth.

    The thermal camera sees the same scene as warm blobs (blurred, with sensor noise) at a lower
    resolution through a different field of view: thermal pixel ~ ``homography`` @ visible
    pixel (homogeneous coordinates). To make fusion worthwhile, some objects are *camouflaged*
    (their colour matches the background: hard to see in visible light) and some are *cold*
    (little thermal contrast), and a static band of smoke hides objects from the visible camera
    only. ``GroundTruth.visible`` tells whether an object is detectable in each modality.

    Args:
        seed: Seed of everything random (layout, colours, textures, per-frame noise).
        size: Visible image (height, width), pixels.
        n_objects: Number of moving objects.
        fps: Nominal frame rate (of :class:`SyntheticSource` when not overridden).
        thermal_size: Thermal image (height, width); default half of ``size``.
        homography: 3x3 visible -> thermal pixel mapping; default: a slightly rotated, scaled
            and shifted view (narrower field of view, as a real thermal core next to the camera).
        camouflaged_fraction: Fraction of objects with background-like colour.
        cold_fraction: Fraction of objects with a background-like temperature.
        smoke: Draw the visible-only smoke band (a vertical strip over 1/5 of the width).
        speed: (min, max) object speed, pixels per second.
        noise: Standard deviation of the sensor noise (visible, thermal), in 8-bit levels.
        t0_ns: Timestamp of time 0 (stream clock of the synthetic sources).
    """

    def __init__(
        self,
        seed: int = 0,
        size: tuple[int, int] = (240, 320),
        n_objects: int = 4,
        fps: float = 30.0,
        thermal_size: tuple[int, int] | None = None,
        homography: np.ndarray | None = None,
        camouflaged_fraction: float = 0.25,
        cold_fraction: float = 0.25,
        smoke: bool = True,
        speed: tuple[float, float] = (20.0, 80.0),
        noise: tuple[float, float] = (3.0, 4.0),
        t0_ns: int = 0,
    ) -> None:
        h, w = (int(v) for v in size)
        if h < 32 or w < 32:
            raise SourceError(f"scene size must be at least 32x32, got {size}", "synthetic")
        if n_objects < 0 or n_objects > 254:
            raise SourceError(f"n_objects must be in [0, 254], got {n_objects}", "synthetic")
        if not fps > 0:
            raise SourceError(f"fps must be positive, got {fps}", "synthetic")
        self.seed = int(seed)
        self.size = (h, w)
        self.fps = float(fps)
        self.t0_ns = int(t0_ns)
        self.noise = (float(noise[0]), float(noise[1]))
        self.thermal_size = (
            (h // 2, w // 2)
            if thermal_size is None
            else (int(thermal_size[0]), int(thermal_size[1]))
        )
        if homography is None:
            homography = self.default_homography(self.size, self.thermal_size)
        H = np.asarray(homography, dtype=np.float64)
        if H.shape != (3, 3) or not np.isfinite(H).all() or abs(np.linalg.det(H)) < 1e-12:
            raise SourceError("homography must be a finite, invertible 3x3 matrix", "synthetic")
        self.homography = H / H[2, 2]
        rng = np.random.default_rng([self.seed, 0xC0FFEE])
        self.background = self._make_background(rng)
        self.smoke_band: tuple[int, int] | None = None
        if smoke:
            x0 = int(rng.integers(w // 5, 3 * w // 5))
            self.smoke_band = (x0, x0 + w // 5)
        self._ambient = self._make_ambient(rng)
        self.objects = self._make_objects(
            rng, int(n_objects), camouflaged_fraction, cold_fraction, speed
        )
        self._textures = [self._texture(o) for o in self.objects]

    # ------------------------------------------------------------------ construction
    @staticmethod
    def default_homography(size: tuple[int, int], thermal_size: tuple[int, int]) -> np.ndarray:
        """The default visible -> thermal mapping: the thermal camera sees the central ~85% of
        the visible view, rotated by 2 degrees, at its own resolution."""
        h, w = size
        th, tw = thermal_size
        s = 0.85
        cx, cy = w / 2.0, h / 2.0
        a = math.radians(2.0)
        # visible pixel -> centred -> rotate -> crop to the thermal field -> thermal pixels
        centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
        rot = np.array(
            [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]],
            dtype=np.float64,
        )
        scale = np.diag([tw / (s * w), th / (s * h), 1.0])
        back = np.array([[1, 0, tw / 2.0], [0, 1, th / 2.0], [0, 0, 1]], dtype=np.float64)
        return back @ scale @ rot @ centre

    def _make_background(self, rng: np.random.Generator) -> np.ndarray:
        h, w = self.size
        coarse = rng.integers(60, 170, size=(max(h // 16, 2), max(w // 16, 2), 3), dtype=np.uint8)
        bg = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        for _ in range(12):  # clutter: static lines and patches
            c = tuple(int(v) for v in rng.integers(40, 200, 3))
            p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            if rng.random() < 0.5:
                cv2.line(bg, p1, p2, c, int(rng.integers(1, 4)))
            else:
                cv2.rectangle(bg, p1, (p1[0] + w // 12, p1[1] + h // 12), c, -1)
        return bg

    def _make_ambient(self, rng: np.random.Generator) -> np.ndarray:
        """Thermal background in [0, 1] at visible resolution: a gradient plus mild clutter."""
        h, w = self.size
        yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
        amb = np.float32(0.2) + np.float32(0.1) * yy + np.zeros((1, w), np.float32)
        coarse = rng.normal(0.0, 0.03, size=(max(h // 20, 2), max(w // 20, 2))).astype(np.float32)
        amb += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        return np.clip(amb, 0.0, 1.0)

    def _make_objects(
        self,
        rng: np.random.Generator,
        n: int,
        camo_frac: float,
        cold_frac: float,
        speed: tuple[float, float],
    ) -> list[SceneObject]:
        h, w = self.size
        unit = min(h, w)
        n_camo = round(n * camo_frac)
        n_cold = round(n * cold_frac)
        flags = rng.permutation(n)
        camo = set(flags[:n_camo].tolist())
        cold = set(flags[n_camo : n_camo + n_cold].tolist())  # never both: always findable
        objs = []
        for i in range(n):
            label = int(rng.integers(1, len(CLASS_NAMES)))
            side = float(rng.uniform(0.12, 0.22)) * unit
            if label == 3:
                ow, oh = side * 1.8, side * 0.55
                if rng.random() < 0.5:
                    ow, oh = oh, ow
            else:
                ow, oh = side * float(rng.uniform(0.8, 1.25)), side
            ow_i, oh_i = max(round(ow), 6), max(round(oh), 6)
            ang = float(rng.uniform(0.0, 2.0 * math.pi))
            sp = float(rng.uniform(*speed))
            x0 = float(rng.uniform(ow_i / 2, w - ow_i / 2))
            y0 = float(rng.uniform(oh_i / 2, h - oh_i / 2))
            if i in camo:
                yi, xi = int(np.clip(y0, 0, h - 1)), int(np.clip(x0, 0, w - 1))
                base = self.background[yi, xi].astype(np.int64)
                color = tuple(int(v) for v in np.clip(base + rng.integers(-8, 9, 3), 0, 255))
            else:
                color = tuple(int(v) for v in rng.choice([30, 230], size=3))
                if len(set(color)) == 1:  # avoid grey: strongly coloured objects
                    color = (230, 30, color[2])
            temp = float(rng.uniform(0.27, 0.3)) if i in cold else float(rng.uniform(0.75, 0.95))
            tex = (float(rng.uniform(0.1, 0.5)), float(rng.uniform(0.1, 0.5)), float(rng.random()))
            objs.append(
                SceneObject(
                    object_id=i,
                    label=label,
                    width=ow_i,
                    height=oh_i,
                    x0=x0,
                    y0=y0,
                    vx=sp * math.cos(ang),
                    vy=sp * math.sin(ang),
                    color=(int(color[0]), int(color[1]), int(color[2])),
                    temperature=temp,
                    camouflaged=i in camo,
                    cold=i in cold,
                    texture=tex,
                )
            )
        return objs

    def calibration(self) -> RigCalibration:
        """The rig calibration of the two cameras (reference: ``visible``)."""
        return RigCalibration.from_homographies(
            "visible",
            {"visible": self.size, "thermal": self.thermal_size},
            {"thermal": np.linalg.inv(self.homography)},
        )

    @staticmethod
    def _texture(o: SceneObject) -> np.ndarray:
        """Multiplicative texture in [0.7, 1.0] over the object's box, float32 [h, w, 1]."""
        fx, fy, ph = o.texture
        yy, xx = np.mgrid[0 : o.height, 0 : o.width].astype(np.float32)
        t = np.sin(xx * fx + ph * 6.28) * np.cos(yy * fy)
        return (np.float32(0.85) + np.float32(0.15) * t)[:, :, None].astype(np.float32)

    # ------------------------------------------------------------------ geometry
    def boxes_at(self, t: float) -> np.ndarray:
        """Integer boxes ``[n, 4]`` (x0, y0, x1, y1) of every object at time t (seconds)."""
        h, w = self.size
        out = np.zeros((len(self.objects), 4), dtype=np.int64)
        for k, o in enumerate(self.objects):
            cx = _bounce(o.x0, o.vx, t, o.width / 2, w - o.width / 2)
            cy = _bounce(o.y0, o.vy, t, o.height / 2, h - o.height / 2)
            x0 = round(cx - o.width / 2)
            y0 = round(cy - o.height / 2)
            x0 = min(max(x0, 0), w - o.width)
            y0 = min(max(y0, 0), h - o.height)
            out[k] = (x0, y0, x0 + o.width, y0 + o.height)
        return out

    def _id_map(self, boxes: np.ndarray) -> np.ndarray:
        """uint8 map: 1 + id of the front-most object at each pixel, 0 for background."""
        idm = np.zeros(self.size, dtype=np.uint8)
        for o, (x0, y0, x1, y1) in zip(self.objects, boxes.tolist()):
            v = o.object_id + 1
            if o.label == 2:
                c = ((x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0)
                ax = ((x1 - x0) / 2.0, (y1 - y0) / 2.0)
                cv2.ellipse(idm, (c, (ax[0] * 2, ax[1] * 2), 0.0), (v,), -1)
            else:
                idm[y0:y1, x0:x1] = v
        return idm

    # ------------------------------------------------------------------ rendering
    def render(
        self, modality: str, t: float, frame_index: int = 0
    ) -> tuple[np.ndarray, tuple[GroundTruth, ...]]:
        """Render one modality at time t.

        Args:
            modality: ``"visible"`` (uint8 HxWx3 BGR at ``size``) or ``"thermal"`` (uint8 HxW at
                ``thermal_size``).
            t: Scene time, seconds.
            frame_index: Seeds the per-frame sensor noise (with the scene seed and modality).

        Returns:
            (image, ground truth in that image's pixel coordinates).
        """
        if modality not in _MODALITIES:
            raise SourceError(f"unknown modality {modality!r}; use {_MODALITIES}", "synthetic")
        boxes = self.boxes_at(t)
        idm = self._id_map(boxes)
        noise_rng = np.random.default_rng([self.seed, _MODALITIES.index(modality), frame_index])
        if modality == "visible":
            return self._render_visible(boxes, idm, noise_rng)
        return self._render_thermal(boxes, idm, noise_rng)

    def _fractions(self, boxes: np.ndarray, idm: np.ndarray) -> list[float]:
        """Unoccluded fraction of every object's own mask."""
        out = []
        for o, (x0, y0, x1, y1) in zip(self.objects, boxes.tolist()):
            roi = idm[y0:y1, x0:x1]
            area = o.width * o.height * (math.pi / 4 if o.label == 2 else 1.0)
            out.append(float(np.count_nonzero(roi == o.object_id + 1)) / max(area, 1.0))
        return out

    def _render_visible(
        self, boxes: np.ndarray, idm: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[GroundTruth, ...]]:
        img = self.background.copy()
        for o, tex, (x0, y0, x1, y1) in zip(self.objects, self._textures, boxes.tolist()):
            roi = img[y0:y1, x0:x1]
            mask = idm[y0:y1, x0:x1] == o.object_id + 1
            col = np.asarray(o.color, dtype=np.float32) * tex
            roi[mask] = col[mask].astype(np.uint8)
        smoke_frac = np.zeros(len(self.objects))
        if self.smoke_band is not None:
            sx0, sx1 = self.smoke_band
            band = img[:, sx0:sx1].astype(np.float32)
            img[:, sx0:sx1] = (band * 0.1 + 180.0 * 0.9).astype(np.uint8)
            for k, (x0, _y0, x1, _y1) in enumerate(boxes.tolist()):
                smoke_frac[k] = max(0, min(x1, sx1) - max(x0, sx0)) / max(x1 - x0, 1)
        noisy = img.astype(np.float32) + rng.normal(0.0, self.noise[0], img.shape).astype(
            np.float32
        )
        out = np.clip(noisy, 0, 255).astype(np.uint8)
        frac = self._fractions(boxes, idm)
        gts = tuple(
            GroundTruth(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                label=o.label,
                object_id=o.object_id,
                visible=bool(frac[k] >= 0.5 and smoke_frac[k] < 0.5 and not o.camouflaged),
            )
            for k, (o, b) in enumerate(zip(self.objects, boxes.tolist()))
        )
        return out, gts

    def _render_thermal(
        self, boxes: np.ndarray, idm: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[GroundTruth, ...]]:
        temps = np.zeros(256, dtype=np.float32)
        for o in self.objects:
            temps[o.object_id + 1] = o.temperature
        heat = np.where(idm > 0, temps[idm], self._ambient).astype(np.float32)
        th, tw = self.thermal_size
        warped = cv2.warpPerspective(
            heat, self.homography, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        warped = cv2.GaussianBlur(warped, (0, 0), 1.0)
        warped = warped * np.float32(255.0) + rng.normal(0.0, self.noise[1], warped.shape).astype(
            np.float32
        )
        out = np.clip(warped, 0, 255).astype(np.uint8)
        frac = self._fractions(boxes, idm)
        gts = []
        for k, o in enumerate(self.objects):
            tb = _project_box(self.homography, boxes[k].astype(np.float64))
            cx0, cy0 = max(tb[0], 0.0), max(tb[1], 0.0)
            cx1, cy1 = min(tb[2], float(tw)), min(tb[3], float(th))
            if cx1 - cx0 < 1 or cy1 - cy0 < 1:
                continue  # outside the thermal field of view
            inside = (cx1 - cx0) * (cy1 - cy0) / max((tb[2] - tb[0]) * (tb[3] - tb[1]), 1e-9)
            gts.append(
                GroundTruth(
                    box=(cx0, cy0, cx1, cy1),
                    label=o.label,
                    object_id=o.object_id,
                    visible=bool(frac[k] >= 0.5 and inside >= 0.5 and not o.cold),
                )
            )
        return out, tuple(gts)


def _project_box(H: np.ndarray, box: np.ndarray) -> tuple[float, float, float, float]:
    """Axis-aligned bounds of a box's four corners mapped by a homography."""
    x0, y0, x1, y1 = (float(v) for v in box)
    pts = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], dtype=np.float64)
    q = pts @ H.T
    q = q[:, :2] / q[:, 2:3]
    return (
        float(q[:, 0].min()),
        float(q[:, 1].min()),
        float(q[:, 0].max()),
        float(q[:, 1].max()),
    )


class SyntheticSource(Source):
    """Frames of one modality of a :class:`SyntheticScene`.

    Frame ``k`` shows the scene at time ``k / fps + offset_s`` and is stamped
    ``scene.t0_ns + round((k / fps + offset_s) * 1e9)`` (plus optional jitter), so two sources
    of the same scene at different rates can be synchronised by timestamp.

    Args:
        scene: The scene.
        modality: ``"visible"`` or ``"thermal"``.
        n_frames: Frames before the end of the stream; None for endless.
        fps: Frame rate (default: the scene's).
        offset_s: Time of frame 0, seconds (a sensor that starts later or lags).
        jitter_ms: Uniform timestamp jitter, +- milliseconds (seeded; the image is unaffected).
        name: Sensor name (default: the modality).
        live: Mark as a live source (a pipeline then drops frames instead of blocking).
        pace: Sleep so that frames come out at the stream's rate (emulates a camera).
    """

    def __init__(
        self,
        scene: SyntheticScene,
        modality: str = "visible",
        n_frames: int | None = None,
        fps: float | None = None,
        offset_s: float = 0.0,
        jitter_ms: float = 0.0,
        name: str | None = None,
        live: bool = False,
        pace: bool = False,
    ) -> None:
        if modality not in _MODALITIES:
            raise SourceError(f"unknown modality {modality!r}; use {_MODALITIES}", "synthetic")
        self.scene = scene
        self.modality = modality
        self.name = name or modality
        self.n_frames = None if n_frames is None else int(n_frames)
        self.fps = float(fps if fps is not None else scene.fps)
        if not self.fps > 0:
            raise SourceError(f"fps must be positive, got {fps}", self.name)
        self.offset_s = float(offset_s)
        self.jitter_ms = float(jitter_ms)
        self.live = bool(live)
        self.pace = bool(pace)
        self._k = 0
        self._closed = threading.Event()
        self._wall0 = time.monotonic()

    def read(self) -> Frame | None:
        """The next frame; None after ``n_frames`` frames or ``close``."""
        if self._closed.is_set() or (self.n_frames is not None and self._k >= self.n_frames):
            return None
        k = self._k
        self._k += 1
        t = k / self.fps + self.offset_s
        if self.pace and self._closed.wait(max(0.0, self._wall0 + k / self.fps - time.monotonic())):
            return None
        img, gt = self.scene.render(self.modality, t, k)
        ts = self.scene.t0_ns + round(t * 1e9)
        if self.jitter_ms:
            jr = np.random.default_rng([self.scene.seed, 7 + _MODALITIES.index(self.modality), k])
            ts += round(float(jr.uniform(-1.0, 1.0)) * self.jitter_ms * 1e6)
        return Frame(img, ts, self.name, k, gt)

    def close(self) -> None:
        """End the stream (interrupts a paced wait)."""
        self._closed.set()
