"""Precision / recall of a pipeline's detections against the ground truth of synthetic frames.

:class:`DetectionEvaluator` is a pipeline ``on_result`` callback. For every frame set whose
primary frame carries ground truth it counts matches (:func:`~vision_pipeline.postprocess.
match_detections`) of

* ``final``: the pipeline's final detections (after fusion / confirmation / tracking), and
* every sensor's own detections (``FrameResult.per_sensor``), projected into the primary
  sensor's frame through the rig calibration when they come from another sensor,

all against the same truth: the primary frame's objects, each a positive when it is detectable
by *at least one* sensor of the set (:func:`union_truth`). Objects no sensor can see count
neither way. So "fusion raises F1 over the best single sensor" compares like with like: every
number answers "how well are the objects of the scene found, in the common frame".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from vision_pipeline.calibration import RigCalibration
from vision_pipeline.fusion import project_detections
from vision_pipeline.postprocess import Detection, MatchCounts, match_detections
from vision_pipeline.sinks import FrameResult
from vision_pipeline.sources import GroundTruth
from vision_pipeline.sync import FrameSet

__all__ = ["FINAL", "DetectionEvaluator", "union_truth"]

FINAL = "final"
"""Key of the final detections in :attr:`DetectionEvaluator.counts`."""


def union_truth(frames: FrameSet) -> tuple[GroundTruth, ...] | None:
    """The primary frame's ground truth, an object ``visible`` when any sensor of the set can
    detect it (matched across sensors by ``object_id``); None without ground truth."""
    truth = frames.main.ground_truth
    if truth is None:
        return None
    seen = {
        g.object_id
        for f in frames.frames.values()
        if f.ground_truth is not None
        for g in f.ground_truth
        if g.visible
    }
    return tuple(dataclasses.replace(g, visible=g.object_id in seen) for g in truth)


class DetectionEvaluator:
    """Accumulates match counts of the final and of each sensor's detections (see the module
    docstring); use as (or call from) a pipeline's ``on_result``.

    Args:
        rig: Calibration mapping the other sensors into the primary frame (None: only the
            primary sensor's own detections are counted besides ``final``).
        iou_threshold: IoU a detection needs with an object.
        class_aware: Require the right class.
        min_score: Ignore detections scoring lower.

    Attributes:
        counts: ``final`` and sensor name -> :class:`MatchCounts`.
        frames: Frame sets evaluated (those with ground truth).
    """

    def __init__(
        self,
        rig: RigCalibration | None = None,
        iou_threshold: float = 0.5,
        class_aware: bool = True,
        min_score: float = 0.0,
    ) -> None:
        self.rig = rig
        self.iou_threshold = float(iou_threshold)
        self.class_aware = bool(class_aware)
        self.min_score = float(min_score)
        self.counts: dict[str, MatchCounts] = {}
        self.frames = 0

    def _add(self, key: str, dets: Sequence[Detection], truth: Sequence[GroundTruth]) -> None:
        kept = [d for d in dets if d.score >= self.min_score]
        c = match_detections(kept, truth, self.iou_threshold, self.class_aware)
        self.counts[key] = self.counts.get(key, MatchCounts()) + c

    def __call__(self, result: FrameResult) -> None:
        """Count one pipeline result (ignored without ground truth)."""
        truth = union_truth(result.frames)
        if truth is None:
            return
        self.frames += 1
        primary = result.frames.primary
        self._add(FINAL, result.detections, truth)
        for sensor, dets in result.per_sensor.items():
            if sensor != primary:
                if self.rig is None:
                    continue
                dets = project_detections(dets, self.rig.mapping(sensor, primary))
            self._add(sensor, dets, truth)

    def best_single_sensor(self) -> tuple[str, MatchCounts] | None:
        """The sensor whose own detections have the highest F1 (None before any frame)."""
        singles = [(k, c) for k, c in self.counts.items() if k != FINAL]
        return max(singles, key=lambda kc: kc[1].f1) if singles else None

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{key: {precision, recall, f1, tp, fp, fn}}`` (JSON-ready)."""
        return {k: c.as_dict() for k, c in self.counts.items()}

    def format(self) -> str:
        """One line per key: precision, recall, F1 and the counts."""
        lines = []
        for k in sorted(self.counts, key=lambda k: (k != FINAL, k)):
            c = self.counts[k]
            lines.append(
                f"{k:>10s}: precision {c.precision:.3f}  recall {c.recall:.3f}  F1 {c.f1:.3f}  "
                f"(tp {c.tp}, fp {c.fp}, fn {c.fn})"
            )
        return "\n".join(lines)
