"""``edge-dnn pipeline``: run a compiled model over cameras, files or synthetic sensors.

Registered into the ``edge-dnn`` command line through the ``edge_dnn.commands`` entry-point
group (``pipeline = "vision_pipeline.cli:register"``); edge_dnn itself never imports this
package. Importing this module is cheap: OpenCV and the pipeline are imported when the command
runs. The work is done by :func:`vision_pipeline.app.build_pipeline` (the same options as a
Python API).

Example::

    edge-dnn pipeline --model synthdet.edm \\
        --source synthetic:seed=3,frames=100 --source synthetic-thermal:seed=3,frames=100 \\
        --fusion wbf --sink video:out.avi --sink jsonl:out.jsonl
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["cmd_pipeline", "register"]

_SOURCE_HELP = (
    "frame source (repeat for several sensors; the first is the primary): "
    "synthetic[:seed=N,frames=N,objects=N,fps=F,size=HxW,offset_ms=T,name=S,pace=1], "
    "synthetic-thermal[:...], a camera index, a video file, an image folder, a URL or a "
    "GStreamer pipeline"
)
_SINK_HELP = (
    "output (repeatable): video:OUT.avi|OUT.mp4, jsonl:OUT.jsonl (jsonl:- for stdout), "
    "mjpeg:PORT (localhost) or mjpeg:HOST:PORT, window"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pipeline`` sub-command to the ``edge-dnn`` parser."""
    p = sub.add_parser(
        "pipeline",
        help="run a compiled model (.edm) over camera / video / synthetic sources",
        description="Run a compiled model on the board runtime (the overlay on a board, the "
        "emulated board on a host) over one or more synchronised sources, fuse the sensors' "
        "detections and write the results to sinks.",
    )
    p.add_argument("--model", required=True, metavar="M.edm", help="compiled model")
    p.add_argument("--source", action="append", required=True, metavar="SRC", help=_SOURCE_HELP)
    p.add_argument("--sink", action="append", default=[], metavar="SINK", help=_SINK_HELP)
    p.add_argument(
        "--fusion",
        choices=("wbf", "nms", "confirm", "none"),
        help="late fusion (wbf, nms), confirmation by the second source (confirm) or none "
        "(default: wbf with several sources)",
    )
    p.add_argument("--frames", type=int, metavar="N", help="stop after N frame sets")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--calibration", metavar="RIG.json", help="rig calibration for fusion")
    p.add_argument("--tolerance-ms", type=float, default=20.0, help="sync tolerance (20)")
    p.add_argument("--min-score", type=float, help="decoder score threshold")
    p.add_argument("--track", action="store_true", help="assign track ids")
    p.add_argument(
        "--runner",
        choices=("runtime", "emulator", "process"),
        default="runtime",
        help="runtime (default): arm_scheduler.Runtime, the overlay on a board or the emulated "
        "board on a host, preprocessing straight into its DMA buffers; emulator: the engine "
        "emulator in the inference thread; process: the emulator in a child process per sensor",
    )
    p.add_argument("--stats-json", metavar="FILE", help="write statistics (and metrics) as JSON")
    p.set_defaults(func=cmd_pipeline)


def cmd_pipeline(args: argparse.Namespace) -> int:
    """Run the ``pipeline`` sub-command: build, run until the end (or Ctrl-C), report."""
    from vision_pipeline.app import build_pipeline, open_sources, resolve_rig
    from vision_pipeline.errors import PipelineError
    from vision_pipeline.evaluation import DetectionEvaluator

    if args.frames is not None and args.frames < 0:
        raise PipelineError(f"--frames must be >= 0, got {args.frames}")
    sources = open_sources(args.source)
    try:
        rig = resolve_rig(sources, args.calibration) if len(sources) > 1 else None
    except BaseException:
        for s in sources:
            s.close()
        raise
    evaluator = DetectionEvaluator(rig)
    pipeline = build_pipeline(
        args.model,
        sources,
        sinks=args.sink,
        fusion=args.fusion,
        frames=args.frames,
        calibration=rig,
        tolerance_ms=args.tolerance_ms,
        min_score=args.min_score,
        track=args.track,
        on_result=evaluator,
        runner=args.runner,
    )
    stats = pipeline.run(duration=args.duration)
    st = stats.stages
    print(
        f"{stats.frames_out} frame set(s) in {stats.elapsed_s:.2f} s ({stats.fps:.1f} fps); "
        f"latency p50 {st['total'].p50_ms:.1f} ms, p99 {st['total'].p99_ms:.1f} ms; "
        f"infer p50 {st['infer'].p50_ms:.1f} ms; dropped {sum(stats.dropped.values())}"
        + ("; interrupted" if stats.interrupted else "")
    )
    if evaluator.frames:
        print(f"detections against ground truth ({evaluator.frames} frame sets, IoU >= 0.5):")
        print(evaluator.format())
    if args.stats_json:
        doc: dict[str, Any] = stats.to_dict()
        doc["metrics"] = evaluator.summary()
        try:
            with open(args.stats_json, "w", encoding="utf-8") as f:
                f.write(json.dumps(doc, indent=1) + "\n")
        except OSError as exc:
            raise PipelineError(f"{args.stats_json}: cannot write: {exc.strerror or exc}") from None
    return 0
