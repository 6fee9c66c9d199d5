"""Emulated GoogLeNet int8 batch-1 time against cv2.dnn float time, same machine, same run.

What is measured (issue #4, target: emulated <= 3x cv2.dnn):

* **emulated**: one frame through :class:`edge_dnn.emulator.run.ModelRunner`, i.e. input
  quantization, a fresh DDR image (the runner's image with the previous frame's writes undone,
  as the board's runtime loads the weights once), every engine step executed by the bit-exact
  engine emulator
  (command stream decoded and run tile by tile on the emulated buffers, DMA transfer lists
  checked, race checker on) and the ARM steps, outputs read back from DDR (``raw=True``);
* **cv2.dnn**: ``cv2.dnn.readNetFromCaffe`` on the same prototxt and a caffemodel holding the
  same float weights, ``setInput`` + ``forward`` (CPU, FP32, OpenCV's default optimisations);
* for context, the integer reference (``CompiledModel.reference``, the quantized graph's
  ``run(raw=True)``), which the emulator reproduces bit for bit (checked once here), and the
  emulated board without its race checker (``ModelRunner(model, check_races=False)``, same
  results: the checker verifies that tokens order every conflicting buffer access).

The network is ``bvlc_googlenet/deploy.prototxt`` with seeded random weights, quantized to int8
with ``method="minmax"`` on a seeded random batch and compiled for ``zcu104`` (as in
``bench_perf_model.py``). Both sides get the same thread count (``--threads``, default: the BLAS
pool numpy has): numpy's BLAS pool is limited with ``threadpoolctl`` and
``cv2.setNumThreads`` gets the same number. After one warm-up run each, every timed quantity is
the median of ``--repeat`` runs; all are timed in alternation (with a pause before each run, so
that the other library's idle worker threads do not spin during it) so that a disturbance of
the shared machine hits each of them. The load average is printed before and after: on the shared
2-core reference machine other processes slow both sides, not necessarily equally.

Usage: PYTHONPATH=. python benchmarks/bench_emulator_vs_opencv.py [--repeat 5] [--threads 2]
       [--profile 30]   (cProfile one emulated frame, print the top 30 functions)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

import edge_dnn
from edge_dnn.compiler import compile_model
from edge_dnn.emulator.run import ModelRunner
from edge_dnn.quant.quantizer import QuantizationWarning, quantize

PROTOTXT = "bvlc_googlenet/deploy.prototxt"
OVERLAY = "zcu104"
TARGET = 3.0
PAUSE = 0.2


def shared_nets() -> Path:
    env = os.environ.get("EDGE_DNN_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared"
    return base / "caffe" / "nets"


def blas_threads() -> int | None:
    """Threads of numpy's BLAS pool, or ``None`` when threadpoolctl is not installed."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    n = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    return max(n) if n else None


@contextlib.contextmanager
def limit_blas(threads: int) -> Iterator[None]:
    try:
        import threadpoolctl
    except ImportError:
        yield
        return
    with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
        yield


def elapsed(fn: Callable[[], object]) -> float:
    """Wall time of one call, in seconds, after a pause: the idle worker threads of the
    library timed before (OpenCV's pool, the BLAS pool) stop spinning first."""
    time.sleep(PAUSE)
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per side (median)")
    ap.add_argument("--threads", type=int, default=0, help="threads for both (0: numpy's BLAS)")
    ap.add_argument("--profile", type=int, default=0, help="cProfile one emulated frame, top N")
    args = ap.parse_args()
    known = blas_threads()
    threads = args.threads or known or os.cpu_count() or 1
    cv2.setNumThreads(threads)

    t0 = time.perf_counter()
    path = shared_nets() / PROTOTXT
    g = edge_dnn.load_caffe(path)
    g.init_random_weights(0)
    name, shape = next(iter(g.inputs.items()))
    rng = np.random.default_rng(1)
    calib = rng.standard_normal((1, *shape[1:])).astype(np.float32)
    x = rng.standard_normal((1, *shape[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(g, {name: calib}, method="minmax", progress=False)
    model = compile_model(qg, OVERLAY)
    ref = model.reference
    if ref is None:
        print("the compiled model carries no integer reference", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as td:
        w = Path(td) / "w.caffemodel"
        edge_dnn.save_caffemodel(g, w)
        net = cv2.dnn.readNetFromCaffe(str(path), str(w))
    runner = ModelRunner(model)
    fast = ModelRunner(model, check_races=False)
    outputs = list(model.outputs)
    feeds = {name: x}
    print(f"GoogLeNet int8 on '{OVERLAY}' emulated vs cv2.dnn {cv2.__version__} float32, batch 1")
    blas = f"numpy BLAS {threads}" if known else "numpy BLAS default (no threadpoolctl)"
    print(f"threads: {blas}, cv2.setNumThreads({threads}) (cores {os.cpu_count()})")
    print(f"setup (load, quantize, compile, caffemodel) {time.perf_counter() - t0:.1f} s")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    def emulated() -> dict[str, np.ndarray]:
        return runner.run(feeds, raw=True)

    def unchecked() -> dict[str, np.ndarray]:
        return fast.run(feeds, raw=True)

    def reference() -> dict[str, np.ndarray]:
        return ref.run(feeds, outputs=outputs, raw=True)

    def opencv() -> np.ndarray:
        net.setInput(x, name)
        return np.asarray(net.forward())

    with limit_blas(threads):
        # warm-up (BLAS / OpenCV thread pools, page faults); the bit-exactness sanity check
        got, want, got2 = emulated(), reference(), unchecked()
        opencv()
        exact = all(np.array_equal(got[k], want[k]) and np.array_equal(got2[k], want[k])
                    for k in outputs)  # fmt: skip
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            emulated()
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(args.profile)
        t_emu: list[float] = []
        t_fast: list[float] = []
        t_ref: list[float] = []
        t_cv: list[float] = []
        for _ in range(args.repeat):
            t_cv.append(elapsed(opencv))
            t_emu.append(elapsed(emulated))
            t_fast.append(elapsed(unchecked))
            t_ref.append(elapsed(reference))
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    emu, fst, cv, rf = (statistics.median(t) for t in (t_emu, t_fast, t_cv, t_ref))
    steps = len(model.steps)
    print(f"emulated board (ModelRunner, {steps} steps)   {emu * 1e3:7.1f} ms / frame  "
          f"(bit-exact vs reference: {'yes' if exact else 'NO'})")  # fmt: skip
    print(f"  without the race checker                 {fst * 1e3:7.1f} ms / frame  "
          f"(ratio to cv2.dnn {fst / cv:.2f})")  # fmt: skip
    print(f"integer reference (QuantizedGraph.run)     {rf * 1e3:7.1f} ms / frame")
    print(f"cv2.dnn float32                            {cv * 1e3:7.1f} ms / frame")
    print(f"medians of {args.repeat} runs; emulated / reference {emu / rf:.2f}")
    ratio = emu / cv
    ok = ratio <= TARGET and exact
    print(f"ratio emulated / cv2.dnn: {ratio:.2f} (target <= {TARGET:g}x) "
          f"{'OK' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
