"""Acceptance tests of the quantizer on real networks.

1. LeNet with its real MNIST weights on scikit-learn's digits (upscaled to MNIST's layout):
   int8 top-1 equals float top-1 on >= 99% of the 1797 images.
2. YuFaceDetectNet v1 with its real weights on the peer image: every float detection above 0.5
   has an int8 twin (same label, IoU >= 0.9) and int8 adds none.
3. Every shared network with seeded random weights and random inputs: per-layer SQNR report;
   final-output SQNR >= 20 dB in int8 for AlexNet, GoogLeNet and SqueezeNet v1.1; for every net
   below 20 dB, ``precision="mixed"`` raises the SQNR of its weakest layers.
4. ``edge-dnn quantize`` on LeNet writes a REPORT.json with per-layer SQNRs and the top-1
   agreement.

Run with ``-s`` to see the measured figures (lines starting with ``[acceptance]``).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.datasets import load_digits

import edge_dnn
from edge_dnn.cli import main
from edge_dnn.graph import Graph
from edge_dnn.layers.detection_output import DetectionOutput
from edge_dnn.quant.calibration import KLObserver
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import (
    DEFAULT_SQNR_DB,
    MAX_PROMOTION_ROUNDS,
    QuantizationWarning,
    quantize,
)
from edge_dnn.quant.report import QuantReport, make_report
from tests.golden.test_nets_vs_opencv import NETS

LEGACY = {"bvlc_alexnet_v1", "caffenet_v0"}
"""Same networks as bvlc_alexnet / caffenet in legacy prototxt formats: not quantized twice."""

MUST_REACH_20DB = {"bvlc_alexnet", "googlenet", "squeezenet_v1.1"}

YUFACE_MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32).reshape(1, 3, 1, 1)
"""Per-channel mean subtracted from the peer input (its channel c ranges over [-mean_c,
255 - mean_c]; measured: B in [-101, 151], G in [-113, 126], R in [-121, 117])."""


def say(msg: str) -> None:
    print(f"[acceptance] {msg}")


# ---------------------------------------------------------------------------- 1. LeNet / digits
def digits_as_mnist() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits in LeNet's input form: float32 [1797, 1, 28, 28], labels [1797].

    Each 8x8 image (0..16, white ink on black as MNIST) is upscaled to 20x20 (bilinear), centred
    in a 28x28 canvas (MNIST's digits occupy the central 20x20 box), mapped to [0, 255] and
    scaled by 1/256 like the peer input.
    """
    ds = load_digits()
    imgs = ds.images.astype(np.float32)
    x = np.zeros((imgs.shape[0], 1, 28, 28), np.float32)
    for i, im in enumerate(imgs):
        x[i, 0, 4:24, 4:24] = cv2.resize(im, (20, 20), interpolation=cv2.INTER_LINEAR)
    x = np.clip(x, 0.0, 16.0) * np.float32(255.0 / 16.0) / np.float32(256.0)
    return x, ds.target.astype(np.int64)


@pytest.fixture(scope="module")
def lenet(nets_dir: Path) -> Graph:
    d = nets_dir / "lenet"
    return edge_dnn.load_caffe(d / "lenet.prototxt", d / "lenet_iter_10000.caffemodel")


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return digits_as_mnist()


