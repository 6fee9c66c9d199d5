"""Train the bundled ``synthdet`` detector on synthetic two-sensor scenes (numpy only).

Usage::

    PYTHONPATH=. python -m vision_pipeline.train_detector --out edge_dnn/zoo/synthdet
    # or: PYTHONPATH=. python tools/train_detector.py --out edge_dnn/zoo/synthdet

Writes ``synthdet.prototxt``, ``synthdet.caffemodel`` and ``metrics.json`` (recipe, data, held-out
precision / recall / F1 per sensor) into ``--out``. Every random choice comes from the seed, so
the same command reproduces the committed files (on the same numpy / BLAS build).

Data: frames rendered by :class:`~vision_pipeline.sources.SyntheticScene` (2..7 objects,
randomised sensor noise) at a random time, **both** modalities of every scene: the visible
colour frame and the grey thermal frame, preprocessed exactly as the pipeline's
:class:`~vision_pipeline.preprocess.Preprocessor` does for the network
(:data:`vision_pipeline.detector.PREPROCESS`). Training scenes use seeds
``TRAIN_SEED_BASE + k``, held-out scenes ``HELDOUT_SEED_BASE + k``; both ranges are far from the
small seeds tests and demos use.

Targets (per sensor, from that frame's ground truth): objects flagged ``visible`` in the frame
are positives; the others (camouflaged, hidden by smoke, cold, mostly occluded or outside the
thermal field of view) are *ignored*: no loss on the cells inside their boxes, so the network
is neither rewarded nor punished for them. Each positive puts a Gaussian bump (peak 1 at the
cell holding its centre, sigma = size / 6 cells, at least 0.35) into its class's heat map; the
box head is trained (L1) on the centre cell and its 8 neighbours, weighted by the bump
(at least 0.25).

Loss: CenterNet's penalty-reduced focal loss on the heat logits (alpha 2, beta 4) plus L1 on
the box regression, both divided by the number of objects. Adam with cosine learning-rate
decay, L2 weight decay on weights, random horizontal and vertical flips.

Nothing here runs at inference time; the pipeline only needs :mod:`vision_pipeline.detector`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format

from edge_dnn.caffe import caffe_pb2
from edge_dnn.errors import EdgeDnnError
from edge_dnn.train import nn
from vision_pipeline.detector import (
    BOX_BLOB,
    BOX_REF,
    HEAT_BLOB,
    INPUT_BLOB,
    INPUT_SHAPE,
    NAME,
    NUM_CLASSES,
    PREPROCESS,
    STRIDE,
    HeatmapDecoder,
)
from vision_pipeline.postprocess import Detection, MatchCounts, match_detections
from vision_pipeline.preprocess import InputSpec, Preprocessor
from vision_pipeline.sources import GroundTruth, SyntheticScene

__all__ = [
    "HELDOUT_SEED_BASE",
    "MODALITIES",
    "TRAIN_SEED_BASE",
    "SampleSet",
    "TrainConfig",
    "build_net",
    "build_targets",
    "evaluate",
    "export_model",
    "focal_loss",
    "main",
    "make_samples",
    "net_parameter",
    "train_detector",
]

TRAIN_SEED_BASE = 100_000
HELDOUT_SEED_BASE = 200_000
MODALITIES = ("visible", "thermal")
GRID = (INPUT_SHAPE[2] // STRIDE, INPUT_SHAPE[3] // STRIDE)
"""(rows, columns) of the output cells."""
Targets = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``(heat, heat_weight, box, box_weight)`` training targets (see :func:`build_targets`)."""
HEAT_PRIOR = 0.1
"""Initial heat-map confidence (the head's bias is set to its logit: stable focal loss)."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training recipe.

    Attributes:
        seed: Seed of every random choice (scene parameters, times, init, shuffling, flips).
        train_scenes: Training scenes (each gives a visible and a thermal sample).
        heldout_scenes: Held-out scenes for the reported metrics.
        epochs: Passes over the training samples.
        batch_size: Samples per step.
        lr: Peak Adam learning rate (cosine decay to 2 % of it).
        weight_decay: L2 decay of weights (not biases).
        box_weight: Weight of the box L1 loss against the heat loss.
        eval_min_score: Decoder threshold of the reported precision / recall.
    """

    seed: int = 0
    train_scenes: int = 1000
    heldout_scenes: int = 150
    epochs: int = 18
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    box_weight: float = 0.5
    eval_min_score: float = 0.35


