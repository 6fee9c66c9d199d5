"""Calibration data from user input: ``.npy``/``.npz`` arrays or a folder of images.

:func:`load_calibration` returns a :class:`CalibrationSet`: a re-iterable sequence of feed
dicts ``{input blob: float32 NCHW batch}`` in the network's input layout, read lazily batch by
batch (a ``.npy`` file is memory-mapped, images are decoded per batch).

Images are decoded by a plugin, because edge_dnn itself never imports OpenCV: a callable
registered in the entry-point group ``edge_dnn.image_readers`` (vision_pipeline registers
``opencv = "vision_pipeline.images:read_image"``), or one passed as ``reader=``. A reader is
called as ``reader(path, size=(h, w) or None, grayscale=bool)`` and returns an HxWx3 uint8 BGR
image (HxW when ``grayscale``), resized to ``size`` when given, or raises
:class:`~edge_dnn.errors.ImageReadError`.

The pixels are then transformed in numpy exactly like Caffe's ``DataTransformer`` in the TEST
phase (see :class:`Preprocess`).
"""

from __future__ import annotations

import base64
import dataclasses
import math
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge_dnn.caffe.caffemodel import read_binaryproto
from edge_dnn.errors import CalibrationError, EdgeDnnError, ImageReadError
from edge_dnn.graph import Graph
from edge_dnn.layers.base import Shape

__all__ = [
    "IMAGE_EXTENSIONS",
    "READER_GROUP",
    "CalibrationSet",
    "ImageReader",
    "Preprocess",
    "get_image_reader",
    "list_images",
    "load_calibration",
]

READER_GROUP = "edge_dnn.image_readers"
"""Entry-point group of image reader plugins."""

IMAGE_EXTENSIONS = frozenset(
    {".bmp", ".dib", ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".pbm", ".pgm", ".ppm", ".pnm"}
    | {".tif", ".tiff"}
)
"""File suffixes (lower case) taken as images in a calibration folder."""

_FINITE_CHUNK = 1 << 24
"""Elements checked for NaN/Inf per step (bounds the temporary of a memory-mapped scan)."""


class ImageReader(Protocol):
    """Decodes one image file (the ``edge_dnn.image_readers`` plugin interface)."""

    def __call__(
        self, path: str, size: tuple[int, int] | None = None, grayscale: bool = False
    ) -> np.ndarray:
        """Return an HxWx3 uint8 BGR image (HxW grey if ``grayscale``), resized to ``size``
        = (height, width) when given; raise ImageReadError when the file cannot be decoded."""
        ...