@pytest.fixture(scope="module")
def lenet_calib(digits: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """200 digits drawn without replacement (seeded), all classes represented."""
    x, _ = digits
    idx = np.sort(np.random.default_rng(2024).choice(x.shape[0], 200, replace=False))
    return x[idx]


def batches(x: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for s in range(0, x.shape[0], size):
        yield x[s : s + size]


@pytest.mark.slow
def test_lenet_digits_int8_top1_agrees_with_float(
    lenet: Graph, digits: tuple[np.ndarray, np.ndarray], lenet_calib: np.ndarray
) -> None:
    x, y = digits
    qg = quantize(lenet, lenet_calib, progress=False)  # default method (KL), int8
    assert qg.precision == "int8" and qg.method == "kl"
    out = qg.outputs[0]
    pf, pq = [], []
    for b in batches(x, 256):  # 256 x 20 x 24 x 24 float32 = 12 MB per activation
        pf.append(qg.run_float(b)[out].reshape(b.shape[0], -1).argmax(axis=1))
        pq.append(qg.run(b)[out].reshape(b.shape[0], -1).argmax(axis=1))
    f, q = np.concatenate(pf), np.concatenate(pq)
    agree = float(np.mean(f == q))
    acc_f, acc_q = float(np.mean(f == y)), float(np.mean(q == y))
    say(
        f"LeNet on {x.shape[0]} sklearn digits: int8/float top-1 agreement {100 * agree:.2f}% "
        f"({int(np.sum(f != q))} differ); accuracy vs labels float {100 * acc_f:.2f}%, "
        f"int8 {100 * acc_q:.2f}%"
    )
    assert agree >= 0.99
    # The report computes the same figures.
    rep = make_report(qg, list(batches(x, 256)), labels=y, progress=False, own_sqnr=False)
    (o,) = rep.outputs
    assert o.top1_agreement == pytest.approx(agree) and o.float_top1 == pytest.approx(acc_f)
    # The logits feed Softmax: calibrated to max|x| (no clipping of the winning class).
    ip2 = qg.tensors["ip2"]
    assert ip2.scale == float(np.float32(qg.ranges["ip2"].abs_max / ip2.qmax))


# ---------------------------------------------------------------------------- 2. YuFace
def yuface_calibration(x: np.ndarray) -> np.ndarray:
    """The peer image and 8 deterministic variants of it, float32 [9, 3, 240, 320].

    Why this is a fair calibration set: post-training calibration uses a few hundred images
    *from the deployment distribution*; the peer image is the only real face image available,
    and its variants (mirror, shifts and a border crop padded back to size with the mean colour,
    brightness and contrast changes, all in pixel space and clipped to [0, 255]) are the
    label-preserving photometric/geometric changes a camera sees, so the ranges are not fitted
    to one exact set of pixel statistics. The test compares int8 with float on the peer image
    (agreement, not accuracy against labels), so calibrating on it leaks no ground truth; the
    variants are also checked below.
    """
    pix = x + YUFACE_MEAN_BGR  # back to 0..255 BGR

    def shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
        out = np.broadcast_to(YUFACE_MEAN_BGR, a.shape).copy()  # pad with the mean colour
        h, w = a.shape[2:]
        out[:, :, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = a[
            :, :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
        return out

    crop = np.broadcast_to(YUFACE_MEAN_BGR, pix.shape).copy()
    crop[:, :, 12:-12, 16:-16] = pix[:, :, 12:-12, 16:-16]
    variants = [
        pix,
        pix[:, :, :, ::-1],
        shifted(pix, 12, 16),
        shifted(pix, -12, -16),
        crop,
        pix + 25.0,
        pix - 25.0,
        (pix - 128.0) * 1.25 + 128.0,
        (pix - 128.0) * 0.75 + 128.0,
    ]
    out = np.concatenate([np.clip(v, 0.0, 255.0) for v in variants]) - YUFACE_MEAN_BGR
    return np.ascontiguousarray(out, dtype=np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard overlap of two (xmin, ymin, xmax, ymax) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match_detections(
    fdet: np.ndarray, qdet: np.ndarray, conf: float = 0.5
) -> tuple[list[tuple[float, float, float]], list[str]]:
    """Pair float and int8 detections above ``conf`` (rows of 7 values).

    Returns (pairs of (float score, int8 score, IoU), problems). A float detection without an
    int8 detection of the same label at IoU >= 0.9, or an int8 detection left over, is a problem.
    """
    f = fdet.reshape(-1, 7)
    q = qdet.reshape(-1, 7)
    f = f[f[:, 2] > conf]
    q = q[q[:, 2] > conf]
    used: set[int] = set()
    pairs, problems = [], []
    for d in f[np.argsort(-f[:, 2], kind="stable")]:
        cands = [(iou(d[3:], e[3:]), j) for j, e in enumerate(q) if j not in used and e[1] == d[1]]
        best = max(cands, default=(0.0, -1))
        if best[0] >= 0.9:
            used.add(best[1])
            pairs.append((float(d[2]), float(q[best[1], 2]), best[0]))
        else:
            problems.append(f"float detection {d.tolist()} has no int8 twin (best IoU {best[0]})")
    problems += [f"extra int8 detection {q[j].tolist()}" for j in range(len(q)) if j not in used]
    return pairs, problems


@pytest.mark.slow
def test_yuface_int8_detections_match_float(nets_dir: Path) -> None:
    d = nets_dir / "yufacedetectnet_v1"
    g = edge_dnn.load_caffe(
        d / "yufacedetectnet-open-v1.prototxt", d / "yufacedetectnet-open-v1.caffemodel"
    )
    x = np.load(d / "peer_opencv412" / "input_data.npy")
    cal = yuface_calibration(x)
    qg = quantize(g, cal, progress=False, batch_size=3)  # default method (KL), int8
    # The detection head runs in integers up to the softmax; prior boxes are compile-time float.
    assert qg.nodes["conv4_3_norm_mbox_conf"].kernel == "engine"
    assert qg.tensors["mbox_priorbox"].is_float
    rep = make_report(qg, [{"data": x}], progress=False)
    own = {r.name: r.layer_sqnr_db for r in rep.rows if r.kernel == "engine"}
    worst = min(own, key=lambda k: own[k])
    say(f"YuFace int8 weakest engine layer (own SQNR): {worst} {own[worst]:.1f} dB")
    # KL once put conv4_3_norm_mbox_conf at 2 dB (threshold 0.09 max|x|: the degenerate
    # minimum of logits without mass near 0, see test_kl_never_clips_most_of_a_tensor; on this
    # calibration set its 10800 values are also too few for the KL search).
    assert own[worst] > 15.0
    for i in range(cal.shape[0]):
        f = qg.run_float(cal[i : i + 1])["detection_out"]
        q = qg.run(cal[i : i + 1])["detection_out"]
        pairs, problems = match_detections(f, q)
        tag = "peer image" if i == 0 else f"calibration variant {i}"
        say(
            f"YuFace {tag}: {len(pairs)} float detection(s) > 0.5 matched by int8 "
            + ", ".join(f"(score {a:.4f} -> {b:.4f}, IoU {c:.3f})" for a, b, c in pairs)
            + (f"; problems: {problems}" if problems else "")
        )
        assert not problems, (tag, problems)
        if i == 0:
            assert len(pairs) >= 1  # the peer image holds a face


# ---------------------------------------------------------------------------- 3. every net
def final_sqnr(qg: QuantizedGraph, rep: QuantReport) -> tuple[float, list[str]]:
    """End-to-end SQNR of the network's final output(s) (the minimum) and the tensors used.

    A DetectionOutput's rows are data dependent (a score crossing the threshold changes the
    row count and order), so for detectors the final output is what feeds it: the box offsets
    and class scores (the prior boxes are exact compile-time constants).
    """
    by_tensor = {r.tensor: r for r in rep.rows}
    used: list[str] = []
    for t in qg.outputs:
        p = qg.graph.producer(t)
        if isinstance(p.layer, DetectionOutput):
            used += [i for i in p.inputs if not math.isinf(by_tensor[i].sqnr_db)]
        else:
            used.append(t)
    return min(by_tensor[t].sqnr_db for t in used), used


def logits_sqnr(qg: QuantizedGraph, rep: QuantReport) -> str:
    """For the record: the SQNR of a final Softmax's input (the softmax saturates to exact
    one-hot outputs when random logits are large, e.g. ResNet-50)."""
    by_tensor = {r.tensor: r for r in rep.rows}
    parts = []
    for t in qg.outputs:
        p = qg.graph.producer(t)
        if p.type == "Softmax":
            parts.append(f"; its input {p.inputs[0]} {by_tensor[p.inputs[0]].sqnr_db:.1f} dB")
    return "".join(parts)


def min_layer_sqnr(rep: QuantReport) -> tuple[float, str]:
    """The lowest own (per-layer) SQNR of the report and its layer (NaN rows ignored)."""
    rows = [r for r in rep.rows if not math.isnan(r.layer_sqnr_db)]
    r = min(rows, key=lambda r: r.layer_sqnr_db)
    return r.layer_sqnr_db, r.name


NET_KEYS = sorted(k for k in NETS if k not in LEGACY)


@pytest.mark.slow
@pytest.mark.parametrize("key", NET_KEYS)
def test_random_weight_nets_sqnr_report(key: str, nets_dir: Path) -> None:
    """Per-layer SQNR of every shared net with seeded random weights and N(0, 1) inputs.

    Calibration (default method, KL): 8 random samples (VGG-16: 4: with one, the evaluation
    sample's top logits exceed the calibrated range); evaluation: 2 other random samples
    (VGG-16: 1); batch 1.
    """
    graph = edge_dnn.load_caffe(nets_dir / NETS[key])
    graph.init_random_weights(seed=1234)
    rng = np.random.default_rng(99)
    n_cal, n_eval = (4, 1) if key == "vgg16" else (8, 2)
    shapes = {k: (1, *s[1:]) for k, s in graph.inputs.items()}

    def feed() -> dict[str, np.ndarray]:
        return {k: rng.standard_normal(s, dtype=np.float32) for k, s in shapes.items()}

    cal = [feed() for _ in range(n_cal)]
    ev = [feed() for _ in range(n_eval)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        q8 = quantize(graph, cal, progress=False)
    rep8 = make_report(q8, ev, progress=False)
    fin8, used = final_sqnr(q8, rep8)
    low8, low8_name = min_layer_sqnr(rep8)
    say(
        f"{key}: int8 final SQNR {fin8:.1f} dB ({', '.join(used)}{logits_sqnr(q8, rep8)}), "
        f"lowest layer SQNR {low8:.1f} dB ({low8_name})"
    )
    if key in MUST_REACH_20DB:
        assert fin8 >= 20.0, rep8.format_table()
    if key == "googlenet":
        # Concat: no branch is clipped below its own threshold.
        for n in q8.graph.nodes:
            if n.type == "Concat":
                t = q8.tensors[n.outputs[0]]
                top = t.scale * t.qmax
                for i in n.inputs:
                    assert top >= q8.ranges[i].threshold_for(t.qmax) * (1 - 1e-6), (n.name, i)
    if fin8 >= 20.0:
        return
    # The final SQNR can be low although every layer is above the default promotion threshold
    # (errors accumulate over VGG-16's 16 layers; the softmax turns a logit error e into a
    # relative probability error e): the threshold then sits just above the weakest layers.
    threshold = max(DEFAULT_SQNR_DB, low8 + 6.0)
    rounds = 1 if key == "vgg16" else MAX_PROMOTION_ROUNDS  # a VGG-16 round costs ~25 s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qm = quantize(
            graph,
            cal,
            precision="mixed",
            sqnr_threshold_db=threshold,
            max_rounds=rounds,
            progress=False,
        )
    repm = make_report(qm, ev, progress=False)
    finm, _ = final_sqnr(qm, repm)
    lowm, lowm_name = min_layer_sqnr(repm)
    wide = sorted(n for n, p in qm.layer_precisions().items() if p == "int16")
    say(
        f"{key}: mixed (promotion below {threshold:.1f} dB) final SQNR {finm:.1f} dB, lowest "
        f"layer SQNR {lowm:.1f} dB ({lowm_name}); {len(wide)} of {len(qm.nodes)} nodes int16"
    )
    assert wide, "mixed promoted nothing"
    assert lowm > low8, (low8_name, low8, lowm_name, lowm)


# ---------------------------------------------------------------------------- 4. CLI
def test_cli_quantize_lenet_writes_report(
    tmp_path: Path, nets_dir: Path, lenet_calib: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    d = nets_dir / "lenet"
    calib = tmp_path / "digits.npy"
    np.save(calib, lenet_calib)
    out = tmp_path / "REPORT.json"
    argv = ["quantize", str(d / "lenet.prototxt"), "--weights"]
    argv += [str(d / "lenet_iter_10000.caffemodel"), "--calib", str(calib), "-o", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        assert main(argv) == 0
    text = capsys.readouterr().out
    assert "top-1 agreement" in text and f"wrote {out}" in text
    doc = json.loads(out.read_text())
    assert doc["network"] == "LeNet" and doc["precision"] == "int8" and doc["method"] == "kl"
    assert doc["samples"] == lenet_calib.shape[0]
    layers = {r["name"]: r for r in doc["layers"]}
    assert {"conv1", "pool1", "conv2", "pool2", "ip1", "ip2", "prob"} <= set(layers)
    for name in ("conv1", "conv2", "ip1", "ip2", "prob"):
        r = layers[name]
        assert isinstance(r["sqnr_db"], float) and isinstance(r["layer_sqnr_db"], float), r
        assert r["sqnr_db"] > 15.0 and r["layer_sqnr_db"] > 20.0, r
    (o,) = doc["outputs"]
    assert o["tensor"] == "prob" and o["classifier"] and o["samples"] == lenet_calib.shape[0]
    assert o["top1_agreement"] >= 0.99
    with capsys.disabled():
        say(f"CLI REPORT.json: top-1 agreement {100 * o['top1_agreement']:.2f}% on the calib set")


# ---------------------------------------------------------------------------- KL regression
def test_kl_never_clips_most_of_a_tensor() -> None:
    """Logits with no mass near 0: KL's degenerate candidate (one kept bin) is excluded."""
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(1.2, 0.3, 50_000), -rng.normal(1.2, 0.3, 50_000)])
    x = x[np.abs(x) > 0.25].astype(np.float32)
    x[:1] = 0.26  # one isolated smallest value
    o = KLObserver("logits")
    o.observe(x)
    thr = o.threshold(127)
    assert float(np.mean(np.abs(x) > thr)) < 0.5
    assert thr > float(np.median(np.abs(x)))
