"""Pipelined throughput of the vision pipeline against its slowest stage run alone.

The workload is the two-sensor demo: a synthetic scene seen by a visible and a thermal camera
(synchronised), the bundled ``synthdet`` detector compiled for an overlay and run for each
sensor, heat-map decoding, weighted box fusion and a JSON-lines sink.

Each stage's work is first timed alone, in one thread, on the same frames: capture (render and
synchronise), infer (preprocess into the input buffer and run the model, both sensors), post
(decode and fuse) and sink (serialise a result). The threaded pipeline then runs the same clip
losslessly; its throughput over the slowest stage's standalone throughput is the efficiency of
the pipelining (target >= 0.9). Several rounds alternate the two measurements (the median is
reported: other processes on the machine disturb single runs).

Workloads (the inference stage differs):

* ``emulated``: the emulated board computes in the inference thread. It holds the interpreter
  lock most of the time, as the synthetic renderer of the capture stage does, so the stages
  mostly take turns: this measures the GIL more than the pipeline.
* ``process``: the emulated board in a child process per sensor
  (:class:`~vision_pipeline.process_runner.ProcessRunner`); the inference thread waits on a pipe.
* ``board``: frames replayed from memory and a runner that waits as long as the emulated run
  takes without holding the lock (:class:`BoardLike`), as the ARM waits for the engine's DMA on
  the board: the pipeline's own overhead (threads, queues, hand-offs).

Usage: PYTHONPATH=. python benchmarks/bench_pipeline.py [--frames 60] [--rounds 3]
    [--workload emulated|process|board|all] [--overlay zcu104]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.emulator.run import ModelRunner
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from vision_pipeline.app import build_pipeline
from vision_pipeline.backends import ModelRunnerLike
from vision_pipeline.detector import PREPROCESS, load_synthdet
from vision_pipeline.fusion import FusionStage
from vision_pipeline.pipeline import STAGES, Pipeline, PipelineConfig, PipelineStats
from vision_pipeline.preprocess import Geometry, InputSpec, Preprocessor
from vision_pipeline.process_runner import ProcessRunner
from vision_pipeline.sinks import FrameResult, JsonLinesSink
from vision_pipeline.sources import Frame, Source, SyntheticScene, SyntheticSource
from vision_pipeline.sync import FrameSet, Synchronizer


def compiled_detector(overlay: str) -> CompiledModel:
    """synthdet quantized on a few synthetic frames of both sensors and compiled."""
    scene = SyntheticScene(seed=77, n_objects=5)
    spec = InputSpec("data", (1, 3, 96, 128), PREPROCESS)
    pre = Preprocessor(spec, np.zeros((1, 3, 96, 128), np.float32))
    xs = []
    for k in range(4):
        for mod in ("visible", "thermal"):
            pre(scene.render(mod, k * 0.5, k)[0])
            xs.append(pre.buffer.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(load_synthdet(), {"data": np.concatenate(xs)}, progress=False)
    return compile_model(qg, overlay, preprocess=PREPROCESS)


class Replay(Source):
    """Frames already in memory, handed over in order (as a camera driver hands its buffers):
    capture costs next to nothing, so the other stages run alone on the CPU."""

    def __init__(self, frames: list[Frame], name: str) -> None:
        self.frames = frames
        self.name = name
        self.fps = 30.0
        self._k = 0

    def read(self) -> Frame | None:
        if self._k >= len(self.frames):
            return None
        self._k += 1
        return self.frames[self._k - 1]

    def close(self) -> None:
        self._k = len(self.frames)


class BoardLike:
    """A runner that behaves like the real board: the engine computes while the calling thread
    waits (``time.sleep``, not holding the GIL, as the ARM waits for a DMA completion).

    Outputs come from the emulated board: computed on first sight of an input (timed, giving
    the wait), replayed from the cache afterwards after waiting the mean emulated run time, so
    the inference stage lasts as long as on the emulator but leaves the CPU to the others.
    """

    cache: ClassVar[dict[bytes, dict[str, np.ndarray]]] = {}
    spent: ClassVar[list[float]] = []

    def __init__(self, model: CompiledModel) -> None:
        self.inner = ModelRunner(model)

    def run(self, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
        key = hashlib.sha1(b"".join(v.tobytes() for v in feeds.values())).digest()
        out = self.cache.get(key)
        if out is None:
            t0 = time.perf_counter()
            out = self.cache[key] = self.inner.run(feeds, raw=raw)
            self.spent.append(time.perf_counter() - t0)
        else:
            time.sleep(statistics.mean(self.spent))
        return {k: v.copy() for k, v in out.items()}


SCENE = SyntheticScene(seed=5, n_objects=6)
_RENDERED: dict[int, list[list[Frame]]] = {}


def sources(n: int, replay: bool) -> list[Source]:
    """The visible and thermal sensors: rendered on the fly, or replayed from memory."""
    synth: list[Source] = [
        SyntheticSource(SCENE, "visible", n_frames=n),
        SyntheticSource(SCENE, "thermal", n_frames=n, offset_s=0.003),
    ]
    if not replay:
        return synth
    if n not in _RENDERED:
        _RENDERED[n] = [list(s) for s in synth]
    return [Replay(f, s.name) for f, s in zip(_RENDERED[n], synth)]


WORKLOADS = ("emulated", "process", "board")


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--frames", type=int, default=60, help="frame sets in the clip")
    ap.add_argument("--rounds", type=int, default=3, help="alone + pipelined measurements")
    ap.add_argument("--overlay", default="zcu104")
    ap.add_argument("--queue", type=int, default=4, help="queue size between stages")
    ap.add_argument(
        "--workload",
        choices=(*WORKLOADS, "all"),
        default="all",
        help="emulated: the emulated board computes in the inference thread; process: in a "
        "child process (ProcessRunner); board: frames replayed from memory and a runner that "
        "waits like the real board (BoardLike)",
    )
    args = ap.parse_args()
    n = args.frames
    model = compiled_detector(args.overlay)

    factories: dict[str, Callable[[CompiledModel], ModelRunnerLike] | None] = {
        "emulated": None,
        "process": ProcessRunner,
        "board": BoardLike,
    }

    def build(workload: str) -> Pipeline:
        replay = workload == "board"
        p = build_pipeline(
            model,
            sources(n, replay),
            sinks=[JsonLinesSink(io.StringIO())],
            fusion="wbf",
            calibration=SCENE.calibration(),
            runner_factory=factories[workload],
            config=PipelineConfig(queue_size=args.queue),
        )
        for m in p.models.values():  # first-call costs are paid before timing
            m.backend.run({"data": m.preprocessor.buffer})
        return p

    def alone(workload: str) -> dict[str, float]:
        """Seconds of each stage's work for the whole clip, one stage at a time."""
        replay = workload == "board"
        p = build(workload)
        models, fusion, sink = p.models, p.fusion, p.sinks[0]
        assert isinstance(fusion, FusionStage)
        sets: list[FrameSet] = []
        raw: list[dict[str, tuple[dict[str, np.ndarray], Geometry]]] = []
        results: list[FrameResult] = []

        def capture() -> None:
            vis, ir = sources(n, replay)
            sets.extend(Synchronizer(vis, [ir], tolerance_ms=20.0, require_all=False))

        def infer() -> None:
            for fs in sets:
                item = {}
                for sensor, m in models.items():
                    geo = m.preprocessor(fs.frames[sensor].image)
                    item[sensor] = (m.backend.run({"data": m.preprocessor.buffer}), geo)
                raw.append(item)

        def post() -> None:
            for fs, item in zip(sets, raw):
                per = {s: list(models[s].decoder(o, g)) for s, (o, g) in item.items()}
                final = fusion(per, fs.frames, fs.primary)  # type: ignore[arg-type]
                results.append(FrameResult(fs, final, per))  # type: ignore[arg-type]

        def write() -> None:
            for r in results:
                sink.write(r)

        out = {k: timed(f) for k, f in (("capture", capture), ("infer", infer))}
        out.update({k: timed(f) for k, f in (("post", post), ("sink", write))})
        for s in p.sinks:  # the JSON-lines sink, and the runners' release
            s.close()
        return out

    print(
        f"cores {os.cpu_count()}, {n} frame sets (visible 240x320 + thermal 120x160), "
        f"synthdet on the emulated {args.overlay}, WBF fusion, JSON-lines sink"
    )
    status = 0
    for mode in WORKLOADS if args.workload == "all" else (args.workload,):
        if mode == "board":
            alone(mode)  # fills the output cache and measures the emulated run time
            print(f"workload = board (waits {statistics.mean(BoardLike.spent) * 1e3:.2f} ms/run)")
        else:
            print(f"workload = {mode}")
        print(
            f"{'round':<6}"
            + "".join(f"{k + ' ms':>12}" for k in STAGES)
            + f"{'slowest/s':>11}{'pipelined/s':>13}{'ratio':>7}"
        )
        ratios = []
        stats: PipelineStats | None = None
        for r in range(args.rounds):
            secs = alone(mode)
            rates = {k: n / v for k, v in secs.items()}
            slowest = min(rates, key=lambda k: rates[k])
            p = build(mode)
            t0 = time.perf_counter()
            stats = p.run()
            piped = n / (time.perf_counter() - t0)
            assert stats.frames_out == n, stats
            ratios.append(piped / rates[slowest])
            print(
                f"{r + 1:<6}"
                + "".join(f"{secs[k] / n * 1e3:>12.2f}" for k in STAGES)
                + f"{rates[slowest]:>11.1f}{piped:>13.1f}{ratios[-1]:>7.3f}"
            )
        assert stats is not None
        print(
            "last pipelined run, per-stage p50 ms: "
            + ", ".join(f"{k} {stats.stages[k].p50_ms:.2f}" for k in STAGES)
            + f"; latency p50 {stats.stages['total'].p50_ms:.1f} ms"
        )
        ratio = statistics.median(ratios)
        print(
            f"{mode}: pipelined / slowest stage alone = {ratio:.3f} "
            f"(median of {len(ratios)}; target >= 0.9)"
        )
        status |= int(ratio < 0.9)
    return status


if __name__ == "__main__":
    sys.exit(main())
