"""The compiled model (:class:`CompiledModel`) and its file format ``.edm``.

This module is the specification the emulator, the performance model and the ARM runtime read;
it depends on nothing of the compiler's internals. ``docs/compiler.md`` describes how the
compiler fills it; ``docs/engine.md`` defines the layouts and DMA rules referred to here.

Contents of a compiled model
----------------------------

* **Identity**: network name, overlay name, overlay configuration hash (``cfg.config_hash``,
  the engine compares the first 8 bytes with every command stream header), overlay version,
  ISA version, container format version, quantization precision and calibration method.
* **Tensors** (:class:`TensorInfo`, by SSA tensor name): NCHW shape (batch 1), quantization
  (:class:`~edge_dnn.quant.qgraph.TensorQuant`) and, when the tensor lives in DDR, its
  :class:`TensorLayout`: byte offset in the DDR image and the channel-blocked layout
  ``[ceil(C / cbc)][H][W][cbc]`` with a *channel map* (logical channel of every physical
  channel, ``-1`` for zero padding / concat gaps). Tensors that stay on chip or live only in ARM
  memory have no layout. The layout of a producer feeding a concat points *into* the concat's
  buffer (same bytes: concatenation is addressing).
* **Inputs / outputs**: network input tensors (the runtime quantizes the float input with its
  ``TensorQuant``, keeps the NCHW integers for ARM readers and, when the tensor has a DDR
  layout, writes it blocked, zero-padded, before the first step) and network output tensors
  (read back from ARM memory or DDR and dequantized). ``preprocess`` holds
  :meth:`edge_dnn.quant.calib_data.Preprocess.to_dict` when known.
* **Steps**, executed in order:

  - :class:`EngineStep`: one engine run (START .. DONE). ``cmd`` is the encoded command stream
    (``uint32`` words, :func:`edge_dnn.isa.decode_stream` reads it), sent on the ``cmd``
    stream as one packet. ``transfers[stream]`` is the scatter-gather list of every other
    stream of the overlay (keys: every non-``cmd`` stream name in ``overlay.toml`` order; the
    DMA channel is ``cfg.dma_of_stream(name)``): an ``int64`` array of shape ``(n, 3)``,
    rows ``(offset, length, last)`` = DDR byte offset in the image, bytes, and 1 when the
    descriptor ends a packet (TLAST on its last beat). Rows are in the order the engine
    consumes (MM2S) or produces (S2MM) the data; a packet is a run of rows ending with
    ``last = 1``, and each LOAD_* / STORE_TILE instruction makes exactly one packet on each
    stream its ``streams`` mask selects, in instruction order. ``reads`` / ``writes`` are the
    merged DDR ranges the MM2S / S2MM channels touch (disjoint within a run, engine.md
    section 2); ``inputs`` / ``outputs`` name the DDR tensors read / written (storage roots:
    a concat's buffer is named after the concat); ``layers`` the layers executed.
  - :class:`ArmStep`: one layer run on the ARM: ``layer.forward_int(inputs, node)`` over NCHW
    integer arrays (float32 for float-region blobs) named ``inputs``, producing ``outputs``.
    An input is found in ARM memory (a network input or an earlier ARM output) or, failing
    that, converted from its DDR layout. Every output that has a DDR layout must also be
    written there, blocked and zero-padded, before the next engine step.

* **Memory plan** (:class:`MemoryPlan`): one contiguous DDR image of ``size`` bytes. The
  weights/params region (``weights_offset``, the ``weights`` bytes: weight and params words in
  the order the LOAD_WEIGHTS / LOAD_PARAMS instructions consume them) is copied in once; the
  rest is zero-initialised. Activation buffers (:class:`ActivationBuffer`) are reused when
  their lifetimes (step indices) do not overlap.
* **Report**: JSON-ready dictionary (per layer placement, tiling, bytes per stream, reason of
  an ARM placement; totals; compile time).

File format (``.edm``, little-endian, no pickle)
------------------------------------------------

======  =====  ===================================================================
offset  bytes  content
======  =====  ===================================================================
0       8      magic ``b"EDNNEDM\\0"``
8       4      u32 container format version (:data:`FORMAT_VERSION`)
12      4      u32 CRC-32 (zlib) of the header JSON bytes
16      8      u64 header length ``H``
24      8      u64 blob area length ``B``
32      H      header: UTF-8 JSON (everything except bulk arrays)
D       B      blob area, ``D = 32 + H`` rounded up to 64: arrays referenced from the
               header as ``{"__blob__": i}``; ``header["blobs"][i]`` gives ``offset``
               (from ``D``), ``nbytes``, ``dtype`` (numpy string, little-endian),
               ``shape`` and ``crc32``
======  =====  ===================================================================

The file length must be exactly ``D + B``. Loading checks magic, version, lengths and every
CRC (:class:`~edge_dnn.compiler.errors.EdmCorruptError`), and, given an overlay, its
configuration hash (:class:`~edge_dnn.compiler.errors.OverlayMismatchError` naming both
configurations).
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from edge_dnn.compiler.errors import (
    EdmCorruptError,
    EdmError,
    EdmVersionError,
    OverlayMismatchError,
)
from edge_dnn.emulator.errors import DmaError
from edge_dnn.errors import InputError
from edge_dnn.isa.format import ISA_MAJOR, ISA_MINOR
from edge_dnn.layers.base import Layer
from edge_dnn.quant.arith import QuantizationError
from edge_dnn.quant.qgraph import NodeQuant, QuantizedGraph, TensorQuant

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "ActivationBuffer",
    "ArmStep",
    "CompiledModel",
    "DdrRange",
    "EngineStep",
    "MemoryPlan",
    "Step",
    "TensorInfo",
    "TensorLayout",
    "Transfer",
    "load_model",
]

MAGIC = b"EDNNEDM\x00"
"""First 8 bytes of every ``.edm`` file."""
FORMAT_VERSION = 1
"""Version of the ``.edm`` container and plan schema this module writes and reads."""
_PREFIX = struct.Struct("<8sIIQQ")
_ALIGN = 64


# ---------------------------------------------------------------------------- plan records
class Transfer(NamedTuple):
    """One scatter-gather descriptor: ``length`` bytes at DDR image offset ``offset``.

    ``last`` marks the final descriptor of a packet (TLAST on its last beat, EOF).
    """

    offset: int
    length: int
    last: bool


@dataclasses.dataclass(frozen=True)
class DdrRange:
    """A byte range ``[offset, offset + length)`` of the DDR image."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.offset + self.length


