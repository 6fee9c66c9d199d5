"""Reading and writing binary Caffe files: ``.caffemodel`` (NetParameter) and ``.binaryproto``.

Large blobs are moved between protobuf and numpy without per-element Python work: on read, a
blob is re-serialised by the C protobuf backend and its packed ``data`` run is viewed with
``np.frombuffer``; on write, the packed field bytes are produced from ``ndarray`` memory and
streamed to the file around small protobuf-serialised headers (protobuf allows a message's
fields to be concatenated in any order).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

import numpy as np
from google.protobuf.message import DecodeError

from edge_dnn.caffe import caffe_pb2
from edge_dnn.caffe.upgrade import upgrade_net
from edge_dnn.errors import CorruptModelError, ModelFormatError

__all__ = [
    "array_to_blob",
    "blob_to_array",
    "read_binaryproto",
    "read_caffemodel",
    "write_caffemodel",
]

LayerEntry = tuple[str, str, Sequence[np.ndarray]]

# Wire tags (field number << 3 | wire type) used by the fast paths.
_TAG_BLOB_DATA = (5 << 3) | 2  # BlobProto.data, packed float
_TAG_BLOB_DOUBLE = (8 << 3) | 2  # BlobProto.double_data, packed double
_TAG_BLOB_SHAPE = (7 << 3) | 2  # BlobProto.shape
_TAG_LAYER_BLOBS = (7 << 3) | 2  # LayerParameter.blobs
_TAG_NET_NAME = (1 << 3) | 2  # NetParameter.name
_TAG_NET_LAYER = (100 << 3) | 2  # NetParameter.layer

_RAW_DTYPES: dict[int, np.dtype[Any]] = {
    caffe_pb2.FLOAT16: np.dtype("<f2"),
    caffe_pb2.FLOAT: np.dtype("<f4"),
    caffe_pb2.DOUBLE: np.dtype("<f8"),
}


# ------------------------------------------------------------------------------- wire helpers
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise CorruptModelError("truncated varint in blob")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CorruptModelError("malformed varint in blob")


def _find_len_field(buf: memoryview, field_number: int) -> memoryview | None:
    """Payload of the first length-delimited top-level ``field_number`` in a serialised message.

    Only a handful of top-level fields exist in a BlobProto, so this Python loop runs a few
    iterations; the payload itself is returned as a zero-copy view.
    """
    pos = 0
    n = len(buf)
    while pos < n:
        tag, pos = _read_varint(buf, pos)
        fno, wt = tag >> 3, tag & 7
        if wt == 0:
            _, pos = _read_varint(buf, pos)
        elif wt == 1:
            pos += 8
        elif wt == 5:
            pos += 4
        elif wt == 2:
            ln, pos = _read_varint(buf, pos)
            if fno == field_number:
                if pos + ln > n:
                    raise CorruptModelError("truncated field in blob")
                return buf[pos : pos + ln]
            pos += ln
        else:
            raise CorruptModelError(f"unsupported wire type {wt} in blob")
    return None


def _looks_like_text(data: bytes) -> bool:
    """True for data that is plain UTF-8 text without control characters (e.g. a prototxt).

    A binary NetParameter with layers always contains the tag byte 0xA2 (field 100) followed by
    0x06, and blobs contain arbitrary bytes, so real binaries fail this test within the sample.
    """
    sample = data[:4096]
    if not sample:
        return False
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            s = sample[: len(sample) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    return all(c >= " " or c in "\t\n\r" for c in s) and "\x7f" not in s


def _read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ModelFormatError(f"cannot read {what}: {exc.strerror or exc}", path) from None


# ------------------------------------------------------------------------------------- blobs
def _blob_dims(blob: caffe_pb2.BlobProto) -> list[int] | None:
    if blob.HasField("shape"):
        return [int(d) for d in blob.shape.dim]
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return [int(blob.num), int(blob.channels), int(blob.height), int(blob.width)]
    return None


def blob_to_array(blob: caffe_pb2.BlobProto, *, where: str = "") -> np.ndarray:
    """Convert a ``caffe_pb2.BlobProto`` to a float32 numpy array of the blob's shape.

    Shape: ``shape.dim`` when ``shape`` is present; otherwise the legacy 4-D
    ``num, channels, height, width`` (kept 4-D as stored, e.g. 1x1x64x1024 for an old
    InnerProduct weight: the layer reshapes); otherwise 1-D of the value count.
    Values (Caffe's precedence): ``double_data`` if non-empty (converted to float32), else
    ``data``, else ``raw_data`` decoded per ``raw_data_type`` (FLOAT16, FLOAT or DOUBLE,
    little-endian; OpenCV's fp16 weights). Training-only ``diff`` fields are ignored.

    Args:
        blob: The BlobProto.
        where: Context for error messages, e.g. ``"model.caffemodel: layer 'conv1' blob 0"``.

    Returns:
        A new, writable, C-contiguous float32 array (layout as stored by Caffe, e.g. conv
        weights [out, in/group, kh, kw]).

    Raises:
        CorruptModelError: negative dimensions, the value count does not match the shape, or
            malformed raw data.
        ModelFormatError: ``raw_data`` of an unsupported ``raw_data_type``.
    """
    prefix = f"{where}: " if where else ""
    dims = _blob_dims(blob)
    if dims is not None and any(d < 0 for d in dims):
        raise CorruptModelError(f"{prefix}blob has a negative dimension in shape {dims}")
    n_double = len(blob.double_data)
    n_float = len(blob.data)
    values: np.ndarray
    if n_double or n_float:
        field, dtype = (8, np.dtype("<f8")) if n_double else (5, np.dtype("<f4"))
        ser = memoryview(blob.SerializePartialToString())
        payload = _find_len_field(ser, field)
        if payload is None:  # cannot happen for a non-empty packed field; keep a safe path
            seq = blob.double_data if n_double else blob.data
            values = np.array(seq, dtype=np.float32)
        else:
            values = np.frombuffer(payload, dtype=dtype).astype(np.float32)
    elif blob.HasField("raw_data"):
        if not blob.HasField("raw_data_type"):
            raise ModelFormatError(f"{prefix}blob has raw_data but no raw_data_type")
        rdt = _RAW_DTYPES.get(blob.raw_data_type)
        if rdt is None:
            tname = caffe_pb2.Type.Name(blob.raw_data_type)
            raise ModelFormatError(
                f"{prefix}blob raw_data_type {tname} is not supported (FLOAT16, FLOAT, DOUBLE)"
            )
        raw = blob.raw_data
        if len(raw) % rdt.itemsize:
            raise CorruptModelError(
                f"{prefix}blob raw_data has {len(raw)} bytes, not a multiple of "
                f"{rdt.itemsize} ({caffe_pb2.Type.Name(blob.raw_data_type)})"
            )
        values = np.frombuffer(raw, dtype=rdt).astype(np.float32)
    else:
        values = np.zeros(0, dtype=np.float32)
    if dims is None:
        return values
    count = int(np.prod(dims, dtype=np.int64))
    if count != values.size:
        raise CorruptModelError(
            f"{prefix}blob shape {dims} needs {count} values but the blob holds {values.size}"
        )
    return values.reshape(dims)


def _blob_pieces(arr: np.ndarray) -> tuple[list[bytes | memoryview], int]:
    """Serialised BlobProto (shape + packed float data) as pieces, without copying the data."""
    # Not np.ascontiguousarray: it turns a 0-d array into shape (1,).
    a = np.asarray(arr, dtype="<f4")
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    shape_msg = caffe_pb2.BlobShape()
    shape_msg.dim.extend(int(d) for d in a.shape)
    shape_bytes = shape_msg.SerializePartialToString()
    head = _varint(_TAG_BLOB_SHAPE) + _varint(len(shape_bytes)) + shape_bytes
    pieces: list[bytes | memoryview] = [head]
    total = len(head)
    if a.size:
        data_head = _varint(_TAG_BLOB_DATA) + _varint(a.nbytes)
        pieces += [data_head, a.data.cast("B")]
        total += len(data_head) + a.nbytes
    return pieces, total


def array_to_blob(arr: np.ndarray) -> caffe_pb2.BlobProto:
    """Convert an array to a ``caffe_pb2.BlobProto`` with ``shape`` dims and float32 ``data``.

    Args:
        arr: Any real numeric array (converted to float32); its shape becomes ``shape.dim``.

    Returns:
        The BlobProto (built by parsing the packed bytes, so large arrays are fast).
    """
    pieces, _ = _blob_pieces(np.asarray(arr))
    blob = caffe_pb2.BlobProto()
    blob.ParseFromString(b"".join(bytes(p) if isinstance(p, memoryview) else p for p in pieces))
    return blob


# ------------------------------------------------------------------------------- caffemodel
def _fix_bvlc_clip_swish(net: caffe_pb2.NetParameter) -> None:
    """Recover BVLC ``clip_param`` (148) / ``swish_param`` (147) from SSD-numbered fields.

    Our schema gives 147/148 to the SSD fork's detection_output_param / permute_param. In a BVLC
    binary, a Clip or Swish layer's parameters therefore parse into those messages (as unknown
    fields, the wire types differ). Serialising the layer keeps those bytes, and parsing them with
    a view that declares BVLC's numbering recovers the values.
    """
    for lp in net.layer:
        if lp.type not in ("Clip", "Swish"):
            continue
        if not (lp.HasField("permute_param") or lp.HasField("detection_output_param")):
            continue
        view = caffe_pb2.BvlcClipSwishLayer()
        view.ParseFromString(lp.SerializePartialToString())
        if lp.type == "Clip" and view.HasField("clip_param"):
            lp.clip_param.CopyFrom(view.clip_param)
            lp.ClearField("permute_param")
        if lp.type == "Swish" and view.HasField("swish_param"):
            lp.swish_param.CopyFrom(view.swish_param)
            lp.ClearField("detection_output_param")


def read_caffemodel(path: str | os.PathLike[str]) -> caffe_pb2.NetParameter:
    """Read a binary ``.caffemodel`` into a ``caffe_pb2.NetParameter`` in V2 form.

    V1 (``layers``, enum types) and V0 binaries are upgraded to ``layer`` entries with type
    strings; BVLC-numbered Clip/Swish parameters are recovered (see the schema comments).
    Blobs stay in the message; convert them with :func:`blob_to_array`.

    Args:
        path: The caffemodel file.

    Returns:
        The parsed, upgraded NetParameter.

    Raises:
        CorruptModelError: truncated or corrupt protobuf, an empty file, no layers, or a text
            file (e.g. the prototxt passed by mistake); the message names the file.
        ModelFormatError: the file cannot be read.
    """
    p = os.fspath(path)
    data = _read_file(p, "caffemodel")
    if not data:
        raise CorruptModelError("empty file, not a caffemodel", p)
    if _looks_like_text(data):
        raise CorruptModelError(
            "this is a text file (a .prototxt?), not a binary caffemodel; check the order of "
            "the prototxt and caffemodel arguments",
            p,
        )
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(data)
    except DecodeError as exc:
        raise CorruptModelError(
            f"truncated or corrupt caffemodel ({len(data)} bytes): {exc}", p
        ) from None
    del data
    if not len(net.layer) and not len(net.layers):
        raise CorruptModelError("no layers found; is this really a caffemodel?", p)
    upgrade_net(net, p)
    _fix_bvlc_clip_swish(net)
    return net


def _write_layers(f: BinaryIO, layers: Iterable[LayerEntry], name: str) -> None:
    if name:
        nb = name.encode("utf-8")
        f.write(_varint(_TAG_NET_NAME) + _varint(len(nb)) + nb)
    for lname, ltype, arrays in layers:
        head_msg = caffe_pb2.LayerParameter()
        head_msg.name = lname
        head_msg.type = ltype
        head = head_msg.SerializePartialToString()
        blobs = [_blob_pieces(np.asarray(a)) for a in arrays]
        body = len(head)
        for _, blen in blobs:
            body += len(_varint(_TAG_LAYER_BLOBS)) + len(_varint(blen)) + blen
        f.write(_varint(_TAG_NET_LAYER) + _varint(body) + head)
        for pieces, blen in blobs:
            f.write(_varint(_TAG_LAYER_BLOBS) + _varint(blen))
            for piece in pieces:
                f.write(piece)


def write_caffemodel(
    layers: Sequence[LayerEntry] | caffe_pb2.NetParameter,
    path: str | os.PathLike[str],
    *,
    name: str = "",
) -> None:
    """Write a binary ``.caffemodel`` readable by Caffe and OpenCV.

    Args:
        layers: Either a list of ``(layer name, layer type, [arrays])`` (each array written as
            a float32 BlobShape-shaped blob, in the given order, i.e. Caffe's blob order for the
            type) or a complete ``caffe_pb2.NetParameter`` (written as is).
        path: Output file; written to a temporary name first and renamed, so a failed write
            never leaves a truncated model behind.
        name: Net name for the list form.

    Raises:
        ModelFormatError: the file cannot be written.
    """
    p = os.fspath(path)
    tmp = p + ".tmp"
    try:
        with open(tmp, "wb") as f:
            if isinstance(layers, caffe_pb2.NetParameter):
                f.write(layers.SerializePartialToString())
            else:
                _write_layers(f, layers, name)
        os.replace(tmp, p)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ModelFormatError(f"cannot write caffemodel: {exc.strerror or exc}", p) from None


# ------------------------------------------------------------------------------- binaryproto
def read_binaryproto(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a ``.binaryproto`` mean file (one BlobProto) as a float32 array.

    Args:
        path: The binaryproto file.

    Returns:
        The mean blob, float32, in the stored shape: usually [1, C, H, W] (NCHW, BGR channel
        order for Caffe's ImageNet means), from ``shape`` or the legacy 4-D dims.

    Raises:
        CorruptModelError: empty, text, truncated or data-less file, or shape/data mismatch.
        ModelFormatError: the file cannot be read.
    """
    p = os.fspath(path)
    data = _read_file(p, "binaryproto")
    if not data:
        raise CorruptModelError("empty file, not a binaryproto", p)
    if _looks_like_text(data):
        raise CorruptModelError("this is a text file, not a binary BlobProto (.binaryproto)", p)
    blob = caffe_pb2.BlobProto()
    try:
        blob.ParseFromString(data)
    except DecodeError as exc:
        raise CorruptModelError(f"truncated or corrupt binaryproto: {exc}", p) from None
    if not (len(blob.data) or len(blob.double_data) or blob.HasField("raw_data")):
        raise CorruptModelError(
            "holds no blob data; a binaryproto mean file is one BlobProto with data", p
        )
    return blob_to_array(blob, where=p)
