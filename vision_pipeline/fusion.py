"""Multi-sensor fusion of detections.

(a) **Late fusion**: detections of several sensors are projected into one common frame (a
:class:`~vision_pipeline.calibration.RigCalibration` mapping) and merged by

* cross-sensor NMS (``method="nms"``): pool all boxes, keep the best-scoring box of every
  overlapping group (IoU > ``iou_threshold``); or
* weighted box fusion (``method="wbf"``): boxes are clustered greedily by descending score
  (a box joins the cluster whose fused box it overlaps most, above ``iou_threshold``); the fused
  box is the score-weighted mean of the members' boxes and the fused score is
  ``sum_s w_s * best_score_s / sum_s w_s`` over *all* fused sensors, so an object seen by every
  sensor keeps its score and one seen by a single sensor is discounted (weights
  ``sensor_weights``, default 1).

(b) **Confirmation**: each detection's box is projected into a second sensor's image (e.g.
thermal) and a statistic of the pixels inside (mean, max or 90th percentile), minus the image's
median (the background) when ``confirm_relative``, is compared with ``confirm_threshold``
(fraction of the 8-bit range). ``confirm_action`` then flags, drops or down-weights
unconfirmed detections. Boxes mostly outside the second sensor's view stay unjudged
(``confirmed=None``).

Everything is configured by one :class:`FusionConfig`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from vision_pipeline.calibration import RigCalibration, SensorMapping, project_boxes
from vision_pipeline.errors import VisionError
from vision_pipeline.postprocess import Detection, boxes_of, iou_matrix
from vision_pipeline.sources import Frame

__all__ = [
    "FusionConfig",
    "FusionStage",
    "confirm_detections",
    "fuse_detections",
    "late_fusion",
    "project_detections",
]

_METHODS = ("wbf", "nms")
_STATISTICS = ("mean", "max", "p90")
_ACTIONS = ("flag", "drop", "rescore")


@dataclasses.dataclass(frozen=True)
class FusionConfig:
    """Parameters of late fusion (a) and second-sensor confirmation (b).

    Attributes:
        method: ``"wbf"`` (weighted box fusion) or ``"nms"`` (cross-sensor NMS).
        iou_threshold: Boxes overlapping more than this are the same object.
        class_aware: Only fuse boxes of the same class (else the best box's class wins).
        sensor_weights: Sensor name -> weight in the fused score (default 1 each).
        min_score: Fused detections scoring below are dropped.
        confirm_threshold: Contrast (fraction of 0..255) a box needs in the second sensor.
        confirm_statistic: ``"mean"``, ``"max"`` or ``"p90"`` of the box's pixels.
        confirm_relative: Measure contrast above the second image's median (background).
        confirm_action: ``"flag"`` (set ``confirmed`` only), ``"drop"`` unconfirmed detections,
            or ``"rescore"`` (multiply their score by ``unconfirmed_factor``).
        unconfirmed_factor: Score multiplier of unconfirmed detections (``rescore``).
        confirm_min_inside: Fraction of the projected box that must lie inside the second image
            for a judgement.
    """

    method: str = "wbf"
    iou_threshold: float = 0.5
    class_aware: bool = True
    sensor_weights: Mapping[str, float] = dataclasses.field(default_factory=dict)
    min_score: float = 0.0
    confirm_threshold: float = 0.1
    confirm_statistic: str = "p90"
    confirm_relative: bool = True
    confirm_action: str = "flag"
    unconfirmed_factor: float = 0.5
    confirm_min_inside: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise VisionError(f"fusion method must be one of {_METHODS}, got {self.method!r}")
        if self.confirm_statistic not in _STATISTICS:
            raise VisionError(f"confirm_statistic must be one of {_STATISTICS}")
        if self.confirm_action not in _ACTIONS:
            raise VisionError(f"confirm_action must be one of {_ACTIONS}")
        if not 0.0 <= self.iou_threshold <= 1.0 or not 0.0 <= self.confirm_min_inside <= 1.0:
            raise VisionError("iou_threshold and confirm_min_inside must be in [0, 1]")
        if any(not w >= 0 for w in self.sensor_weights.values()):
            raise VisionError("sensor weights must be >= 0")
        if not 0.0 <= self.unconfirmed_factor <= 1.0:
            raise VisionError("unconfirmed_factor must be in [0, 1]")

    def weight(self, sensor: str) -> float:
        """The weight of ``sensor`` (1 unless configured)."""
        return float(self.sensor_weights.get(sensor, 1.0))


# ---------------------------------------------------------------------------- projection
def project_detections(
    dets: Sequence[Detection],
    mapping: SensorMapping | np.ndarray,
    dst_size: tuple[int, int] | None = None,
    sensor: str | None = None,
) -> list[Detection]:
    """Detections with their boxes mapped into another sensor's frame.

    Args:
        dets: The detections.
        mapping: A :class:`SensorMapping` (clips to its destination image) or a bare 3x3
            homography (clipped to ``dst_size`` = (height, width) when given).
        dst_size: Destination image size for a bare homography.
        sensor: Sensor name of the result (default: the mapping's destination, or unchanged).

    Returns:
        The mapped detections; boxes left empty (outside the destination) are dropped.
    """
    if not dets:
        return []
    if isinstance(mapping, SensorMapping):
        boxes = mapping.map_boxes(boxes_of(dets), clip=True)
        sensor = sensor if sensor is not None else mapping.dst.name
    else:
        boxes = project_boxes(mapping, boxes_of(dets))
        if dst_size is not None:
            h, w = dst_size
            boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0.0, float(w))
            boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0.0, float(h))
    out = []
    for d, b in zip(dets, boxes):
        if not np.isfinite(b).all() or b[2] - b[0] <= 0 or b[3] - b[1] <= 0:
            continue
        out.append(
            dataclasses.replace(
                d,
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                sensor=d.sensor if sensor is None else sensor,
            )
        )
    return out


# ---------------------------------------------------------------------------- (a) late fusion
def fuse_detections(
    per_sensor: Mapping[str, Sequence[Detection]],
    config: FusionConfig | None = None,
    sensor: str = "",
) -> list[Detection]:
    """Merge detections of several sensors that are already in one common frame.

    Args:
        per_sensor: Sensor name -> its detections (boxes in the common frame).
        config: The fusion parameters.
        sensor: Sensor name of the fused detections (the common frame).

    Returns:
        Fused detections by descending score, ``sources`` naming the contributing sensors.
    """
    cfg = config or FusionConfig()
    items = [(d, s) for s, ds in per_sensor.items() for d in ds]
    items.sort(key=lambda it: -it[0].score)
    if not items:
        return []
    boxes = boxes_of([d for d, _ in items])
    out = (
        _nms(items, boxes, cfg, sensor)
        if cfg.method == "nms"
        else _wbf(items, boxes, cfg, per_sensor, sensor)
    )
    out = [d for d in out if d.score >= cfg.min_score]
    out.sort(key=lambda d: -d.score)
    return out


def _compatible(a: Detection, b: Detection, cfg: FusionConfig) -> bool:
    return not cfg.class_aware or a.label == b.label


def _nms(
    items: list[tuple[Detection, str]], boxes: np.ndarray, cfg: FusionConfig, sensor: str
) -> list[Detection]:
    iou = iou_matrix(boxes, boxes)
    alive = np.ones(len(items), dtype=bool)
    out = []
    for i, (d, s) in enumerate(items):
        if not alive[i]:
            continue
        srcs = {s}
        for j in range(i + 1, len(items)):
            if alive[j] and iou[i, j] > cfg.iou_threshold and _compatible(d, items[j][0], cfg):
                alive[j] = False
                srcs.add(items[j][1])
        out.append(dataclasses.replace(d, sensor=sensor or d.sensor, sources=tuple(sorted(srcs))))
    return out


def _wbf(
    items: list[tuple[Detection, str]],
    boxes: np.ndarray,
    cfg: FusionConfig,
    per_sensor: Mapping[str, Sequence[Detection]],
    sensor: str,
) -> list[Detection]:
    clusters: list[list[int]] = []
    fused: list[np.ndarray] = []
    for i, (d, _s) in enumerate(items):
        best, best_iou = -1, cfg.iou_threshold
        if fused:
            ious = iou_matrix(boxes[i : i + 1], np.asarray(fused))[0]
            for c, v in enumerate(ious):
                if v > best_iou and _compatible(items[clusters[c][0]][0], d, cfg):
                    best, best_iou = c, float(v)
        if best < 0:
            clusters.append([i])
            fused.append(boxes[i].copy())
            continue
        clusters[best].append(i)
        sc = np.asarray([items[k][0].score for k in clusters[best]], dtype=np.float64)
        w = sc if sc.sum() > 0 else np.ones_like(sc)
        fused[best] = (boxes[clusters[best]] * w[:, None]).sum(axis=0) / w.sum()
    total_w = sum(cfg.weight(s) for s in per_sensor) or 1.0
    out = []
    for members, fb in zip(clusters, fused):
        best_by_sensor: dict[str, float] = {}
        for k in members:
            d, s = items[k]
            best_by_sensor[s] = max(best_by_sensor.get(s, 0.0), d.score)
        score = sum(cfg.weight(s) * v for s, v in best_by_sensor.items()) / total_w
        top = items[members[0]][0]
        out.append(
            dataclasses.replace(
                top,
                box=(float(fb[0]), float(fb[1]), float(fb[2]), float(fb[3])),
                score=float(min(score, 1.0)),
                sensor=sensor or top.sensor,
                sources=tuple(sorted(best_by_sensor)),
            )
        )
    return out


def late_fusion(
    detections: Mapping[str, Sequence[Detection]],
    rig: RigCalibration,
    common: str,
    config: FusionConfig | None = None,
) -> list[Detection]:
    """Project every sensor's detections into sensor ``common``'s frame and fuse them.

    Raises:
        SensorCalibrationError: a sensor the rig does not know.
    """
    projected = {
        s: list(ds) if s == common else project_detections(ds, rig.mapping(s, common))
        for s, ds in detections.items()
    }
    return fuse_detections(projected, config, sensor=common)


# ---------------------------------------------------------------------------- (b) confirmation
def confirm_detections(
    dets: Sequence[Detection],
    image: np.ndarray,
    mapping: SensorMapping | np.ndarray,
    config: FusionConfig | None = None,
) -> list[Detection]:
    """Check every detection against a second sensor's image (see the module docstring).

    Args:
        dets: Detections in the first sensor's frame.
        image: The second sensor's uint8 grey image (HxW; HxWx3 is averaged).
        mapping: First -> second sensor mapping (:class:`SensorMapping` or a 3x3 homography).
        config: The parameters.

    Returns:
        The detections with ``confirmed`` set (and dropped / rescored per ``confirm_action``).
    """
    cfg = config or FusionConfig()
    img = np.asarray(image)
    if img.ndim == 3:
        img = img.mean(axis=2)
    if not dets:
        return []
    h, w = img.shape[:2]
    if isinstance(mapping, SensorMapping):
        boxes = mapping.map_boxes(boxes_of(dets), clip=False)
    else:
        boxes = project_boxes(mapping, boxes_of(dets))
    bg = float(np.median(img)) if cfg.confirm_relative else 0.0
    out = []
    for d, b in zip(dets, boxes):
        confirmed: bool | None = None
        if np.isfinite(b).all() and b[2] > b[0] and b[3] > b[1]:
            x0, y0 = max(int(np.floor(b[0])), 0), max(int(np.floor(b[1])), 0)
            x1, y1 = min(int(np.ceil(b[2])), w), min(int(np.ceil(b[3])), h)
            inside = max(0, x1 - x0) * max(0, y1 - y0) / max((b[2] - b[0]) * (b[3] - b[1]), 1e-9)
            if x1 > x0 and y1 > y0 and inside >= cfg.confirm_min_inside:
                roi = img[y0:y1, x0:x1].astype(np.float64)
                if cfg.confirm_statistic == "mean":
                    stat = float(roi.mean())
                elif cfg.confirm_statistic == "max":
                    stat = float(roi.max())
                else:
                    stat = float(np.percentile(roi, 90))
                confirmed = (stat - bg) / 255.0 >= cfg.confirm_threshold
        if confirmed is False and cfg.confirm_action == "drop":
            continue
        score = d.score
        if confirmed is False and cfg.confirm_action == "rescore":
            score = d.score * cfg.unconfirmed_factor
        out.append(dataclasses.replace(d, confirmed=confirmed, score=score))
    return out


class FusionStage:
    """Late fusion and/or confirmation for a pipeline's post-processing stage.

    Args:
        rig: Calibration of the sensors.
        config: Parameters.
        fuse: Fuse the detections of every sensor that has some (late fusion, a).
        confirm_with: Sensor whose image confirms the fused detections (b), or None.
    """

    def __init__(
        self,
        rig: RigCalibration,
        config: FusionConfig | None = None,
        fuse: bool = True,
        confirm_with: str | None = None,
    ) -> None:
        self.rig = rig
        self.config = config or FusionConfig()
        self.fuse = bool(fuse)
        self.confirm_with = confirm_with

    def __call__(
        self,
        detections: Mapping[str, Sequence[Detection]],
        frames: Mapping[str, Frame],
        primary: str,
    ) -> list[Detection]:
        """The fused (and confirmed) detections in the primary sensor's frame."""
        if self.fuse:
            out = late_fusion(detections, self.rig, primary, self.config)
        else:
            out = list(detections.get(primary, ()))
        c = self.confirm_with
        if c is not None and c in frames:
            out = confirm_detections(
                out, frames[c].image, self.rig.mapping(primary, c), self.config
            )
        return out