@dataclasses.dataclass(frozen=True)
class TensorLayout:
    """A tensor stored channel-blocked in the DDR image (``docs/engine.md`` section 6.1).

    Byte of physical channel ``p``, row ``h``, column ``w``:
    ``offset + ((p // cbc) * H * W + h * W + w) * cbc * e + (p % cbc) * e``.

    Attributes:
        offset: Byte offset of the first block in the DDR image.
        height: H.
        width: W.
        block_channels: ``cbc``, channels per block.
        element_bytes: ``e``: 1 (int8 / uint8) or 2 (int16, little-endian).
        channel_map: Logical channel held by every physical channel (``-1``: zero padding or
            concat gap); length ``blocks * cbc``.
    """

    offset: int
    height: int
    width: int
    block_channels: int
    element_bytes: int
    channel_map: tuple[int, ...]

    @property
    def blocks(self) -> int:
        """Channel blocks."""
        return len(self.channel_map) // self.block_channels

    @property
    def block_bytes(self) -> int:
        """Bytes of one channel block of one pixel (one buffer word)."""
        return self.block_channels * self.element_bytes

    @property
    def size(self) -> int:
        """Bytes the tensor occupies."""
        return self.blocks * self.height * self.width * self.block_bytes

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.offset + self.size

    def _dtype(self, dtype: npt.DTypeLike) -> np.dtype[Any]:
        dt = np.dtype(dtype).newbyteorder("<")
        if dt.itemsize != self.element_bytes:
            raise QuantizationError(
                f"a {np.dtype(dtype).name} tensor cannot use a layout of {self.element_bytes}-byte "
                "elements"
            )
        return dt

    def pack(self, x: npt.ArrayLike) -> np.ndarray:
        """The blocked bytes (``uint8[size]``) of a batch-1 integer tensor (NCHW, CHW or NC)."""
        # batch 1: every axis before H, W folds into the channels
        a = np.asarray(x).reshape(-1, self.height, self.width)
        cmap = np.asarray(self.channel_map, dtype=np.int64)
        phys = np.zeros((cmap.size, self.height, self.width), dtype=self._dtype(a.dtype))
        used = cmap >= 0
        phys[used] = a[cmap[used]]
        blk = phys.reshape(self.blocks, self.block_channels, self.height, self.width)
        return np.ascontiguousarray(blk.transpose(0, 2, 3, 1)).view(np.uint8).reshape(-1)

    def unpack(self, data: npt.ArrayLike, dtype: npt.DTypeLike, channels: int) -> np.ndarray:
        """The ``(1, channels, H, W)`` tensor of ``dtype`` from its blocked bytes."""
        raw = np.ascontiguousarray(np.asarray(data, dtype=np.uint8).reshape(-1)[: self.size])
        vals = raw.view(self._dtype(dtype)).astype(np.dtype(dtype))
        blk = vals.reshape(self.blocks, self.height, self.width, self.block_channels)
        phys = blk.transpose(0, 3, 1, 2).reshape(-1, self.height, self.width)
        out = np.zeros((channels, self.height, self.width), dtype=np.dtype(dtype))
        cmap = np.asarray(self.channel_map, dtype=np.int64)
        used = cmap >= 0
        out[cmap[used]] = phys[used]
        return out[None]


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One tensor of the compiled network.

    Attributes:
        name: SSA tensor name (as in the quantized graph).
        shape: NCHW shape with batch 1 (other ranks for ARM-only tensors).
        quant: Scale and storage type.
        layout: Where and how it is stored in the DDR image, or ``None`` (on-chip only or ARM
            memory only).
    """

    name: str
    shape: tuple[int, ...]
    quant: TensorQuant
    layout: TensorLayout | None = None

    def read(self, image: np.ndarray) -> np.ndarray:
        """The tensor's integers (NCHW, storage dtype) unpacked from a DDR image.

        Args:
            image: The DDR image (``uint8``, offset 0 = the plan's offset 0).

        Raises:
            DmaError: the tensor has no DDR layout.
        """
        lay = self.layout
        if lay is None:
            raise DmaError(f"tensor '{self.name}' has no DDR layout")
        a = lay.unpack(image[lay.offset : lay.end], self.quant.np_dtype, self.shape[1])
        return a.reshape(self.shape)

    def write(self, image: np.ndarray, q: np.ndarray) -> None:
        """Pack integers ``q`` (NCHW, storage dtype) into the DDR image at the layout.

        Raises:
            DmaError: no DDR layout, or a float tensor (float blobs never live in DDR).
        """
        lay = self.layout
        if lay is None or self.quant.is_float:
            raise DmaError(f"tensor '{self.name}' cannot be written to DDR (float or no layout)")
        image[lay.offset : lay.end] = lay.pack(
            np.asarray(q).reshape(1, self.shape[1], lay.height, lay.width)
        )


@dataclasses.dataclass(eq=False)
class EngineStep:
    """One engine run: a command stream and the DMA transfer lists of its data streams.

    Attributes:
        layers: Names of the layers it executes, in order.
        cmd: The encoded command stream, ``uint32`` words.
        transfers: Stream name -> ``int64[n, 3]`` rows ``(offset, length, last)``, for every
            non-cmd stream of the overlay.
        reads: Merged DDR ranges read by MM2S channels.
        writes: Merged DDR ranges written by S2MM channels.
        inputs: DDR tensors the run reads.
        outputs: DDR tensors the run writes.
    """

    KIND: ClassVar[str] = "engine"
    layers: tuple[str, ...]
    cmd: np.ndarray
    transfers: dict[str, np.ndarray]
    reads: tuple[DdrRange, ...] = ()
    writes: tuple[DdrRange, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    def transfer_list(self, stream: str) -> list[Transfer]:
        """The descriptors of ``stream`` as :class:`Transfer` tuples."""
        return [Transfer(int(o), int(n), bool(last)) for o, n, last in self.transfers[stream]]

    def packets(self, stream: str) -> list[list[Transfer]]:
        """The descriptors of ``stream`` grouped into packets (each ends with ``last``)."""
        out: list[list[Transfer]] = []
        cur: list[Transfer] = []
        for t in self.transfer_list(stream):
            cur.append(t)
            if t.last:
                out.append(cur)
                cur = []
        if cur:
            out.append(cur)
        return out


@dataclasses.dataclass(eq=False)
class ArmStep:
    """One layer executed on the ARM with ``layer.forward_int(inputs, node)``.

    Attributes:
        layer: The layer definition.
        node: Its integer parameters (placement, precision, weights, tables, ...).
        inputs: Input tensor names, in bottom order.
        outputs: Output tensor names, in top order.
        reason: Why the layer runs on the ARM (for the report).
    """

    KIND: ClassVar[str] = "arm"
    layer: Layer
    node: NodeQuant
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    reason: str = ""

    @property
    def name(self) -> str:
        """The layer name."""
        return self.layer.name

    def execute(
        self, arm: dict[str, np.ndarray], image: np.ndarray, tensors: Mapping[str, TensorInfo]
    ) -> None:
        """Run the layer's integer reference on the ARM.

        Inputs come from ARM memory ``arm`` or, when absent, from the DDR ``image``; outputs go
        to ``arm`` and, when they have a DDR layout, into ``image``.

        Raises:
            DmaError: an input is neither in ARM memory nor in DDR.
        """
        ins = []
        for t in self.inputs:
            if t not in arm:
                if tensors[t].layout is None:
                    raise DmaError(
                        f"ARM layer '{self.name}' reads tensor '{t}', which is neither in ARM "
                        "memory nor in DDR"
                    )
                arm[t] = tensors[t].read(image)
            ins.append(arm[t])
        for t, y in zip(self.outputs, self.layer.forward_int(ins, self.node)):
            arm[t] = np.asarray(y)
            if tensors[t].layout is not None:
                tensors[t].write(image, arm[t])


Step = EngineStep | ArmStep


@dataclasses.dataclass(frozen=True)
class ActivationBuffer:
    """A DDR range holding one or more tensors whose lifetimes do not overlap.

    Attributes:
        offset: Byte offset in the DDR image.
        size: Bytes.
        tensors: ``(tensor, first step, last step)`` of every tenant; step indices refer to
            :attr:`CompiledModel.steps` (``-1``: written before the first step, i.e. a network
            input; ``len(steps)``: read after the last, i.e. a network output).
    """

    offset: int
    size: int
    tensors: tuple[tuple[str, int, int], ...]


@dataclasses.dataclass(eq=False)
class MemoryPlan:
    """The DDR image.

    Attributes:
        size: Bytes of the whole image.
        weights_offset: Offset of the weights/params region.
        weights: Its bytes (``uint8``), in LOAD_WEIGHTS / LOAD_PARAMS consumption order.
        buffers: Activation buffers.
        alignment: Alignment of every region, bytes.
    """

    size: int
    weights_offset: int
    weights: np.ndarray
    buffers: tuple[ActivationBuffer, ...] = ()
    alignment: int = _ALIGN

    def image(self) -> np.ndarray:
        """A fresh ``uint8[size]`` image: zeros with the weights region filled in."""
        img = np.zeros(self.size, dtype=np.uint8)
        img[self.weights_offset : self.weights_offset + self.weights.size] = self.weights
        return img


# ---------------------------------------------------------------------------- the model
@dataclasses.dataclass(eq=False)
class CompiledModel:
    """A network compiled for one overlay configuration (see the module docstring).

    Attributes:
        name: Network name.
        overlay: Overlay name.
        config_hash: Overlay configuration hash (sha256 hex).
        overlay_version: Engine version of the overlay.
        isa_version: ``(major, minor)`` of the command streams.
        precision: Quantization precision label (``int8``, ``int16``, ``mixed``).
        method: Calibration method.
        tensors: Every tensor, by name.
        inputs: Network input tensors.
        outputs: Network output tensors.
        steps: The execution plan.
        memory: The DDR image plan.
        preprocess: Input preprocessing (``Preprocess.to_dict``) or ``None``.
        report: The compile report (JSON-ready).
        format_version: Container version the model was read from / will be written as.
        reference: The quantized graph the model was compiled from (layers, integer
            parameters, tensor quantization), so that the integer reference
            (``QuantizedGraph.run``) can check any run of the model; ``None`` when the file was
            written without it.
    """

    name: str
    overlay: str
    config_hash: str
    overlay_version: str
    isa_version: tuple[int, int]
    precision: str
    method: str
    tensors: dict[str, TensorInfo]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    steps: list[Step]
    memory: MemoryPlan
    preprocess: dict[str, Any] | None = None
    report: dict[str, Any] = dataclasses.field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    reference: QuantizedGraph | None = None

    # ------------------------------------------------------------------ queries
    @property
    def engine_steps(self) -> list[EngineStep]:
        """The engine runs, in order."""
        return [s for s in self.steps if isinstance(s, EngineStep)]

    @property
    def arm_steps(self) -> list[ArmStep]:
        """The ARM layers, in order."""
        return [s for s in self.steps if isinstance(s, ArmStep)]

    def check_feeds(
        self, feeds: Mapping[str, np.ndarray] | np.ndarray, batch: int | None = None
    ) -> dict[str, np.ndarray]:
        """Check the inputs of a run against the model's input tensors.

        Args:
            feeds: Input tensor name -> array (N, C, H, W); a bare array for a single input.
            batch: The batch size required (``None``: any, equal for all inputs).

        Returns:
            Input name -> array (``np.asarray``, not copied).

        Raises:
            InputError: unknown, missing, mis-shaped, non-numeric or non-finite inputs (names
                the input).
        """
        inputs = self.inputs
        if isinstance(feeds, np.ndarray):
            if len(inputs) != 1:
                raise InputError(
                    f"model '{self.name}' has {len(inputs)} inputs {list(inputs)}; pass a "
                    "dict {blob: array}"
                )
            feeds = {inputs[0]: feeds}
        unknown = sorted(set(feeds) - set(inputs))
        missing = sorted(set(inputs) - set(feeds))
        if unknown or missing:
            raise InputError(
                f"model '{self.name}' inputs are {list(inputs)}; unknown {unknown}, "
                f"missing {missing}"
            )
        out: dict[str, np.ndarray] = {}
        n: int | None = None
        for name in inputs:
            a = np.asarray(feeds[name])
            shape = self.tensors[name].shape
            if a.dtype.kind not in "fiu":
                raise InputError(f"input '{name}': dtype {a.dtype} is not numeric")
            if a.ndim != len(shape) or tuple(a.shape[1:]) != tuple(shape[1:]):
                raise InputError(
                    f"input '{name}': expected shape (N, {', '.join(map(str, shape[1:]))}), got "
                    f"{a.shape}"
                )
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise InputError(f"input '{name}' contains NaN or infinite values")
            if n is not None and a.shape[0] != n:
                raise InputError(f"inputs have different batch sizes ({n} and {a.shape[0]})")
            n = a.shape[0]
            if batch is not None and n != batch:
                raise InputError(
                    f"input '{name}': expected shape ({batch}, "
                    f"{', '.join(map(str, shape[1:]))}), got {a.shape}: this run takes batch "
                    f"{batch}"
                )
            out[name] = a
        return out

    def check_overlay(self, overlay: Any, path: str | Path | None = None) -> None:
        """Raise :class:`OverlayMismatchError` unless ``overlay`` (an ``OverlayConfig``) has
        the configuration hash this model was compiled for."""
        h = str(overlay.config_hash)
        if h != self.config_hash:
            raise OverlayMismatchError(
                (self.overlay, self.config_hash), (str(overlay.name), h), path
            )

    # ------------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        """The ``.edm`` file contents."""
        blobs = _Blobs()
        header = _model_to_json(self, blobs)
        header["blobs"] = blobs.index
        text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
        data_start = -(-(_PREFIX.size + len(text)) // _ALIGN) * _ALIGN
        prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, zlib.crc32(text), len(text), blobs.nbytes)
        pad = b"\0" * (data_start - _PREFIX.size - len(text))
        return b"".join([prefix, text, pad, *blobs.chunks])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as an ``.edm`` file.

        Raises:
            EdmError: the file cannot be written.
        """
        data = self.to_bytes()
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise EdmError(f"cannot write: {exc.strerror or exc}", os.fspath(path)) from None

    @classmethod
    def from_bytes(
        cls, data: bytes, overlay: Any = None, path: str | Path | None = None
    ) -> CompiledModel:
        """Parse ``.edm`` contents (see :meth:`load`)."""
        header, blobs = _read_container(data, path)
        try:
            model = _model_from_json(header, blobs)
        except EdmError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, QuantizationError) as exc:
            raise EdmCorruptError(f"malformed model description: {exc!r}", path) from None
        if overlay is not None:
            model.check_overlay(overlay, path)
        return model

    @classmethod
    def load(cls, path: str | os.PathLike[str], overlay: Any = None) -> CompiledModel:
        """Read an ``.edm`` file.

        Args:
            path: The file.
            overlay: The ``OverlayConfig`` in use; when given, the model must have been compiled
                for its configuration hash.

        Raises:
            EdmCorruptError: truncated, corrupted or malformed file.
            EdmVersionError: a container version this edge-dnn cannot read.
            OverlayMismatchError: compiled for another overlay configuration.
            EdmError: the file cannot be read.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise EdmError(f"cannot read: {exc.strerror or exc}", os.fspath(path)) from None
        return cls.from_bytes(data, overlay, os.fspath(path))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompiledModel):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"CompiledModel('{self.name}', overlay={self.overlay}, {len(self.engine_steps)} "
            f"engine runs, {len(self.arm_steps)} ARM layers, DDR {self.memory.size} bytes)"
        )


def load_model(path: str | os.PathLike[str], overlay: Any = None) -> CompiledModel:
    """Read an ``.edm`` file (:meth:`CompiledModel.load`)."""
    return CompiledModel.load(path, overlay)


# ---------------------------------------------------------------------------- JSON encoding
class _Blobs:
    """Collects the arrays of a model while its header is built."""

    def __init__(self) -> None:
        self.index: list[dict[str, Any]] = []
        self.chunks: list[bytes] = []
        self.nbytes = 0

    def add(self, a: np.ndarray) -> dict[str, int]:
        if a.dtype.kind not in "biuf":
            raise EdmError(f"cannot store an array of dtype {a.dtype}")
        le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        raw = le.tobytes()
        self.index.append(
            {
                "offset": self.nbytes,
                "nbytes": len(raw),
                "dtype": le.dtype.str,
                "shape": list(a.shape),
                "crc32": zlib.crc32(raw),
            }
        )
        pad = -len(raw) % _ALIGN
        self.chunks.append(raw + b"\0" * pad)
        self.nbytes += len(raw) + pad
        return {"__blob__": len(self.index) - 1}


def _enc(v: Any, blobs: _Blobs) -> Any:
    """Tagged JSON: tuples, numpy arrays / scalars and non-string-keyed dicts survive."""
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, int | float):
        return v
    if isinstance(v, np.ndarray):
        return blobs.add(v)
    if isinstance(v, np.generic):
        return {"__np__": v.dtype.str, "v": v.item()}
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x, blobs) for x in v]}
    if isinstance(v, list):
        return [_enc(x, blobs) for x in v]
    if isinstance(v, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in v):
            # sorted: the header is written with sorted keys, so blobs keep one order
            return {k: _enc(v[k], blobs) for k in sorted(v)}
        return {"__dict__": [[_enc(k, blobs), _enc(x, blobs)] for k, x in v.items()]}
    raise EdmError(f"cannot store a value of type {type(v).__name__}")


def _dec(v: Any, blobs: Sequence[np.ndarray]) -> Any:
    if isinstance(v, list):
        return [_dec(x, blobs) for x in v]
    if isinstance(v, dict):
        if "__blob__" in v:
            return blobs[int(v["__blob__"])]
        if "__np__" in v:
            return np.dtype(v["__np__"]).type(v["v"])
        if "__tuple__" in v:
            return tuple(_dec(x, blobs) for x in v["__tuple__"])
        if "__dict__" in v:
            return {_dec(k, blobs): _dec(x, blobs) for k, x in v["__dict__"]}
        return {k: _dec(x, blobs) for k, x in v.items()}
    return v


def _tq_from(d: Mapping[str, Any]) -> TensorQuant:
    return TensorQuant(float(d["scale"]), str(d["dtype"]), int(d["qmin"]), int(d["qmax"]))


def _layout_to(lay: TensorLayout | None, blobs: _Blobs) -> Any:
    if lay is None:
        return None
    return {
        "offset": lay.offset,
        "height": lay.height,
        "width": lay.width,
        "block_channels": lay.block_channels,
        "element_bytes": lay.element_bytes,
        "channel_map": blobs.add(np.asarray(lay.channel_map, dtype=np.int32)),
    }


def _layout_from(d: Any, blobs: Sequence[np.ndarray]) -> TensorLayout | None:
    if d is None:
        return None
    cmap = _dec(d["channel_map"], blobs)
    return TensorLayout(
        offset=int(d["offset"]),
        height=int(d["height"]),
        width=int(d["width"]),
        block_channels=int(d["block_channels"]),
        element_bytes=int(d["element_bytes"]),
        channel_map=tuple(int(c) for c in np.asarray(cmap).reshape(-1)),
    )


_NODE_FIELDS = tuple(f.name for f in dataclasses.fields(NodeQuant))


def _node_to(nq: NodeQuant, blobs: _Blobs) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for name in _NODE_FIELDS:
        v = getattr(nq, name)
        if name in ("inputs", "outputs"):
            d[name] = [t.to_dict() for t in v]
        else:
            d[name] = _enc(v, blobs)
    return d


def _node_from(d: Mapping[str, Any], blobs: Sequence[np.ndarray]) -> NodeQuant:
    kw: dict[str, Any] = {}
    for name in _NODE_FIELDS:
        if name in ("inputs", "outputs"):
            kw[name] = [_tq_from(t) for t in d[name]]
        else:
            kw[name] = _dec(d[name], blobs)
    return NodeQuant(**kw)


def _layer_to(layer: Layer, blobs: _Blobs) -> dict[str, Any]:
    fields = {f.name: _enc(getattr(layer, f.name), blobs) for f in dataclasses.fields(layer)}
    return {"type": layer.TYPE, "fields": fields}


def _layer_from(d: Mapping[str, Any], blobs: Sequence[np.ndarray]) -> Layer:
    from edge_dnn.layers.registry import LAYERS

    cls = LAYERS.get(str(d["type"]))
    if cls is None:
        raise EdmCorruptError(f"unknown layer type '{d['type']}' in the plan")
    kw = {k: _dec(v, blobs) for k, v in d["fields"].items()}
    return cls(**kw)


def _arr(v: Any, blobs: Sequence[np.ndarray], dtype: npt.DTypeLike) -> np.ndarray:
    return np.asarray(_dec(v, blobs)).astype(dtype, copy=False)


def _step_to(s: Step, blobs: _Blobs) -> dict[str, Any]:
    if isinstance(s, EngineStep):
        return {
            "kind": "engine",
            "layers": list(s.layers),
            "cmd": blobs.add(np.asarray(s.cmd, dtype=np.uint32)),
            "transfers": {
                k: blobs.add(np.asarray(s.transfers[k], dtype=np.int64).reshape(-1, 3))
                for k in sorted(s.transfers)
            },
            "reads": [[r.offset, r.length] for r in s.reads],
            "writes": [[r.offset, r.length] for r in s.writes],
            "inputs": list(s.inputs),
            "outputs": list(s.outputs),
        }
    return {
        "kind": "arm",
        "layer": _layer_to(s.layer, blobs),
        "node": _node_to(s.node, blobs),
        "inputs": list(s.inputs),
        "outputs": list(s.outputs),
        "reason": s.reason,
    }


def _step_from(d: Mapping[str, Any], blobs: Sequence[np.ndarray]) -> Step:
    if d["kind"] == "engine":
        return EngineStep(
            layers=tuple(d["layers"]),
            cmd=_arr(d["cmd"], blobs, np.uint32),
            transfers={
                k: _arr(v, blobs, np.int64).reshape(-1, 3) for k, v in d["transfers"].items()
            },
            reads=tuple(DdrRange(int(o), int(n)) for o, n in d["reads"]),
            writes=tuple(DdrRange(int(o), int(n)) for o, n in d["writes"]),
            inputs=tuple(d["inputs"]),
            outputs=tuple(d["outputs"]),
        )
    if d["kind"] == "arm":
        return ArmStep(
            layer=_layer_from(d["layer"], blobs),
            node=_node_from(d["node"], blobs),
            inputs=tuple(d["inputs"]),
            outputs=tuple(d["outputs"]),
            reason=str(d.get("reason", "")),
        )
    raise EdmCorruptError(f"unknown step kind '{d['kind']}'")


def _model_to_json(m: CompiledModel, blobs: _Blobs) -> dict[str, Any]:
    mem = m.memory
    return {
        "format_version": FORMAT_VERSION,
        "name": m.name,
        "overlay": m.overlay,
        "config_hash": m.config_hash,
        "overlay_version": m.overlay_version,
        "isa_version": list(m.isa_version),
        "precision": m.precision,
        "method": m.method,
        "inputs": list(m.inputs),
        "outputs": list(m.outputs),
        "preprocess": m.preprocess,
        "tensors": [
            {
                "name": t.name,
                "shape": list(t.shape),
                "quant": t.quant.to_dict(),
                "layout": _layout_to(t.layout, blobs),
            }
            for t in m.tensors.values()
        ],
        "steps": [_step_to(s, blobs) for s in m.steps],
        "memory": {
            "size": mem.size,
            "weights_offset": mem.weights_offset,
            "weights": blobs.add(np.asarray(mem.weights, dtype=np.uint8).reshape(-1)),
            "alignment": mem.alignment,
            "buffers": [
                {"offset": b.offset, "size": b.size, "tensors": [list(t) for t in b.tensors]}
                for b in mem.buffers
            ],
        },
        "report": _enc(m.report, blobs),
        "reference": None if m.reference is None else _qgraph_to(m.reference, blobs),
    }


def _model_from_json(h: Mapping[str, Any], blobs: Sequence[np.ndarray]) -> CompiledModel:
    mem = h["memory"]
    tensors = {
        t["name"]: TensorInfo(
            name=str(t["name"]),
            shape=tuple(int(x) for x in t["shape"]),
            quant=_tq_from(t["quant"]),
            layout=_layout_from(t["layout"], blobs),
        )
        for t in h["tensors"]
    }
    memory = MemoryPlan(
        size=int(mem["size"]),
        weights_offset=int(mem["weights_offset"]),
        weights=_arr(mem["weights"], blobs, np.uint8).reshape(-1),
        buffers=tuple(
            ActivationBuffer(
                int(b["offset"]),
                int(b["size"]),
                tuple((str(n), int(a), int(z)) for n, a, z in b["tensors"]),
            )
            for b in mem["buffers"]
        ),
        alignment=int(mem["alignment"]),
    )
    iv = h["isa_version"]
    return CompiledModel(
        name=str(h["name"]),
        overlay=str(h["overlay"]),
        config_hash=str(h["config_hash"]),
        overlay_version=str(h["overlay_version"]),
        isa_version=(int(iv[0]), int(iv[1])),
        precision=str(h["precision"]),
        method=str(h["method"]),
        tensors=tensors,
        inputs=tuple(h["inputs"]),
        outputs=tuple(h["outputs"]),
        steps=[_step_from(s, blobs) for s in h["steps"]],
        memory=memory,
        preprocess=h["preprocess"],
        report=_dec(h["report"], blobs),
        format_version=int(h["format_version"]),
        reference=_qgraph_from(h["reference"], blobs) if h.get("reference") else None,
    )


def _qgraph_to(qg: QuantizedGraph, blobs: _Blobs) -> dict[str, Any]:
    """The quantized graph without the float weights of integer layers (NodeQuant has them
    when the float path needs them)."""
    g = qg.graph
    return {
        "name": g.name,
        "outputs": list(g.outputs),
        "precision": qg.precision,
        "method": qg.method,
        "nodes": [
            {
                "name": n.name,
                "layer": _layer_to(n.layer, blobs),
                "inputs": list(n.inputs),
                "outputs": list(n.outputs),
            }
            for n in g.nodes
        ],
        "tensors": {k: t.to_dict() for k, t in qg.tensors.items()},
        # A list in node order: the header is written with sorted keys, and the blob indices
        # must not depend on the order a mapping was built in.
        "quant": [
            _node_to(nq if nq.float_path else dataclasses.replace(nq, params=[]), blobs)
            for nq in (qg.nodes[n.name] for n in g.nodes)
        ],
    }


def _qgraph_from(d: Mapping[str, Any], blobs: Sequence[np.ndarray]) -> QuantizedGraph:
    from edge_dnn.graph import Graph, Node

    nodes = [
        Node(str(n["name"]), _layer_from(n["layer"], blobs), list(n["inputs"]), list(n["outputs"]))
        for n in d["nodes"]
    ]
    graph = Graph(str(d["name"]), nodes, outputs=list(d["outputs"]))
    return QuantizedGraph(
        graph,
        {k: _tq_from(t) for k, t in d["tensors"].items()},
        {str(nq["name"]): _node_from(nq, blobs) for nq in d["quant"]},
        str(d["precision"]),
        str(d["method"]),
    )


# ---------------------------------------------------------------------------- container
def _read_container(
    data: bytes, path: str | Path | None
) -> tuple[dict[str, Any], list[np.ndarray]]:
    def corrupt(msg: str) -> EdmCorruptError:
        return EdmCorruptError(msg, path)

    if len(data) < _PREFIX.size:
        raise corrupt(f"truncated: {len(data)} bytes, shorter than the {_PREFIX.size}-byte prefix")
    magic, version, hcrc, hlen, blen = _PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise corrupt(f"not an edge-dnn compiled model (magic {magic!r}, expected {MAGIC!r})")
    if version != FORMAT_VERSION:
        raise EdmVersionError(
            f"container format version {version}; this edge-dnn reads version {FORMAT_VERSION}",
            path,
        )
    data_start = -(-(_PREFIX.size + hlen) // _ALIGN) * _ALIGN
    if len(data) != data_start + blen:
        raise corrupt(
            f"file is {len(data)} bytes, the header announces {data_start + blen} "
            f"({'truncated' if len(data) < data_start + blen else 'trailing data'})"
        )
    text = data[_PREFIX.size : _PREFIX.size + hlen]
    if zlib.crc32(text) != hcrc:
        raise corrupt("header checksum mismatch (CRC-32)")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise corrupt(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), list):
        raise corrupt("header has no blob index")
    iv = header.get("isa_version")
    if isinstance(iv, list) and len(iv) == 2 and (iv[0] != ISA_MAJOR or iv[1] > ISA_MINOR):
        raise EdmVersionError(
            f"command streams of ISA {iv[0]}.{iv[1]}; this edge-dnn runs ISA "
            f"{ISA_MAJOR}.0 .. {ISA_MAJOR}.{ISA_MINOR} (recompile the network)",
            path,
        )
    blobs: list[np.ndarray] = []
    for i, b in enumerate(header["blobs"]):
        try:
            off, n = int(b["offset"]), int(b["nbytes"])
            dt = np.dtype(str(b["dtype"]))
            shape = tuple(int(x) for x in b["shape"])
            crc = int(b["crc32"])
        except (KeyError, TypeError, ValueError) as exc:
            raise corrupt(f"blob {i}: malformed index entry ({exc!r})") from None
        if off < 0 or n < 0 or off + n > blen:
            raise corrupt(
                f"blob {i}: range [{off}, {off + n}) outside the blob area ({blen} bytes)"
            )
        raw = data[data_start + off : data_start + off + n]
        if zlib.crc32(raw) != crc:
            raise corrupt(f"blob {i}: checksum mismatch (CRC-32)")
        if dt.kind not in "biuf" or int(np.prod(shape, dtype=np.int64)) * dt.itemsize != n:
            raise corrupt(f"blob {i}: dtype {dt} x shape {list(shape)} does not make {n} bytes")
        blobs.append(np.frombuffer(raw, dtype=dt).reshape(shape).astype(dt.newbyteorder("=")))
    return header, blobs
