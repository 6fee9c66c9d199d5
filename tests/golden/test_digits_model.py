"""The bundled ``digits`` model (edge_dnn/zoo/digits): a network with real trained weights.

Three independent forward passes over the committed prototxt + caffemodel must agree on the
held-out set recorded in ``split.json``: OpenCV's Caffe importer (the oracle), edge-dnn's
importer and float golden model, and the trainer's own numpy network. Each must reproduce the
accuracy recorded in ``metrics.json`` exactly, with identical predictions and logits within
1e-4 relative to OpenCV's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import edge_dnn
from edge_dnn.train import digits
from edge_dnn.zoo import available_models, model_files, zoo_path

MIN_ACCURACY = 0.97
MAX_CAFFEMODEL_BYTES = 200 * 1024


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return zoo_path("digits")


@pytest.fixture(scope="module")
def metrics(model_dir: Path) -> dict[str, Any]:
    return dict(json.loads((model_dir / "metrics.json").read_text()))


@pytest.fixture(scope="module")
def heldout(model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return digits.heldout_set(model_dir)


@pytest.fixture(scope="module")
def opencv_logits(model_dir: Path, heldout: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    proto, weights = model_files("digits")
    net = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    net.setInput(heldout[0])
    logits, prob = net.forward([digits.LOGITS_BLOB, digits.PROB_BLOB])
    logits = np.asarray(logits, dtype=np.float32).reshape(len(heldout[1]), 10)
    e = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        np.asarray(prob).reshape(logits.shape), e / e.sum(axis=1, keepdims=True), atol=1e-5
    )
    return logits


def assert_logits_close(ours: np.ndarray, ref: np.ndarray) -> None:
    bar = 1e-4 * max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(ours - ref).max())
    assert err <= bar, f"max |logit difference| {err:.3g} > {bar:.3g}"
    np.testing.assert_array_equal(ours.argmax(axis=1), ref.argmax(axis=1))


def test_artifacts_are_small_and_listed(model_dir: Path, metrics: dict[str, Any]) -> None:
    assert "digits" in available_models()
    proto, weights = model_files("digits")
    assert proto.parent == weights.parent == model_dir
    assert weights.stat().st_size < MAX_CAFFEMODEL_BYTES
    assert metrics["float_test_accuracy"] >= MIN_ACCURACY
    assert metrics["preprocessing"]["scale"] == digits.INPUT_SCALE


def test_split_and_data_are_reproducible(model_dir: Path, metrics: dict[str, Any]) -> None:
    """split.json is what the recorded rule gives, on the data set the model was trained on."""
    split = json.loads((model_dir / "split.json").read_text())
    x, y = digits.load_dataset()
    assert digits.dataset_sha256(x, y) == metrics["dataset_sha256"]
    tr, te = digits.split_indices(y)
    np.testing.assert_array_equal(te, split["test"])
    np.testing.assert_array_equal(tr, split["train"])
    assert len(te) == metrics["split"]["num_test"]
    assert sorted([*split["train"], *split["test"]]) == list(range(len(y)))


def test_opencv_reproduces_recorded_accuracy(
    opencv_logits: np.ndarray, heldout: tuple[np.ndarray, np.ndarray], metrics: dict[str, Any]
) -> None:
    correct = int((opencv_logits.argmax(axis=1) == heldout[1]).sum())
    assert correct == metrics["float_test_correct"]
    assert correct / len(heldout[1]) >= MIN_ACCURACY


def test_numpy_trainer_forward_equals_opencv(
    model_dir: Path, opencv_logits: np.ndarray, heldout: tuple[np.ndarray, np.ndarray]
) -> None:
    net = digits.build_net()
    ours = digits.predict_logits(net, digits.load_params(model_dir), heldout[0])
    assert_logits_close(ours, opencv_logits)


def test_edge_dnn_importer_equals_opencv(
    opencv_logits: np.ndarray, heldout: tuple[np.ndarray, np.ndarray], metrics: dict[str, Any]
) -> None:
    proto, weights = model_files("digits")
    graph = edge_dnn.load_caffe(proto, weights)
    assert graph.inputs == {digits.INPUT_BLOB: (1, 1, 8, 8)}
    out = graph.run({digits.INPUT_BLOB: heldout[0]}, outputs=[digits.LOGITS_BLOB, digits.PROB_BLOB])
    logits = out[digits.LOGITS_BLOB].reshape(opencv_logits.shape)
    assert_logits_close(logits, opencv_logits)
    correct = int((logits.argmax(axis=1) == heldout[1]).sum())
    assert correct == metrics["float_test_correct"]
    np.testing.assert_allclose(
        out[digits.PROB_BLOB].reshape(logits.shape).sum(axis=1), 1.0, atol=1e-5
    )
