"""The bundled ``digits`` CNN: trained in numpy on scikit-learn's 8x8 handwritten digits.

Data: ``sklearn.datasets.load_digits`` (1797 grey images of 8x8 pixels, levels 0..16, ten
classes). The network input is ``pixel / 16.0`` (float32 in [0, 1]), shape (N, 1, 8, 8).

Split (recorded in ``split.json`` next to the model so that tests can rebuild the held-out set
without retraining): ``sklearn.model_selection.train_test_split(np.arange(1797),
test_size=0.25, random_state=0, stratify=labels)`` -> 1347 training / 450 held-out images.
The training recipe was fixed a priori and not tuned on the held-out images.

Network (deploy form; 13,706 parameters, 91,776 MACs)::

    data 1x1x8x8 -> conv1 3x3 p1 (16) -> relu1 -> pool1 MAX 2/2 -> 16x4x4
                 -> conv2 3x3 p1 (32) -> relu2 -> pool2 MAX 2/2 -> 32x2x2
                 -> ip1 (64) -> relu3 -> ip2 (10) -> prob (Softmax)

scikit-learn is imported lazily: it is needed to train or to rebuild the evaluation set, never
to deploy the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format

from edge_dnn.errors import EdgeDnnError, ModelFormatError
from edge_dnn.train import nn

NET_NAME = "digits"
INPUT_BLOB = "data"
LOGITS_BLOB = "ip2"
PROB_BLOB = "prob"
INPUT_SCALE = 1.0 / 16.0
"""Preprocessing: network input = raw grey level (0..16) * INPUT_SCALE."""
NUM_SAMPLES = 1797
SPLIT_RULE: dict[str, Any] = {
    "rule": "sklearn.model_selection.train_test_split",
    "test_size": 0.25,
    "random_state": 0,
    "stratify": "labels",
    "shuffle": True,
}
DEFAULT_EPOCHS = 40
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4


def build_net() -> nn.Sequential:
    """The digits network, without parameters (see the module docstring)."""
    return nn.Sequential(
        [
            nn.Conv2d("conv1", 1, 16, 3, pad=1),
            nn.ReLU("relu1"),
            nn.MaxPool2d("pool1", 2, 2),
            nn.Conv2d("conv2", 16, 32, 3, pad=1),
            nn.ReLU("relu2"),
            nn.MaxPool2d("pool2", 2, 2),
            nn.InnerProduct("ip1", 32 * 2 * 2, 64),
            nn.ReLU("relu3"),
            nn.InnerProduct(LOGITS_BLOB, 64, 10),
        ],
        input_shape=(1, 8, 8),
    )


# =================================================================================== data
def _sklearn() -> Any:
    try:
        import sklearn.datasets
        import sklearn.model_selection
    except ImportError as exc:  # pragma: no cover - scikit-learn is a test dependency
        raise EdgeDnnError(
            "the digits data set comes from scikit-learn: pip install scikit-learn"
        ) from exc
    return sklearn


def load_dataset() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits, preprocessed.

    Returns:
        ``(x, y)``: ``x`` float32 (1797, 1, 8, 8) in [0, 1] (``pixel / 16``), ``y`` int64
        labels (1797,) in 0..9, in scikit-learn's order.
    """
    d = _sklearn().datasets.load_digits()
    images = np.asarray(d.images, dtype=np.float64)
    x = (images * INPUT_SCALE).astype(np.float32).reshape(-1, 1, 8, 8)
    return x, np.asarray(d.target, dtype=np.int64)


def dataset_sha256(x: np.ndarray, y: np.ndarray) -> str:
    """Fingerprint of the preprocessed data set (detects a changed scikit-learn copy)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype="<f4").tobytes())
    h.update(np.ascontiguousarray(y, dtype="<i8").tobytes())
    return h.hexdigest()


def split_indices(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out indices by :data:`SPLIT_RULE` (stratified 75/25, random_state 0)."""
    tr, te = _sklearn().model_selection.train_test_split(
        np.arange(len(y)),
        test_size=SPLIT_RULE["test_size"],
        random_state=SPLIT_RULE["random_state"],
        stratify=y,
        shuffle=True,
    )
    return np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)


