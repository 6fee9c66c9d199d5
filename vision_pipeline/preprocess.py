"""Frame preprocessing written straight into a backend's input buffer.

The model's recorded input specification (:class:`InputSpec`: input blob name and NCHW shape,
edge_dnn's :class:`~edge_dnn.quant.calib_data.Preprocess` with Caffe ``transform_param``
semantics, and the input :class:`~edge_dnn.quant.qgraph.TensorQuant` when quantized) drives a
:class:`Preprocessor`, which turns a camera frame into the network input:

1. colour conversion to the model's channels (BGR -> grey with ``cv2.cvtColor`` for 1-channel
   models; a grey frame feeds a colour model with B = G = R, as a colour decode would);
2. resize to ``Preprocess.resize`` (default: the network input size unless a crop is given),
   either stretched (Caffe's behaviour, ``cv2.INTER_LINEAR``) or letterboxed (aspect ratio kept,
   borders of ``pad_value``);
3. channel order, center crop, ``(pixel - mean) * scale`` and HWC -> CHW exactly as
   :meth:`Preprocess.apply` (bit-identical float32 results);
4. for an integer input buffer, quantization with the input tensor's scale exactly as
   :meth:`TensorQuant.quantize` (``clamp(round_half_away(f64(x) / f64(scale)))``).

For an integer buffer and a per-channel (or no) mean, steps 3 and 4 are one ``cv2.LUT`` table
lookup on the resized image (the table holds the quantized value of every channel and 8-bit
pixel value, computed with the same operations, so it is bit-identical), in place over the
resize scratch for 1-byte integers, followed by one pass writing the buffer. A mean blob or a
grey frame feeding a colour model take the arithmetic path (float32 ufuncs with ``out=`` into a
preallocated scratch, then the quantization into the buffer).

The buffer may be strided: :meth:`arm_scheduler.Runtime.input_buffer` is a view of a DMA
buffer whose channels are interleaved (the engine's ``[H][W][lanes]`` words), which the
preprocessor fills directly (whole pixels at a time). A read-only buffer, the runtime's sign of
a run in flight on that slot, is refused with :class:`PreprocessError`.

There are no per-frame full-size copies: the resize writes into a preallocated scratch image
(or into the letterbox canvas), channel order / crop / transpose are views, and the lookup or
the arithmetic writes into the input buffer. ``Preprocessor.copies`` counts fallback copies
(OpenCV returning a new array instead of writing into the given one) and
``Preprocessor.allocations`` counts scratch buffer allocations (once per frame size); both stay
constant in steady state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from edge_dnn.errors import EdgeDnnError
from edge_dnn.graph import Graph
from edge_dnn.quant.calib_data import Preprocess
from edge_dnn.quant.qgraph import QuantizedGraph, TensorQuant
from vision_pipeline.backends import InferenceBackend
from vision_pipeline.errors import PreprocessError

__all__ = ["RESIZE_MODES", "Geometry", "InputSpec", "Preprocessor"]

RESIZE_MODES = ("stretch", "letterbox")
_INT_DTYPES = ("int8", "uint8", "int16")


# ---------------------------------------------------------------------------- specification
@dataclasses.dataclass(frozen=True, eq=False)
class InputSpec:
    """How frames become the input of one network input blob.

    Attributes:
        name: Input blob name.
        shape: NCHW shape with N = 1 and C = 1 or 3.
        preprocess: Caffe-style preprocessing (mean, scale, crop, channel order, resize).
        quant: Quantization of the input tensor, for integer input buffers (None: float).
        resize_mode: ``"stretch"`` (Caffe: resize to the target size) or ``"letterbox"``.
        pad_value: Pixel value (0..255, before mean/scale) of letterbox borders.
        interpolation: OpenCV interpolation flag of the resize.

    Raises:
        PreprocessError: inconsistent shape, preprocessing and quantization.
    """

    name: str
    shape: tuple[int, int, int, int]
    preprocess: Preprocess = dataclasses.field(default_factory=Preprocess)
    quant: TensorQuant | None = None
    resize_mode: str = "stretch"
    pad_value: float = 0.0
    interpolation: int = cv2.INTER_LINEAR

    def __post_init__(self) -> None:
        shp = tuple(int(d) for d in self.shape)
        where = f"input '{self.name}'"
        if len(shp) != 4 or shp[0] != 1 or shp[1] not in (1, 3) or min(shp) <= 0:
            raise PreprocessError(
                f"{where}: frames feed NCHW inputs of shape [1, 1 or 3, H, W], got {list(shp)}"
            )
        object.__setattr__(self, "shape", shp)
        if self.resize_mode not in RESIZE_MODES:
            raise PreprocessError(f"{where}: resize_mode must be one of {RESIZE_MODES}")
        if not 0.0 <= float(self.pad_value) <= 255.0:
            raise PreprocessError(f"{where}: pad_value must be in [0, 255]")
        C, H, W = shp[1:]
        pre = self.preprocess
        if pre.grayscale != (C == 1):
            raise PreprocessError(
                f"{where} has {C} channel(s) but the preprocessing is "
                f"{'grey' if pre.grayscale else 'colour'}; set Preprocess(grayscale={C == 1})"
            )
        try:
            pre = pre.resolve()
        except EdgeDnnError as exc:
            raise PreprocessError(f"{where}: cannot load the mean file: {exc}") from exc
        object.__setattr__(self, "preprocess", pre)
        if pre.mean_value and len(pre.mean_value) not in (1, C):
            raise PreprocessError(
                f"{where}: {len(pre.mean_value)} mean values for {C} channel(s) (give 1 or {C})"
            )
        rs = self.resize_hw
        if pre.crop_size is not None:
            if (pre.crop_size, pre.crop_size) != (H, W):
                raise PreprocessError(
                    f"{where}: crop_size {pre.crop_size} does not give the input size {H}x{W}"
                )
            if rs is not None and (rs[0] < H or rs[1] < W):
                raise PreprocessError(f"{where}: resize {rs} is smaller than crop_size {H}")
        elif rs != (H, W):
            raise PreprocessError(
                f"{where}: resize {rs} without a crop must equal the input size {(H, W)}"
            )
        if pre.mean_blob is not None and rs is not None and pre.mean_blob.shape != (C, *rs):
            raise PreprocessError(
                f"{where}: mean blob of shape {list(pre.mean_blob.shape)} does not match the "
                f"resized image {[C, *rs]}"
            )
        if (
            self.quant is not None
            and not self.quant.is_float
            and self.quant.dtype not in _INT_DTYPES
        ):
            raise PreprocessError(f"{where}: unsupported input quantization {self.quant.dtype}")

    @property
    def resize_hw(self) -> tuple[int, int] | None:
        """(height, width) frames are resized to; None: no resize (crop the frame itself)."""
        pre = self.preprocess
        if pre.resize is not None:
            return pre.resize
        if pre.crop_size is None:
            return (self.shape[2], self.shape[3])
        return None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_graph(
        cls, graph: Graph, preprocess: Preprocess | None = None, name: str | None = None, **kw: Any
    ) -> InputSpec:
        """Spec of a float graph's input (default preprocessing: resize, no mean, scale 1)."""
        name = _pick_input(graph.inputs, name, graph.name)
        shape = graph.inputs[name]
        if preprocess is None:
            preprocess = Preprocess(grayscale=len(shape) == 4 and shape[1] == 1)
        return cls(name, _shape4(shape, name), preprocess, None, **kw)

    @classmethod
    def from_quantized(
        cls,
        qgraph: QuantizedGraph,
        preprocess: Preprocess | None = None,
        name: str | None = None,
        **kw: Any,
    ) -> InputSpec:
        """Spec of a quantized graph's input, with the input tensor's quantization."""
        spec = cls.from_graph(qgraph.graph, preprocess, name, **kw)
        tq = qgraph.tensors[spec.name]
        return dataclasses.replace(spec, quant=None if tq.is_float else tq)

    @classmethod
    def from_metadata(
        cls,
        name: str,
        shape: tuple[int, ...],
        preprocess: Preprocess | Mapping[str, Any] | None = None,
        quant: TensorQuant | Mapping[str, Any] | None = None,
        **kw: Any,
    ) -> InputSpec:
        """From recorded model metadata (``Preprocess.to_dict`` and ``TensorQuant.to_dict``
        forms, as a compiled model stores them).

        Raises:
            PreprocessError: malformed metadata.
        """
        try:
            pre = (
                preprocess
                if isinstance(preprocess, Preprocess)
                else Preprocess.from_dict(preprocess)
                if preprocess is not None
                else Preprocess(grayscale=len(shape) == 4 and int(shape[1]) == 1)
            )
            tq = (
                quant
                if isinstance(quant, TensorQuant) or quant is None
                else TensorQuant(
                    float(quant["scale"]),
                    str(quant["dtype"]),
                    int(quant["qmin"]),
                    int(quant["qmax"]),
                )
            )
        except (EdgeDnnError, KeyError, TypeError, ValueError) as exc:
            raise PreprocessError(f"input '{name}': malformed metadata: {exc}") from exc
        return cls(name, _shape4(shape, name), pre, tq, **kw)


