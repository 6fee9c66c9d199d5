"""Modeled board performance of every shared network on every overlay, and its fidelity.

Everything printed here is MODELED (``edge_dnn.perf``): each network (seeded random weights,
minmax calibration on a seeded random batch: the timing does not depend on the values) is
quantized to int8, compiled for each overlay and profiled. Prints

1. the table of modeled batch-1 fps / streamed fps / latency for all networks x overlays
   (``--markdown`` prints it as the table kept in ``docs/performance.md``);
2. the fidelity check: the mirror overlays against the published figures
   (``edge_dnn.perf.published``), ratio modeled / published, within +-35%?;
3. the ``zcu104`` targets (GoogLeNet >= 370 img/s, ResNet-50 >= 150 img/s).

Usage: python benchmarks/bench_perf_model.py [--nets googlenet,resnet50] [--overlays zcu104]
       [--markdown]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import edge_dnn
from edge_dnn.compiler import compile_model
from edge_dnn.overlay.config import list_overlays
from edge_dnn.perf import Profile, profile_model
from edge_dnn.perf.published import PUBLISHED, TARGETS, TOLERANCE
from edge_dnn.quant.quantizer import QuantizationWarning, quantize

NETS = {
    "lenet": "lenet/lenet.prototxt",
    "bvlc_alexnet": "bvlc_alexnet/deploy.prototxt",
    "caffenet": "bvlc_reference_caffenet/deploy.prototxt",
    "googlenet": "bvlc_googlenet/deploy.prototxt",
    "squeezenet_v1.1": "squeezenet_v1.1/deploy.prototxt",
    "vgg16": "vgg16/VGG_ILSVRC_16_layers_deploy.prototxt",
    "resnet50": "resnet50/ResNet-50-deploy.prototxt",
    "mobilenet_v1": "mobilenet_v1/mobilenet_deploy.prototxt",
    "mobilenet_ssd": "mobilenet_ssd/MobileNetSSD_deploy.prototxt",
    "yufacedetectnet_v1": "yufacedetectnet_v1/yufacedetectnet-open-v1.prototxt",
}


def shared_nets() -> Path:
    env = os.environ.get("EDGE_DNN_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared"
    return base / "caffe" / "nets"


def profiles(nets: list[str], overlays: list[str]) -> dict[tuple[str, str], Profile]:
    out: dict[tuple[str, str], Profile] = {}
    for key in nets:
        g = edge_dnn.load_caffe(shared_nets() / NETS[key])
        g.init_random_weights(0)
        name, shape = next(iter(g.inputs.items()))
        x = np.random.default_rng(1).standard_normal((1, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qg = quantize(g, {name: x}, method="minmax", progress=False)
        for ov in overlays:
            out[key, ov] = profile_model(compile_model(qg, ov))
        print(f"  profiled {key}", file=sys.stderr, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default=",".join(NETS))
    ap.add_argument("--overlays", default=",".join(list_overlays()))
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = ap.parse_args()
    nets = [n for n in args.nets.split(",") if n]
    overlays = [o for o in args.overlays.split(",") if o]
    t0 = time.perf_counter()
    profs = profiles(nets, overlays)
    print(f"MODELED board performance, int8, batch 1 (compiled and profiled in "
          f"{time.perf_counter() - t0:.1f} s on this host)")  # fmt: skip
    print("cell: batch-1 fps / streamed fps (latency ms)\n")
    if args.markdown:
        print("| network | " + " | ".join(f"`{o}`" for o in overlays) + " |")
        print("|---|" + "---|" * len(overlays))
    else:
        print(f"{'network':20s}" + "".join(f"{o:>28s}" for o in overlays))
    for key in nets:
        cells = []
        for ov in overlays:
            p = profs[key, ov]
            cells.append(f"{p.fps_batch1:.1f} / {p.fps_stream:.1f} ({p.latency_s * 1e3:.2f})")
        if args.markdown:
            print(f"| {key} | " + " | ".join(cells) + " |")
        else:
            print(f"{key:20s}" + "".join(f"{c:>28s}" for c in cells))

    print("\nFidelity: mirror overlays vs published figures (modeled / published)")
    ok_all = True
    for pub in PUBLISHED:
        if (pub.network, pub.overlay) not in profs:
            continue
        p = profs[pub.network, pub.overlay]
        got = float(getattr(p, pub.metric))
        ratio = got / pub.fps
        ok = abs(ratio - 1.0) <= TOLERANCE
        ok_all &= ok
        print(f"  {pub.overlay:16s} {pub.network:10s} modeled {pub.metric} {got:7.1f} vs "
              f"published {pub.fps:7.2f}: ratio {ratio:.2f} {'OK' if ok else 'OUTSIDE +-35%'}"
              f"  [{pub.source}]")  # fmt: skip
    print("\nzcu104 targets (modeled batch-1 fps)")
    for (ov, key), target in TARGETS.items():
        if (key, ov) not in profs:
            continue
        got = profs[key, ov].fps_batch1
        ok = got >= target
        ok_all &= ok
        print(f"  {key:10s} {got:7.1f} img/s (target >= {target:g}) {'OK' if ok else 'MISSED'}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
