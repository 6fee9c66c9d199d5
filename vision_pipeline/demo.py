"""``edge-dnn demo``: the main job end to end, on defaults that fit an embedded target.

What :func:`run_demo` does, printing every step with its wall time:

1. **Compile** the project's own trained networks for the overlay into ``DIR/models/*.edm``:
   ``synthdet`` (the detector, :mod:`vision_pipeline.detector`; one model serves both sensors,
   it was trained on both) calibrated on rendered two-sensor scenes
   (:func:`vision_pipeline.train_detector.make_samples`, scene seeds that are neither the clip's
   nor the training set's), and ``digits`` (:mod:`edge_dnn.train.digits`) calibrated on digit
   glyphs rendered here (:func:`render_digit_glyphs`). Each written ``.edm`` is loaded back and
   run on :class:`arm_scheduler.Runtime` over fresh samples, and its outputs are compared bit
   for bit with the integer reference stored in the model; ``digits`` is also scored against
   its held-out images when scikit-learn (the data set's source) is installed.
2. **Run** a deterministic two-sensor synthetic clip (:class:`~vision_pipeline.sources.
   SyntheticScene`: a visible 240x320 camera and a thermal 120x160 camera 4 ms apart, ground
   truth per frame) through the threaded pipeline (:func:`vision_pipeline.app.build_pipeline`):
   ``synthdet`` runs on both sensors through :class:`arm_scheduler.Runtime` (the emulated board
   behind pynq's drivers on a host, the real overlay on a board), then weighted box fusion
   into the visible frame.
3. **Write** ``annotated.mp4`` (``.avi`` when OpenCV cannot write MPEG-4), ``results.jsonl``
   (one line per frame set), ``metrics.json`` (precision / recall / F1 per sensor and fused
   against the ground truth, :mod:`vision_pipeline.evaluation`) and ``performance.md`` /
   ``performance.json``: the performance model's per-layer table of each compiled model
   (labeled *modeled*) and the speed of this run (labeled *measured* on this host).
4. **Summarise**: the figures and where the files are.

Example::

    from vision_pipeline.demo import run_demo

    result = run_demo("edge-dnn-demo", frames=100)
    print(result.files["metrics"], result.metrics["fused"]["f1"])

Importing this module is cheap (the command line imports it for every ``edge-dnn`` command):
OpenCV, pynq and the pipeline are imported when the demo runs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_dnn.errors import EdgeDnnError, InputError

if TYPE_CHECKING:
    from edge_dnn.compiler.model import CompiledModel

__all__ = [
    "DEFAULT_FRAMES",
    "DEFAULT_OUT",
    "DEFAULT_SEED",
    "DemoResult",
    "cmd_demo",
    "register",
    "render_digit_glyphs",
    "run_demo",
]

DEFAULT_OUT = "edge-dnn-demo"
"""Output folder of the command (relative to the current directory)."""
DEFAULT_FRAMES = 300
"""Frame sets of the clip: 10 s at 30 frames per second."""
DEFAULT_SEED = 11
"""Scene seed of the clip (the first evaluation clip of ``tests/e2e``; neither the detector's
training scenes, 100000.., nor its calibration scenes)."""
OBJECTS = 6
"""Moving objects in the clip."""
THERMAL_OFFSET_S = 0.004
"""The thermal camera's frames are taken 4 ms after the visible camera's."""
TOLERANCE_MS = 10.0
"""Synchronisation tolerance between the two cameras."""
FUSION = "wbf"
DETECTOR_CALIB_SEEDS = 310_000
"""First scene seed of the detector's calibration scenes (8 scenes, both sensors)."""
DETECTOR_CHECK_SEEDS = 320_000
"""First scene seed of the frames the compiled detector is checked on."""
DIGITS_CALIB = 200
DIGITS_CHECK = 50
BOARDS = ("auto", "emulated")

Log = Callable[[str], None]