# ---------------------------------------------------------------------------- preprocessing
@dataclasses.dataclass(frozen=True, eq=False)
class Preprocess:
    """Image preprocessing with the semantics of Caffe's ``TransformationParameter`` (TEST).

    Applied to an image from the reader, in this order (as Caffe's ``DataTransformer``):

    1. (reader) decode as 8-bit BGR, or grey when ``grayscale``; resize to ``resize``
       (bilinear) when given; a grey file read in colour has B = G = R;
    2. channel order: reversed to RGB when ``channel_order == "RGB"``;
    3. center crop to ``crop_size`` x ``crop_size`` (offsets ``(H - crop) // 2``,
       ``(W - crop) // 2``);
    4. ``(pixel - mean) * scale`` in float32, where the mean is ``mean_value[c]`` (one value is
       used for every channel) or the mean blob cropped at the same offsets (so the blob has
       the uncropped image size, as Caffe requires);
    5. HWC -> CHW.

    Means are in the network's channel order (after step 2), i.e. BGR for Caffe-trained nets.
    Caffe's ``mirror`` is a training-time augmentation and is not applied.

    Attributes:
        resize: (height, width) the reader resizes to, or None to keep the file's size.
        crop_size: Side of the square center crop, or None (Caffe's 0) for no crop.
        mean_value: Per-channel means (or one for all channels); empty for none.
        mean_file: A ``.binaryproto`` mean (Caffe's ``mean_file``), loaded by :meth:`resolve`.
        scale: Multiplier applied after the mean subtraction (Caffe's ``scale``).
        channel_order: ``"BGR"`` (Caffe's default) or ``"RGB"``.
        grayscale: Decode as one grey channel (Caffe's ``force_gray`` / ``is_color: false``).
        mean_blob: The mean image, float32 [C, H, W] (loaded from ``mean_file`` or given).
    """

    resize: tuple[int, int] | None = None
    crop_size: int | None = None
    mean_value: tuple[float, ...] = ()
    mean_file: str | None = None
    scale: float = 1.0
    channel_order: str = "BGR"
    grayscale: bool = False
    mean_blob: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        def bad(msg: str) -> CalibrationError:
            return CalibrationError(f"invalid preprocessing: {msg}")

        if self.resize is not None:
            r = tuple(self.resize)
            if len(r) != 2 or any(int(v) != v or int(v) <= 0 for v in r):
                raise bad(f"resize must be (height, width) positive integers, got {self.resize!r}")
            object.__setattr__(self, "resize", (int(r[0]), int(r[1])))
        if self.crop_size is not None:
            c = self.crop_size
            if int(c) != c or int(c) < 0:
                raise bad(f"crop_size must be a non-negative integer, got {c!r}")
            object.__setattr__(self, "crop_size", int(c) or None)  # Caffe: 0 = no crop
        mv = tuple(float(v) for v in np.asarray(self.mean_value, dtype=np.float64).reshape(-1))
        if not all(math.isfinite(v) for v in mv):
            raise bad(f"mean_value must be finite, got {self.mean_value!r}")
        object.__setattr__(self, "mean_value", mv)
        if not math.isfinite(float(self.scale)):
            raise bad(f"scale must be finite, got {self.scale!r}")
        object.__setattr__(self, "scale", float(self.scale))
        order = str(self.channel_order).upper()
        if order not in ("BGR", "RGB"):
            raise bad(f"channel_order must be 'BGR' or 'RGB', got {self.channel_order!r}")
        object.__setattr__(self, "channel_order", order)
        object.__setattr__(self, "grayscale", bool(self.grayscale))
        if self.mean_file is not None:
            object.__setattr__(self, "mean_file", os.fspath(self.mean_file))
        if self.mean_blob is not None:
            object.__setattr__(self, "mean_blob", _mean_blob(self.mean_blob, self.mean_file))
        if mv and (self.mean_file is not None or self.mean_blob is not None):
            # Caffe refuses this combination too ("Cannot specify mean_file and mean_value").
            raise bad("give either mean_value or a mean file/blob, not both")

    # ------------------------------------------------------------------ identity, equality
    def _key(self) -> tuple[Any, ...]:
        return (
            self.resize,
            self.crop_size,
            self.mean_value,
            self.mean_file,
            self.scale,
            self.channel_order,
            self.grayscale,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Preprocess):
            return NotImplemented
        if self._key() != other._key():
            return False
        a, b = self.mean_blob, other.mean_blob
        if a is None or b is None:
            return a is b
        return a.shape == b.shape and bool(np.array_equal(a, b))

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def is_identity(self) -> bool:
        """True when the transformation leaves decoded pixels unchanged (besides HWC->CHW)."""
        return (
            self.resize is None
            and self.crop_size is None
            and not self.mean_value
            and self.mean_file is None
            and self.mean_blob is None
            and self.scale == 1.0
            and self.channel_order == "BGR"
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_transform_param(
        cls, tp: Any, resize: tuple[int, int] | None = None, channel_order: str = "BGR"
    ) -> Preprocess:
        """From a Caffe ``TransformationParameter`` message (a data layer's ``transform_param``).

        Args:
            tp: The ``caffe_pb2.TransformationParameter``.
            resize: (height, width) to resize images to first (Caffe's ``new_height/new_width``
                of an ImageData layer, or the size of the images the LMDB was built from).
            channel_order: Channel order the network was trained with.
        """
        return cls(
            resize=resize,
            crop_size=int(tp.crop_size) or None,
            mean_value=tuple(float(v) for v in tp.mean_value),
            mean_file=str(tp.mean_file) if tp.HasField("mean_file") else None,
            scale=float(tp.scale),
            channel_order=channel_order,
            grayscale=bool(tp.force_gray),
        )

    def resolve(self) -> Preprocess:
        """This preprocessing with the mean blob loaded from ``mean_file`` (if not yet).

        Raises:
            ModelFormatError: the binaryproto cannot be read (names the file).
            CalibrationError: the blob is not a [C, H, W] or [1, C, H, W] image mean.
        """
        if self.mean_file is None or self.mean_blob is not None:
            return self
        blob = read_binaryproto(self.mean_file)
        return dataclasses.replace(self, mean_blob=_mean_blob(blob, self.mean_file))

    # ------------------------------------------------------------------ metadata
    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the compiled model's input preprocessing metadata).

        The mean blob, when present, is embedded exactly (little-endian float32, base64), so
        the metadata does not depend on the mean file staying around.
        """
        d: dict[str, Any] = {
            "resize": list(self.resize) if self.resize is not None else None,
            "crop_size": self.crop_size,
            "mean_value": list(self.mean_value),
            "mean_file": self.mean_file,
            "scale": self.scale,
            "channel_order": self.channel_order,
            "grayscale": self.grayscale,
            "mean_blob": None,
        }
        if self.mean_blob is not None:
            d["mean_blob"] = {
                "shape": list(self.mean_blob.shape),
                "dtype": "<f4",
                "data": base64.b64encode(self.mean_blob.astype("<f4").tobytes()).decode("ascii"),
            }
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocess:
        """Inverse of :meth:`to_dict` (missing keys take their defaults).

        Raises:
            CalibrationError: malformed values (e.g. a mean blob whose data does not fit).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise CalibrationError(f"unknown preprocessing key(s) {sorted(unknown)}")
        blob = None
        mb = d.get("mean_blob")
        if mb is not None:
            try:
                raw = base64.b64decode(mb["data"], validate=True)
                blob = np.frombuffer(raw, dtype="<f4").reshape([int(v) for v in mb["shape"]])
            except (KeyError, TypeError, ValueError) as exc:
                raise CalibrationError(f"malformed mean_blob in preprocessing: {exc}") from None
        resize = d.get("resize")
        return cls(
            resize=None if resize is None else (int(resize[0]), int(resize[1])),
            crop_size=d.get("crop_size"),
            mean_value=tuple(d.get("mean_value") or ()),
            mean_file=d.get("mean_file"),
            scale=float(d.get("scale", 1.0)),
            channel_order=str(d.get("channel_order", "BGR")),
            grayscale=bool(d.get("grayscale", False)),
            mean_blob=blob,
        )

    # ------------------------------------------------------------------ the transform
    def apply(self, image: npt.ArrayLike, source: str = "<image>") -> np.ndarray:
        """Transform one decoded image into a float32 [C, H, W] network input sample.

        Args:
            image: HxWx3 BGR or HxW / HxWx1 grey pixels from the reader (uint8; any real dtype
                is accepted).
            source: The image's file name, for error messages.

        Raises:
            CalibrationError: wrong image shape or channel count, an image smaller than the crop,
                a mean of the wrong size, or non-finite values (names ``source``).
        """
        a = np.asarray(image)
        if a.dtype.kind not in "uif" or a.ndim not in (2, 3) or a.size == 0:
            raise CalibrationError(
                f"image reader returned an array of shape {list(a.shape)} and dtype {a.dtype}; "
                "expected H x W x 3 (BGR) or H x W (grey) pixels",
                path=source,
            )
        if a.ndim == 2:
            a = a[:, :, None]
        ch = a.shape[2]
        if self.grayscale:
            if ch != 1:
                raise CalibrationError(
                    f"grey image expected (grayscale preprocessing) but the reader returned "
                    f"{ch} channels (shape {list(a.shape)})",
                    path=source,
                )
        elif ch == 1:
            a = np.repeat(a, 3, axis=2)  # what a colour decode of a grey file gives
        elif ch != 3:
            raise CalibrationError(
                f"expected a 3-channel BGR image, the reader returned {ch} channels "
                f"(shape {list(a.shape)})",
                path=source,
            )
        if self.channel_order == "RGB" and a.shape[2] == 3:
            a = a[:, :, ::-1]
        H, W = a.shape[:2]
        h0 = w0 = 0
        ch_h, ch_w = H, W
        if self.crop_size is not None:
            ch_h = ch_w = self.crop_size
            if ch_h > H or ch_w > W:
                raise CalibrationError(
                    f"image of {H}x{W} pixels is smaller than crop_size {self.crop_size}",
                    path=source,
                )
            h0, w0 = (H - ch_h) // 2, (W - ch_w) // 2
            a = a[h0 : h0 + ch_h, w0 : w0 + ch_w]
        x = np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)
        if a.dtype.kind == "f" and not np.isfinite(x).all():
            raise CalibrationError("image holds NaN or infinite values", path=source)
        C = x.shape[0]
        blob = self.resolve().mean_blob
        if blob is not None:
            if blob.shape != (C, H, W):
                raise CalibrationError(
                    f"mean blob has shape {list(blob.shape)} but the image (before cropping) is "
                    f"{[C, H, W]}; Caffe needs the mean at the image's full size (set resize "
                    "to the mean's size)",
                    path=source,
                )
            x -= blob[:, h0 : h0 + ch_h, w0 : w0 + ch_w]
        elif self.mean_value:
            if len(self.mean_value) not in (1, C):
                raise CalibrationError(
                    f"{len(self.mean_value)} mean values for a {C}-channel image (give 1 or {C})",
                    path=source,
                )
            x -= np.asarray(self.mean_value, dtype=np.float32).reshape(-1, 1, 1)
        if self.scale != 1.0:
            x *= np.float32(self.scale)
        return x


