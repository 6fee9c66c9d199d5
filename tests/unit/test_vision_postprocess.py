"""Post-processing: top-k, SSD decoding on the host vs the in-graph DetectionOutput, pixel
conversion, blob detection, ground-truth matching and the IoU tracker."""

from __future__ import annotations

import numpy as np
import pytest

from edge_dnn.layers.detection_output import DetectionOutput
from edge_dnn.quant.calib_data import Preprocess
from tests.unit.vision_nets import NUM_CLASSES, TINY_SSD, tiny_graph
from vision_pipeline.backends import GraphBackend
from vision_pipeline.errors import VisionError
from vision_pipeline.postprocess import (
    ClassifierDecoder,
    Detection,
    IouTracker,
    SSDDecoder,
    blob_detections,
    detections_from_rows,
    iou_matrix,
    match_detections,
    top_k,
)
from vision_pipeline.preprocess import Geometry, InputSpec, Preprocessor
from vision_pipeline.sources import GroundTruth

LABELS = ("background", "box", "disc", "bar")


# ============================================================================ top-k
def test_top_k_orders_by_score_with_labels_and_stable_ties() -> None:
    scores = np.array([[0.1, 0.4, 0.05, 0.4, 0.05]], np.float32)
    got = top_k(scores, 3, ["a", "b", "c", "d", "e"])
    assert [(c.label, c.name) for c in got] == [(1, "b"), (3, "d"), (0, "a")]
    assert got[0].score == pytest.approx(0.4)
    assert [c.label for c in top_k(scores.reshape(1, 5, 1, 1), 10)] == [1, 3, 0, 2, 4]
    assert top_k(scores, 0) == [] and top_k(np.zeros(0), 3) == []
    dec = ClassifierDecoder("prob", k=2, labels={1: "one"})
    res = dec({"prob": scores}, Geometry((1, 1), (1, 1), (1, 1), (0, 0)))
    assert [(c.label, c.name) for c in res] == [(1, "one"), (3, "")]
    with pytest.raises(VisionError, match="'prob'"):
        dec({}, Geometry((1, 1), (1, 1), (1, 1), (0, 0)))


# ============================================================================ SSD
def test_host_ssd_decoding_equals_the_graphs_detection_output() -> None:
    g = tiny_graph(TINY_SSD, seed=3)
    outs = ["mbox_loc", "mbox_conf", "mbox_priorbox", "detection_out"]
    backend = GraphBackend(g, outputs=outs)
    pre = Preprocess(mean_value=(128.0,), scale=1 / 128)
    p = Preprocessor.for_backend(InputSpec.from_graph(g, pre), backend)
    layer = g.node("detection_out").layer
    assert isinstance(layer, DetectionOutput)
    host = SSDDecoder(
        layer, loc="mbox_loc", conf="mbox_conf", priors="mbox_priorbox", labels=LABELS
    )
    ingraph = SSDDecoder(rows="detection_out", labels=LABELS)
    rng = np.random.default_rng(0)
    n_dets = 0
    for _ in range(3):
        frame = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
        geo = p(frame)
        res = backend.run({"data": p.buffer})
        a, b = host(res, geo), ingraph(res, geo)
        assert a == b
        n_dets += len(a)
        for d in a:
            assert 0 <= d.box[0] < d.box[2] <= 80 and 0 <= d.box[1] < d.box[3] <= 60
            assert d.name == LABELS[d.label] and d.score > 0.2
    assert n_dets > 0
    # Priors given as an array instead of a tensor name: same result.
    arr = SSDDecoder(layer, loc="mbox_loc", conf="mbox_conf", priors=res["mbox_priorbox"])
    assert [d.box for d in arr(res, geo)] == [d.box for d in host(res, geo)]


def test_decoder_from_layer_params_and_errors() -> None:
    dec = SSDDecoder.from_layer_params(
        NUM_CLASSES,
        nms_threshold=0.45,
        code_type="CENTER_SIZE",
        loc="l",
        conf="c",
        priors=np.zeros((1, 2, 8), np.float32),
    )
    assert dec.layer is not None and dec.layer.num_classes == NUM_CLASSES
    with pytest.raises(VisionError, match="not among"):
        dec({"c": np.zeros((1, 8))}, Geometry((1, 1), (1, 1), (1, 1), (0, 0)))
    with pytest.raises(VisionError, match="invalid DetectionOutput"):
        SSDDecoder.from_layer_params(0)
    with pytest.raises(VisionError, match="needs rows"):
        SSDDecoder(loc="l")


