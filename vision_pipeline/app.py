"""Build a complete pipeline from textual options: the Python API behind ``edge-dnn pipeline``.

:func:`build_pipeline` takes the same options as the command line (a compiled model, source and
sink specs, a fusion mode, a frame limit) and returns a ready :class:`~vision_pipeline.pipeline.
Pipeline`::

    from vision_pipeline.app import build_pipeline

    p = build_pipeline(
        "synthdet.edm",
        ["synthetic:seed=3,frames=100", "synthetic-thermal:seed=3,frames=100"],
        sinks=["jsonl:out.jsonl", "video:out.avi"],
        fusion="wbf",
    )
    stats = p.run()

Source specs (:func:`open_source_spec`):

* ``synthetic[:key=value,...]``: the visible camera of a :class:`~vision_pipeline.sources.
  SyntheticScene`; ``synthetic-thermal[:...]`` its thermal camera. Keys: ``seed`` (0),
  ``frames`` (endless), ``objects`` (4), ``fps`` (30), ``size`` (``240x320``, height x width),
  ``offset_ms`` (0: start time of the stream), ``name`` (the modality), ``pace`` (0/1: deliver
  at the frame rate, as a camera). Specs with the same seed/objects/fps/size view one scene.
* anything :func:`~vision_pipeline.sources.open_source` opens: a camera index (``0``), a video
  file, an image folder, an RTSP/HTTP URL, a GStreamer pipeline, a registered scheme, PYNQ's
  video input on a board (``pynq:hdmi_in``, ``pynq:mipi``: :mod:`vision_pipeline.pynq_video`).

Sink specs (:func:`open_sink_spec`): ``video:PATH`` (``.avi``: MJPG, ``.mp4``: mp4v),
``jsonl:PATH`` (``jsonl:-``: standard output), ``mjpeg:PORT`` (bound to 127.0.0.1) or
``mjpeg:HOST:PORT``, ``window``, on a board ``displayport[:WxH[@FPS]]`` (the PS DisplayPort)
and ``hdmi_out[:WxH[@FPS]]`` (the overlay's HDMI out; :mod:`vision_pipeline.pynq_video`).

Runners (:data:`RUNNERS`, :func:`runner_factory_for`): ``runtime`` (the default) runs the model
with :class:`arm_scheduler.Runtime`, on the overlay on a board and on the emulated board on a
host, each sensor preprocessing straight into its own slot of the runtime's DMA buffers;
``emulator`` with the engine emulator in the inference thread; ``process`` with the emulator in
a child process per sensor.

Fusion modes (:data:`FUSION_MODES`): ``wbf`` / ``nms`` (the model runs on every sensor; late
fusion into the first source's frame), ``confirm`` (the model runs on the first source; its
detections are confirmed by the second source's image, e.g. thermal), ``none`` (the first
source's detections). Fusion needs a rig calibration: ``calibration=`` (a file or a
:class:`~vision_pipeline.calibration.RigCalibration`), or, for synthetic sources of one scene,
the scene's own calibration.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_dnn.compiler.model import CompiledModel
from edge_dnn.errors import EdgeDnnError
from vision_pipeline.backends import CompiledBackend, ModelRunnerLike
from vision_pipeline.calibration import RigCalibration
from vision_pipeline.detector import BOX_BLOB, HEAT_BLOB, HeatmapDecoder
from vision_pipeline.errors import PipelineError, SinkError, SourceError
from vision_pipeline.fusion import FusionConfig, FusionStage
from vision_pipeline.pipeline import Decoder, Pipeline, PipelineConfig, SensorModel
from vision_pipeline.postprocess import ClassifierDecoder, IouTracker, SSDDecoder
from vision_pipeline.preprocess import Preprocessor
from vision_pipeline.sinks import (
    FrameResult,
    JsonLinesSink,
    MjpegServerSink,
    Sink,
    VideoFileSink,
    WindowSink,
)
from vision_pipeline.sources import Source, SyntheticScene, SyntheticSource, open_source
from vision_pipeline.sync import Synchronizer

__all__ = [
    "FUSION_MODES",
    "RUNNERS",
    "build_pipeline",
    "default_decoder",
    "load_compiled",
    "open_sink_spec",
    "open_source_spec",
    "open_sources",
    "resolve_rig",
    "runner_factory_for",
]

FUSION_MODES = ("wbf", "nms", "confirm", "none")
RUNNERS = ("runtime", "emulator", "process")
"""What runs the model (:func:`runner_factory_for`); ``runtime`` is the default."""
_SYNTH_KEYS = ("seed", "frames", "objects", "fps", "size", "offset_ms", "name", "pace")
_VIDEO_CODECS = {".avi": "MJPG", ".mp4": "mp4v"}


# ---------------------------------------------------------------------------- sources
def _synthetic_options(spec: str, rest: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in _SYNTH_KEYS:
            raise SourceError(
                f"bad option '{item}'; write key=value with keys {', '.join(_SYNTH_KEYS)}",
                source=spec,
            )
        opts[key] = value.strip()
    return opts


def _number(spec: str, key: str, value: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise SourceError(f"option {key}={value!r} is not a valid number", source=spec) from None


def _synthetic(
    spec: str, modality: str, rest: str, scenes: dict[tuple[Any, ...], SyntheticScene]
) -> SyntheticSource:
    o = _synthetic_options(spec, rest)
    seed = _number(spec, "seed", o.get("seed", "0"), int)
    objects = _number(spec, "objects", o.get("objects", "4"), int)
    fps = _number(spec, "fps", o.get("fps", "30"), float)
    h, _, w = o.get("size", "240x320").lower().partition("x")
    size = (_number(spec, "size", h, int), _number(spec, "size", w or "?", int))
    frames = _number(spec, "frames", o["frames"], int) if "frames" in o else None
    if frames is not None and frames < 0:
        raise SourceError(f"frames must be >= 0, got {frames}", source=spec)
    key = (seed, objects, fps, size)
    if key not in scenes:
        scenes[key] = SyntheticScene(seed=seed, size=size, n_objects=objects, fps=fps)
    return SyntheticSource(
        scenes[key],
        modality,
        n_frames=frames,
        offset_s=_number(spec, "offset_ms", o.get("offset_ms", "0"), float) / 1000.0,
        name=o.get("name") or modality,
        pace=o.get("pace", "0").lower() in ("1", "true", "yes"),
    )


def open_source_spec(
    spec: str | int | os.PathLike[str],
    scenes: dict[tuple[Any, ...], SyntheticScene] | None = None,
) -> Source:
    """Open one source from a spec (see the module docstring).

    Args:
        spec: The spec.
        scenes: Cache shared by the specs of one pipeline, so that synthetic sensors of the same
            scene parameters view one scene object.

    Raises:
        SourceError: a malformed synthetic spec; SourceOpenError: a source that cannot be
            opened.
    """
    if isinstance(spec, int):
        return open_source(spec)
    s = os.fspath(spec)
    scheme, _, rest = s.partition(":")
    cache = {} if scenes is None else scenes
    if scheme.lower() == "synthetic":
        return _synthetic(s, "visible", rest, cache)
    if scheme.lower() == "synthetic-thermal":
        return _synthetic(s, "thermal", rest, cache)
    return open_source(s)


def open_sources(specs: Sequence[str | int | os.PathLike[str] | Source]) -> list[Source]:
    """Open every spec (Source objects pass through); on failure, close those already open.

    Raises:
        PipelineError: no source; SourceError: see :func:`open_source_spec`.
    """
    if not specs:
        raise PipelineError("at least one source is needed")
    scenes: dict[tuple[Any, ...], SyntheticScene] = {}
    out: list[Source] = []
    try:
        for spec in specs:
            out.append(spec if isinstance(spec, Source) else open_source_spec(spec, scenes))
    except BaseException:
        for src in out:
            src.close()
        raise
    return out


def resolve_rig(
    sources: Sequence[Source],
    calibration: RigCalibration | str | os.PathLike[str] | None = None,
) -> RigCalibration | None:
    """The rig calibration of the sources.

    Args:
        sources: The sources (the first is the primary sensor).
        calibration: A rig, or a calibration file (:meth:`RigCalibration.load`); None: derived
            from the scene when every source is a :class:`SyntheticSource` of one scene, else
            None.

    Raises:
        SensorCalibrationError: an unreadable or invalid file.
    """
    if isinstance(calibration, RigCalibration):
        return calibration
    if calibration is not None:
        return RigCalibration.load(calibration)
    synth = [s for s in sources if isinstance(s, SyntheticSource)]
    if len(synth) != len(sources) or len({id(s.scene) for s in synth}) != 1:
        return None
    scene = synth[0].scene
    # every sensor's pixels -> visible pixels, then into the primary sensor's frame
    to_visible = {
        s.name: np.eye(3) if s.modality == "visible" else np.linalg.inv(scene.homography)
        for s in synth
    }
    sizes = {s.name: scene.size if s.modality == "visible" else scene.thermal_size for s in synth}
    ref = synth[0].name
    back = np.linalg.inv(to_visible[ref])
    return RigCalibration.from_homographies(
        ref, sizes, {n: back @ h for n, h in to_visible.items() if n != ref}
    )


# ---------------------------------------------------------------------------- sinks
def open_sink_spec(spec: str | Sink, fps: float = 30.0) -> Sink:
    """Open one sink from a spec (see the module docstring; Sink objects pass through).

    Raises:
        SinkError: an unknown kind, a bad port or file.
    """
    if isinstance(spec, Sink):
        return spec
    kind, _, rest = spec.partition(":")
    kind = kind.lower()
    if kind == "window" and not rest:
        return WindowSink()
    if kind == "jsonl" and rest:
        return JsonLinesSink(sys.stdout if rest == "-" else rest)
    if kind == "video" and rest:
        codec = _VIDEO_CODECS.get(Path(rest).suffix.lower())
        if codec is None:
            raise SinkError(f"sink '{spec}': use a .avi (MJPG) or .mp4 (mp4v) file")
        return VideoFileSink(rest, fps=fps, fourcc=codec)
    if kind == "mjpeg" and rest:
        host, _, port = rest.rpartition(":")
        if not port.isdigit() or int(port) > 65535:
            raise SinkError(f"sink '{spec}': write mjpeg:PORT or mjpeg:HOST:PORT")
        return MjpegServerSink(host=host or "127.0.0.1", port=int(port))
    if kind in ("displayport", "hdmi_out"):
        # Imported on use: it reaches pynq, which only a board needs.
        from vision_pipeline.pynq_video import open_display_sink

        return open_display_sink(spec)
    raise SinkError(
        f"unknown sink '{spec}'; use video:PATH, jsonl:PATH, mjpeg:PORT, mjpeg:HOST:PORT, "
        "window, displayport[:WxH] or hdmi_out[:WxH]"
    )


# ---------------------------------------------------------------------------- models
def load_compiled(model: CompiledModel | str | os.PathLike[str]) -> CompiledModel:
    """A compiled model object, or one read from an ``.edm`` file.

    Raises:
        EdmError: the file cannot be read or is not a compiled model.
    """
    if isinstance(model, CompiledModel):
        return model
    return CompiledModel.load(model)


def default_decoder(model: CompiledModel, min_score: float | None = None) -> Decoder:
    """The decoder a compiled model's outputs call for.

    * ``heat`` and ``box`` outputs: :class:`~vision_pipeline.detector.HeatmapDecoder`
      (``synthdet``);
    * an output of shape ``[1, 1, N, 7]`` (a DetectionOutput layer):
      :class:`~vision_pipeline.postprocess.SSDDecoder` on its rows;
    * a single other output: classification top-5.

    Raises:
        PipelineError: the outputs fit none of these.
    """
    outs = list(model.outputs)
    if HEAT_BLOB in outs and BOX_BLOB in outs:
        return HeatmapDecoder(min_score=0.35 if min_score is None else min_score)
    rows = [o for o in outs if len(model.tensors[o].shape) == 4 and model.tensors[o].shape[3] == 7]
    if len(rows) == 1 and model.tensors[rows[0]].shape[:2] == (1, 1):
        return SSDDecoder(rows=rows[0], min_score=0.0 if min_score is None else min_score)
    if len(outs) == 1:
        return ClassifierDecoder(outs[0], k=5)
    raise PipelineError(
        f"model '{model.name}': no decoder for outputs {outs} (expected heat/box, a "
        "DetectionOutput or a single classifier output); pass decoder="
    )


def runner_factory_for(
    runner: str, sensors: int = 1, owned: list[Any] | None = None
) -> Callable[[CompiledModel], Any]:
    """The runner factory of a :data:`RUNNERS` name.

    * ``runtime``: :class:`arm_scheduler.Runtime` on the overlay (on a board) or on the
      process-wide emulated board (on a host). One runtime per model, shared by the sensors,
      with ``sensors`` in-flight slots: each sensor's backend reserves one and preprocesses
      straight into its DMA buffer (zero-copy inputs).
    * ``emulator``: :class:`edge_dnn.emulator.run.ModelRunner` per sensor, in the inference
      thread.
    * ``process``: :class:`~vision_pipeline.process_runner.ProcessRunner` per sensor (the
      emulator in a child process).

    Args:
        runner: The name.
        sensors: Sensors that run the model (the runtime's slots).
        owned: Runtimes made are appended here (so that they can be closed even when no
            backend was made with them).

    Raises:
        PipelineError: an unknown name.
    """
    if runner == "runtime":
        from arm_scheduler.runtime import Runtime

        made: dict[int, Runtime] = {}

        def shared_runtime(model: CompiledModel) -> Runtime:
            rt = made.get(id(model))
            if rt is None:
                rt = made[id(model)] = Runtime(model, max_in_flight=max(1, int(sensors)))
                if owned is not None:
                    owned.append(rt)
            return rt

        return shared_runtime
    if runner == "emulator":
        from edge_dnn.emulator.run import ModelRunner

        return ModelRunner
    if runner == "process":
        from vision_pipeline.process_runner import ProcessRunner

        return ProcessRunner
    raise PipelineError(f"runner must be one of {RUNNERS}, got {runner!r}")


def _sensor_model(
    model: CompiledModel,
    decoder: Decoder,
    runner_factory: Callable[[CompiledModel], Any],
    backends: list[CompiledBackend],
    runners: list[Any],
) -> SensorModel:
    runner = runner_factory(model)
    runners.append(runner)  # closed at the end even if the backend cannot be made
    backend = CompiledBackend(model, runner, close_runner=True)
    backends.append(backend)
    pre = Preprocessor.for_backend(backend.input_spec(), backend)
    return SensorModel(backend, pre, decoder)


class _ReleaseBackends(Sink):
    """Closes the pipeline's backends and their runners (processes, runtime threads and board
    buffers) when the pipeline closes its sinks at the end of the run; writes nothing."""

    name = "release-backends"

    def __init__(self, backends: list[CompiledBackend], runners: list[Any]) -> None:
        self.backends = backends  # filled after this sink is made: keep the list itself
        self.runners = runners

    def write(self, result: FrameResult) -> None:
        """Nothing to write."""

    def close(self) -> None:
        """Close every backend, then every runner (each at most once; the first error is raised
        after all were closed)."""
        backends, self.backends = self.backends, []
        runners, self.runners = self.runners, []
        first: BaseException | None = None
        for b in backends:
            try:
                b.close()
            except Exception as exc:
                first = first or exc
        for r in {id(r): r for r in runners}.values():  # a shared runtime once
            close = getattr(r, "close", None)
            try:
                if callable(close):
                    close()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first


# ---------------------------------------------------------------------------- the pipeline
def build_pipeline(
    model: CompiledModel | str | os.PathLike[str],
    sources: Sequence[str | int | os.PathLike[str] | Source],
    sinks: Sequence[str | Sink] = (),
    fusion: str | None = None,
    frames: int | None = None,
    calibration: RigCalibration | str | os.PathLike[str] | None = None,
    tolerance_ms: float = 20.0,
    min_score: float | None = None,
    decoder: Decoder | None = None,
    fusion_config: FusionConfig | None = None,
    track: bool = False,
    runner_factory: Callable[[CompiledModel], ModelRunnerLike] | None = None,
    config: PipelineConfig | None = None,
    on_result: Callable[[FrameResult], None] | None = None,
    runner: str = "runtime",
) -> Pipeline:
    """A pipeline running a compiled model over sources into sinks (see the module docstring).

    Args:
        model: The compiled model or its ``.edm`` file.
        sources: Source specs or objects; the first is the primary sensor (the frame the final
            detections are in). Several sources are synchronised by timestamp.
        sinks: Sink specs or objects.
        fusion: One of :data:`FUSION_MODES`; default ``wbf`` with several sources, else
            ``none``.
        frames: Stop after this many frame sets (None: the end of the primary source).
        calibration: Rig calibration (object or file) for fusion; see :func:`resolve_rig`.
        tolerance_ms: Timestamp tolerance of the synchronisation, milliseconds.
        min_score: Decoder threshold (default: the decoder's own).
        decoder: Decoder of the model outputs (default: :func:`default_decoder`).
        fusion_config: Fusion parameters (default: the mode's method, IoU 0.4 because projected
            boxes are slightly larger, class-agnostic so that a class disagreement between
            sensors does not duplicate an object).
        track: Assign track ids (:class:`~vision_pipeline.postprocess.IouTracker`).
        runner_factory: Makes the runner of each sensor's :class:`CompiledBackend`, e.g.
            :class:`~vision_pipeline.process_runner.ProcessRunner`; overrides ``runner``.
        config: Queue sizes, drop policy, deadlines.
        on_result: Called with every result (after the sinks).
        runner: One of :data:`RUNNERS` (see :func:`runner_factory_for`) when no
            ``runner_factory`` is given: ``runtime`` (default: :class:`arm_scheduler.Runtime`,
            on the overlay on a board, on the emulated board on a host, preprocessing straight
            into its DMA buffers), ``emulator`` or ``process``.

    The backends and runners (runtime threads and buffers, child processes) are closed when the
    pipeline closes its sinks at the end of the run (``PipelineConfig.close_sinks``, the
    default), or here if building fails.

    Returns:
        The pipeline (not started). It owns the sources and sinks: they are closed when it ends;
        if building fails, those opened here are closed.

    Raises:
        PipelineError: an unknown fusion mode, fusion without a second source or without a
            calibration; EdgeDnnError: a source, sink, model or calibration error.
    """
    if fusion is not None and fusion not in FUSION_MODES:
        raise PipelineError(f"fusion must be one of {FUSION_MODES}, got {fusion!r}")
    if frames is not None and frames < 0:
        raise PipelineError(f"frames must be >= 0, got {frames}")
    if runner not in RUNNERS:
        raise PipelineError(f"runner must be one of {RUNNERS}, got {runner!r}")
    srcs = open_sources(sources)
    opened: list[Sink] = []
    try:
        mode = fusion or ("wbf" if len(srcs) > 1 else "none")
        if mode in ("wbf", "nms", "confirm") and len(srcs) < 2:
            raise PipelineError(f"fusion '{mode}' needs at least two sources")
        cm = load_compiled(model)
        dec = decoder if decoder is not None else default_decoder(cm, min_score)
        sensors = [s.name for s in srcs]
        on = sensors[:1] if mode in ("confirm", "none") else sensors
        backends: list[CompiledBackend] = []
        runners: list[Any] = []
        # Last of the sinks (the others are inserted before it): releases the runners when the
        # pipeline ends, or below if building fails.
        opened.append(_ReleaseBackends(backends, runners))
        factory = runner_factory or runner_factory_for(runner, len(on), runners)
        models = {name: _sensor_model(cm, dec, factory, backends, runners) for name in on}
        stage: FusionStage | None = None
        if mode != "none":
            rig = resolve_rig(srcs, calibration)
            if rig is None:
                raise PipelineError(
                    f"fusion '{mode}' needs the rig calibration of sensors {sensors} "
                    "(calibration=FILE)"
                )
            method = "nms" if mode == "nms" else "wbf"
            cfg = fusion_config or FusionConfig(method=method, iou_threshold=0.4, class_aware=False)
            stage = FusionStage(
                rig,
                cfg,
                fuse=mode != "confirm",
                confirm_with=sensors[1] if mode == "confirm" else None,
            )
        fps = float(getattr(srcs[0], "fps", 30.0) or 30.0)
        for spec in sinks:
            opened.insert(len(opened) - 1, open_sink_spec(spec, fps=fps))
        source: Source | Synchronizer = (
            srcs[0]
            if len(srcs) == 1
            else Synchronizer(srcs[0], srcs[1:], tolerance_ms=tolerance_ms, require_all=False)
        )
        return Pipeline(
            source,
            models,
            fusion=stage,
            tracker=IouTracker(class_aware=False) if track else None,
            sinks=opened,
            config=config,
            on_result=on_result,
            max_frames=frames,
        )
    except BaseException:
        for src in srcs:
            src.close()
        for sink in opened:
            _close_quietly(sink)
        raise


def _close_quietly(sink: Sink) -> None:
    with contextlib.suppress(EdgeDnnError, OSError):
        sink.close()
