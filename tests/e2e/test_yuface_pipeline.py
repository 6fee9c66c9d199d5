"""YuFaceDetectNet v1 (real weights, ``shared/``) through the threaded pipeline on its peer input.

The peer input (``peer_opencv412/input_data.npy``, BGR minus the integer means 104/117/123) is
turned back into the 8-bit image it came from, written as a PNG and read by an image-folder
source, so the frame goes through the same file decoding, preprocessing and decoding as any
other. Checks:

* the preprocessor rebuilds the peer input bit for bit;
* the float pipeline (:class:`GraphBackend`) gives exactly the float golden model's detections
  (``Graph.run`` -> DetectionOutput rows -> frame pixels), which agree with OpenCV's;
* on the emulated board (:class:`CompiledBackend`), the pipeline's detections equal those of the
  bit-exact integer reference (:class:`QuantizedBackend`) and the confident ones match the float
  golden model's (same count, IoU >= 0.9, score within 0.02).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

import edge_dnn
from edge_dnn.compiler import compile_model
from edge_dnn.graph import Graph
from edge_dnn.quant.calib_data import Preprocess
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from vision_pipeline.backends import (
    CompiledBackend,
    GraphBackend,
    InferenceBackend,
    QuantizedBackend,
)
from vision_pipeline.pipeline import Pipeline, SensorModel
from vision_pipeline.postprocess import Detection, SSDDecoder, detections_from_rows, iou_matrix
from vision_pipeline.preprocess import InputSpec, Preprocessor
from vision_pipeline.sinks import FrameResult
from vision_pipeline.sources import ImageFolderSource

pytestmark = pytest.mark.e2e

MEAN = (104.0, 117.0, 123.0)
PRE = Preprocess(mean_value=MEAN)
LABELS = ("background", "face")


@pytest.fixture(scope="module")
def yuface(nets_dir: Path) -> tuple[Graph, np.ndarray, Path]:
    d = nets_dir / "yufacedetectnet_v1"
    g = edge_dnn.load_caffe(
        d / "yufacedetectnet-open-v1.prototxt", d / "yufacedetectnet-open-v1.caffemodel"
    )
    x = np.load(d / "peer_opencv412" / "input_data.npy")
    return g, x, d / "peer_opencv412"


def _peer_image(x: np.ndarray, folder: Path) -> Path:
    img = x[0] + np.asarray(MEAN, np.float32)[:, None, None]
    assert np.array_equal(img, np.round(img)) and img.min() >= 0 and img.max() <= 255
    folder.mkdir()
    assert cv2.imwrite(str(folder / "peer.png"), img.transpose(1, 2, 0).astype(np.uint8))
    return folder


def _run(folder: Path, backend: InferenceBackend, spec: InputSpec) -> tuple[list, Preprocessor]:
    pre = Preprocessor.for_backend(spec, backend)
    dec = SSDDecoder(rows="detection_out", labels=LABELS)
    got: list[FrameResult] = []
    before = set(threading.enumerate())
    stats = Pipeline(
        ImageFolderSource(folder), SensorModel(backend, pre, dec), on_result=got.append
    ).run()
    assert stats.frames_out == 1 and len(got) == 1
    assert set(threading.enumerate()) <= before
    return got[0].detections, pre


def _same(a: list[Detection], b: list[Detection]) -> bool:
    return [(d.box, d.score, d.label) for d in a] == [(d.box, d.score, d.label) for d in b]


@pytest.fixture(scope="module")
def quantized(yuface: tuple[Graph, np.ndarray, Path]) -> QuantizedGraph:
    g, x, _ = yuface
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        return quantize(g, {"data": x}, method="minmax", progress=False)


def test_float_pipeline_gives_the_golden_models_detections(
    yuface: tuple[Graph, np.ndarray, Path], tmp_path: Path
) -> None:
    g, x, peer = yuface
    folder = _peer_image(x, tmp_path / "frames")
    backend = GraphBackend(g)
    dets, pre = _run(folder, backend, InputSpec.from_graph(g, PRE))
    assert np.array_equal(pre.buffer, x)  # the frame became exactly the peer input
    golden = g.run({"data": x})["detection_out"]
    geo = pre(cv2.imread(str(folder / "peer.png")))
    want = detections_from_rows(golden, geo, LABELS)
    assert len(want) >= 1 and _same(dets, want)
    # OpenCV keeps more low-score rows (its NMS differs); the confident ones agree.
    peer_rows = np.load(peer / "detection_out.npy").reshape(-1, 7)
    ours = golden.reshape(-1, 7)
    np.testing.assert_allclose(
        ours[ours[:, 2] >= 0.5], peer_rows[peer_rows[:, 2] >= 0.5], atol=1e-4
    )
    face = dets[0]
    print(
        f"\nYuFaceDetectNet float pipeline: {len(dets)} detections, best {face.name} "
        f"{face.score:.4f} at {[round(v, 1) for v in face.box]}"
    )
    assert face.label == 1 and face.score > 0.99


def test_emulated_board_pipeline_matches_reference_and_golden(
    yuface: tuple[Graph, np.ndarray, Path], quantized: QuantizedGraph, tmp_path: Path
) -> None:
    g, x, _ = yuface
    folder = _peer_image(x, tmp_path / "frames")
    model = compile_model(quantized, "zcu104", preprocess=PRE)
    board = CompiledBackend(model)
    dets, pre = _run(folder, board, board.input_spec())
    assert pre.buffer.dtype.kind == "i"
    ref_backend = QuantizedBackend(quantized)
    ref, _ = _run(folder, ref_backend, InputSpec.from_quantized(quantized, PRE))
    assert _same(dets, ref)  # the board and the integer reference agree exactly

    geo = pre(cv2.imread(str(folder / "peer.png")))
    golden = detections_from_rows(g.run({"data": x})["detection_out"], geo, LABELS)
    confident: Callable[[list[Detection]], list[Detection]] = lambda ds: [  # noqa: E731
        d for d in ds if d.score >= 0.5
    ]
    a, b = confident(dets), confident(golden)
    assert len(a) == len(b) >= 1
    iou = iou_matrix(np.asarray([d.box for d in a]), np.asarray([d.box for d in b]))
    assert np.all(iou.max(axis=1) >= 0.9)
    for d, k in zip(a, iou.argmax(axis=1)):
        assert abs(d.score - b[k].score) <= 0.02 and d.label == b[k].label
    print(
        f"\nYuFaceDetectNet on the emulated board: {len(a)} confident detection(s), "
        f"IoU with the float model {iou.max(axis=1).round(3).tolist()}, "
        f"scores {[round(d.score, 4) for d in a]} vs {[round(d.score, 4) for d in b]}"
    )
