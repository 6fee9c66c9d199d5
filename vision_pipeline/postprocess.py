"""Post-processing: classification top-k, SSD detection decoding, blob detection, IoU tracking.

Detections are :class:`Detection` records in *frame* pixels (``x0, y0, x1, y1``, continuous
coordinates with pixel edges at integers), converted from the network input through the
:class:`~vision_pipeline.preprocess.Geometry` of the frame.

SSD decoding reuses :class:`edge_dnn.layers.detection_output.DetectionOutput` (the golden model
of the layer: prior decoding with variances, per-class NMS, ``keep_top_k``) for graphs that end
at the ``loc``/``conf`` tensors, so the board can stop before the layer and the host finishes
it with exactly the same arithmetic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from edge_dnn.errors import EdgeDnnError
from edge_dnn.layers.detection_output import DetectionOutput
from vision_pipeline.errors import PreprocessError, VisionError
from vision_pipeline.preprocess import Geometry
from vision_pipeline.sources import GroundTruth

__all__ = [
    "ClassScore",
    "ClassifierDecoder",
    "Detection",
    "IouTracker",
    "MatchCounts",
    "SSDDecoder",
    "blob_detections",
    "boxes_of",
    "detections_from_rows",
    "iou_matrix",
    "match_detections",
    "top_k",
]


# ---------------------------------------------------------------------------- records
@dataclasses.dataclass(frozen=True)
class Detection:
    """One detected object.

    Attributes:
        box: ``(x0, y0, x1, y1)`` float pixels of the frame it refers to.
        score: Confidence in [0, 1].
        label: Class id.
        name: Class name ('' when unknown).
        sensor: Sensor whose frame ``box`` is in (after fusion: the common frame's sensor).
        track_id: Identity assigned by a tracker, or None.
        confirmed: Result of a second-sensor confirmation (None: not checked / not visible).
        sources: Sensors that contributed (fusion).
    """

    box: tuple[float, float, float, float]
    score: float
    label: int
    name: str = ""
    sensor: str = ""
    track_id: int | None = None
    confirmed: bool | None = None
    sources: tuple[str, ...] = ()

    @property
    def area(self) -> float:
        """Box area in square pixels (0 for empty boxes)."""
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 5),
            "label": int(self.label),
            "name": self.name,
            "sensor": self.sensor,
            "track_id": self.track_id,
            "confirmed": self.confirmed,
            "sources": list(self.sources),
        }


@dataclasses.dataclass(frozen=True)
class ClassScore:
    """One entry of a classification top-k: class id, name and score."""

    label: int
    name: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"label": self.label, "name": self.name, "score": round(float(self.score), 6)}


def boxes_of(dets: Sequence[Detection]) -> np.ndarray:
    """The boxes of ``dets`` as float64 ``[n, 4]``."""
    if not dets:
        return np.zeros((0, 4), dtype=np.float64)
    return np.asarray([d.box for d in dets], dtype=np.float64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` ``[n, 4]`` with every box of ``b`` ``[m, 4]``
    (continuous coordinates, no +1 pixel convention), float64 ``[n, m]``; 0 for empty boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _name(labels: Sequence[str] | Mapping[int, str] | None, i: int) -> str:
    if labels is None:
        return ""
    if isinstance(labels, Mapping):
        return str(labels.get(i, ""))
    return str(labels[i]) if 0 <= i < len(labels) else ""


# ---------------------------------------------------------------------------- classification
def top_k(
    scores: np.ndarray, k: int = 5, labels: Sequence[str] | Mapping[int, str] | None = None
) -> list[ClassScore]:
    """The ``k`` best classes of one image.

    Args:
        scores: Class scores of one image: ``[K]``, ``[1, K]`` or ``[1, K, 1, 1]`` (any shape with
            K values).
        k: How many (clipped to K).
        labels: Class names by index.

    Returns:
        Entries by descending score; ties keep the lower class index first.
    """
    s = np.asarray(scores).reshape(-1)
    if s.size == 0 or k < 1:
        return []
    order = np.argsort(-s.astype(np.float64), kind="stable")[: min(int(k), s.size)]
    return [ClassScore(int(i), _name(labels, int(i)), float(s[i])) for i in order]


class ClassifierDecoder:
    """Top-k of one output tensor (e.g. ``prob``) of a classifier.

    Args:
        output: Output tensor name.
        k: Entries to keep.
        labels: Class names.
    """

    def __init__(
        self, output: str, k: int = 5, labels: Sequence[str] | Mapping[int, str] | None = None
    ) -> None:
        self.output = output
        self.k = int(k)
        self.labels = labels

    def __call__(self, outputs: Mapping[str, np.ndarray], geometry: Geometry) -> list[ClassScore]:
        """Top-k of ``outputs[self.output]`` (the geometry is not needed)."""
        if self.output not in outputs:
            raise VisionError(
                f"classifier output '{self.output}' not among the backend outputs {sorted(outputs)}"
            )
        return top_k(outputs[self.output], self.k, self.labels)


# ---------------------------------------------------------------------------- SSD detection
def detections_from_rows(
    rows: np.ndarray,
    geometry: Geometry,
    labels: Sequence[str] | Mapping[int, str] | None = None,
    min_score: float = 0.0,
    sensor: str = "",
    normalized: bool = True,
    image_id: int = 0,
) -> list[Detection]:
    """Convert DetectionOutput rows ``(image_id, label, score, x0, y0, x1, y1)`` to detections.

    Args:
        rows: ``[..., 7]`` float rows (SSD's placeholder rows with label -1 are skipped).
        geometry: The frame's geometry in the network input.
        labels: Class names.
        min_score: Keep rows with ``score >= min_score``.
        sensor: Sensor name put into the detections.
        normalized: Boxes are in [0, 1] input units (else network-input pixels).
        image_id: Batch index whose rows to take.

    Returns:
        Detections in frame pixels (clipped to the frame; empty boxes dropped), in row order.
    """
    r = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    r = r[(r[:, 0] == image_id) & (r[:, 1] >= 0) & (r[:, 2] >= min_score)]
    if r.shape[0] == 0:
        return []
    boxes = geometry.normalized_to_frame(r[:, 3:]) if normalized else geometry.to_frame(r[:, 3:])
    out = []
    for row, b in zip(r, boxes):
        if b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
            continue
        lab = int(row[1])
        out.append(
            Detection(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                score=float(row[2]),
                label=lab,
                name=_name(labels, lab),
                sensor=sensor,
            )
        )
    return out


class SSDDecoder:
    """SSD detections from a network's outputs.

    Either the graph ends with a DetectionOutput layer (``rows`` names its output), or it ends
    at the ``loc``/``conf`` heads and the prior boxes (``loc``, ``conf``, ``priors``), and this
    decoder runs :meth:`DetectionOutput.forward` (decode against priors with variances,
    per-class NMS, keep_top_k) on the host.

    Args:
        layer: The DetectionOutput parameters (e.g. ``graph.node("detection_out").layer`` of the
            full graph, or ``DetectionOutput(num_classes=..., ...)``); None with ``rows``.
        loc: Output tensor of the location predictions ``[1, P*L*4]``.
        conf: Output tensor of the (softmaxed) class scores ``[1, P*num_classes]``.
        priors: The prior blob ``[1, 2, P*4]`` (an array), or the name of the output tensor
            holding it (PriorBox output; read once, it does not depend on the image).
        rows: Output tensor of a DetectionOutput layer (instead of loc/conf/priors).
        labels: Class names by id.
        min_score: Detections with a lower score are dropped.
        sensor: Sensor name put into the detections.

    Raises:
        VisionError: an inconsistent configuration.
    """

    def __init__(
        self,
        layer: DetectionOutput | None = None,
        loc: str | None = None,
        conf: str | None = None,
        priors: np.ndarray | str | None = None,
        rows: str | None = None,
        labels: Sequence[str] | Mapping[int, str] | None = None,
        min_score: float = 0.0,
        sensor: str = "",
    ) -> None:
        if rows is None and (layer is None or loc is None or conf is None or priors is None):
            raise VisionError(
                "SSDDecoder needs rows=<DetectionOutput tensor> or layer, loc, conf and priors"
            )
        self.layer = layer
        self.loc, self.conf, self.rows = loc, conf, rows
        self._priors: np.ndarray | None = None
        self._priors_name: str | None = None
        if isinstance(priors, str):
            self._priors_name = priors
        elif priors is not None:
            self._priors = np.ascontiguousarray(priors, dtype=np.float32)
        self.labels = labels
        self.min_score = float(min_score)
        self.sensor = sensor
        self.normalized = True if layer is None else bool(layer.normalized_bbox)

    @classmethod
    def from_layer_params(cls, num_classes: int, **kwargs: Any) -> SSDDecoder:
        """Decoder with a :class:`DetectionOutput` built from keyword parameters; the keywords
        of this class (loc, conf, priors, labels, min_score, sensor) are passed through.

        Raises:
            VisionError: invalid DetectionOutput parameters (the layer's message).
        """
        own = {
            k: kwargs.pop(k)
            for k in ("loc", "conf", "priors", "labels", "min_score", "sensor")
            if k in kwargs
        }
        try:
            layer = DetectionOutput(name="host_detection_out", num_classes=num_classes, **kwargs)
        except EdgeDnnError as exc:
            raise VisionError(f"invalid DetectionOutput parameters: {exc}") from exc
        return cls(layer=layer, **own)

    def _get(self, outputs: Mapping[str, np.ndarray], name: str) -> np.ndarray:
        if name not in outputs:
            raise VisionError(
                f"SSD output '{name}' not among the backend outputs {sorted(outputs)}"
            )
        return outputs[name]

    def decode_rows(self, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """DetectionOutput rows ``[1, 1, R, 7]`` for one batch of outputs."""
        if self.rows is not None:
            return np.asarray(self._get(outputs, self.rows), dtype=np.float32)
        assert self.layer is not None and self.loc is not None and self.conf is not None
        if self._priors is None:
            assert self._priors_name is not None
            self._priors = np.array(self._get(outputs, self._priors_name), dtype=np.float32)
        loc = self._get(outputs, self.loc)
        conf = self._get(outputs, self.conf)
        try:
            return self.layer.forward([loc, conf, self._priors], [])[0]
        except EdgeDnnError as exc:
            raise VisionError(f"SSD decoding failed: {exc}") from exc

    def __call__(self, outputs: Mapping[str, np.ndarray], geometry: Geometry) -> list[Detection]:
        """Detections of the frame (batch index 0) in frame pixels."""
        return detections_from_rows(
            self.decode_rows(outputs),
            geometry,
            self.labels,
            self.min_score,
            self.sensor,
            self.normalized,
        )


# ---------------------------------------------------------------------------- blob detection
def blob_detections(
    image: np.ndarray,
    threshold: float,
    min_area: int = 16,
    label: int = 1,
    name: str = "",
    sensor: str = "",
    relative: bool = True,
) -> list[Detection]:
    """Bright blobs of a grey (e.g. thermal) image as detections (no network).

    Pixels brighter than the threshold are grouped into 8-connected components; every component
    of at least ``min_area`` pixels gives one detection whose box is its bounding box and whose
    score is its mean contrast above the background, scaled to [0, 1].

    Args:
        image: uint8 HxW grey image (HxWx3 is converted).
        threshold: Intensity threshold in 8-bit levels (above the background median when
            ``relative``).
        min_area: Smallest component, pixels.
        label: Class id of the detections.
        name: Class name.
        sensor: Sensor name.
        relative: Threshold relative to the image median (robust to a drifting thermal offset).
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise PreprocessError(f"blob detection needs a uint8 image, got {img.dtype} {img.shape}")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    bg = float(np.median(img)) if relative else 0.0
    thr = min(bg + float(threshold), 255.0)
    mask = (img > thr).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < min_area:
            continue
        mean = float(img[y : y + h, x : x + w][lab[y : y + h, x : x + w] == i].mean())
        score = float(np.clip((mean - bg) / max(255.0 - bg, 1.0), 0.0, 1.0))
        out.append(
            Detection((float(x), float(y), float(x + w), float(y + h)), score, label, name, sensor)
        )
    out.sort(key=lambda d: -d.score)
    return out


# ---------------------------------------------------------------------------- evaluation
@dataclasses.dataclass(frozen=True)
class MatchCounts:
    """True positives, false positives and false negatives of a set of frames."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: MatchCounts) -> MatchCounts:
        return MatchCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """tp / (tp + fp) (1 when nothing was detected)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn) (1 when nothing was there)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """``{precision, recall, f1, tp, fp, fn}``, rates rounded to 4 digits (JSON-ready)."""
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def match_detections(
    dets: Sequence[Detection],
    truth: Sequence[GroundTruth],
    iou_threshold: float = 0.5,
    class_aware: bool = True,
) -> MatchCounts:
    """Greedy matching of detections (by descending score) to ground truth.

    A detection matching an object flagged not ``visible`` counts neither as a true nor a false
    positive (the object may or may not be found); unmatched visible objects are false
    negatives.
    """
    order = sorted(range(len(dets)), key=lambda i: -dets[i].score)
    iou = iou_matrix(
        boxes_of([dets[i] for i in order]), np.asarray([g.box for g in truth]).reshape(-1, 4)
    )
    used = np.zeros(len(truth), dtype=bool)
    tp = fp = 0
    for row, i in enumerate(order):
        cand = iou[row].copy()
        if class_aware:
            cand[[g.label != dets[i].label for g in truth]] = 0.0
        cand[used] = 0.0
        j = int(np.argmax(cand)) if cand.size else -1
        if j >= 0 and cand[j] >= iou_threshold:
            used[j] = True
            tp += int(truth[j].visible)
        else:
            fp += 1
    fn = sum(1 for j, g in enumerate(truth) if g.visible and not used[j])
    return MatchCounts(tp, fp, fn)


# ---------------------------------------------------------------------------- tracking
@dataclasses.dataclass
class _Track:
    track_id: int
    box: np.ndarray
    velocity: np.ndarray
    label: int
    hits: int = 1
    age: int = 0  # frames since the last match


class IouTracker:
    """Greedy IoU tracker: detections keep their identity across frames.

    Each frame, the tracks' predicted boxes (last box plus the last per-frame displacement when
    ``predict``) are matched to the detections greedily by descending IoU (pairs below
    ``iou_threshold``, or of different classes when ``class_aware``, never match). Matched tracks
    take the detection's box; unmatched detections start new tracks (ids count up from 1);
    tracks unmatched for more than ``max_age`` frames are deleted.

    Args:
        iou_threshold: Minimum IoU of a match.
        max_age: Frames a track survives without a match.
        min_hits: Matches before a track's detections are reported with its id (earlier ones are
            reported with ``track_id=None``).
        class_aware: Only match detections of the track's class.
        predict: Constant-velocity prediction of the track's box.
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        max_age: int = 5,
        min_hits: int = 1,
        class_aware: bool = True,
        predict: bool = True,
    ) -> None:
        if not 0.0 <= iou_threshold <= 1.0 or max_age < 0 or min_hits < 1:
            raise VisionError("tracker needs 0 <= iou_threshold <= 1, max_age >= 0, min_hits >= 1")
        self.iou_threshold = float(iou_threshold)
        self.max_age = int(max_age)
        self.min_hits = int(min_hits)
        self.class_aware = bool(class_aware)
        self.predict = bool(predict)
        self.tracks: list[_Track] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every track (ids continue counting)."""
        self.tracks = []

    def update(self, dets: Sequence[Detection]) -> list[Detection]:
        """Assign track ids to one frame's detections (returned in the input order)."""
        pred = np.asarray(
            [t.box + (t.velocity if self.predict else 0.0) for t in self.tracks], dtype=np.float64
        ).reshape(-1, 4)
        iou = iou_matrix(pred, boxes_of(dets))
        if self.class_aware and iou.size:
            same = np.asarray([[t.label == d.label for d in dets] for t in self.tracks])
            iou = np.where(same, iou, 0.0)
        pairs = np.argwhere(iou >= max(self.iou_threshold, 1e-12))
        pairs = (
            pairs[np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind="stable")]
            if pairs.size
            else pairs
        )
        t_used: set[int] = set()
        d_track: dict[int, _Track] = {}
        for ti, di in pairs.tolist():
            if ti in t_used or di in d_track:
                continue
            t_used.add(ti)
            tr = self.tracks[ti]
            box = np.asarray(dets[di].box, dtype=np.float64)
            tr.velocity = (box - tr.box) / (tr.age + 1)
            tr.box = box
            tr.hits += 1
            tr.age = 0
            d_track[di] = tr
        survivors = []
        for ti, tr in enumerate(self.tracks):
            if ti not in t_used:
                tr.age += 1
                if tr.age > self.max_age:
                    continue
            survivors.append(tr)
        for di, d in enumerate(dets):
            if di not in d_track:
                tr = _Track(
                    self._next_id, np.asarray(d.box, dtype=np.float64), np.zeros(4), d.label
                )
                self._next_id += 1
                survivors.append(tr)
                d_track[di] = tr
        self.tracks = survivors
        return [
            dataclasses.replace(
                d, track_id=d_track[i].track_id if d_track[i].hits >= self.min_hits else None
            )
            for i, d in enumerate(dets)
        ]