def _shape4(shape: tuple[int, ...], name: str) -> tuple[int, int, int, int]:
    s = [int(d) for d in shape]
    if len(s) != 4:
        raise PreprocessError(
            f"input '{name}': frames feed NCHW inputs of shape [1, 1 or 3, H, W], got {s}"
        )
    return s[0], s[1], s[2], s[3]


def _pick_input(inputs: Mapping[str, tuple[int, ...]], name: str | None, net: str) -> str:
    if name is not None:
        if name not in inputs:
            raise PreprocessError(f"network '{net}' has no input '{name}'; inputs {sorted(inputs)}")
        return name
    if len(inputs) != 1:
        raise PreprocessError(
            f"network '{net}' has {len(inputs)} inputs {sorted(inputs)}; name the one frames feed"
        )
    return next(iter(inputs))


# ---------------------------------------------------------------------------- geometry
@dataclasses.dataclass(frozen=True)
class Geometry:
    """Where a frame landed in the network input.

    Network input pixel = frame pixel * scale + offset (per axis; continuous coordinates with
    pixel edges at integers, so box edges map exactly).

    Attributes:
        frame_size: Frame (height, width).
        input_size: Network input (height, width).
        scale: (sx, sy).
        offset: (ox, oy) in network input pixels (letterbox padding minus crop offset).
    """

    frame_size: tuple[int, int]
    input_size: tuple[int, int]
    scale: tuple[float, float]
    offset: tuple[float, float]

    def to_frame(self, boxes: np.ndarray, clip: bool = True) -> np.ndarray:
        """``[n, 4]`` (x0, y0, x1, y1) network-input pixels -> frame pixels (float64)."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        sx, sy = self.scale
        ox, oy = self.offset
        out = np.empty_like(b)
        out[:, [0, 2]] = (b[:, [0, 2]] - ox) / sx
        out[:, [1, 3]] = (b[:, [1, 3]] - oy) / sy
        if clip:
            h, w = self.frame_size
            out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0.0, float(w))
            out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0.0, float(h))
        return out

    def normalized_to_frame(self, boxes: np.ndarray, clip: bool = True) -> np.ndarray:
        """Boxes in [0, 1] units of the network input (SSD) -> frame pixels (float64)."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        h, w = self.input_size
        return self.to_frame(b * np.array([w, h, w, h], dtype=np.float64), clip)

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Frame pixels -> network input pixels (float64 ``[n, 4]``)."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        sx, sy = self.scale
        ox, oy = self.offset
        out = np.empty_like(b)
        out[:, [0, 2]] = b[:, [0, 2]] * sx + ox
        out[:, [1, 3]] = b[:, [1, 3]] * sy + oy
        return out