# =================================================================================== training
def _shift(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Augmentation: translate each image by -1, 0 or +1 pixel per axis (zero fill)."""
    n = x.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    dy = rng.integers(0, 3, n)
    dx = rng.integers(0, 3, n)
    out = np.empty_like(x)
    # Nine possible offsets: loop over offsets, vectorised over the images that use each.
    for oy in range(3):
        for ox in range(3):
            sel = (dy == oy) & (dx == ox)
            out[sel] = xp[sel, :, oy : oy + 8, ox : ox + 8]
    return out


def predict_logits(
    net: nn.Sequential, params: nn.Params, x: np.ndarray, batch: int = 512
) -> np.ndarray:
    """Logits (N, 10) float32 of the numpy network for inputs (N, 1, 8, 8) float32."""
    outs = [net.forward(x[i : i + batch], params) for i in range(0, len(x), batch)]
    return np.concatenate(outs) if outs else np.zeros((0, 10), np.float32)


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy in [0, 1]."""
    return float((logits.argmax(axis=1) == y).mean())


def train_digits(
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    log: Callable[[str], None] | None = None,
) -> tuple[nn.Params, dict[str, Any]]:
    """Train the digits network.

    Recipe: Adam (lr 2e-3, halved at 50 % and 75 % of the epochs), L2 weight decay 1e-4 on
    weights, mini-batches of 32, +-1 pixel random translations; He-normal initialisation. All
    randomness (init, shuffling, augmentation) comes from ``np.random.default_rng(seed)``.

    Args:
        seed: Seed of every random choice.
        epochs: Passes over the 1347 training images.
        log: Optional progress callback (one line per epoch).

    Returns:
        ``(params, metrics)``: float32 blobs by layer name in Caffe order and shape, and a
        JSON-friendly dict (seed, epochs, split, preprocessing, train and held-out accuracy).
    """
    x, y = load_dataset()
    tr, te = split_indices(y)
    rng = np.random.default_rng(seed)
    net = build_net()
    params = net.init_params(rng, np.float32)
    opt = nn.Adam(lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    xtr, ytr = x[tr], y[tr]
    t0 = time.perf_counter()
    loss = float("nan")
    for epoch in range(epochs):
        # Halve at 50 % and again at 75 % of the run.
        opt.lr = LEARNING_RATE * 0.5 ** ((2 * epoch >= epochs) + (4 * epoch >= 3 * epochs))
        order = rng.permutation(len(tr))
        xa = _shift(xtr[order], rng)
        ya = ytr[order]
        losses = []
        for i in range(0, len(order), BATCH_SIZE):
            logits = net.forward(xa[i : i + BATCH_SIZE], params)
            loss, dlogits = nn.softmax_cross_entropy(logits, ya[i : i + BATCH_SIZE])
            opt.step(params, net.backward(dlogits, params))
            losses.append(loss)
        loss = float(np.mean(losses))
        if log is not None:
            log(f"epoch {epoch + 1:3d}/{epochs}  loss {loss:.4f}  lr {opt.lr:.2e}")
    seconds = time.perf_counter() - t0
    train_acc = accuracy(predict_logits(net, params, xtr), ytr)
    test_acc = accuracy(predict_logits(net, params, x[te]), y[te])
    metrics: dict[str, Any] = {
        "network": NET_NAME,
        "dataset": "sklearn.datasets.load_digits (1797 images, 8x8, grey levels 0..16)",
        "dataset_sha256": dataset_sha256(x, y),
        "preprocessing": {
            "description": "input = pixel / 16.0 (float32 in [0, 1]), NCHW 1x1x8x8",
            "scale": INPUT_SCALE,
            "mean": 0.0,
        },
        "input_blob": INPUT_BLOB,
        "logits_blob": LOGITS_BLOB,
        "output_blob": PROB_BLOB,
        "seed": seed,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "optimizer": {"type": "Adam", "lr": LEARNING_RATE, "weight_decay": WEIGHT_DECAY},
        "augmentation": "random translation by -1..+1 pixel per axis",
        "split": {**SPLIT_RULE, "num_train": len(tr), "num_test": len(te)},
        "final_train_loss": round(loss, 6),
        "train_accuracy": train_acc,
        "float_test_accuracy": test_acc,
        "float_test_correct": round(test_acc * len(te)),
        "train_seconds": round(seconds, 2),
    }
    return params, metrics


# =================================================================================== export
def export_model(
    out_dir: str | os.PathLike[str], params: nn.Params, metrics: dict[str, Any]
) -> None:
    """Write ``digits.prototxt``, ``digits.caffemodel``, ``metrics.json`` and ``split.json``.

    The caffemodel goes through edge-dnn's own writer
    (:func:`edge_dnn.caffe.caffemodel.write_caffemodel`), one V2 layer per deploy layer.
    """
    from edge_dnn.caffe.caffemodel import write_caffemodel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net = build_net()
    proto = net.to_net_parameter(NET_NAME, INPUT_BLOB)
    prob = proto.layer.add()
    prob.name, prob.type = PROB_BLOB, "Softmax"
    prob.bottom.append(LOGITS_BLOB)
    prob.top.append(PROB_BLOB)
    header = (
        "# digits: small CNN trained by edge-dnn (tools/train_digits.py) on scikit-learn's 8x8\n"
        "# handwritten digits. Input: pixel / 16.0 in [0, 1], 1x1x8x8. See metrics.json.\n"
    )
    (out / f"{NET_NAME}.prototxt").write_text(header + text_format.MessageToString(proto))
    entries = [
        (lp.name, lp.type, [np.ascontiguousarray(b, np.float32) for b in params.get(lp.name, [])])
        for lp in proto.layer
    ]
    write_caffemodel(entries, out / f"{NET_NAME}.caffemodel", name=NET_NAME)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _, y = load_dataset()
    tr, te = split_indices(y)
    split = {**SPLIT_RULE, "train": tr.tolist(), "test": te.tolist()}
    (out / "split.json").write_text(json.dumps(split) + "\n")


def load_params(model_dir: str | os.PathLike[str]) -> nn.Params:
    """The blobs of ``digits.caffemodel`` in ``model_dir`` as a :data:`nn.Params` dict."""
    from edge_dnn.caffe.caffemodel import blob_to_array, read_caffemodel

    path = Path(model_dir) / f"{NET_NAME}.caffemodel"
    net = read_caffemodel(os.fspath(path))
    params = {
        lp.name: [
            blob_to_array(b, where=f"{path}: layer '{lp.name}' blob {k}")
            for k, b in enumerate(lp.blobs)
        ]
        for lp in net.layer
        if lp.blobs
    }
    want = build_net()
    for m, s in zip(want.modules, want.in_shapes):
        shapes = m.param_shapes(s)
        got = [tuple(b.shape) for b in params.get(m.name, [])]
        if got != shapes:
            raise ModelFormatError(
                f"layer '{m.name}': expected blobs {shapes}, found {got}", path=os.fspath(path)
            )
    return params


def heldout_set(model_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """The held-out images and labels recorded in ``split.json`` (needs scikit-learn).

    Returns:
        ``(x, y)``: float32 (450, 1, 8, 8) in [0, 1] and int64 labels (450,).
    """
    path = Path(model_dir) / "split.json"
    try:
        test = np.asarray(json.loads(path.read_text())["test"], dtype=np.int64)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFormatError(f"cannot read the held-out indices: {exc}", path=str(path)) from exc
    x, y = load_dataset()
    return x[test], y[test]
