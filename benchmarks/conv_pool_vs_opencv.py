"""Time edge-dnn's Convolution/Deconvolution/Pooling/InnerProduct float reference against OpenCV.

Every case is a one-layer Caffe net run by ``cv2.dnn.readNetFromCaffe`` and by the edge-dnn
layer on the same input and weights. The two are timed in alternation (best of bursts, with a
pause between them so that neither library's idle worker threads spin while the other runs).

Usage::

    PYTHONPATH=. python benchmarks/conv_pool_vs_opencv.py [--rounds 5]

The 2-core reference machine is shared; a quick GEMM calibration is printed before and after so
that a run disturbed by other processes can be recognised (about 180 GFLOP/s when quiet).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from google.protobuf import text_format

from edge_dnn.caffe import caffe_pb2
from edge_dnn.caffe.caffemodel import write_caffemodel
from edge_dnn.layers.base import Layer
from edge_dnn.layers.convolution import Convolution
from edge_dnn.layers.deconvolution import Deconvolution
from edge_dnn.layers.inner_product import InnerProduct
from edge_dnn.layers.pooling import Pooling

CLASSES: dict[str, type[Layer]] = {
    "Convolution": Convolution,
    "Deconvolution": Deconvolution,
    "Pooling": Pooling,
    "InnerProduct": InnerProduct,
}

CONV = "Convolution"
CASES: list[tuple[str, str, tuple[int, ...], str]] = [
    ("3x3 256->256 @56", CONV, (1, 256, 56, 56), "num_output: 256 kernel_size: 3 pad: 1"),
    ("3x3 64->64 @56 (ResNet res2)", CONV, (1, 64, 56, 56), "num_output: 64 kernel_size: 3 pad: 1"),
    ("3x3 128->128 @28 (res3)", CONV, (1, 128, 28, 28), "num_output: 128 kernel_size: 3 pad: 1"),
    ("3x3 256->256 @14 (res4)", CONV, (1, 256, 14, 14), "num_output: 256 kernel_size: 3 pad: 1"),
    ("3x3 512->512 @7 (res5)", CONV, (1, 512, 7, 7), "num_output: 512 kernel_size: 3 pad: 1"),
    ("3x3 64->192 @56 (GoogLeNet)", CONV, (1, 64, 56, 56), "num_output: 192 kernel_size: 3 pad: 1"),
    ("1x1 256->64 @56", CONV, (1, 256, 56, 56), "num_output: 64 kernel_size: 1"),
    ("1x1 1024->256 @14", CONV, (1, 1024, 14, 14), "num_output: 256 kernel_size: 1"),
    ("1x1 s2 512->1024 @28", CONV, (1, 512, 28, 28), "num_output: 1024 kernel_size: 1 stride: 2"),
    ("7x7 s2 3->64 @224", CONV, (1, 3, 224, 224), "num_output: 64 kernel_size: 7 stride: 2 pad: 3"),
    ("5x5 32->96 @28 (GoogLeNet)", CONV, (1, 32, 28, 28), "num_output: 96 kernel_size: 5 pad: 2"),
    (
        "depthwise 3x3 32 @112",
        CONV,
        (1, 32, 112, 112),
        "num_output: 32 kernel_size: 3 pad: 1 group: 32",
    ),
    (
        "depthwise 3x3 s2 512 @14",
        CONV,
        (1, 512, 14, 14),
        "num_output: 512 kernel_size: 3 pad: 1 stride: 2 group: 512",
    ),
    (
        "3x3 g2 256->256 @13 (AlexNet)",
        CONV,
        (1, 256, 13, 13),
        "num_output: 256 kernel_size: 3 pad: 1 group: 2",
    ),
    ("3x3 64->64 @56 batch 8", CONV, (8, 64, 56, 56), "num_output: 64 kernel_size: 3 pad: 1"),
    (
        "deconv k4 s2 group 21 @16",
        "Deconvolution",
        (1, 21, 16, 16),
        "num_output: 21 kernel_size: 4 stride: 2 group: 21 bias_term: false",
    ),
    (
        "deconv k4 s2 64->32 @28",
        "Deconvolution",
        (1, 64, 28, 28),
        "num_output: 32 kernel_size: 4 stride: 2 pad: 1",
    ),
    ("max pool 3 s2 @112x64", "Pooling", (1, 64, 112, 112), "pool: MAX kernel_size: 3 stride: 2"),
    (
        "max pool 3 s1 p1 @28x256",
        "Pooling",
        (1, 256, 28, 28),
        "pool: MAX kernel_size: 3 stride: 1 pad: 1",
    ),
    ("ave pool 7 @7x1024", "Pooling", (1, 1024, 7, 7), "pool: AVE kernel_size: 7 stride: 1"),
    ("InnerProduct 2048->1000", "InnerProduct", (1, 2048, 1, 1), "num_output: 1000"),
    ("InnerProduct 9216->4096", "InnerProduct", (1, 256, 6, 6), "num_output: 4096"),
]

PARAM_FIELD = {
    "Convolution": "convolution_param",
    "Deconvolution": "convolution_param",
    "Pooling": "pooling_param",
    "InnerProduct": "inner_product_param",
}


def best_of(fn: Callable[[], Any], k: int = 3) -> float:
    """Best wall time of ``k`` calls, in seconds."""
    best = float("inf")
    for _ in range(k):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def gemm_calibration() -> float:
    """GFLOP/s of a 256x2304 @ 2304x784 float32 GEMM (best of 20)."""
    a = np.ones((256, 2304), np.float32)
    b = np.ones((2304, 784), np.float32)
    return 2 * 256 * 2304 * 784 / best_of(lambda: a @ b, 20) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    tmp = tempfile.mkdtemp()
    print(f"GEMM calibration: {gemm_calibration():.0f} GFLOP/s")
    for label, layer_type, shape, body in CASES:
        field = PARAM_FIELD[layer_type]
        lp = text_format.Parse(
            f'name: "L" type: "{layer_type}" {field} {{ {body} }}', caffe_pb2.LayerParameter()
        )
        layer = CLASSES[layer_type].from_proto(lp)
        x = rng.standard_normal(shape).astype(np.float32)
        blobs = layer.init_params([shape], rng)
        dims = " ".join(f"dim: {d}" for d in shape)
        proto = os.path.join(tmp, "net.prototxt")
        with open(proto, "w") as f:
            f.write(
                f'input: "data"\ninput_shape {{ {dims} }}\nlayer {{ name: "L" type: '
                f'"{layer_type}" bottom: "data" top: "out" {field} {{ {body} }} }}\n'
            )
        model = os.path.join(tmp, "net.caffemodel")
        write_caffemodel([("L", layer_type, blobs)], model)
        net = cv2.dnn.readNetFromCaffe(proto, model)
        net.setInput(x)
        ref = np.asarray(net.forward())
        (y,) = layer.forward([x], blobs)
        err = float(np.abs(y - ref.reshape(y.shape)).max()) / max(1.0, float(np.abs(ref).max()))
        t_cv = t_ours = float("inf")
        for _ in range(args.rounds):
            time.sleep(0.1)
            t_cv = min(t_cv, best_of(net.forward))
            time.sleep(0.1)
            t_ours = min(t_ours, best_of(lambda: layer.forward([x], blobs)))  # noqa: B023
        print(
            f"{label:34s} cv2 {t_cv * 1e3:7.2f} ms  edge-dnn {t_ours * 1e3:7.2f} ms  "
            f"ratio {t_ours / t_cv:5.2f}  rel.err {err:.0e}",
            flush=True,
        )
    print(f"GEMM calibration: {gemm_calibration():.0f} GFLOP/s")


if __name__ == "__main__":
    main()