# ---------------------------------------------------------------------------- digit glyphs
_GLYPH_CANVAS = 64
_GLYPH_BITMAP = 32  # the digits data set: 32x32 bitmaps, 4x4 blocks counted into 8x8 levels


def render_digit_glyphs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Render ``n`` digits in the form of the bundled ``digits`` network's input.

    Each digit (labels cycle through 0..9) is drawn with an OpenCV Hershey font (chosen, with
    stroke width, size and a small shift, by ``np.random.default_rng(seed)``), its bounding box
    centred in a square, reduced to a 32x32 binary bitmap, and the set pixels of every 4x4 block
    counted: levels 0..16 on an 8x8 grid, as in the handwritten-digit data set the network was
    trained on; the network input is ``level / 16``.

    Args:
        n: Number of images (>= 1).
        seed: Seed of the random choices.

    Returns:
        ``(x, y)``: float32 ``[n, 1, 8, 8]`` (NCHW) in [0, 1], and int64 labels ``[n]``.

    Raises:
        InputError: ``n < 1``.
    """
    import cv2

    if n < 1:
        raise InputError(f"render_digit_glyphs: n must be >= 1, got {n}")
    fonts = (
        cv2.FONT_HERSHEY_SIMPLEX,
        cv2.FONT_HERSHEY_DUPLEX,
        cv2.FONT_HERSHEY_COMPLEX,
        cv2.FONT_HERSHEY_TRIPLEX,
        cv2.FONT_HERSHEY_PLAIN,
        cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    )
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int64) % 10
    x = np.empty((n, 1, 8, 8), dtype=np.float32)
    c = _GLYPH_CANVAS
    for i, digit in enumerate(labels.tolist()):  # one image at a time: a few OpenCV calls each
        font = fonts[int(rng.integers(len(fonts)))]
        thick = int(rng.integers(2, 5))
        (_, th), base = cv2.getTextSize(str(digit), font, 1.0, thick)
        scale = 40.0 / max(th + base, 1) * float(rng.uniform(0.8, 1.0))
        (tw, th), _ = cv2.getTextSize(str(digit), font, scale, thick)
        org = ((c - tw) // 2 + int(rng.integers(-2, 3)), (c + th) // 2 + int(rng.integers(-2, 3)))
        canvas = np.zeros((c, c), dtype=np.uint8)
        cv2.putText(canvas, str(digit), org, font, scale, (255,), thick, cv2.LINE_AA)
        ys, xs = np.nonzero(canvas > 127)
        crop = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        h, w = crop.shape
        side = max(h, w)
        square = np.zeros((side, side), dtype=np.uint8)
        square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = crop
        b = _GLYPH_BITMAP
        bitmap = cv2.resize(square, (b, b), interpolation=cv2.INTER_AREA) > 127
        levels = bitmap.reshape(8, b // 8, 8, b // 8).sum(axis=(1, 3))
        x[i, 0] = levels.astype(np.float32) / 16.0
    return x, labels


# ---------------------------------------------------------------------------- result
@dataclasses.dataclass
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes:
        out_dir: The output folder.
        files: ``models`` (folder), ``synthdet``, ``digits`` (the ``.edm`` files), ``video``,
            ``results``, ``metrics``, ``performance_md``, ``performance_json`` -> path.
        frames: Frame sets that went through the pipeline.
        metrics: The contents of ``metrics.json``.
        performance: The contents of ``performance.json``.
        timings: Step -> wall seconds (``compile``, ``clip``, ``write``, ``total``).
        board: Where the networks ran (``emulated board (host)`` or the board's overlay).
        interrupted: The clip was cut short by Ctrl-C (the files hold the frames processed).
    """

    out_dir: Path
    files: dict[str, Path]
    frames: int
    metrics: dict[str, Any]
    performance: dict[str, Any]
    timings: dict[str, float]
    board: str
    interrupted: bool = False


