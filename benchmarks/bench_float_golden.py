"""Float golden model speed and peak memory against cv2.dnn, batch 1, same machine, same run.

Prints, per network, the median wall time of edge-dnn's float golden model and of OpenCV's
``cv2.dnn`` (CPU, FP32, its default optimisations) on the same prototxt, seeded random weights and
input, their ratio (target: edge-dnn <= 2x OpenCV), and edge-dnn's peak traced memory.

Usage: python benchmarks/bench_float_golden.py [--nets googlenet,resnet50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

import edge_dnn

NETS = {
    "googlenet": "bvlc_googlenet/deploy.prototxt",
    "resnet50": "resnet50/ResNet-50-deploy.prototxt",
    "squeezenet_v1.1": "squeezenet_v1.1/deploy.prototxt",
    "mobilenet_v1": "mobilenet_v1/mobilenet_deploy.prototxt",
}


def shared_nets() -> Path:
    env = os.environ.get("EDGE_DNN_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared"
    return base / "caffe" / "nets"


def timeit(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="googlenet,resnet50")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"threads: cv2 {cv2.getNumThreads()}, cores {os.cpu_count()}")
    print(f"{'network':<16} {'edge-dnn ms':>12} {'cv2.dnn ms':>11} {'ratio':>7} {'peak MiB':>9}")
    worst = 0.0
    for key in args.nets.split(","):
        path = shared_nets() / NETS[key]
        graph = edge_dnn.load_caffe(path)
        graph.init_random_weights(seed=1)
        with tempfile.TemporaryDirectory() as td:
            w = Path(td) / "w.caffemodel"
            edge_dnn.save_caffemodel(graph, w)
            net = cv2.dnn.readNetFromCaffe(str(path), str(w))
        name, shape = next(iter(graph.inputs.items()))
        x = np.random.default_rng(0).standard_normal((1, *shape[1:])).astype(np.float32)
        graph.run({name: x})  # warm-up (BLAS thread pools, page faults)
        net.setInput(x, name)
        net.forward()

        def ours(g: edge_dnn.Graph = graph, n: str = name, a: np.ndarray = x) -> None:
            g.run({n: a})

        def theirs(nt: cv2.dnn.Net = net, n: str = name, a: np.ndarray = x) -> None:
            nt.setInput(a, n)
            nt.forward()

        t_ours = timeit(ours, args.repeat)
        t_cv = timeit(theirs, args.repeat)
        tracemalloc.start()
        graph.run({name: x})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        ratio = t_ours / t_cv
        worst = max(worst, ratio)
        print(f"{key:<16} {t_ours * 1e3:12.1f} {t_cv * 1e3:11.1f} {ratio:7.2f} {peak / 2**20:9.1f}")
    print(f"worst ratio edge-dnn / cv2.dnn: {worst:.2f} (target <= 2.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
