"""SSD ``PriorBox`` layer: the anchor (prior) boxes of one feature map.

Semantics follow the SSD Caffe fork (weiliu89/caffe ``PriorBoxLayer``); the OpenCV schema's extra
fields (explicit ``width``/``height`` lists, ``offset_h``/``offset_w`` lists) follow OpenCV.

Bottoms: ``inputs[0]`` the feature map (N C H W), ``inputs[1]`` the image (N C IH IW; only its
spatial size is read, and only when ``img_size``/``img_h``/``img_w`` are not given).

Top: float32 ``[1, 2, H*W*num_priors*4]``. Channel 0 holds the boxes ``(xmin, ymin, xmax, ymax)``
normalised by the image size, ordered by cell row ``h``, cell column ``w``, prior. Channel 1
holds the matching variances.

Per cell the priors come in SSD's order. For each ``min_size``: first the square ``min_size``
box, then the square ``sqrt(min_size*max_size)`` box (if ``max_size`` is given), then one box
per aspect ratio ``ar != 1`` with width ``min_size*sqrt(ar)`` and height ``min_size/sqrt(ar)``.
The aspect ratio list is ``[1.0]`` followed by each given ratio that is not already in the list
(tolerance 1e-6), each followed by ``1/ar`` when ``flip`` is set.

Differences from OpenCV (the project's float oracle), all deliberate:

* SSD converts ``min_size``/``max_size`` to ``int`` before it uses them (``int min_size_ =
  min_sizes_[s]``), while OpenCV keeps them as floats. ``integer_sizes`` (default True = SSD)
  selects the behaviour. The two agree for the integral sizes that real nets use.
* SSD's ``clip`` defaults to **false**; OpenCV's schema defaults it to true. ``from_proto``
  applies SSD's default when the field is unset.
* OpenCV ignores ``img_size``/``img_h``/``img_w`` and always divides by the image bottom's size.
  SSD honours them, and so does this layer.
* With ``k`` explicit ``offset_w``/``offset_h`` pairs, this layer emits ``k`` priors per box
  (for box, for offset). OpenCV sizes its output as ``max(1, 2*(k-1))`` per box, which is the
  same only for ``k <= 2``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from edge_dnn.errors import UnsupportedParameterError
from edge_dnn.layers.base import Array, Layer, Shape, opt

_AR_TOL = 1e-6
"""SSD's tolerance for de-duplicating aspect ratios and for skipping ratio 1."""