def test_detection_rows_to_frame_pixels_by_hand() -> None:
    geo = Geometry((128, 256), (64, 64), (0.25, 0.5), (0.0, 0.0))  # stretch 256x128 -> 64x64
    rows = np.array(
        [
            [0, 2, 0.9, 0.25, 0.5, 0.75, 1.0],
            [0, 1, 0.1, 0.0, 0.0, 0.5, 0.5],  # below min_score
            [0, -1, -1, -1, -1, -1, -1],  # SSD placeholder row
            [1, 1, 0.95, 0.0, 0.0, 1.0, 1.0],  # another image
            [0, 3, 0.8, 1.1, 0.0, 1.3, 0.5],  # outside the frame after clipping: dropped
        ],
        np.float32,
    ).reshape(1, 1, -1, 7)
    dets = detections_from_rows(rows, geo, LABELS, min_score=0.5, sensor="cam")
    assert len(dets) == 1
    d = dets[0]
    assert d.box == pytest.approx((64.0, 64.0, 192.0, 128.0))
    assert (d.label, d.name, d.sensor) == (2, "disc", "cam")
    assert d.score == pytest.approx(0.9)


# ============================================================================ blobs, matching
def test_blob_detections_find_warm_regions() -> None:
    img = np.full((60, 80), 50, np.uint8)
    img[10:20, 5:25] = 200
    img[40:50, 60:70] = 120
    img[0:2, 78:80] = 255  # too small
    dets = blob_detections(img, threshold=40, min_area=10, label=1, name="warm", sensor="ir")
    assert [d.box for d in dets] == [(5.0, 10.0, 25.0, 20.0), (60.0, 40.0, 70.0, 50.0)]
    assert dets[0].score == pytest.approx(150 / 205) and dets[1].score == pytest.approx(70 / 205)
    assert dets[0].sensor == "ir" and dets[0].name == "warm"
    assert blob_detections(np.full((8, 8), 9, np.uint8), threshold=5) == []


def test_iou_matrix_by_hand() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], float)
    assert np.allclose(iou_matrix(a, b), np.array([[50 / 150, 0.0], [0.0, 0.0]]))


def test_match_detections_counts() -> None:
    gt = (
        GroundTruth((0, 0, 10, 10), 1, 0),
        GroundTruth((20, 20, 30, 30), 2, 1),
        GroundTruth((40, 40, 50, 50), 1, 2, visible=False),
    )
    dets = [
        Detection((0, 0, 10, 9), 0.9, 1),  # tp
        Detection((0, 0, 10, 10), 0.8, 1),  # duplicate: fp
        Detection((20, 20, 30, 30), 0.7, 1),  # wrong class: fp (class aware)
        Detection((40, 40, 50, 50), 0.6, 1),  # invisible object: ignored
    ]
    m = match_detections(dets, gt)
    assert (m.tp, m.fp, m.fn) == (1, 2, 1)
    m2 = match_detections(dets, gt, class_aware=False)
    assert (m2.tp, m2.fp, m2.fn) == (2, 1, 0)
    assert (m + m2).tp == 3 and m2.f1 == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


# ============================================================================ tracker
def _det(x: float, y: float, label: int = 1, s: float = 10.0) -> Detection:
    return Detection((x, y, x + s, y + s), 0.9, label)


def test_tracker_keeps_ids_of_moving_objects() -> None:
    tr = IouTracker(iou_threshold=0.3, max_age=2)
    ids: dict[str, list[int | None]] = {"a": [], "b": []}
    for k in range(10):
        # a moves right 4 px/frame (IoU 0.43 without prediction), b moves down 3 px/frame;
        # the list order flips every frame.
        dets = [_det(4.0 * k, 0.0), _det(50.0, 3.0 * k, label=2)]
        out = tr.update(dets if k % 2 == 0 else dets[::-1])
        if k % 2:
            out = out[::-1]
        ids["a"].append(out[0].track_id)
        ids["b"].append(out[1].track_id)
    assert len(set(ids["a"])) == 1 and len(set(ids["b"])) == 1 and ids["a"][0] != ids["b"][0]


def test_tracker_ages_out_tracks_and_never_reuses_ids() -> None:
    tr = IouTracker(max_age=1)
    first = tr.update([_det(0, 0)])[0].track_id
    assert tr.update([]) == [] and len(tr.tracks) == 1  # age 1: kept
    again = tr.update([_det(0, 0)])[0].track_id
    assert again == first  # re-found within max_age
    tr.update([])
    tr.update([])  # age 2 > max_age: deleted
    assert tr.tracks == []
    new = tr.update([_det(0, 0)])[0].track_id
    assert new != first


def test_tracker_min_hits_and_class_awareness() -> None:
    tr = IouTracker(min_hits=2)
    assert tr.update([_det(0, 0)])[0].track_id is None
    assert tr.update([_det(1, 0)])[0].track_id is not None
    other = tr.update([_det(1, 0, label=3)])[0]  # same place, other class: a new track
    assert other.track_id is None
    with pytest.raises(VisionError):
        IouTracker(iou_threshold=2.0)
