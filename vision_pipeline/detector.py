"""``synthdet``: the small single-shot detector bundled for the synthetic two-sensor scene.

The network (trained by :mod:`vision_pipeline.train_detector`, committed in
``edge_dnn/zoo/synthdet``) is a plain Caffe chain of Convolution / ReLU / Pooling layers, so the
whole network runs on the overlay's engine; its two heads are decoded on the host by
:class:`HeatmapDecoder`::

    data 1x3x96x128 -> conv1 3x3/2 (16) -> relu -> pool 2/2 -> 16x24x32
                    -> conv2 3x3 (32) -> relu -> pool 2/2    -> 32x12x16
                    -> conv3 3x3 (48) -> relu -> conv4 3x3 (48) -> relu
                    -> heat 1x1 (3)  class centre logits, 1x3x12x16
                    -> box  1x1 (4)  (dx, dy, log(w / 16), log(h / 16)), 1x4x12x16

Head encoding (a CenterNet-style grid, stride :data:`STRIDE` = 8 input pixels): cell ``(i, j)``
has its centre at input pixel ``((j + 0.5) * 8, (i + 0.5) * 8)``. ``sigmoid(heat[k, i, j])`` is
the confidence that an object of class ``k + 1`` (:data:`~vision_pipeline.sources.CLASS_NAMES`;
0 is the background) has its centre in that cell. ``box[:, i, j]`` gives that object's centre
offset from the cell centre in cells (``dx``, ``dy``) and its size as
``w = 16 * exp(box[2])``, ``h = 16 * exp(box[3])`` input pixels.

Input: a BGR frame (or a grey one, replicated into B = G = R, as the thermal camera's) resized
to 96x128 (stretched), ``(pixel - 128) / 64`` (:data:`PREPROCESS`).

The same network is applied to both sensors of :class:`~vision_pipeline.sources.SyntheticScene`
(visible colour frames and grey thermal frames); it was trained on both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edge_dnn.graph import Graph
from edge_dnn.quant.calib_data import Preprocess
from vision_pipeline.errors import VisionError
from vision_pipeline.postprocess import Detection, iou_matrix
from vision_pipeline.preprocess import Geometry
from vision_pipeline.sources import CLASS_NAMES

__all__ = [
    "BOX_BLOB",
    "BOX_REF",
    "HEAT_BLOB",
    "INPUT_BLOB",
    "INPUT_SHAPE",
    "NAME",
    "NUM_CLASSES",
    "PREPROCESS",
    "STRIDE",
    "HeatmapDecoder",
    "load_synthdet",
    "nms",
]

NAME = "synthdet"
INPUT_BLOB = "data"
INPUT_SHAPE = (1, 3, 96, 128)
"""NCHW input of the network."""
HEAT_BLOB = "heat"
BOX_BLOB = "box"
STRIDE = 8
"""Input pixels per output cell."""
BOX_REF = 16.0
"""Reference box size (input pixels) of the log-size encoding."""
NUM_CLASSES = len(CLASS_NAMES) - 1
"""Object classes (heat channels); label = channel + 1."""
PREPROCESS = Preprocess(mean_value=(128.0,), scale=1.0 / 64.0)
"""Frame -> network input: ``(pixel - 128) / 64`` (one mean for every channel)."""


def load_synthdet(model_dir: str | Path | None = None) -> Graph:
    """The trained float network (default: the bundled ``edge_dnn/zoo/synthdet``).

    Raises:
        EdgeDnnError: the files are missing or unreadable.
    """
    from edge_dnn.caffe.importer import load_caffe
    from edge_dnn.zoo import model_files

    if model_dir is None:
        proto, weights = model_files(NAME)
    else:
        d = Path(model_dir)
        proto, weights = d / f"{NAME}.prototxt", d / f"{NAME}.caffemodel"
    return load_caffe(proto, weights)


# ---------------------------------------------------------------------------- decoding
def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression (class-agnostic).

    Args:
        boxes: ``[n, 4]`` (x0, y0, x1, y1).
        scores: ``[n]``.
        iou_threshold: A box overlapping a kept, better box by more than this is suppressed.

    Returns:
        Indices of the kept boxes, by descending score (ties: lower index first).
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    iou = iou_matrix(boxes[order], boxes[order])
    alive = np.ones(len(order), dtype=bool)
    keep = []
    for r in range(len(order)):  # a handful of candidate boxes per frame
        if not alive[r]:
            continue
        keep.append(int(order[r]))
        alive &= iou[r] <= iou_threshold
    return np.asarray(keep, dtype=np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of the negative magnitude never overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class HeatmapDecoder:
    """Detections from the ``heat`` / ``box`` heads (see the module docstring).

    A cell is a candidate when its class confidence is the maximum of its 3x3 neighbourhood in
    that class's map and at least ``min_score``; candidates are decoded into boxes, mapped to
    frame pixels through the frame's :class:`Geometry` and pruned by class-agnostic NMS.

    Args:
        heat: Output tensor of the class logits ``[1, K, gh, gw]``.
        box: Output tensor of the box regression ``[1, 4, gh, gw]``.
        stride: Input pixels per cell (default: input width / gw).
        box_ref: Reference size of the log-size encoding, input pixels.
        labels: Class names by label (label = channel + 1).
        min_score: Lowest confidence kept.
        nms_iou: IoU above which the weaker of two boxes is dropped (any classes).
        max_detections: Most detections per frame.
        sensor: Sensor name put into the detections.

    Raises:
        VisionError: invalid parameters.
    """

    def __init__(
        self,
        heat: str = HEAT_BLOB,
        box: str = BOX_BLOB,
        stride: float | None = None,
        box_ref: float = BOX_REF,
        labels: Sequence[str] | None = CLASS_NAMES,
        min_score: float = 0.35,
        nms_iou: float = 0.45,
        max_detections: int = 50,
        sensor: str = "",
    ) -> None:
        if not 0.0 <= min_score <= 1.0 or not 0.0 <= nms_iou <= 1.0 or max_detections < 1:
            raise VisionError(
                "HeatmapDecoder needs min_score and nms_iou in [0, 1] and max_detections >= 1"
            )
        if stride is not None and not stride > 0:
            raise VisionError(f"stride must be positive, got {stride}")
        self.heat, self.box = heat, box
        self.stride = stride
        self.box_ref = float(box_ref)
        self.labels = labels
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.max_detections = int(max_detections)
        self.sensor = sensor

    def _get(self, outputs: Mapping[str, np.ndarray], name: str) -> np.ndarray:
        if name not in outputs:
            raise VisionError(
                f"detector output '{name}' not among the backend outputs {sorted(outputs)}"
            )
        return np.asarray(outputs[name], dtype=np.float32)

    def decode(
        self, heat: np.ndarray, box: np.ndarray, input_size: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decode one image's heads in network-input pixels.

        Args:
            heat: Class logits ``[K, gh, gw]`` (or ``[1, K, gh, gw]``), float.
            box: Box regression ``[4, gh, gw]`` (or with a batch axis of 1), float.
            input_size: Network input (height, width), pixels.

        Returns:
            ``(boxes [n, 4] float64 input pixels, scores [n], labels [n] int64)``, by
            descending score, after NMS.

        Raises:
            VisionError: mis-shaped heads.
        """
        h = np.asarray(heat, dtype=np.float64)
        b = np.asarray(box, dtype=np.float64)
        if h.ndim == 4 and h.shape[0] == 1:
            h = h[0]
        if b.ndim == 4 and b.shape[0] == 1:
            b = b[0]
        if h.ndim != 3 or b.shape != (4, *h.shape[1:]):
            raise VisionError(
                f"detector heads must be [K, gh, gw] and [4, gh, gw], got {list(np.shape(heat))} "
                f"and {list(np.shape(box))}"
            )
        _, gh, gw = h.shape
        stride = self.stride if self.stride is not None else input_size[1] / gw
        p = _sigmoid(h)
        # 3x3 maximum with -inf padding: a cell is a peak if nothing around it is higher.
        padded = np.pad(p, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
        mx = p.copy()
        for di in range(3):
            for dj in range(3):
                np.maximum(mx, padded[:, di : di + gh, dj : dj + gw], out=mx)
        k, i, j = np.nonzero((p >= mx) & (p >= self.min_score))
        if k.size == 0:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
        scores = p[k, i, j]
        cx = (j + 0.5 + b[0, i, j]) * stride
        cy = (i + 0.5 + b[1, i, j]) * stride
        w = self.box_ref * np.exp(np.clip(b[2, i, j], -8.0, 8.0))
        hh = self.box_ref * np.exp(np.clip(b[3, i, j], -8.0, 8.0))
        boxes = np.stack([cx - w / 2, cy - hh / 2, cx + w / 2, cy + hh / 2], axis=1)
        keep = nms(boxes, scores, self.nms_iou)[: self.max_detections]
        return boxes[keep], scores[keep], (k[keep] + 1).astype(np.int64)

    def __call__(self, outputs: Mapping[str, np.ndarray], geometry: Geometry) -> list[Detection]:
        """Detections of one frame in frame pixels (empty boxes after clipping dropped)."""
        boxes, scores, labels = self.decode(
            self._get(outputs, self.heat), self._get(outputs, self.box), geometry.input_size
        )
        frame_boxes = geometry.to_frame(boxes)
        out = []
        for fb, s, lab in zip(frame_boxes, scores.tolist(), labels.tolist()):
            if fb[2] - fb[0] <= 0 or fb[3] - fb[1] <= 0:
                continue
            name = self.labels[lab] if self.labels is not None and lab < len(self.labels) else ""
            out.append(
                Detection(
                    box=(float(fb[0]), float(fb[1]), float(fb[2]), float(fb[3])),
                    score=float(s),
                    label=int(lab),
                    name=name,
                    sensor=self.sensor,
                )
            )
        return out