def _mean_blob(blob: npt.ArrayLike, path: str | None) -> np.ndarray:
    """A mean blob as float32 [C, H, W] (a leading batch axis of 1 is dropped)."""
    a = np.asarray(blob, dtype=np.float32)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3 or not np.isfinite(a).all():
        raise CalibrationError(
            f"mean blob must be a finite [C, H, W] (or [1, C, H, W]) image, got shape "
            f"{list(np.shape(blob))}",
            path=path,
        )
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------------------- image readers
def get_image_reader(name: str | None = None) -> ImageReader:
    """Load an image reader plugin from the ``edge_dnn.image_readers`` entry points.

    Args:
        name: The plugin's entry-point name (e.g. ``opencv``); default ``opencv`` if
            installed, else the first by name.

    Raises:
        CalibrationError: no plugin installed, ``name`` not found, or the plugin fails to load.
    """
    eps = {ep.name: ep for ep in entry_points(group=READER_GROUP)}
    if not eps:
        raise CalibrationError(
            f"no image reader is installed (entry-point group '{READER_GROUP}' is empty); "
            "install edge-dnn with its vision extra (pip install 'edge-dnn[vision]', which "
            "registers vision_pipeline's OpenCV reader) or pass reader=<callable>"
        )
    if name is None:
        name = "opencv" if "opencv" in eps else sorted(eps)[0]
    ep = eps.get(name)
    if ep is None:
        raise CalibrationError(
            f"no image reader named '{name}' in entry-point group '{READER_GROUP}'; "
            f"installed: {', '.join(sorted(eps))}"
        )
    try:
        fn = ep.load()
    except Exception as exc:  # a plugin's import may fail in any way (missing cv2, ...)
        raise CalibrationError(
            f"image reader plugin '{ep.name}' ({ep.value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if not callable(fn):
        raise CalibrationError(f"image reader plugin '{ep.name}' ({ep.value}) is not callable")
    reader: ImageReader = fn
    return reader


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden entries skipped), sorted by path.

    Raises:
        CalibrationError: the folder is empty or holds no file with a supported suffix.
    """
    root = Path(folder)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise CalibrationError("the calibration folder is empty", path=str(root))
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not images:
        found = sorted({p.suffix.lower() or "<none>" for p in files})
        raise CalibrationError(
            f"no supported image files among {len(files)} file(s) (suffixes found: "
            f"{', '.join(found)}; supported: {', '.join(sorted(IMAGE_EXTENSIONS))})",
            path=str(root),
        )
    return images


# ---------------------------------------------------------------------------- the data set
class CalibrationSet:
    """Calibration batches: iterate for feed dicts ``{input blob: float32 [n, C, H, W]}``.

    Re-iterable (each pass reads the source again); ``len()`` is the number of batches.

    Attributes:
        source: Where the data comes from (path or ``<arrays>``).
        kind: ``npy``, ``npz``, ``images`` or ``arrays``.
        inputs: The network input blobs and their declared shapes.
        num_samples: Samples per pass (after ``limit``).
        batch_size: Samples per batch (the last batch may be smaller).
        preprocess: The image preprocessing applied (None for arrays).
    """

    def __init__(
        self,
        source: str,
        kind: str,
        inputs: Mapping[str, Shape],
        num_samples: int,
        batch_size: int,
        make_batch: Callable[[int, int], dict[str, np.ndarray]],
        preprocess: Preprocess | None = None,
    ) -> None:
        self.source = source
        self.kind = kind
        self.inputs = dict(inputs)
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.preprocess = preprocess
        self._make_batch = make_batch

    def __len__(self) -> int:
        return -(-self.num_samples // self.batch_size)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, self.num_samples, self.batch_size):
            yield self._make_batch(start, min(start + self.batch_size, self.num_samples))

    def __repr__(self) -> str:
        return (
            f"CalibrationSet({self.kind}: {self.source!r}, {self.num_samples} samples in "
            f"{len(self)} batches of {self.batch_size})"
        )


def load_calibration(
    spec: str | os.PathLike[str] | np.ndarray | Mapping[str, np.ndarray],
    graph: Graph,
    preprocess: Preprocess | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    reader: ImageReader | str | None = None,
) -> CalibrationSet:
    """Open calibration data for ``graph``.

    Args:
        spec: One of

            * a ``.npy`` file: one array [N, C, H, W] (or [C, H, W] for one sample) for a
              single-input network, already preprocessed;
            * a ``.npz`` file: one array per input blob, keyed by blob name (a single-input
              network also accepts one array under any key); extra keys are ignored;
            * a folder of images (searched recursively; suffixes in ``IMAGE_EXTENSIONS``) or one
              image file, for a single-input network with a [N, 1 or 3, H, W] input;
            * an in-memory array or ``{blob: array}`` dict (like .npy / .npz).
        graph: The network the data is for (its inputs fix the expected shapes).
        preprocess: Image preprocessing; default: resize to the network input size, BGR (grey
            for a 1-channel input), no mean, scale 1. Arrays must already be preprocessed (only
            an identity ``preprocess`` is accepted with them).
        limit: Use at most this many samples (the first ones, in file/sorted-path order).
        batch_size: Samples per batch.
        reader: Image decoder: a callable (see :class:`ImageReader`) or an entry-point name;
            default: the installed ``edge_dnn.image_readers`` plugin.

    Returns:
        The :class:`CalibrationSet`.

    Raises:
        CalibrationError: missing/unsupported path, empty folder, no images, wrong shapes or
            channel counts (expected vs found), missing input keys, NaN/Inf in array data, no
            image reader plugin; names the file.
        ImageReadError: an image cannot be decoded (raised while iterating, names the file; the
            first image is read up front).
        ModelFormatError: the preprocessing's mean file cannot be read.
    """
    if int(batch_size) != batch_size or batch_size < 1:
        raise CalibrationError(f"batch_size must be a positive integer, got {batch_size!r}")
    if limit is not None and (int(limit) != limit or limit < 1):
        raise CalibrationError(f"limit must be a positive integer or None, got {limit!r}")
    inputs = graph.inputs
    if isinstance(spec, (np.ndarray, Mapping)):
        _no_preprocess(preprocess, "<arrays>")
        arrays = {_single_input(inputs, "<arrays>"): spec} if isinstance(spec, np.ndarray) else spec
        return _array_set(dict(arrays), inputs, "<arrays>", "arrays", limit, batch_size)
    path = Path(os.fspath(spec))
    src = str(path)
    if not path.exists():
        raise CalibrationError("calibration data not found (no such file or folder)", path=src)
    if path.is_dir():
        return _image_set(list_images(path), src, graph, preprocess, limit, batch_size, reader)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        _no_preprocess(preprocess, src)
        arr = _load_npy(path)
        return _array_set({_single_input(inputs, src): arr}, inputs, src, "npy", limit, batch_size)
    if suffix == ".npz":
        _no_preprocess(preprocess, src)
        return _array_set(_load_npz(path, inputs), inputs, src, "npz", limit, batch_size)
    if suffix in IMAGE_EXTENSIONS:
        return _image_set([path], src, graph, preprocess, limit, batch_size, reader)
    raise CalibrationError(
        f"unsupported calibration input '{path.suffix}'; give a folder of images, an image, "
        "a .npy or a .npz file",
        path=src,
    )


# ---------------------------------------------------------------------------- arrays
def _no_preprocess(preprocess: Preprocess | None, src: str) -> None:
    if preprocess is not None and not preprocess.is_identity:
        raise CalibrationError(
            "preprocessing (resize, crop, mean, scale, channel order) applies to images only; "
            ".npy/.npz/array data must already be in the network's input form",
            path=src,
        )


def _single_input(inputs: Mapping[str, Shape], src: str) -> str:
    if len(inputs) != 1:
        raise CalibrationError(
            f"the network has {len(inputs)} inputs {sorted(inputs)}; give a .npz file with one "
            "array per input blob name",
            path=src,
        )
    return next(iter(inputs))


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise CalibrationError(f"cannot read .npy array: {exc}", path=str(path)) from None
    if not isinstance(arr, np.ndarray):
        raise CalibrationError("not a .npy array file", path=str(path))
    return arr


def _load_npz(path: Path, inputs: Mapping[str, Shape]) -> dict[str, np.ndarray]:
    src = str(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            if not keys:
                raise CalibrationError(".npz file holds no arrays", path=src)
            if len(inputs) == 1 and len(keys) == 1:
                return {next(iter(inputs)): npz[keys[0]]}
            missing = [k for k in inputs if k not in keys]
            if missing:
                raise CalibrationError(
                    f"no array for network input(s) {missing}; the .npz holds {keys} (keys must "
                    f"be the input blob names {sorted(inputs)})",
                    path=src,
                )
            return {k: npz[k] for k in inputs}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CalibrationError(f"cannot read .npz archive: {exc}", path=src) from None


def _array_set(
    arrays: dict[str, Any],
    inputs: Mapping[str, Shape],
    src: str,
    kind: str,
    limit: int | None,
    batch_size: int,
) -> CalibrationSet:
    unknown = sorted(set(arrays) - set(inputs))
    if unknown and kind == "arrays":
        raise CalibrationError(
            f"unknown input blob(s) {unknown}; network inputs are {sorted(inputs)}", path=src
        )
    missing = sorted(set(inputs) - set(arrays))
    if missing:
        raise CalibrationError(f"no data for network input(s) {missing}", path=src)
    batched: dict[str, np.ndarray] = {}
    for k, shape in inputs.items():
        a = np.asarray(arrays[k]) if not isinstance(arrays[k], np.ndarray) else arrays[k]
        sample = tuple(shape[1:])
        what = f"array '{k}'" if kind != "npy" else "array"
        if a.dtype.kind not in "fiu":
            raise CalibrationError(
                f"{what} has dtype {a.dtype}; calibration data must be numeric", path=src
            )
        if tuple(a.shape) == sample:
            a = a[None]
        elif a.ndim != len(shape) or tuple(a.shape[1:]) != sample:
            raise CalibrationError(
                f"{what} has shape {list(a.shape)}, but network input '{k}' expects "
                f"{['N', *sample]} (a batch) or {list(sample)} (one sample)",
                path=src,
            )
        if a.shape[0] == 0:
            raise CalibrationError(f"{what} holds no samples", path=src)
        batched[k] = a
    counts = {k: int(a.shape[0]) for k, a in batched.items()}
    if len(set(counts.values())) > 1:
        raise CalibrationError(f"inputs have different sample counts {counts}", path=src)
    n = next(iter(counts.values()))
    if limit is not None:
        n = min(n, int(limit))
    for k, a in batched.items():
        _check_finite(a[:n], src, k if kind != "npy" else None)

    def make_batch(start: int, stop: int) -> dict[str, np.ndarray]:
        return {
            k: np.ascontiguousarray(a[start:stop], dtype=np.float32) for k, a in batched.items()
        }

    return CalibrationSet(src, kind, inputs, n, int(batch_size), make_batch)


def _check_finite(a: np.ndarray, src: str, key: str | None) -> None:
    """Raise naming the first sample with NaN/Inf (chunked: a memory-mapped file is scanned)."""
    if a.dtype.kind != "f":
        return
    per = max(int(np.prod(a.shape[1:], dtype=np.int64)), 1)
    step = max(_FINITE_CHUNK // per, 1)
    for start in range(0, a.shape[0], step):
        chunk = np.asarray(a[start : start + step])
        ok = np.isfinite(chunk)
        if ok.all():
            continue
        bad = ~ok.reshape(chunk.shape[0], -1)
        i = int(np.flatnonzero(bad.any(axis=1))[0])
        row = chunk.reshape(chunk.shape[0], -1)[i]
        what = f"array '{key}'" if key else "array"
        raise CalibrationError(
            f"{what}: sample {start + i} holds {int(np.isnan(row).sum())} NaN and "
            f"{int(np.isinf(row).sum())} infinite value(s); calibration data must be finite",
            path=src,
        )


# ---------------------------------------------------------------------------- images
def _image_set(
    files: Sequence[Path],
    src: str,
    graph: Graph,
    preprocess: Preprocess | None,
    limit: int | None,
    batch_size: int,
    reader: ImageReader | str | None,
) -> CalibrationSet:
    inputs = graph.inputs
    name = _single_input(inputs, src)
    shape = inputs[name]
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise CalibrationError(
            f"images need a network input of shape [N, 1 or 3, H, W]; input '{name}' is "
            f"{list(shape)} (use a .npy/.npz file)",
            path=src,
        )
    C, H, W = (int(d) for d in shape[1:])
    pre = preprocess if preprocess is not None else Preprocess(resize=(H, W), grayscale=C == 1)
    if pre.grayscale != (C == 1):
        raise CalibrationError(
            f"network input '{name}' has {C} channel(s) but the preprocessing decodes "
            f"{'grey' if pre.grayscale else 'colour'} images; set grayscale={C == 1}",
            path=src,
        )
    pre = pre.resolve()
    fn: ImageReader = reader if callable(reader) else get_image_reader(reader)
    chosen = list(files if limit is None else files[: int(limit)])

    def load(p: Path) -> np.ndarray:
        ps = str(p)
        try:
            img = fn(ps, size=pre.resize, grayscale=pre.grayscale)
        except EdgeDnnError:
            raise
        except Exception as exc:  # a plugin may fail in any way; report it against the file
            raise ImageReadError(
                f"image reader failed: {type(exc).__name__}: {exc}", path=ps
            ) from None
        if not isinstance(img, np.ndarray):
            raise ImageReadError(
                f"image reader returned {type(img).__name__}, not a numpy array", path=ps
            )
        x = pre.apply(img, source=ps)
        if x.shape != (C, H, W):
            raise CalibrationError(
                f"preprocessed image has shape {list(x.shape)} but network input '{name}' needs "
                f"{[C, H, W]}; set Preprocess(resize=..., crop_size=...) to produce {H}x{W}",
                path=ps,
            )
        return x

    load(chosen[0])  # fail early on a configuration mismatch, before any long run

    def make_batch(start: int, stop: int) -> dict[str, np.ndarray]:
        return {name: np.stack([load(p) for p in chosen[start:stop]])}

    return CalibrationSet(src, "images", inputs, len(chosen), int(batch_size), make_batch, pre)
