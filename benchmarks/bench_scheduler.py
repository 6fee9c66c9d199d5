"""Scheduler overhead per layer, and pipelined throughput in modeled board time.

1. Host CPU time the runtime itself spends per engine run (register programming, descriptor
   status reset, polling, bookkeeping), excluding the time the emulated hardware takes inside
   register accesses, divided by the layers of the run; target <= 50 us per layer. Measured
   with ``Runtime.profile()`` over many frames (median of runs).
2. Pipelined throughput in MODELED board time, 1 vs 2 and 3 frames in flight: per frame the
   engine runs take their modeled board time (the emulated board's simulated clock) and the ARM
   steps the performance model's ARM cost; a frame's steps run in order, the engine serves one
   run at a time and the ARM worker one step at a time (the Runtime's structure). The period is
   the steady-state time between finished frames.

Usage: python benchmarks/bench_scheduler.py [--frames 200] [--net digits|lenet|googlenet ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

import edge_dnn
from arm_scheduler.emulated.device import EmulatedDevice
from arm_scheduler.runtime import Runtime
from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.compiler.model import ArmStep
from edge_dnn.perf import ArmCostModel
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

NETS = {
    "lenet": "lenet/lenet.prototxt",
    "squeezenet_v1.1": "squeezenet_v1.1/deploy.prototxt",
    "googlenet": "bvlc_googlenet/deploy.prototxt",
    "yufacedetectnet_v1": "yufacedetectnet_v1/yufacedetectnet-open-v1.prototxt",
}


def shared_nets() -> Path:
    env = os.environ.get("EDGE_DNN_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared"
    return base / "caffe" / "nets"


def build(key: str) -> tuple[CompiledModel, dict[str, np.ndarray]]:
    if key == "digits":
        g = edge_dnn.load_caffe(*model_files("digits"))
    else:
        g = edge_dnn.load_caffe(shared_nets() / NETS[key])
        g.init_random_weights(0)
    name, shape = next(iter(g.inputs.items()))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, *shape[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(g, {name: x}, method="minmax", progress=False)
    return compile_model(qg, "zcu104"), {name: x}


def pipelined_period(steps: list[tuple[str, float]], in_flight: int, frames: int = 64) -> float:
    """Steady-state seconds per frame: ``steps`` = (resource, seconds) in frame order."""
    free = {"engine": 0.0, "arm": 0.0}
    done: list[float] = []
    for f in range(frames):
        t = done[f - in_flight] if f >= in_flight else 0.0  # a slot frees when a frame ends
        for res, sec in steps:
            start = max(t, free[res])
            t = free[res] = start + sec
        done.append(t)
    half = frames // 2
    return (done[-1] - done[half]) / (frames - 1 - half)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--net", action="append")
    args = ap.parse_args()
    keys = args.net or ["digits", "lenet", "squeezenet_v1.1", "googlenet"]
    arm_model = ArmCostModel()
    worst = 0.0
    for key in keys:
        model, feeds = build(key)
        dev = EmulatedDevice(ddr_bytes=512 << 20)
        n = args.frames if key in ("digits", "lenet") else max(10, args.frames // 20)
        with Runtime(model, dev, max_in_flight=1) as rt:
            rt.run(feeds)  # warm-up
            per_layer: list[float] = []
            for _ in range(n):
                rt.profile_reset()
                rt.run(feeds)
                for p in rt.profile():
                    if p["kind"] == "engine":
                        per_layer.append(p["overhead_us"] / len(p["layers"]))
            prof = rt.profile()
        med = statistics.median(per_layer)
        worst = max(worst, med)
        steps: list[tuple[str, float]] = []
        for p, step in zip(prof, model.steps):
            if isinstance(step, ArmStep):
                macs = 0
                steps.append(("arm", arm_model.step_seconds(step, model, macs)))
            else:
                steps.append(("engine", p["board_ms"] / 1e3 + arm_model.engine_run_s))
        p1 = pipelined_period(steps, 1)
        p2 = pipelined_period(steps, 2)
        p3 = pipelined_period(steps, 3)
        print(f"{key:18s} scheduler overhead {med:6.1f} us/layer (median of {len(per_layer)} "
              f"runs; target <= 50)  modeled fps in flight 1/2/3: {1 / p1:8.1f} / {1 / p2:8.1f}"
              f" / {1 / p3:8.1f}  (x{p1 / p2:.2f}, x{p1 / p3:.2f} vs 1)")  # fmt: skip
    print(f"worst median scheduler overhead: {worst:.1f} us per layer")
    return 0 if worst <= 50.0 else 1


if __name__ == "__main__":
    sys.exit(main())
