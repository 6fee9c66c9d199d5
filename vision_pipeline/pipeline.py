"""The threaded vision pipeline: capture -> preprocess + infer -> post-process/fusion -> sinks.

Four threads connected by bounded queues:

1. **capture** reads frame sets from a :class:`~vision_pipeline.sources.Source` or a
   :class:`~vision_pipeline.sync.Synchronizer`;
2. **infer** writes each sensor's frame into its backend's input buffer
   (:class:`~vision_pipeline.preprocess.Preprocessor`) and runs the backend;
3. **post** decodes the outputs (top-k, SSD), runs model-free detectors (e.g. thermal blobs),
   fuses / confirms across sensors and tracks;
4. **sink** hands the :class:`~vision_pipeline.sinks.FrameResult` to every sink.

Queue policy: for live sources (cameras, streams) a full queue drops its *oldest* item, so the
latency stays bounded and the newest frames win; for files and generators ``put`` waits, so no
frame is lost (the output has exactly as many frames as the input, unless ``stop()`` cuts the
run short). Drops are counted per queue.

Shutdown: the end of the source flows through the stages as an end-of-stream marker. ``stop()``
(or Ctrl-C in :meth:`Pipeline.run`) sets a stop flag every stage polls at least every
``poll_interval``; every wait has a deadline and ``join`` waits for all threads at most
``join_timeout`` seconds, so no thread is left behind. The first exception of any stage stops
the pipeline and is raised by ``join``/``run`` in the caller's thread: SDK errors
(:class:`~edge_dnn.errors.EdgeDnnError`, e.g. ``SourceLostError``) as they are, anything else
wrapped in :class:`~vision_pipeline.errors.StageError` naming the stage.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy as np

from edge_dnn.errors import EdgeDnnError
from vision_pipeline.backends import InferenceBackend
from vision_pipeline.errors import PipelineError, StageError
from vision_pipeline.fusion import FusionStage
from vision_pipeline.postprocess import ClassScore, Detection, IouTracker
from vision_pipeline.preprocess import Geometry, Preprocessor
from vision_pipeline.sinks import FrameResult, Sink
from vision_pipeline.sources import Frame, Source
from vision_pipeline.sync import FrameSet, Synchronizer, SyncStats

__all__ = [
    "Decoder",
    "Detector",
    "Pipeline",
    "PipelineConfig",
    "PipelineStats",
    "SensorModel",
    "StageStats",
]

Decoder = Callable[[Mapping[str, np.ndarray], Geometry], Sequence[Detection | ClassScore]]
"""Turns backend outputs (and the frame geometry) into detections or top-k classes."""

Detector = Callable[[Frame], Sequence[Detection]]
"""A model-free detector run in the post stage (e.g. thermal blobs)."""

STAGES = ("capture", "infer", "post", "sink")


@dataclasses.dataclass
class SensorModel:
    """The network of one sensor.

    Attributes:
        backend: Runs the network.
        preprocessor: Writes frames into ``backend``'s input buffer (same buffer object).
        decoder: Outputs -> detections (frame pixels) or classes, e.g. an
            :class:`~vision_pipeline.postprocess.SSDDecoder`.
    """

    backend: InferenceBackend
    preprocessor: Preprocessor
    decoder: Decoder


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Pipeline parameters.

    Attributes:
        queue_size: Capacity of each inter-stage queue.
        drop_oldest: Drop the oldest queued item when full (True), or wait (False); None: drop
            for live sources, wait for files.
        poll_interval: Seconds between stop-flag checks of a waiting stage.
        join_timeout: Seconds ``join`` waits for all threads after the stop.
        close_sinks: Close the sinks when the pipeline ends.
        latency_window: Latency samples kept per stage for the percentiles.
    """

    queue_size: int = 2
    drop_oldest: bool | None = None
    poll_interval: float = 0.05
    join_timeout: float = 5.0
    close_sinks: bool = True
    latency_window: int = 2048

    def __post_init__(self) -> None:
        if self.queue_size < 1 or self.poll_interval <= 0 or self.join_timeout <= 0:
            raise PipelineError("queue_size >= 1, poll_interval > 0 and join_timeout > 0 needed")
        if self.latency_window < 1:
            raise PipelineError("latency_window must be >= 1")


@dataclasses.dataclass(frozen=True)
class StageStats:
    """Processing time of one stage (milliseconds) over the recent window."""

    count: int
    mean_ms: float
    p50_ms: float
    p99_ms: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            k: round(v, 3) if isinstance(v, float) else v
            for k, v in dataclasses.asdict(self).items()
        }