# ---------------------------------------------------------------------------- the transform
class Preprocessor:
    """Writes preprocessed frames into one input buffer (see the module docstring).

    Args:
        spec: The input specification.
        buffer: The destination: a writable ``[1, C, H, W]`` (or ``[C, H, W]``) array, float32
            or the integer dtype of ``spec.quant`` (the frame is then quantized). It may be
            strided, e.g. :meth:`arm_scheduler.Runtime.input_buffer`, a view of a DMA buffer
            whose channels are interleaved (``[H][W][lanes]``).

    Attributes:
        buffer: The destination buffer (never replaced).
        copies: Fallback full-size copies made so far (0 in normal operation).
        allocations: Scratch buffers allocated so far (constant once the frame size is stable).
        frames: Frames processed.

    Raises:
        PreprocessError: a buffer of the wrong shape or dtype, or an integer buffer without
            quantization parameters.
    """

    def __init__(self, spec: InputSpec, buffer: np.ndarray) -> None:
        self.spec = spec
        C, H, W = spec.shape[1:]
        where = f"input '{spec.name}'"
        if not isinstance(buffer, np.ndarray) or buffer.shape not in ((1, C, H, W), (C, H, W)):
            raise PreprocessError(
                f"{where}: the backend buffer has shape "
                f"{list(getattr(buffer, 'shape', []))}, expected {[1, C, H, W]}"
            )
        if not buffer.flags.writeable:
            raise PreprocessError(f"{where}: the backend buffer must be writeable")
        dt = buffer.dtype
        self.integer = dt.kind in "iu"
        if self.integer:
            q = spec.quant
            if q is None or q.is_float:
                raise PreprocessError(
                    f"{where}: the backend wants {dt} integers but the spec has no input "
                    "quantization (use InputSpec.from_quantized or pass quant=)"
                )
            if np.dtype(q.np_dtype) != dt:
                raise PreprocessError(
                    f"{where}: the backend buffer is {dt} but the input is quantized as {q.dtype}"
                )
        elif dt != np.float32:
            raise PreprocessError(f"{where}: the backend buffer must be float32 or int, got {dt}")
        self.buffer = buffer
        self._target = buffer[0] if buffer.ndim == 4 else buffer  # [C, H, W] view
        pre = spec.preprocess
        self._mean = (
            np.asarray(pre.mean_value, dtype=np.float32).reshape(-1, 1, 1)
            if pre.mean_value
            else None
        )
        self._scale = np.float32(pre.scale)
        self._lut = self._make_lut() if self.integer and pre.mean_blob is None else None
        self._scratch: dict[str, np.ndarray] = {}
        self._letterbox: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, Geometry]] = {}
        self.copies = 0
        self.allocations = 0
        self.frames = 0

    @classmethod
    def for_backend(cls, spec: InputSpec, backend: InferenceBackend) -> Preprocessor:
        """A preprocessor writing into ``backend.input_buffer(spec.name)``; the input
        quantization is taken from the backend (``input_quant``) when the spec has none."""
        buf = backend.input_buffer(spec.name)
        if buf.dtype.kind in "iu" and spec.quant is None:
            getq = getattr(backend, "input_quant", None)
            if callable(getq):
                spec = dataclasses.replace(spec, quant=getq(spec.name))
        return cls(spec, buf)

    # ------------------------------------------------------------------ scratch buffers
    def _buf(self, key: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        b = self._scratch.get(key)
        if b is None or b.shape != shape or b.dtype != np.dtype(dtype):
            b = np.empty(shape, dtype=dtype)
            self._scratch[key] = b
            self.allocations += 1
        return b

    def _into(self, result: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """``dst`` holding ``result`` (a copy only if OpenCV did not write in place)."""
        if result is not dst and not np.shares_memory(result, dst):
            np.copyto(dst, result.reshape(dst.shape))
            self.copies += 1
        return dst

    # ------------------------------------------------------------------ apply
    def __call__(self, image: np.ndarray) -> Geometry:
        """Preprocess one frame into the buffer.

        Args:
            image: uint8 HxWx3 BGR or HxW (HxWx1) grey frame.

        Returns:
            The frame's :class:`Geometry` in the network input.

        Raises:
            PreprocessError: not a uint8 image, too small for the crop / mean, or a read-only
                buffer (a runtime slot whose run is still in flight).
        """
        spec = self.spec
        C, H, W = spec.shape[1:]
        a = image
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.size == 0:
            raise PreprocessError(
                f"input '{spec.name}': frames must be uint8 images, got "
                f"{type(a).__name__} {getattr(a, 'dtype', '')} {list(getattr(a, 'shape', []))}"
            )
        if not self.buffer.flags.writeable:
            raise PreprocessError(
                f"input '{spec.name}': the buffer is read-only: a run of its runtime slot is "
                "still in flight (wait for its result before the next frame)"
            )
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
            raise PreprocessError(
                f"input '{spec.name}': expected an HxWx3 BGR or HxW grey frame, got shape "
                f"{list(image.shape)}"
            )
        fh, fw = int(a.shape[0]), int(a.shape[1])
        own = False  # ``a`` is a scratch image of ours, rewritten every frame
        if C == 1 and a.ndim == 3:
            g = self._buf("grey", (fh, fw), np.uint8)
            a = self._into(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY, dst=g), g)
            own = True

        target = spec.resize_hw
        if target is None:
            img, sx, sy, ox, oy = a, 1.0, 1.0, 0.0, 0.0
        elif spec.resize_mode == "letterbox":
            img, geo = self._letterboxed(a, target)
            sx, sy = geo.scale
            ox, oy = geo.offset
            own = False  # the canvas keeps its borders from frame to frame
        else:
            th, tw = target
            sx, sy, ox, oy = tw / fw, th / fh, 0.0, 0.0
            if (fh, fw) == (th, tw):
                img = a
            else:
                dst = self._buf("resized", (th, tw, *a.shape[2:]), np.uint8)
                img = self._into(
                    cv2.resize(a, (tw, th), dst=dst, interpolation=spec.interpolation), dst
                )
                own = True

        rh, rw = int(img.shape[0]), int(img.shape[1])
        y0 = x0 = 0
        crop = spec.preprocess.crop_size
        if crop is not None:
            if crop > rh or crop > rw:
                raise PreprocessError(
                    f"input '{spec.name}': image of {rh}x{rw} pixels is smaller than crop_size "
                    f"{crop} (set Preprocess.resize)"
                )
            y0, x0 = (rh - crop) // 2, (rw - crop) // 2
        elif (rh, rw) != (H, W):  # only reachable without resize and crop checks
            raise PreprocessError(
                f"input '{spec.name}': preprocessed image is {[rh, rw]}, need {[H, W]}"
            )
        if self._lut is not None and img.ndim == (3 if C == 3 else 2):
            # Quantized input: one table lookup per pixel and channel (exact, see _make_lut)
            # on the resized image, then one write into the buffer.
            self._write_hwc(self._view(self._lookup(img, own), y0, x0))
        else:
            self._transform(self._view(img, y0, x0), y0, x0, (rh, rw))
        self.frames += 1
        return Geometry((fh, fw), (H, W), (sx, sy), (ox - x0, oy - y0))

    def _view(self, img: np.ndarray, y0: int, x0: int) -> np.ndarray:
        """``[H, W, C]`` view of the network input: grey replicated to colour, channel order,
        center crop (no copies)."""
        C, H, W = self.spec.shape[1:]
        if C == 3 and img.ndim == 2:
            img = np.broadcast_to(img[:, :, None], (*img.shape, 3))
        elif img.ndim == 2:
            img = img[:, :, None]
        if C == 3 and self.spec.preprocess.channel_order == "RGB":
            img = img[:, :, ::-1]
        return img[y0 : y0 + H, x0 : x0 + W]

    def _transform(self, hwc: np.ndarray, y0: int, x0: int, resized: tuple[int, int]) -> None:
        """``(pixel - mean) * scale`` (then quantization) with ufuncs writing in place."""
        spec = self.spec
        C, H, W = spec.shape[1:]
        chw = hwc.transpose(2, 0, 1)
        out = self._buf("float", (C, H, W), np.float32) if self.integer else self._target
        blob = spec.preprocess.mean_blob
        if blob is not None:
            if blob.shape != (C, *resized):
                raise PreprocessError(
                    f"input '{spec.name}': mean blob of shape {list(blob.shape)} does not match "
                    f"the resized image {[C, *resized]}"
                )
            np.subtract(chw, blob[:, y0 : y0 + H, x0 : x0 + W], out=out, dtype=np.float32)
        elif self._mean is not None:
            np.subtract(chw, self._mean, out=out, dtype=np.float32)
        else:
            np.copyto(out, chw)
        if self._scale != 1.0:
            np.multiply(out, self._scale, out=out)
        if self.integer:
            self._quantize(out)

    # ------------------------------------------------------------------ quantized fast path
    def _make_lut(self) -> np.ndarray:
        """The quantized value of every (source channel, 8-bit pixel value).

        Each entry is computed with the per-pixel operations of the general path
        (``f32(pixel) - f32(mean)``, ``* f32(scale)``, then :meth:`TensorQuant.quantize`), so
        looking the table up is bit-identical to computing. Columns follow the frame's channel
        order (BGR): with ``channel_order == "RGB"`` network channel ``c`` reads frame channel
        ``2 - c``. Shape ``(1, 256, C)`` (``(1, 256)`` for one channel), as ``cv2.LUT`` wants.
        """
        q = self.spec.quant
        assert q is not None  # checked in __init__
        C = self.spec.shape[1]
        v = np.arange(256, dtype=np.uint8)[None, :]
        x = (
            np.subtract(v, self._mean.reshape(-1, 1), dtype=np.float32)
            if self._mean is not None
            else v.astype(np.float32)
        )
        if self._scale != 1.0:
            x = np.multiply(x, self._scale)
        table = q.quantize(np.broadcast_to(x, (C, 256)), where=f"input '{self.spec.name}'")
        if C == 3 and self.spec.preprocess.channel_order == "RGB":
            table = table[::-1]
        return np.ascontiguousarray(table.T)[None] if C == 3 else np.ascontiguousarray(table)

    def _lookup(self, img: np.ndarray, own: bool) -> np.ndarray:
        """The quantized image (storage dtype, ``img``'s shape): in place over ``img`` when it
        is our own scratch and the integers are one byte wide, else into a scratch."""
        assert self._lut is not None
        dt = self._lut.dtype
        if own and dt.itemsize == 1 and img.flags.c_contiguous:
            dst = img.view(dt)
        else:
            dst = self._buf("lut", img.shape, dt)
        return self._into(cv2.LUT(img, self._lut, dst=dst), dst)

    def _write_hwc(self, hwc: np.ndarray) -> None:
        """Write an ``[H, W, C]`` image of the storage dtype into the ``[C, H, W]`` buffer."""
        dst = self._target.transpose(1, 2, 0)
        e = dst.itemsize
        C = dst.shape[2]
        if C > 1 and dst.strides[2] == e and hwc.strides[2] == e:
            # Both keep a pixel's channels adjacent (the DMA buffer's interleaved lanes, the
            # image's BGR bytes): copy whole pixels rather than single channel values.
            pixel = np.dtype(f"V{C * e}")
            np.copyto(dst.view(pixel), hwc.view(pixel))
        else:
            np.copyto(dst, hwc)

    def _letterboxed(self, a: np.ndarray, target: tuple[int, int]) -> tuple[np.ndarray, Geometry]:
        fh, fw = int(a.shape[0]), int(a.shape[1])
        key = (fh, fw, *a.shape[2:])
        entry = self._letterbox.get(key)
        if entry is None:
            th, tw = target
            r = min(tw / fw, th / fh)
            nw, nh = max(1, min(tw, round(fw * r))), max(1, min(th, round(fh * r)))
            px, py = (tw - nw) // 2, (th - nh) // 2
            canvas = np.empty((th, tw, *a.shape[2:]), dtype=np.uint8)
            canvas.fill(round(self.spec.pad_value))
            self.allocations += 1
            roi = canvas[py : py + nh, px : px + nw]
            geo = Geometry((fh, fw), target, (nw / fw, nh / fh), (float(px), float(py)))
            self._letterbox.clear()  # one frame size at a time: bounded memory
            entry = self._letterbox[key] = (canvas, roi, geo)
        canvas, roi, geo = entry
        self._into(
            cv2.resize(
                a, (roi.shape[1], roi.shape[0]), dst=roi, interpolation=self.spec.interpolation
            ),
            roi,
        )
        return canvas, geo

    def _quantize(self, x: np.ndarray) -> None:
        """``clamp(round_half_away(f64(x) / f64(scale)), qmin, qmax)`` into the buffer, with
        preallocated scratch (the arithmetic of ``TensorQuant.quantize``)."""
        q = self.spec.quant
        assert q is not None  # checked in __init__
        v = self._buf("q_v", x.shape, np.float64)
        t = self._buf("q_t", x.shape, np.float64)
        m = self._buf("q_m", x.shape, np.bool_)
        np.divide(x, np.float64(q.scale), out=v, dtype=np.float64)
        np.clip(v, float(q.qmin), float(q.qmax), out=v)  # clamping first is exact: integer bounds
        np.trunc(v, out=t)
        np.subtract(v, t, out=v)  # the fraction, exact; |frac| >= 0.5 rounds away from zero
        np.greater_equal(v, 0.5, out=m)
        np.add(t, m, out=t)
        np.less_equal(v, -0.5, out=m)
        np.subtract(t, m, out=t)
        np.copyto(self._target, t, casting="unsafe")
