"""SSD ``DetectionOutput`` layer: box decoding, per-class NMS and top-k selection.

Semantics follow the SSD Caffe fork (weiliu89/caffe ``DetectionOutputLayer::Forward_cpu`` and
``bbox_util``). ``normalized_bbox`` and ``clip`` are fields that only OpenCV's schema has; they
follow OpenCV.

Bottoms:

* ``inputs[0]`` loc: ``[N, P*L*4]`` (any shape with that many values per image), where P is the
  number of priors and L is 1 with ``share_location`` or ``num_classes`` without it. The layout is
  prior-major, then class, then ``(xmin, ymin, xmax, ymax)`` offsets.
* ``inputs[1]`` conf: ``[N, P*num_classes]`` scores (usually softmax), prior-major.
* ``inputs[2]`` priors: ``[1, 2, P*4]`` from ``PriorBox``: boxes, then variances. ``[1, 1, P*4]``
  is accepted with ``variance_encoded_in_target``.
* ``inputs[3]`` (optional) image: its height and width bound ``clip`` when ``normalized_bbox``
  is false (OpenCV). Otherwise it is ignored; SSD reads it only for visualisation.

Algorithm, per image:

1. Decode every loc prediction against its prior (``code_type`` CORNER, CENTER_SIZE or
   CORNER_SIZE, with the prior's variances unless ``variance_encoded_in_target``).
2. For every class except ``background_label_id``, run SSD's ``ApplyNMSFast``:
   * take the scores ``> confidence_threshold`` and stable-sort them in descending order;
   * keep the first ``top_k``;
   * walk the list and keep a box if its Jaccard overlap with every box kept so far is
     ``<= threshold``;
   * after each kept box, if ``eta < 1`` and the threshold is ``> 0.5``, multiply the
     threshold by ``eta``.
3. If ``keep_top_k > -1`` and more boxes survive, keep the ``keep_top_k`` best scores across
   classes.

Output: float32 ``[1, 1, R, 7]``, one row ``(image_id, label, score, xmin, ymin, xmax, ymax)``
per detection. Rows are ordered as SSD writes them: by image, then by label ascending, then by
descending score. **R is data dependent.** If no image has any detection, SSD emits one
placeholder row per image, ``(i, -1, -1, -1, -1, -1, -1)``, so R = N (a single image gives
``[1, 1, 1, 7]`` = ``[[0, -1, -1, -1, -1, -1, -1]]``).

``output_shapes`` gives a static **upper bound** on R: ``N*keep_top_k``, the same as OpenCV's
``getMemoryShapes`` and the ``net.getLayersShapes`` report, or
``N*(num_classes - background)*min(P, top_k)`` when ``keep_top_k == -1``; never less than N.
The actual ``forward`` output has ``1 <= R <= bound`` rows.

How OpenCV's ``forward`` differs (see :func:`to_opencv_layout`, which converts this layer's
output to OpenCV's layout for comparisons):

* OpenCV always returns ``N*keep_top_k`` rows. The detections are sorted by descending score
  across labels within each image, and the rest is zero-filled. With no detection the output
  is all zeros, not SSD's ``-1`` row.
* OpenCV ignores ``eta`` (it always uses 1).
* OpenCV's ``confidence_threshold`` defaults to 0; SSD's defaults to ``-FLT_MAX``.
* OpenCV treats ``CORNER_SIZE`` as ``CORNER``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.errors import UnsupportedParameterError
from edge_dnn.layers.base import Array, Layer, Shape, opt

FLT_MAX = float(np.finfo(np.float32).max)
"""``FLT_MAX``: SSD's default ``confidence_threshold`` is ``-FLT_MAX`` (every box passes)."""

CODE_TYPES: dict[int, str] = {1: "CORNER", 2: "CENTER_SIZE", 3: "CORNER_SIZE"}
"""``PriorBoxParameter.CodeType`` enum values (SSD schema; OpenCV's lacks CORNER_SIZE)."""

_F32_HALF = np.float32(0.5)


def _has(msg: Any, field: str) -> bool:
    """HasField that tolerates a schema without the field (e.g. OpenCV-only fields)."""
    return field in msg.DESCRIPTOR.fields_by_name and msg.HasField(field)