@dataclasses.dataclass(frozen=True)
class PipelineStats:
    """A snapshot of the pipeline's counters.

    Attributes:
        frames_in: Frame sets captured.
        frames_out: Frame sets delivered to the sinks.
        dropped: Items dropped per queue (``capture->infer``, ``infer->post``, ``post->sink``).
        fps: Frames delivered per second of wall time since the first capture.
        elapsed_s: Seconds since ``start``.
        stages: Per stage processing time (``capture``, ``infer``, ``post``, ``sink``) and
            ``total`` (end of capture to start of the sinks: queueing, inference and
            post-processing).
        sync: The synchronizer's counters, when the source is one.
        interrupted: ``run`` ended by Ctrl-C.
    """

    frames_in: int
    frames_out: int
    dropped: dict[str, int]
    fps: float
    elapsed_s: float
    stages: dict[str, StageStats]
    sync: SyncStats | None = None
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "dropped": dict(self.dropped),
            "fps": round(self.fps, 3),
            "elapsed_s": round(self.elapsed_s, 3),
            "stages": {k: v.to_dict() for k, v in self.stages.items()},
            "sync": None if self.sync is None else dataclasses.asdict(self.sync),
            "interrupted": self.interrupted,
        }


# ---------------------------------------------------------------------------- queues
_EOS = object()
"""End-of-stream marker flowing through the queues."""


class _Queue:
    """A bounded queue with a drop-oldest or a waiting ``put``; every wait has a deadline."""

    def __init__(
        self, name: str, size: int, drop_oldest: bool, stop: threading.Event, poll: float
    ) -> None:
        self.name = name
        self.size = size
        self.drop_oldest = drop_oldest
        self.dropped = 0
        self._q: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._stop = stop
        self._poll = poll

    def put(self, item: Any) -> bool:
        """Queue ``item``; False if the pipeline stopped while waiting for room."""
        with self._cond:
            while len(self._q) >= self.size:
                if self.drop_oldest:
                    # Only frames are dropped, never the end-of-stream marker.
                    victim = next((i for i, x in enumerate(self._q) if x is not _EOS), None)
                    if victim is None:
                        break
                    del self._q[victim]
                    self.dropped += 1
                    continue
                if self._stop.is_set():
                    return False
                self._cond.wait(self._poll)
            self._q.append(item)
            self._cond.notify_all()
            return True

    def get(self) -> Any:
        """The next item, or None if the pipeline stopped while waiting."""
        with self._cond:
            while not self._q:
                if self._stop.is_set():
                    return None
                self._cond.wait(self._poll)
            item = self._q.popleft()
            self._cond.notify_all()
            return item


@dataclasses.dataclass
class _Item:
    frames: FrameSet
    t0: float
    latency: dict[str, float]
    raw: dict[str, tuple[dict[str, np.ndarray], Geometry]] = dataclasses.field(default_factory=dict)
    result: FrameResult | None = None


def _stats(samples: collections.deque[float]) -> StageStats:
    if not samples:
        return StageStats(0, 0.0, 0.0, 0.0)
    a = np.fromiter(samples, dtype=np.float64)
    return StageStats(
        len(a), float(a.mean()), float(np.percentile(a, 50)), float(np.percentile(a, 99))
    )