# =================================================================================== network
def build_net() -> nn.Sequential:
    """The training form: the Caffe chain with both heads as one 7-channel 1x1 convolution
    (``head``), split into ``heat`` and ``box`` on export (the same arithmetic)."""
    return nn.Sequential(
        [
            nn.Conv2d("conv1", 3, 16, 3, pad=1, stride=2),
            nn.ReLU("relu1"),
            nn.MaxPool2d("pool1", 2, 2),
            nn.Conv2d("conv2", 16, 32, 3, pad=1),
            nn.ReLU("relu2"),
            nn.MaxPool2d("pool2", 2, 2),
            nn.Conv2d("conv3", 32, 48, 3, pad=1),
            nn.ReLU("relu3"),
            nn.Conv2d("conv4", 48, 48, 3, pad=1),
            nn.ReLU("relu4"),
            nn.Conv2d("head", 48, NUM_CLASSES + 4, 1),
        ],
        input_shape=INPUT_SHAPE[1:],
    )


def init_params(net: nn.Sequential, rng: np.random.Generator) -> nn.Params:
    """He-normal weights; the heat biases start at the logit of :data:`HEAT_PRIOR`."""
    params = net.init_params(rng, np.float32)
    params["head"][1][:NUM_CLASSES] = math.log(HEAT_PRIOR / (1.0 - HEAT_PRIOR))
    return params


def net_parameter() -> caffe_pb2.NetParameter:
    """The deploy network: the chain up to ``relu4`` (in place on ``conv4``), then the
    ``heat`` and ``box`` 1x1 convolutions reading ``conv4``."""
    trunk = nn.Sequential(build_net().modules[:-1], input_shape=INPUT_SHAPE[1:])
    proto = trunk.to_net_parameter(NAME, INPUT_BLOB)
    for name, n in ((HEAT_BLOB, NUM_CLASSES), (BOX_BLOB, 4)):
        lp = proto.layer.add()
        lp.name, lp.type = name, "Convolution"
        lp.bottom.append("conv4")
        lp.top.append(name)
        lp.convolution_param.num_output = n
        lp.convolution_param.kernel_size.append(1)
    return proto


def deploy_params(params: nn.Params) -> nn.Params:
    """Training parameters -> deploy parameters (``head`` split into ``heat`` and ``box``)."""
    out = {k: v for k, v in params.items() if k != "head"}
    w, b = params["head"]
    out[HEAT_BLOB] = [w[:NUM_CLASSES].copy(), b[:NUM_CLASSES].copy()]
    out[BOX_BLOB] = [w[NUM_CLASSES:].copy(), b[NUM_CLASSES:].copy()]
    return out


# =================================================================================== data
@dataclasses.dataclass
class SampleSet:
    """Preprocessed frames and their ground truth in network-input pixels.

    Attributes:
        x: float32 ``[N, 3, 96, 128]`` network inputs.
        modality: ``[N]`` index into :data:`MODALITIES`.
        truth: Per sample, the ground truth (boxes in input pixels, ``visible`` = positive).
        seeds: ``[N]`` scene seed of every sample.
    """

    x: np.ndarray
    modality: np.ndarray
    truth: list[tuple[GroundTruth, ...]]
    seeds: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


