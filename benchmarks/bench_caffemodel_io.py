"""Time writing and reading a VGG-16-sized caffemodel (138M float32 parameters, ~553 MB).

Run: ``PYTHONPATH=. python benchmarks/bench_caffemodel_io.py [--keep PATH]``.
Prints write time, parse time (:func:`read_caffemodel`), conversion time of every blob
(:func:`blob_to_array`) and peak RSS; checks the round trip is exact.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np

from edge_dnn.caffe.caffemodel import blob_to_array, read_caffemodel, write_caffemodel

# VGG-16: 13 3x3 convolutions then three fully connected layers (conv weights [out, in, 3, 3]).
_CONV = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
         (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]  # fmt: skip
_FC = [("fc6", 25088, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000)]


def _vgg16_layers(seed: int) -> list[tuple[str, str, list[np.ndarray]]]:
    rng = np.random.default_rng(seed)
    layers: list[tuple[str, str, list[np.ndarray]]] = []
    for i, (cin, cout) in enumerate(_CONV):
        w = rng.standard_normal((cout, cin, 3, 3), dtype=np.float32)
        layers.append((f"conv{i + 1}", "Convolution", [w, rng.standard_normal(cout, np.float32)]))
    for name, k, n in _FC:
        w = rng.standard_normal((n, k), dtype=np.float32)
        layers.append((name, "InnerProduct", [w, rng.standard_normal(n, dtype=np.float32)]))
    return layers


def main() -> None:
    """Run the benchmark once and print the timings."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="write the model here and keep it")
    args = ap.parse_args()
    layers = _vgg16_layers(0)
    n_params = sum(a.size for _, _, arrays in layers for a in arrays)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or os.path.join(tmp, "vgg16_like.caffemodel")
        t0 = time.perf_counter()
        write_caffemodel(layers, path, name="VGG_ILSVRC_16_layers")
        t_write = time.perf_counter() - t0
        size = os.path.getsize(path)
        t0 = time.perf_counter()
        net = read_caffemodel(path)
        t_parse = time.perf_counter() - t0
        t0 = time.perf_counter()
        arrays = [[blob_to_array(b) for b in lp.blobs] for lp in net.layer]
        t_conv = time.perf_counter() - t0
    exact = all(
        np.array_equal(a, b) for (_, _, src), got in zip(layers, arrays) for a, b in zip(src, got)
    )
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        f"{n_params / 1e6:.1f}M params, {size / 1e6:.0f} MB: write {t_write:.2f} s, "
        f"read_caffemodel {t_parse:.2f} s, blob_to_array {t_conv:.2f} s "
        f"(read total {t_parse + t_conv:.2f} s); exact={exact}; peak RSS {rss_gb:.1f} GB"
    )


if __name__ == "__main__":
    main()