# ---------------------------------------------------------------------------- the pipeline
class Pipeline:
    """Threaded capture -> infer -> post -> sink pipeline (see the module docstring).

    Args:
        source: A source or a synchronizer of several.
        models: Sensor name -> :class:`SensorModel`; a single model applies to the primary
            sensor.
        detectors: Sensor name -> model-free detector run in the post stage.
        fusion: Late fusion / confirmation across sensors (needs a calibrated rig).
        tracker: Assigns track ids to the final detections.
        sinks: Outputs, in order.
        config: Queue sizes, drop policy, deadlines.
        on_result: Called in the sink thread with every result (after the sinks).
        max_frames: Stop capturing after this many frame sets (end of stream then).

    The pipeline closes the source when capturing ends, and the sinks when it finishes
    (``config.close_sinks``).

    Raises:
        PipelineError: a model whose preprocessor does not write into its backend's buffer.
    """

    def __init__(
        self,
        source: Source | Synchronizer,
        models: Mapping[str, SensorModel] | SensorModel | None = None,
        detectors: Mapping[str, Detector] | None = None,
        fusion: FusionStage | None = None,
        tracker: IouTracker | None = None,
        sinks: Sequence[Sink] = (),
        config: PipelineConfig | None = None,
        on_result: Callable[[FrameResult], None] | None = None,
        max_frames: int | None = None,
    ) -> None:
        self.source = source
        self.primary = source.name
        if isinstance(models, SensorModel):
            models = {self.primary: models}
        self.models: dict[str, SensorModel] = dict(models or {})
        for sensor, m in self.models.items():
            name = m.preprocessor.spec.name
            if m.backend.input_buffer(name) is not m.preprocessor.buffer:
                raise PipelineError(
                    f"sensor '{sensor}': the preprocessor must write into the backend's buffer "
                    f"for input '{name}' (build it with Preprocessor.for_backend)"
                )
        self.detectors = dict(detectors or {})
        self.fusion = fusion
        self.tracker = tracker
        self.sinks = list(sinks)
        self.config = config or PipelineConfig()
        self.on_result = on_result
        self.max_frames = max_frames
        cfg = self.config
        drop = source.live if cfg.drop_oldest is None else bool(cfg.drop_oldest)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._queues = [
            _Queue(n, cfg.queue_size, drop, self._stop, cfg.poll_interval)
            for n in ("capture->infer", "infer->post", "post->sink")
        ]
        self._lat: dict[str, collections.deque[float]] = {
            k: collections.deque(maxlen=cfg.latency_window) for k in (*STAGES, "total")
        }
        self._lat_lock = threading.Lock()
        self._out_times: collections.deque[float] = collections.deque(maxlen=30)
        self._threads: list[threading.Thread] = []
        self._error: tuple[str, BaseException] | None = None
        self._err_lock = threading.Lock()
        self.frames_in = 0
        self.frames_out = 0
        self._t_start = 0.0
        self._t_first = 0.0
        self._t_last = 0.0
        self._interrupted = False
        self._started = False

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start the stage threads (once).

        Raises:
            PipelineError: already started.
        """
        if self._started:
            raise PipelineError("the pipeline was already started")
        self._started = True
        self._t_start = time.monotonic()
        targets: list[tuple[str, Callable[[], None]]] = [
            ("capture", self._capture),
            ("infer", self._infer),
            ("post", self._post),
            ("sink", self._sink),
        ]
        for name, fn in targets:
            t = threading.Thread(target=self._guard, args=(name, fn), name=f"vision-{name}")
            self._threads.append(t)
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Ask every stage to stop (returns at once; ``join`` waits)."""
        self._stop.set()
        # Interrupts backoff/pacing waits and never blocks; best effort (the capture thread
        # closes the source again on its way out).
        with contextlib.suppress(Exception):
            self.source.close()

    def join(self, timeout: float | None = None) -> PipelineStats:
        """Wait for the threads to finish and return the statistics.

        Args:
            timeout: Seconds to wait for the natural end (None: forever); then the pipeline is
                stopped and given ``join_timeout`` more seconds.

        Raises:
            EdgeDnnError: the SDK error a stage raised (e.g. ``SourceLostError``).
            StageError: any other exception of a stage (``__cause__`` is the original).
            PipelineError: threads did not stop within the deadline.
        """
        if not self._started:
            raise PipelineError("the pipeline was not started")
        if timeout is not None and not self._done.wait(timeout):
            self.stop()
        deadline = None if timeout is None else time.monotonic() + self.config.join_timeout
        for t in self._threads:
            if deadline is None:
                while t.is_alive():
                    t.join(0.1)
            else:
                t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        self._raise_error()
        if stuck:
            raise PipelineError(
                f"thread(s) {stuck} did not stop within {self.config.join_timeout}s"
            )
        return self.stats()

    def run(self, duration: float | None = None) -> PipelineStats:
        """Start, wait for the end of the stream (or ``duration`` seconds), join.

        Ctrl-C stops the pipeline cleanly (``stats.interrupted`` is then True).

        Raises:
            See :meth:`join`.
        """
        self.start()
        end = None if duration is None else time.monotonic() + duration
        try:
            while not self._done.wait(self.config.poll_interval):
                if end is not None and time.monotonic() >= end:
                    break
        except KeyboardInterrupt:
            self._interrupted = True
        finally:
            self.stop()
            # Threads end within poll_interval once stopped; give them join_timeout.
            deadline = time.monotonic() + self.config.join_timeout
            for t in self._threads:
                t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        self._raise_error()
        if stuck:
            raise PipelineError(
                f"thread(s) {stuck} did not stop within {self.config.join_timeout}s"
            )
        return self.stats()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self.stop()
            deadline = time.monotonic() + self.config.join_timeout
            for t in self._threads:
                t.join(max(0.0, deadline - time.monotonic()))

    @property
    def error(self) -> BaseException | None:
        """The first stage error, if any."""
        return None if self._error is None else self._error[1]

    def _raise_error(self) -> None:
        if self._error is None:
            return
        stage, exc = self._error
        if isinstance(exc, EdgeDnnError):
            exc.add_note(f"(raised in the pipeline's '{stage}' stage)")
            raise exc
        raise StageError(stage, exc) from exc

    # ------------------------------------------------------------------ statistics
    def stats(self) -> PipelineStats:
        """Current counters (thread-safe snapshot)."""
        with self._lat_lock:
            stages = {k: _stats(v) for k, v in self._lat.items()}
        span = self._t_last - self._t_first
        fps = (self.frames_out - 1) / span if self.frames_out > 1 and span > 0 else 0.0
        sync = self.source.stats if isinstance(self.source, Synchronizer) else None
        return PipelineStats(
            frames_in=self.frames_in,
            frames_out=self.frames_out,
            dropped={q.name: q.dropped for q in self._queues},
            fps=fps,
            elapsed_s=time.monotonic() - self._t_start if self._started else 0.0,
            stages=stages,
            sync=sync,
            interrupted=self._interrupted,
        )

    def _record(self, stage: str, ms: float, item: _Item) -> None:
        item.latency[stage] = ms
        with self._lat_lock:
            self._lat[stage].append(ms)

    # ------------------------------------------------------------------ stages
    def _guard(self, stage: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:  # every failure must reach the caller
            with self._err_lock:
                if self._error is None:
                    self._error = (stage, exc)
            self._stop.set()
        finally:
            if stage == "capture":
                with contextlib.suppress(Exception):
                    self.source.close()
            if stage == "sink" and self.config.close_sinks:
                self._close_sinks()
            if stage == "sink" or self._stop.is_set():
                self._done.set()

    def _close_sinks(self) -> None:
        for s in self.sinks:
            try:
                s.close()
            except BaseException as exc:  # report it, keep closing the others
                with self._err_lock:
                    if self._error is None:
                        self._error = ("sink", exc)

    def _capture(self) -> None:
        q = self._queues[0]
        while not self._stop.is_set():
            if self.max_frames is not None and self.frames_in >= self.max_frames:
                break
            t = time.monotonic()
            got = self.source.read()
            if got is None:
                break
            fs = got if isinstance(got, FrameSet) else FrameSet.single(got)
            now = time.monotonic()
            if self.frames_in == 0:
                self._t_first = now
            self.frames_in += 1
            item = _Item(fs, t, {})
            self._record("capture", (now - t) * 1e3, item)
            item.t0 = now
            if not q.put(item):
                return
        q.put(_EOS)

    def _infer(self) -> None:
        qi, qo = self._queues[0], self._queues[1]
        while True:
            item = qi.get()
            if item is None:
                return
            if item is _EOS:
                qo.put(_EOS)
                return
            t = time.monotonic()
            for sensor, m in self.models.items():
                frame = item.frames.frames.get(sensor)
                if frame is None:
                    continue
                geo = m.preprocessor(frame.image)
                name = m.preprocessor.spec.name
                outs = m.backend.run({name: m.preprocessor.buffer})
                item.raw[sensor] = (outs, geo)
            self._record("infer", (time.monotonic() - t) * 1e3, item)
            if not qo.put(item):
                return

    def _post(self) -> None:
        qi, qo = self._queues[1], self._queues[2]
        while True:
            item = qi.get()
            if item is None:
                return
            if item is _EOS:
                qo.put(_EOS)
                return
            t = time.monotonic()
            per_sensor: dict[str, list[Detection]] = {}
            classes: list[ClassScore] = []
            frames = item.frames.frames
            for sensor, (outs, geo) in item.raw.items():
                res = self.models[sensor].decoder(outs, geo)
                dets = [r for r in res if isinstance(r, Detection)]
                cls = [r for r in res if isinstance(r, ClassScore)]
                if cls and sensor == self.primary:
                    classes = cls
                if dets or not cls:
                    per_sensor[sensor] = [
                        d if d.sensor else dataclasses.replace(d, sensor=sensor) for d in dets
                    ]
            for sensor, det in self.detectors.items():
                if sensor in frames:
                    per_sensor.setdefault(sensor, []).extend(det(frames[sensor]))
            item.raw = {}  # free the outputs early
            if self.fusion is not None:
                final = self.fusion(per_sensor, frames, self.primary)
            else:
                final = list(per_sensor.get(self.primary, []))
            if self.tracker is not None:
                final = self.tracker.update(final)
            item.result = FrameResult(item.frames, final, per_sensor, classes, item.latency)
            self._record("post", (time.monotonic() - t) * 1e3, item)
            if not qo.put(item):
                return

    def _sink(self) -> None:
        qi = self._queues[2]
        while True:
            item = qi.get()
            if item is None or item is _EOS:
                return
            t = time.monotonic()
            res = item.result
            assert res is not None
            item.latency["total"] = (t - item.t0) * 1e3
            with self._lat_lock:
                self._lat["total"].append(item.latency["total"])
            self._out_times.append(t)
            ot = self._out_times
            res.fps = (len(ot) - 1) / (ot[-1] - ot[0]) if len(ot) > 1 and ot[-1] > ot[0] else 0.0
            for s in self.sinks:
                s.write(res)
                if getattr(s, "quit_requested", False):
                    self.stop()
            if self.on_result is not None:
                self.on_result(res)
            done = time.monotonic()
            self._record("sink", (done - t) * 1e3, item)
            self.frames_out += 1
            self._t_last = done