def make_samples(seed_base: int, n_scenes: int, seed: int) -> SampleSet:
    """Render and preprocess ``n_scenes`` scenes (seeds ``seed_base + k``), both modalities.

    Scene parameters (2..7 objects, sensor noise) and the time of the frame come from
    ``np.random.default_rng([seed, seed_base])``.
    """
    rng = np.random.default_rng([seed, seed_base])
    n = 2 * n_scenes
    x = np.empty((n, *INPUT_SHAPE[1:]), dtype=np.float32)
    spec = InputSpec(INPUT_BLOB, INPUT_SHAPE, PREPROCESS)
    pre = Preprocessor(spec, np.zeros(INPUT_SHAPE, dtype=np.float32))
    modality = np.zeros(n, dtype=np.int64)
    seeds = np.zeros(n, dtype=np.int64)
    truth: list[tuple[GroundTruth, ...]] = []
    for k in range(n_scenes):
        s = seed_base + k
        scene = SyntheticScene(
            seed=s,
            n_objects=int(rng.integers(2, 8)),
            noise=(float(rng.uniform(1.5, 5.0)), float(rng.uniform(2.0, 6.0))),
        )
        t = float(rng.uniform(0.0, 60.0))
        for m, mod in enumerate(MODALITIES):
            i = 2 * k + m
            img, gts = scene.render(mod, t, frame_index=k)
            geo = pre(img)
            x[i] = pre.buffer[0]
            boxes = geo.to_input(np.asarray([g.box for g in gts], dtype=np.float64))
            truth.append(
                tuple(
                    dataclasses.replace(g, box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])))
                    for g, b in zip(gts, boxes)
                )
            )
            modality[i] = m
            seeds[i] = s
    return SampleSet(x, modality, truth, seeds)


# =================================================================================== targets
def build_targets(
    truth: Sequence[GroundTruth], grid: tuple[int, int] = GRID, stride: int = STRIDE
) -> Targets:
    """Training targets of one sample (see the module docstring).

    Args:
        truth: Ground truth in network-input pixels.
        grid: Output (rows, columns).
        stride: Input pixels per cell.

    Returns:
        ``(heat [K, gh, gw], heat_weight [gh, gw], box [4, gh, gw], box_weight [gh, gw])``,
        float32. Heat is 1 exactly at the positives' centre cells; heat_weight is 0 on cells
        inside ignored objects (unless near a positive); box_weight is 0 where the box head is
        not trained.
    """
    gh, gw = grid
    heat = np.zeros((NUM_CLASSES, gh, gw), dtype=np.float32)
    heat_w = np.ones((gh, gw), dtype=np.float32)
    reg = np.zeros((4, gh, gw), dtype=np.float32)
    reg_w = np.zeros((gh, gw), dtype=np.float32)
    ii, jj = np.mgrid[0:gh, 0:gw].astype(np.float64)
    ccx, ccy = (jj + 0.5) * stride, (ii + 0.5) * stride  # cell centres, input pixels
    for g in truth:  # ignored objects first: positives below override their cells
        if not g.visible:
            x0, y0, x1, y1 = g.box
            inside = (ccx >= x0) & (ccx <= x1) & (ccy >= y0) & (ccy <= y1)
            heat_w[inside] = 0.0
    for g in truth:
        if not g.visible:
            continue
        x0, y0, x1, y1 = g.box
        w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride  # cells
        ci = min(max(math.floor(cy), 0), gh - 1)
        cj = min(max(math.floor(cx), 0), gw - 1)
        sx = max(w / stride / 6.0, 0.35)
        sy = max(h / stride / 6.0, 0.35)
        bump = np.exp(-((jj - cj) ** 2 / (2 * sx * sx) + (ii - ci) ** 2 / (2 * sy * sy)))
        ch = int(g.label) - 1
        np.maximum(heat[ch], bump, out=heat[ch])
        heat_w[bump >= 0.05] = 1.0
        # the box head learns the centre cell and its 8 neighbours (a peak may land next to
        # the centre), the neighbours with a lower weight
        wgt = np.where((np.abs(ii - ci) <= 1) & (np.abs(jj - cj) <= 1), np.maximum(bump, 0.25), 0)
        take = wgt > reg_w
        reg_w[take] = wgt[take]
        reg[0][take] = (cx - (jj[take] + 0.5)).astype(np.float32)
        reg[1][take] = (cy - (ii[take] + 0.5)).astype(np.float32)
        reg[2][take] = math.log(w / BOX_REF)
        reg[3][take] = math.log(h / BOX_REF)
    return heat, heat_w, reg, reg_w


def _all_targets(samples: SampleSet) -> Targets:
    parts = [build_targets(t) for t in samples.truth]
    heat, heat_w, reg, reg_w = (np.stack([p[k] for p in parts]) for k in range(4))
    return heat, heat_w, reg, reg_w


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -z)