@dataclasses.dataclass(frozen=True)
class PriorBox(Layer):
    """SSD prior (anchor) box generator (``prior_box_param``).

    Attributes:
        min_sizes: Box sizes in input-image pixels. Required unless ``widths``/``heights``
            are given.
        max_sizes: Empty, or one per ``min_size`` (each greater than it). Adds a
            ``sqrt(min*max)`` square box.
        aspect_ratios: The aspect ratios as given in the prototxt (before de-duplication and
            flipping).
        flip: Also add ``1/ar`` for every aspect ratio.
        clip: Clamp box coordinates to [0, 1].
        variances: One value (used for all 4 coordinates) or 4 values.
        img_h: Image height used for normalisation; 0 means the image bottom's height.
        img_w: Image width used for normalisation; 0 means the image bottom's width.
        step_h: Vertical distance between cell centres in pixels; 0 means image_h / H.
        step_w: Horizontal distance between cell centres in pixels; 0 means image_w / W.
        offset: Cell-centre offset in units of a step (both axes).
        offsets_h: OpenCV extension: explicit vertical offsets, paired with ``offsets_w``;
            when given they replace ``offset``.
        offsets_w: OpenCV extension: explicit horizontal offsets.
        widths: OpenCV extension: explicit box widths in pixels (replaces min/max/aspect).
        heights: OpenCV extension: explicit box heights in pixels, one per width.
        integer_sizes: Truncate ``min_sizes``/``max_sizes`` to int as SSD Caffe does
            (False: use them as floats, as OpenCV does).
    """

    TYPE: ClassVar[str] = "PriorBox"
    MIN_INPUTS: ClassVar[int] = 2
    MAX_INPUTS: ClassVar[int | None] = 2

    min_sizes: tuple[float, ...] = ()
    max_sizes: tuple[float, ...] = ()
    aspect_ratios: tuple[float, ...] = ()
    flip: bool = True
    clip: bool = False
    variances: tuple[float, ...] = (0.1,)
    img_h: int = 0
    img_w: int = 0
    step_h: float = 0.0
    step_w: float = 0.0
    offset: float = 0.5
    offsets_h: tuple[float, ...] = ()
    offsets_w: tuple[float, ...] = ()
    widths: tuple[float, ...] = ()
    heights: tuple[float, ...] = ()
    integer_sizes: bool = True

    # ------------------------------------------------------------------ construction
    def __post_init__(self) -> None:
        if self.widths or self.heights:
            if len(self.widths) != len(self.heights):
                raise self.unsupported(
                    f"{len(self.widths)} width values but {len(self.heights)} height values"
                )
            if self.min_sizes or self.max_sizes or self._unit_free_ratios():
                raise self.unsupported(
                    "explicit width/height cannot be combined with min_size, max_size or "
                    "aspect_ratio"
                )
            if any(not v > 0 for v in (*self.widths, *self.heights)):
                raise self.unsupported("width/height values must be positive")
        else:
            if not self.min_sizes:
                raise self.unsupported("prior_box_param must provide min_size")
            if any(not m > 0 for m in self.min_sizes):
                raise self.unsupported(f"min_size must be positive, got {list(self.min_sizes)}")
            if self.max_sizes:
                if len(self.max_sizes) != len(self.min_sizes):
                    raise self.unsupported(
                        f"{len(self.max_sizes)} max_size values for "
                        f"{len(self.min_sizes)} min_size values; they must pair up"
                    )
                for lo, hi in zip(self.min_sizes, self.max_sizes):
                    if not hi > lo:
                        raise self.unsupported(f"max_size {hi} must be greater than min_size {lo}")
            if any(not a > 0 for a in self.aspect_ratios):
                raise self.unsupported(
                    f"aspect_ratio must be positive, got {list(self.aspect_ratios)}"
                )
        if len(self.variances) not in (1, 4):
            raise self.unsupported(f"variance must have 1 or 4 values, got {len(self.variances)}")
        if any(not v > 0 for v in self.variances):
            raise self.unsupported(f"variance values must be positive, got {list(self.variances)}")
        if (self.img_h > 0) != (self.img_w > 0) or self.img_h < 0 or self.img_w < 0:
            raise self.unsupported("img_h and img_w must both be positive (or img_size given)")
        if (self.step_h > 0) != (self.step_w > 0) or self.step_h < 0 or self.step_w < 0:
            raise self.unsupported("step_h and step_w must both be positive (or step given)")
        if len(self.offsets_h) != len(self.offsets_w):
            raise self.unsupported(
                f"{len(self.offsets_h)} offset_h values but {len(self.offsets_w)} offset_w values"
            )

    @classmethod
    def from_proto(cls, lp: Any) -> PriorBox:
        """Build from ``lp.prior_box_param`` (``PriorBoxParameter``, LayerParameter field 150)."""
        if not lp.HasField("prior_box_param"):
            raise cls._unsupported_for(lp.name, "PriorBox needs a prior_box_param with min_size")
        p = lp.prior_box_param
        name = lp.name

        def both_or_none(a: str, b: str, single: str) -> tuple[Any, Any]:
            va, vb = opt(p, a), opt(p, b)
            if va is not None or vb is not None:
                if opt(p, single) is not None:
                    raise cls._unsupported_for(
                        name, f"either {single} or {a}/{b} may be given, not both"
                    )
                if va is None or vb is None:
                    raise cls._unsupported_for(name, f"both {a} and {b} are required")
                return va, vb
            s = opt(p, single)
            return s, s

        img_h, img_w = both_or_none("img_h", "img_w", "img_size")
        step_h, step_w = both_or_none("step_h", "step_w", "step")
        offsets_h = tuple(float(v) for v in p.offset_h)
        offsets_w = tuple(float(v) for v in p.offset_w)
        if (offsets_h or offsets_w) and opt(p, "offset") is not None:
            raise cls._unsupported_for(name, "offset cannot be combined with offset_h/offset_w")
        if bool(offsets_h) != bool(offsets_w):
            raise cls._unsupported_for(name, "offset_h and offset_w must be given together")
        variances = tuple(float(v) for v in p.variance) or (0.1,)
        flip = opt(p, "flip")
        clip = opt(p, "clip")
        offset = opt(p, "offset")
        for what, value in (("img", img_h), ("step", step_h)):
            if value is not None and not value > 0:
                raise cls._unsupported_for(name, f"{what} size must be positive, got {value}")
        return cls(
            name=name,
            min_sizes=tuple(float(v) for v in p.min_size),
            max_sizes=tuple(float(v) for v in p.max_size),
            aspect_ratios=tuple(float(v) for v in p.aspect_ratio),
            flip=True if flip is None else bool(flip),
            # SSD's schema defaults clip to false (OpenCV's to true); SSD wins.
            clip=False if clip is None else bool(clip),
            variances=variances,
            img_h=int(img_h or 0),
            img_w=int(img_w or 0),
            step_h=float(step_h or 0.0),
            step_w=float(step_w or 0.0),
            offset=0.5 if offset is None else float(offset),
            offsets_h=offsets_h,
            offsets_w=offsets_w,
            widths=tuple(float(v) for v in p.width),
            heights=tuple(float(v) for v in p.height),
        )

    @staticmethod
    def _unsupported_for(name: str, message: str) -> UnsupportedParameterError:
        return UnsupportedParameterError(name, message)

    # ------------------------------------------------------------------ prior geometry
    def _unit_free_ratios(self) -> list[float]:
        """The de-duplicated, flipped aspect ratios without the implicit 1.0 (float32 values)."""
        ars: list[float] = [1.0]
        for a in self.aspect_ratios:
            ar = float(np.float32(a))
            if any(abs(ar - e) < _AR_TOL for e in ars):
                continue
            ars.append(ar)
            if self.flip:
                # SSD stores 1/ar in a vector<float>.
                ars.append(float(np.float32(1.0 / ar)))
        return [a for a in ars if abs(a - 1.0) >= _AR_TOL]

    def box_sizes(self) -> tuple[Array, Array]:
        """Width and height (pixels, float32) of every prior of one cell, in SSD order."""
        if self.widths:
            return (
                np.asarray(self.widths, dtype=np.float32),
                np.asarray(self.heights, dtype=np.float32),
            )
        ws: list[float] = []
        hs: list[float] = []
        ratios = [np.float32(a) for a in self._unit_free_ratios()]
        for s, mn in enumerate(self.min_sizes):
            lo = float(math.trunc(mn)) if self.integer_sizes else float(np.float32(mn))
            ws.append(lo)
            hs.append(lo)
            if self.max_sizes:
                mx = self.max_sizes[s]
                hi = float(math.trunc(mx)) if self.integer_sizes else float(np.float32(mx))
                side = float(np.float32(math.sqrt(lo * hi)))
                ws.append(side)
                hs.append(side)
            lo32 = np.float32(lo)
            for ar in ratios:
                root = np.sqrt(ar)
                ws.append(float(lo32 * root))
                hs.append(float(lo32 / root))
        return np.asarray(ws, dtype=np.float32), np.asarray(hs, dtype=np.float32)

    def _offsets(self) -> tuple[Array, Array]:
        if self.offsets_w:
            return (
                np.asarray(self.offsets_h, dtype=np.float32),
                np.asarray(self.offsets_w, dtype=np.float32),
            )
        off = np.asarray([self.offset], dtype=np.float32)
        return off, off

    def num_priors(self) -> int:
        """Priors per feature-map cell."""
        return int(self.box_sizes()[0].size) * int(self._offsets()[0].size)

    # ------------------------------------------------------------------ shapes
    def _check_shapes(self, in_shapes: Sequence[Shape]) -> tuple[int, int]:
        if len(in_shapes) != 2:
            raise self.shape_error(f"needs 2 bottoms (feature map, image), got {len(in_shapes)}")
        feat, img = in_shapes
        if len(feat) != 4:
            raise self.shape_error(f"feature map must be 4-D NCHW, got shape {tuple(feat)}")
        if self.img_h == 0 and len(img) != 4:
            raise self.shape_error(f"image bottom must be 4-D NCHW, got shape {tuple(img)}")
        h, w = int(feat[2]), int(feat[3])
        if h <= 0 or w <= 0:
            raise self.shape_error(f"feature map has an empty spatial size {h}x{w}")
        return h, w

    def output_shapes(self, in_shapes: Sequence[Shape]) -> list[Shape]:
        """``[(1, 2, H*W*num_priors*4)]``."""
        h, w = self._check_shapes(in_shapes)
        return [(1, 2, h * w * self.num_priors() * 4)]

    # ------------------------------------------------------------------ float reference
    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Generate the priors; the bottoms' values are not read, only their shapes.

        Returns:
            One float32 array ``[1, 2, H*W*num_priors*4]`` (boxes, then variances).
        """
        shapes = [tuple(np.shape(x)) for x in inputs]
        lh, lw = self._check_shapes(shapes)
        if self.img_h > 0:
            img_h, img_w = self.img_h, self.img_w
        else:
            img_h, img_w = int(shapes[1][2]), int(shapes[1][3])
        if self.step_h > 0:
            step_y, step_x = np.float32(self.step_h), np.float32(self.step_w)
        else:
            step_y = np.float32(img_h) / np.float32(lh)
            step_x = np.float32(img_w) / np.float32(lw)

        bw, bh = self.box_sizes()
        off_y, off_x = self._offsets()
        # Cell centres in float32, as SSD's `float center_x = (w + offset_) * step_w`.
        cx = (np.arange(lw, dtype=np.float32)[:, None] + off_x[None, :]) * step_x  # (W, K)
        cy = (np.arange(lh, dtype=np.float32)[:, None] + off_y[None, :]) * step_y  # (H, K)
        # The corner arithmetic happens in double in SSD (`box_width / 2.`), then is stored as
        # float; float64 here followed by one rounding reproduces that.
        cx64 = cx.astype(np.float64)[None, :, None, :]  # (1, W, 1, K)
        cy64 = cy.astype(np.float64)[:, None, None, :]  # (H, 1, 1, K)
        hw = (bw.astype(np.float64) / 2.0)[None, None, :, None]  # (1, 1, B, 1)
        hh = (bh.astype(np.float64) / 2.0)[None, None, :, None]
        full = (lh, lw, bw.size, off_x.size)
        boxes = np.stack(
            [
                np.broadcast_to((cx64 - hw) / img_w, full),
                np.broadcast_to((cy64 - hh) / img_h, full),
                np.broadcast_to((cx64 + hw) / img_w, full),
                np.broadcast_to((cy64 + hh) / img_h, full),
            ],
            axis=-1,
        ).astype(np.float32)
        coords = boxes.reshape(-1)
        if self.clip:
            coords = np.clip(coords, np.float32(0.0), np.float32(1.0))
        var = np.asarray(self.variances, dtype=np.float32)
        variances = np.broadcast_to(
            np.resize(var, 4) if var.size == 1 else var, (coords.size // 4, 4)
        ).reshape(-1)
        out = np.stack([coords, variances])[None].astype(np.float32)
        return [out]