@dataclasses.dataclass(frozen=True)
class DetectionOutput(Layer):
    """SSD detection post-processing (``detection_output_param``).

    Attributes:
        num_classes: Number of classes, background included (required, >= 1).
        share_location: One loc prediction per prior shared by all classes (L = 1).
        background_label_id: Class skipped by NMS; -1 or out of range for none.
        nms_threshold: Jaccard overlap above which a box is suppressed (``nms_param``).
        top_k: Candidates per class before NMS; -1 for all (``nms_param.top_k`` unset).
        eta: Adaptive NMS factor in (0, 1] (``nms_param.eta``).
        code_type: ``"CORNER"``, ``"CENTER_SIZE"`` or ``"CORNER_SIZE"``.
        variance_encoded_in_target: The loc predictions already include the variances.
        keep_top_k: Detections kept per image across classes; -1 for all.
        confidence_threshold: Only scores strictly above it are considered.
        normalized_bbox: Boxes are in [0, 1] units. If False, apply OpenCV's pixel conventions:
            the +1 in widths and areas.
        clip: Clamp decoded boxes to [0, 1] (or to the image when not normalised). OpenCV only;
            SSD never clips here.
    """

    TYPE: ClassVar[str] = "DetectionOutput"
    MIN_INPUTS: ClassVar[int] = 3
    MAX_INPUTS: ClassVar[int | None] = 4

    num_classes: int = 0
    share_location: bool = True
    background_label_id: int = 0
    nms_threshold: float = 0.3
    top_k: int = -1
    eta: float = 1.0
    code_type: str = "CORNER"
    variance_encoded_in_target: bool = False
    keep_top_k: int = -1
    confidence_threshold: float = -FLT_MAX
    normalized_bbox: bool = True
    clip: bool = False

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise self.unsupported("detection_output_param must specify num_classes >= 1")
        if self.code_type not in CODE_TYPES.values():
            raise self.unsupported(
                f"unknown code_type '{self.code_type}'; expected one of "
                + ", ".join(CODE_TYPES.values())
            )
        if not self.nms_threshold >= 0.0:
            raise self.unsupported(f"nms_threshold must be >= 0, got {self.nms_threshold}")
        if not 0.0 < self.eta <= 1.0:
            raise self.unsupported(f"nms eta must be in (0, 1], got {self.eta}")
        if self.share_location and self.background_label_id == -1:
            # SSD skips decoding loc label -1 (the shared one) when background is -1 and then
            # aborts with "Could not find location predictions"; OpenCV does the same.
            raise self.unsupported(
                "background_label_id -1 with share_location true is rejected by SSD Caffe"
            )
        if self.top_k < -1 or self.keep_top_k < -1:
            raise self.unsupported("top_k and keep_top_k must be >= -1")

    @classmethod
    def from_proto(cls, lp: Any) -> DetectionOutput:
        """Build from ``lp.detection_output_param`` (LayerParameter field 147, SSD numbering)."""
        if not lp.HasField("detection_output_param") or not lp.detection_output_param.HasField(
            "num_classes"
        ):
            raise UnsupportedParameterError(
                lp.name, "detection_output_param must specify num_classes"
            )
        p = lp.detection_output_param
        nms = p.nms_param
        code = opt(p, "code_type")
        code_value = 1 if code is None else int(code)
        if code_value not in CODE_TYPES:
            raise UnsupportedParameterError(lp.name, f"unknown code_type value {code_value}")
        share = opt(p, "share_location")
        bg = opt(p, "background_label_id")
        vet = opt(p, "variance_encoded_in_target")
        keep = opt(p, "keep_top_k")
        conf = opt(p, "confidence_threshold")
        nms_thr = opt(nms, "nms_threshold")
        top_k = opt(nms, "top_k")
        eta = opt(nms, "eta")
        return cls(
            name=lp.name,
            num_classes=int(p.num_classes),
            share_location=True if share is None else bool(share),
            background_label_id=0 if bg is None else int(bg),
            nms_threshold=0.3 if nms_thr is None else float(nms_thr),
            top_k=-1 if top_k is None else int(top_k),
            eta=1.0 if eta is None else float(eta),
            code_type=CODE_TYPES[code_value],
            variance_encoded_in_target=False if vet is None else bool(vet),
            keep_top_k=-1 if keep is None else int(keep),
            confidence_threshold=-FLT_MAX if conf is None else float(conf),
            normalized_bbox=bool(p.normalized_bbox) if _has(p, "normalized_bbox") else True,
            clip=bool(p.clip) if _has(p, "clip") else False,
        )

    # ------------------------------------------------------------------ helpers
    @property
    def num_loc_classes(self) -> int:
        """L: location predictions per prior."""
        return 1 if self.share_location else self.num_classes

    def target_classes(self) -> list[int]:
        """The class ids NMS runs on (all but the background)."""
        return [c for c in range(self.num_classes) if c != self.background_label_id]

    def _geometry(self, in_shapes: Sequence[Shape]) -> tuple[int, int]:
        """(N, P) after validating the bottoms' shapes."""
        if not 3 <= len(in_shapes) <= 4:
            raise self.shape_error(
                f"needs 3 bottoms (loc, conf, prior) and optionally the image, got {len(in_shapes)}"
            )
        loc, conf, prior = (tuple(int(d) for d in s) for s in in_shapes[:3])
        if len(prior) < 3 or prior[2] % 4 != 0:
            raise self.shape_error(f"prior bottom must be [1, 2, num_priors*4], got shape {prior}")
        num_priors = prior[2] // 4
        want_ch = (1, 2) if self.variance_encoded_in_target else (2,)
        if prior[1] not in want_ch or int(np.prod(prior[3:])) != 1:
            raise self.shape_error(
                f"prior bottom must be [1, 2, num_priors*4] (boxes and variances), got {prior}"
            )
        if len(loc) < 2 or len(conf) < 2:
            raise self.shape_error(f"loc {loc} and conf {conf} must have a batch axis")
        n = loc[0]
        if conf[0] != n:
            raise self.shape_error(f"loc batch {n} differs from conf batch {conf[0]}")
        loc_per = int(np.prod(loc[1:]))
        if loc_per != num_priors * self.num_loc_classes * 4:
            raise self.shape_error(
                f"loc has {loc_per} values per image, expected num_priors*{self.num_loc_classes}"
                f"*4 = {num_priors * self.num_loc_classes * 4} for {num_priors} priors"
            )
        conf_per = int(np.prod(conf[1:]))
        if conf_per != num_priors * self.num_classes:
            raise self.shape_error(
                f"conf has {conf_per} values per image, expected num_priors*num_classes = "
                f"{num_priors * self.num_classes} for {num_priors} priors"
            )
        if self.clip and not self.normalized_bbox and len(in_shapes) < 4:
            raise self.shape_error("clip with normalized_bbox false needs the image as bottom 4")
        return n, num_priors

    def max_detections(self, num: int, num_priors: int) -> int:
        """Static upper bound on the output rows (see the module docstring)."""
        if self.keep_top_k > -1:
            bound = num * self.keep_top_k
        else:
            per_class = num_priors if self.top_k < 0 else min(num_priors, self.top_k)
            bound = num * len(self.target_classes()) * per_class
        return max(num, bound)

    # ------------------------------------------------------------------ shapes
    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(1, 1, R_max, 7)]``: R_max is an upper bound; ``forward`` may return fewer rows."""
        n, p = self._geometry(in_shapes)
        return [(1, 1, self.max_detections(n, p), 7)]

    # ------------------------------------------------------------------ float reference
    def decode(
        self, loc: Array, prior: Array, image_hw: tuple[int, int] | None
    ) -> tuple[Array, Array]:
        """Decode loc predictions against the priors (SSD ``DecodeBBox``), vectorised.

        Args:
            loc: float32 ``[N, P, L, 4]``.
            prior: float32 prior blob, flattened: ``P*4`` boxes then ``P*4`` variances.
            image_hw: Image size for pixel clipping (``clip`` with ``normalized_bbox`` false).

        Returns:
            (boxes float32 ``[N, P, L, 4]``, sizes float32 ``[N, P, L]``). The sizes are the box
            areas, 0 for inverted boxes, and include the +1 pixel convention when not
            normalised.
        """
        num_priors = loc.shape[1]
        pb = prior[: num_priors * 4].reshape(1, num_priors, 1, 4)
        lx0, ly0, lx1, ly1 = (loc[..., k] for k in range(4))
        if self.variance_encoded_in_target:
            vx0 = vy0 = vx1 = vy1 = np.ones((), dtype=np.float32)
        else:
            var = prior[num_priors * 4 : num_priors * 8].reshape(1, num_priors, 1, 4)
            vx0, vy0, vx1, vy1 = (var[..., k] for k in range(4))
        px0, py0, px1, py1 = (pb[..., k] for k in range(4))
        one = np.float32(1.0)

        if self.code_type == "CORNER":
            # `prior + var * bbox`; with the variance in the target, var is 1 (exact).
            x0, y0 = px0 + vx0 * lx0, py0 + vy0 * ly0
            x1, y1 = px1 + vx1 * lx1, py1 + vy1 * ly1
        elif self.code_type == "CORNER_SIZE":
            pw, ph = px1 - px0, py1 - py0
            x0, y0 = px0 + vx0 * lx0 * pw, py0 + vy0 * ly0 * ph
            x1, y1 = px1 + vx1 * lx1 * pw, py1 + vy1 * ly1 * ph
        else:  # CENTER_SIZE
            pw, ph = px1 - px0, py1 - py0
            if self.normalized_bbox:
                pcx, pcy = (px0 + px1) * _F32_HALF, (py0 + py1) * _F32_HALF
            else:
                # OpenCV's pixel convention: width includes both end pixels.
                pw, ph = pw + one, ph + one
                pcx, pcy = px0 + pw * _F32_HALF, py0 + ph * _F32_HALF
            cx = vx0 * lx0 * pw + pcx
            cy = vy0 * ly0 * ph + pcy
            w = np.exp(vx1 * lx1) * pw
            h = np.exp(vy1 * ly1) * ph
            x0, y0 = cx - w * _F32_HALF, cy - h * _F32_HALF
            x1, y1 = cx + w * _F32_HALF, cy + h * _F32_HALF
        boxes = np.stack([x0, y0, x1, y1], axis=-1).astype(np.float32, copy=False)

        if self.clip:
            if self.normalized_bbox:
                hi = np.asarray([1.0, 1.0, 1.0, 1.0], dtype=np.float32)
            else:
                if image_hw is None:
                    raise self.shape_error(
                        "clip with normalized_bbox false needs the image as bottom 4"
                    )
                ih, iw = image_hw
                hi = np.asarray([iw - 1, ih - 1, iw - 1, ih - 1], dtype=np.float32)
            boxes = np.maximum(np.minimum(boxes, hi), np.float32(0.0))

        w = boxes[..., 2] - boxes[..., 0]
        h = boxes[..., 3] - boxes[..., 1]
        if not self.normalized_bbox:
            w, h = w + one, h + one
        valid = (boxes[..., 2] >= boxes[..., 0]) & (boxes[..., 3] >= boxes[..., 1])
        sizes = np.where(valid, w * h, np.float32(0.0)).astype(np.float32)
        return boxes, sizes

    def _overlaps(self, box: Array, size: Array, others: Array, other_sizes: Array) -> Array:
        """Jaccard overlap of one box with many (SSD ``JaccardOverlap``), float32."""
        ix0 = np.maximum(others[:, 0], box[0])
        iy0 = np.maximum(others[:, 1], box[1])
        ix1 = np.minimum(others[:, 2], box[2])
        iy1 = np.minimum(others[:, 3], box[3])
        iw = ix1 - ix0
        ih = iy1 - iy0
        if self.normalized_bbox:
            has = (iw > 0) & (ih > 0)
            inter = iw * ih
        else:
            # OpenCV: the intersection is a valid box (possibly 1 pixel wide) if not inverted.
            has = (iw >= 0) & (ih >= 0)
            inter = (iw + np.float32(1.0)) * (ih + np.float32(1.0))
        inter = np.where(has, inter, np.float32(0.0)).astype(np.float32)
        union = (other_sizes + size) - inter
        safe = np.where(has, union, np.float32(1.0))
        return np.where(has, inter / safe, np.float32(0.0))

    def nms(self, boxes: Array, sizes: Array, scores: Array) -> list[int]:
        """SSD ``ApplyNMSFast`` on one class of one image.

        Args:
            boxes: float32 ``[P, 4]`` decoded boxes.
            sizes: float32 ``[P]`` box areas from :meth:`decode`.
            scores: float32 ``[P]`` class scores.

        Returns:
            Indices of the kept priors, in descending score order.
        """
        thr = np.float32(self.confidence_threshold)
        cand = np.flatnonzero(scores > thr)
        order = cand[np.argsort(-scores[cand], kind="stable")]
        if self.top_k > -1:
            order = order[: self.top_k]
        kept: list[int] = []
        kept_boxes = np.empty((order.size, 4), dtype=np.float32)
        kept_sizes = np.empty((order.size,), dtype=np.float32)
        adaptive = np.float32(self.nms_threshold)
        eta = np.float32(self.eta)
        for idx in order.tolist():
            n = len(kept)
            if n:
                ov = self._overlaps(boxes[idx], sizes[idx], kept_boxes[:n], kept_sizes[:n])
                keep = bool(np.all(ov <= adaptive))
            else:
                keep = True
            if keep:
                kept_boxes[n] = boxes[idx]
                kept_sizes[n] = sizes[idx]
                kept.append(idx)
                if eta < 1 and adaptive > 0.5:
                    adaptive = np.float32(adaptive * eta)
        return kept

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Detect: decode, NMS per class, keep_top_k per image.

        Returns:
            One float32 array ``[1, 1, R, 7]`` of rows
            ``(image_id, label, score, xmin, ymin, xmax, ymax)`` (see the module docstring for
            the row order and the no-detection placeholder).
        """
        shapes = [tuple(np.shape(x)) for x in inputs]
        n, num_priors = self._geometry(shapes)
        nl = self.num_loc_classes
        loc = np.asarray(inputs[0], dtype=np.float32).reshape(n, num_priors, nl, 4)
        conf = np.asarray(inputs[1], dtype=np.float32).reshape(n, num_priors, self.num_classes)
        prior = np.asarray(inputs[2], dtype=np.float32).reshape(-1)
        image_hw = (int(shapes[3][-2]), int(shapes[3][-1])) if len(shapes) == 4 else None
        boxes, sizes = self.decode(loc, prior, image_hw)

        rows: list[Array] = []
        for i in range(n):
            per_label: dict[int, list[int]] = {}
            for c in self.target_classes():
                lc = 0 if self.share_location else c
                per_label[c] = self.nms(boxes[i, :, lc], sizes[i, :, lc], conf[i, :, c])
            total = sum(len(v) for v in per_label.values())
            if self.keep_top_k > -1 and total > self.keep_top_k:
                labels = np.concatenate(
                    [np.full(len(v), c, dtype=np.int64) for c, v in per_label.items()]
                )
                idxs = np.concatenate([np.asarray(v, dtype=np.int64) for v in per_label.values()])
                sc = conf[i, idxs, labels]
                # SSD uses std::sort here (unstable); ties keep (label, NMS) order in this layer.
                best = np.argsort(-sc, kind="stable")[: self.keep_top_k]
                per_label = {c: [] for c in per_label}
                for j in best.tolist():
                    per_label[int(labels[j])].append(int(idxs[j]))
            for c in sorted(per_label):
                kept = per_label[c]
                if not kept:
                    continue
                ki = np.asarray(kept, dtype=np.int64)
                lc = 0 if self.share_location else c
                block = np.empty((ki.size, 7), dtype=np.float32)
                block[:, 0] = i
                block[:, 1] = c
                block[:, 2] = conf[i, ki, c]
                block[:, 3:] = boxes[i, ki, lc]
                rows.append(block)

        if rows:
            out = np.concatenate(rows, axis=0)
        else:
            # SSD's placeholder: one row per image, all -1 except the image id.
            out = np.full((n, 7), -1.0, dtype=np.float32)
            out[:, 0] = np.arange(n, dtype=np.float32)
        return [out.reshape(1, 1, -1, 7)]


def to_opencv_layout(detections: Array, rows: int) -> Array:
    """Rearrange :class:`DetectionOutput` output the way OpenCV's forward lays it out.

    SSD's placeholder rows (label -1) are dropped. Each image's detections are sorted by
    descending score across labels, and the result is zero-padded to ``rows`` rows (OpenCV:
    ``N*keep_top_k``).

    Args:
        detections: float32 ``[1, 1, R, 7]`` from :meth:`DetectionOutput.forward`.
        rows: Row count of the OpenCV output.

    Returns:
        float32 ``[1, 1, rows, 7]``.

    Raises:
        ValueError: More detections than ``rows``.
    """
    d = np.asarray(detections, dtype=np.float32).reshape(-1, 7)
    d = d[d[:, 1] != -1]
    blocks = []
    for img in np.unique(d[:, 0]):
        block = d[d[:, 0] == img]
        blocks.append(block[np.argsort(-block[:, 2], kind="stable")])
    real = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, 7), dtype=np.float32)
    if real.shape[0] > rows:
        raise ValueError(f"{real.shape[0]} detections do not fit in {rows} rows")
    out = np.zeros((rows, 7), dtype=np.float32)
    out[: real.shape[0]] = real
    return out.reshape(1, 1, rows, 7)