def focal_loss(
    out: np.ndarray,
    heat: np.ndarray,
    heat_w: np.ndarray,
    reg: np.ndarray,
    reg_w: np.ndarray,
    box_weight: float = 1.0,
) -> tuple[float, np.ndarray, dict[str, float]]:
    """Penalty-reduced focal loss on the heat logits plus weighted L1 on the box regression.

    Args:
        out: Network output ``[N, K + 4, gh, gw]`` (heat logits, then the box channels).
        heat: Target heat maps ``[N, K, gh, gw]`` (1 at centres).
        heat_w: Negative weights ``[N, gh, gw]`` (0 on ignored cells).
        reg: Box targets ``[N, 4, gh, gw]``.
        reg_w: Box weights ``[N, gh, gw]``.
        box_weight: Weight of the L1 term.

    Returns:
        ``(loss, dloss/dout, parts)``; both terms are divided by the number of objects (at
        least 1); the gradient has the dtype of ``out``.
    """
    z = out[:, :NUM_CLASSES].astype(np.float64)
    logp, log1mp = _log_sigmoid(z), _log_sigmoid(-z)
    p = np.exp(logp)
    pos = heat >= 1.0
    n_obj = max(int(pos.sum()), 1)
    neg_w = (1.0 - heat) ** 4 * heat_w[:, None]
    l_pos = np.where(pos, -((1 - p) ** 2) * logp, 0.0)
    l_neg = np.where(pos, 0.0, -neg_w * p * p * log1mp)
    g_pos = (1 - p) ** 2 * (2 * p * logp - (1 - p))
    g_neg = -neg_w * p * p * (2 * (1 - p) * log1mp - p)
    grad = np.empty_like(out)
    grad[:, :NUM_CLASSES] = np.where(pos, g_pos, g_neg) / n_obj
    d = out[:, NUM_CLASSES:].astype(np.float64) - reg
    l_box = float((reg_w[:, None] * np.abs(d)).sum()) / n_obj
    grad[:, NUM_CLASSES:] = box_weight * reg_w[:, None] * np.sign(d) / n_obj
    l_heat = float(l_pos.sum() + l_neg.sum()) / n_obj
    return l_heat + box_weight * l_box, grad, {"heat": l_heat, "box": l_box}


def _flip(
    x: np.ndarray, targets: Targets, fx: np.ndarray, fy: np.ndarray
) -> tuple[np.ndarray, Targets]:
    """Mirror the samples selected by ``fx`` left-right and by ``fy`` up-down (inputs and
    targets; the grid divides the input exactly, so cells map onto cells)."""
    x = x.copy()
    heat, heat_w, reg, reg_w = (t.copy() for t in targets)
    for sel, axis, ch in ((fx, -1, 0), (fy, -2, 1)):
        if not sel.any():
            continue
        x[sel] = np.flip(x[sel], axis=axis)
        heat[sel] = np.flip(heat[sel], axis=axis)
        heat_w[sel] = np.flip(heat_w[sel], axis=axis)
        reg_w[sel] = np.flip(reg_w[sel], axis=axis)
        r = np.flip(reg[sel], axis=axis)
        r[:, ch] = -r[:, ch]
        reg[sel] = r
    return x, (heat, heat_w, reg, reg_w)