# ---------------------------------------------------------------------------- helpers
class _TimedRunner:
    """A :class:`~vision_pipeline.backends.ModelRunnerLike` around a board runtime that
    measures the wall time of every inference (seconds, host clock)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.seconds: list[float] = []
        self._lock = threading.Lock()

    def run(self, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        out: dict[str, np.ndarray] = self.runtime.run(feeds, raw=raw)
        dt = time.perf_counter() - t0
        with self._lock:
            self.seconds.append(dt)
        return out

    # The prepared-run protocol (vision_pipeline.backends.PreparedRunnerLike), forwarded so the
    # pipeline's preprocessing still writes straight into the runtime's DMA buffer.
    def acquire_slot(self, timeout: float = 60.0) -> int:
        slot: int = self.runtime.acquire_slot(timeout=timeout)
        return slot

    def release_slot(self, slot: int) -> None:
        self.runtime.release_slot(slot)

    def input_buffer(self, name: str, slot: int) -> np.ndarray:
        buf: np.ndarray = self.runtime.input_buffer(name, slot)
        return buf

    def run_prepared(
        self, slot: int, raw: bool = False, timeout: float = 60.0
    ) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        out: dict[str, np.ndarray] = self.runtime.run_prepared(slot, raw=raw, timeout=timeout)
        dt = time.perf_counter() - t0
        with self._lock:
            self.seconds.append(dt)
        return out

    def close(self) -> None:
        self.runtime.close()


def _latency(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"inferences": 0}
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    return {
        "inferences": int(ms.size),
        "mean_ms": round(float(ms.mean()), 3),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


@contextlib.contextmanager
def _step(log: Log, label: str, timings: dict[str, float], key: str) -> Iterator[None]:
    log(label)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = time.perf_counter() - t0
    log(f"      ({timings[key]:.1f} s)")


def _quantize_compile(graph: Any, calib: np.ndarray, overlay: str, preprocess: Any) -> Any:
    from edge_dnn.compiler import compile_model
    from edge_dnn.quant.quantizer import QuantizationWarning, quantize

    with warnings.catch_warnings():
        # KL calibration warns about layers it clips hard; expected for these small sets.
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(graph, {next(iter(graph.inputs)): calib}, method="kl", progress=False)
    return compile_model(qg, overlay, preprocess=preprocess)


def _video_path(out_dir: Path) -> Path:
    """``annotated.mp4`` when this OpenCV can write MPEG-4 (``mp4v``), else ``annotated.avi``
    (MJPG, built into every OpenCV)."""
    import cv2

    probe = out_dir / ".codec-probe.mp4"
    ok = False
    try:
        w = cv2.VideoWriter(str(probe), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (64, 48))
        ok = bool(w.isOpened())
        if ok:
            w.write(np.zeros((48, 64, 3), dtype=np.uint8))
        w.release()
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return out_dir / ("annotated.mp4" if ok else "annotated.avi")


def _device(board: str) -> Any:
    """The device every runtime of the demo uses: None on a PYNQ board with ``auto``
    (:class:`arm_scheduler.Runtime` loads the board's overlay), else a fresh emulated board of
    the demo's own, so that its overlay is the one the demo compiles for whatever other
    emulated boards this process uses (its DDR array is committed lazily, page by page)."""
    from arm_scheduler.pynq_api import real_board_present

    if board == "auto" and real_board_present():
        return None
    from arm_scheduler.emulated.device import EmulatedDevice

    return EmulatedDevice()


def _bit_exact(model: CompiledModel, runner: _TimedRunner, x: np.ndarray) -> dict[str, Any]:
    """Run ``x`` (one sample at a time) on the runtime; compare the raw outputs with the
    integer reference stored in the model."""
    name = model.inputs[0]
    got = [runner.run({name: x[i : i + 1]}, raw=True) for i in range(len(x))]
    if model.reference is None:
        return {"samples": len(x), "bit_exact": None, "note": "model has no integer reference"}
    want = model.reference.run({name: x}, outputs=list(model.outputs), raw=True)
    same = sum(
        all(np.array_equal(g[o][0], want[o][i]) for o in model.outputs) for i, g in enumerate(got)
    )
    return {"samples": len(x), "bit_exact": same == len(x), "matching_samples": int(same)}


def _checks_line(checks: Mapping[str, Mapping[str, Any]], heldout: Mapping[str, Any]) -> str:
    parts = []
    for name, c in checks.items():
        if c.get("bit_exact") is None:
            parts.append(f"{name}: not checked ({c.get('note', '')})")
        else:
            verdict = "bit-exact" if c["bit_exact"] else "DIFFERENT"
            parts.append(
                f"{name} {verdict} with the integer reference "
                f"({c['matching_samples']}/{c['samples']} samples)"
            )
    if "board_accuracy" in heldout:
        parts.append(
            f"digits held-out accuracy {heldout['board_accuracy']:.3f} "
            f"(float {heldout['float_accuracy']:.3f})"
        )
    return "; ".join(parts)


def _describe_steps(model: CompiledModel) -> str:
    e, a = len(model.engine_steps), len(model.arm_steps)
    return f"{e} engine run(s)" + (f" + {a} ARM layer(s)" if a else "")


# ---------------------------------------------------------------------------- the demo
def run_demo(
    out_dir: str | os.PathLike[str] = DEFAULT_OUT,
    frames: int = DEFAULT_FRAMES,
    overlay: str = "zcu104",
    board: str = "auto",
    seed: int = DEFAULT_SEED,
    log: Log | None = print,
) -> DemoResult:
    """Run the demo (see the module docstring) and write its files into ``out_dir``.

    Args:
        out_dir: Output folder (created; existing demo files in it are overwritten).
        frames: Frame sets of the two-sensor clip (30 per second of video).
        overlay: Overlay name or ``overlay.toml`` path the models are compiled for.
        board: ``auto``: the board's overlay when run on a PYNQ board, else the emulated board;
            ``emulated``: the emulated board even on a board.
        seed: Scene seed of the synthetic clip (the clip is deterministic for a seed).
        log: Receives the progress lines (None: silent).

    Returns:
        The files, metrics, performance figures and step timings.

    Raises:
        InputError: bad arguments or an unwritable output folder; EdgeDnnError: any SDK error
            (compilation, board, pipeline). KeyboardInterrupt outside the clip propagates after
            every runtime was closed; during the clip it ends the clip early (the result says
            ``interrupted``).
    """
    say: Log = log if log is not None else (lambda _s: None)
    if frames < 1:
        raise InputError(f"demo: frames must be >= 1, got {frames}")
    if board not in BOARDS:
        raise InputError(f"demo: board must be one of {BOARDS}, got {board!r}")
    out = Path(out_dir)
    models_dir = out / "models"
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"demo: cannot create {models_dir}: {exc.strerror or exc}") from None

    # Heavy imports here: the command line imports this module for every command.
    from arm_scheduler import Runtime
    from edge_dnn.caffe.importer import load_caffe
    from edge_dnn.compiler import load_model
    from edge_dnn.perf import profile_model
    from edge_dnn.quant.calib_data import Preprocess
    from edge_dnn.train import digits as digits_net
    from edge_dnn.zoo import model_files, zoo_path
    from vision_pipeline.app import build_pipeline
    from vision_pipeline.detector import PREPROCESS, load_synthdet
    from vision_pipeline.evaluation import FINAL, DetectionEvaluator
    from vision_pipeline.sources import SyntheticScene, SyntheticSource
    from vision_pipeline.train_detector import make_samples

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    device = _device(board)
    files: dict[str, Path] = {"models": models_dir}
    runners: list[_TimedRunner] = []

    def runtime(model: Any) -> _TimedRunner:
        r = _TimedRunner(Runtime(model, device))
        runners.append(r)
        return r

    try:
        # ---------------------------------------------------------------- 1. compile
        say(f"edge-dnn demo: overlay {overlay}, {frames} frame sets of a two-sensor clip -> {out}")
        checks: dict[str, dict[str, Any]] = {}
        with _step(
            say,
            "[1/4] compile the bundled networks and check them on the runtime",
            timings,
            "compile",
        ):
            t0 = time.perf_counter()
            calib = make_samples(DETECTOR_CALIB_SEEDS, 8, 0).x
            det = _quantize_compile(load_synthdet(), calib, overlay, PREPROCESS)
            files["synthdet"] = models_dir / "synthdet.edm"
            det.save(files["synthdet"])
            say(
                f"      synthdet: KL calibration on {len(calib)} rendered frames (visible + "
                f"thermal), {_describe_steps(det)} -> {files['synthdet']}  "
                f"({time.perf_counter() - t0:.1f} s)"
            )

            t0 = time.perf_counter()
            gx, _ = render_digit_glyphs(DIGITS_CALIB, seed=0)
            proto, weights = model_files("digits")
            dg = _quantize_compile(
                load_caffe(proto, weights), gx, overlay, Preprocess(scale=digits_net.INPUT_SCALE)
            )
            files["digits"] = models_dir / "digits.edm"
            dg.save(files["digits"])
            say(
                f"      digits:   KL calibration on {len(gx)} rendered digit glyphs, "
                f"{_describe_steps(dg)} -> {files['digits']}  ({time.perf_counter() - t0:.1f} s)"
            )

            # The written files are what gets checked and run from here on.
            det, dg = load_model(files["synthdet"]), load_model(files["digits"])
            t0 = time.perf_counter()
            r = runtime(det)
            board_name = "emulated board (host)" if r.runtime.emulated else f"{overlay} overlay"
            checks["synthdet"] = _bit_exact(det, r, make_samples(DETECTOR_CHECK_SEEDS, 4, 0).x)
            r.close()
            r = runtime(dg)
            cx, _ = render_digit_glyphs(DIGITS_CHECK, seed=1)
            checks["digits"] = _bit_exact(dg, r, cx)
            heldout = _digits_heldout(dg, r, digits_net, zoo_path("digits"))
            r.close()
            say(
                f"      on the runtime ({board_name}): {_checks_line(checks, heldout)}  "
                f"({time.perf_counter() - t0:.1f} s)"
            )

        # ---------------------------------------------------------------- 2. the clip
        video = _video_path(out)
        files["video"] = video
        files["results"] = out / "results.jsonl"
        scene = SyntheticScene(seed=seed, n_objects=OBJECTS)
        rig = scene.calibration()
        sources = [
            SyntheticSource(scene, "visible", n_frames=frames),
            SyntheticSource(scene, "thermal", n_frames=frames, offset_s=THERMAL_OFFSET_S),
        ]
        evaluator = DetectionEvaluator(rig)
        shared: dict[int, _TimedRunner] = {}

        def sensor_runner(model: CompiledModel) -> _TimedRunner:
            # Both sensors run the same compiled model, one after the other in the inference
            # stage: one runtime (one set of board buffers, one overlay load on a board).
            if id(model) not in shared:
                shared[id(model)] = runtime(model)
            return shared[id(model)]

        with _step(
            say,
            f"[2/4] two-sensor clip (scene seed {seed}: visible {scene.size[0]}x{scene.size[1]}"
            f" + thermal {scene.thermal_size[0]}x{scene.thermal_size[1]}, {frames} frame sets)"
            f": synthdet on both sensors through the runtime, {FUSION} fusion",
            timings,
            "clip",
        ):
            stats = build_pipeline(
                files["synthdet"],
                sources,
                sinks=[f"video:{video}", f"jsonl:{files['results']}"],
                fusion=FUSION,
                calibration=rig,
                tolerance_ms=TOLERANCE_MS,
                runner_factory=sensor_runner,
                on_result=evaluator,
            ).run()
            say(
                f"      {stats.frames_out} frame sets, {stats.fps:.1f} frame sets/s -> {video}, "
                f"{files['results']}" + ("; INTERRUPTED (Ctrl-C)" if stats.interrupted else "")
            )
        clip_runner = next(iter(shared.values()), None)

        # ---------------------------------------------------------------- 3. write
        with _step(say, "[3/4] write metrics and the performance report", timings, "write"):
            metrics = _metrics(evaluator, FINAL, seed, stats.frames_out, scene, checks, heldout)
            files["metrics"] = out / "metrics.json"
            _write_json(files["metrics"], metrics)
            profiles = {m.name: profile_model(m) for m in (det, dg)}
            perf = _performance(profiles, stats, clip_runner, runners, board_name, overlay)
            files["performance_json"] = out / "performance.json"
            _write_json(files["performance_json"], perf)
            files["performance_md"] = out / "performance.md"
            _write_text(files["performance_md"], _performance_md(perf, profiles))
    finally:
        for r in runners:
            r.close()  # idempotent; releases threads and board buffers on any exit
    timings["total"] = time.perf_counter() - t_start

    # -------------------------------------------------------------------- 4. summary
    result = DemoResult(
        out_dir=out,
        files=files,
        frames=stats.frames_out,
        metrics=metrics,
        performance=perf,
        timings=timings,
        board=board_name,
        interrupted=stats.interrupted,
    )
    say("[4/4] summary")
    for line in _summary(result):
        say("      " + line)
    return result


def _digits_heldout(
    model: CompiledModel, runner: _TimedRunner, digits_net: Any, model_dir: Path
) -> dict[str, Any]:
    """Accuracy of ``digits`` on the runtime over its held-out images (needs scikit-learn, the
    data set's source; skipped without it)."""
    try:
        x, y = digits_net.heldout_set(model_dir)
    except EdgeDnnError as exc:
        return {"skipped": str(exc)}
    name = model.inputs[0]
    out = model.outputs[0]
    pred = np.asarray(
        [int(np.argmax(runner.run({name: x[i : i + 1]})[out])) for i in range(len(x))]
    )
    recorded = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    return {
        "images": len(x),
        "board_accuracy": round(float(np.mean(pred == y)), 4),
        "float_accuracy": round(float(recorded.get("float_test_accuracy", float("nan"))), 4),
    }


def _metrics(
    evaluator: Any,
    final: str,
    seed: int,
    frames: int,
    scene: Any,
    checks: Mapping[str, Any],
    heldout: Mapping[str, Any],
) -> dict[str, Any]:
    summary = evaluator.summary()
    sensors = {k: v for k, v in summary.items() if k != final}
    best = max(sensors, key=lambda k: sensors[k]["f1"]) if sensors else None
    fused = summary.get(final)
    return {
        "clip": {
            "scene_seed": seed,
            "frame_sets": frames,
            "evaluated_frame_sets": evaluator.frames,
            "objects": OBJECTS,
            "visible_size_hw": list(scene.size),
            "thermal_size_hw": list(scene.thermal_size),
            "thermal_offset_ms": THERMAL_OFFSET_S * 1e3,
        },
        "matching": (
            "class-aware, IoU >= 0.5, in the visible frame (thermal detections projected through "
            "the rig calibration), against the objects at least one sensor can detect"
        ),
        "fusion": FUSION,
        "sensors": sensors,
        "fused": fused,
        "best_single_sensor": best,
        "fused_f1_minus_best_single": (
            None if fused is None or best is None else round(fused["f1"] - sensors[best]["f1"], 4)
        ),
        "runtime_checks": dict(checks),
        "digits_heldout": dict(heldout),
    }


def _host() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _performance(
    profiles: Mapping[str, Any],
    stats: Any,
    clip_runner: _TimedRunner | None,
    runners: list[_TimedRunner],
    board_name: str,
    overlay: str,
) -> dict[str, Any]:
    modeled = {}
    for name, prof in profiles.items():
        d = prof.as_dict()
        modeled[name] = d
    per_model: dict[str, Any] = {}
    for r in runners:
        name = r.runtime.model.name
        entry = per_model.setdefault(name, {"seconds": []})
        entry["seconds"] += r.seconds
        entry["steps"] = r.runtime.profile()  # the last runtime: the clip's for synthdet
    where = "host" if "emulated" in board_name else "board"
    measured_models = {
        name: {
            **_latency(e["seconds"]),
            "runtime_steps_last_runtime": e["steps"],
        }
        for name, e in per_model.items()
    }
    return {
        "overlay": overlay,
        "modeled": {
            "label": (
                "MODELED board figures (edge_dnn.perf performance model of the compiled command "
                f"streams on overlay {overlay}); not measurements"
            ),
            "models": modeled,
        },
        "measured": {
            "label": f"MEASURED on this {where} ({board_name}); wall-clock times",
            "where": where,
            "board": board_name,
            "host": _host(),
            "pipeline": {
                "frame_sets": stats.frames_out,
                "inferences_per_frame_set": 2,
                "frame_sets_per_s": round(stats.fps, 3),
                "elapsed_s": round(stats.elapsed_s, 3),
                "stages": {k: v.to_dict() for k, v in stats.stages.items()},
                "interrupted": stats.interrupted,
            },
            "clip_inference": None if clip_runner is None else _latency(clip_runner.seconds),
            "models": measured_models,
            "notes": (
                "ms per inference: Runtime.run wall time (quantize input, DMA/engine/ARM steps, "
                "read outputs). runtime_steps: arm_scheduler.Runtime.profile() of the model's "
                "last runtime; its board_ms is the emulated board's simulated clock (modeled), "
                "wall_ms and overhead_us are measured"
            ),
        },
    }


def _performance_md(perf: Mapping[str, Any], profiles: Mapping[str, Any]) -> str:
    mod = perf["modeled"]["models"]
    meas = perf["measured"]
    lines = [
        "# edge-dnn demo: performance",
        "",
        "Two kinds of figures, never mixed:",
        "",
        f"* **MODELED** board figures for overlay `{perf['overlay']}`: the performance model "
        "(`edge_dnn.perf`) applied to each compiled model's command streams. Not measured.",
        f"* **MEASURED** wall-clock figures of this run on this {meas['where']} "
        f"({meas['host']['machine']}, {meas['host']['cpu_count']} CPU(s), Python "
        f"{meas['host']['python']}), the networks running on the {meas['board']}.",
        "",
        "## Modeled board performance (per network, batch 1)",
        "",
        "| network | latency (ms) | fps batch-1 | fps streamed | engine (ms) | ARM (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, d in mod.items():
        t = d["totals"]
        lines.append(
            f"| {name} | {t['latency_ms']:.3f} | {t['fps_batch1']:.0f} | {t['fps_stream']:.0f} "
            f"| {t['engine_ms']:.3f} | {t['arm_ms']:.3f} |"
        )
    for name, prof in profiles.items():
        lines += ["", f"### {name}: modeled per layer", "", "```text", prof.format(), "```"]
    p = meas["pipeline"]
    lines += [
        "",
        f"## Measured on this {meas['where']} ({meas['board']})",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| two-sensor pipeline, frame sets/s ({p['frame_sets']} sets, 2 inferences each) "
        f"| {p['frame_sets_per_s']:.1f} |",
    ]
    total = p["stages"].get("total")
    if total:
        lines.append(
            "| pipeline latency p50 / p99, end of capture to sinks incl. queueing (ms) "
            f"| {total['p50_ms']:.1f} / {total['p99_ms']:.1f} |"
        )
    ci = meas["clip_inference"]
    if ci and ci.get("inferences"):
        lines.append(
            f"| synthdet in the pipeline, ms per inference (mean / p50, {ci['inferences']} runs) "
            f"| {ci['mean_ms']:.2f} / {ci['p50_ms']:.2f} |"
        )
    for name, m in meas["models"].items():
        if m.get("inferences"):
            lines.append(
                f"| {name}, ms per inference, all runs (mean / p50, {m['inferences']} runs) "
                f"| {m['mean_ms']:.2f} / {m['p50_ms']:.2f} |"
            )
    lines += ["", meas["notes"] + ".", ""]
    return "\n".join(lines)


def _write_json(path: Path, doc: Any) -> None:
    _write_text(path, json.dumps(doc, indent=1) + "\n")


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"demo: cannot write {path}: {exc.strerror or exc}") from None


def _summary(r: DemoResult) -> list[str]:
    m = r.metrics
    lines = []
    for k, c in {**m["sensors"], "fused": m["fused"]}.items():
        if c is not None:
            lines.append(
                f"{k + ' alone' if k != 'fused' else 'fused (' + FUSION + ')':<16} precision "
                f"{c['precision']:.3f}  recall {c['recall']:.3f}  F1 {c['f1']:.3f}"
            )
    pm = r.performance["modeled"]["models"]
    lines.append(
        "modeled on the board: "
        + ", ".join(
            f"{k} {d['totals']['latency_ms']:.3f} ms ({d['totals']['fps_stream']:.0f} fps)"
            for k, d in pm.items()
        )
    )
    p = r.performance["measured"]["pipeline"]
    ci = r.performance["measured"]["clip_inference"] or {}
    lines.append(
        f"measured here ({r.board}): {p['frame_sets_per_s']:.1f} frame sets/s"
        + (f", {ci['mean_ms']:.1f} ms per synthdet inference" if ci.get("inferences") else "")
    )
    lines.append(
        f"done in {r.timings['total']:.1f} s" + (" (interrupted)" if r.interrupted else "")
    )
    width = max(len(k) for k in r.files)
    for key in ("video", "results", "metrics", "performance_md", "performance_json", "models"):
        lines.append(f"{key:<{width}}  {r.files[key]}")
    return lines


# ---------------------------------------------------------------------------- command line
def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` sub-command to the ``edge-dnn`` parser (entry point
    ``demo = "vision_pipeline.demo:register"`` of the ``edge_dnn.commands`` group)."""
    p = sub.add_parser(
        "demo",
        help="compile the bundled networks and run the two-sensor pipeline on the board "
        "(emulated on a host); writes video, results, metrics and a performance report",
        description="Compile edge-dnn's own trained networks, run a synthetic two-sensor clip "
        "through the pipeline on the board runtime (the emulated board on a host), and write "
        "the annotated video, JSON results, metrics against ground truth and a performance "
        "report (modeled board figures, measured host speed).",
    )
    p.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (./{DEFAULT_OUT})"
    )
    p.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        metavar="N",
        help=f"frame sets of the clip, 30 per second ({DEFAULT_FRAMES})",
    )
    p.add_argument("--overlay", default="zcu104", help="overlay to compile for (zcu104)")
    p.add_argument(
        "--board",
        choices=BOARDS,
        default="auto",
        help="auto: the real overlay on a PYNQ board, else the emulated board; emulated: "
        "always the emulated board (auto)",
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"scene seed of the clip ({DEFAULT_SEED})"
    )
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the ``demo`` sub-command; 130 after Ctrl-C (files written for the frames done)."""
    try:
        result = run_demo(
            args.out,
            frames=args.frames,
            overlay=args.overlay,
            board=args.board,
            seed=args.seed,
            log=lambda s: print(s, flush=True),
        )
    except KeyboardInterrupt:
        print("edge-dnn demo: interrupted", file=sys.stderr)
        return 130
    return 130 if result.interrupted else 0