# =================================================================================== training
def predict(net: nn.Sequential, params: nn.Params, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Network outputs ``[N, K + 4, gh, gw]`` of the numpy network for inputs ``x``."""
    outs = [net.forward(x[i : i + batch], params) for i in range(0, len(x), batch)]
    return np.concatenate(outs) if outs else np.zeros((0, NUM_CLASSES + 4, *GRID), np.float32)


def evaluate(
    outputs: np.ndarray, samples: SampleSet, min_score: float = 0.35
) -> dict[str, dict[str, Any]]:
    """Precision, recall and F1 per modality (and overall) of decoded outputs.

    Matching: :func:`~vision_pipeline.postprocess.match_detections` (class-aware, IoU >= 0.5;
    detections of objects flagged not visible count neither way), in network-input pixels
    (IoU does not change under the stretch back to frame pixels).
    """
    dec = HeatmapDecoder(min_score=min_score)
    counts = {m: MatchCounts() for m in (*MODALITIES, "all")}
    size = (INPUT_SHAPE[2], INPUT_SHAPE[3])
    for k in range(len(samples)):
        boxes, scores, labels = dec.decode(outputs[k, :NUM_CLASSES], outputs[k, NUM_CLASSES:], size)
        dets = [
            Detection((float(b[0]), float(b[1]), float(b[2]), float(b[3])), float(s), int(lab))
            for b, s, lab in zip(boxes, scores, labels)
        ]
        c = match_detections(dets, samples.truth[k])
        counts[MODALITIES[int(samples.modality[k])]] += c
        counts["all"] += c
    return {m: c.as_dict() for m, c in counts.items()}


def train_detector(
    config: TrainConfig | None = None, log: Callable[[str], None] | None = None
) -> tuple[nn.Params, dict[str, Any]]:
    """Train ``synthdet`` (see the module docstring).

    Args:
        config: The recipe (default :class:`TrainConfig`).
        log: Optional progress callback (one line per epoch).

    Returns:
        ``(deploy params by layer name in Caffe blob order, metrics dict)``.
    """
    cfg = config or TrainConfig()
    t_start = time.perf_counter()
    train = make_samples(TRAIN_SEED_BASE, cfg.train_scenes, cfg.seed)
    held = make_samples(HELDOUT_SEED_BASE, cfg.heldout_scenes, cfg.seed)
    targets = _all_targets(train)
    t_data = time.perf_counter() - t_start
    rng = np.random.default_rng(cfg.seed)
    net = build_net()
    params = init_params(net, rng)
    opt = nn.Adam(lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(train)
    steps_per_epoch = max(1, -(-n // cfg.batch_size))
    total = cfg.epochs * steps_per_epoch
    step = 0
    parts: dict[str, float] = {}
    for epoch in range(cfg.epochs):
        order = rng.permutation(n)
        acc: dict[str, list[float]] = {"loss": [], "heat": [], "box": []}
        for s in range(0, n, cfg.batch_size):
            idx = np.sort(order[s : s + cfg.batch_size])
            fx = rng.random(len(idx)) < 0.5
            fy = rng.random(len(idx)) < 0.5
            heat, heat_w, reg, reg_w = (t[idx] for t in targets)
            xb, (heat, heat_w, reg, reg_w) = _flip(train.x[idx], (heat, heat_w, reg, reg_w), fx, fy)
            # cosine decay from lr to 2 % of it over the whole run
            opt.lr = cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / total)))
            out = net.forward(xb, params)
            loss, grad, parts = focal_loss(out, heat, heat_w, reg, reg_w, cfg.box_weight)
            opt.step(params, net.backward(grad, params))
            acc["loss"].append(loss)
            acc["heat"].append(parts["heat"])
            acc["box"].append(parts["box"])
            step += 1
        if log is not None:
            log(
                f"epoch {epoch + 1:3d}/{cfg.epochs}  loss {np.mean(acc['loss']):.4f}  "
                f"(heat {np.mean(acc['heat']):.4f}, box {np.mean(acc['box']):.4f})  "
                f"lr {opt.lr:.2e}  {time.perf_counter() - t_start:.0f} s"
            )
    t_train = time.perf_counter() - t_start - t_data
    heldout = evaluate(predict(net, params, held.x), held, cfg.eval_min_score)
    train_eval = evaluate(
        predict(net, params, train.x[:400]), _head(train, 400), cfg.eval_min_score
    )
    metrics: dict[str, Any] = {
        "network": NAME,
        "made_by": "python -m vision_pipeline.train_detector (vision_pipeline/train_detector.py)",
        "config": dataclasses.asdict(cfg),
        "data": {
            "renderer": "vision_pipeline.sources.SyntheticScene, 240x320 visible + 120x160 thermal",
            "modalities": list(MODALITIES),
            "train_scene_seeds": [TRAIN_SEED_BASE, TRAIN_SEED_BASE + cfg.train_scenes],
            "heldout_scene_seeds": [HELDOUT_SEED_BASE, HELDOUT_SEED_BASE + cfg.heldout_scenes],
            "num_train_samples": len(train),
            "num_heldout_samples": len(held),
            "objects_per_scene": [2, 7],
        },
        "input": {
            "blob": INPUT_BLOB,
            "shape": list(INPUT_SHAPE),
            "preprocessing": PREPROCESS.to_dict(),
            "description": "BGR (grey frames replicated) stretched to 96x128, (pixel - 128) / 64",
        },
        "outputs": {
            HEAT_BLOB: f"[1, {NUM_CLASSES}, {GRID[0]}, {GRID[1]}] class centre logits",
            BOX_BLOB: f"[1, 4, {GRID[0]}, {GRID[1]}] (dx, dy, log(w/{BOX_REF:g}), log(h/..))",
            "stride": STRIDE,
            "decoder": "vision_pipeline.detector.HeatmapDecoder",
        },
        "evaluation": {
            "matching": "class-aware, IoU >= 0.5, greedy by score; objects not detectable "
            "in a sensor's frame count neither way",
            "min_score": cfg.eval_min_score,
            "heldout_float": heldout,
            "train_float_first_400_samples": train_eval,
        },
        "final_loss_parts": {k: round(v, 5) for k, v in parts.items()},
        "data_seconds": round(t_data, 1),
        "train_seconds": round(t_train, 1),
    }
    return deploy_params(params), metrics


def _head(s: SampleSet, n: int) -> SampleSet:
    return SampleSet(s.x[:n], s.modality[:n], s.truth[:n], s.seeds[:n])


# =================================================================================== export
def export_model(
    out_dir: str | os.PathLike[str], params: nn.Params, metrics: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``synthdet.prototxt``, ``synthdet.caffemodel`` and ``metrics.json``.

    Returns:
        ``(prototxt, caffemodel)`` paths.
    """
    from edge_dnn.caffe.caffemodel import write_caffemodel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    proto = net_parameter()
    header = (
        f"# {NAME}: single-shot detector trained by edge-dnn (python -m "
        "vision_pipeline.train_detector)\n"
        "# on synthetic visible + thermal scenes. Input: BGR 1x3x96x128, (pixel - 128) / 64.\n"
        "# Heads: heat (class centre logits) and box, decoded by "
        "vision_pipeline.detector.HeatmapDecoder.\n"
    )
    p_path, w_path = out / f"{NAME}.prototxt", out / f"{NAME}.caffemodel"
    p_path.write_text(header + text_format.MessageToString(proto))
    entries = [
        (lp.name, lp.type, [np.ascontiguousarray(b, np.float32) for b in params.get(lp.name, [])])
        for lp in proto.layer
    ]
    write_caffemodel(entries, w_path, name=NAME)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return p_path, w_path


# =================================================================================== command line
def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    d = TrainConfig()
    ap = argparse.ArgumentParser(
        prog="python -m vision_pipeline.train_detector",
        description="Train the synthdet detector on synthetic two-sensor scenes.",
    )
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--epochs", type=int, default=d.epochs)
    ap.add_argument("--train-scenes", type=int, default=d.train_scenes)
    ap.add_argument("--heldout-scenes", type=int, default=d.heldout_scenes)
    ap.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    args = ap.parse_args(argv)
    if args.epochs < 1 or args.train_scenes < 1 or args.heldout_scenes < 1:
        ap.error("--epochs, --train-scenes and --heldout-scenes must be >= 1")
    cfg = dataclasses.replace(
        d,
        seed=args.seed,
        epochs=args.epochs,
        train_scenes=args.train_scenes,
        heldout_scenes=args.heldout_scenes,
    )
    try:
        params, metrics = train_detector(cfg, log=None if args.quiet else print)
        export_model(args.out, params, metrics)
    except EdgeDnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for m, r in metrics["evaluation"]["heldout_float"].items():
        print(
            f"held-out {m:8s} precision {r['precision']:.3f} recall {r['recall']:.3f} "
            f"F1 {r['f1']:.3f}"
        )
    print(
        f"data {metrics['data_seconds']:.1f} s, training {metrics['train_seconds']:.1f} s; "
        f"wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
